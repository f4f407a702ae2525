//! ZRE v2 messages (RFC 36 as Zyre master implements it).
//!
//! A ZRE message is one ZMTP multipart message: a *header frame* that starts
//! `AA A1 <id> <version=2> <sequence:u16>` followed by the message's fields, then,
//! for WHISPER and SHOUT, the application content as further frames.
//!
//! Field types (all integers big-endian): `string` = u8 length + bytes, `longstr` =
//! u32 length + bytes, `strings` = u32 count + longstrs, `hash` = u32 count +
//! (string key, longstr value) pairs.
//!
//! Strings on the wire are bytes; zmesh decodes them as UTF-8, replacing invalid
//! sequences, so that a peer with an odd name is never dropped for it.
//!
//! ```
//! use zmesh::wire::zre::{Body, ZreMessage};
//! let msg = ZreMessage::new(4, Body::Join { group: "GLOBAL".into(), status: 2 });
//! let frames = msg.encode().unwrap();
//! assert_eq!(frames[0], b"\xaa\xa1\x04\x02\x00\x04\x06GLOBAL\x02");
//! assert_eq!(ZreMessage::parse(&frames[0], zmesh::Frames::new()).unwrap(), msg);
//! ```

use super::{check_string, Reader, WireError};
use crate::frames::Frames;
use crate::name::Name;

/// The 16-bit signature that starts every ZRE header frame: 0xAAA plus protocol id 1.
pub const SIGNATURE: [u8; 2] = [0xAA, 0xA1];
/// The ZRE version zmesh sends and accepts (Zyre master rejects every other).
pub const VERSION: u8 = 2;

/// Message ids.
pub mod id {
    /// HELLO: the first message on every outgoing link.
    pub const HELLO: u8 = 1;
    /// WHISPER: content for one peer.
    pub const WHISPER: u8 = 2;
    /// SHOUT: content for a group.
    pub const SHOUT: u8 = 3;
    /// JOIN: the sender joined a group.
    pub const JOIN: u8 = 4;
    /// LEAVE: the sender left a group.
    pub const LEAVE: u8 = 5;
    /// PING: are you there?
    pub const PING: u8 = 6;
    /// PING-OK: the answer to PING.
    pub const PING_OK: u8 = 7;
    /// ELECT: leader election (Zyre only).
    pub const ELECT: u8 = 8;
    /// LEADER: leader election result (Zyre only).
    pub const LEADER: u8 = 9;
    /// GOODBYE: the sender leaves (Zyre gossip mode).
    pub const GOODBYE: u8 = 10;
}

/// The fields of a HELLO message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// The sender's inbox endpoint, `tcp://ip:port`.
    pub endpoint: String,
    /// The groups the sender is in.
    pub groups: Vec<String>,
    /// The sender's group-change status counter.
    pub status: u8,
    /// The sender's name.
    pub name: String,
    /// The sender's headers, in wire order.
    pub headers: Vec<(String, String)>,
}

/// What a ZRE message says, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Greeting with the sender's endpoint, groups, status, name and headers.
    Hello(Hello),
    /// Content for one peer.
    Whisper {
        /// Application frames (zero or more).
        content: Frames,
    },
    /// Content for a group.
    Shout {
        /// The group (kept in place when short: a SHOUT's group costs no
        /// allocation on its way to the application).
        group: Name,
        /// Application frames (zero or more).
        content: Frames,
    },
    /// The sender joined `group`; `status` is its counter after the change.
    Join {
        /// The group.
        group: String,
        /// The sender's status counter after the change.
        status: u8,
    },
    /// The sender left `group`; `status` is its counter after the change.
    Leave {
        /// The group.
        group: String,
        /// The sender's status counter after the change.
        status: u8,
    },
    /// Liveness probe.
    Ping,
    /// Answer to a PING.
    PingOk,
    /// Leader election challenge (Zyre only).
    Elect {
        /// The group.
        group: String,
        /// The challenger's UUID string.
        challenger_id: String,
    },
    /// Leader election result (Zyre only).
    Leader {
        /// The group.
        group: String,
        /// The leader's UUID string.
        leader_id: String,
    },
    /// The sender leaves (Zyre gossip mode).
    Goodbye,
}

impl Body {
    /// The message id of this body.
    pub fn id(&self) -> u8 {
        match self {
            Body::Hello(_) => id::HELLO,
            Body::Whisper { .. } => id::WHISPER,
            Body::Shout { .. } => id::SHOUT,
            Body::Join { .. } => id::JOIN,
            Body::Leave { .. } => id::LEAVE,
            Body::Ping => id::PING,
            Body::PingOk => id::PING_OK,
            Body::Elect { .. } => id::ELECT,
            Body::Leader { .. } => id::LEADER,
            Body::Goodbye => id::GOODBYE,
        }
    }

    /// The message name as the protocol spells it (`"PING-OK"`, ...), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Hello(_) => "HELLO",
            Body::Whisper { .. } => "WHISPER",
            Body::Shout { .. } => "SHOUT",
            Body::Join { .. } => "JOIN",
            Body::Leave { .. } => "LEAVE",
            Body::Ping => "PING",
            Body::PingOk => "PING-OK",
            Body::Elect { .. } => "ELECT",
            Body::Leader { .. } => "LEADER",
            Body::Goodbye => "GOODBYE",
        }
    }
}

/// One ZRE message: a sequence number and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZreMessage {
    /// Per-link sequence number (HELLO is 1 on a fresh link).
    pub sequence: u16,
    /// The message itself.
    pub body: Body,
}

impl ZreMessage {
    /// A message with the given sequence number.
    pub fn new(sequence: u16, body: Body) -> ZreMessage {
        ZreMessage { sequence, body }
    }

    /// Decodes a header frame plus the frames that followed it. Content frames are
    /// kept for WHISPER and SHOUT and ignored for every other type, as Zyre does.
    ///
    /// Bytes after the last field are ignored, so that a later protocol revision can
    /// append fields.
    pub fn parse(header: &[u8], content: Frames) -> Result<ZreMessage, WireError> {
        let mut r = Reader::new(header);
        if r.take(2)? != SIGNATURE {
            return Err(WireError::BadSignature);
        }
        let id = r.u8()?;
        let version = r.u8()?;
        if !(id::HELLO..=id::GOODBYE).contains(&id) {
            return Err(WireError::UnknownMessage(id));
        }
        if version != VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let sequence = r.u16()?;
        let body = match id {
            id::HELLO => {
                let endpoint = string(&mut r)?;
                let groups = strings(&mut r)?;
                let status = r.u8()?;
                let name = string(&mut r)?;
                let headers = hash(&mut r)?;
                Body::Hello(Hello {
                    endpoint,
                    groups,
                    status,
                    name,
                    headers,
                })
            }
            id::WHISPER => Body::Whisper { content },
            id::SHOUT => Body::Shout {
                group: name(&mut r)?,
                content,
            },
            id::JOIN => Body::Join {
                group: string(&mut r)?,
                status: r.u8()?,
            },
            id::LEAVE => Body::Leave {
                group: string(&mut r)?,
                status: r.u8()?,
            },
            id::PING => Body::Ping,
            id::PING_OK => Body::PingOk,
            id::ELECT => Body::Elect {
                group: string(&mut r)?,
                challenger_id: string(&mut r)?,
            },
            id::LEADER => Body::Leader {
                group: string(&mut r)?,
                leader_id: string(&mut r)?,
            },
            _ => Body::Goodbye,
        };
        Ok(ZreMessage { sequence, body })
    }

    /// Encodes the header frame alone.
    pub fn encode_header(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(64);
        self.encode_header_into(&mut out)?;
        Ok(out)
    }

    /// Appends the header frame of a WHISPER (`group` is `None`) or a SHOUT to `out`,
    /// the same bytes as [`ZreMessage::encode_header_into`] gives, without building a
    /// message: a shout goes to every member with its own sequence number.
    pub fn encode_content_header_into(
        out: &mut Vec<u8>,
        sequence: u16,
        group: Option<&str>,
    ) -> Result<(), WireError> {
        let id = if group.is_some() {
            id::SHOUT
        } else {
            id::WHISPER
        };
        put_header_start(out, id, sequence);
        if let Some(g) = group {
            put_string(out, g)?;
        }
        Ok(())
    }

    /// Appends the header frame to `out` (which callers can reuse between messages).
    /// On error `out` may hold a partial header.
    pub fn encode_header_into(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        put_header_start(out, self.body.id(), self.sequence);
        match &self.body {
            Body::Hello(h) => {
                put_string(out, &h.endpoint)?;
                put_count(out, h.groups.len())?;
                for g in &h.groups {
                    put_longstr(out, g)?;
                }
                out.push(h.status);
                put_string(out, &h.name)?;
                put_count(out, h.headers.len())?;
                for (k, v) in &h.headers {
                    put_string(out, k)?;
                    put_longstr(out, v)?;
                }
            }
            Body::Shout { group, .. } => put_string(out, group)?,
            Body::Join { group, status } | Body::Leave { group, status } => {
                put_string(out, group)?;
                out.push(*status);
            }
            Body::Elect {
                group,
                challenger_id: second,
            }
            | Body::Leader {
                group,
                leader_id: second,
            } => {
                put_string(out, group)?;
                put_string(out, second)?;
            }
            Body::Whisper { .. } | Body::Ping | Body::PingOk | Body::Goodbye => {}
        }
        Ok(())
    }

    /// The application content frames (empty for types without content).
    pub fn content(&self) -> &Frames {
        static NONE: Frames = Frames::new();
        match &self.body {
            Body::Whisper { content } | Body::Shout { content, .. } => content,
            _ => &NONE,
        }
    }

    /// Encodes the whole message: the header frame followed by any content frames.
    pub fn encode(&self) -> Result<Vec<Vec<u8>>, WireError> {
        let mut frames = vec![self.encode_header()?];
        frames.extend(self.content().iter().map(<[u8]>::to_vec));
        Ok(frames)
    }
}

fn string(r: &mut Reader<'_>) -> Result<String, WireError> {
    let len = r.u8()? as usize;
    Ok(String::from_utf8_lossy(r.take(len)?).into_owned())
}

fn name(r: &mut Reader<'_>) -> Result<Name, WireError> {
    let len = r.u8()? as usize;
    Ok(String::from_utf8_lossy(r.take(len)?).into())
}

fn longstr(r: &mut Reader<'_>) -> Result<String, WireError> {
    let len = r.u32()? as usize;
    Ok(String::from_utf8_lossy(r.take(len)?).into_owned())
}

/// Reads a u32 count and checks it against the bytes left, given the smallest size
/// of one element, so a hostile count cannot make us reserve huge vectors.
fn count(r: &mut Reader<'_>, min_elem: usize) -> Result<usize, WireError> {
    let n = r.u32()? as usize;
    if n.saturating_mul(min_elem) > r.remaining() {
        return Err(WireError::Truncated);
    }
    Ok(n)
}

fn strings(r: &mut Reader<'_>) -> Result<Vec<String>, WireError> {
    let n = count(r, 4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(longstr(r)?);
    }
    Ok(out)
}

fn hash(r: &mut Reader<'_>) -> Result<Vec<(String, String)>, WireError> {
    let n = count(r, 5)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = string(r)?;
        let v = longstr(r)?;
        out.push((k, v));
    }
    Ok(out)
}

/// Signature, message id, version and sequence: how every header frame starts.
fn put_header_start(out: &mut Vec<u8>, id: u8, sequence: u16) {
    out.extend_from_slice(&SIGNATURE);
    out.push(id);
    out.push(VERSION);
    out.extend_from_slice(&sequence.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &str) -> Result<(), WireError> {
    check_string(s).map_err(|_| WireError::FieldTooLong)?;
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), WireError> {
    let n = u32::try_from(n).map_err(|_| WireError::FieldTooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_longstr(out: &mut Vec<u8>, s: &str) -> Result<(), WireError> {
    put_count(out, s.len())?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The 72-byte HELLO from the protocol notes.
    const HELLO_72: [u8; 72] = [
        0xaa, 0xa1, 0x01, 0x02, 0x00, 0x01, 0x17, 0x74, 0x63, 0x70, 0x3a, 0x2f, 0x2f, 0x31, 0x39,
        0x32, 0x2e, 0x31, 0x36, 0x38, 0x2e, 0x31, 0x2e, 0x32, 0x3a, 0x34, 0x39, 0x31, 0x35, 0x32,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x47, 0x4c, 0x4f, 0x42, 0x41, 0x4c, 0x01,
        0x05, 0x6e, 0x6f, 0x64, 0x65, 0x31, 0x00, 0x00, 0x00, 0x01, 0x07, 0x58, 0x2d, 0x48, 0x45,
        0x4c, 0x4c, 0x4f, 0x00, 0x00, 0x00, 0x05, 0x57, 0x6f, 0x72, 0x6c, 0x64,
    ];

    fn hello_72() -> ZreMessage {
        ZreMessage::new(
            1,
            Body::Hello(Hello {
                endpoint: "tcp://192.168.1.2:49152".into(),
                groups: vec!["GLOBAL".into()],
                status: 1,
                name: "node1".into(),
                headers: vec![("X-HELLO".into(), "World".into())],
            }),
        )
    }

    #[test]
    fn hello_literal() {
        assert_eq!(
            ZreMessage::parse(&HELLO_72, Frames::new()).unwrap(),
            hello_72()
        );
        assert_eq!(hello_72().encode_header().unwrap(), HELLO_72);
    }

    #[test]
    fn other_literals() {
        let whisper = ZreMessage::new(
            2,
            Body::Whisper {
                content: Frames::from(["hello"]),
            },
        );
        let frames = whisper.encode().unwrap();
        assert_eq!(frames[0], [0xaa, 0xa1, 0x02, 0x02, 0x00, 0x02]);
        assert_eq!(frames[1], b"hello");
        let shout = ZreMessage::new(
            3,
            Body::Shout {
                group: "GLOBAL".into(),
                content: Frames::new(),
            },
        );
        assert_eq!(
            shout.encode_header().unwrap(),
            b"\xaa\xa1\x03\x02\x00\x03\x06GLOBAL"
        );
        let ping = ZreMessage::new(5, Body::Ping);
        assert_eq!(ping.encode_header().unwrap(), [0xaa, 0xa1, 6, 2, 0, 5]);
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa1, 10, 2, 0xff, 0xff], Frames::new()).unwrap(),
            ZreMessage::new(65535, Body::Goodbye)
        );
    }

    #[test]
    fn content_ignored_for_non_content_types() {
        let m = ZreMessage::parse(&[0xaa, 0xa1, 6, 2, 0, 9], Frames::from(["x"])).unwrap();
        assert_eq!(m.body, Body::Ping);
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa2, 6, 2, 0, 1], Frames::new()),
            Err(WireError::BadSignature)
        );
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa1, 6, 3, 0, 1], Frames::new()),
            Err(WireError::UnsupportedVersion(3))
        );
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa1, 11, 2, 0, 1], Frames::new()),
            Err(WireError::UnknownMessage(11))
        );
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa1, 0, 2, 0, 1], Frames::new()),
            Err(WireError::UnknownMessage(0))
        );
        assert_eq!(
            ZreMessage::parse(&[0xaa, 0xa1, 6, 2, 0], Frames::new()),
            Err(WireError::Truncated)
        );
        // Every strict prefix of the HELLO runs past its end.
        for n in 0..HELLO_72.len() {
            assert!(
                ZreMessage::parse(&HELLO_72[..n], Frames::new()).is_err(),
                "prefix {n}"
            );
        }
        // A hash count far beyond the frame is refused without allocating.
        let mut bad = HELLO_72.to_vec();
        bad[51..55].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            ZreMessage::parse(&bad, Frames::new()),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn encode_rejects_long_string() {
        let m = ZreMessage::new(
            1,
            Body::Join {
                group: "g".repeat(256),
                status: 0,
            },
        );
        assert_eq!(m.encode(), Err(WireError::FieldTooLong));
    }

    fn short_string() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ -~]{0,40}|[\\u{80}-\\u{7ff}]{0,20}").unwrap()
    }

    fn frames() -> impl Strategy<Value = Frames> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4)
            .prop_map(Frames::from)
    }

    prop_compose! {
        fn hello()(endpoint in short_string(), groups in proptest::collection::vec(short_string(), 0..5),
                   status in any::<u8>(), name in short_string(),
                   headers in proptest::collection::vec((short_string(), short_string()), 0..4)) -> Body {
            Body::Hello(Hello { endpoint, groups, status, name, headers })
        }
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            hello(),
            frames().prop_map(|content| Body::Whisper { content }),
            (short_string(), frames()).prop_map(|(group, content)| Body::Shout {
                group: group.into(),
                content
            }),
            (short_string(), any::<u8>()).prop_map(|(group, status)| Body::Join { group, status }),
            (short_string(), any::<u8>()).prop_map(|(group, status)| Body::Leave { group, status }),
            Just(Body::Ping),
            Just(Body::PingOk),
            (short_string(), short_string()).prop_map(|(group, challenger_id)| Body::Elect {
                group,
                challenger_id
            }),
            (short_string(), short_string())
                .prop_map(|(group, leader_id)| Body::Leader { group, leader_id }),
            Just(Body::Goodbye),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u16>(), body in body()) {
            let msg = ZreMessage::new(seq, body);
            let mut frames = msg.encode().unwrap();
            let header = frames.remove(0);
            prop_assert_eq!(ZreMessage::parse(&header, Frames::from(frames)).unwrap(), msg);
        }

        #[test]
        fn content_header_matches_message(seq in any::<u16>(), group in proptest::option::of(short_string())) {
            let body = match group.clone() {
                Some(group) => Body::Shout { group: group.into(), content: Frames::new() },
                None => Body::Whisper { content: Frames::new() },
            };
            let mut want = Vec::new();
            ZreMessage::new(seq, body).encode_header_into(&mut want).unwrap();
            let mut got = Vec::new();
            ZreMessage::encode_content_header_into(&mut got, seq, group.as_deref()).unwrap();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ZreMessage::parse(&bytes, Frames::new());
        }

        #[test]
        fn random_bodies_after_valid_header_never_panic(id in 1u8..=10, tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = vec![0xaa, 0xa1, id, 2, 0, 1];
            bytes.extend_from_slice(&tail);
            let _ = ZreMessage::parse(&bytes, Frames::new());
        }
    }
}

//! The ZeroMQ gossip protocol (czmq's `zgossip`, which Zyre uses for discovery
//! without broadcast): one message per ZMTP frame, between a client (DEALER) and
//! a server (ROUTER).
//!
//! ```text
//! AA A0  id(1)  version(1)=1  fields...
//! 1 HELLO     client → server: "send me every tuple you hold"
//! 2 PUBLISH   either way: key string, value longstr, ttl u32 (ms; 0 = never expires)
//! 3 PING      client → server
//! 4 PONG      server → client
//! 5 INVALID   server → client: "say HELLO again" (the session was forgotten)
//! ```
//!
//! ```
//! use zmesh::wire::zgossip::GossipMessage;
//! let m = GossipMessage::Publish {
//!     key: "0123456789ABCDEF0123456789ABCDEF".into(),
//!     value: "tcp://10.0.0.1:49152".into(),
//!     ttl: 0,
//! };
//! let bytes = m.encode().unwrap();
//! assert_eq!(&bytes[..4], &[0xAA, 0xA0, 2, 1]);
//! assert_eq!(GossipMessage::parse(&bytes), Ok(m));
//! ```

use super::{check_string, Reader, WireError};

/// The two signature bytes of every zgossip message (`0xAAA0 | 0`).
pub const SIGNATURE: [u8; 2] = [0xAA, 0xA0];
/// The only protocol version.
pub const VERSION: u8 = 1;

/// One zgossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipMessage {
    /// A client opens its session; the server answers with every tuple it holds.
    Hello,
    /// A tuple, new or forwarded.
    Publish {
        /// Globally unique key (Zyre: the node's UUID as 32 hex digits).
        key: String,
        /// The value (Zyre: the node's endpoint, `|` and its CURVE key in CURVE mode).
        value: String,
        /// Time to live in milliseconds; 0 means it never expires (as Zyre sends).
        ttl: u32,
    },
    /// A client is alive.
    Ping,
    /// The server's answer to PING (any traffic counts as activity).
    Pong,
    /// The server does not know the client's session: it should say HELLO again.
    Invalid,
}

impl GossipMessage {
    /// The message id on the wire.
    pub fn id(&self) -> u8 {
        match self {
            GossipMessage::Hello => 1,
            GossipMessage::Publish { .. } => 2,
            GossipMessage::Ping => 3,
            GossipMessage::Pong => 4,
            GossipMessage::Invalid => 5,
        }
    }

    /// Parses one frame. Bytes after the last field are ignored, as czmq does.
    pub fn parse(frame: &[u8]) -> Result<GossipMessage, WireError> {
        let mut r = Reader::new(frame);
        if r.take(2)? != SIGNATURE {
            return Err(WireError::BadSignature);
        }
        let id = r.u8()?;
        if !(1..=5).contains(&id) {
            return Err(WireError::UnknownMessage(id));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        Ok(match id {
            1 => GossipMessage::Hello,
            2 => {
                let n = r.u8()? as usize;
                let key = String::from_utf8_lossy(r.take(n)?).into_owned();
                let n = r.u32()? as usize;
                let value = String::from_utf8_lossy(r.take(n)?).into_owned();
                let ttl = r.u32()?;
                GossipMessage::Publish { key, value, ttl }
            }
            3 => GossipMessage::Ping,
            4 => GossipMessage::Pong,
            _ => GossipMessage::Invalid,
        })
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the message's frame body to `out` (on error, `out` is unchanged).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if let GossipMessage::Publish { key, value, .. } = self {
            check_string(key).map_err(|_| WireError::FieldTooLong)?;
            u32::try_from(value.len()).map_err(|_| WireError::FieldTooLong)?;
        }
        out.extend_from_slice(&SIGNATURE);
        out.push(self.id());
        out.push(VERSION);
        if let GossipMessage::Publish { key, value, ttl } = self {
            out.push(key.len() as u8);
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_bytes() {
        assert_eq!(GossipMessage::Hello.encode().unwrap(), [0xAA, 0xA0, 1, 1]);
        assert_eq!(GossipMessage::Ping.encode().unwrap(), [0xAA, 0xA0, 3, 1]);
        assert_eq!(GossipMessage::Pong.encode().unwrap(), [0xAA, 0xA0, 4, 1]);
        assert_eq!(GossipMessage::Invalid.encode().unwrap(), [0xAA, 0xA0, 5, 1]);
        let p = GossipMessage::Publish {
            key: "K".into(),
            value: "tcp://a:1".into(),
            ttl: 0x0102_0304,
        };
        let mut want = vec![0xAA, 0xA0, 2, 1, 1, b'K', 0, 0, 0, 9];
        want.extend_from_slice(b"tcp://a:1");
        want.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(p.encode().unwrap(), want);
        assert_eq!(GossipMessage::parse(&want), Ok(p));
    }

    #[test]
    fn refuses_what_czmq_refuses() {
        assert_eq!(
            GossipMessage::parse(&[0xAA, 0xA1, 1, 1]),
            Err(WireError::BadSignature)
        );
        assert_eq!(
            GossipMessage::parse(&[0xAA, 0xA0, 6, 1]),
            Err(WireError::UnknownMessage(6))
        );
        assert_eq!(
            GossipMessage::parse(&[0xAA, 0xA0, 1, 2]),
            Err(WireError::UnsupportedVersion(2))
        );
        assert_eq!(
            GossipMessage::parse(&[0xAA, 0xA0, 2, 1, 5, b'a']),
            Err(WireError::Truncated)
        );
        // A value length of four billion costs nothing: it is checked against the frame.
        assert_eq!(
            GossipMessage::parse(&[0xAA, 0xA0, 2, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(WireError::Truncated)
        );
        let long = GossipMessage::Publish {
            key: "k".repeat(256),
            value: String::new(),
            ttl: 0,
        };
        assert_eq!(long.encode(), Err(WireError::FieldTooLong));
    }

    proptest! {
        #[test]
        fn round_trip(key in "[0-9A-F]{0,64}", value in ".{0,300}", ttl in any::<u32>(), id in 1u8..=5) {
            let m = match id {
                1 => GossipMessage::Hello,
                2 => GossipMessage::Publish { key, value, ttl },
                3 => GossipMessage::Ping,
                4 => GossipMessage::Pong,
                _ => GossipMessage::Invalid,
            };
            prop_assert_eq!(GossipMessage::parse(&m.encode().unwrap()), Ok(m));
        }

        #[test]
        fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..64), id in 0u8..8) {
            let mut frame = vec![0xAA, 0xA0, id, 1];
            frame.extend_from_slice(&tail);
            let _ = GossipMessage::parse(&frame);
            let _ = GossipMessage::parse(&tail);
        }
    }
}

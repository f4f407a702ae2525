//! ZRE-LOG, the binary logging protocol of the ZeroMQ guide's chapter 8 and of
//! Zyre 1.x (`zre_log_msg`): one message, LOG, carried over PUB/SUB from every node
//! to a collector. Its signature is `AA A2` (ZRE is `AA A1`, zgossip `AA A0`).
//!
//! ```text
//! LOG = %xAA %xA2 %x01 level(1) event(1) node(2) peer(2) time(8) data(string)
//! ```
//!
//! All numbers are big-endian; `data` is a ZRE `string` (a length byte, then at
//! most 255 bytes). `node` and `peer` are 16-bit hashes of the node's and the
//! peer's endpoints ([`hash`], the guide's "modified Bernstein" hash). `time` is
//! the guide's and Zyre's seconds since the epoch (RFC 20 says milliseconds; Zyre
//! sent seconds, and so does zmesh).

use super::{Reader, WireError};

/// The signature of every ZRE-LOG message.
pub const SIGNATURE: [u8; 2] = [0xAA, 0xA2];
/// The only message id: LOG.
pub const LOG: u8 = 1;

/// How bad a record is (the guide's and Zyre's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum Level {
    /// 1.
    Error,
    /// 2.
    Warning,
    /// 3.
    Info,
    /// Any other value, kept so that a record from a newer node still reads.
    Other(u8),
}

impl Level {
    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Level::Error => 1,
            Level::Warning => 2,
            Level::Info => 3,
            Level::Other(c) => c,
        }
    }

    /// The level of a byte.
    pub fn from_code(c: u8) -> Level {
        match c {
            1 => Level::Error,
            2 => Level::Warning,
            3 => Level::Info,
            c => Level::Other(c),
        }
    }
}

/// What a record is about. Zyre 1.x defines JOIN to RECV (1 to 6); zmesh adds the
/// events Zyre 2 has since (EVASIVE, SILENT, LEADER, STOP), a peer dropped for its
/// output (OVERFLOW) and the application's own records (APP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "UPPERCASE")
)]
#[non_exhaustive]
pub enum LogEvent {
    /// 1: a peer joined a group.
    Join,
    /// 2: a peer left a group.
    Leave,
    /// 3: a peer entered.
    Enter,
    /// 4: a peer left the mesh (the text says why).
    Exit,
    /// 5: a message was sent.
    Send,
    /// 6: a message was received.
    Recv,
    /// 7: a peer was quiet for the evasive timeout (zmesh).
    Evasive,
    /// 8: still quiet one reap interval later (zmesh).
    Silent,
    /// 9: a group's election is over (zmesh).
    Leader,
    /// 10: the node stopped (zmesh).
    Stop,
    /// 11: events or log records were dropped (zmesh; the text says how many).
    Overflow,
    /// 0: the application's own record (`Node::log`; zmesh).
    App,
    /// Any other value.
    Other(u8),
}

impl LogEvent {
    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            LogEvent::App => 0,
            LogEvent::Join => 1,
            LogEvent::Leave => 2,
            LogEvent::Enter => 3,
            LogEvent::Exit => 4,
            LogEvent::Send => 5,
            LogEvent::Recv => 6,
            LogEvent::Evasive => 7,
            LogEvent::Silent => 8,
            LogEvent::Leader => 9,
            LogEvent::Stop => 10,
            LogEvent::Overflow => 11,
            LogEvent::Other(c) => c,
        }
    }

    /// The event of a byte.
    pub fn from_code(c: u8) -> LogEvent {
        match c {
            0 => LogEvent::App,
            1 => LogEvent::Join,
            2 => LogEvent::Leave,
            3 => LogEvent::Enter,
            4 => LogEvent::Exit,
            5 => LogEvent::Send,
            6 => LogEvent::Recv,
            7 => LogEvent::Evasive,
            8 => LogEvent::Silent,
            9 => LogEvent::Leader,
            10 => LogEvent::Stop,
            11 => LogEvent::Overflow,
            c => LogEvent::Other(c),
        }
    }
}

/// One LOG message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LogRecord {
    /// How bad.
    pub level: Level,
    /// What about.
    pub event: LogEvent,
    /// The hash of the reporting node's endpoint.
    pub node: u16,
    /// The hash of the peer's endpoint (0 when no peer is concerned).
    pub peer: u16,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The text (lossily decoded; at most 255 bytes on the wire).
    pub data: String,
}

/// The guide's 16-bit "modified Bernstein" hash of an endpoint string:
/// `h = 33 * h ^ c` for every byte, in 16-bit arithmetic. It is loose: 10,000 LAN
/// endpoints give only 7,082 values, so zmesh's records also name the node in
/// their text.
///
/// ```
/// assert_eq!(zmesh::wire::zrelog::hash(""), 0);
/// assert_eq!(zmesh::wire::zrelog::hash("a"), 0x61);
/// assert_eq!(zmesh::wire::zrelog::hash("ab"), (33 * 0x61) ^ 0x62);
/// ```
pub fn hash(endpoint: &str) -> u16 {
    endpoint
        .bytes()
        .fold(0u16, |h, c| h.wrapping_mul(33) ^ u16::from(c))
}

impl LogRecord {
    /// Parses one frame. Bytes after `data` are ignored, as Zyre's codec did.
    pub fn parse(frame: &[u8]) -> Result<LogRecord, WireError> {
        let mut r = Reader::new(frame);
        if r.take(2)? != SIGNATURE {
            return Err(WireError::BadSignature);
        }
        let id = r.u8()?;
        if id != LOG {
            return Err(WireError::UnknownMessage(id));
        }
        let level = Level::from_code(r.u8()?);
        let event = LogEvent::from_code(r.u8()?);
        let node = r.u16()?;
        let peer = r.u16()?;
        let t = r.take(8)?;
        let time = u64::from_be_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]);
        let n = r.u8()? as usize;
        let data = String::from_utf8_lossy(r.take(n)?).into_owned();
        Ok(LogRecord {
            level,
            event,
            node,
            peer,
            time,
            data,
        })
    }

    /// Encodes the record as one frame; `data` longer than 255 bytes is cut at a
    /// character boundary (a log line is never refused for its length).
    pub fn encode(&self) -> Vec<u8> {
        let mut data = self.data.clone();
        super::truncate_string(&mut data);
        let mut out = Vec::with_capacity(17 + data.len());
        out.extend_from_slice(&SIGNATURE);
        out.push(LOG);
        out.push(self.level.code());
        out.push(self.event.code());
        out.extend_from_slice(&self.node.to_be_bytes());
        out.extend_from_slice(&self.peer.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.push(data.len() as u8);
        out.extend_from_slice(data.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_bytes() {
        let r = LogRecord {
            level: Level::Info,
            event: LogEvent::Enter,
            node: 0x1234,
            peer: 0xABCD,
            time: 0x0102_0304_0506_0708,
            data: "bob".into(),
        };
        let want = [
            0xAA, 0xA2, 1, 3, 3, 0x12, 0x34, 0xAB, 0xCD, 1, 2, 3, 4, 5, 6, 7, 8, 3, b'b', b'o',
            b'b',
        ];
        assert_eq!(r.encode(), want);
        assert_eq!(LogRecord::parse(&want), Ok(r));
    }

    #[test]
    fn refuses_what_zyre_refused() {
        let ok = LogRecord {
            level: Level::Error,
            event: LogEvent::Exit,
            node: 1,
            peer: 2,
            time: 3,
            data: "x".into(),
        }
        .encode();
        let mut sig = ok.clone();
        sig[1] = 0xA1;
        assert_eq!(LogRecord::parse(&sig), Err(WireError::BadSignature));
        let mut id = ok.clone();
        id[2] = 2;
        assert_eq!(LogRecord::parse(&id), Err(WireError::UnknownMessage(2)));
        for n in 0..ok.len() {
            assert_eq!(LogRecord::parse(&ok[..n]), Err(WireError::Truncated), "{n}");
        }
        // A data length past the frame's end costs nothing.
        let mut long = ok.clone();
        long[17] = 255;
        assert_eq!(LogRecord::parse(&long), Err(WireError::Truncated));
    }

    #[test]
    fn long_text_is_cut_not_refused() {
        let r = LogRecord {
            level: Level::Warning,
            event: LogEvent::App,
            node: 0,
            peer: 0,
            time: 0,
            data: "é".repeat(200),
        };
        let back = LogRecord::parse(&r.encode()).unwrap();
        assert_eq!(back.data.len(), 254);
    }

    #[test]
    fn the_guide_hash_is_loose() {
        // The guide says it hashed 10,000 addresses without a collision. On 10,000
        // LAN endpoints it gives 7,082 values (a random 16-bit hash: about 9,300),
        // so records name their node in the text too.
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            let ep = format!("tcp://192.168.{}.{}:{}", i / 250, i % 250, 9992);
            seen.insert(hash(&ep));
        }
        assert_eq!(seen.len(), 7_082);
        assert_eq!(hash("ab"), 0x0CE3);
    }

    proptest! {
        #[test]
        fn round_trip(level in any::<u8>(), event in any::<u8>(), node in any::<u16>(),
                      peer in any::<u16>(), time in any::<u64>(), data in ".{0,80}") {
            let r = LogRecord {
                level: Level::from_code(level),
                event: LogEvent::from_code(event),
                node, peer, time, data,
            };
            let mut r2 = r.clone();
            crate::wire::truncate_string(&mut r2.data);
            prop_assert_eq!(LogRecord::parse(&r.encode()), Ok(r2));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(r) = LogRecord::parse(&bytes) {
                // The text is decoded lossily (an invalid byte becomes three), so a
                // long invalid one is cut once on re-encoding; then it is stable.
                let once = LogRecord::parse(&r.encode()).unwrap();
                prop_assert!(r.data.starts_with(&once.data));
                prop_assert_eq!(LogRecord::parse(&once.encode()), Ok(once));
            }
        }

        #[test]
        fn long_invalid_text_is_cut_once(n in 86usize..=255) {
            // Found by the fuzzer: 130 invalid bytes decode to 390 bytes of text.
            let mut frame = vec![0xAA, 0xA2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            frame.push(n as u8);
            frame.extend(std::iter::repeat_n(0x82u8, n));
            let r = LogRecord::parse(&frame).unwrap();
            prop_assert_eq!(r.data.len(), 3 * n);
            let once = LogRecord::parse(&r.encode()).unwrap();
            prop_assert_eq!(once.data.len(), 255);
            prop_assert_eq!(LogRecord::parse(&once.encode()), Ok(once));
        }

        #[test]
        fn valid_headers_with_any_tail(tail in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut bytes = vec![0xAA, 0xA2, 1];
            bytes.extend_from_slice(&tail);
            let _ = LogRecord::parse(&bytes);
        }
    }
}

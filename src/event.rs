//! What a node tells its application: [`Event`], and the [`PeerId`] that names peers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::frames::Frames;
use crate::name::Name;

/// A node's 16-byte UUID. It prints as 32 upper-case hex digits, as Zyre does.
///
/// ```
/// use zmesh::PeerId;
/// let id: PeerId = "0123456789ABCDEF0123456789abcdef".parse().unwrap();
/// assert_eq!(id.to_string(), "0123456789ABCDEF0123456789ABCDEF");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PeerId(pub [u8; 16]);

// Byte order, compared as one big-endian u128: the same order as the bytes', without
// a memcmp call per comparison (peer maps are searched on every beacon).
impl Ord for PeerId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        u128::from_be_bytes(self.0).cmp(&u128::from_be_bytes(other.0))
    }
}

impl PartialOrd for PeerId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PeerId {
    /// A random (version 4) UUID from the OS generator. The engine never calls this;
    /// the driver and tools do.
    pub fn random() -> PeerId {
        PeerId(*uuid::Uuid::new_v4().as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The first `n` hex digits, used as the default node name (Zyre uses 6).
    pub fn short(&self, n: usize) -> String {
        let s = self.to_string();
        s[..n.min(32)].to_string()
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

/// A string that is not 32 hex digits (dashes are allowed and ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePeerIdError;

impl fmt::Display for ParsePeerIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a peer id is 32 hex digits")
    }
}

impl std::error::Error for ParsePeerIdError {}

impl FromStr for PeerId {
    type Err = ParsePeerIdError;
    fn from_str(s: &str) -> Result<PeerId, ParsePeerIdError> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        if hex.len() != 32 {
            return Err(ParsePeerIdError);
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(ParsePeerIdError);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(PeerId(out))
    }
}

/// Why a peer left the mesh, carried by [`Event::Exit`] so that tools can account
/// for every message a departed peer did not receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum ExitReason {
    /// It stopped politely: a port-0 beacon, or GOODBYE.
    Left,
    /// Nothing arrived from it within the expired timeout.
    Expired,
    /// A gap in its sequence numbers: messages were lost.
    SequenceGap,
    /// Its group status counter disagreed with ours: a JOIN or LEAVE was lost.
    StatusMismatch,
    /// It said HELLO again (restart with the same UUID); it enters again at once.
    Restarted,
    /// Another peer now uses its endpoint (its process is gone, the port reused).
    EndpointReused,
    /// Our connection to it broke at the ZMTP level (bad bytes, ERROR command).
    ProtocolError,
    /// Our unsent output to it passed the limit: it does not read fast enough.
    Overflow,
}

impl ExitReason {
    /// A short lower-case name, for logs and summaries.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExitReason::Left => "left",
            ExitReason::Expired => "expired",
            ExitReason::SequenceGap => "sequence-gap",
            ExitReason::StatusMismatch => "status-mismatch",
            ExitReason::Restarted => "restarted",
            ExitReason::EndpointReused => "endpoint-reused",
            ExitReason::ProtocolError => "protocol-error",
            ExitReason::Overflow => "overflow",
        }
    }
}

/// Something that happened in the mesh, delivered in order per peer: a peer's
/// `Enter` comes before the `Join`s its HELLO listed, which come before its traffic.
///
/// With the `serde` feature an event is one JSON object whose `type` is
/// [`Event::kind`] (see `docs/json.md`):
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use zmesh::{Event, ExitReason, PeerId};
/// let e = Event::Exit { peer: PeerId([0xAB; 16]), name: "bob".into(), reason: ExitReason::Left };
/// let json = serde_json::to_string(&e).unwrap();
/// assert_eq!(json, format!(r#"{{"type":"EXIT","peer":"{}","name":"bob","reason":"left"}}"#, "AB".repeat(16)));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "type", rename_all = "UPPERCASE")
)]
#[non_exhaustive]
pub enum Event {
    /// A peer said HELLO: it is now in the mesh.
    Enter {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// Its headers.
        headers: BTreeMap<String, String>,
        /// Its inbox endpoint as it announced it (`tcp://ip:port`).
        endpoint: String,
    },
    /// A peer left the mesh (or was dropped; see `reason`).
    Exit {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// Why.
        reason: ExitReason,
    },
    /// A peer joined a group.
    Join {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// The group.
        group: Name,
    },
    /// A peer left a group.
    Leave {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// The group.
        group: Name,
    },
    /// A message for us alone.
    Whisper {
        /// The sender.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// The message frames.
        content: Frames,
    },
    /// A message to a group.
    Shout {
        /// The sender.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// The group.
        group: Name,
        /// The message frames.
        content: Frames,
    },
    /// Nothing heard from the peer for the evasive timeout; it was pinged. Repeats
    /// on every reap tick while it lasts.
    Evasive {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
    },
    /// Still nothing one reap interval after `Evasive`. Repeats like `Evasive`.
    Silent {
        /// The peer.
        peer: PeerId,
        /// Its name.
        name: Name,
    },
    /// An election in a group is over: `peer` leads it (our own id if we do).
    Leader {
        /// The leader.
        peer: PeerId,
        /// Its name.
        name: Name,
        /// The group.
        group: Name,
    },
    /// A log record from a node that publishes to us: this node is a log
    /// collector ([`Node::set_log_collector`](crate::Node::set_log_collector)).
    Log {
        /// The publishing node, when it is a peer we know (else the zero id).
        peer: PeerId,
        /// Its name (empty when unknown, or while its HELLO has not come).
        name: Name,
        /// The publisher's address.
        source: String,
        /// The record.
        record: crate::wire::zrelog::LogRecord,
    },
    /// This node stopped; `peer` and `name` are its own.
    Stop {
        /// Our own id.
        peer: PeerId,
        /// Our own name.
        name: Name,
    },
}

impl Event {
    /// The event type as Zyre spells it: `"ENTER"`, `"EXIT"`, `"WHISPER"`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Enter { .. } => "ENTER",
            Event::Exit { .. } => "EXIT",
            Event::Join { .. } => "JOIN",
            Event::Leave { .. } => "LEAVE",
            Event::Whisper { .. } => "WHISPER",
            Event::Shout { .. } => "SHOUT",
            Event::Evasive { .. } => "EVASIVE",
            Event::Silent { .. } => "SILENT",
            Event::Leader { .. } => "LEADER",
            Event::Log { .. } => "LOG",
            Event::Stop { .. } => "STOP",
        }
    }

    /// The peer the event is about (our own id for `Stop`).
    pub fn peer(&self) -> PeerId {
        match self {
            Event::Enter { peer, .. }
            | Event::Exit { peer, .. }
            | Event::Join { peer, .. }
            | Event::Leave { peer, .. }
            | Event::Whisper { peer, .. }
            | Event::Shout { peer, .. }
            | Event::Evasive { peer, .. }
            | Event::Silent { peer, .. }
            | Event::Leader { peer, .. }
            | Event::Log { peer, .. }
            | Event::Stop { peer, .. } => *peer,
        }
    }

    /// The peer's name (our own for `Stop`).
    pub fn name(&self) -> &str {
        match self {
            Event::Enter { name, .. }
            | Event::Exit { name, .. }
            | Event::Join { name, .. }
            | Event::Leave { name, .. }
            | Event::Whisper { name, .. }
            | Event::Shout { name, .. }
            | Event::Evasive { name, .. }
            | Event::Silent { name, .. }
            | Event::Leader { name, .. }
            | Event::Log { name, .. }
            | Event::Stop { name, .. } => name,
        }
    }

    /// One header of an `Enter` event (Zyre's `zyre_event_header`).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use zmesh::{Event, PeerId};
    /// let e = Event::Enter {
    ///     peer: PeerId([1; 16]),
    ///     name: "bob".into(),
    ///     headers: BTreeMap::from([("X-ROLE".to_string(), "hub".to_string())]),
    ///     endpoint: "tcp://127.0.0.1:5000".into(),
    /// };
    /// assert_eq!(e.header("X-ROLE"), Some("hub"));
    /// assert_eq!(e.header("X-NONE"), None);
    /// ```
    pub fn header(&self, key: &str) -> Option<&str> {
        match self {
            Event::Enter { headers, .. } => headers.get(key).map(String::as_str),
            _ => None,
        }
    }

    /// The group, for `Join`, `Leave`, `Shout` and `Leader`.
    pub fn group(&self) -> Option<&str> {
        match self {
            Event::Join { group, .. }
            | Event::Leave { group, .. }
            | Event::Shout { group, .. }
            | Event::Leader { group, .. } => Some(group),
            _ => None,
        }
    }

    /// The message frames, for `Whisper` and `Shout`.
    pub fn content(&self) -> Option<&Frames> {
        match self {
            Event::Whisper { content, .. } | Event::Shout { content, .. } => Some(content),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_text() {
        assert!("xyz".parse::<PeerId>().is_err());
        assert!("G123456789ABCDEF0123456789ABCDEF"
            .parse::<PeerId>()
            .is_err());
        let id: PeerId = "01234567-89ab-cdef-0123-456789abcdef".parse().unwrap();
        assert_eq!(id.0[0], 0x01);
        assert_eq!(id.0[15], 0xef);
        assert_eq!(id.short(6), "012345");
        assert_ne!(PeerId::random(), PeerId::random());
        // Ordered as the bytes are.
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a[0] = 1;
        b[15] = 0xff;
        assert!(PeerId(a) > PeerId(b));
        assert!(PeerId(b) > PeerId([0; 16]));
    }
}

//! The plain records the engine hands out: a peer's summary, the counters of
//! dropped input, a refused endpoint, and the faults tests inject on purpose.

use std::collections::{BTreeMap, BTreeSet};

use super::peer::Peer;
use crate::event::PeerId;

/// An endpoint that is not `tcp://` and an IP address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEndpoint(pub String);

impl std::fmt::Display for BadEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not tcp://IP:PORT", self.0)
    }
}

impl std::error::Error for BadEndpoint {}

/// A summary of one known peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer's id.
    pub id: PeerId,
    /// Its name (empty until its HELLO).
    pub name: String,
    /// The endpoint we connect to.
    pub endpoint: String,
    /// Its headers.
    pub headers: BTreeMap<String, String>,
    /// The groups it is in.
    pub groups: BTreeSet<String>,
    /// True once its HELLO arrived (it has entered).
    pub ready: bool,
    /// What we exchanged with it, and how quickly it answers.
    pub figures: PeerFigures,
}

/// One peer's figures, to tell a slow peer from a dead one: ZRE messages and their
/// bytes (every frame, the ZRE header frame included) each way, how often our link
/// to it was connected again, the last round trip of a PING (sent when the peer is
/// quiet for the evasive timeout, as in Zyre; Zyre and Pyre answer PING-OK), and
/// how long since anything came from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PeerFigures {
    /// Messages taken from it (in sequence).
    pub messages_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Messages queued to it.
    pub messages_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Times our link to it was connected again after it broke.
    pub reconnects: u64,
    /// From our last answered PING to its PING-OK; `None` until one is answered.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::serde_impl::opt_secs",
            skip_serializing_if = "Option::is_none",
            default
        )
    )]
    pub round_trip: Option<std::time::Duration>,
    /// Since it was last heard from, when the record was taken.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_impl::secs"))]
    pub since_heard: std::time::Duration,
}

/// Counters of dropped input and protocol trouble (nothing is dropped uncounted),
/// and of the beacons that tell whether discovery works at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Stats {
    /// Beacons this node sent (its leaving beacon included).
    pub beacons_sent: u64,
    /// Its own beacons that came back to it: the broadcast path works here.
    pub own_beacons_heard: u64,
    /// Valid beacons from other nodes (of this node's security mode).
    pub beacons_heard: u64,
    /// Datagrams on the beacon port that are not valid beacons.
    pub bad_beacons: u64,
    /// Inbox messages that are not valid ZRE (bad signature, version, fields).
    pub malformed: u64,
    /// Inbox messages whose routing id is not `0x01` + a 16-byte UUID.
    pub bad_identity: u64,
    /// Beacons and HELLOs of the other security mode (a plain one to a CURVE node,
    /// or the reverse), and peers announced without the key CURVE needs: ignored.
    pub wrong_security: u64,
    /// CURVE: a message whose sender's authenticated key is not the one its UUID
    /// is known by (a spoofed beacon, a HELLO with another key): dropped.
    pub key_mismatch: u64,
    /// CURVE: connections and announced peers whose key is not on the allow-list.
    pub not_allowed: u64,
    /// Messages from a peer before its HELLO (or from an unknown peer).
    pub before_hello: u64,
    /// Links closed for a ZMTP error.
    pub link_errors: u64,
    /// Accepted connections closed for not finishing the ZMTP handshake in time.
    pub handshake_timeouts: u64,
    /// Messages received on our outgoing links (a ZRE inbox never sends).
    pub unexpected_on_outbox: u64,
    /// Whispers to unknown peers.
    pub whisper_unknown_peer: u64,
    /// Gossip messages that are not valid zgossip.
    pub gossip_malformed: u64,
    /// Gossip tuples refused: the table was full, or the value too long.
    pub gossip_refused: u64,
    /// Gossip tuples whose endpoint cannot be connected to (a host name: the
    /// engine resolves no names).
    pub gossip_unusable: u64,
    /// Leaving beacons (port 0) for a known peer from another address than the
    /// peer's: ignored, so that nobody else can make a peer leave.
    pub spoofed_leaving: u64,
    /// Inbox connections closed at once: too many in all
    /// ([`MAX_INBOX_LINKS`](super::MAX_INBOX_LINKS)) or from one address
    /// ([`MAX_INBOX_PER_ADDRESS`](super::MAX_INBOX_PER_ADDRESS)).
    pub inbox_refused: u64,
    /// Beacons of new UUIDs ignored while
    /// [`MAX_UNREADY_PEERS`](super::MAX_UNREADY_PEERS) peers have not entered.
    pub unready_refused: u64,
    /// Messages under a ready peer's identity from another address than its
    /// HELLO came from (other than a HELLO): dropped, so that nobody else can
    /// speak, say GOODBYE or break the sequence for it.
    pub wrong_address: u64,
    /// HELLOs that would restart or move a ready peer, from another address, refused:
    /// the peer answered from its own address (or a claim for it already waited).
    pub takeovers_refused: u64,
    /// Groups and headers beyond a peer's bound
    /// ([`MAX_PEER_GROUPS`](super::MAX_PEER_GROUPS),
    /// [`MAX_PEER_HEADERS`](super::MAX_PEER_HEADERS)): not taken.
    pub over_bound: u64,
    /// Log records not published: over the rate, or to a collector too slow to
    /// take them (one per collector).
    pub log_dropped: u64,
    /// Log links refused: publishers past the bound, collectors past theirs or
    /// with a bad endpoint, and any under CURVE.
    pub log_refused: u64,
    /// Messages from publishers that are not ZRE-LOG records.
    pub log_malformed: u64,
    /// Peers dropped, by reason.
    pub exits: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Every counter but `exits`, by its field name: for metrics and reports that
    /// list them all without naming each.
    pub fn counters(&self) -> [(&'static str, u64); 26] {
        [
            ("beacons_sent", self.beacons_sent),
            ("own_beacons_heard", self.own_beacons_heard),
            ("beacons_heard", self.beacons_heard),
            ("bad_beacons", self.bad_beacons),
            ("malformed", self.malformed),
            ("bad_identity", self.bad_identity),
            ("wrong_security", self.wrong_security),
            ("key_mismatch", self.key_mismatch),
            ("not_allowed", self.not_allowed),
            ("before_hello", self.before_hello),
            ("link_errors", self.link_errors),
            ("handshake_timeouts", self.handshake_timeouts),
            ("unexpected_on_outbox", self.unexpected_on_outbox),
            ("whisper_unknown_peer", self.whisper_unknown_peer),
            ("gossip_malformed", self.gossip_malformed),
            ("gossip_refused", self.gossip_refused),
            ("gossip_unusable", self.gossip_unusable),
            ("spoofed_leaving", self.spoofed_leaving),
            ("inbox_refused", self.inbox_refused),
            ("unready_refused", self.unready_refused),
            ("wrong_address", self.wrong_address),
            ("takeovers_refused", self.takeovers_refused),
            ("over_bound", self.over_bound),
            ("log_dropped", self.log_dropped),
            ("log_refused", self.log_refused),
            ("log_malformed", self.log_malformed),
        ]
    }
}

/// Faults injected on purpose, to show that the simulator's oracle and the tests
/// catch a broken engine. Never set in an application.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Faults {
    /// Never PING a quiet peer, so idle peers expire.
    pub no_ping: bool,
    /// Keep naming a leader that has gone, and hold no election for it.
    pub keep_gone_leader: bool,
    /// Elect the highest UUID instead of the lowest.
    pub elect_highest: bool,
}

impl Faults {
    /// No faults but the heartbeat one (the struct is non-exhaustive).
    pub fn no_ping() -> Faults {
        Faults {
            no_ping: true,
            ..Faults::default()
        }
    }

    /// No faults but keeping a leader that went.
    pub fn keep_gone_leader() -> Faults {
        Faults {
            keep_gone_leader: true,
            ..Faults::default()
        }
    }

    /// No faults but electing the highest UUID.
    pub fn elect_highest() -> Faults {
        Faults {
            elect_highest: true,
            ..Faults::default()
        }
    }
}

impl PeerInfo {
    /// The record of `p` at `now` (the engine's latest time).
    pub(super) fn of(p: &Peer, now: Option<std::time::Instant>) -> PeerInfo {
        let figures = p.figures.report(now.map_or(std::time::Duration::ZERO, |t| {
            t.saturating_duration_since(p.heard_at)
        }));
        PeerInfo {
            id: p.id,
            name: p.name.to_string(),
            endpoint: p.endpoint().into_owned(),
            headers: p.headers().clone(),
            groups: p.groups.iter().map(String::from).collect(),
            ready: p.ready,
            figures,
        }
    }
}

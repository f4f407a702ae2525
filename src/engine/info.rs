//! The plain records the engine hands out: a peer's summary, a refused endpoint,
//! and the faults tests inject on purpose.

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
    pub(super) fn of(p: &Peer) -> PeerInfo {
        PeerInfo {
            id: p.id,
            name: p.name.clone(),
            endpoint: p.endpoint.clone(),
            headers: p.headers.clone(),
            groups: p.groups.clone(),
            ready: p.ready,
        }
    }
}

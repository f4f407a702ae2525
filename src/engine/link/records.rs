//! The small records a link keeps inline: the peer's routing id and what it
//! kept of the peer's greeting (a mesh of n nodes holds 2n² links); and the box
//! for the parts most links do without.

use super::{pubsub, CurveLink, Link, LinkError};
use crate::wire::zmtp::Greeting;

/// A routing id kept inside the link record when it is short (ZRE's are 17 bytes),
/// so that finding a message's sender costs no further pointer chase.
#[derive(Debug)]
pub(crate) enum RoutingId {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<[u8]>),
}

impl RoutingId {
    pub(crate) fn new(id: &[u8]) -> RoutingId {
        let mut bytes = [0u8; 22];
        match bytes.get_mut(..id.len()) {
            Some(b) => {
                b.copy_from_slice(id);
                RoutingId::Inline {
                    len: id.len() as u8,
                    bytes,
                }
            }
            None => RoutingId::Heap(id.into()),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            RoutingId::Inline { len, bytes } => &bytes[..*len as usize],
            RoutingId::Heap(b) => b,
        }
    }
}

/// What a link keeps of the peer's greeting: four bytes instead of the whole
/// 23, in each of a mesh's 2n² links. The mechanism is one of two, as the
/// decoder accepts only NULL, or CURVE on a CURVE link.
#[derive(Debug, Clone, Copy)]
pub(super) struct Heard {
    major: u8,
    minor: u8,
    curve: bool,
    as_server: bool,
}

impl Heard {
    pub(super) fn of(g: &Greeting) -> Heard {
        Heard {
            major: g.major,
            minor: g.minor,
            curve: g.is_curve(),
            as_server: g.as_server,
        }
    }

    pub(super) fn greeting(self) -> Greeting {
        let mut g = if self.curve {
            Greeting::curve(self.as_server)
        } else {
            Greeting::null()
        };
        (g.major, g.minor, g.as_server) = (self.major, self.minor, self.as_server);
        g
    }
}

/// The parts of a link most links do without, in one box: 8 bytes in each link
/// instead of 32.
#[derive(Debug, Default)]
pub(super) struct Rare {
    /// Messages queued before the peer's READY arrived.
    pub(super) held: Vec<u8>,
    /// The error that ended the link.
    pub(super) failed: Option<LinkError>,
    /// CURVE: the mechanism, our metadata for its handshake, and the frames of a
    /// message being opened (None: the NULL mechanism).
    pub(super) curve: Option<Box<CurveLink>>,
    /// PUB and SUB: the subscriptions (None for DEALER and ROUTER).
    pub(super) subs: Option<Box<pubsub::Subscriptions>>,
}

impl Rare {
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty() && self.failed.is_none() && self.curve.is_none() && self.subs.is_none()
    }
}

impl Link {
    /// The rare parts, made on first need.
    pub(super) fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    pub(super) fn curve(&self) -> Option<&CurveLink> {
        self.rare.as_ref()?.curve.as_deref()
    }

    pub(super) fn subs(&self) -> Option<&pubsub::Subscriptions> {
        self.rare.as_ref()?.subs.as_deref()
    }

    pub(super) fn subs_mut(&mut self) -> Option<&mut pubsub::Subscriptions> {
        self.rare.as_mut()?.subs.as_deref_mut()
    }
}

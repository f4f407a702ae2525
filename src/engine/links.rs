//! Bytes on the engine's links: the inbox's accepted links (a ZMTP ROUTER) and our
//! outgoing links to peers, and the flush that turns queued bytes into writes.

use std::time::Instant;

use super::link::{self, LinkError, RouterEvent};
use super::{Engine, LinkId, Output};
use crate::event::{ExitReason, PeerId};

impl Engine {
    /// Bytes on an accepted link: the ROUTER decodes them into handshakes and
    /// messages.
    pub(super) fn inbox_bytes(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        let mut events = std::mem::take(&mut self.router_events);
        let r = self.inbox.handle_bytes(link, bytes, &mut events);
        if self.inbox.pending_output(link) > 0 {
            self.out.touch(link);
        }
        for ev in events.drain(..) {
            match ev {
                RouterEvent::Connected { link, .. } if !self.inbox_key_allowed(link) => {
                    self.inbox.remove(link);
                    self.out.close(link);
                }
                RouterEvent::Connected { .. } => self.prune_handshakes(),
                RouterEvent::Replaced { old } => self.out.close(old),
                RouterEvent::Message { link, frames } => self.recv_message(now, link, frames),
            }
        }
        self.router_events = events;
        if let Err(e) = r {
            log::debug!("{}: inbox link {link:?} closed: {e}", self.config.name);
            self.stats.link_errors += 1;
            self.out.close(link);
        }
    }

    /// Bytes on one of our outgoing links: the handshake's replies (a ZRE inbox
    /// sends nothing else).
    pub(super) fn outbox_bytes(&mut self, id: PeerId, bytes: &[u8]) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.link.handle_bytes(bytes);
        let mut failed: Option<LinkError> = None;
        loop {
            match p.link.poll() {
                Ok(None) => break,
                Ok(Some(link::LinkEvent::Ready { .. })) => {
                    p.hello_out = true;
                    p.failed_connects = 0;
                }
                Ok(Some(link::LinkEvent::Message(_))) => self.stats.unexpected_on_outbox += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.out.mark(p);
        if let Some(e) = failed {
            log::debug!("{}: link to {id} failed: {e}", self.config.name);
            self.stats.link_errors += 1;
            self.remove_peer(id, ExitReason::ProtocolError);
        }
    }

    /// True if `link` was accepted (on the inbox or the gossip listener) and has not
    /// finished its ZMTP handshake.
    pub(super) fn handshake_pending(&self, link: LinkId) -> bool {
        (self.inbox.contains(link) && !greeted(&self.inbox, &self.peers, link))
            || self.gossip.handshake_pending(link)
            || self.logs.handshake_pending(link)
    }

    /// Drops finished handshakes from the front of the deadline queue.
    pub(super) fn prune_handshakes(&mut self) {
        let (inbox, gossip, peers, logs) = (&self.inbox, &self.gossip, &self.peers, &self.logs);
        self.timers.prune_handshakes(|l| {
            (!inbox.contains(l) || greeted(inbox, peers, l))
                && !gossip.handshake_pending(l)
                && !logs.handshake_pending(l)
        });
    }

    /// Turns every touched link's queued bytes into one write each.
    pub(super) fn flush_dirty(&mut self) {
        if !self.out.has_dirty() {
            return;
        }
        let dirty = self.out.take_dirty();
        for &link in &dirty {
            let bytes = if let Some(id) = self.peers.by_link(link) {
                match self.peers.get_mut(&id) {
                    Some(p) if p.reconnect_at().is_none() && p.link_id == link => {
                        p.link.take_output()
                    }
                    _ => continue,
                }
            } else if self.inbox.contains(link) {
                self.inbox.take_output(link)
            } else if self.logs.owns(link) {
                self.logs.take_output(link)
            } else {
                self.gossip.take_output(link)
            };
            if !bytes.is_empty() {
                self.out.push(Output::Write { link, bytes });
            }
        }
        self.out.restore_dirty(dirty);
    }
}

/// The UUID of the peer on an accepted link, once its handshake named a ZRE
/// identity. Read from the identity the link keeps (17 bytes) rather than kept
/// beside it: a mesh of n nodes holds n² accepted links.
pub(super) fn inbox_peer(inbox: &link::Router, link: LinkId) -> Option<PeerId> {
    zre_identity(inbox.identity(link)?)
}

/// The UUID in a ZRE routing id (`0x01` + 16 bytes), if it is one.
fn zre_identity(identity: &[u8]) -> Option<PeerId> {
    match identity {
        [1, rest @ ..] => Some(PeerId(rest.try_into().ok()?)),
        _ => None,
    }
}

/// An inbox link is done with its handshake once its sender's HELLO has come: a
/// connection that stops after READY would otherwise hold a file handle for ever.
fn greeted(inbox: &link::Router, peers: &super::peers::PeerTable, link: LinkId) -> bool {
    // Under a ready peer's identity from another address, only a HELLO that was
    // taken (see `takeover.rs`) ends it.
    let src = inbox.source_ip(link);
    inbox.is_ready(link)
        && inbox_peer(inbox, link)
            .and_then(|id| peers.get(&id))
            .is_some_and(|p| p.ready && p.heard_from(src))
}

//! Who may speak for a peer that has entered: the address its HELLO came from.
//! A HELLO from another address (a restart or a move elsewhere, or a neighbour
//! presenting the peer's identity) is parked while the peer is asked, at its own
//! address, whether it is still there: if it answers, the claim was false and its
//! connection is closed; if it stays silent for its evasive timeout, it has moved,
//! and the parked messages are taken as they came. Other messages from another
//! address count only as the peer's stream going on (the next sequence number, not
//! a GOODBYE): a host whose route changed keeps talking, while a stranger can
//! neither end the peer nor break its sequence.

use std::time::Instant;

use super::{Engine, LinkId};
use crate::event::PeerId;
use crate::frames::Frames;
use crate::wire::zre::id;

/// Bytes held for one parked connection, its HELLO included; more close it (a
/// real HELLO is a few hundred bytes).
pub const MAX_PARKED_BYTES: usize = 1 << 20;
/// Bytes held for all parked connections together; a claim beyond is refused.
pub const MAX_PARKED_TOTAL: usize = 16 << 20;

/// A connection that claims a ready peer from another address, and what it sent.
#[derive(Debug)]
pub(crate) struct Parked {
    link: LinkId,
    messages: Vec<Frames>,
    bytes: usize,
}

/// True if `header` is a ZRE HELLO's header frame.
fn is_hello(header: &[u8]) -> bool {
    header.get(..3) == Some(&[0xAA, 0xA1, id::HELLO][..])
}

const GOODBYE: u8 = id::GOODBYE;

/// The sequence number in a ZRE header frame (after signature, id and version).
fn sequence(header: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(header.get(4..6)?.try_into().ok()?))
}

impl Engine {
    /// Whether a message on `link` may be heard as `id`'s. A peer that has not
    /// entered may be greeted from anywhere; a ready one speaks only from the
    /// address of its HELLO. A HELLO from elsewhere is parked (and what follows
    /// it on the same connection); anything else from elsewhere is dropped.
    pub(super) fn heard_as_peer(&mut self, link: LinkId, id: PeerId, frames: &Frames) -> bool {
        let src = self.inbox.source_ip(link);
        let Some(p) = self.peers.get_mut(&id).filter(|p| p.ready) else {
            return true;
        };
        if p.heard_from(src) {
            // The peer speaks from its own address: a claim parked for it is false.
            if let Some(claim) = self.parked.remove(&id) {
                log::info!(
                    "{}: {id} answered; a HELLO for it from elsewhere refused",
                    self.config.name
                );
                self.refuse_takeover(claim.link);
            }
            return true;
        }
        if let Some(claim) = self.parked.get_mut(&id) {
            if claim.link == link {
                claim.bytes += frames.content_len();
                if claim.bytes > MAX_PARKED_BYTES {
                    self.parked.remove(&id);
                    self.refuse_takeover(link);
                } else {
                    claim.messages.push(frames.detached());
                }
                return false;
            }
        }
        let Some(header) = frames.first() else {
            return true;
        };
        if !is_hello(header) {
            // The peer's own stream going on from another address (its route
            // changed) carries the next sequence number; a stranger would have to
            // guess it, and a wrong guess or a GOODBYE from elsewhere costs the
            // peer nothing.
            let want = p.want_sequence.wrapping_add(1);
            let next = !p.resync
                && sequence(header).is_some_and(|s| s == want || (want == u16::MAX && s == 0));
            if next && header[2] != GOODBYE {
                return true;
            }
            self.stats.wrong_address += 1;
            return false;
        }
        let bytes = frames.content_len();
        let held: usize = self.parked.values().map(|c| c.bytes).sum();
        // One claim per peer at a time, and what claims hold stays bounded.
        if self.parked.contains_key(&id)
            || bytes > MAX_PARKED_BYTES
            || held + bytes > MAX_PARKED_TOTAL
        {
            self.refuse_takeover(link);
            return false;
        }
        log::info!(
            "{}: HELLO for {id} from {src:?}, not its address: asking it first",
            self.config.name
        );
        self.parked.insert(
            id,
            Parked {
                link,
                messages: vec![frames.detached()],
                bytes,
            },
        );
        // Its answer (from its own address) refuses the claim.
        let now = self.now.unwrap_or(p.heard_at);
        p.ping(now, &mut self.scratch);
        self.out.mark(p);
        false
    }

    /// Decides the parked claims whose peer stayed silent for its evasive timeout
    /// (or has gone): the claim stands, and its messages are heard in order.
    pub(super) fn decide_parked(&mut self, now: Instant) {
        if self.parked.is_empty() {
            return;
        }
        let evasive = self.config.evasive_timeout;
        let due: Vec<PeerId> = self
            .parked
            .iter()
            .filter(|(id, claim)| {
                !self.inbox.contains(claim.link)
                    || self
                        .peers
                        .get(id)
                        .is_none_or(|p| !p.ready || now >= p.after(evasive))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(claim) = self.parked.remove(&id) else {
                continue;
            };
            if !self.inbox.contains(claim.link) {
                continue;
            }
            log::info!(
                "{}: {id} silent at its address: it moved, its new HELLO is taken",
                self.config.name
            );
            let src = self.inbox.source_ip(claim.link);
            if let Some(p) = self.peers.get_mut(&id) {
                p.set_inbox_ip(src);
            }
            for frames in claim.messages {
                self.recv_message(now, claim.link, frames);
            }
        }
    }

    fn refuse_takeover(&mut self, link: LinkId) {
        self.stats.takeovers_refused += 1;
        self.inbox.remove(link);
        self.out.close(link);
    }
}

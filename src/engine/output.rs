//! What the engine owes its driver: the queue of outputs, the links whose queued
//! bytes are to be flushed, and the peers whose queue passed its bound.

use std::collections::VecDeque;

use super::peer::Peer;
use super::{LinkId, Output};
use crate::event::PeerId;

/// How many outputs' room the queue keeps once it is empty.
const KEEP_OUTPUTS: usize = 64;

/// The output bookkeeping behind [`Engine::poll_output`](super::Engine::poll_output).
#[derive(Debug)]
pub(crate) struct Outputs {
    queue: VecDeque<Output>,
    /// Links with output to flush (duplicates allowed; a Vec keeps its memory,
    /// where a set would allocate and free a node per message).
    dirty: Vec<LinkId>,
    /// Peers whose queued output passed `max_pending`: dropped at the next poll.
    full: Vec<PeerId>,
    max_pending: usize,
}

impl Outputs {
    pub(crate) fn new(max_pending: usize) -> Outputs {
        Outputs {
            queue: VecDeque::new(),
            dirty: Vec::new(),
            full: Vec::new(),
            max_pending,
        }
    }

    pub(crate) fn push(&mut self, o: Output) {
        self.queue.push_back(o);
    }

    pub(crate) fn close(&mut self, link: LinkId) {
        self.queue.push_back(Output::Close { link });
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        let o = self.queue.pop_front();
        if o.is_none() && self.queue.capacity() > KEEP_OUTPUTS {
            // A shout to a thousand peers queues a thousand writes at once; an
            // engine that keeps the room afterwards holds 100 KiB for nothing,
            // and a simulated mesh holds a thousand such engines.
            self.queue.shrink_to(KEEP_OUTPUTS);
        }
        o
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Notes that `link` may have bytes to flush.
    pub(crate) fn touch(&mut self, link: LinkId) {
        self.dirty.push(link);
    }

    /// Notes that a peer's link has output to flush, and whether its queue
    /// (including what waits for the handshake or a reconnect) passed the bound.
    pub(crate) fn mark(&mut self, p: &Peer) {
        if p.reconnect_at.is_none() && p.link.pending_output() > 0 {
            self.dirty.push(p.link_id);
        }
        if p.link.queued() > self.max_pending && !self.full.contains(&p.id) {
            self.full.push(p.id);
        }
    }

    /// The touched links, sorted and without duplicates; hand the vector back with
    /// [`Outputs::restore_dirty`] so its memory is reused.
    pub(crate) fn take_dirty(&mut self) -> Vec<LinkId> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        dirty
    }

    pub(crate) fn restore_dirty(&mut self, mut v: Vec<LinkId>) {
        v.clear();
        self.dirty = v;
    }

    pub(crate) fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The peers over their bound since the last call.
    pub(crate) fn take_full(&mut self) -> Vec<PeerId> {
        std::mem::take(&mut self.full)
    }
}

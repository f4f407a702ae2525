//! What the engine owes its driver: the queue of outputs, the links whose queued
//! bytes are to be flushed, and the peers whose queue passed its bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::peer::Peer;
use super::{LinkId, Output};
use crate::event::PeerId;

/// How many outputs' room the queue keeps once it is empty and has not needed
/// more for [`QUIET`].
const KEEP_OUTPUTS: usize = 64;

/// How long a queue goes without needing more than [`KEEP_OUTPUTS`] before it
/// gives the room back.
const QUIET: Duration = Duration::from_millis(100);

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
    /// The queue held more than `KEEP_OUTPUTS` since it was last empty.
    busy: bool,
    /// When it was last emptied after such a burst.
    busy_at: Option<Instant>,
}

impl Outputs {
    pub(crate) fn new(max_pending: usize) -> Outputs {
        Outputs {
            queue: VecDeque::new(),
            dirty: Vec::new(),
            full: Vec::new(),
            max_pending,
            busy: false,
            busy_at: None,
        }
    }

    pub(crate) fn push(&mut self, o: Output) {
        self.queue.push_back(o);
    }

    pub(crate) fn close(&mut self, link: LinkId) {
        self.queue.push_back(Output::Close { link });
    }

    /// The next output; `now` is the engine's time, for giving back room.
    pub(crate) fn pop(&mut self, now: Option<Instant>) -> Option<Output> {
        if self.queue.len() > KEEP_OUTPUTS {
            self.busy = true;
        }
        let o = self.queue.pop_front();
        if o.is_none() {
            self.settle(now);
        }
        o
    }

    /// The queue is empty. A shout to a thousand peers queues a thousand writes
    /// at once, and an engine that kept the room afterwards would hold 100 KiB
    /// for nothing (a simulated mesh holds a thousand such engines); but a node
    /// that receives a stream needs the room on every turn, and giving it back
    /// each time costs it the regrowth. So the room goes once the queue has
    /// gone `QUIET` without a burst (a node's own bursts, pings at a reap or a
    /// shout, come a second or more apart; a stream's come every turn).
    fn settle(&mut self, now: Option<Instant>) {
        if std::mem::take(&mut self.busy) {
            self.busy_at = now;
        } else if self.queue.capacity() > KEEP_OUTPUTS
            && now
                .zip(self.busy_at)
                .is_some_and(|(n, b)| n.saturating_duration_since(b) >= QUIET)
        {
            self.queue.shrink_to(KEEP_OUTPUTS);
        }
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
        if p.reconnect_at().is_none() && p.link.pending_output() > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_of_a_burst_goes_only_after_a_quiet_spell() {
        let t0 = Instant::now();
        let mut o = Outputs::new(1 << 20);
        let burst = |o: &mut Outputs, at: Instant| {
            for i in 0..1000 {
                o.close(LinkId(i));
            }
            while o.pop(Some(at)).is_some() {}
        };
        burst(&mut o, t0);
        assert!(o.queue.capacity() >= 1000, "kept right after the burst");
        // Streaming: bursts back to back keep the room.
        burst(&mut o, t0 + Duration::from_millis(50));
        assert!(o.pop(Some(t0 + Duration::from_millis(140))).is_none());
        assert!(o.queue.capacity() >= 1000, "busy 90 ms ago");
        // After a quiet spell it goes.
        assert!(o.pop(Some(t0 + Duration::from_millis(160))).is_none());
        assert!(o.queue.capacity() <= 2 * KEEP_OUTPUTS);
    }
}

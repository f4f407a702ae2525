//! The engine's timers in one table: the node's fixed timers (beacon, reaper)
//! beside the deadline queues (reconnects, handshakes), behind one
//! [`Timers::next`] and one expiry pass, [`Timers::pop_due`].

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use super::LinkId;
use crate::event::PeerId;

/// A timer that has come due, in the order [`Timers::pop_due`] hands them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Send a beacon (re-arm with [`Timers::set`]).
    Beacon,
    /// Connect this peer's outgoing link again; `at` is the deadline it was
    /// queued with (the peer may have been given a newer one since).
    Reconnect { peer: PeerId, at: Instant },
    /// This accepted link's handshake deadline passed.
    Handshake(LinkId),
    /// Check the peers' liveness (re-arm with [`Timers::set`]).
    Reap,
    /// Gossip: pings, reconnects, expiry (re-arm with [`Timers::set`]).
    Gossip,
    /// Elections waiting for membership to settle (re-arm with [`Timers::set`]).
    Election,
}

/// The node's fixed timers, each armed at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    Beacon = 0,
    Reap = 1,
    Gossip = 2,
    Election = 3,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    fixed: [Option<Instant>; 4],
    /// Outgoing links waiting to be reconnected, by due time.
    reconnects: BTreeSet<(Instant, PeerId)>,
    /// Accepted links by handshake deadline, in accept order (so in deadline order:
    /// every handshake gets the same time).
    handshakes: VecDeque<(Instant, LinkId)>,
}

impl Timers {
    pub(crate) fn set(&mut self, t: Fixed, at: Option<Instant>) {
        self.fixed[t as usize] = at;
    }

    pub(crate) fn reconnect_at(&mut self, at: Instant, peer: PeerId) {
        self.reconnects.insert((at, peer));
    }

    pub(crate) fn cancel_reconnect(&mut self, at: Instant, peer: PeerId) {
        self.reconnects.remove(&(at, peer));
    }

    pub(crate) fn handshake_by(&mut self, at: Instant, link: LinkId) {
        self.handshakes.push_back((at, link));
    }

    /// Drops handshake deadlines from the front while `done` says the link
    /// finished (or is gone): handshakes mostly finish in accept order, so no timer
    /// fires just to find them done.
    pub(crate) fn prune_handshakes(&mut self, done: impl Fn(LinkId) -> bool) {
        while let Some(&(_, l)) = self.handshakes.front() {
            if !done(l) {
                break;
            }
            self.pop_handshake();
        }
    }

    /// Takes the first handshake deadline. An emptied queue gives back the room a
    /// burst of accepts took: a node that joins a 1,000-node mesh accepts a
    /// thousand links at once, and a simulated mesh holds a thousand such nodes.
    fn pop_handshake(&mut self) {
        self.handshakes.pop_front();
        if self.handshakes.is_empty() && self.handshakes.capacity() > 64 {
            self.handshakes = VecDeque::new();
        }
    }

    /// Disarms everything.
    pub(crate) fn clear(&mut self) {
        self.fixed = [None; 4];
        self.reconnects.clear();
        self.handshakes.clear();
    }

    /// When the next timer is due, if any is armed.
    pub(crate) fn next(&self) -> Option<Instant> {
        let reconnect = self.reconnects.first().map(|&(at, _)| at);
        let handshake = self.handshakes.front().map(|&(at, _)| at);
        [
            self.fixed[0],
            self.fixed[1],
            self.fixed[2],
            self.fixed[3],
            reconnect,
            handshake,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next timer due at `now`: the beacon first, then reconnects and
    /// handshakes in deadline order, then the reaper, gossip and elections. A fixed timer stays due until
    /// it is re-armed, so the caller re-arms it before asking again.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.fixed[Fixed::Beacon as usize].is_some_and(|at| now >= at) {
            return Some(Due::Beacon);
        }
        if let Some(&(at, peer)) = self.reconnects.first() {
            if at <= now {
                self.reconnects.pop_first();
                return Some(Due::Reconnect { peer, at });
            }
        }
        if let Some(&(at, link)) = self.handshakes.front() {
            if at <= now {
                self.pop_handshake();
                return Some(Due::Handshake(link));
            }
        }
        if self.fixed[Fixed::Reap as usize].is_some_and(|at| now >= at) {
            return Some(Due::Reap);
        }
        if self.fixed[Fixed::Gossip as usize].is_some_and(|at| now >= at) {
            return Some(Due::Gossip);
        }
        if self.fixed[Fixed::Election as usize].is_some_and(|at| now >= at) {
            return Some(Due::Election);
        }
        None
    }

    /// When a fixed timer is armed for.
    pub(crate) fn get(&self, t: Fixed) -> Option<Instant> {
        self.fixed[t as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_pass_in_a_fixed_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Fixed::Reap, Some(t0 + s));
        t.set(Fixed::Beacon, Some(t0 + s));
        t.handshake_by(t0, LinkId(4));
        t.reconnect_at(t0 + s, PeerId([2; 16]));
        t.reconnect_at(t0 + 3 * s, PeerId([1; 16]));
        assert_eq!(t.next(), Some(t0));
        let now = t0 + s;
        assert_eq!(t.pop_due(now), Some(Due::Beacon));
        t.set(Fixed::Beacon, Some(now + s));
        assert_eq!(
            t.pop_due(now),
            Some(Due::Reconnect {
                peer: PeerId([2; 16]),
                at: t0 + s
            })
        );
        assert_eq!(t.pop_due(now), Some(Due::Handshake(LinkId(4))));
        assert_eq!(t.pop_due(now), Some(Due::Reap));
        t.set(Fixed::Reap, Some(now + s));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.next(), Some(now + s));
        t.cancel_reconnect(t0 + 3 * s, PeerId([1; 16]));
        t.clear();
        assert_eq!(t.next(), None);
    }
}

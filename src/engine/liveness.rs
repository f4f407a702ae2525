//! The reaper: peers that have gone quiet are pinged and reported EVASIVE, then
//! SILENT, and dropped once they pass the expired timeout.

use std::time::Instant;

use super::Engine;
use crate::event::{Event, ExitReason};
use crate::wire::zre::Body;

impl Engine {
    /// One reap tick (every [`reap_interval`](super::Config::reap_interval)).
    pub(super) fn reap(&mut self, now: Instant) {
        if self.reap_floor.is_some_and(|f| now < f) {
            return;
        }
        let reap = self.config.reap_interval();
        let no_ping = self.faults.no_ping;
        let mut expired = Vec::new();
        let mut events = Vec::new();
        let mut floor: Option<Instant> = None;
        let (scratch, out) = (&mut self.scratch, &mut self.out);
        self.peers.for_each_mut(|p| {
            if now < p.expired_at {
                // The next thing due for this peer: EVASIVE, or EXIT when the
                // expired timeout is the shorter.
                let due = p.evasive_at.min(p.expired_at);
                floor = Some(floor.map_or(due, |f| f.min(due)));
            }
            if now >= p.expired_at {
                expired.push(p.id);
            } else if now >= p.evasive_at {
                if !no_ping {
                    p.send(Body::Ping, scratch);
                }
                out.mark(p);
                if p.ready {
                    events.push(Event::Evasive {
                        peer: p.id,
                        name: p.name.clone(),
                    });
                    if now >= p.evasive_at + reap {
                        events.push(Event::Silent {
                            peer: p.id,
                            name: p.name.clone(),
                        });
                    }
                }
            }
        });
        // With no peers left there is no floor: reaps stay cheap (nothing to scan).
        self.reap_floor = floor;
        for e in events {
            self.emit(e);
        }
        for id in expired {
            self.remove_peer(id, ExitReason::Expired);
        }
    }
}

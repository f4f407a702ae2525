//! The reaper: peers that have gone quiet are pinged and reported EVASIVE, then
//! SILENT, and dropped once they pass the expired timeout.

use std::time::Instant;

use super::{Engine, LinkId};
use crate::event::{Event, ExitReason};

impl Engine {
    /// One reap tick (every [`reap_interval`](super::Config::reap_interval)).
    pub(super) fn reap(&mut self, now: Instant) {
        self.decide_parked(now);
        self.retry_collectors(now);
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
                    p.ping(now, scratch);
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

    /// The driver left bytes unread on `link` because the application is behind
    /// with its events. The peer is talking, so it stays alive here; and it hears
    /// from us (a PING every half evasive timeout, which it answers into the same
    /// unread bytes) so that it keeps us too. A stalled application costs no peer.
    pub fn handle_unread(&mut self, now: Instant, link: LinkId) {
        self.now = Some(now);
        let Some(id) = self.inbox.tag(link) else {
            return;
        };
        let (evasive, expired) = (self.config.evasive_timeout, self.config.expired_timeout);
        let src = self.inbox.source(link).map(|s| s.ip());
        let Some(p) = self.peers.get_mut(&id).filter(|p| p.ready) else {
            return;
        };
        // Bytes under its identity from elsewhere say nothing about the peer.
        if p.inbox_ip.is_some() && src != p.inbox_ip {
            return;
        }
        if p.unread_ping_at.is_none_or(|t| now >= t + evasive / 2) {
            p.unread_ping_at = Some(now);
            p.ping(now, &mut self.scratch);
            self.out.mark(p);
        }
        p.refresh(now, evasive, expired);
    }
}

//! The reaper: peers that have gone quiet are pinged and reported EVASIVE, then
//! SILENT, and dropped once they pass the expired timeout.

use std::time::Instant;

use super::{Engine, LinkId};
use crate::event::{Event, ExitReason};

impl Engine {
    /// One reap tick (every [`reap_interval`](super::Config::reap_interval)): only
    /// the peers whose deadline has come are looked at, in id order.
    pub(super) fn reap(&mut self, now: Instant) {
        self.decide_parked(now);
        self.retry_collectors(now);
        let mut due = std::mem::take(&mut self.due);
        self.peers.take_due(now, &mut due);
        if due.is_empty() {
            self.due = due;
            return;
        }
        let reap = self.config.reap_interval();
        let no_ping = self.faults.no_ping;
        let mut expired = Vec::new();
        let mut events = Vec::new();
        for &id in &due {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            if now >= p.after(self.config.expired_timeout) {
                expired.push(p.id);
                continue;
            }
            if !no_ping {
                p.ping(now, &mut self.scratch);
            }
            self.out.mark(p);
            if p.ready {
                events.push(Event::Evasive {
                    peer: p.id,
                    name: p.name.clone(),
                });
                if now >= p.after(self.config.evasive_timeout) + reap {
                    events.push(Event::Silent {
                        peer: p.id,
                        name: p.name.clone(),
                    });
                }
            }
            self.peers.requeue(id, now);
        }
        due.clear();
        self.due = due;
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
        let Some(id) = super::links::inbox_peer(&self.inbox, link) else {
            return;
        };
        let evasive = self.config.evasive_timeout;
        let src = self.inbox.source_ip(link);
        let Some(p) = self.peers.get_mut(&id).filter(|p| p.ready) else {
            return;
        };
        // Bytes under its identity from elsewhere say nothing about the peer.
        if !p.heard_from(src) {
            return;
        }
        if p.unread_ping_at().is_none_or(|t| now >= t + evasive / 2) {
            p.set_unread_ping_at(Some(now));
            p.ping(now, &mut self.scratch);
            self.out.mark(p);
        }
        p.refresh(now);
    }
}

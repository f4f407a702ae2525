//! One ZRE message from the inbox (Zyre's `zyre_node_recv_peer`), handled by kind.

use std::time::Instant;

use super::{endpoint_addr, Engine, LinkId};
use crate::event::{Event, ExitReason, PeerId};
use crate::frames::Frames;
use crate::name::Name;
use crate::wire::zre::{Body, Hello, ZreMessage};

impl Engine {
    /// Checks who sent a message and whether it may be heard, then hands it to the
    /// handler of its kind.
    pub(super) fn recv_message(&mut self, now: Instant, link: LinkId, frames: Frames) {
        let Some(id) = super::links::inbox_peer(&self.inbox, link) else {
            self.stats.bad_identity += 1;
            return;
        };
        let Some((header, content)) = frames.split_first() else {
            self.stats.malformed += 1;
            return;
        };
        if !self.heard_as_peer(link, id, &frames) {
            return;
        }
        let size = header.len() + content.content_len();
        let msg = match ZreMessage::parse(header, content) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("{}: malformed message from {id}: {e}", self.config.name);
                self.stats.malformed += 1;
                return;
            }
        };
        log::trace!(
            "{}: recv {} seq {} from {id}",
            self.config.name,
            msg.body.name(),
            msg.sequence
        );
        if id == self.id {
            return;
        }
        self.trace_recv(id, msg.body.name(), msg.sequence);
        let hello = match &msg.body {
            Body::Hello(h) => Some(h),
            _ => None,
        };
        let Some(key) = self.sender_key(link, id, hello) else {
            return;
        };
        let mut moved = false;
        if let Body::Hello(hello) = &msg.body {
            moved = self.moved(id, hello);
            if !moved && !self.greet(now, id, hello, key) {
                return;
            }
        }
        let Some(p) = self.peers.get_mut(&id) else {
            self.stats.before_hello += 1;
            return;
        };
        if !p.ready {
            self.stats.before_hello += 1;
            return;
        }
        let is_hello = matches!(msg.body, Body::Hello(_));
        if is_hello {
            p.set_inbox_ip(self.inbox.source_ip(link));
        }
        if !p.accept_sequence(is_hello, msg.sequence) {
            log::info!(
                "{}: lost messages from {id}: want {} got {}",
                self.config.name,
                p.want_sequence.wrapping_add(1),
                msg.sequence
            );
            self.remove_peer(id, ExitReason::SequenceGap);
            return;
        }
        p.refresh(now);
        p.figures.messages_in += 1;
        p.figures.bytes_in += size as u64;
        match msg.body {
            Body::Hello(h) if moved => self.on_move(id, h),
            Body::Hello(h) => self.on_hello(id, h),
            Body::Whisper { content } => {
                let name = p.name.clone();
                self.emit(Event::Whisper {
                    peer: id,
                    name,
                    content,
                })
            }
            Body::Shout { group, content } => {
                let name = p.name.clone();
                self.emit(Event::Shout {
                    peer: id,
                    name,
                    group,
                    content,
                })
            }
            Body::Join { group, status } => {
                self.join_peer_group(id, &group);
                self.check_status(id, status);
            }
            Body::Leave { group, status } => {
                self.leave_peer_group(id, &group);
                self.check_status(id, status);
            }
            Body::Ping => {
                p.send(Body::PingOk, &mut self.scratch);
                self.out.mark(p);
            }
            // A node that leaves says GOODBYE (without beacons, the port-0 beacon
            // cannot tell us).
            Body::Goodbye => self.remove_peer(id, ExitReason::Left),
            Body::Elect {
                group,
                challenger_id,
            } => self.on_elect(id, group, challenger_id),
            Body::Leader { group, leader_id } => self.on_leader(id, group, leader_id),
            Body::PingOk => p.pong(now),
        }
    }

    /// A HELLO from a ready peer at a new address on the same port: its address
    /// changed (see [`Engine::rebind`]). It keeps its place; our link to it is
    /// made again to the new address. True if that is what this HELLO is.
    fn moved(&mut self, id: PeerId, hello: &Hello) -> bool {
        let Some(p) = self.peers.get(&id).filter(|p| p.ready) else {
            return false;
        };
        let Some(addr) = endpoint_addr(&hello.endpoint).map(|a| self.scoped(a)) else {
            return false;
        };
        if hello.endpoint == p.endpoint()
            || addr.port() != p.addr().port()
            || addr.ip() == p.addr().ip()
        {
            return false;
        }
        log::info!("{}: {id} moved to {}", self.config.name, hello.endpoint);
        if let Some(other) = self.peers.at_endpoint(&hello.endpoint) {
            if other != id {
                self.remove_peer(other, ExitReason::EndpointReused);
            }
        }
        self.peers.set_endpoint(id, hello.endpoint.clone(), addr);
        // Our sequence numbers go on: the peer takes the next one as it comes.
        self.new_link_to(id, false);
        true
    }

    /// The rest of a HELLO that moved a peer: no ENTER (it never left); groups it
    /// joined or left meanwhile are reported as JOIN and LEAVE.
    fn on_move(&mut self, id: PeerId, h: Hello) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.name = Name::new(&h.name);
        p.set_headers(bounded_headers(&h.headers, &mut self.stats.over_bound));
        let had: std::collections::BTreeSet<String> = p.groups.iter().map(String::from).collect();
        let now: std::collections::BTreeSet<String> = h.groups.into_iter().collect();
        for g in had.difference(&now) {
            self.leave_peer_group(id, g);
        }
        for g in now.difference(&had) {
            self.join_peer_group(id, g);
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.status = h.status;
        }
    }

    /// The first part of a HELLO: a peer that is already ready restarted with the
    /// same UUID (it leaves and enters again); the sender becomes a known, ready
    /// peer. False if the HELLO is unusable.
    fn greet(&mut self, now: Instant, id: PeerId, hello: &Hello, key: Option<[u8; 32]>) -> bool {
        if self.peers.get(&id).is_some_and(|p| p.ready) {
            self.remove_peer(id, ExitReason::Restarted);
        }
        // We connected to this endpoint under another UUID (a stale gossip tuple or
        // beacon), and the node there answered: keep the link, whose HELLO it has.
        // Replacing it would greet the node a second time, which it must take for
        // a restart, and the two would then restart each other without end.
        if !self.peers.contains(&id) {
            if let Some(old) = self.peers.at_endpoint(&hello.endpoint) {
                if self.peers.rekey(old, id) {
                    log::debug!("{}: {old} at {} is {id}", self.config.name, hello.endpoint);
                    if let Some(now) = self.now {
                        let keep = self.config.gossip_ttl;
                        self.gossip.withdraw(&old.to_string(), now, keep);
                    }
                }
            }
        }
        // The endpoint the node itself gives beats the address its beacon came
        // from when that address refused us (the beacon may have left from an
        // address we have no route to). Only then: while our link is connecting,
        // its HELLO may be there already, and a second would read as a restart.
        self.redirect(id, &hello.endpoint, true);
        let addr = endpoint_addr(&hello.endpoint).or_else(|| self.peers.get(&id).map(|p| p.addr()));
        let Some(addr) = addr else {
            log::debug!(
                "{}: HELLO with unusable endpoint {:?}",
                self.config.name,
                hello.endpoint
            );
            self.stats.malformed += 1;
            return false;
        };
        self.require_peer(now, id, hello.endpoint.clone(), addr, key);
        self.peers.set_ready(&id);
        // Its inbox link is done with its handshake now.
        self.prune_handshakes();
        true
    }

    /// The rest of a HELLO, once its sequence number checked out: ENTER, then a
    /// JOIN for each of its groups.
    fn on_hello(&mut self, id: PeerId, h: Hello) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.name = Name::new(&h.name);
        p.set_headers(bounded_headers(&h.headers, &mut self.stats.over_bound));
        let e = Event::Enter {
            peer: id,
            name: p.name.clone(),
            headers: p.headers().clone(),
            endpoint: h.endpoint,
        };
        self.emit(e);
        for g in &h.groups {
            self.join_peer_group(id, g);
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.status = h.status;
        }
    }
}

/// A HELLO's headers, at most [`MAX_PEER_HEADERS`](super::groups::MAX_PEER_HEADERS)
/// of them; the rest counted in `over`.
fn bounded_headers(
    headers: &[(String, String)],
    over: &mut u64,
) -> std::collections::BTreeMap<String, String> {
    let max = super::groups::MAX_PEER_HEADERS;
    *over += headers.len().saturating_sub(max) as u64;
    headers.iter().take(max).cloned().collect()
}

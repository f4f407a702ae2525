//! Gossip discovery, on the wire as czmq's `zgossip` (which Zyre uses): for
//! networks without broadcast.
//!
//! A node can serve gossip (accepted links, [`Engine::handle_gossip_accepted`]),
//! be a client of any number of servers ([`Engine::gossip_connect`]), or both.
//! Every node holds a table of tuples `key → value`; it publishes its own, `UUID →
//! endpoint`, and a tuple it has not seen before is stored, handed to discovery
//! (a peer to connect to), and forwarded to every client and every server it
//! talks to. Duplicates stop there, so the gossip graph may have cycles.
//!
//! What zmesh adds to czmq's protocol, within its wire format: a tuple published
//! with a TTL expires unless its publisher publishes it again (zmesh nodes do so
//! every third of the TTL; Zyre's tuples have TTL 0 and never expire); a client
//! pings its servers, so that czmq's server, which forgets a quiet client after a
//! second, keeps forwarding to it; and the table is bounded, so a neighbour that
//! publishes without end cannot grow it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::link::{Link, LinkEvent, Router, RouterEvent};
use super::timers::Fixed;
use super::{endpoint_addr, BadEndpoint, Engine, LinkId, Output};
use crate::event::PeerId;
use crate::frames::Frames;
use crate::wire::zgossip::GossipMessage;

/// At most this many tuples are held; more are refused and counted.
pub const MAX_TUPLES: usize = 10_000;
/// The longest tuple value accepted (an endpoint, and a CURVE key in CURVE mode).
pub const MAX_VALUE: usize = 1024;

#[derive(Debug, Clone)]
struct Tuple {
    value: String,
    /// As published, in ms (0: never expires).
    ttl: u32,
    /// When it expires if not published again (None: never).
    expires: Option<Instant>,
    /// The peer it names was removed here. A withdrawn tuple is kept (so
    /// that copies still in flight are known duplicates, not news to forward) but
    /// neither offered nor forwarded until its publisher refreshes it (see
    /// [`Engine::accept_tuple`]).
    withdrawn: bool,
}

/// One gossip server we are a client of.
#[derive(Debug)]
struct Remote {
    addr: SocketAddr,
    link_id: LinkId,
    link: Link,
    /// While set, the link is closed and is connected again at this time.
    reconnect_at: Option<Instant>,
}

/// Where a tuple came from, so it is not sent straight back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Us,
    Client(LinkId),
    Remote(usize),
}

/// The gossip side of a node.
#[derive(Debug)]
pub(crate) struct Gossip {
    tuples: BTreeMap<String, Tuple>,
    /// Accepted gossip clients (a ZMTP ROUTER).
    server: Router,
    /// Clients that said HELLO: new tuples are forwarded to them.
    greeted: BTreeSet<LinkId>,
    remotes: Vec<Remote>,
    /// When our own tuple goes out again.
    republish_at: Option<Instant>,
    /// Frames are encoded here before they are queued.
    frame: Vec<u8>,
}

impl Gossip {
    pub(crate) fn new(max_message: usize) -> Gossip {
        Gossip {
            tuples: BTreeMap::new(),
            server: Router::new(max_message),
            greeted: BTreeSet::new(),
            remotes: Vec::new(),
            republish_at: None,
            frame: Vec::new(),
        }
    }

    /// True if this node gossips at all (as a client, or with clients).
    pub(crate) fn active(&self) -> bool {
        !self.remotes.is_empty() || !self.server.is_empty()
    }

    /// True if `link` is one of ours (a server link or a remote).
    pub(crate) fn owns(&self, link: LinkId) -> bool {
        self.server.contains(link) || self.remote_of(link).is_some()
    }

    /// True if `link` is an accepted client that has not finished its handshake.
    pub(crate) fn handshake_pending(&self, link: LinkId) -> bool {
        self.server.contains(link) && !self.server.is_ready(link)
    }

    /// True if `link` is our link to a gossip server.
    pub(crate) fn is_remote(&self, link: LinkId) -> bool {
        self.remote_of(link).is_some()
    }

    fn remote_of(&self, link: LinkId) -> Option<usize> {
        self.remotes.iter().position(|r| r.link_id == link)
    }

    /// The bytes waiting on one of our links.
    pub(crate) fn take_output(&mut self, link: LinkId) -> Vec<u8> {
        if self.server.contains(link) {
            return self.server.take_output(link);
        }
        match self.remote_of(link) {
            Some(i) if self.remotes[i].reconnect_at.is_none() => self.remotes[i].link.take_output(),
            _ => Vec::new(),
        }
    }

    /// Every link to close on stop.
    pub(crate) fn links(&self) -> Vec<LinkId> {
        let mut v = self.server.links();
        v.extend(
            self.remotes
                .iter()
                .filter(|r| r.reconnect_at.is_none())
                .map(|r| r.link_id),
        );
        v
    }

    /// The tuples offered, in key order (key, value, ttl in ms).
    pub(crate) fn tuples(&self) -> impl Iterator<Item = (&str, &str, u32)> + '_ {
        self.tuples
            .iter()
            .filter(|(_, t)| !t.withdrawn)
            .map(|(k, t)| (k.as_str(), t.value.as_str(), t.ttl))
    }

    /// Every offered tuple as a PUBLISH.
    fn offers(&self, now: Instant) -> Vec<GossipMessage> {
        self.tuples
            .iter()
            .filter(|(_, t)| !t.withdrawn)
            .map(|(k, t)| Self::publish_of(k, t, now))
            .collect()
    }

    /// Withdraws a tuple here only (Zyre's UNPUBLISH: a peer that is gone is not
    /// offered to newcomers by this node). Deleting it instead would make the next
    /// copy still travelling between servers look new: it would be forwarded and
    /// delivered again, and two tuples naming one endpoint could then displace each
    /// other without end. A withdrawn tuple without a TTL of its own lasts `keep`.
    pub(crate) fn withdraw(&mut self, key: &str, now: Instant, keep: Duration) {
        if let Some(t) = self.tuples.get_mut(key) {
            t.withdrawn = true;
            t.expires.get_or_insert(now + keep);
        }
    }

    fn encode(&mut self, m: &GossipMessage) -> bool {
        self.frame.clear();
        m.encode_into(&mut self.frame).is_ok()
    }

    /// Queues one message to an accepted client.
    fn send_client(&mut self, link: LinkId, m: &GossipMessage) {
        if self.encode(m) {
            self.server.send_on(link, &[&self.frame]);
        }
    }

    /// Queues one message to a remote server.
    fn send_remote(&mut self, i: usize, m: &GossipMessage) {
        if self.encode(m) {
            self.remotes[i].link.send(&[&self.frame]);
        }
    }

    /// A tuple as we pass it on: with the life it has left (our own, and Zyre's
    /// that never expire, as they are).
    fn publish_of(key: &str, t: &Tuple, now: Instant) -> GossipMessage {
        let ttl = match t.expires {
            Some(e) => u32::try_from(e.saturating_duration_since(now).as_millis())
                .unwrap_or(u32::MAX)
                .max(1),
            None => t.ttl,
        };
        GossipMessage::Publish {
            key: key.to_string(),
            value: t.value.clone(),
            ttl,
        }
    }

    /// HELLO and then every tuple we hold, as czmq's server does when it connects
    /// to a remote.
    fn greet_remote(&mut self, i: usize, now: Instant) {
        self.send_remote(i, &GossipMessage::Hello);
        for m in &self.offers(now) {
            self.send_remote(i, m);
        }
    }

    /// Sends a tuple to every greeted client and every connected remote but its
    /// source; returns the links touched.
    fn forward(&mut self, key: &str, source: Source, now: Instant) -> Vec<LinkId> {
        let Some(t) = self.tuples.get(key).filter(|t| !t.withdrawn) else {
            return Vec::new();
        };
        let m = Self::publish_of(key, t, now);
        let mut touched = Vec::new();
        let clients: Vec<LinkId> = self.greeted.iter().copied().collect();
        for link in clients {
            if source != Source::Client(link) {
                self.send_client(link, &m);
                touched.push(link);
            }
        }
        for i in 0..self.remotes.len() {
            if source != Source::Remote(i) && self.remotes[i].reconnect_at.is_none() {
                self.send_remote(i, &m);
                touched.push(self.remotes[i].link_id);
            }
        }
        touched
    }
}

impl Engine {
    /// Becomes a client of the gossip server at `endpoint` (`tcp://ip:port`), as
    /// Zyre's `zyre_gossip_connect`. Before [`Engine::start`] the connection waits
    /// for the start. The node publishes its own tuple there and connects to every
    /// peer it learns of.
    pub fn gossip_connect(&mut self, now: Instant, endpoint: &str) -> Result<(), BadEndpoint> {
        self.now = Some(now);
        let addr = endpoint_addr(endpoint).ok_or_else(|| BadEndpoint(endpoint.to_string()))?;
        let link_id = self.new_link();
        let i = self.gossip.remotes.len();
        self.gossip.remotes.push(Remote {
            addr,
            link_id,
            link: Link::dealer(b"", self.config.max_message),
            reconnect_at: None,
        });
        if self.is_running() {
            self.connect_remote(i, now);
            self.arm_gossip(now);
        }
        Ok(())
    }

    /// A connection to our gossip listener was accepted from `from`: returns its id.
    pub fn handle_gossip_accepted(&mut self, now: Instant, from: SocketAddr) -> LinkId {
        self.now = Some(now);
        let link = self.new_link();
        log::trace!("{}: gossip client {from} as {link:?}", self.config.name);
        self.gossip.server.accept(link);
        self.timers
            .handshake_by(now + self.config.handshake_timeout, link);
        self.out.touch(link);
        self.arm_gossip(now);
        link
    }

    /// The tuples this node holds (key, value, ttl in ms), in key order.
    pub fn gossip_tuples(&self) -> impl Iterator<Item = (&str, &str, u32)> + '_ {
        self.gossip.tuples()
    }

    /// Publishes our own tuple and connects to the servers we were given.
    pub(super) fn gossip_start(&mut self, now: Instant) {
        let ttl = u32::try_from(self.config.gossip_ttl.as_millis()).unwrap_or(u32::MAX);
        let value = self.own_tuple_value();
        self.gossip.tuples.insert(
            self.id.to_string(),
            Tuple {
                value,
                ttl,
                expires: None,
                withdrawn: false,
            },
        );
        for i in 0..self.gossip.remotes.len() {
            self.connect_remote(i, now);
        }
        if ttl > 0 {
            self.gossip.republish_at = Some(now + self.config.gossip_ttl / 3);
        }
        self.arm_gossip(now);
    }

    fn arm_gossip(&mut self, now: Instant) {
        if self.is_running() && self.gossip.active() && self.timers.get(Fixed::Gossip).is_none() {
            self.timers.set(Fixed::Gossip, Some(now));
        }
    }

    fn connect_remote(&mut self, i: usize, now: Instant) {
        self.gossip.greet_remote(i, now);
        let r = &self.gossip.remotes[i];
        let (link, addr) = (r.link_id, r.addr);
        self.out.push(Output::Connect { link, addr });
        self.out.touch(link);
    }

    /// Our endpoint changed: our tuple carries the new one, to every server and
    /// client at once; the links to servers, dead with the old address, are
    /// connected again.
    pub(super) fn gossip_moved(&mut self, now: Instant) {
        let key = self.id.to_string();
        let value = self.own_tuple_value();
        if let Some(t) = self.gossip.tuples.get_mut(&key) {
            t.value = value;
        }
        for link in self.gossip.server.links() {
            self.out.close(link);
            self.gossip.greeted.remove(&link);
        }
        self.gossip.server = Router::new(self.config.max_message);
        for i in 0..self.gossip.remotes.len() {
            let old = self.gossip.remotes[i].link_id;
            if self.gossip.remotes[i].reconnect_at.is_none() {
                self.out.close(old);
            }
            let new_link = self.new_link();
            let r = &mut self.gossip.remotes[i];
            r.link = Link::dealer(b"", self.config.max_message);
            r.link_id = new_link;
            r.reconnect_at = None;
            self.connect_remote(i, now);
        }
    }

    /// The gossip tick: pings, reconnects, expiry and our tuple published again.
    pub(super) fn gossip_tick(&mut self, now: Instant) {
        for i in 0..self.gossip.remotes.len() {
            match self.gossip.remotes[i].reconnect_at {
                Some(at) if at <= now => {
                    self.gossip.remotes[i].reconnect_at = None;
                    self.connect_remote(i, now);
                }
                Some(_) => {}
                None => {
                    self.gossip.send_remote(i, &GossipMessage::Ping);
                    self.out.touch(self.gossip.remotes[i].link_id);
                }
            }
        }
        self.gossip
            .tuples
            .retain(|_, t| t.expires.is_none_or(|e| e > now));
        if self.gossip.republish_at.is_some_and(|t| t <= now) {
            let key = self.id.to_string();
            for link in self.gossip.forward(&key, Source::Us, now) {
                self.out.touch(link);
            }
            self.gossip.republish_at = Some(now + self.config.gossip_ttl / 3);
        }
        let next = now + super::config::defaults::GOSSIP_TICK;
        self.timers.set(Fixed::Gossip, Some(next));
    }

    /// Bytes on an accepted gossip link.
    pub(super) fn gossip_server_bytes(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        let mut events = std::mem::take(&mut self.router_events);
        let r = self.gossip.server.handle_bytes(link, bytes, &mut events);
        self.out.touch(link);
        for ev in events.drain(..) {
            match ev {
                RouterEvent::Connected { .. } => self.prune_handshakes(),
                RouterEvent::Replaced { old } => {
                    self.gossip.greeted.remove(&old);
                    self.out.close(old);
                }
                RouterEvent::Message { link, frames } => self.client_message(now, link, &frames),
            }
        }
        self.router_events = events;
        if let Err(e) = r {
            log::debug!("{}: gossip link {link:?} closed: {e}", self.config.name);
            self.stats.link_errors += 1;
            self.gossip.greeted.remove(&link);
            self.out.close(link);
        }
    }

    fn client_message(&mut self, now: Instant, link: LinkId, frames: &Frames) {
        let msg = match frames.len() {
            1 => GossipMessage::parse(&frames[0]),
            n => Err(crate::wire::WireError::BadLength(n)),
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                log::debug!("{}: bad gossip message: {e}", self.config.name);
                self.stats.gossip_malformed += 1;
                return;
            }
        };
        match msg {
            GossipMessage::Hello => {
                self.gossip.greeted.insert(link);
                for m in &self.gossip.offers(now) {
                    self.gossip.send_client(link, m);
                }
            }
            GossipMessage::Publish { key, value, ttl } if self.gossip.greeted.contains(&link) => {
                self.accept_tuple(now, key, value, ttl, Source::Client(link));
            }
            GossipMessage::Ping => self.gossip.send_client(link, &GossipMessage::Pong),
            // A PUBLISH before HELLO, or a server's message from a client: czmq's
            // server answers INVALID and forgets the session; the client says HELLO
            // again.
            _ => {
                self.gossip.greeted.remove(&link);
                self.gossip.send_client(link, &GossipMessage::Invalid);
            }
        }
        self.out.touch(link);
    }

    /// Bytes on our link to a gossip server.
    pub(super) fn gossip_remote_bytes(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        let Some(i) = self.gossip.remote_of(link) else {
            return;
        };
        self.gossip.remotes[i].link.handle_bytes(bytes);
        loop {
            match self.gossip.remotes[i].link.poll() {
                Ok(None) => break,
                Ok(Some(LinkEvent::Ready { .. })) => {}
                Ok(Some(LinkEvent::Message(frames))) => match frames.len() {
                    1 => match GossipMessage::parse(&frames[0]) {
                        Ok(GossipMessage::Publish { key, value, ttl }) => {
                            self.accept_tuple(now, key, value, ttl, Source::Remote(i))
                        }
                        // The server forgot us: greet it again with all we hold.
                        Ok(GossipMessage::Invalid) => self.gossip.greet_remote(i, now),
                        Ok(_) => {}
                        Err(_) => self.stats.gossip_malformed += 1,
                    },
                    _ => self.stats.gossip_malformed += 1,
                },
                Err(e) => {
                    log::debug!("{}: gossip server link failed: {e}", self.config.name);
                    self.stats.link_errors += 1;
                    self.out.close(link);
                    self.gossip_link_closed(now, link);
                    return;
                }
            }
        }
        self.out.touch(link);
    }

    /// One of our gossip links closed: a client is forgotten, a server is
    /// connected again after the reconnect interval.
    pub(super) fn gossip_link_closed(&mut self, now: Instant, link: LinkId) {
        if self.gossip.server.contains(link) {
            self.gossip.server.remove(link);
            self.gossip.greeted.remove(&link);
            return;
        }
        let Some(i) = self.gossip.remote_of(link) else {
            return;
        };
        let new_link = self.new_link();
        let r = &mut self.gossip.remotes[i];
        r.link = Link::dealer(b"", self.config.max_message);
        r.link_id = new_link;
        r.reconnect_at = Some(now + self.config.reconnect_interval);
    }

    /// czmq's `server_accept`: a duplicate only refreshes the tuple's life; a new
    /// tuple is stored, handed to discovery and forwarded.
    ///
    /// zgossip carries no sequence number, so a publisher's refresh and an echo
    /// of one already seen look alike. zmesh tells them apart by the life they
    /// carry: a tuple is passed on with what is left of its life, never more, so
    /// only the publisher can give it a longer one. A copy that extends the life
    /// held here by more than a sixth of its TTL is a refresh (publishers refresh
    /// every third) and travels on; an echo does not. A withdrawn tuple comes back
    /// only on a refresh, so a node cut off past expiry is met again while the
    /// tuple of a node that is gone dies at its publisher's last expiry.
    fn accept_tuple(&mut self, now: Instant, key: String, value: String, ttl: u32, from: Source) {
        let life = Duration::from_millis(ttl.into());
        if let Some(t) = self.gossip.tuples.get_mut(&key) {
            if t.value == value {
                // Zyre's tuples (TTL 0) never expire and are never refreshed.
                let Some(old) = t.expires.filter(|_| ttl > 0) else {
                    return;
                };
                let new = now + life;
                let refresh = new > old + life / 6;
                t.expires = Some(old.max(new));
                t.ttl = ttl;
                if !refresh {
                    return;
                }
                let back = std::mem::take(&mut t.withdrawn);
                for link in self.gossip.forward(&key, from, now) {
                    self.out.touch(link);
                }
                if back {
                    self.deliver(now, &key, &value);
                }
                return;
            }
        }
        let full = self.gossip.tuples.len() >= MAX_TUPLES && !self.gossip.tuples.contains_key(&key);
        if full || value.len() > MAX_VALUE || key == self.id.to_string() {
            if key != self.id.to_string() {
                self.stats.gossip_refused += 1;
            }
            return;
        }
        let expires = (ttl > 0).then(|| now + life);
        self.gossip.tuples.insert(
            key.clone(),
            Tuple {
                value: value.clone(),
                ttl,
                expires,
                withdrawn: false,
            },
        );
        for link in self.gossip.forward(&key, from, now) {
            self.out.touch(link);
        }
        self.deliver(now, &key, &value);
    }

    /// A new tuple, read as Zyre writes it: `UUID → endpoint[|public key]`.
    fn deliver(&mut self, now: Instant, key: &str, value: &str) {
        let Ok(id) = key.parse::<PeerId>() else {
            return;
        };
        let endpoint = value.split('|').next().unwrap_or_default();
        if id == self.id || Some(endpoint) == self.endpoint.as_deref() {
            return;
        }
        // Second-hand news never displaces a peer we know at that endpoint: a
        // stale tuple of a node that restarted with a new UUID would otherwise
        // remove the live one. A HELLO, which is first-hand, still does.
        if self.peers.at_endpoint(endpoint).is_some_and(|p| p != id) {
            self.stats.gossip_unusable += 1;
            return;
        }
        if self.peers.contains(&id) {
            // A peer we have not reached yet is now said to be elsewhere (it
            // moved, or we had an old address): try there. One that answered
            // keeps its link; if it moves, its own HELLO tells us.
            self.redirect(id, endpoint, false);
            return;
        }
        match endpoint_addr(endpoint) {
            Some(addr) => {
                log::debug!("{}: gossip: {id} at {endpoint}", self.config.name);
                // Zyre's CURVE nodes publish `endpoint|public key`.
                let key = value
                    .split_once('|')
                    .and_then(|(_, k)| crate::wire::z85::decode_key(k));
                self.require_peer(now, id, endpoint.to_string(), addr, key)
            }
            None => {
                log::debug!(
                    "{}: gossip endpoint {endpoint:?} unusable",
                    self.config.name
                );
                self.stats.gossip_unusable += 1;
            }
        }
    }
}

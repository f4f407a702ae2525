//! The sans-IO protocol engine: a whole ZRE node's behaviour as a deterministic state
//! machine driven by `(now, input)`.
//!
//! The engine never reads the clock, the OS random generator or a socket. The real
//! driver ([`crate::net`]) and the simulator feed it the same inputs and carry out
//! the same outputs, so what the simulator proves is what production runs.
//!
//! # Call order
//! Methods come in four kinds (after quinn-proto's `Connection`):
//! * getters (`&self`): [`Engine::id`], [`Engine::peers`], ...;
//! * inputs, `handle_*`: datagrams, accepted / connected / closed links, bytes, timeouts;
//! * commands: [`Engine::start`], [`Engine::join`], [`Engine::shout`], [`Engine::stop`], ...;
//! * outputs, `poll_*`: after every input or command, drain [`Engine::poll_output`]
//!   until it returns `None`, then sleep until [`Engine::poll_timeout`] (or the next
//!   input) and call [`Engine::handle_timeout`].
//!
//! `now` must never go backwards between calls.
//!
//! ```
//! use std::time::Instant;
//! use zmesh::engine::{Config, Engine, Output};
//! use zmesh::PeerId;
//! let now = Instant::now();
//! let mut e = Engine::new(Config::new("a"), PeerId([1; 16]));
//! e.start(now, "127.0.0.1:49152".parse().unwrap());
//! // The first beacon goes out at once.
//! assert!(matches!(e.poll_output(), Some(Output::Broadcast(b)) if b.len() == 22));
//! assert!(e.poll_timeout().is_some());
//! ```

pub mod config;
pub mod hash;
pub mod link;
mod peer;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

pub use config::Config;
use link::{Link, LinkError, Router, RouterEvent};
use peer::Peer;

use crate::event::{Event, ExitReason, PeerId};
use crate::wire::beacon::Beacon;
use crate::wire::zre::{Body, Hello, ZreMessage};

/// Names one TCP connection between the engine and its driver. The engine chooses
/// every id: for outgoing links in [`Output::Connect`], for accepted ones as the
/// return value of [`Engine::handle_accepted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

/// Why the driver reports a link closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The connection failed, was refused, reset, or reached end of file.
    Network,
    /// The link's unsent output passed the driver's limit: the peer is too slow.
    Overflow,
}

/// Work for the driver, drained with [`Engine::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Send this datagram to the beacon broadcast address.
    Broadcast(Vec<u8>),
    /// Open a TCP connection; report it with `handle_connected` or `handle_closed`.
    Connect {
        /// The id the engine gave the link.
        link: LinkId,
        /// Where to connect.
        addr: SocketAddr,
    },
    /// Write these bytes on the link, in order after earlier writes (queue them if
    /// the connection is still being set up).
    Write {
        /// The link.
        link: LinkId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Close the link after writing what is queued for it, and forget it.
    Close {
        /// The link.
        link: LinkId,
    },
    /// Hand this event to the application.
    Event(Event),
}

/// Counters of dropped input and protocol trouble: nothing is dropped uncounted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams on the beacon port that are not valid beacons.
    pub bad_beacons: u64,
    /// Inbox messages that are not valid ZRE (bad signature, version, fields).
    pub malformed: u64,
    /// Inbox messages whose routing id is not `0x01` + a 16-byte UUID.
    pub bad_identity: u64,
    /// Messages from a peer before its HELLO (or from an unknown peer).
    pub before_hello: u64,
    /// Links closed for a ZMTP error.
    pub link_errors: u64,
    /// Accepted connections closed for not finishing the ZMTP handshake in time.
    pub handshake_timeouts: u64,
    /// Messages received on our outgoing links (a ZRE inbox never sends).
    pub unexpected_on_outbox: u64,
    /// Whispers to unknown peers.
    pub whisper_unknown_peer: u64,
    /// Peers dropped, by reason.
    pub exits: BTreeMap<&'static str, u64>,
}

/// A summary of one known peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer's id.
    pub id: PeerId,
    /// Its name (empty until its HELLO).
    pub name: String,
    /// The endpoint we connect to.
    pub endpoint: String,
    /// Its headers.
    pub headers: BTreeMap<String, String>,
    /// The groups it is in.
    pub groups: BTreeSet<String>,
    /// True once its HELLO arrived (it has entered).
    pub ready: bool,
}

impl PeerInfo {
    fn of(p: &Peer) -> PeerInfo {
        PeerInfo {
            id: p.id,
            name: p.name.clone(),
            endpoint: p.endpoint.clone(),
            headers: p.headers.clone(),
            groups: p.groups.clone(),
            ready: p.ready,
        }
    }
}

/// One mesh node's protocol state. See the [module docs](self) for the call order.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    id: PeerId,
    identity: Vec<u8>,
    endpoint: Option<String>,
    port: u16,
    stopped: bool,
    status: u8,
    own_groups: BTreeSet<String>,
    /// Looked up on every beacon and message: a hash table with a fixed hasher (one
    /// probe), boxed records so the table stays small. `peer_order` gives the
    /// deterministic iteration order.
    peers: hash::FixedMap<PeerId, Box<Peer>>,
    /// Every known peer, in id order, for iteration.
    peer_order: BTreeSet<PeerId>,
    /// How many peers are ready (kept, so that counting is O(1)).
    ready_count: usize,
    /// Which peer uses each endpoint (at most one: a newcomer purges the old).
    by_endpoint: BTreeMap<String, PeerId>,
    peer_groups: BTreeMap<String, BTreeSet<PeerId>>,
    /// Outgoing links by id (looked up, never iterated).
    outbox: hash::FixedMap<LinkId, PeerId>,
    inbox: Router,
    next_link: u64,
    next_beacon: Option<Instant>,
    next_reap: Option<Instant>,
    /// No peer turns evasive before this (None: unknown). Deadlines only move later
    /// when a peer is heard, so the earliest one seen at the last reap stays a lower
    /// bound, and a reap before it has nothing to do: it is skipped without looking
    /// at every peer.
    reap_floor: Option<Instant>,
    /// Outgoing links waiting to be reconnected, by due time.
    reconnects: BTreeSet<(Instant, PeerId)>,
    /// Accepted links by handshake deadline, in accept order (so in deadline order).
    handshakes: VecDeque<(Instant, LinkId)>,
    /// Links with output to flush (duplicates allowed; a Vec keeps its memory,
    /// where a set would allocate and free a node per message).
    dirty: Vec<LinkId>,
    /// Peers whose queued output passed `max_pending`: dropped at the next poll.
    full: Vec<PeerId>,
    out: VecDeque<Output>,
    stats: Stats,
    router_events: Vec<RouterEvent>,
    /// Reused for encoding header frames, so sending allocates nothing for them.
    scratch: Vec<u8>,
}

impl Engine {
    /// A node with this configuration and UUID, silent until [`Engine::start`].
    pub fn new(config: Config, id: PeerId) -> Engine {
        let mut identity = vec![0x01];
        identity.extend_from_slice(&id.0);
        let mut config = config;
        if config.name.is_empty() {
            config.name = id.short(6);
        }
        truncate_255(&mut config.name);
        Engine {
            inbox: Router::new(config.max_message),
            config,
            id,
            identity,
            endpoint: None,
            port: 0,
            stopped: false,
            status: 0,
            own_groups: BTreeSet::new(),
            peers: hash::FixedMap::default(),
            peer_order: BTreeSet::new(),
            by_endpoint: BTreeMap::new(),
            ready_count: 0,
            peer_groups: BTreeMap::new(),
            outbox: hash::FixedMap::default(),
            next_link: 1,
            next_beacon: None,
            next_reap: None,
            reap_floor: None,
            reconnects: BTreeSet::new(),
            handshakes: VecDeque::new(),
            dirty: Vec::new(),
            full: Vec::new(),
            out: VecDeque::new(),
            stats: Stats::default(),
            router_events: Vec::new(),
            scratch: Vec::with_capacity(256),
        }
    }

    // ---- getters ----

    /// Our UUID.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// Our name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Our advertised inbox endpoint, once started.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// True between `start` and `stop`.
    pub fn is_running(&self) -> bool {
        self.endpoint.is_some() && !self.stopped
    }

    /// Counters of dropped input.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every known peer, ready or not (as Zyre's `zyre_peers`), in id order.
    pub fn peers(&self) -> impl Iterator<Item = PeerInfo> + '_ {
        self.ordered().map(PeerInfo::of)
    }

    /// One peer's summary.
    pub fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        self.peers.get(&id).map(|p| PeerInfo::of(p))
    }

    /// True if the peer has said HELLO and not left since (it has entered).
    pub fn is_ready(&self, id: PeerId) -> bool {
        self.peers.get(&id).is_some_and(|p| p.ready)
    }

    /// How many peers have entered and not left.
    pub fn ready_count(&self) -> usize {
        self.ready_count
    }

    /// The peers that have entered, in id order, without copying their details.
    pub fn ready_peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.ordered().filter(|p| p.ready).map(|p| p.id)
    }

    /// The groups a peer is in, as we know them.
    pub fn groups_of(&self, id: PeerId) -> Option<&BTreeSet<String>> {
        self.peers.get(&id).map(|p| &p.groups)
    }

    /// Our own groups as a set.
    pub fn own_group_set(&self) -> &BTreeSet<String> {
        &self.own_groups
    }

    /// Peers known to be in `group`.
    pub fn peers_by_group(&self, group: &str) -> Vec<PeerId> {
        self.peer_groups
            .get(group)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The groups we are in.
    pub fn own_groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.own_groups.iter().map(String::as_str)
    }

    /// Every group some peer is in.
    pub fn peer_groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.peer_groups
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(g, _)| g.as_str())
    }

    // ---- commands ----

    /// Starts the node with its inbox bound at `inbox` (the address peers connect to):
    /// the first beacon goes out at once.
    pub fn start(&mut self, now: Instant, inbox: SocketAddr) {
        if self.endpoint.is_some() {
            return;
        }
        self.endpoint = Some(format!("tcp://{}", inbox));
        self.port = inbox.port();
        self.send_beacon(self.port);
        self.next_beacon = Some(now + self.config.beacon_interval);
        self.next_reap = Some(now + self.config.reap_interval());
    }

    /// Stops politely: a port-0 beacon, every link closed, then a `Stop` event.
    pub fn stop(&mut self, _now: Instant) {
        if !self.is_running() {
            return;
        }
        self.send_beacon(0);
        self.flush_dirty();
        self.reconnects.clear();
        self.handshakes.clear();
        self.by_endpoint.clear();
        self.ready_count = 0;
        let peers = std::mem::take(&mut self.peers);
        for id in std::mem::take(&mut self.peer_order) {
            if let Some(p) = peers.get(&id) {
                self.out.push_back(Output::Close { link: p.link_id });
            }
        }
        self.outbox.clear();
        for link in self.inbox.links() {
            self.out.push_back(Output::Close { link });
        }
        self.inbox = Router::new(self.config.max_message);
        self.peer_groups.clear();
        self.stopped = true;
        self.next_beacon = None;
        self.next_reap = None;
        self.out.push_back(Output::Event(Event::Stop {
            peer: self.id,
            name: self.config.name.clone(),
        }));
    }

    /// Joins a group (no effect if already in it): every peer is told.
    pub fn join(&mut self, group: &str) {
        if group.len() > 255 || !self.own_groups.insert(group.to_string()) {
            return;
        }
        self.status = self.status.wrapping_add(1);
        log::debug!("{}: join {group}", self.config.name);
        let status = self.status;
        self.send_all(|| Body::Join {
            group: group.to_string(),
            status,
        });
    }

    /// Leaves a group (no effect if not in it): every peer is told.
    pub fn leave(&mut self, group: &str) {
        if !self.own_groups.remove(group) {
            return;
        }
        self.status = self.status.wrapping_add(1);
        log::debug!("{}: leave {group}", self.config.name);
        let status = self.status;
        self.send_all(|| Body::Leave {
            group: group.to_string(),
            status,
        });
    }

    /// Sends content to one peer. Returns false (and counts it) if the peer is unknown.
    pub fn whisper(&mut self, peer: PeerId, content: &[Vec<u8>]) -> bool {
        let Some(p) = self.peers.get_mut(&peer) else {
            self.stats.whisper_unknown_peer += 1;
            return false;
        };
        p.send_content(None, content, &mut self.scratch);
        mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
        true
    }

    /// Sends content to every peer known to be in `group` (joined by us or not).
    /// Returns how many peers it went to.
    pub fn shout(&mut self, group: &str, content: &[Vec<u8>]) -> usize {
        if group.len() > 255 {
            return 0;
        }
        let Some(members) = self.peer_groups.get(group) else {
            return 0;
        };
        let mut n = 0;
        for id in members {
            if let Some(p) = self.peers.get_mut(id) {
                p.send_content(Some(group), content, &mut self.scratch);
                mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
                n += 1;
            }
        }
        n
    }

    // ---- inputs ----

    /// A datagram arrived on the beacon port from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if !self.is_running() {
            return;
        }
        let beacon = match Beacon::parse(bytes) {
            Ok(b) if b.public_key.is_none() => b,
            _ => {
                self.stats.bad_beacons += 1;
                return;
            }
        };
        let id = PeerId(beacon.uuid);
        if id == self.id {
            return;
        }
        if beacon.is_leaving() {
            if self.peers.contains_key(&id) {
                self.remove_peer(id, ExitReason::Left);
            }
            return;
        }
        // Known peers are left alone (beacons do not refresh liveness, as in Zyre),
        // so skip building the endpoint string for them: this is the hot path.
        if self.peers.contains_key(&id) {
            return;
        }
        let addr = SocketAddr::new(from.ip(), beacon.port);
        self.require_peer(now, id, format!("tcp://{addr}"), addr);
    }

    /// A connection to our inbox was accepted from `from`: returns its id.
    pub fn handle_accepted(&mut self, now: Instant, from: SocketAddr) -> LinkId {
        let link = self.new_link();
        log::trace!("{}: accepted {from} as {link:?}", self.config.name);
        self.inbox.accept(link);
        self.handshakes
            .push_back((now + self.config.handshake_timeout, link));
        self.dirty.push(link);
        link
    }

    /// An outgoing connection (from [`Output::Connect`]) is established.
    pub fn handle_connected(&mut self, _now: Instant, link: LinkId) {
        log::trace!("{}: connected {link:?}", self.config.name);
    }

    /// Bytes arrived on a link, split anywhere.
    pub fn handle_bytes(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if self.inbox.contains(link) {
            let mut events = std::mem::take(&mut self.router_events);
            let r = self.inbox.handle_bytes(link, bytes, &mut events);
            if self.inbox.pending_output(link) > 0 {
                self.dirty.push(link);
            }
            for ev in events.drain(..) {
                match ev {
                    RouterEvent::Connected { .. } => {
                        // Handshakes mostly finish in accept order: drop the finished
                        // ones from the front, so no timer fires just to find them done.
                        while let Some(&(_, l)) = self.handshakes.front() {
                            if self.inbox.contains(l) && !self.inbox.is_ready(l) {
                                break;
                            }
                            self.handshakes.pop_front();
                        }
                    }
                    RouterEvent::Replaced { old } => {
                        self.out.push_back(Output::Close { link: old })
                    }
                    RouterEvent::Message { link, frames } => self.recv_message(now, link, frames),
                }
            }
            self.router_events = events;
            if let Err(e) = r {
                log::debug!("{}: inbox link {link:?} closed: {e}", self.config.name);
                self.stats.link_errors += 1;
                self.out.push_back(Output::Close { link });
            }
        } else if let Some(&id) = self.outbox.get(&link) {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            p.link.handle_bytes(bytes);
            let mut failed: Option<LinkError> = None;
            loop {
                match p.link.poll() {
                    Ok(None) => break,
                    Ok(Some(link::LinkEvent::Ready { .. })) => p.hello_out = true,
                    Ok(Some(link::LinkEvent::Message(_))) => self.stats.unexpected_on_outbox += 1,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
            if let Some(e) = failed {
                log::debug!("{}: link to {id} failed: {e}", self.config.name);
                self.stats.link_errors += 1;
                self.remove_peer(id, ExitReason::ProtocolError);
            }
        }
    }

    /// A link closed (or failed to connect). The driver forgets it; the engine
    /// reconnects a peer's outgoing link after the reconnect interval, as libzmq does,
    /// unless the reason is [`CloseReason::Overflow`], which drops the peer.
    pub fn handle_closed(&mut self, now: Instant, link: LinkId, reason: CloseReason) {
        if self.inbox.contains(link) {
            self.inbox.remove(link);
            return;
        }
        let Some(id) = self.outbox.remove(&link) else {
            return;
        };
        if self.stopped {
            return;
        }
        if reason == CloseReason::Overflow {
            // The link is out of `outbox` already, so no Close goes back to the driver.
            self.remove_peer(id, ExitReason::Overflow);
            return;
        }
        let new_link = self.new_link();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        log::debug!("{}: link to {id} closed; reconnecting", self.config.name);
        // A fresh ZMTP session on the new connection. Our sequence numbers go on, as
        // they do across a libzmq reconnect: if bytes were lost with the old
        // connection, the peer sees a gap and drops us, and the mesh heals through
        // beacons and a new HELLO, never silently. But while no link to the peer
        // has finished its handshake, our HELLO has not gone out: what the old link
        // held (HELLO first) goes on the new one, or the peer would never hear it
        // (a first connect refused, or made without a file handle to spare).
        let unsent = if p.hello_out {
            Vec::new()
        } else {
            p.link.take_unsent_messages()
        };
        p.link = Link::dealer(&self.identity, self.config.max_message);
        p.link.restore_unsent_messages(unsent);
        p.link_id = new_link;
        let at = now + self.config.reconnect_interval;
        p.reconnect_at = Some(at);
        self.reconnects.insert((at, id));
        self.outbox.insert(new_link, id);
    }

    /// Runs the timers that are due: beacons, reconnects and the reaper.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.is_running() {
            return;
        }
        if let Some(at) = self.next_beacon {
            if now >= at {
                self.send_beacon(self.port);
                let next = at + self.config.beacon_interval;
                self.next_beacon = Some(if next <= now {
                    now + self.config.beacon_interval
                } else {
                    next
                });
            }
        }
        while let Some(&(at, id)) = self.reconnects.first() {
            if at > now {
                break;
            }
            self.reconnects.pop_first();
            if let Some(p) = self.peers.get_mut(&id) {
                if p.reconnect_at == Some(at) {
                    p.reconnect_at = None;
                    self.out.push_back(Output::Connect {
                        link: p.link_id,
                        addr: p.addr,
                    });
                    self.dirty.push(p.link_id);
                }
            }
        }
        while let Some(&(at, link)) = self.handshakes.front() {
            if at > now {
                break;
            }
            self.handshakes.pop_front();
            if self.inbox.contains(link) && !self.inbox.is_ready(link) {
                log::debug!(
                    "{}: inbox link {link:?} did not finish its handshake in time",
                    self.config.name
                );
                self.stats.handshake_timeouts += 1;
                self.inbox.remove(link);
                self.out.push_back(Output::Close { link });
            }
        }
        if let Some(at) = self.next_reap {
            if now >= at {
                self.reap(now);
                self.next_reap = Some(now + self.config.reap_interval());
            }
        }
    }

    // ---- outputs ----

    /// The next thing for the driver to do, or `None` when there is nothing.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        for id in std::mem::take(&mut self.full) {
            log::warn!(
                "{}: output to {id} passed the limit: dropping it",
                self.config.name
            );
            self.remove_peer(id, ExitReason::Overflow);
        }
        if self.out.is_empty() {
            self.flush_dirty();
        }
        self.out.pop_front()
    }

    /// When [`Engine::handle_timeout`] next needs to run, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.is_running() {
            return None;
        }
        let reconnect = self.reconnects.first().map(|&(at, _)| at);
        let handshake = self.handshakes.front().map(|&(at, _)| at);
        [self.next_beacon, self.next_reap, reconnect, handshake]
            .into_iter()
            .flatten()
            .min()
    }

    // ---- internals ----

    fn new_link(&mut self) -> LinkId {
        let l = LinkId(self.next_link);
        self.next_link += 1;
        l
    }

    fn send_beacon(&mut self, port: u16) {
        self.out
            .push_back(Output::Broadcast(Beacon::new(self.id.0, port).encode()));
    }

    /// Turns every touched link's queued bytes into one write each.
    fn flush_dirty(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for link in dirty.drain(..) {
            let bytes = if let Some(id) = self.outbox.get(&link) {
                match self.peers.get_mut(id) {
                    Some(p) if p.reconnect_at.is_none() && p.link_id == link => {
                        p.link.take_output()
                    }
                    _ => continue,
                }
            } else {
                self.inbox.take_output(link)
            };
            if !bytes.is_empty() {
                self.out.push_back(Output::Write { link, bytes });
            }
        }
        self.dirty = dirty;
    }

    /// Known peers in id order.
    fn ordered(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.peer_order
            .iter()
            .filter_map(|id| self.peers.get(id).map(|p| &**p))
    }

    fn send_all(&mut self, body: impl Fn() -> Body) {
        for id in &self.peer_order {
            let Some(p) = self.peers.get_mut(id) else {
                continue;
            };
            p.send(body(), &mut self.scratch);
            mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
        }
    }

    /// Zyre's `require_peer`: known peers are left alone; a new one is connected to
    /// and greeted, after dropping any peer that used the same endpoint before.
    fn require_peer(&mut self, now: Instant, id: PeerId, endpoint: String, addr: SocketAddr) {
        if self.peers.contains_key(&id) {
            return;
        }
        if let Some(&old) = self.by_endpoint.get(&endpoint) {
            self.remove_peer(old, ExitReason::EndpointReused);
        }
        let link_id = self.new_link();
        log::debug!("{}: new peer {id} at {endpoint}", self.config.name);
        let mut p = Peer {
            id,
            endpoint,
            addr,
            link_id,
            link: Link::dealer(&self.identity, self.config.max_message),
            reconnect_at: None,
            hello_out: false,
            ready: false,
            name: String::new(),
            headers: BTreeMap::new(),
            groups: BTreeSet::new(),
            sent_sequence: 0,
            want_sequence: 0,
            status: 0,
            evasive_at: now,
            expired_at: now,
        };
        p.refresh(
            now,
            self.config.evasive_timeout,
            self.config.expired_timeout,
        );
        p.send(
            Body::Hello(Hello {
                endpoint: self.endpoint.clone().unwrap_or_default(),
                groups: self.own_groups.iter().cloned().collect(),
                status: self.status,
                name: self.config.name.clone(),
                headers: self
                    .config
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }),
            &mut self.scratch,
        );
        self.out.push_back(Output::Connect {
            link: link_id,
            addr,
        });
        self.dirty.push(link_id);
        self.outbox.insert(link_id, id);
        self.by_endpoint.insert(p.endpoint.clone(), id);
        self.reap_floor = self.reap_floor.map(|f| f.min(p.evasive_at));
        self.peers.insert(id, Box::new(p));
        self.peer_order.insert(id);
    }

    fn remove_peer(&mut self, id: PeerId, reason: ExitReason) {
        let Some(p) = self.peers.remove(&id) else {
            return;
        };
        self.peer_order.remove(&id);
        if let Some(at) = p.reconnect_at {
            self.reconnects.remove(&(at, id));
        }
        if self.by_endpoint.get(&p.endpoint) == Some(&id) {
            self.by_endpoint.remove(&p.endpoint);
        }
        log::debug!(
            "{}: peer {id} ({}) gone: {}",
            self.config.name,
            p.name,
            reason.as_str()
        );
        *self.stats.exits.entry(reason.as_str()).or_default() += 1;
        for g in &p.groups {
            if let Some(set) = self.peer_groups.get_mut(g) {
                set.remove(&id);
                if set.is_empty() {
                    self.peer_groups.remove(g);
                }
            }
        }
        if self.outbox.remove(&p.link_id).is_some() {
            self.out.push_back(Output::Close { link: p.link_id });
        }
        if p.ready {
            self.ready_count -= 1;
            self.out.push_back(Output::Event(Event::Exit {
                peer: id,
                name: p.name,
                reason,
            }));
        }
    }

    fn emit(&mut self, e: Event) {
        log::trace!("{}: event {} from {}", self.config.name, e.kind(), e.peer());
        self.out.push_back(Output::Event(e));
    }

    /// One message from the inbox: Zyre's `zyre_node_recv_peer`.
    fn recv_message(&mut self, now: Instant, link: LinkId, mut frames: Vec<Vec<u8>>) {
        let id = match self.inbox.identity(link) {
            Some(ident) if ident.len() == 17 && ident[0] == 1 => {
                let mut u = [0u8; 16];
                u.copy_from_slice(&ident[1..]);
                PeerId(u)
            }
            _ => {
                self.stats.bad_identity += 1;
                return;
            }
        };
        if frames.is_empty() {
            self.stats.malformed += 1;
            return;
        }
        let header = frames.remove(0);
        let msg = match ZreMessage::decode(&header, frames) {
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
        if let Body::Hello(hello) = &msg.body {
            if self.peers.get(&id).is_some_and(|p| p.ready) {
                // Restart with the same UUID: it leaves and enters again.
                self.remove_peer(id, ExitReason::Restarted);
            }
            let addr =
                endpoint_addr(&hello.endpoint).or_else(|| self.peers.get(&id).map(|p| p.addr));
            match addr {
                Some(addr) => {
                    self.require_peer(now, id, hello.endpoint.clone(), addr);
                }
                None => {
                    log::debug!(
                        "{}: HELLO with unusable endpoint {:?}",
                        self.config.name,
                        hello.endpoint
                    );
                    self.stats.malformed += 1;
                    return;
                }
            }
            if let Some(p) = self.peers.get_mut(&id) {
                if !p.ready {
                    p.ready = true;
                    self.ready_count += 1;
                }
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
        p.refresh(
            now,
            self.config.evasive_timeout,
            self.config.expired_timeout,
        );
        match msg.body {
            Body::Hello(h) => {
                let p = self.peers.get_mut(&id).expect("peer present");
                p.name = h.name.clone();
                p.headers = h.headers.iter().cloned().collect();
                let e = Event::Enter {
                    peer: id,
                    name: h.name.clone(),
                    headers: p.headers.clone(),
                    endpoint: h.endpoint.clone(),
                };
                self.emit(e);
                for g in &h.groups {
                    self.join_peer_group(id, g);
                }
                if let Some(p) = self.peers.get_mut(&id) {
                    p.status = h.status;
                }
            }
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
                if let Some(p) = self.peers.get_mut(&id) {
                    p.send(Body::PingOk, &mut self.scratch);
                    mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
                }
            }
            // Elections are not implemented yet: decoded and ignored, the link stays.
            // GOODBYE only matters in gossip mode; the port-0 beacon covers beacons.
            Body::PingOk | Body::Elect { .. } | Body::Leader { .. } | Body::Goodbye => {}
        }
    }

    fn join_peer_group(&mut self, id: PeerId, group: &str) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.groups.insert(group.to_string());
        p.status = p.status.wrapping_add(1);
        let name = p.name.clone();
        self.peer_groups
            .entry(group.to_string())
            .or_default()
            .insert(id);
        self.emit(Event::Join {
            peer: id,
            name,
            group: group.to_string(),
        });
    }

    fn leave_peer_group(&mut self, id: PeerId, group: &str) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.groups.remove(group);
        p.status = p.status.wrapping_add(1);
        let name = p.name.clone();
        if let Some(set) = self.peer_groups.get_mut(group) {
            set.remove(&id);
            if set.is_empty() {
                self.peer_groups.remove(group);
            }
        }
        self.emit(Event::Leave {
            peer: id,
            name,
            group: group.to_string(),
        });
    }

    /// Zyre asserts here; zmesh drops the peer, whose state we no longer trust.
    fn check_status(&mut self, id: PeerId, status: u8) {
        if let Some(p) = self.peers.get(&id) {
            if p.status != status {
                log::info!(
                    "{}: status mismatch from {id}: ours {} theirs {status}",
                    self.config.name,
                    p.status
                );
                self.remove_peer(id, ExitReason::StatusMismatch);
            }
        }
    }

    fn reap(&mut self, now: Instant) {
        if self.reap_floor.is_some_and(|f| now < f) {
            return;
        }
        let reap = self.config.reap_interval();
        let mut expired = Vec::new();
        let mut events = Vec::new();
        let mut floor: Option<Instant> = None;
        for id in &self.peer_order {
            let Some(p) = self.peers.get_mut(id) else {
                continue;
            };
            if now < p.expired_at {
                floor = Some(floor.map_or(p.evasive_at, |f| f.min(p.evasive_at)));
            }
            if now >= p.expired_at {
                expired.push(p.id);
            } else if now >= p.evasive_at {
                if !self.config.fault_no_ping {
                    p.send(Body::Ping, &mut self.scratch);
                }
                mark(&mut self.dirty, &mut self.full, self.config.max_pending, p);
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
        }
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

/// Notes that a peer's link has output to flush, and whether its queue (including
/// what waits for the handshake or a reconnect) has passed the limit.
fn mark(dirty: &mut Vec<LinkId>, full: &mut Vec<PeerId>, limit: usize, p: &Peer) {
    if p.reconnect_at.is_none() && p.link.pending_output() > 0 {
        dirty.push(p.link_id);
    }
    if p.link.queued() > limit && !full.contains(&p.id) {
        full.push(p.id);
    }
}

fn truncate_255(s: &mut String) {
    if s.len() > 255 {
        let mut n = 255;
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s.truncate(n);
    }
}

/// `tcp://1.2.3.4:5670` → address. Host names are not resolved (the engine does
/// no I/O); the caller falls back to the address the peer was seen at.
pub fn endpoint_addr(endpoint: &str) -> Option<SocketAddr> {
    let rest = endpoint.strip_prefix("tcp://")?;
    if let Ok(a) = rest.parse::<SocketAddr>() {
        return Some(a);
    }
    // IPv6 link-local with a scope (`fe80::1%eth0`) or a bare host: not handled.
    let (host, port) = rest.rsplit_once(':')?;
    let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

#[cfg(test)]
mod tests;

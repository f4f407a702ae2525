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
pub mod curve;
mod election;
use election::Change;
mod endpoint;
pub mod gossip;
mod groups;
pub mod hash;
mod idmap;
mod info;
pub mod link;
mod links;
mod liveness;
pub mod logs;
mod output;
mod peer;
mod peers;
mod place;
mod recv;
mod secure;
mod takeover;
mod timers;
mod verbose;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

pub use config::Config;
pub use endpoint::{endpoint_addr, endpoint_of};
use gossip::Gossip;
use groups::Groups;
pub use groups::{MAX_PEER_GROUPS, MAX_PEER_HEADERS};

/// The most inbox connections a node holds; more are closed at once
/// (`Stats::inbox_refused`).
pub const MAX_INBOX_LINKS: usize = 4096;
/// The most inbox connections from one address.
pub const MAX_INBOX_PER_ADDRESS: usize = 256;
/// The most peers discovered by beacon that have not entered yet: beacons of
/// further new UUIDs are ignored (`Stats::unready_refused`) until some enter or go.
pub const MAX_UNREADY_PEERS: usize = 1024;
/// Reconnects to a peer that has not entered wait at most 2^5 = 32 times
/// `Config::reconnect_interval` (3.2 s by default).
const MAX_BACKOFF_SHIFT: u8 = 5;
pub use info::{BadEndpoint, Faults, PeerFigures, PeerInfo, Stats};
use link::{Router, RouterEvent};
use output::Outputs;
use peers::PeerTable;
pub use place::V6Place;
use timers::{Due, Fixed, Timers};

use crate::event::{Event, ExitReason, PeerId};
use crate::frames::Frames;
use crate::wire::beacon::Beacon;
use crate::wire::zre::Body;
use crate::wire::{check_string, truncate_string, StringTooLong};

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

/// One mesh node's protocol state. See the [module docs](self) for the call order.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    id: PeerId,
    /// Our ZMTP routing id: `0x01` + UUID.
    identity: Vec<u8>,
    endpoint: Option<String>,
    port: u16,
    stopped: bool,
    groups: Groups,
    peers: PeerTable,
    /// Accepted links, each tagged with its sender's UUID once its handshake names
    /// a valid ZRE identity.
    inbox: Router,
    next_link: u64,
    timers: Timers,
    gossip: Gossip,
    /// Reused by the reaper for the ids of the peers that are due.
    due: Vec<PeerId>,
    out: Outputs,
    stats: Stats,
    router_events: Vec<RouterEvent>,
    /// Reused for encoding header frames, so sending allocates nothing for them.
    scratch: peer::Scratch,
    faults: Faults,
    /// Our networks (address, netmask) when the inbox listens on more than one:
    /// a peer on one of them is told our address there.
    networks: Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr)>,
    /// Our IPv6 address and its interface's index, when the inbox takes IPv6: an
    /// IPv6 peer is told it, and a link-local address without a scope gets this
    /// interface's.
    v6: Option<V6Place>,
    /// Where the keys and nonces of CURVE handshakes come from: seeded from the
    /// UUID until the driver seeds it from the OS ([`Engine::seed_random`]).
    rng: rand::rngs::StdRng,
    elections: election::Elections,
    /// HELLOs from another address than a ready peer's, waiting to learn whether
    /// the peer moved (see `takeover.rs`).
    parked: std::collections::BTreeMap<PeerId, takeover::Parked>,
    /// The latest time handed in, for work done where none is (a peer removed
    /// while outputs are polled).
    now: Option<Instant>,
    logs: logs::Logs,
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
        truncate_string(&mut config.name);
        if let Some(keys) = &config.curve {
            // Zyre announces the key in HELLO too.
            let z = crate::wire::z85::encode(keys.public()).unwrap_or_default();
            config.headers.insert("X-PUBLICKEY".into(), z);
        }
        let seed = u64::from_le_bytes(id.0[..8].try_into().expect("8 bytes"));
        let mut e = Engine {
            rng: rand::SeedableRng::seed_from_u64(seed),
            elections: election::Elections::contesting(&config.contest),
            parked: Default::default(),
            logs: Default::default(),
            inbox: Router::new(config.max_message),
            out: Outputs::new(config.max_pending),
            gossip: Gossip::new(config.max_message),
            peers: PeerTable::with_timeouts(config.evasive_timeout, config.expired_timeout),
            config,
            id,
            identity,
            endpoint: None,
            port: 0,
            stopped: false,
            groups: Groups::default(),
            next_link: 1,
            timers: Timers::default(),
            due: Vec::new(),
            stats: Stats::default(),
            router_events: Vec::new(),
            scratch: peer::Scratch {
                buf: Vec::with_capacity(256),
                trace_as: None,
            },
            faults: Faults::default(),
            now: None,
            networks: Vec::new(),
            v6: None,
        };
        // Public until the driver seeds the engine from the OS (the simulator keeps
        // it: its runs must repeat).
        e.set_table_key(&id.0);
        e.scratch.trace_as = e.trace_as();
        e
    }

    /// Breaks the engine on purpose (see [`Faults`]); for tests only.
    #[doc(hidden)]
    pub fn inject_faults(&mut self, faults: Faults) {
        self.faults = faults;
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
        self.peers.iter().map(|p| PeerInfo::of(p, self.now))
    }

    /// One peer's summary.
    pub fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        self.peers.get(&id).map(|p| PeerInfo::of(p, self.now))
    }

    /// True if the peer has said HELLO and not left since (it has entered).
    pub fn is_ready(&self, id: PeerId) -> bool {
        self.peers.get(&id).is_some_and(|p| p.ready)
    }

    /// How many peers have entered and not left.
    pub fn ready_count(&self) -> usize {
        self.peers.ready_count()
    }

    /// The peers that have entered, in id order, without copying their details.
    pub fn ready_peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.iter().filter(|p| p.ready).map(|p| p.id)
    }

    /// The groups a peer is in, as we know them.
    pub fn groups_of(&self, id: PeerId) -> Option<impl Iterator<Item = &str> + '_> {
        self.peers.get(&id).map(|p| p.groups.iter())
    }

    /// Our own groups as a set.
    pub fn own_group_set(&self) -> &BTreeSet<String> {
        self.groups.own()
    }

    /// Peers known to be in `group`.
    pub fn peers_by_group(&self, group: &str) -> Vec<PeerId> {
        self.groups
            .members(group)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The groups we are in.
    pub fn own_groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.groups.own().iter().map(String::as_str)
    }

    /// Every group some peer is in.
    pub fn peer_groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.groups.peer_groups()
    }

    // ---- commands ----

    /// Starts the node with its inbox bound at `inbox` (the address peers connect to):
    /// the first beacon goes out at once.
    pub fn start(&mut self, now: Instant, inbox: SocketAddr) {
        self.now = Some(now);
        if self.endpoint.is_some() {
            return;
        }
        let bound = endpoint_of(inbox);
        // Peers connect to the advertised endpoint; beacons carry its port.
        let advertised = self.config.advertised_endpoint.clone();
        self.port = advertised
            .as_deref()
            .and_then(endpoint_addr)
            .map_or(inbox.port(), |a| a.port());
        self.endpoint = Some(advertised.unwrap_or(bound));
        if self.config.beacon {
            self.send_beacon(self.port);
            self.timers
                .set(Fixed::Beacon, Some(now + self.config.beacon_interval));
        }
        self.timers
            .set(Fixed::Reap, Some(now + self.config.reap_interval()));
        self.gossip_start(now);
        self.contest_at_start();
    }

    /// Connects to a peer known by its UUID and endpoint, without discovery (Zyre's
    /// `zyre_require_peer`): it is greeted as if its beacon had arrived. No effect
    /// if the peer is known or the endpoint is our own.
    ///
    /// In CURVE mode the endpoint carries the peer's public key as Zyre's gossip
    /// writes it: `tcp://10.0.0.7:5670|<40 Z85 characters>`.
    pub fn connect_peer(
        &mut self,
        now: Instant,
        id: PeerId,
        endpoint: &str,
    ) -> Result<(), BadEndpoint> {
        self.now = Some(now);
        let bad = || BadEndpoint(endpoint.to_string());
        let (ep, key) = match endpoint.split_once('|') {
            Some((ep, key)) => (ep, Some(crate::wire::z85::decode_key(key).ok_or_else(bad)?)),
            None => (endpoint, None),
        };
        let addr = endpoint_addr(ep).ok_or_else(bad)?;
        if id != self.id && self.endpoint.as_deref() != Some(ep) && self.is_running() {
            self.require_peer(now, id, ep.to_string(), addr, key);
        }
        Ok(())
    }

    /// Stops politely: a port-0 beacon, every link closed, then a `Stop` event.
    pub fn stop(&mut self, _now: Instant) {
        if !self.is_running() {
            return;
        }
        if self.config.beacon {
            self.send_beacon(0);
        }
        if self.gossip.active() {
            // Without beacons, GOODBYE is how peers learn at once that we left.
            self.send_all(|| Body::Goodbye);
        }
        let stop = Event::Stop {
            peer: self.id,
            name: self.config.name.as_str().into(),
        };
        self.log_event(&stop);
        self.flush_dirty();
        for link in self.logs.drain() {
            self.out.close(link);
        }
        self.timers.clear();
        for link in self.peers.drain() {
            self.out.close(link);
        }
        for link in self.inbox.links() {
            self.out.close(link);
        }
        for link in self.gossip.links() {
            self.out.close(link);
        }
        self.inbox = Router::new(self.config.max_message);
        self.gossip = Gossip::new(self.config.max_message);
        self.groups.clear_members();
        self.stopped = true;
        self.out.push(Output::Event(stop));
    }

    /// Joins a group (no effect if already in it): every peer is told. A name
    /// longer than a ZRE string is refused.
    pub fn join(&mut self, group: &str) -> Result<(), StringTooLong> {
        check_string(group)?;
        let Some(status) = self.groups.join(group) else {
            return Ok(());
        };
        log::debug!("{}: join {group}", self.config.name);
        self.send_all(|| Body::Join {
            group: group.to_string(),
            status,
        });
        if self.is_running() {
            self.membership_changed(group, Change::Us);
        }
        Ok(())
    }

    /// Leaves a group (no effect if not in it): every peer is told.
    pub fn leave(&mut self, group: &str) {
        let Some(status) = self.groups.leave(group) else {
            return;
        };
        log::debug!("{}: leave {group}", self.config.name);
        self.send_all(|| Body::Leave {
            group: group.to_string(),
            status,
        });
        self.left_group(group);
    }

    /// Sends content to one peer. Returns false (and counts it) if the peer is unknown.
    pub fn whisper(&mut self, peer: PeerId, content: &Frames) -> bool {
        let Some(p) = self.peers.get_mut(&peer) else {
            self.stats.whisper_unknown_peer += 1;
            return false;
        };
        p.send_content(None, content, &mut self.scratch);
        self.out.mark(p);
        true
    }

    /// Sends content to every peer known to be in `group` (joined by us or not).
    /// Returns how many peers it went to; a name longer than a ZRE string is refused.
    pub fn shout(&mut self, group: &str, content: &Frames) -> Result<usize, StringTooLong> {
        check_string(group)?;
        let Some(members) = self.groups.members(group) else {
            return Ok(0);
        };
        let mut n = 0;
        for id in members {
            if let Some(p) = self.peers.get_mut(id) {
                p.send_content(Some(group), content, &mut self.scratch);
                self.out.mark(p);
                n += 1;
            }
        }
        Ok(n)
    }

    // ---- inputs ----

    /// A datagram arrived on the beacon port from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.now = Some(now);
        if !self.is_running() {
            return;
        }
        let Ok(beacon) = Beacon::parse(bytes) else {
            self.stats.bad_beacons += 1;
            return;
        };
        if !self.beacon_usable(&beacon) {
            return;
        }
        let id = PeerId(beacon.uuid);
        if id == self.id {
            self.stats.own_beacons_heard += 1;
            return;
        }
        self.stats.beacons_heard += 1;
        if beacon.is_leaving() {
            // Only from the peer's own address: anyone on the LAN can send a
            // datagram with a peer's UUID.
            match self.peers.get(&id) {
                Some(p) if p.addr().ip() == from.ip() => self.remove_peer(id, ExitReason::Left),
                Some(_) => self.stats.spoofed_leaving += 1,
                None => {}
            }
            return;
        }
        // Known peers are left alone (beacons do not refresh liveness, as in Zyre),
        // so skip building the endpoint string for them: this is the hot path.
        if self.peers.contains(&id) {
            return;
        }
        // Every new UUID costs a peer, a connection and a copy of our HELLO.
        if self.peers.unready_count() >= MAX_UNREADY_PEERS {
            self.stats.unready_refused += 1;
            return;
        }
        // `from` keeps the scope of a link-local IPv6 sender.
        let mut addr = from;
        addr.set_port(beacon.port);
        self.require_peer(now, id, endpoint_of(addr), addr, beacon.public_key);
    }

    /// A connection to our inbox was accepted from `from`: returns its id.
    pub fn handle_accepted(&mut self, now: Instant, from: SocketAddr) -> LinkId {
        self.now = Some(now);
        let link = self.new_link();
        log::trace!("{}: accepted {from} as {link:?}", self.config.name);
        // A neighbour may open connections without end: each holds a file handle.
        if self.inbox.len() >= MAX_INBOX_LINKS
            || self.inbox.count_from(from.ip()) >= MAX_INBOX_PER_ADDRESS
        {
            self.stats.inbox_refused += 1;
            self.out.close(link);
            return link;
        }
        let made = self.inbox_link();
        self.inbox.accept_link(link, made, from);
        self.timers
            .handshake_by(now + self.config.handshake_timeout, link);
        self.out.touch(link);
        link
    }

    /// An outgoing connection (from [`Output::Connect`]) is established.
    pub fn handle_connected(&mut self, _now: Instant, link: LinkId) {
        log::trace!("{}: connected {link:?}", self.config.name);
    }

    /// Bytes arrived on a link, split anywhere.
    pub fn handle_bytes(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        self.now = Some(now);
        if self.stopped {
            return;
        }
        if self.inbox.contains(link) {
            self.inbox_bytes(now, link, bytes);
        } else if let Some(id) = self.peers.by_link(link) {
            self.outbox_bytes(id, bytes);
        } else if self.gossip.is_remote(link) {
            self.gossip_remote_bytes(now, link, bytes);
        } else if self.gossip.owns(link) {
            self.gossip_server_bytes(now, link, bytes);
        } else if self.logs.owns(link) {
            self.log_bytes(link, bytes);
        }
    }

    /// A link closed (or failed to connect). The driver forgets it; the engine
    /// reconnects a peer's outgoing link after the reconnect interval, as libzmq does,
    /// unless the reason is [`CloseReason::Overflow`], which drops the peer.
    pub fn handle_closed(&mut self, now: Instant, link: LinkId, reason: CloseReason) {
        self.now = Some(now);
        if self.inbox.contains(link) {
            self.inbox.remove(link);
            return;
        }
        if self.gossip.owns(link) {
            if !self.stopped {
                self.gossip_link_closed(now, link);
            }
            return;
        }
        if self.logs.owns(link) {
            return self.log_link_closed(link);
        }
        let Some(id) = self.peers.unlink(link) else {
            return;
        };
        if self.stopped {
            return;
        }
        if reason == CloseReason::Overflow {
            // The link is out of the table already, so no Close goes back to the driver.
            self.remove_peer(id, ExitReason::Overflow);
            return;
        }
        let new_link = self.new_link();
        let key = self.peers.get(&id).and_then(|p| p.key.as_deref().copied());
        let Some(fresh) = self.dealer_link(key) else {
            self.remove_peer(id, ExitReason::Left);
            return;
        };
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
        p.link = fresh;
        p.link.restore_unsent_messages(unsent);
        // A peer that has not entered may be a name a neighbour made up: back off,
        // up to 32 times the interval, so that it costs a bounded rate of connects.
        let mut wait = self.config.reconnect_interval;
        if !p.ready {
            wait *= 1 << p.failed_connects.min(MAX_BACKOFF_SHIFT);
            p.failed_connects = p.failed_connects.saturating_add(1);
        }
        let at = now + wait;
        p.set_reconnect_at(Some(at));
        self.timers.reconnect_at(at, id);
        self.peers.relink(id, new_link);
    }

    /// Tells the engine the time before a command, without running timers: what a
    /// command schedules (an election's delay) counts from it.
    pub fn set_now(&mut self, now: Instant) {
        self.now = Some(now);
    }

    /// Runs the timers that are due: beacons, reconnects, handshake deadlines and
    /// the reaper.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        if !self.is_running() {
            return;
        }
        while let Some(due) = self.timers.pop_due(now) {
            match due {
                Due::Beacon => {
                    self.send_beacon(self.port);
                    let at = self.timers.get(Fixed::Beacon).unwrap_or(now);
                    let next = at + self.config.beacon_interval;
                    let next = if next <= now {
                        now + self.config.beacon_interval
                    } else {
                        next
                    };
                    self.timers.set(Fixed::Beacon, Some(next));
                }
                Due::Reconnect { peer, at } => {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        if p.reconnect_at() == Some(at) {
                            p.set_reconnect_at(None);
                            p.figures.reconnects = p.figures.reconnects.saturating_add(1);
                            self.out.push(Output::Connect {
                                link: p.link_id,
                                addr: p.addr(),
                            });
                            self.out.touch(p.link_id);
                        }
                    }
                }
                Due::Handshake(link) => {
                    if self.handshake_pending(link) {
                        log::debug!(
                            "{}: accepted link {link:?} did not finish its handshake in time",
                            self.config.name
                        );
                        self.stats.handshake_timeouts += 1;
                        self.inbox.remove(link);
                        self.gossip_link_closed(now, link);
                        self.log_link_closed(link);
                        self.out.close(link);
                    }
                }
                Due::Reap => {
                    self.reap(now);
                    self.timers
                        .set(Fixed::Reap, Some(now + self.config.reap_interval()));
                }
                Due::Gossip => self.gossip_tick(now),
                Due::Election => self.elections_due(now),
            }
        }
    }

    // ---- outputs ----

    /// The next thing for the driver to do, or `None` when there is nothing.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        for id in self.out.take_full() {
            log::warn!(
                "{}: output to {id} passed the limit: dropping it",
                self.config.name
            );
            self.remove_peer(id, ExitReason::Overflow);
        }
        if self.out.is_empty() {
            self.flush_dirty();
        }
        self.out.pop(self.now)
    }

    /// When [`Engine::handle_timeout`] next needs to run, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.is_running() {
            return None;
        }
        self.timers.next()
    }

    // ---- internals (the rest live in the files of their concern) ----

    fn new_link(&mut self) -> LinkId {
        let l = LinkId(self.next_link);
        self.next_link += 1;
        l
    }

    fn send_beacon(&mut self, port: u16) {
        let mut b = Beacon::new(self.id.0, port);
        b.public_key = self.config.curve.as_ref().map(|k| *k.public());
        self.stats.beacons_sent += 1;
        self.out.push(Output::Broadcast(b.encode()));
    }

    fn emit(&mut self, e: Event) {
        log::trace!("{}: event {} from {}", self.config.name, e.kind(), e.peer());
        self.log_event(&e);
        self.out.push(Output::Event(e));
    }
}

#[cfg(test)]
mod tests;

//! The network fabric: virtual time, one queue of deliveries, the broadcast
//! domain, hosts running real engines, and the faults a test can apply to them.
//!
//! [`Net`] can be driven on its own from a test, in code:
//!
//! ```
//! use std::time::Duration;
//! use zmesh::engine::Config;
//! use zmesh_sim::net::Net;
//! use zmesh_sim::profile::Profile;
//! let mut net: Net = Net::new(3, Profile::Lan, 7, Config::new(""));
//! for i in 0..3 {
//!     net.start(i);
//! }
//! net.run_for(Duration::from_secs(3));
//! assert!((0..3).all(|i| net.engine(i).unwrap().ready_count() == 2));
//! net.partition(&[0], &[1, 2]);
//! net.run_for(Duration::from_secs(40));
//! assert_eq!(net.engine(0).unwrap().ready_count(), 0);
//! net.heal();
//! net.run_for(Duration::from_secs(3));
//! assert_eq!(net.engine(0).unwrap().ready_count(), 2);
//! ```

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use zmesh::engine::{Config, Engine, Faults, LinkId, Output};
use zmesh::{Event, PeerId, DEFAULT_PORT};

use crate::profile::{LinkState, Profile};
use crate::queue::{Keyed, Queue};
use crate::rng::{mix, Stream};
use crate::tcp::{Conn, Held};

// The engine's fixed hasher: SipHash showed up in profiles, and nothing here iterates
// these maps in a way that could change a result.
pub(crate) type FastMap<K, V> = zmesh::engine::hash::FixedMap<K, V>;
pub(crate) type FastSet<K> = zmesh::engine::hash::FixedSet<K>;

/// How long a TCP connection survives an outage before it resets.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connect to an unreachable host takes to fail (SYN retries).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The inbox port every simulated node binds.
const INBOX_PORT: u16 = 49152;
/// The port a simulated gossip server listens on.
pub const GOSSIP_PORT: u16 = 5671;

/// Where a host is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Never started.
    NotStarted,
    /// Running.
    Up,
    /// Stopped politely.
    Stopped,
    /// Gone without a word.
    Crashed,
}

pub(crate) struct SimNode {
    pub(crate) engine: Option<Engine>,
    /// Incarnation: bumped at every start, so deliveries to an older one are dropped.
    pub(crate) inc: u32,
    pub(crate) id: PeerId,
    pub(crate) addr: SocketAddr,
    pub(crate) state: NodeState,
    pub(crate) up_since: Instant,
    pub(crate) timer_at: Option<Instant>,
    /// Groups to join when (re)started.
    pub(crate) groups: BTreeSet<String>,
    /// Groups whose leadership it contests, from (re)start.
    pub(crate) contest: BTreeSet<String>,
    /// CURVE: the node's secret key, drawn at its first start and kept.
    pub(crate) key: Option<[u8; 32]>,
}

/// What the fabric saw happen, in order, for the trace and the oracle.
#[derive(Debug)]
pub enum Seen {
    /// A node started with this id.
    Started {
        /// The node.
        node: usize,
        /// Its id in this incarnation.
        id: PeerId,
    },
    /// A node's engine emitted an event.
    Event {
        /// The node.
        node: usize,
        /// The event.
        event: Event,
    },
    /// A connection reset after an outage longer than the TCP user timeout.
    Reset {
        /// The connection's number.
        conn: usize,
    },
}

/// A crash: who crashed, when, and who had entered it then.
#[derive(Debug, Clone)]
pub struct Crash {
    /// The node.
    pub node: usize,
    /// Its id.
    pub id: PeerId,
    /// When.
    pub at: Instant,
    /// The nodes that had it entered at the time.
    pub observers: Vec<usize>,
}

/// Counters of what crossed the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetStats {
    /// Queue entries handled (a broadcast counts once per receiver).
    pub events: u64,
    /// Beacons sent.
    pub beacons_sent: u64,
    /// Beacon deliveries lost.
    pub beacons_lost: u64,
    /// TCP writes.
    pub writes: u64,
}

#[derive(Debug)]
pub(crate) enum Ev<W> {
    Start(usize),
    Timer(usize, u32),
    /// One broadcast's deliveries, in time order: the entry re-queues itself for
    /// the next receiver, so a beacon costs one heap entry, not one per receiver.
    Broadcast(Box<BroadcastPlan>),
    Accept(usize),
    Connected(usize),
    Refused {
        node: u32,
        inc: u32,
        link: LinkId,
    },
    // Narrow fields: the heap moves entries a lot, so they are kept small.
    Data {
        conn: u32,
        to_end: u8,
        bytes: Box<[u8]>,
    },
    Fin {
        conn: u32,
        to_end: u8,
    },
    /// `since`: when the outage began, in nanoseconds since the epoch.
    ResetCheck {
        conn: u32,
        since: u64,
    },
    /// The driver's own entry, handed back by [`Net::step`].
    Wake(W),
}

#[derive(Debug)]
pub(crate) struct BroadcastPlan {
    from: SocketAddr,
    bytes: Vec<u8>,
    /// (time in ns, receiver, receiver's incarnation), sorted.
    deliveries: Vec<(u64, u32, u32)>,
    next: usize,
}

/// A queued delivery. Time is nanoseconds since the epoch: cheaper to compare and
/// move than an `Instant`, and the heap moves entries a lot.
pub(crate) struct Entry<W> {
    at: u64,
    pub(crate) seq: u64,
    ev: Ev<W>,
}

impl<W> Keyed for Entry<W> {
    fn at(&self) -> u64 {
        self.at
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// What one [`Net::step`] did.
#[derive(Debug)]
pub enum Step<W> {
    /// Nothing is queued up to the horizon.
    Done,
    /// A network entry ran.
    Ran,
    /// The driver's own entry came due (its time is [`Net::now`]).
    Wake(W),
}

/// The simulated network: hosts, links, virtual time. `W` is the type of the
/// driver's own queue entries ([`Net::wake_at`]), which share the one queue so that
/// ties break by the order they were queued in, like everything else.
pub struct Net<W = ()> {
    pub(crate) epoch: Instant,
    pub(crate) now: Instant,
    seq: u64,
    pub(crate) queue: Queue<Entry<W>>,
    /// Broadcast deliveries after this (ns since the epoch) stay queued.
    pub(crate) horizon: u64,
    /// The `until` that `horizon` was computed from (computing it costs a clock
    /// subtraction, and the run asks with the same `until` every step).
    horizon_of: Option<Instant>,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) by_addr: FastMap<SocketAddr, usize>,
    pub(crate) by_id: FastMap<PeerId, usize>,
    pub(crate) conns: Vec<Option<Conn>>,
    pub(crate) free_conns: Vec<usize>,
    /// Per node, indexed by the engine's link id (the engine numbers links from 1):
    /// `(conn << 1 | end) + 1`, or 0 for none. Dense and node-local, where a hash
    /// map keyed by (node, link) cost a cache miss per write.
    pub(crate) conn_of: Vec<Vec<u32>>,
    pub(crate) links: Vec<LinkState>,
    pub(crate) default_profile: Profile,
    pub(crate) node_profile: Vec<Option<Profile>>,
    /// Per-link overrides (both directions stored), which win over node profiles.
    pub(crate) link_profile: FastMap<(usize, usize), Profile>,
    pub(crate) blocked: FastSet<(usize, usize)>,
    pub(crate) harness: Stream,
    pub(crate) engine: Config,
    pub(crate) faults: Faults,
    /// Every node in CURVE mode, keys drawn from the harness stream.
    pub(crate) curve: bool,
    pub(crate) seen: Vec<(Instant, Seen)>,
    /// Per node: when it started, stopped, crashed or restarted.
    pub(crate) lifecycle: Vec<Vec<Instant>>,
    /// Per node: when a partition, heal or profile change touched it.
    pub(crate) disturbed: Vec<Vec<Instant>>,
    pub(crate) crashes: Vec<Crash>,
    pub(crate) stats: NetStats,
    /// The nodes that serve gossip (every node is a client of each).
    pub(crate) gossip_servers: Vec<usize>,
}

impl<W> Net<W> {
    /// `n` hosts, none started, on links of `profile`; every random draw derives
    /// from `seed`; each engine starts from `engine` (its name is set per node).
    pub fn new(n: usize, profile: Profile, seed: u64, engine: Config) -> Net<W> {
        let epoch = Instant::now();
        let mut harness = Stream::new(seed, u64::MAX);
        let mut nodes = Vec::with_capacity(n);
        let mut by_addr = FastMap::default();
        for i in 0..n {
            let ip = Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8);
            let addr = SocketAddr::new(IpAddr::V4(ip), INBOX_PORT);
            by_addr.insert(addr, i);
            nodes.push(SimNode {
                engine: None,
                inc: 0,
                id: new_id(&mut harness),
                addr,
                state: NodeState::NotStarted,
                up_since: epoch,
                timer_at: None,
                groups: BTreeSet::new(),
                contest: BTreeSet::new(),
                key: None,
            });
        }
        let links = (0..n * n)
            .map(|k| LinkState {
                rng: Stream::new(seed, k as u64),
                bad: false,
            })
            .collect();
        Net {
            epoch,
            now: epoch,
            seq: 0,
            queue: Queue::default(),
            horizon: u64::MAX,
            horizon_of: None,
            nodes,
            by_addr,
            by_id: FastMap::default(),
            conns: Vec::new(),
            free_conns: Vec::new(),
            conn_of: vec![Vec::new(); n],
            links,
            default_profile: profile,
            node_profile: vec![None; n],
            link_profile: FastMap::default(),
            blocked: FastSet::default(),
            harness,
            engine,
            faults: Faults::default(),
            curve: false,
            seen: Vec::new(),
            lifecycle: vec![Vec::new(); n],
            disturbed: vec![Vec::new(); n],
            crashes: Vec::new(),
            stats: NetStats::default(),
            gossip_servers: Vec::new(),
        }
    }

    /// Makes these nodes gossip servers and every node a client of each, from the
    /// next start on (engines started with `beacon` off then discover by gossip
    /// alone).
    pub fn serve_gossip(&mut self, servers: &[usize]) {
        self.gossip_servers = servers.to_vec();
    }

    /// Breaks every engine started from now on in this way (see [`Faults`]).
    pub fn inject_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    // ---- time ----

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The virtual time the run started at.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Queues the driver's own entry for `at`; [`Net::step`] hands it back.
    pub fn wake_at(&mut self, at: Instant, w: W) {
        self.push(at, Ev::Wake(w));
    }

    /// Runs the next entry due by `until`.
    pub fn step(&mut self, until: Instant) -> Step<W> {
        if self.horizon_of != Some(until) {
            self.horizon_of = Some(until);
            self.horizon = (until - self.epoch).as_nanos() as u64;
        }
        match self.queue.peek_at() {
            Some(at) if at <= self.horizon => {}
            _ => return Step::Done,
        }
        let Entry { at, ev, .. } = self.queue.pop().expect("peeked");
        self.now = self.epoch + Duration::from_nanos(at);
        self.stats.events += 1;
        match ev {
            Ev::Wake(w) => Step::Wake(w),
            ev => {
                self.handle(ev);
                Step::Ran
            }
        }
    }

    /// Runs every network entry due by `t`, then sets the clock to `t`. Returns
    /// early with the driver's own entry if one comes due first.
    pub fn run_until(&mut self, t: Instant) -> Option<W> {
        loop {
            match self.step(t) {
                Step::Done => break,
                Step::Ran => {}
                Step::Wake(w) => return Some(w),
            }
        }
        self.now = self.now.max(t);
        None
    }

    /// [`Net::run_until`] `d` from now, dropping the driver's own entries.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        while self.run_until(t).is_some() {}
    }

    pub(crate) fn push(&mut self, at: Instant, ev: Ev<W>) {
        self.seq += 1;
        let at = (at - self.epoch).as_nanos() as u64;
        self.queue.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    // ---- what happened ----

    /// Takes what was seen since the last call, in order, with the time of each.
    pub fn take_seen(&mut self) -> std::vec::Drain<'_, (Instant, Seen)> {
        self.seen.drain(..)
    }

    /// True if something was seen since the last take.
    pub fn has_seen(&self) -> bool {
        !self.seen.is_empty()
    }

    /// Swaps what was seen with `buf` (empty), so that a caller can go through it
    /// while it drives the network, without a new vector each step.
    pub fn swap_seen(&mut self, buf: &mut Vec<(Instant, Seen)>) {
        std::mem::swap(&mut self.seen, buf);
    }

    /// Records what was seen now.
    pub(crate) fn note(&mut self, s: Seen) {
        self.seen.push((self.now, s));
    }

    // ---- queries ----

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True with no hosts.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A running node's engine.
    pub fn engine(&self, i: usize) -> Option<&Engine> {
        self.nodes[i].engine.as_ref()
    }

    /// Node `i`'s id (in its current or last incarnation).
    pub fn id(&self, i: usize) -> PeerId {
        self.nodes[i].id
    }

    /// The node that has (or had) this id.
    pub fn node_of(&self, id: PeerId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Where node `i` is in its life.
    pub fn state(&self, i: usize) -> NodeState {
        self.nodes[i].state
    }

    /// When node `i` last started.
    pub fn up_since(&self, i: usize) -> Instant {
        self.nodes[i].up_since
    }

    /// How many times node `i` has started.
    pub fn incarnation(&self, i: usize) -> u32 {
        self.nodes[i].inc
    }

    /// When node `i` started, stopped, crashed or restarted.
    pub fn lifecycle(&self, i: usize) -> &[Instant] {
        &self.lifecycle[i]
    }

    /// When a partition, heal or profile change touched node `i`.
    pub fn disturbed(&self, i: usize) -> &[Instant] {
        &self.disturbed[i]
    }

    /// Every crash so far.
    pub fn crashes(&self) -> &[Crash] {
        &self.crashes
    }

    /// The default link profile.
    pub fn default_profile(&self) -> Profile {
        self.default_profile
    }

    /// True if every link runs the default profile's kind `lan`.
    pub fn all_lan(&self) -> bool {
        self.default_profile == Profile::Lan
            && self
                .node_profile
                .iter()
                .all(|p| p.is_none() || *p == Some(Profile::Lan))
    }

    /// Counters of what crossed the network.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    fn host_alive(&self, i: usize) -> bool {
        self.nodes[i].state != NodeState::Crashed
    }

    /// True if TCP between `a` and `b` gets through (both hosts alive, no partition).
    pub fn tcp_path(&self, a: usize, b: usize) -> bool {
        self.host_alive(a)
            && self.host_alive(b)
            && (self.blocked.is_empty()
                || !self.blocked.contains(&(a, b)) && !self.blocked.contains(&(b, a)))
    }

    pub(crate) fn profile(&self, a: usize, b: usize) -> Profile {
        if !self.link_profile.is_empty() {
            if let Some(p) = self.link_profile.get(&(a, b)) {
                return *p;
            }
        }
        // The worse of the two ends' profiles applies to the link between them.
        let pa = self.node_profile[a].unwrap_or(self.default_profile);
        let pb = self.node_profile[b].unwrap_or(self.default_profile);
        fn rank(p: &Profile) -> f64 {
            match p {
                Profile::Lan => 0.0,
                Profile::Wifi => 0.1,
                Profile::Lossy(x) => *x,
            }
        }
        if rank(&pb) > rank(&pa) {
            pb
        } else {
            pa
        }
    }

    pub(crate) fn link(&mut self, a: usize, b: usize) -> (Profile, &mut LinkState) {
        let p = self.profile(a, b);
        let n = self.nodes.len();
        (p, &mut self.links[a * n + b])
    }

    // ---- the engine's side ----

    fn handle(&mut self, ev: Ev<W>) {
        match ev {
            Ev::Start(i) => self.start_node(i, None),
            Ev::Timer(i, inc) => {
                let n = &mut self.nodes[i];
                if n.inc != inc || n.state != NodeState::Up || n.timer_at != Some(self.now) {
                    return;
                }
                n.timer_at = None;
                let now = self.now;
                if let Some(e) = n.engine.as_mut() {
                    e.handle_timeout(now);
                }
                self.drain(i);
            }
            Ev::Broadcast(plan) => self.deliver_broadcast(plan),
            Ev::Accept(c) => self.accept(c),
            Ev::Connected(c) => self.connected(c),
            Ev::Refused { node, inc, link } => self.refused(node as usize, inc, link),
            Ev::Data {
                conn,
                to_end,
                bytes,
            } => self.data(conn as usize, to_end as usize, &bytes),
            Ev::Fin { conn, to_end } => self.close_end(conn as usize, to_end as usize, true),
            Ev::ResetCheck { conn, since } => {
                if self.reset_due(conn as usize, since) {
                    self.note(Seen::Reset {
                        conn: conn as usize,
                    });
                    self.close_end(conn as usize, 0, true);
                    self.close_end(conn as usize, 1, true);
                }
            }
            Ev::Wake(_) => unreachable!("handed back by step"),
        }
    }

    fn deliver_broadcast(&mut self, mut plan: Box<BroadcastPlan>) {
        loop {
            let (_, to, inc) = plan.deliveries[plan.next];
            let to = to as usize;
            let now = self.now;
            let n = &mut self.nodes[to];
            if n.inc == inc && n.state == NodeState::Up {
                if let Some(e) = n.engine.as_mut() {
                    e.handle_datagram(now, plan.from, &plan.bytes);
                }
                self.drain(to);
            }
            plan.next += 1;
            let Some(&(at, ..)) = plan.deliveries.get(plan.next) else {
                return;
            };
            // Deliver the next copy at once if nothing else is due before it;
            // a re-queued entry would come after everything due at the same
            // time, so ties go to the queue: the order is what re-queueing gives.
            let earlier = self.queue.peek_at().is_some_and(|top| top <= at);
            if earlier || at > self.horizon {
                self.seq += 1;
                self.queue.push(Entry {
                    at,
                    seq: self.seq,
                    ev: Ev::Broadcast(plan),
                });
                return;
            }
            self.now = self.epoch + Duration::from_nanos(at);
            self.stats.events += 1;
        }
    }

    /// Carries out everything node `i`'s engine asked for, then re-arms its timer.
    pub(crate) fn drain(&mut self, i: usize) {
        while let Some(out) = self.nodes[i].engine.as_mut().and_then(|e| e.poll_output()) {
            self.output(i, out);
        }
        let n = &mut self.nodes[i];
        let t = if n.state == NodeState::Up {
            n.engine.as_ref().and_then(|e| e.poll_timeout())
        } else {
            None
        };
        if t != n.timer_at {
            n.timer_at = t;
            if let Some(t) = t {
                let inc = n.inc;
                self.push(t.max(self.now), Ev::Timer(i, inc));
            }
        }
    }

    fn output(&mut self, i: usize, out: Output) {
        match out {
            Output::Broadcast(bytes) => self.broadcast(i, bytes),
            Output::Connect { link, addr } if addr.port() == GOSSIP_PORT => {
                let inbox = SocketAddr::new(addr.ip(), INBOX_PORT);
                match self.by_addr.get(&inbox) {
                    Some(&j) if self.gossip_servers.contains(&j) => self.connect(i, j, link, true),
                    _ => {
                        let inc = self.nodes[i].inc;
                        self.push(
                            self.now + Duration::from_millis(1),
                            Ev::Refused {
                                node: i as u32,
                                inc,
                                link,
                            },
                        );
                    }
                }
            }
            Output::Connect { link, addr } => match self.by_addr.get(&addr) {
                Some(&j) => self.connect(i, j, link, false),
                None => {
                    let inc = self.nodes[i].inc;
                    self.push(
                        self.now + Duration::from_millis(1),
                        Ev::Refused {
                            node: i as u32,
                            inc,
                            link,
                        },
                    );
                }
            },
            Output::Write { link, bytes } => {
                self.stats.writes += 1;
                if let Some((c, end)) = self.mapped(i, link) {
                    self.send(c, 1 - end, Held::Data(bytes));
                }
            }
            Output::Close { link } => {
                if let Some((c, end)) = self.mapped(i, link) {
                    self.send(c, 1 - end, Held::Fin);
                    self.close_end(c, end, false);
                }
            }
            Output::Event(event) => self.note(Seen::Event { node: i, event }),
        }
    }

    /// One beacon: a delivery per live receiver, each judged by its link.
    fn broadcast(&mut self, i: usize, bytes: Vec<u8>) {
        self.stats.beacons_sent += 1;
        let now = self.now;
        let from = SocketAddr::new(self.nodes[i].addr.ip(), DEFAULT_PORT);
        let mut deliveries = Vec::with_capacity(self.nodes.len());
        for j in 0..self.nodes.len() {
            if j == i || self.nodes[j].state != NodeState::Up || self.blocked.contains(&(i, j)) {
                continue;
            }
            let (p, st) = self.link(i, j);
            if p.broadcast_lost(st) {
                self.stats.beacons_lost += 1;
                continue;
            }
            let at = ((now + p.latency(st)) - self.epoch).as_nanos() as u64;
            deliveries.push((at, j as u32, self.nodes[j].inc));
        }
        // Stable by time, then by receiver: deterministic.
        deliveries.sort_unstable();
        if let Some(&(at, ..)) = deliveries.first() {
            let plan = BroadcastPlan {
                from,
                bytes,
                deliveries,
                next: 0,
            };
            self.seq += 1;
            self.queue.push(Entry {
                at,
                seq: self.seq,
                ev: Ev::Broadcast(Box::new(plan)),
            });
        }
    }
}

pub(crate) fn new_id(rng: &mut Stream) -> PeerId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[8..].copy_from_slice(&mix(rng.next_u64()).to_be_bytes());
    PeerId(b)
}

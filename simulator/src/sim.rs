//! The discrete-event harness: virtual time, the delivery queue, the broadcast
//! domain, TCP pipes, faults, traffic, and the bookkeeping the oracle reads.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use zmesh::engine::{CloseReason, Config, Engine, LinkId, Output};
use zmesh::{Event, ExitReason, PeerId};

use crate::profile::{LinkState, Profile};
use crate::rng::{mix, Stream};
use crate::scenario::{Action, Nodes, Scenario};
use crate::summary::{Percentiles, Summary};

// The engine's fixed hasher: SipHash showed up in profiles, and nothing here iterates
// these maps in a way that could change a result.
type FastMap<K, V> = zmesh::engine::hash::FixedMap<K, V>;
type FastSet<K> = zmesh::engine::hash::FixedSet<K>;

/// How long a TCP connection survives an outage before it resets.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connect to an unreachable host takes to fail (SYN retries).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages sent this close to the end of a run are "in flight", not lost.
pub const IN_FLIGHT: Duration = Duration::from_secs(10);
/// The inbox port every simulated node binds.
const INBOX_PORT: u16 = 49152;

/// What to run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// The default link profile.
    pub profile: Profile,
    /// The seed every random draw derives from.
    pub seed: u64,
    /// Virtual run time.
    pub duration: Duration,
    /// The engine configuration every node starts from (name is set per node).
    pub engine: Config,
    /// Keep the trace lines (for `--trace`); the hash is computed either way.
    pub keep_trace: bool,
    /// Print a progress line to stderr every few wall seconds.
    pub progress: bool,
}

impl SimConfig {
    /// Defaults: Zyre's timers, lan, seed 1, 60 s.
    pub fn new(nodes: usize) -> SimConfig {
        SimConfig {
            nodes,
            profile: Profile::Lan,
            seed: 1,
            duration: Duration::from_secs(60),
            engine: Config::new(""),
            keep_trace: false,
            progress: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    NotStarted,
    Up,
    Stopped,
    Crashed,
}

struct SimNode {
    engine: Option<Engine>,
    inc: u32,
    id: PeerId,
    addr: SocketAddr,
    state: NodeState,
    up_since: Instant,
    timer_at: Option<Instant>,
    /// Groups to join when (re)started.
    groups: BTreeSet<String>,
    traffic: Stream,
}

#[derive(Debug)]
enum Held {
    Data(Vec<u8>),
    Fin,
}

#[derive(Debug)]
struct End {
    node: usize,
    inc: u32,
    link: Option<LinkId>,
    open: bool,
}

/// One TCP connection: end 0 connected, end 1 accepted. `pipe[k]` carries bytes
/// towards end `k`.
#[derive(Debug)]
struct Conn {
    ends: [End; 2],
    last: [Instant; 2],
    held: [Vec<Held>; 2],
    down_since: Option<Instant>,
}

#[derive(Debug)]
enum Ev {
    Action(usize),
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
    Traffic(usize, u32),
    Sample,
}

/// A queued delivery. Time is nanoseconds since the epoch: cheaper to compare and
/// move than an `Instant`, and the heap moves entries a lot.
#[derive(Debug)]
struct BroadcastPlan {
    from: SocketAddr,
    bytes: Vec<u8>,
    /// (time in ns, receiver, receiver's incarnation), sorted.
    deliveries: Vec<(u64, u32, u32)>,
    next: usize,
}

struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// A message the oracle expects to arrive.
struct Expect {
    from: usize,
    to: usize,
    to_id: PeerId,
    sent_at: Instant,
}

/// One sample of the mesh, once per virtual second (for the plot).
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// Entered peers per node (0 for nodes that are down).
    pub peers: Vec<usize>,
}

/// A fault or lifecycle mark on the timeline (for the plot and attribution).
#[derive(Debug, Clone)]
pub struct Mark {
    /// Seconds since the start.
    pub t: f64,
    /// What happened.
    pub what: String,
}

/// The simulator. Build it with [`Sim::new`], then [`Sim::run`].
pub struct Sim {
    cfg: SimConfig,
    epoch: Instant,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Reverse<Entry>>,
    nodes: Vec<SimNode>,
    by_addr: FastMap<SocketAddr, usize>,
    by_id: FastMap<PeerId, usize>,
    conns: Vec<Option<Conn>>,
    free_conns: Vec<usize>,
    /// Per node, indexed by the engine's link id (the engine numbers links from 1):
    /// `(conn << 1 | end) + 1`, or 0 for none. Dense and node-local, where a hash
    /// map keyed by (node, link) cost a cache miss per write.
    conn_of: Vec<Vec<u64>>,
    links: Vec<LinkState>,
    node_profile: Vec<Option<Profile>>,
    /// Per-link overrides (both directions stored), which win over node profiles.
    link_profile: FastMap<(usize, usize), Profile>,
    blocked: FastSet<(usize, usize)>,
    actions: Vec<(Duration, Action)>,
    whisper_rate: f64,
    shout_rate: f64,
    harness: Stream,
    // --- trace ---
    trace_hash: u64,
    trace: Vec<String>,
    // --- oracle ---
    next_msg: u64,
    expects: FastMap<u64, Vec<Expect>>,
    delivered: FastSet<(u64, usize)>,
    last_seen: FastMap<(PeerId, usize), u64>,
    order_violations: Vec<String>,
    exits: FastMap<(usize, PeerId), Vec<(Instant, ExitReason)>>,
    exit_reasons: BTreeMap<String, u64>,
    lifecycle: Vec<Vec<Instant>>,
    disturbed: Vec<Vec<Instant>>,
    crashes: Vec<(usize, PeerId, Instant, Vec<usize>)>,
    enter_latency: Vec<f64>,
    /// First ENTERs seen: (observer, peer id, peer incarnation).
    entered: FastSet<(usize, PeerId, u32)>,
    false_exits: Vec<String>,
    beacons_sent: u64,
    beacons_lost: u64,
    writes: u64,
    samples: Vec<Sample>,
    marks: Vec<Mark>,
    events_handled: u64,
    /// The expired timeout the crash-detection check assumes (default: the engine's).
    expected_expired: Option<Duration>,
}

impl Sim {
    /// A simulation of `cfg` following `scenario`.
    pub fn new(cfg: SimConfig, scenario: &Scenario) -> Sim {
        let epoch = Instant::now();
        let n = cfg.nodes;
        let mut harness = Stream::new(cfg.seed, u64::MAX);
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
                traffic: Stream::new(cfg.seed, 1 << 40 | i as u64),
            });
        }
        let links = (0..n * n)
            .map(|k| LinkState {
                rng: Stream::new(cfg.seed, k as u64),
                bad: false,
            })
            .collect();
        let mut actions = scenario.actions.clone();
        // Stable: same-time actions keep file order.
        actions.sort_by_key(|(t, _)| *t);
        let mut sim = Sim {
            epoch,
            now: epoch,
            seq: 0,
            queue: BinaryHeap::new(),
            by_id: FastMap::default(),
            by_addr,
            nodes,
            conns: Vec::new(),
            free_conns: Vec::new(),
            conn_of: vec![Vec::new(); n],
            links,
            node_profile: vec![None; n],
            link_profile: FastMap::default(),
            blocked: FastSet::default(),
            actions,
            whisper_rate: 0.0,
            shout_rate: 0.0,
            harness,
            trace_hash: 0xcbf2_9ce4_8422_2325,
            trace: Vec::new(),
            next_msg: 0,
            expects: FastMap::default(),
            delivered: FastSet::default(),
            last_seen: FastMap::default(),
            order_violations: Vec::new(),
            exits: FastMap::default(),
            exit_reasons: BTreeMap::new(),
            lifecycle: vec![Vec::new(); n],
            disturbed: vec![Vec::new(); n],
            crashes: Vec::new(),
            enter_latency: Vec::new(),
            entered: FastSet::default(),
            false_exits: Vec::new(),
            beacons_sent: 0,
            beacons_lost: 0,
            writes: 0,
            samples: Vec::new(),
            marks: Vec::new(),
            events_handled: 0,
            expected_expired: None,
            cfg,
        };
        for i in 0..sim.actions.len() {
            let at = epoch + sim.actions[i].0;
            sim.push(at, Ev::Action(i));
        }
        sim.push(epoch, Ev::Sample);
        sim
    }

    fn map(&mut self, node: usize, link: LinkId, conn: usize, end: usize) {
        let v = &mut self.conn_of[node];
        let k = link.0 as usize;
        if v.len() <= k {
            v.resize(k + 1, 0);
        }
        v[k] = ((conn as u64) << 1 | end as u64) + 1;
    }

    fn mapped(&self, node: usize, link: LinkId) -> Option<(usize, usize)> {
        match self.conn_of[node]
            .get(link.0 as usize)
            .copied()
            .unwrap_or(0)
        {
            0 => None,
            x => Some((((x - 1) >> 1) as usize, ((x - 1) & 1) as usize)),
        }
    }

    /// Forgets a link of `node`'s incarnation `inc` (a stale incarnation's links
    /// were forgotten when it went down).
    fn unmap(&mut self, node: usize, inc: u32, link: LinkId) {
        if self.nodes[node].inc == inc {
            if let Some(slot) = self.conn_of[node].get_mut(link.0 as usize) {
                *slot = 0;
            }
        }
    }

    /// Judges crash detection against this expired timeout instead of the one the
    /// engines run with: how tests show the oracle catching a slow engine.
    pub fn judge_against_expired(&mut self, expired: Duration) {
        self.expected_expired = Some(expired);
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        let at = (at - self.epoch).as_nanos() as u64;
        self.queue.push(Reverse(Entry {
            at,
            seq: self.seq,
            ev,
        }));
    }

    fn secs(&self, t: Instant) -> f64 {
        (t - self.epoch).as_secs_f64()
    }

    /// Adds one trace record: the hash takes its time and `key`, cheaply; the text
    /// is only built when the trace is kept.
    fn log(&mut self, key: [u64; 3], text: impl FnOnce(&Sim) -> String) {
        let t = (self.now - self.epoch).as_nanos() as u64;
        for k in [t, key[0], key[1], key[2]] {
            self.trace_hash = mix(self.trace_hash ^ k);
        }
        if self.cfg.keep_trace {
            let line = format!("{:.6} {}", self.secs(self.now), text(self));
            self.trace.push(line);
        }
    }

    /// A number for a peer in trace keys: its node index, or a hash of its id.
    fn key_of(&self, id: PeerId) -> u64 {
        match self.by_id.get(&id) {
            Some(&i) => i as u64,
            None => str_key(&id.0),
        }
    }

    fn name(&self, id: PeerId) -> String {
        match self.by_id.get(&id) {
            Some(i) => format!("n{i}"),
            None => id.to_string(),
        }
    }

    fn profile(&self, a: usize, b: usize) -> Profile {
        if !self.link_profile.is_empty() {
            if let Some(p) = self.link_profile.get(&(a, b)) {
                return *p;
            }
        }
        // The worse of the two ends' profiles applies to the link between them.
        let pa = self.node_profile[a].unwrap_or(self.cfg.profile);
        let pb = self.node_profile[b].unwrap_or(self.cfg.profile);
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

    fn link(&mut self, a: usize, b: usize) -> (Profile, &mut LinkState) {
        let p = self.profile(a, b);
        let n = self.cfg.nodes;
        (p, &mut self.links[a * n + b])
    }

    fn host_alive(&self, i: usize) -> bool {
        self.nodes[i].state != NodeState::Crashed
    }

    fn tcp_path(&self, a: usize, b: usize) -> bool {
        self.host_alive(a)
            && self.host_alive(b)
            && (self.blocked.is_empty()
                || !self.blocked.contains(&(a, b)) && !self.blocked.contains(&(b, a)))
    }

    /// Runs the scenario to the end and returns the oracle's summary.
    pub fn run(mut self) -> (Summary, Vec<String>, Vec<Sample>, Vec<Mark>) {
        let wall = Instant::now();
        let cpu0 = process_cpu_secs();
        let end = self.epoch + self.cfg.duration;
        let end_ns = self.cfg.duration.as_nanos() as u64;
        let mut last_progress = Instant::now();
        while let Some(Reverse(top)) = self.queue.peek() {
            if top.at > end_ns {
                break;
            }
            let Reverse(Entry { at, ev, .. }) = self.queue.pop().expect("peeked");
            self.now = self.epoch + Duration::from_nanos(at);
            self.events_handled += 1;
            self.handle(ev);
            if self.cfg.progress
                && self.events_handled % 4096 == 0
                && last_progress.elapsed() > Duration::from_secs(2)
            {
                last_progress = Instant::now();
                eprintln!(
                    "t={:.1}s/{:.0}s events={} wall={:.1}s",
                    self.secs(self.now),
                    self.cfg.duration.as_secs_f64(),
                    self.events_handled,
                    wall.elapsed().as_secs_f64()
                );
            }
        }
        self.now = end;
        let wall = wall.elapsed();
        let cpu = process_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
        let mut summary = self.judge(wall);
        summary.cpu_secs = cpu;
        (summary, self.trace, self.samples, self.marks)
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Action(i) => {
                let action = self.actions[i].1.clone();
                self.act(action);
            }
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
            Ev::Broadcast(mut plan) => loop {
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
                    break;
                };
                // Deliver the next copy at once if nothing else is due before it;
                // a re-queued entry would come after everything due at the same
                // time, so ties go to the queue: the order is what re-queueing gives.
                let earlier = self.queue.peek().is_some_and(|Reverse(top)| top.at <= at);
                if earlier || at > self.cfg.duration.as_nanos() as u64 {
                    self.seq += 1;
                    self.queue.push(Reverse(Entry {
                        at,
                        seq: self.seq,
                        ev: Ev::Broadcast(plan),
                    }));
                    break;
                }
                self.now = self.epoch + Duration::from_nanos(at);
                self.events_handled += 1;
            },
            Ev::Accept(c) => self.accept(c),
            Ev::Connected(c) => {
                let Some(conn) = self.conns[c].as_ref() else {
                    return;
                };
                let e = &conn.ends[0];
                let (i, inc, link, open) = (e.node, e.inc, e.link, e.open);
                if open && self.nodes[i].inc == inc && self.nodes[i].state == NodeState::Up {
                    let now = self.now;
                    if let (Some(en), Some(l)) = (self.nodes[i].engine.as_mut(), link) {
                        en.handle_connected(now, l);
                    }
                    self.drain(i);
                }
            }
            Ev::Refused { node, inc, link } => {
                let node = node as usize;
                self.unmap(node, inc, link);
                if self.nodes[node].inc == inc && self.nodes[node].state == NodeState::Up {
                    let now = self.now;
                    if let Some(e) = self.nodes[node].engine.as_mut() {
                        e.handle_closed(now, link, CloseReason::Network);
                    }
                    self.drain(node);
                }
            }
            Ev::Data {
                conn,
                to_end,
                bytes,
            } => {
                let Some(c) = self.conns[conn as usize].as_ref() else {
                    return;
                };
                let e = &c.ends[to_end as usize];
                let (i, inc, link, open) = (e.node, e.inc, e.link, e.open);
                if open && self.nodes[i].inc == inc && self.nodes[i].state == NodeState::Up {
                    let now = self.now;
                    if let (Some(en), Some(l)) = (self.nodes[i].engine.as_mut(), link) {
                        en.handle_bytes(now, l, &bytes);
                    }
                    self.drain(i);
                }
            }
            Ev::Fin { conn, to_end } => self.close_end(conn as usize, to_end as usize, true),
            Ev::ResetCheck { conn, since } => {
                let conn = conn as usize;
                let epoch = self.epoch;
                let still = self.conns[conn].as_ref().is_some_and(|c| {
                    c.down_since
                        .is_some_and(|d| (d - epoch).as_nanos() as u64 == since)
                });
                if still {
                    self.log([1, conn as u64, 0], |_| format!("tcp reset conn{conn}"));
                    self.close_end(conn, 0, true);
                    self.close_end(conn, 1, true);
                }
            }
            Ev::Traffic(i, inc) => self.traffic(i, inc),
            Ev::Sample => {
                let peers = self
                    .nodes
                    .iter()
                    .map(|n| n.engine.as_ref().map_or(0, |e| e.ready_count()))
                    .collect();
                self.samples.push(Sample {
                    t: self.secs(self.now),
                    peers,
                });
                let next = self.now + Duration::from_secs(1);
                self.push(next, Ev::Sample);
            }
        }
    }

    /// Closes one end of a connection as the network sees it: the node there
    /// learns it (if `tell`) and the connection is forgotten once both are closed.
    fn close_end(&mut self, conn: usize, end: usize, tell: bool) {
        let Some(c) = self.conns[conn].as_mut() else {
            return;
        };
        let e = &mut c.ends[end];
        if !e.open {
            return;
        }
        e.open = false;
        let (i, inc, link) = (e.node, e.inc, e.link);
        let both_closed = !c.ends[0].open && !c.ends[1].open;
        if both_closed {
            self.conns[conn] = None;
            self.free_conns.push(conn);
        }
        let Some(link) = link else { return };
        self.unmap(i, inc, link);
        if tell && self.nodes[i].inc == inc && self.nodes[i].state == NodeState::Up {
            let now = self.now;
            if let Some(e) = self.nodes[i].engine.as_mut() {
                e.handle_closed(now, link, CloseReason::Network);
            }
            self.drain(i);
        }
    }

    fn accept(&mut self, c: usize) {
        let Some(conn) = self.conns[c].as_ref() else {
            return;
        };
        let j = conn.ends[1].node;
        let (ci, cinc) = (conn.ends[0].node, conn.ends[0].inc);
        let client_addr = self.nodes[ci].addr;
        if self.nodes[j].state != NodeState::Up || !self.tcp_path(ci, j) {
            // The server went away while the SYN was in flight.
            let link = conn.ends[0].link.expect("client link");
            self.conns[c] = None;
            self.free_conns.push(c);
            let at = self.now + CONNECT_TIMEOUT;
            self.push(
                at,
                Ev::Refused {
                    node: ci as u32,
                    inc: cinc,
                    link,
                },
            );
            return;
        }
        let now = self.now;
        let inc = self.nodes[j].inc;
        let link = self.nodes[j]
            .engine
            .as_mut()
            .expect("up node has an engine")
            .handle_accepted(now, client_addr);
        let conn = self.conns[c].as_mut().expect("present");
        conn.ends[1] = End {
            node: j,
            inc,
            link: Some(link),
            open: true,
        };
        self.map(j, link, c, 1);
        self.drain(j);
    }

    /// Carries out everything node `i`'s engine asked for, then re-arms its timer.
    fn drain(&mut self, i: usize) {
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
        let now = self.now;
        match out {
            Output::Broadcast(bytes) => {
                self.beacons_sent += 1;
                let from = SocketAddr::new(self.nodes[i].addr.ip(), 5670);
                let mut deliveries = Vec::with_capacity(self.cfg.nodes);
                for j in 0..self.cfg.nodes {
                    if j == i
                        || self.nodes[j].state != NodeState::Up
                        || self.blocked.contains(&(i, j))
                    {
                        continue;
                    }
                    let (p, st) = self.link(i, j);
                    if p.broadcast_lost(st) {
                        self.beacons_lost += 1;
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
                    self.queue.push(Reverse(Entry {
                        at,
                        seq: self.seq,
                        ev: Ev::Broadcast(Box::new(plan)),
                    }));
                }
            }
            Output::Connect { link, addr } => {
                let inc = self.nodes[i].inc;
                let Some(&j) = self.by_addr.get(&addr) else {
                    self.push(
                        now + Duration::from_millis(1),
                        Ev::Refused {
                            node: i as u32,
                            inc,
                            link,
                        },
                    );
                    return;
                };
                let (p, st) = self.link(i, j);
                let lat = p.latency(st);
                match self.nodes[j].state {
                    NodeState::Up if self.tcp_path(i, j) => {
                        let c = Conn {
                            ends: [
                                End {
                                    node: i,
                                    inc,
                                    link: Some(link),
                                    open: true,
                                },
                                End {
                                    node: j,
                                    inc: 0,
                                    link: None,
                                    open: true,
                                },
                            ],
                            last: [now + lat * 2, now + lat],
                            held: [Vec::new(), Vec::new()],
                            down_since: None,
                        };
                        let id = match self.free_conns.pop() {
                            Some(id) => {
                                self.conns[id] = Some(c);
                                id
                            }
                            None => {
                                self.conns.push(Some(c));
                                self.conns.len() - 1
                            }
                        };
                        self.map(i, link, id, 0);
                        self.push(now + lat, Ev::Accept(id));
                        self.push(now + lat * 2, Ev::Connected(id));
                    }
                    // Host up, nothing listening: RST after a round trip.
                    NodeState::Stopped | NodeState::NotStarted if self.tcp_path(i, j) => {
                        self.push(
                            now + lat * 2,
                            Ev::Refused {
                                node: i as u32,
                                inc,
                                link,
                            },
                        );
                    }
                    // Host gone or cut off: SYNs go unanswered.
                    _ => self.push(
                        now + CONNECT_TIMEOUT,
                        Ev::Refused {
                            node: i as u32,
                            inc,
                            link,
                        },
                    ),
                }
            }
            Output::Write { link, bytes } => {
                self.writes += 1;
                let Some((c, end)) = self.mapped(i, link) else {
                    return;
                };
                self.send(c, 1 - end, Held::Data(bytes));
            }
            Output::Close { link } => {
                let Some((c, end)) = self.mapped(i, link) else {
                    return;
                };
                self.send(c, 1 - end, Held::Fin);
                self.close_end(c, end, false);
            }
            Output::Event(e) => self.on_event(i, e),
        }
    }

    /// Puts bytes (or a FIN) on the pipe towards end `to`: in order, after what is
    /// already in flight, split at random points; held while the path is down.
    fn send(&mut self, c: usize, to: usize, item: Held) {
        let now = self.now;
        let Some(conn) = self.conns[c].as_ref() else {
            return;
        };
        if !conn.ends[to].open {
            return;
        }
        let (a, b) = (conn.ends[1 - to].node, conn.ends[to].node);
        if !self.tcp_path(a, b) {
            let conn = self.conns[c].as_mut().expect("present");
            conn.held[to].push(item);
            if conn.down_since.is_none() {
                conn.down_since = Some(now);
                self.push(
                    now + TCP_USER_TIMEOUT,
                    Ev::ResetCheck {
                        conn: c as u32,
                        since: (now - self.epoch).as_nanos() as u64,
                    },
                );
            }
            return;
        }
        let (p, st) = self.link(a, b);
        let delay = p.latency(st) + p.tcp_extra(st);
        let cut1 = st.rng.next_u64();
        let cut2 = st.rng.next_u64();
        let conn = self.conns[c].as_mut().expect("present");
        let at = conn.last[to].max(now + delay);
        conn.last[to] = at;
        match item {
            Held::Fin => self.push(
                at,
                Ev::Fin {
                    conn: c as u32,
                    to_end: to as u8,
                },
            ),
            Held::Data(bytes) => {
                // Three writes in four arrive whole; the others in two or three
                // reads cut where the stream says, so decoders see partial frames.
                let len = bytes.len();
                let mut points = [len, len];
                if cut1 & 3 == 3 {
                    points[0] = (cut1 >> 2) as usize % (len + 1);
                    if cut1 & 4 == 4 {
                        points[1] = cut2 as usize % (len + 1);
                    }
                }
                points.sort_unstable();
                if points[0] == len {
                    self.push(
                        at,
                        Ev::Data {
                            conn: c as u32,
                            to_end: to as u8,
                            bytes: bytes.into_boxed_slice(),
                        },
                    );
                    return;
                }
                let mut start = 0;
                for p in points.into_iter().chain(std::iter::once(len)) {
                    if p > start {
                        self.push(
                            at,
                            Ev::Data {
                                conn: c as u32,
                                to_end: to as u8,
                                bytes: bytes[start..p].into(),
                            },
                        );
                        start = p;
                    }
                }
            }
        }
    }

    /// After a heal, every held pipe between reachable ends flows again.
    fn release_held(&mut self) {
        for c in 0..self.conns.len() {
            let Some(conn) = self.conns[c].as_ref() else {
                continue;
            };
            if conn.down_since.is_none() {
                continue;
            }
            let (a, b) = (conn.ends[0].node, conn.ends[1].node);
            if !self.tcp_path(a, b) {
                continue;
            }
            let conn = self.conns[c].as_mut().expect("present");
            conn.down_since = None;
            let held = [
                std::mem::take(&mut conn.held[0]),
                std::mem::take(&mut conn.held[1]),
            ];
            for (to, items) in held.into_iter().enumerate() {
                for it in items {
                    self.send(c, to, it);
                }
            }
        }
    }

    fn start_node(&mut self, i: usize, same_uuid: Option<bool>) {
        let now = self.now;
        let n = &mut self.nodes[i];
        if n.state == NodeState::Up {
            return;
        }
        if let Some(same) = same_uuid {
            if !same {
                let id = new_id(&mut self.harness);
                self.nodes[i].id = id;
            }
        }
        // The new engine numbers its links from 1 again.
        self.conn_of[i].clear();
        let n = &mut self.nodes[i];
        n.inc += 1;
        n.state = NodeState::Up;
        n.up_since = now;
        n.timer_at = None;
        let mut cfg = self.cfg.engine.clone();
        cfg.name = format!("n{i}");
        let mut e = Engine::new(cfg, n.id);
        for g in &n.groups {
            e.join(g);
        }
        e.start(now, n.addr);
        n.engine = Some(e);
        let (id, inc) = (n.id, n.inc);
        self.by_id.insert(id, i);
        self.lifecycle[i].push(now);
        self.log([2, i as u64, str_key(&id.0)], |_| {
            format!("n{i} start {id}")
        });
        self.drain(i);
        self.schedule_traffic(i, inc);
    }

    fn schedule_traffic(&mut self, i: usize, inc: u32) {
        let rate = self.whisper_rate + self.shout_rate;
        if rate <= 0.0 {
            return;
        }
        let dt = self.nodes[i].traffic.exp(1.0 / rate);
        let at = self.now + Duration::from_secs_f64(dt);
        self.push(at, Ev::Traffic(i, inc));
    }

    fn traffic(&mut self, i: usize, inc: u32) {
        if self.nodes[i].inc != inc || self.nodes[i].state != NodeState::Up {
            return;
        }
        let rate = self.whisper_rate + self.shout_rate;
        if rate <= 0.0 {
            return;
        }
        let whisper = self.nodes[i].traffic.unit() * rate < self.whisper_rate;
        let id = self.next_msg;
        let mut payload = id.to_be_bytes().to_vec();
        payload.extend_from_slice(&(i as u32).to_be_bytes());
        let content = vec![payload];
        let now = self.now;
        let node = &mut self.nodes[i];
        let e = node.engine.as_mut().expect("up");
        let mut to: Vec<PeerId> = Vec::new();
        if whisper {
            // The same draw and the same peer as indexing a list of the ready peers,
            // without building one per message.
            let n = e.ready_count();
            if n > 0 {
                let k = node.traffic.below(n);
                let chosen = e.ready_peers().nth(k);
                if let Some(p) = chosen {
                    if e.whisper(p, &content) {
                        to.push(p);
                    }
                }
            }
        } else {
            let groups: Vec<String> = e.own_group_set().iter().cloned().collect();
            if !groups.is_empty() {
                let g = &groups[node.traffic.below(groups.len())];
                to = e.peers_by_group(g);
                e.shout(g, &content);
            }
        }
        if !to.is_empty() {
            self.next_msg += 1;
            let list = to
                .into_iter()
                .filter_map(|p| {
                    self.by_id.get(&p).map(|&j| Expect {
                        from: i,
                        to: j,
                        to_id: p,
                        sent_at: now,
                    })
                })
                .collect();
            self.expects.insert(id, list);
        }
        self.drain(i);
        self.schedule_traffic(i, inc);
    }

    fn on_event(&mut self, i: usize, e: Event) {
        let now = self.now;
        let peer = e.peer();
        match &e {
            Event::Enter { .. } => {
                self.log([3, i as u64, self.key_of(peer)], |s| {
                    format!("n{i} ENTER {}", s.name(peer))
                });
                if let Some(&j) = self.by_id.get(&peer) {
                    if self.entered.insert((i, peer, self.nodes[j].inc)) {
                        let since = self.nodes[i].up_since.max(self.nodes[j].up_since);
                        self.enter_latency.push((now - since).as_secs_f64());
                    }
                }
            }
            Event::Exit { reason, .. } => {
                let key = [4, i as u64, self.key_of(peer) ^ (*reason as u64) << 48];
                self.log(key, |s| {
                    format!("n{i} EXIT {} {}", s.name(peer), reason.as_str())
                });
                *self
                    .exit_reasons
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
                self.exits
                    .entry((i, peer))
                    .or_default()
                    .push((now, *reason));
                self.check_false_exit(i, peer, *reason);
            }
            Event::Join { group, .. } => {
                let key = [5, i as u64, self.key_of(peer) ^ str_key(group.as_bytes())];
                self.log(key, |s| format!("n{i} JOIN {} {group}", s.name(peer)))
            }
            Event::Leave { group, .. } => {
                let key = [6, i as u64, self.key_of(peer) ^ str_key(group.as_bytes())];
                self.log(key, |s| format!("n{i} LEAVE {} {group}", s.name(peer)))
            }
            Event::Whisper { content, .. } | Event::Shout { content, .. } => {
                let Some(f) = content.first().filter(|f| f.len() >= 8) else {
                    return;
                };
                let mut b = [0u8; 8];
                b.copy_from_slice(&f[..8]);
                let id = u64::from_be_bytes(b);
                let key = [7, i as u64, self.key_of(peer) ^ id << 20];
                self.log(key, |s| format!("n{i} {} {} #{id}", e.kind(), s.name(peer)));
                if !self.delivered.insert((id, i)) {
                    self.order_violations
                        .push(format!("n{i} got #{id} from {} twice", self.name(peer)));
                }
                let seen = self.last_seen.entry((peer, i)).or_insert(0);
                let last = *seen;
                *seen = last.max(id + 1);
                if id < last {
                    let msg = format!(
                        "n{i} got #{id} from {} after #{}",
                        self.name(peer),
                        last - 1
                    );
                    self.order_violations.push(msg);
                }
            }
            Event::Evasive { .. } | Event::Silent { .. } => {}
            Event::Stop { .. } => self.log([8, i as u64, 0], |_| format!("n{i} STOP")),
            _ => {}
        }
    }

    /// An EXIT of a peer that is alive, reachable and undisturbed for the whole
    /// expired timeout is false.
    fn check_false_exit(&mut self, i: usize, peer: PeerId, reason: ExitReason) {
        if !matches!(
            reason,
            ExitReason::Expired
                | ExitReason::SequenceGap
                | ExitReason::StatusMismatch
                | ExitReason::ProtocolError
                | ExitReason::Overflow
        ) {
            return;
        }
        let Some(&j) = self.by_id.get(&peer) else {
            return;
        };
        if self.nodes[j].state != NodeState::Up || self.nodes[j].id != peer || !self.tcp_path(i, j)
        {
            return;
        }
        let window = self
            .now
            .checked_sub(self.cfg.engine.expired_timeout + Duration::from_secs(2))
            .unwrap_or(self.epoch);
        let recent = |v: &Vec<Instant>| v.iter().any(|&t| t >= window);
        if recent(&self.lifecycle[j])
            || recent(&self.disturbed[i])
            || recent(&self.disturbed[j])
            || recent(&self.lifecycle[i])
        {
            return;
        }
        let line = format!(
            "{:.3}s n{i} dropped live n{j} ({})",
            self.secs(self.now),
            reason.as_str()
        );
        self.log([9, i as u64, j as u64], |_| format!("false-exit n{i} n{j}"));
        self.false_exits.push(line);
    }

    fn act(&mut self, action: Action) {
        let n = self.cfg.nodes;
        let now = self.now;
        let what = format!("{action:?}");
        self.log([10, str_key(what.as_bytes()), 0], |_| {
            format!("action {what}")
        });
        self.marks.push(Mark {
            t: self.secs(now),
            what: short_action(&action),
        });
        match action {
            Action::Start(nodes, over) => {
                let list = nodes.resolve(n);
                let k = list.len().max(1) as f64;
                for (idx, i) in list.into_iter().enumerate() {
                    let at = now + over.mul_f64(idx as f64 / k);
                    self.push(at, Ev::Start(i));
                }
            }
            Action::Stop(nodes) => {
                for i in nodes.resolve(n) {
                    if self.nodes[i].state != NodeState::Up {
                        continue;
                    }
                    if let Some(e) = self.nodes[i].engine.as_mut() {
                        e.stop(now);
                    }
                    self.drain(i);
                    self.nodes[i].engine = None;
                    self.nodes[i].state = NodeState::Stopped;
                    self.lifecycle[i].push(now);
                }
            }
            Action::Crash(nodes) => {
                for i in nodes.resolve(n) {
                    if self.nodes[i].state != NodeState::Up {
                        continue;
                    }
                    let id = self.nodes[i].id;
                    let observers: Vec<usize> = (0..n)
                        .filter(|&k| {
                            k != i
                                && self.nodes[k]
                                    .engine
                                    .as_ref()
                                    .is_some_and(|e| e.is_ready(id))
                        })
                        .collect();
                    self.crashes.push((i, id, now, observers));
                    self.nodes[i].engine = None;
                    self.nodes[i].state = NodeState::Crashed;
                    self.lifecycle[i].push(now);
                    // Its connections' ends are gone with it; the peers notice only
                    // through silence (or a reset after the TCP user timeout).
                    for c in 0..self.conns.len() {
                        let Some(conn) = self.conns[c].as_mut() else {
                            continue;
                        };
                        for end in 0..2 {
                            if conn.ends[end].node == i && conn.ends[end].open {
                                conn.ends[end].open = false;
                                if let Some(l) = conn.ends[end].link {
                                    let slot = self.conn_of[i].get_mut(l.0 as usize);
                                    if let Some(slot) = slot {
                                        *slot = 0;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Action::Restart(nodes, same) => {
                for i in nodes.resolve(n) {
                    if self.nodes[i].state == NodeState::Up {
                        continue;
                    }
                    self.start_node(i, Some(same));
                }
            }
            Action::Partition(a, b) => {
                for x in a.resolve(n) {
                    for y in b.resolve(n) {
                        if x != y {
                            self.blocked.insert((x, y));
                            self.blocked.insert((y, x));
                        }
                    }
                }
                self.disturb(&a);
                self.disturb(&b);
            }
            Action::PartitionOneway(a, b) => {
                for x in a.resolve(n) {
                    for y in b.resolve(n) {
                        if x != y {
                            self.blocked.insert((x, y));
                        }
                    }
                }
                self.disturb(&a);
                self.disturb(&b);
            }
            Action::Isolate(a) => {
                for x in a.resolve(n) {
                    for y in 0..n {
                        if x != y {
                            self.blocked.insert((x, y));
                            self.blocked.insert((y, x));
                        }
                    }
                }
                self.disturb(&Nodes::All);
            }
            Action::Heal(None) => {
                self.blocked.clear();
                self.disturb(&Nodes::All);
                self.release_held();
            }
            Action::Heal(Some((a, b))) => {
                for x in a.resolve(n) {
                    for y in b.resolve(n) {
                        self.blocked.remove(&(x, y));
                        self.blocked.remove(&(y, x));
                    }
                }
                self.disturb(&a);
                self.disturb(&b);
                self.release_held();
            }
            Action::SetLinkProfile(a, b, p) => {
                for x in a.resolve(n) {
                    for y in b.resolve(n) {
                        if x != y {
                            self.link_profile.insert((x, y), p);
                            self.link_profile.insert((y, x), p);
                        }
                    }
                }
                self.disturb(&a);
                self.disturb(&b);
            }
            Action::SetProfile(a, p) => {
                for x in a.resolve(n) {
                    self.node_profile[x] = Some(p);
                }
                self.disturb(&a);
            }
            Action::Join(a, g) => {
                for x in a.resolve(n) {
                    self.nodes[x].groups.insert(g.clone());
                    if let Some(e) = self.nodes[x].engine.as_mut() {
                        e.join(&g);
                    }
                    self.drain(x);
                }
            }
            Action::Leave(a, g) => {
                for x in a.resolve(n) {
                    self.nodes[x].groups.remove(&g);
                    if let Some(e) = self.nodes[x].engine.as_mut() {
                        e.leave(&g);
                    }
                    self.drain(x);
                }
            }
            Action::Traffic { whisper, shout } => {
                let was = self.whisper_rate + self.shout_rate;
                self.whisper_rate = whisper.max(0.0);
                self.shout_rate = shout.max(0.0);
                if was <= 0.0 {
                    for i in 0..n {
                        if self.nodes[i].state == NodeState::Up {
                            let inc = self.nodes[i].inc;
                            self.schedule_traffic(i, inc);
                        }
                    }
                }
            }
        }
    }

    fn disturb(&mut self, nodes: &Nodes) {
        let now = self.now;
        for x in nodes.resolve(self.cfg.nodes) {
            self.disturbed[x].push(now);
        }
    }

    /// The oracle.
    fn judge(&mut self, wall: Duration) -> Summary {
        let end = self.now;
        let n = self.cfg.nodes;
        let mut violations = Vec::new();
        let bound = self.cfg.profile.enter_bound();
        let reap = self.cfg.engine.reap_interval();
        // 1. Every pair of live, connected, undisturbed nodes has met.
        let mut missing = 0usize;
        let quiet_since = |v: &Vec<Instant>, t: Instant| v.iter().all(|&x| x < t);
        if let Some(cut) = end.checked_sub(bound) {
            for i in 0..n {
                let Some(ei) = self.nodes[i].engine.as_ref() else {
                    continue;
                };
                if self.nodes[i].up_since > cut || !quiet_since(&self.disturbed[i], cut) {
                    continue;
                }
                for j in 0..n {
                    if i == j
                        || self.nodes[j].state != NodeState::Up
                        || self.nodes[j].up_since > cut
                    {
                        continue;
                    }
                    if !quiet_since(&self.disturbed[j], cut) || !self.tcp_path(i, j) {
                        continue;
                    }
                    if !ei.is_ready(self.nodes[j].id) {
                        missing += 1;
                        if missing <= 5 {
                            violations.push(format!(
                                "n{i} has not seen n{j} {}s after both were up",
                                bound.as_secs()
                            ));
                        }
                    }
                }
            }
        }
        if missing > 5 {
            violations.push(format!("... {missing} pairs in all have not met"));
        }
        // 2. Messages: in order, no duplicates, and nothing lost without a reason.
        violations.extend(self.order_violations.iter().take(5).cloned());
        let mut sent = 0u64;
        let mut delivered = 0u64;
        let mut lost: BTreeMap<String, u64> = BTreeMap::new();
        let mut unexplained = Vec::new();
        let mut ids: Vec<&u64> = self.expects.keys().collect();
        ids.sort_unstable();
        for id in ids {
            for x in &self.expects[id] {
                sent += 1;
                if self.delivered.contains(&(*id, x.to)) {
                    delivered += 1;
                    continue;
                }
                let reason = self.loss_reason(x);
                match reason {
                    Some(r) => *lost.entry(r).or_default() += 1,
                    None => {
                        *lost.entry("unexplained".into()).or_default() += 1;
                        if unexplained.len() < 5 {
                            unexplained.push(format!(
                                "#{id} n{} -> n{} sent at {:.3}s never arrived",
                                x.from,
                                x.to,
                                self.secs(x.sent_at)
                            ));
                        }
                    }
                }
            }
        }
        violations.extend(unexplained);
        // 3. Crashed nodes are seen to EXIT within expired + one reap (+ 1 s for
        //    the network).
        let expired = self
            .expected_expired
            .unwrap_or(self.cfg.engine.expired_timeout);
        let detect_bound = expired + reap + Duration::from_secs(1);
        let mut detection = Vec::new();
        let mut unchecked = 0;
        for (k, id, t, observers) in &self.crashes {
            for &o in observers {
                let seen = self
                    .exits
                    .get(&(o, *id))
                    .and_then(|v| v.iter().find(|(x, _)| *x >= *t).map(|(x, _)| *x));
                let observer_lived = self.lifecycle[o].iter().all(|&x| x <= *t)
                    && matches!(self.nodes[o].state, NodeState::Up);
                match seen {
                    Some(x) => {
                        detection.push((x - *t).as_secs_f64());
                        if x - *t > detect_bound {
                            violations.push(format!(
                                "n{o} saw crashed n{k} EXIT only after {:.1}s",
                                (x - *t).as_secs_f64()
                            ));
                        }
                    }
                    None if *t + detect_bound <= end && observer_lived => {
                        violations.push(format!("n{o} never saw crashed n{k} EXIT"));
                    }
                    None => unchecked += 1,
                }
            }
        }
        // 4. No false EXIT on a LAN.
        if self.cfg.profile == Profile::Lan
            && self
                .node_profile
                .iter()
                .all(|p| p.is_none() || *p == Some(Profile::Lan))
        {
            violations.extend(
                self.false_exits
                    .iter()
                    .take(5)
                    .map(|f| format!("false EXIT: {f}")),
            );
        }
        // 5. Group views converge: what i knows of j's groups is what j is in.
        let mut diverged = 0;
        for i in 0..n {
            let Some(ei) = self.nodes[i].engine.as_ref() else {
                continue;
            };
            for j in 0..n {
                let Some(ej) = self.nodes[j].engine.as_ref() else {
                    continue;
                };
                if i == j || !ei.is_ready(ej.id()) {
                    continue;
                }
                if ei.groups_of(ej.id()) != Some(ej.own_group_set()) {
                    diverged += 1;
                    if diverged <= 5 {
                        violations.push(format!(
                            "n{i}'s view of n{j}'s groups differs from n{j}'s own"
                        ));
                    }
                }
            }
        }
        let virtual_secs = self.cfg.duration.as_secs_f64();
        Summary {
            nodes: n,
            profile: self.cfg.profile.to_string(),
            seed: self.cfg.seed,
            virtual_secs,
            wall_secs: wall.as_secs_f64(),
            cpu_secs: None,
            events: self.events_handled,
            enter_latency: Percentiles::of(&mut self.enter_latency),
            exit_detection: Percentiles::of(&mut detection),
            crash_checks_pending: unchecked,
            false_exits: self.false_exits.len() as u64,
            exits_by_reason: self.exit_reasons.clone(),
            messages_sent: sent,
            messages_delivered: delivered,
            messages_lost: lost,
            beacons_sent: self.beacons_sent,
            beacon_deliveries_lost: self.beacons_lost,
            tcp_writes: self.writes,
            trace_hash: format!("{:016x}", self.trace_hash),
            violations,
        }
    }

    /// Why a message did not arrive, if there is a reason the oracle accepts.
    fn loss_reason(&self, x: &Expect) -> Option<String> {
        // TCP stalls last up to a few seconds: a message this young may be on its way.
        if x.sent_at + IN_FLIGHT > self.now {
            return Some("in flight at the end".into());
        }
        let after = |v: &Vec<Instant>| v.iter().any(|&t| t >= x.sent_at);
        if after(&self.lifecycle[x.to]) || self.nodes[x.to].state != NodeState::Up {
            return Some("receiver stopped, crashed or restarted".into());
        }
        if after(&self.lifecycle[x.from]) {
            return Some("sender stopped, crashed or restarted".into());
        }
        let from_id = self.nodes[x.from].id;
        for (o, p) in [(x.to, from_id), (x.from, x.to_id)] {
            if let Some(v) = self.exits.get(&(o, p)) {
                if let Some((_, r)) = v.iter().find(|(t, _)| *t >= x.sent_at) {
                    return Some(format!("peer dropped: {}", r.as_str()));
                }
            }
        }
        if after(&self.disturbed[x.to]) || after(&self.disturbed[x.from]) {
            return Some("partitioned".into());
        }
        None
    }
}

/// This process's CPU time (user + system) in seconds, from /proc on Linux: on a
/// shared machine it is steadier than wall time. None elsewhere.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// FNV-1a of some bytes, for trace keys.
fn str_key(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn new_id(rng: &mut Stream) -> PeerId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[8..].copy_from_slice(&mix(rng.next_u64()).to_be_bytes());
    PeerId(b)
}

fn short_action(a: &Action) -> String {
    let s = format!("{a:?}");
    s.chars()
        .take_while(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

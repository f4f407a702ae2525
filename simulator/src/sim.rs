//! A whole run: the fabric ([`Net`]) driven by a scenario, with traffic, the trace,
//! plot samples and the oracle's verdict.

use std::time::{Duration, Instant};

use zmesh::engine::{Config, Faults};
use zmesh::{Event, PeerId};

use crate::net::{Net, NodeState, Seen, Step};
use crate::oracle::{message_id, Oracle};
use crate::profile::Profile;
use crate::rng::Stream;
use crate::scenario::{Action, Nodes, Scenario};
use crate::summary::Summary;
use crate::trace::{str_key, Trace};

pub use crate::net::{CONNECT_TIMEOUT, TCP_USER_TIMEOUT};
pub use crate::oracle::IN_FLIGHT;

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
    /// Faults injected into every engine (none by default), to see the oracle
    /// catch a broken engine.
    pub faults: Faults,
    /// Discovery by gossip instead of beacons: these nodes serve it, every node is a
    /// client of each (the scenario's `gossip` line, unless set here).
    pub gossip: Option<Nodes>,
    /// CURVE mode on every node, with keys and handshake randomness drawn from the
    /// seed (so runs stay deterministic).
    pub curve: bool,
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
            faults: Faults::default(),
            gossip: None,
            curve: false,
            keep_trace: false,
            progress: false,
        }
    }
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

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The figures and the oracle's verdict.
    pub summary: Summary,
    /// The trace lines (empty unless [`SimConfig::keep_trace`]).
    pub trace: Vec<String>,
    /// One sample of the mesh per virtual second.
    pub samples: Vec<Sample>,
    /// The scenario's actions on the timeline.
    pub marks: Vec<Mark>,
}

/// The driver's own queue entries.
#[derive(Debug)]
enum Wake {
    Action(u32),
    Traffic(u32, u32),
    Sample,
}

/// The simulator. Build it with [`Sim::new`], then [`Sim::run`].
pub struct Sim {
    cfg: SimConfig,
    net: Net<Wake>,
    actions: Vec<(Duration, Action)>,
    whisper_rate: f64,
    shout_rate: f64,
    /// Per node: the stream its traffic draws from (kept across restarts).
    traffic: Vec<Stream>,
    next_msg: u64,
    trace: Trace,
    oracle: Oracle,
    samples: Vec<Sample>,
    marks: Vec<Mark>,
    /// What the fabric saw, taken after each step (kept to reuse its memory).
    seen: Vec<(Instant, Seen)>,
}

impl Sim {
    /// A simulation of `cfg` following `scenario`.
    pub fn new(cfg: SimConfig, scenario: &Scenario) -> Sim {
        let mut engine = cfg.engine.clone();
        let gossip = cfg.gossip.clone().or(scenario.gossip.clone());
        if gossip.is_some() {
            engine.beacon = false;
        }
        let mut net = Net::new(cfg.nodes, cfg.profile, cfg.seed, engine);
        net.inject_faults(cfg.faults);
        net.curve = cfg.curve;
        if let Some(servers) = gossip {
            net.serve_gossip(&servers.resolve(cfg.nodes));
        }
        let epoch = net.epoch();
        let traffic = (0..cfg.nodes)
            .map(|i| Stream::new(cfg.seed, 1 << 40 | i as u64))
            .collect();
        let mut actions = scenario.actions.clone();
        // Stable: same-time actions keep file order.
        actions.sort_by_key(|(t, _)| *t);
        for (i, (t, _)) in actions.iter().enumerate() {
            net.wake_at(epoch + *t, Wake::Action(i as u32));
        }
        net.wake_at(epoch, Wake::Sample);
        Sim {
            trace: Trace::new(epoch, cfg.keep_trace),
            cfg,
            net,
            actions,
            whisper_rate: 0.0,
            shout_rate: 0.0,
            traffic,
            next_msg: 0,
            oracle: Oracle::default(),
            samples: Vec::new(),
            marks: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Judges crash detection against this expired timeout instead of the one the
    /// engines run with: how tests show the oracle catching a slow engine.
    pub fn judge_against_expired(&mut self, expired: Duration) {
        self.oracle.judge_against_expired(expired);
    }

    /// Runs the scenario to the end and returns the oracle's summary.
    pub fn run(mut self) -> Outcome {
        self.run_to_end()
    }

    /// [`Sim::run`], leaving the finished simulation to the caller: a process about
    /// to exit can `std::mem::forget` it rather than take apart a large mesh one
    /// allocation at a time.
    pub fn run_to_end(&mut self) -> Outcome {
        let wall = Instant::now();
        let cpu0 = zmesh_toolkit::proc::cpu_time();
        let end = self.net.epoch() + self.cfg.duration;
        let mut last_progress = Instant::now();
        loop {
            match self.net.step(end) {
                Step::Done => break,
                Step::Ran => {}
                Step::Wake(w) => self.wake(w),
            }
            self.absorb();
            let handled = self.net.stats().events;
            if self.cfg.progress
                && handled.is_multiple_of(4096)
                && last_progress.elapsed() > Duration::from_secs(2)
            {
                last_progress = Instant::now();
                eprintln!(
                    "t={:.1}s/{:.0}s events={handled} wall={:.1}s",
                    self.secs(self.net.now()),
                    self.cfg.duration.as_secs_f64(),
                    wall.elapsed().as_secs_f64()
                );
            }
        }
        self.net.now = end;
        let wall = wall.elapsed();
        let cpu = zmesh_toolkit::proc::cpu_time()
            .zip(cpu0)
            .map(|(b, a)| (b - a).as_secs_f64());
        let mut summary = self.oracle.judge(&self.net, &self.cfg, wall);
        summary.cpu_secs = cpu;
        summary.trace_hash = self.trace.hash();
        Outcome {
            summary,
            trace: self.trace.take_lines(),
            samples: std::mem::take(&mut self.samples),
            marks: std::mem::take(&mut self.marks),
        }
    }

    fn secs(&self, t: Instant) -> f64 {
        (t - self.net.epoch()).as_secs_f64()
    }

    fn wake(&mut self, w: Wake) {
        match w {
            Wake::Action(i) => {
                let action = self.actions[i as usize].1.clone();
                self.act(action);
            }
            Wake::Traffic(i, inc) => self.traffic(i as usize, inc),
            Wake::Sample => {
                let peers = (0..self.net.len())
                    .map(|i| self.net.engine(i).map_or(0, |e| e.ready_count()))
                    .collect();
                self.samples.push(Sample {
                    t: self.secs(self.net.now()),
                    peers,
                });
                let next = self.net.now() + Duration::from_secs(1);
                self.net.wake_at(next, Wake::Sample);
            }
        }
    }

    /// Takes what the fabric saw into the trace and the oracle, in order.
    fn absorb(&mut self) {
        if !self.net.has_seen() {
            return;
        }
        let mut seen = std::mem::take(&mut self.seen);
        self.net.swap_seen(&mut seen);
        for (at, s) in seen.drain(..) {
            match s {
                Seen::Started { node: i, id } => {
                    self.trace.log(at, [2, i as u64, str_key(&id.0)], || {
                        format!("n{i} start {id}")
                    });
                    let inc = self.net.incarnation(i);
                    self.schedule_traffic(i, inc);
                }
                Seen::Reset { conn } => {
                    self.trace
                        .log(at, [1, conn as u64, 0], || format!("tcp reset conn{conn}"));
                }
                Seen::Event { node, event } => self.on_event(at, node, &event),
            }
        }
        self.seen = seen;
    }

    /// A number for a peer in trace keys: its node index, or a hash of its id.
    fn key_of(&self, id: PeerId) -> u64 {
        match self.net.node_of(id) {
            Some(i) => i as u64,
            None => str_key(&id.0),
        }
    }

    fn on_event(&mut self, at: Instant, i: usize, e: &Event) {
        let peer = e.peer();
        let net = &self.net;
        let name = || match net.node_of(peer) {
            Some(j) => format!("n{j}"),
            None => peer.to_string(),
        };
        let key = self.key_of(peer);
        match e {
            Event::Enter { .. } => {
                self.trace
                    .log(at, [3, i as u64, key], || format!("n{i} ENTER {}", name()));
            }
            Event::Exit { reason, .. } => {
                self.trace
                    .log(at, [4, i as u64, key ^ (*reason as u64) << 48], || {
                        format!("n{i} EXIT {} {}", name(), reason.as_str())
                    });
            }
            Event::Join { group, .. } => {
                let key = [5, i as u64, key ^ str_key(group.as_bytes())];
                self.trace
                    .log(at, key, || format!("n{i} JOIN {} {group}", name()))
            }
            Event::Leave { group, .. } => {
                let key = [6, i as u64, key ^ str_key(group.as_bytes())];
                self.trace
                    .log(at, key, || format!("n{i} LEAVE {} {group}", name()))
            }
            Event::Whisper { content, .. } | Event::Shout { content, .. } => {
                let Some(id) = message_id(content) else {
                    return;
                };
                let key = [7, i as u64, key ^ id << 20];
                self.trace
                    .log(at, key, || format!("n{i} {} {} #{id}", e.kind(), name()));
            }
            Event::Stop { .. } => self
                .trace
                .log(at, [8, i as u64, 0], || format!("n{i} STOP")),
            Event::Leader { group, .. } => {
                let key = [11, i as u64, key ^ str_key(group.as_bytes())];
                self.trace
                    .log(at, key, || format!("n{i} LEADER {} {group}", name()))
            }
            _ => {}
        }
        if let Some(j) = self.oracle.observe(&self.net, at, i, e) {
            self.trace.log(at, [9, i as u64, j as u64], || {
                format!("false-exit n{i} n{j}")
            });
        }
    }

    fn act(&mut self, action: Action) {
        let now = self.net.now();
        let what = format!("{action:?}");
        self.trace.log(now, [10, str_key(what.as_bytes()), 0], || {
            format!("action {what}")
        });
        self.marks.push(Mark {
            t: self.secs(now),
            what: action.short_name(),
        });
        match action {
            Action::Traffic { whisper, shout } => {
                let was = self.whisper_rate + self.shout_rate;
                self.whisper_rate = whisper.max(0.0);
                self.shout_rate = shout.max(0.0);
                if was <= 0.0 {
                    for i in 0..self.net.len() {
                        if self.net.state(i) == NodeState::Up {
                            let inc = self.net.incarnation(i);
                            self.schedule_traffic(i, inc);
                        }
                    }
                }
            }
            // What each restart sets off is taken in before the next one, so that
            // its traffic is queued in the same order as its own entries.
            Action::Restart(nodes, same) => {
                for i in nodes.resolve(self.net.len()) {
                    self.net.restart(i, same);
                    self.absorb();
                }
            }
            action => action.apply(&mut self.net),
        }
    }

    fn schedule_traffic(&mut self, i: usize, inc: u32) {
        let rate = self.whisper_rate + self.shout_rate;
        if rate <= 0.0 {
            return;
        }
        let dt = self.traffic[i].exp(1.0 / rate);
        let at = self.net.now() + Duration::from_secs_f64(dt);
        self.net.wake_at(at, Wake::Traffic(i as u32, inc));
    }

    fn traffic(&mut self, i: usize, inc: u32) {
        if self.net.incarnation(i) != inc || self.net.state(i) != NodeState::Up {
            return;
        }
        let rate = self.whisper_rate + self.shout_rate;
        if rate <= 0.0 {
            return;
        }
        let whisper = self.traffic[i].unit() * rate < self.whisper_rate;
        let id = self.next_msg;
        let mut payload = id.to_be_bytes().to_vec();
        payload.extend_from_slice(&(i as u32).to_be_bytes());
        let content = zmesh::Frames::from([payload]);
        let now = self.net.now();
        let stream = &mut self.traffic[i];
        let to = self
            .net
            .command(i, |e| {
                let mut to: Vec<PeerId> = Vec::new();
                if whisper {
                    // The same draw and the same peer as indexing a list of the
                    // ready peers, without building one per message.
                    let n = e.ready_count();
                    if n > 0 {
                        let k = stream.below(n);
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
                        let g = &groups[stream.below(groups.len())];
                        to = e.peers_by_group(g);
                        let _ = e.shout(g, &content);
                    }
                }
                to
            })
            .unwrap_or_default();
        if !to.is_empty() {
            self.next_msg += 1;
            let list = to
                .into_iter()
                .filter_map(|p| self.net.node_of(p).map(|j| (j, p)))
                .collect();
            self.oracle.sent(id, i, list, now);
        }
        self.absorb();
        self.schedule_traffic(i, inc);
    }
}

//! `churn`: the ZeroMQ guide's Zyre tester, with an oracle. A pool of slots on
//! loopback; every 500–1000 ms one random slot starts a node or stops it (politely
//! or by vanishing); the nodes talk as the book's do; every message is accounted for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, tick, Receiver, Sender};
use serde_json::json;
use zmesh::{Event, ExitReason, Node, PeerId};

use zmesh_toolkit::ledger::Ledger as Deliveries;
use zmesh_toolkit::rng::Stream as Rng;
use zmesh_toolkit::stats::Percentiles;

use crate::common::{parse_payload, payload};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    /// Number of slots.
    pub slots: usize,
    /// How long slots keep toggling.
    pub duration: Duration,
    /// Seed for every choice the tester makes.
    pub seed: u64,
    /// Number of groups (`GROUP000`..).
    pub groups: usize,
    /// The beacon port (loopback only).
    pub port: u16,
    /// The nodes' evasive and expired timeouts.
    pub evasive: Duration,
    /// See `evasive`.
    pub expired: Duration,
    /// Print a progress line every few seconds.
    pub progress: bool,
    /// Collect every node's ZRE-LOG records into this file (JSON lines): a
    /// collector node joins the mesh for the run (the slots do not talk to it).
    pub collect: Option<std::path::PathBuf>,
}

/// A collector writing every LOG event it gets to a file, one JSON line each.
struct Collector {
    node: Node,
    writer: JoinHandle<u64>,
}

impl Collector {
    fn start(cfg: &ChurnConfig, path: &std::path::Path) -> std::io::Result<Collector> {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let node = Node::builder("collector")
            .interface("lo")
            .port(cfg.port)
            .log_collector("tcp://127.0.0.1:0")
            .build()
            .map_err(std::io::Error::other)?;
        let events = node.events();
        let writer = std::thread::spawn(move || {
            let mut n = 0;
            for e in events {
                match e {
                    Event::Log { .. } => {
                        if let Ok(line) = serde_json::to_string(&e) {
                            let _ = writeln!(file, "{line}");
                            n += 1;
                        }
                    }
                    Event::Stop { .. } => break,
                    _ => {}
                }
            }
            let _ = file.flush();
            n
        });
        Ok(Collector { node, writer })
    }

    /// Stops the collector; the number of records written.
    fn finish(mut self) -> u64 {
        self.node.stop();
        self.writer.join().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Polite,
    Vanished,
}

struct Sent {
    id: u64,
    from: PeerId,
    to: PeerId,
    at: Instant,
}

/// Everything the oracle needs, shared by the node threads.
#[derive(Default)]
struct Ledger {
    next_id: u64,
    sent: Vec<Sent>,
    /// Deliveries by (sender, receiver).
    delivered: Deliveries<PeerId, PeerId>,
    violations: Vec<String>,
    exits: HashMap<(PeerId, PeerId), Vec<Instant>>,
    exit_reasons: BTreeMap<&'static str, u64>,
    started: HashMap<PeerId, Instant>,
    ended: HashMap<PeerId, (Instant, Ending)>,
    entered: HashSet<(PeerId, PeerId)>,
    discovery: Vec<f64>,
    unsent: u64,
}

impl Ledger {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn violation(&mut self, v: String) {
        if self.violations.len() < 50 {
            self.violations.push(v);
        }
    }
}

/// What the main thread asks of a slot's thread.
enum Control {
    Stop(Ending),
    Peers(Sender<Vec<PeerId>>),
}

struct Slot {
    id: PeerId,
    control: Sender<Control>,
    thread: JoinHandle<()>,
}

/// The run's result.
#[derive(Debug, Clone)]
pub struct ChurnSummary {
    /// The summary as JSON.
    pub json: serde_json::Value,
    /// What the oracle found wrong.
    pub violations: Vec<String>,
}

/// Runs the churn test.
pub fn run(cfg: &ChurnConfig) -> ChurnSummary {
    let collector = cfg.collect.as_deref().map(|p| Collector::start(cfg, p));
    let t0 = Instant::now();
    let cpu0 = zmesh_toolkit::proc::cpu_time();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let quiet = Arc::new(AtomicBool::new(false));
    let mut rng = Rng::new(cfg.seed, 0);
    let mut slots: Vec<Option<Slot>> = (0..cfg.slots).map(|_| None).collect();
    let mut started = 0u64;
    let mut stopped = [0u64; 2];
    let mut peak_live = 0usize;
    let mut panics = 0u64;
    let mut next_toggle = t0;
    let mut last_progress = t0;
    let end = t0 + cfg.duration;
    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_toggle {
            let k = rng.below(cfg.slots);
            match slots[k].take() {
                Some(slot) => {
                    let how = if rng.one_in(2) {
                        Ending::Polite
                    } else {
                        Ending::Vanished
                    };
                    panics += stop_slot(slot, how, &ledger);
                    stopped[(how == Ending::Vanished) as usize] += 1;
                }
                None => {
                    slots[k] = Some(start_slot(cfg, k, rng.next_u64(), &ledger, &quiet));
                    started += 1;
                }
            }
            next_toggle = now + Duration::from_millis(500 + rng.below(501) as u64);
            peak_live = peak_live.max(slots.iter().filter(|s| s.is_some()).count());
        }
        if cfg.progress && now - last_progress >= Duration::from_secs(5) {
            last_progress = now;
            let l = ledger.lock().expect("ledger");
            eprintln!(
                "t={:.0}s live={} started={} stopped={} sent={} delivered={} violations={}",
                (now - t0).as_secs_f64(),
                slots.iter().filter(|s| s.is_some()).count(),
                started,
                stopped[0] + stopped[1],
                l.sent.len(),
                l.delivered.len(),
                l.violations.len()
            );
        }
        std::thread::sleep(
            next_toggle
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
    // Quiet: the nodes stop starting conversations; let replies and EXITs settle for
    // the expired timeout plus a margin, so that every vanished node has been noticed.
    quiet.store(true, Ordering::SeqCst);
    let settle = cfg.expired + Duration::from_secs(3);
    std::thread::sleep(settle);
    // A peer still listed long after it stopped is a failure.
    let mut stale = Vec::new();
    let listed: Vec<(PeerId, Vec<PeerId>)> = slots
        .iter()
        .flatten()
        .filter_map(|s| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            s.control.send(Control::Peers(tx)).ok()?;
            Some((s.id, rx.recv_timeout(Duration::from_secs(10)).ok()?))
        })
        .collect();
    {
        let l = ledger.lock().expect("ledger");
        let cutoff = Instant::now() - settle + Duration::from_secs(1);
        for (node, peers) in &listed {
            for p in peers {
                if let Some((at, how)) = l.ended.get(p) {
                    if *at < cutoff {
                        stale.push(format!(
                            "{node} still lists {p}, {how:?} {:.1}s ago",
                            at.elapsed().as_secs_f64()
                        ));
                    }
                }
            }
        }
    }
    // The end: everyone stops politely; no traffic is in flight any more.
    for s in slots.iter_mut() {
        if let Some(slot) = s.take() {
            panics += stop_slot(slot, Ending::Polite, &ledger);
        }
    }
    let wall = t0.elapsed();
    let log_records = match collector {
        Some(Ok(c)) => Some(c.finish()),
        Some(Err(e)) => {
            eprintln!("no log collector: {e}");
            None
        }
        None => None,
    };
    let l = ledger.lock().expect("ledger");
    let mut violations = l.violations.clone();
    violations.extend(stale.into_iter().take(10));
    if panics > 0 {
        violations.push(format!("{panics} node threads panicked"));
    }
    // Account for every message.
    let mut outcome: BTreeMap<String, u64> = BTreeMap::new();
    for s in &l.sent {
        if l.delivered.delivered(s.id, &s.to) {
            *outcome.entry("delivered".into()).or_default() += 1;
            continue;
        }
        let reason = loss_reason(&l, s, cfg.expired);
        if reason == "unexplained" && violations.len() < 60 {
            violations.push(format!(
                "message #{} {} -> {} never arrived and nothing explains it",
                s.id, s.from, s.to
            ));
        }
        *outcome.entry(reason).or_default() += 1;
    }
    let mut disc = l.discovery.clone();
    let Percentiles { p50, p99, max, .. } = Percentiles::of(&mut disc);
    let cpu = zmesh_toolkit::proc::cpu_time()
        .zip(cpu0)
        .map(|(b, a)| (b - a).as_secs_f64());
    let json = json!({
        "mode": "churn", "slots": cfg.slots, "seed": cfg.seed, "wall_s": wall.as_secs_f64(),
        "nodes_started": started, "stopped_politely": stopped[0], "vanished": stopped[1],
        "peak_live": peak_live,
        "discovery_s": {"count": disc.len(), "p50": p50, "p99": p99, "max": max},
        "messages": {"sent": l.sent.len(), "not_sent_peer_unknown": l.unsent, "outcome": outcome},
        "protocol_exits": l.exit_reasons,
        "cpu_s": cpu, "peak_memory_bytes": zmesh_toolkit::proc::peak_memory(),
        "log_records": log_records,
        "verdict": if violations.is_empty() { "pass" } else { "fail" },
        "violations": violations,
    });
    ChurnSummary { json, violations }
}

/// How soon after a message a stop or an EXIT must come to explain its loss: on
/// loopback a message lands in milliseconds.
const LOSS_WINDOW: Duration = Duration::from_secs(2);

/// Why a message did not arrive, if anything explains it: its sender stopped or
/// vanished soon after sending it; its receiver had stopped or vanished (the sender
/// had not noticed yet) or did so soon after; or one of them dropped the other
/// within the expired timeout around it.
fn loss_reason(l: &Ledger, s: &Sent, expired: Duration) -> String {
    let recent = |t: Instant| t + expired + LOSS_WINDOW >= s.at && t <= s.at + LOSS_WINDOW;
    let soon = |t: Instant| t + Duration::from_millis(50) >= s.at && t <= s.at + LOSS_WINDOW;
    for (who, label) in [(s.to, "receiver"), (s.from, "sender")] {
        if let Some((at, how)) = l.ended.get(&who) {
            let explains = if who == s.to {
                *at <= s.at + LOSS_WINDOW
            } else {
                soon(*at)
            };
            if explains {
                let how = match how {
                    Ending::Polite => "stopped",
                    Ending::Vanished => "vanished",
                };
                return format!("{label} {how}");
            }
        }
    }
    for pair in [(s.to, s.from), (s.from, s.to)] {
        if l.exits
            .get(&pair)
            .is_some_and(|v| v.iter().any(|t| recent(*t)))
        {
            return "peer dropped by the protocol".into();
        }
    }
    "unexplained".into()
}

fn start_slot(
    cfg: &ChurnConfig,
    k: usize,
    seed: u64,
    ledger: &Arc<Mutex<Ledger>>,
    quiet: &Arc<AtomicBool>,
) -> Slot {
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let mut node = Node::new(&format!("slot{k}"));
    node.set_interface("lo");
    node.set_port(cfg.port);
    // The command line checked the timers.
    node.set_evasive_timeout(cfg.evasive)
        .expect("evasive timeout");
    node.set_expired_timeout(cfg.expired)
        .expect("expired timeout");
    let id = node.uuid();
    ledger
        .lock()
        .expect("ledger")
        .started
        .insert(id, Instant::now());
    let ledger = ledger.clone();
    let quiet = quiet.clone();
    let groups = cfg.groups.max(1);
    let thread = std::thread::Builder::new()
        .name(format!("slot{k}"))
        .spawn(move || {
            behave(
                node,
                control_rx,
                ledger,
                quiet,
                Rng::new(seed, k as u64),
                groups,
            )
        })
        .expect("spawn slot thread");
    Slot {
        id,
        control: control_tx,
        thread,
    }
}

/// Stops a slot's node; returns 1 if its thread panicked.
fn stop_slot(slot: Slot, how: Ending, ledger: &Arc<Mutex<Ledger>>) -> u64 {
    let _ = slot.control.send(Control::Stop(how));
    let panicked = slot.thread.join().is_err() as u64;
    ledger
        .lock()
        .expect("ledger")
        .ended
        .insert(slot.id, (Instant::now(), how));
    panicked
}

/// One node as the book's tester child: whisper newcomers, reply to half the
/// whispers, answer a third of the shouts by whisper and a third by shout, and once a
/// second join or leave a random group (and sometimes shout to one).
fn behave(
    mut node: Node,
    control: Receiver<Control>,
    ledger: Arc<Mutex<Ledger>>,
    quiet: Arc<AtomicBool>,
    mut rng: Rng,
    groups: usize,
) {
    if node.start().is_err() {
        ledger
            .lock()
            .expect("ledger")
            .violation("a node failed to start".into());
        return;
    }
    let me = node.uuid();
    let events = node.events();
    let ticker = tick(Duration::from_secs(1));
    let mut own: Vec<String> = Vec::new();
    loop {
        select! {
            recv(control) -> c => {
                match c.unwrap_or(Control::Stop(Ending::Polite)) {
                    Control::Peers(reply) => {
                        let _ = reply.send(node.peers().unwrap_or_default());
                    }
                    Control::Stop(Ending::Polite) => {
                        node.stop();
                        return;
                    }
                    Control::Stop(Ending::Vanished) => {
                        node.abort();
                        return;
                    }
                }
            }
            recv(ticker) -> _ => {
                if quiet.load(Ordering::SeqCst) {
                    continue;
                }
                let g = format!("GROUP{:03}", rng.below(groups));
                if own.contains(&g) && rng.one_in(2) {
                    let _ = node.leave(&g);
                    own.retain(|x| *x != g);
                } else if !own.contains(&g) {
                    let _ = node.join(&g);
                    own.push(g);
                }
                if !own.is_empty() && rng.one_in(4) {
                    let g = own[rng.below(own.len())].clone();
                    shout(&node, me, &g, 0, &ledger);
                }
            }
            recv(events) -> ev => {
                let Ok(ev) = ev else { return };
                let now = Instant::now();
                match ev {
                    // The run's log collector is not a slot: nobody talks to it.
                    Event::Enter { headers, .. } if headers.contains_key("X-ZRELOG") => {}
                    Event::Enter { peer, .. } => {
                        {
                            let mut l = ledger.lock().expect("ledger");
                            if l.entered.insert((me, peer)) {
                                let since = [l.started.get(&me), l.started.get(&peer)]
                                    .into_iter()
                                    .flatten()
                                    .max()
                                    .copied()
                                    .unwrap_or(now);
                                l.discovery.push((now - since).as_secs_f64());
                            }
                        }
                        whisper(&node, me, peer, 0, &ledger);
                    }
                    Event::Exit { peer, reason, .. } => {
                        let mut l = ledger.lock().expect("ledger");
                        l.exits.entry((me, peer)).or_default().push(now);
                        if reason != ExitReason::Left {
                            *l.exit_reasons.entry(reason.as_str()).or_default() += 1;
                        }
                    }
                    Event::Whisper { peer, content, .. } => {
                        if let Some(hop) = receive(me, peer, &content, &ledger) {
                            if hop == 0 && rng.one_in(2) {
                                whisper(&node, me, peer, 1, &ledger);
                            }
                        }
                    }
                    Event::Shout { peer, group, content, .. } => {
                        if let Some(hop) = receive(me, peer, &content, &ledger) {
                            if hop == 0 {
                                match rng.below(3) {
                                    0 => whisper(&node, me, peer, 1, &ledger),
                                    1 => shout(&node, me, &group, 1, &ledger),
                                    _ => {}
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Checks a received message: in order per sender, never twice.
fn receive(
    me: PeerId,
    from: PeerId,
    content: &zmesh::Frames,
    ledger: &Arc<Mutex<Ledger>>,
) -> Option<u8> {
    let (id, hop) = parse_payload(content.first()?)?;
    let mut l = ledger.lock().expect("ledger");
    let d = l.delivered.deliver(from, me, id);
    if d.twice {
        l.violation(format!("{me} got message #{id} from {from} twice"));
    }
    if let Some(prev) = d.after {
        l.violation(format!(
            "{me} got #{id} from {from} after #{prev}: out of order"
        ));
    }
    Some(hop)
}

/// Ids are taken from the ledger by the sending node's own thread, so each node's
/// ids leave it in increasing order; the send itself happens outside the lock.
fn whisper(node: &Node, me: PeerId, to: PeerId, hop: u8, ledger: &Arc<Mutex<Ledger>>) {
    let id = ledger.lock().expect("ledger").next_id();
    let at = Instant::now();
    let sent = node.whisper_report(to, vec![payload(id, hop)]);
    let mut l = ledger.lock().expect("ledger");
    match sent {
        Ok(true) => l.sent.push(Sent {
            id,
            from: me,
            to,
            at,
        }),
        _ => l.unsent += 1,
    }
}

fn shout(node: &Node, me: PeerId, group: &str, hop: u8, ledger: &Arc<Mutex<Ledger>>) {
    let id = ledger.lock().expect("ledger").next_id();
    let at = Instant::now();
    if let Ok(to) = node.shout_report(group, vec![payload(id, hop)]) {
        let mut l = ledger.lock().expect("ledger");
        for p in to {
            l.sent.push(Sent {
                id,
                from: me,
                to: p,
                at,
            });
        }
    }
}

//! The run's summary: figures and the oracle's verdict, as text or JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Value};

pub use zmesh_toolkit::stats::Percentiles;

use crate::elections::ElectionFigures;

fn percentiles_json(p: &Percentiles) -> Value {
    json!({"count": p.count, "p50_s": p.p50, "p99_s": p.p99, "max_s": p.max})
}

/// What a run measured and whether the oracle held.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Node count.
    pub nodes: usize,
    /// Default profile.
    pub profile: String,
    /// Seed.
    pub seed: u64,
    /// Virtual seconds run.
    pub virtual_secs: f64,
    /// Wall-clock seconds taken.
    pub wall_secs: f64,
    /// CPU seconds the run took (Linux), steadier than wall time on a busy machine.
    pub cpu_secs: Option<f64>,
    /// Events processed.
    pub events: u64,
    /// Time from both ends up to ENTER, per ordered pair.
    pub enter_latency: Percentiles,
    /// Time from a crash to each peer's EXIT.
    pub exit_detection: Percentiles,
    /// Crash observations the run ended too early to judge.
    pub crash_checks_pending: usize,
    /// EXITs of live, reachable, undisturbed peers.
    pub false_exits: u64,
    /// EXIT events by reason.
    pub exits_by_reason: BTreeMap<String, u64>,
    /// Messages expected (a shout counts once per recipient).
    pub messages_sent: u64,
    /// Messages that arrived.
    pub messages_delivered: u64,
    /// Messages that did not, by attributed reason ("unexplained" fails the run).
    pub messages_lost: BTreeMap<String, u64>,
    /// Beacons broadcast.
    pub beacons_sent: u64,
    /// Beacon deliveries the link model dropped.
    pub beacon_deliveries_lost: u64,
    /// TCP writes carried.
    pub tcp_writes: u64,
    /// Hash of the trace: same seed and scenario, same hash.
    pub trace_hash: String,
    /// Elections, when some node contests a group.
    pub elections: Option<ElectionFigures>,
    /// What the oracle found wrong; empty means the run passed.
    pub violations: Vec<String>,
}

impl Summary {
    /// True if the oracle held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Virtual seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.virtual_secs / self.wall_secs.max(1e-9)
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "nodes": self.nodes, "profile": self.profile, "seed": self.seed,
            "virtual_s": self.virtual_secs, "wall_s": self.wall_secs, "speed": self.speed(),
            "cpu_s": self.cpu_secs,
            "events": self.events,
            "time_to_enter": percentiles_json(&self.enter_latency),
            "exit_detection": percentiles_json(&self.exit_detection),
            "crash_checks_pending": self.crash_checks_pending,
            "false_exits": self.false_exits,
            "exits_by_reason": self.exits_by_reason,
            "messages": {"sent": self.messages_sent, "delivered": self.messages_delivered, "lost": self.messages_lost},
            "beacons": {"sent": self.beacons_sent, "deliveries_lost": self.beacon_deliveries_lost},
            "tcp_writes": self.tcp_writes,
            "trace_hash": self.trace_hash,
            "verdict": if self.passed() { "pass" } else { "fail" },
            "violations": self.violations,
        });
        if let Some(e) = &self.elections {
            v["elections"] = e.to_json();
        }
        v
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "nodes {}  profile {}  seed {}",
            self.nodes, self.profile, self.seed
        )?;
        write!(
            f,
            "virtual {:.1}s  wall {:.2}s  speed {:.0}x  events {}",
            self.virtual_secs,
            self.wall_secs,
            self.speed(),
            self.events
        )?;
        match self.cpu_secs {
            Some(c) => writeln!(f, "  cpu {c:.2}s ({:.0}x)", self.virtual_secs / c.max(0.01))?,
            None => writeln!(f)?,
        }
        writeln!(f, "time to ENTER      {}", self.enter_latency)?;
        writeln!(
            f,
            "crash to EXIT      {}  (pending {})",
            self.exit_detection, self.crash_checks_pending
        )?;
        writeln!(f, "false EXITs        {}", self.false_exits)?;
        writeln!(f, "EXITs by reason    {:?}", self.exits_by_reason)?;
        writeln!(
            f,
            "messages           sent {}  delivered {}  lost {:?}",
            self.messages_sent, self.messages_delivered, self.messages_lost
        )?;
        writeln!(
            f,
            "beacons            sent {}  deliveries lost {}   tcp writes {}",
            self.beacons_sent, self.beacon_deliveries_lost, self.tcp_writes
        )?;
        if let Some(e) = &self.elections {
            let s = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}s"));
            writeln!(
                f,
                "elections          LEADER events {}  last at {}  membership last changed at {}  settled {}",
                e.leader_events,
                s(e.last_leader_secs),
                s(e.last_change_secs),
                e.settled
            )?;
        }
        writeln!(f, "trace hash         {}", self.trace_hash)?;
        if self.passed() {
            write!(f, "verdict            PASS")
        } else {
            writeln!(f, "verdict            FAIL")?;
            for v in &self.violations {
                writeln!(f, "  - {v}")?;
            }
            Ok(())
        }
    }
}

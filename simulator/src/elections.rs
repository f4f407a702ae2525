//! The oracle's election rules. Elections are not consensus: while membership
//! changes, or across a partition, members may name different leaders. The rules
//! hold when membership has been still long enough ([`SETTLE`]):
//!
//! 1. every member names a leader that is a member it can reach and that contests
//!    the group, the one with the lowest UUID among those (when any member it can
//!    reach contests it);
//! 2. members that can reach each other name the same leader;
//! 3. at any time, nobody names a leader that does not contest the group, or a
//!    peer it has seen EXIT;
//! 4. elections end: no LEADER event comes once membership has been still for
//!    [`SETTLE`].

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zmesh::Event;

use crate::net::{Net, NodeState};

/// How long membership must have been still (no ENTER, EXIT, JOIN or LEAVE
/// anywhere, no fault for the expired timeout before that) for the rules to hold:
/// the election delay (0.5 s), a wave of a few round trips, and slack for TCP
/// retransmissions under loss.
pub const SETTLE: Duration = Duration::from_secs(15);

/// What the oracle saw of elections.
#[derive(Debug, Default)]
pub struct ElectionWatch {
    last_change: Option<Instant>,
    last_leader: Option<Instant>,
    leader_events: u64,
    /// LEADER events that came when membership had been still for [`SETTLE`].
    late: u64,
}

/// The figures of a run's elections.
#[derive(Debug, Clone, PartialEq)]
pub struct ElectionFigures {
    /// LEADER events, all nodes together.
    pub leader_events: u64,
    /// When the last LEADER event came (seconds from the start).
    pub last_leader_secs: Option<f64>,
    /// When membership last changed (seconds from the start).
    pub last_change_secs: Option<f64>,
    /// Whether membership was still long enough before the end for rules 1 and 2.
    pub settled: bool,
}

impl ElectionFigures {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "leader_events": self.leader_events,
            "last_leader_s": self.last_leader_secs,
            "last_change_s": self.last_change_secs,
            "settled": self.settled,
        })
    }
}

impl ElectionWatch {
    /// Node saw `e` at `now`.
    pub fn observe(&mut self, now: Instant, e: &Event) {
        match e {
            Event::Enter { .. } | Event::Exit { .. } | Event::Join { .. } | Event::Leave { .. } => {
                self.last_change = Some(now)
            }
            Event::Leader { .. } => {
                self.leader_events += 1;
                self.last_leader = Some(now);
                // (Before anyone met, a lone contester leads at once.)
                if self.last_change.is_some_and(|t| t + SETTLE <= now) {
                    self.late += 1;
                }
            }
            _ => {}
        }
    }

    /// Judges the end state of a run ending at `end`; `None` when nobody contests.
    pub fn judge<W>(
        &self,
        net: &Net<W>,
        end: Instant,
        expired: Duration,
        violations: &mut Vec<String>,
    ) -> Option<ElectionFigures> {
        let contested = net.contested();
        if contested.is_empty() {
            return None;
        }
        let n = net.len();
        let fault_cut = end.checked_sub(SETTLE + expired + Duration::from_secs(2));
        let settled = self.last_change.is_none_or(|t| t + SETTLE <= end)
            && fault_cut.is_some_and(|cut| {
                (0..n).all(|i| {
                    net.lifecycle(i)
                        .iter()
                        .chain(net.disturbed(i))
                        .all(|&t| t < cut)
                })
            });
        let mut bad = Vec::new();
        for g in &contested {
            let members: Vec<usize> = (0..n)
                .filter(|&i| net.state(i) == NodeState::Up)
                .filter(|&i| net.engine(i).is_some_and(|e| e.own_group_set().contains(g)))
                .collect();
            let leader = |i: usize| net.engine(i).and_then(|e| e.leader(g));
            for &i in &members {
                let reach: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&j| j == i || (net.tcp_path(i, j) && net.tcp_path(j, i)))
                    .collect();
                let named = leader(i);
                // Rule 3, always.
                if let Some(l) = named {
                    let k = net.node_of(l);
                    if k.is_some_and(|k| !net.contests(k, g)) {
                        bad.push(format!(
                            "n{i} names n{} leader of {g}; it does not contest",
                            k.unwrap_or(0)
                        ));
                    }
                    let known = l == net.id(i) || net.engine(i).is_some_and(|e| e.is_ready(l));
                    if !known {
                        bad.push(format!(
                            "n{i} names {l} leader of {g}, a peer it has seen EXIT"
                        ));
                    }
                }
                if !settled {
                    continue;
                }
                // Rule 1: and the lowest UUID among them, as every contesting
                // member starts an election when membership changes.
                let lowest = reach
                    .iter()
                    .copied()
                    .filter(|&j| net.contests(j, g))
                    .min_by_key(|&j| net.id(j));
                if let Some(lowest) = lowest {
                    if named.and_then(|l| net.node_of(l)) != Some(lowest) {
                        let who = named.and_then(|l| net.node_of(l)).map(|k| format!("n{k}"));
                        bad.push(format!(
                            "n{i} names {} leader of {g}, not n{lowest}, the lowest contesting member it reaches",
                            who.as_deref().unwrap_or("no one")
                        ));
                    }
                }
                // Rule 2.
                for &j in reach.iter().filter(|&&j| j > i) {
                    if leader(j) != named {
                        bad.push(format!("n{i} and n{j} name different leaders of {g}"));
                    }
                }
            }
        }
        // Rule 4: elections end.
        if self.late > 0 {
            bad.push(format!(
                "{} LEADER events after membership had been still for {}s (elections that never end)",
                self.late,
                SETTLE.as_secs()
            ));
        }
        let count = bad.len();
        violations.extend(bad.into_iter().take(5));
        if count > 5 {
            violations.push(format!("... {count} election violations in all"));
        }
        let secs = |t: Option<Instant>| t.map(|t| (t - net.epoch()).as_secs_f64());
        Some(ElectionFigures {
            leader_events: self.leader_events,
            last_leader_secs: secs(self.last_leader),
            last_change_secs: secs(self.last_change),
            settled,
        })
    }
}

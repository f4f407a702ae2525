//! Scenario files: plain text, one line per action with its virtual time.
//!
//! ```text
//! # A partition and its heal.
//! nodes 6
//! profile lan
//! duration 90s
//! at 0s start all over 1s        # staggered over one second
//! at 0s join all chat
//! at 2s traffic whisper 1 shout 0.5   # per node per second
//! at 10s partition n0-n2 n3-n5
//! at 50s heal all
//! at 80s traffic whisper 0 shout 0
//! ```
//!
//! `gossip NODES` turns beacons off: those nodes serve gossip and every node is a
//! client of each of them, so discovery works with no broadcast domain at all.
//!
//! Nodes are `nK`, a range `nA-nB`, or `all`. Actions: `start NODES [over D]`,
//! `stop NODES` (polite), `crash NODES` (vanish without a word), `restart NODES
//! [same-uuid]`, `partition NODES NODES` (both ways), `partition-oneway FROM TO`,
//! `heal NODES NODES` or `heal all`, `isolate NODES`, `profile NODES PROFILE`
//! (`lan`, `wifi`, `lossy:P`), `link-profile NODES NODES PROFILE` (the links
//! between two sets, both ways), `join NODES GROUP`, `leave NODES GROUP`, `contest NODES GROUP`, `crash-leader GROUP`,
//! `traffic whisper RATE shout RATE`. The vocabulary follows turmoil and raft-rs.

use std::time::Duration;

use crate::net::Net;
use crate::profile::Profile;

/// A set of nodes named in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nodes {
    /// Every node.
    All,
    /// Nodes `from..=to`.
    Range(usize, usize),
}

impl Nodes {
    /// The indices among `n` nodes.
    pub fn resolve(&self, n: usize) -> Vec<usize> {
        match self {
            Nodes::All => (0..n).collect(),
            Nodes::Range(a, b) => (*a..=(*b).min(n.saturating_sub(1))).collect(),
        }
    }
}

/// One scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start nodes, spread evenly over a window.
    Start(Nodes, Duration),
    /// Stop politely (port-0 beacon).
    Stop(Nodes),
    /// Vanish without a word.
    Crash(Nodes),
    /// Start again after a stop or crash, with a new UUID or the same.
    Restart(Nodes, bool),
    /// Cut traffic between two sets, both ways.
    Partition(Nodes, Nodes),
    /// Cut traffic from the first set to the second only.
    PartitionOneway(Nodes, Nodes),
    /// Heal between two sets, or everything.
    Heal(Option<(Nodes, Nodes)>),
    /// Cut a set off from everyone else.
    Isolate(Nodes),
    /// Change the profile of these nodes' links.
    SetProfile(Nodes, Profile),
    /// Change the profile of the links between two sets (both directions).
    SetLinkProfile(Nodes, Nodes, Profile),
    /// Join a group.
    Join(Nodes, String),
    /// Leave a group.
    Leave(Nodes, String),
    /// Contest the leadership of a group (from now on, and after restarts).
    Contest(Nodes, String),
    /// Crash the node that the first live member names leader of a group.
    CrashLeader(String),
    /// Per-node message rates (per second).
    Traffic {
        /// Whispers per node per second.
        whisper: f64,
        /// Shouts per node per second.
        shout: f64,
    },
}

impl Action {
    /// Applies the action to a network now (`start ... over D` queues the starts
    /// across the window). `traffic` has no effect here: traffic is the
    /// [`Sim`](crate::sim::Sim)'s.
    pub fn apply<W>(&self, net: &mut Net<W>) {
        let n = net.len();
        match self {
            Action::Start(nodes, over) => {
                let list = nodes.resolve(n);
                let k = list.len().max(1) as f64;
                let now = net.now();
                for (idx, i) in list.into_iter().enumerate() {
                    net.start_at(i, now + over.mul_f64(idx as f64 / k));
                }
            }
            Action::Stop(a) => a.resolve(n).into_iter().for_each(|i| net.stop(i)),
            Action::Crash(a) => a.resolve(n).into_iter().for_each(|i| net.crash(i)),
            Action::Restart(a, same) => {
                a.resolve(n).into_iter().for_each(|i| net.restart(i, *same))
            }
            Action::Partition(a, b) => net.partition(&a.resolve(n), &b.resolve(n)),
            Action::PartitionOneway(a, b) => net.partition_oneway(&a.resolve(n), &b.resolve(n)),
            Action::Isolate(a) => net.isolate(&a.resolve(n)),
            Action::Heal(None) => net.heal(),
            Action::Heal(Some((a, b))) => net.heal_between(&a.resolve(n), &b.resolve(n)),
            Action::SetLinkProfile(a, b, p) => {
                net.set_link_profile(&a.resolve(n), &b.resolve(n), *p)
            }
            Action::SetProfile(a, p) => net.set_profile(&a.resolve(n), *p),
            Action::Join(a, g) => a.resolve(n).into_iter().for_each(|i| net.join(i, g)),
            Action::Leave(a, g) => a.resolve(n).into_iter().for_each(|i| net.leave(i, g)),
            Action::Contest(a, g) => a.resolve(n).into_iter().for_each(|i| net.contest(i, g)),
            Action::CrashLeader(g) => {
                if let Some(k) = net.leader_node(g) {
                    net.crash(k);
                }
            }
            Action::Traffic { .. } => {}
        }
    }

    /// A one-word name for plots (`partition`, `crash`, ...).
    pub fn short_name(&self) -> String {
        let s = format!("{self:?}");
        s.chars()
            .take_while(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    }
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scenario {
    /// `nodes N`, if given.
    pub nodes: Option<usize>,
    /// `profile P`, if given.
    pub profile: Option<Profile>,
    /// `duration D`, if given.
    pub duration: Option<Duration>,
    /// `seed S`, if given.
    pub seed: Option<u64>,
    /// `gossip NODES`, if given: no beacons; these nodes serve gossip and every
    /// node is a client of each of them.
    pub gossip: Option<Nodes>,
    /// Actions in file order (the simulator orders them by time, stably).
    pub actions: Vec<(Duration, Action)>,
}

pub use zmesh_toolkit::parse_duration;

fn parse_nodes(s: &str) -> Result<Nodes, String> {
    if s == "all" {
        return Ok(Nodes::All);
    }
    let idx = |t: &str| {
        t.strip_prefix('n')
            .unwrap_or(t)
            .parse::<usize>()
            .map_err(|_| format!("bad node {t:?} (nK, nA-nB or all)"))
    };
    match s.split_once('-') {
        Some((a, b)) => Ok(Nodes::Range(idx(a)?, idx(b)?)),
        None => {
            let i = idx(s)?;
            Ok(Nodes::Range(i, i))
        }
    }
}

impl Scenario {
    /// Parses a scenario; errors name the line.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let mut sc = Scenario::default();
        for (no, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let w: Vec<&str> = line.split_whitespace().collect();
            let err = |m: String| format!("line {}: {m}: {raw:?}", no + 1);
            let r: Result<(), String> = (|| {
                match w[0] {
                    "nodes" => {
                        sc.nodes = Some(
                            w.get(1)
                                .ok_or("nodes N")?
                                .parse()
                                .map_err(|_| "bad count")?,
                        )
                    }
                    "profile" => sc.profile = Some(w.get(1).ok_or("profile P")?.parse()?),
                    "gossip" => sc.gossip = Some(parse_nodes(w.get(1).ok_or("gossip NODES")?)?),
                    "duration" => {
                        sc.duration = Some(parse_duration(w.get(1).ok_or("duration D")?)?)
                    }
                    "seed" => {
                        sc.seed = Some(w.get(1).ok_or("seed S")?.parse().map_err(|_| "bad seed")?)
                    }
                    "at" => {
                        let t = parse_duration(w.get(1).ok_or("at TIME ACTION")?)?;
                        let a = parse_action(&w[2..])?;
                        sc.actions.push((t, a));
                    }
                    other => return Err(format!("unknown keyword {other:?}")),
                }
                Ok(())
            })();
            r.map_err(err)?;
        }
        Ok(sc)
    }

    /// The scenario used without a file: start everyone within a second, join one
    /// group, talk, and go quiet for the last ten seconds (so in-flight messages land).
    pub fn default_for(duration: Duration) -> Scenario {
        let quiet = duration.saturating_sub(Duration::from_secs(10));
        Scenario {
            actions: vec![
                (
                    Duration::ZERO,
                    Action::Start(Nodes::All, Duration::from_secs(1)),
                ),
                (Duration::ZERO, Action::Join(Nodes::All, "chat".into())),
                (
                    Duration::from_secs(2),
                    Action::Traffic {
                        whisper: 0.5,
                        shout: 0.2,
                    },
                ),
                (
                    quiet,
                    Action::Traffic {
                        whisper: 0.0,
                        shout: 0.0,
                    },
                ),
            ],
            ..Scenario::default()
        }
    }
}

fn parse_action(w: &[&str]) -> Result<Action, String> {
    let arg = |i: usize| {
        w.get(i)
            .copied()
            .ok_or_else(|| format!("{} needs more arguments", w.first().unwrap_or(&"")))
    };
    Ok(match *w.first().ok_or("missing action")? {
        "start" => {
            let over = match (w.get(2), w.get(3)) {
                (Some(&"over"), Some(d)) => parse_duration(d)?,
                _ => Duration::ZERO,
            };
            Action::Start(parse_nodes(arg(1)?)?, over)
        }
        "stop" => Action::Stop(parse_nodes(arg(1)?)?),
        "crash" => Action::Crash(parse_nodes(arg(1)?)?),
        "restart" => Action::Restart(parse_nodes(arg(1)?)?, w.get(2) == Some(&"same-uuid")),
        "partition" => Action::Partition(parse_nodes(arg(1)?)?, parse_nodes(arg(2)?)?),
        "partition-oneway" => Action::PartitionOneway(parse_nodes(arg(1)?)?, parse_nodes(arg(2)?)?),
        "heal" => {
            if arg(1)? == "all" && w.len() == 2 {
                Action::Heal(None)
            } else {
                Action::Heal(Some((parse_nodes(arg(1)?)?, parse_nodes(arg(2)?)?)))
            }
        }
        "isolate" => Action::Isolate(parse_nodes(arg(1)?)?),
        "profile" => Action::SetProfile(parse_nodes(arg(1)?)?, arg(2)?.parse()?),
        "link-profile" => Action::SetLinkProfile(
            parse_nodes(arg(1)?)?,
            parse_nodes(arg(2)?)?,
            arg(3)?.parse()?,
        ),
        "join" => Action::Join(parse_nodes(arg(1)?)?, arg(2)?.to_string()),
        "leave" => Action::Leave(parse_nodes(arg(1)?)?, arg(2)?.to_string()),
        "contest" => Action::Contest(parse_nodes(arg(1)?)?, arg(2)?.to_string()),
        "crash-leader" => Action::CrashLeader(arg(1)?.to_string()),
        "traffic" => {
            let mut whisper = 0.0;
            let mut shout = 0.0;
            for pair in w[1..].chunks(2) {
                let v: f64 = pair
                    .get(1)
                    .ok_or("traffic whisper R shout R")?
                    .parse()
                    .map_err(|_| "bad rate")?;
                match pair[0] {
                    "whisper" => whisper = v,
                    "shout" => shout = v,
                    k => return Err(format!("unknown traffic kind {k:?}")),
                }
            }
            Action::Traffic { whisper, shout }
        }
        other => return Err(format!("unknown action {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_vocabulary() {
        let sc = Scenario::parse(
            "nodes 4\nprofile lossy:0.1\nduration 1m\nseed 9\n\
             at 0s start all over 1s\nat 500ms join n1 chat # c\nat 2s crash n3\n\
             at 3s restart n3 same-uuid\nat 4s partition n0-n1 n2-n3\nat 5s heal all\n\
             at 6s partition-oneway n0 n1\nat 7s isolate n2\nat 8s profile all wifi\n\
             at 9s traffic whisper 1 shout 0.5\nat 10s leave all chat\nat 11s stop n0\n\
             at 12s link-profile n0 n1-n2 lossy:0.5\n",
        )
        .unwrap();
        assert_eq!(sc.nodes, Some(4));
        assert_eq!(sc.duration, Some(Duration::from_secs(60)));
        assert_eq!(sc.actions.len(), 13);
        assert_eq!(
            sc.actions[12].1,
            Action::SetLinkProfile(Nodes::Range(0, 0), Nodes::Range(1, 2), Profile::Lossy(0.5))
        );
        assert_eq!(
            sc.actions[1],
            (
                Duration::from_millis(500),
                Action::Join(Nodes::Range(1, 1), "chat".into())
            )
        );
        assert_eq!(sc.actions[3].1, Action::Restart(Nodes::Range(3, 3), true));
        assert_eq!(Nodes::Range(2, 9).resolve(4), vec![2, 3]);
        assert!(Scenario::parse("at 1s explode n1")
            .unwrap_err()
            .contains("line 1"));
        assert!(Scenario::parse("at soon stop n1").is_err());
    }
}

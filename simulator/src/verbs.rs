//! What a test or a scenario can do to the network: start, stop, crash and restart
//! hosts, cut and heal paths, change link profiles, and give commands to engines.
//! Every fault is recorded, so the oracle can tell which losses it explains.

use std::collections::BTreeSet;
use std::time::Instant;

use zmesh::engine::Engine;

use crate::net::{new_id, Crash, Ev, Net, NodeState, Seen};
use crate::profile::Profile;

impl<W> Net<W> {
    /// Starts node `i` now (no effect if it is up).
    pub fn start(&mut self, i: usize) {
        self.start_node(i, None);
    }

    /// Starts node `i` at `at`.
    pub fn start_at(&mut self, i: usize, at: Instant) {
        self.push(at, Ev::Start(i));
    }

    /// Starts a node that is down again, with its old UUID or a new one.
    pub fn restart(&mut self, i: usize, same_uuid: bool) {
        if self.nodes[i].state != NodeState::Up {
            self.start_node(i, Some(same_uuid));
        }
    }

    /// Stops node `i` politely (a port-0 beacon, links closed).
    pub fn stop(&mut self, i: usize) {
        if self.nodes[i].state != NodeState::Up {
            return;
        }
        let now = self.now;
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.stop(now);
        }
        self.drain(i);
        self.nodes[i].engine = None;
        self.nodes[i].state = NodeState::Stopped;
        self.lifecycle[i].push(now);
    }

    /// The host of node `i` vanishes: no goodbye, no FIN. Its peers notice only
    /// through silence (or a reset after the TCP user timeout).
    pub fn crash(&mut self, i: usize) {
        if self.nodes[i].state != NodeState::Up {
            return;
        }
        let now = self.now;
        let id = self.nodes[i].id;
        let observers: Vec<usize> = (0..self.nodes.len())
            .filter(|&k| {
                k != i
                    && self.nodes[k]
                        .engine
                        .as_ref()
                        .is_some_and(|e| e.is_ready(id))
            })
            .collect();
        self.crashes.push(Crash {
            node: i,
            id,
            at: now,
            observers,
        });
        self.nodes[i].engine = None;
        self.nodes[i].state = NodeState::Crashed;
        self.lifecycle[i].push(now);
        self.drop_ends_of(i);
    }

    /// Cuts every path between the two sets, both ways.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        self.block(a, b, true);
    }

    /// Cuts the paths from `from` to `to` only.
    pub fn partition_oneway(&mut self, from: &[usize], to: &[usize]) {
        self.block(from, to, false);
    }

    fn block(&mut self, a: &[usize], b: &[usize], both_ways: bool) {
        for &x in a {
            for &y in b {
                if x != y {
                    self.blocked.insert((x, y));
                    if both_ways {
                        self.blocked.insert((y, x));
                    }
                }
            }
        }
        self.disturb(a);
        self.disturb(b);
    }

    /// Cuts these nodes off from everyone.
    pub fn isolate(&mut self, a: &[usize]) {
        let n = self.nodes.len();
        for &x in a {
            for y in 0..n {
                if x != y {
                    self.blocked.insert((x, y));
                    self.blocked.insert((y, x));
                }
            }
        }
        let all: Vec<usize> = (0..n).collect();
        self.disturb(&all);
    }

    /// Heals every partition; held bytes flow again.
    pub fn heal(&mut self) {
        self.blocked.clear();
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        self.disturb(&all);
        self.release_held();
    }

    /// Heals the paths between two sets.
    pub fn heal_between(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.blocked.remove(&(x, y));
                self.blocked.remove(&(y, x));
            }
        }
        self.disturb(a);
        self.disturb(b);
        self.release_held();
    }

    /// Sets the profile of the links between two sets (wins over node profiles).
    pub fn set_link_profile(&mut self, a: &[usize], b: &[usize], p: Profile) {
        for &x in a {
            for &y in b {
                if x != y {
                    self.link_profile.insert((x, y), p);
                    self.link_profile.insert((y, x), p);
                }
            }
        }
        self.disturb(a);
        self.disturb(b);
    }

    /// Sets these nodes' profile.
    pub fn set_profile(&mut self, a: &[usize], p: Profile) {
        for &x in a {
            self.node_profile[x] = Some(p);
        }
        self.disturb(a);
    }

    /// Node `i` joins a group (and joins it again after every restart).
    pub fn join(&mut self, i: usize, group: &str) {
        self.nodes[i].groups.insert(group.to_string());
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.set_now(self.now);
            let _ = e.join(group); // too long a name: refused, as by the engine
        }
        self.drain(i);
    }

    /// Node `i` contests the leadership of a group (and again after every restart).
    pub fn contest(&mut self, i: usize, group: &str) {
        self.nodes[i].contest.insert(group.to_string());
        let now = self.now;
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.set_now(now);
            e.set_contest_in_group(group);
        }
        self.drain(i);
    }

    /// Whether node `i` contests `group`.
    pub fn contests(&self, i: usize, group: &str) -> bool {
        self.nodes[i].contest.contains(group)
    }

    /// The node the first live member of `group` names its leader.
    pub fn leader_node(&self, group: &str) -> Option<usize> {
        let l = self.nodes.iter().find_map(|n| {
            let e = n.engine.as_ref().filter(|_| n.state == NodeState::Up)?;
            e.leader(group)
        })?;
        self.node_of(l)
    }

    /// The groups some node contests.
    pub fn contested(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .flat_map(|n| n.contest.iter().cloned())
            .collect()
    }

    /// Node `i` leaves a group.
    pub fn leave(&mut self, i: usize, group: &str) {
        self.nodes[i].groups.remove(group);
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.leave(group);
        }
        self.drain(i);
    }

    /// Runs `f` on a running node's engine, then carries out what it asked for.
    pub fn command<R>(&mut self, i: usize, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        let now = self.now;
        let r = self.nodes[i].engine.as_mut().map(|e| {
            e.set_now(now);
            f(e)
        });
        self.drain(i);
        r
    }

    fn disturb(&mut self, nodes: &[usize]) {
        let now = self.now;
        for &x in nodes {
            self.disturbed[x].push(now);
        }
    }

    pub(crate) fn start_node(&mut self, i: usize, same_uuid: Option<bool>) {
        let now = self.now;
        if self.nodes[i].state == NodeState::Up {
            return;
        }
        if same_uuid == Some(false) {
            self.nodes[i].id = new_id(&mut self.harness);
        }
        // The new engine numbers its links from 1 again.
        self.conn_of[i].clear();
        let servers: Vec<String> = self
            .gossip_servers
            .iter()
            .filter(|&&s| s != i)
            .map(|&s| {
                format!(
                    "tcp://{}:{}",
                    self.nodes[s].addr.ip(),
                    crate::net::GOSSIP_PORT
                )
            })
            .collect();
        let n = &mut self.nodes[i];
        n.inc += 1;
        n.state = NodeState::Up;
        n.up_since = now;
        n.timer_at = None;
        let mut cfg = self.engine.clone();
        cfg.name = format!("n{i}");
        // CURVE: a node keeps its key pair across restarts (as one kept in a
        // certificate); each start draws fresh handshake randomness.
        let mut draw = || {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&self.harness.next_u64().to_le_bytes());
            }
            b
        };
        let mut random = [0u8; 32];
        if self.curve {
            let secret = match self.nodes[i].key {
                Some(k) => k,
                None => draw(),
            };
            random = draw();
            self.nodes[i].key = Some(secret);
            cfg.curve = Some(zmesh::engine::curve::CurveKeys::from_secret(secret));
        }
        let n = &mut self.nodes[i];
        let mut e = Engine::new(cfg, n.id);
        if self.curve {
            e.seed_random(random);
        }
        e.inject_faults(self.faults);
        for g in &n.groups {
            let _ = e.join(g);
        }
        for g in &n.contest {
            e.set_contest_in_group(g);
        }
        for ep in &servers {
            let _ = e.gossip_connect(now, ep);
        }
        e.start(now, n.addr);
        n.engine = Some(e);
        let id = n.id;
        self.by_id.insert(id, i);
        self.lifecycle[i].push(now);
        self.note(Seen::Started { node: i, id });
        self.drain(i);
    }
}

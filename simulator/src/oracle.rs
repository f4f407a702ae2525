//! The oracle: it watches every event of a run ([`Oracle::observe`]) and every
//! message sent ([`Oracle::sent`]), and at the end judges the run against the
//! fabric's record of faults ([`Oracle::judge`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zmesh::{Event, ExitReason, PeerId};

use crate::elections::ElectionWatch;
use crate::net::{FastMap, FastSet, Net, NodeState};
use crate::sim::SimConfig;
use crate::summary::{Percentiles, Summary};

/// Messages sent this close to the end of a run are "in flight", not lost.
pub const IN_FLIGHT: Duration = Duration::from_secs(10);

/// A message sent, the nodes it should reach (each with the id the sender knew
/// it by, as an index into the oracle's list of ids), in node order, and which of
/// them it reached: 8 bytes and a bit per receiver, as a 1,000-node run expects
/// millions of deliveries (a set of (message, receiver) pairs took another 30
/// bytes each, the ids themselves 12 more). Once every receiver has it, only
/// the set of receiving nodes is kept, a bit per node (a shout to 999 peers:
/// 125 bytes instead of 8 KB), as nothing is lost that the judge must explain.
struct Sent {
    from: usize,
    sent_at: Instant,
    to: Vec<(u32, u32)>,
    got: Vec<u64>,
    /// Receiving nodes not reached yet.
    left: u32,
    /// Entries `to` had (a node listed twice counts twice, as the judge counts).
    listed: u32,
    /// Once every receiver was reached (and when smaller than `to` and `got`,
    /// which are emptied): the receiving nodes, a bit each.
    done: Option<Box<[u64]>>,
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl Sent {
    fn new(from: usize, sent_at: Instant, to: Vec<(u32, u32)>) -> Sent {
        let mut nodes: Vec<u32> = to.iter().map(|&(j, _)| j).collect();
        nodes.dedup();
        Sent {
            from,
            sent_at,
            got: vec![0; to.len().div_ceil(64)],
            left: nodes.len() as u32,
            listed: to.len() as u32,
            to,
            done: None,
        }
    }

    /// Marks node `i` as reached; false if it was already, or is not a receiver.
    fn reach(&mut self, i: usize) -> Option<bool> {
        if let Some(nodes) = &self.done {
            return bit(nodes, i).then_some(false);
        }
        let k = self.position(i)?;
        let (w, b) = (k / 64, 1u64 << (k % 64));
        let fresh = self.got[w] & b == 0;
        self.got[w] |= b;
        if fresh {
            self.left -= 1;
            if self.left == 0 {
                self.retire();
            }
        }
        Some(fresh)
    }

    fn reached(&self, i: usize) -> bool {
        if let Some(nodes) = &self.done {
            return bit(nodes, i);
        }
        self.position(i)
            .is_some_and(|k| self.got[k / 64] & (1 << (k % 64)) != 0)
    }

    /// Every receiver has it: keeps only which nodes they are, if that is smaller.
    fn retire(&mut self) {
        let Some(&(last, _)) = self.to.last() else {
            return;
        };
        let words = (last as usize + 1).div_ceil(64);
        if words >= self.to.len() + self.got.len() {
            return;
        }
        let mut nodes = vec![0u64; words];
        for &(j, _) in &self.to {
            nodes[j as usize / 64] |= 1 << (j % 64);
        }
        self.done = Some(nodes.into_boxed_slice());
        self.to = Vec::new();
        self.got = Vec::new();
    }

    fn position(&self, i: usize) -> Option<usize> {
        let i = u32::try_from(i).ok()?;
        self.to.binary_search_by_key(&i, |&(j, _)| j).ok()
    }
}

/// One delivery the oracle expects.
struct Expect {
    from: usize,
    to: usize,
    to_id: PeerId,
    sent_at: Instant,
}

/// What the oracle has seen so far.
#[derive(Default)]
pub struct Oracle {
    expects: FastMap<u64, Sent>,
    /// The order of deliveries: per receiving node, by the index of the sender's
    /// id, one more than the highest message id it had from that sender (which
    /// arrived is kept in `expects`, or in `unexpected` for receivers not
    /// expected). Dense, as a 1,000-node run has a million pairs, where a map
    /// took about 70 bytes each.
    next_from: Vec<Vec<u64>>,
    unexpected: FastSet<(u64, usize)>,
    /// Every id a message was sent to or an ENTER named, once: `Sent`,
    /// `next_from` and `entered` keep indexes into it.
    peer_ids: Vec<PeerId>,
    peer_index: FastMap<PeerId, u32>,
    order_violations: Vec<String>,
    exits: FastMap<(usize, PeerId), Vec<(Instant, ExitReason)>>,
    exit_reasons: BTreeMap<String, u64>,
    enter_latency: Vec<f64>,
    /// First ENTERs seen: per observing node, by the index of the peer's id, one
    /// more than the peer's incarnation when its ENTER was counted (incarnations
    /// only grow, so this is the set of (observer, id, incarnation) seen).
    entered: Vec<Vec<u32>>,
    false_exits: Vec<String>,
    /// The expired timeout the crash-detection check assumes (default: the engine's).
    expected_expired: Option<Duration>,
    elections: ElectionWatch,
}

/// Row `i`, column `k` of a table that grows as rows and columns are used.
fn cell<T: Default + Clone>(rows: &mut Vec<Vec<T>>, i: usize, k: u32) -> &mut T {
    if rows.len() <= i {
        rows.resize_with(i + 1, Vec::new);
    }
    let row = &mut rows[i];
    let k = k as usize;
    if row.len() <= k {
        row.resize(k + 1, T::default());
    }
    &mut row[k]
}

/// The id a simulated message carries in its first frame, if it has one.
pub fn message_id(content: &zmesh::Frames) -> Option<u64> {
    let f = content.first().filter(|f| f.len() >= 8)?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&f[..8]);
    Some(u64::from_be_bytes(b))
}

impl Oracle {
    /// Judges crash detection against this expired timeout instead of the one the
    /// engines run with: how tests show the oracle catching a slow engine.
    pub fn judge_against_expired(&mut self, expired: Duration) {
        self.expected_expired = Some(expired);
    }

    /// The index of `id` in the list of ids messages were sent to.
    fn intern(&mut self, id: PeerId) -> u32 {
        let ids = &mut self.peer_ids;
        *self.peer_index.entry(id).or_insert_with(|| {
            ids.push(id);
            (ids.len() - 1) as u32
        })
    }

    /// Message `id` went from `from` to each of `to` (node, id) at `at`.
    pub fn sent(&mut self, id: u64, from: usize, to: Vec<(usize, PeerId)>, at: Instant) {
        let mut to: Vec<(u32, u32)> = to
            .into_iter()
            .map(|(j, to_id)| (j as u32, self.intern(to_id)))
            .collect();
        // A node listed twice (under an old id and a new one) shares one bit.
        to.sort_unstable_by_key(|&(j, _)| j);
        self.expects.insert(id, Sent::new(from, at, to));
    }

    /// Node `i` saw `e` at `net.now()`. Returns the peer's node if the event is a
    /// false EXIT (a live, reachable, undisturbed peer dropped).
    pub fn observe<W>(&mut self, net: &Net<W>, now: Instant, i: usize, e: &Event) -> Option<usize> {
        let peer = e.peer();
        self.elections.observe(now, e);
        match e {
            Event::Enter { .. } => {
                if let Some(j) = net.node_of(peer) {
                    let k = self.intern(peer);
                    let seen = cell(&mut self.entered, i, k);
                    let now_seen = net.incarnation(j) + 1;
                    if *seen != now_seen {
                        *seen = now_seen;
                        let since = net.up_since(i).max(net.up_since(j));
                        self.enter_latency.push((now - since).as_secs_f64());
                    }
                }
            }
            Event::Exit { reason, .. } => {
                *self
                    .exit_reasons
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
                self.exits
                    .entry((i, peer))
                    .or_default()
                    .push((now, *reason));
                return self.check_false_exit(net, now, i, peer, *reason);
            }
            Event::Whisper { content, .. } | Event::Shout { content, .. } => {
                let id = message_id(content)?;
                let name = || match net.node_of(peer) {
                    Some(j) => format!("n{j}"),
                    None => peer.to_string(),
                };
                let fresh = match self.expects.get_mut(&id).and_then(|s| s.reach(i)) {
                    Some(fresh) => fresh,
                    None => self.unexpected.insert((id, i)),
                };
                let k = self.intern(peer);
                let next = cell(&mut self.next_from, i, k);
                let last = *next;
                *next = last.max(id + 1);
                let after = (id < last).then(|| last - 1);
                if !fresh {
                    self.order_violations
                        .push(format!("n{i} got #{id} from {} twice", name()));
                }
                if let Some(after) = after {
                    let msg = format!("n{i} got #{id} from {} after #{after}", name());
                    self.order_violations.push(msg);
                }
            }
            _ => {}
        }
        None
    }

    /// An EXIT of a peer that is alive, reachable and undisturbed for the whole
    /// expired timeout is false.
    fn check_false_exit<W>(
        &mut self,
        net: &Net<W>,
        now: Instant,
        i: usize,
        peer: PeerId,
        reason: ExitReason,
    ) -> Option<usize> {
        if !matches!(
            reason,
            ExitReason::Expired
                | ExitReason::SequenceGap
                | ExitReason::StatusMismatch
                | ExitReason::ProtocolError
                | ExitReason::Overflow
        ) {
            return None;
        }
        let j = net.node_of(peer)?;
        if net.state(j) != NodeState::Up || net.id(j) != peer || !net.tcp_path(i, j) {
            return None;
        }
        let expired = net
            .engine(i)
            .map_or(zmesh::engine::config::defaults::EXPIRED_TIMEOUT, |e| {
                e.config().expired_timeout
            });
        let window = now
            .checked_sub(expired + Duration::from_secs(2))
            .unwrap_or(net.epoch());
        let recent = |v: &[Instant]| v.iter().any(|&t| t >= window);
        if recent(net.lifecycle(j))
            || recent(net.disturbed(i))
            || recent(net.disturbed(j))
            || recent(net.lifecycle(i))
        {
            return None;
        }
        self.false_exits.push(format!(
            "{:.3}s n{i} dropped live n{j} ({})",
            (now - net.epoch()).as_secs_f64(),
            reason.as_str()
        ));
        Some(j)
    }

    /// The verdict on a run that ended at `net.now()`, with its figures.
    pub fn judge<W>(&mut self, net: &Net<W>, cfg: &SimConfig, wall: Duration) -> Summary {
        let end = net.now();
        let n = net.len();
        let mut violations = Vec::new();
        let bound = cfg.profile.enter_bound();
        let reap = cfg.engine.reap_interval();
        // 1. Every pair of live, connected, undisturbed nodes has met.
        let mut missing = 0usize;
        let quiet_since = |v: &[Instant], t: Instant| v.iter().all(|&x| x < t);
        if let Some(cut) = end.checked_sub(bound) {
            for i in 0..n {
                let Some(ei) = net.engine(i) else {
                    continue;
                };
                if net.up_since(i) > cut || !quiet_since(net.disturbed(i), cut) {
                    continue;
                }
                for j in 0..n {
                    if i == j || net.state(j) != NodeState::Up || net.up_since(j) > cut {
                        continue;
                    }
                    if !quiet_since(net.disturbed(j), cut) || !net.tcp_path(i, j) {
                        continue;
                    }
                    if !ei.is_ready(net.id(j)) {
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
            let s = &self.expects[id];
            if s.done.is_some() {
                sent += u64::from(s.listed);
                delivered += u64::from(s.listed);
                continue;
            }
            // In the order the receivers were listed at send time (by id), so
            // that the first losses named are the same as ever.
            let mut by_id: Vec<(u32, PeerId)> =
                s.to.iter()
                    .map(|&(j, k)| (j, self.peer_ids[k as usize]))
                    .collect();
            by_id.sort_by_key(|&(_, p)| p);
            for &(to, to_id) in &by_id {
                let x = &Expect {
                    from: s.from,
                    to: to as usize,
                    to_id,
                    sent_at: s.sent_at,
                };
                sent += 1;
                if s.reached(x.to) {
                    delivered += 1;
                    continue;
                }
                match self.loss_reason(net, x) {
                    Some(r) => *lost.entry(r).or_default() += 1,
                    None => {
                        *lost.entry("unexplained".into()).or_default() += 1;
                        if unexplained.len() < 5 {
                            unexplained.push(format!(
                                "#{id} n{} -> n{} sent at {:.3}s never arrived",
                                x.from,
                                x.to,
                                (x.sent_at - net.epoch()).as_secs_f64()
                            ));
                        }
                    }
                }
            }
        }
        violations.extend(unexplained);
        // 3. Crashed nodes are seen to EXIT within expired + one reap (+ 1 s for
        //    the network, + the longest TCP stall: what was sent just before the
        //    crash may land that late).
        let expired = self.expected_expired.unwrap_or(cfg.engine.expired_timeout);
        let detect_bound = expired + reap + Duration::from_secs(1) + cfg.profile.max_stall();
        let mut detection = Vec::new();
        let mut unchecked = 0;
        for crash in net.crashes() {
            let (k, t) = (crash.node, crash.at);
            for &o in &crash.observers {
                let seen = self
                    .exits
                    .get(&(o, crash.id))
                    .and_then(|v| v.iter().find(|(x, _)| *x >= t).map(|(x, _)| *x));
                let observer_lived = net.lifecycle(o).iter().all(|&x| x <= t)
                    && matches!(net.state(o), NodeState::Up);
                match seen {
                    Some(x) => {
                        detection.push((x - t).as_secs_f64());
                        if x - t > detect_bound {
                            violations.push(format!(
                                "n{o} saw crashed n{k} EXIT only after {:.1}s",
                                (x - t).as_secs_f64()
                            ));
                        }
                    }
                    None if t + detect_bound <= end && observer_lived => {
                        violations.push(format!("n{o} never saw crashed n{k} EXIT"));
                    }
                    None => unchecked += 1,
                }
            }
        }
        // 4. No false EXIT on a LAN.
        if net.all_lan() {
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
            let Some(ei) = net.engine(i) else {
                continue;
            };
            for j in 0..n {
                let Some(ej) = net.engine(j) else {
                    continue;
                };
                if i == j || !ei.is_ready(ej.id()) {
                    continue;
                }
                let same = ei
                    .groups_of(ej.id())
                    .is_some_and(|g| g.eq(ej.own_group_set().iter().map(String::as_str)));
                if !same {
                    diverged += 1;
                    if diverged <= 5 {
                        violations.push(format!(
                            "n{i}'s view of n{j}'s groups differs from n{j}'s own"
                        ));
                    }
                }
            }
        }
        let elections = self
            .elections
            .judge(net, end, cfg.engine.expired_timeout, &mut violations);
        let stats = net.stats();
        Summary {
            nodes: n,
            profile: cfg.profile.to_string(),
            seed: cfg.seed,
            virtual_secs: cfg.duration.as_secs_f64(),
            wall_secs: wall.as_secs_f64(),
            cpu_secs: None,
            events: stats.events,
            enter_latency: Percentiles::of(&mut self.enter_latency),
            exit_detection: Percentiles::of(&mut detection),
            crash_checks_pending: unchecked,
            false_exits: self.false_exits.len() as u64,
            exits_by_reason: self.exit_reasons.clone(),
            messages_sent: sent,
            messages_delivered: delivered,
            messages_lost: lost,
            beacons_sent: stats.beacons_sent,
            beacon_deliveries_lost: stats.beacons_lost,
            tcp_writes: stats.writes,
            trace_hash: String::new(),
            elections,
            violations,
        }
    }

    /// Why a message did not arrive, if there is a reason the oracle accepts.
    fn loss_reason<W>(&self, net: &Net<W>, x: &Expect) -> Option<String> {
        // TCP stalls last up to a few seconds: a message this young may be on its way.
        if x.sent_at + IN_FLIGHT > net.now() {
            return Some("in flight at the end".into());
        }
        let after = |v: &[Instant]| v.iter().any(|&t| t >= x.sent_at);
        if after(net.lifecycle(x.to)) || net.state(x.to) != NodeState::Up {
            return Some("receiver stopped, crashed or restarted".into());
        }
        if after(net.lifecycle(x.from)) {
            return Some("sender stopped, crashed or restarted".into());
        }
        let from_id = net.id(x.from);
        for (o, p) in [(x.to, from_id), (x.from, x.to_id)] {
            if let Some(v) = self.exits.get(&(o, p)) {
                if let Some((_, r)) = v.iter().find(|(t, _)| *t >= x.sent_at) {
                    return Some(format!("peer dropped: {}", r.as_str()));
                }
            }
        }
        if after(net.disturbed(x.to)) || after(net.disturbed(x.from)) {
            return Some("partitioned".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_message_knows_which_receivers_it_reached() {
        let (a, b) = (PeerId([1; 16]), PeerId([2; 16]));
        let mut o = Oracle::default();
        // Listed by id, as a group's members are; 70 receivers span two words.
        let mut to: Vec<(usize, PeerId)> =
            (0..70).map(|j| (100 - j, PeerId([j as u8; 16]))).collect();
        to.push((3, b));
        o.sent(7, 0, to, Instant::now());
        let s = o.expects.get_mut(&7).unwrap();
        assert_eq!(s.reach(100), Some(true));
        assert_eq!(s.reach(100), Some(false), "the second copy is a duplicate");
        assert_eq!(s.reach(31), Some(true));
        assert_eq!(s.reach(3), Some(true));
        assert_eq!(s.reach(5), None, "not a receiver");
        assert!(s.reached(100) && s.reached(31) && s.reached(3));
        assert!(!s.reached(32) && !s.reached(5));
        // A node listed twice (an old id and a new one) is reached once for both.
        o.sent(8, 0, vec![(4, a), (4, b)], Instant::now());
        let s = o.expects.get_mut(&8).unwrap();
        assert_eq!(s.reach(4), Some(true));
        assert_eq!(s.reach(4), Some(false));
        assert!(s.reached(4));
    }

    /// Once every receiver has a message, it keeps only a bit per node, and still
    /// tells a duplicate from a delivery to a node that was not a receiver.
    #[test]
    fn a_message_every_receiver_has_keeps_only_its_nodes() {
        let mut o = Oracle::default();
        let to: Vec<(usize, PeerId)> = (0..70).map(|j| (j * 2, PeerId([j as u8; 16]))).collect();
        o.sent(9, 0, to, Instant::now());
        let s = o.expects.get_mut(&9).unwrap();
        for j in 0..69 {
            assert_eq!(s.reach(j * 2), Some(true));
        }
        assert!(s.done.is_none(), "one receiver to go");
        assert_eq!(s.reach(138), Some(true));
        assert!(s.done.is_some() && s.to.is_empty());
        assert_eq!(s.reach(138), Some(false), "a duplicate still");
        assert_eq!(s.reach(0), Some(false));
        assert_eq!(s.reach(1), None, "not a receiver");
        assert!(s.reached(2) && !s.reached(3) && !s.reached(500));
        assert_eq!(s.listed, 70);
        // One receiver: its entry is smaller than a bit per node, so it stays.
        o.sent(10, 0, vec![(900, PeerId([1; 16]))], Instant::now());
        let s = o.expects.get_mut(&10).unwrap();
        assert_eq!(s.reach(900), Some(true));
        assert!(s.done.is_none() && s.reached(900));
    }
}

//! Leader election per group, wire-compatible with Zyre's (`zyre_election.c`): the
//! echo algorithm with extinction. A contesting member starts a wave, ELECT naming
//! itself, to every member of the group; a member that sees a lower challenger than
//! the one it supports joins that wave (the sender becomes its father) and passes
//! it on to every member but the father; once a member has heard the wave of its
//! challenger from every other member, it echoes it to its father, and the
//! challenger that hears it from all has won: it sends LEADER to every member, and
//! each passes it on once. The lowest UUID (as 32 upper-case hex digits) among the
//! contestants wins. `docs/election.md` states the rules and the guarantees.
//!
//! Every member takes part in waves, contesting or not, as Zyre's members do, so an
//! election completes in a group that mixes zmesh and Zyre nodes. Where zmesh
//! departs from Zyre (all on the same wire messages):
//! - a contesting member starts an election once membership has been still for
//!   `election_delay`, not at once: a wave that overtakes a JOIN never ends;
//! - a contesting member answers a higher challenger's wave with its own, so the
//!   lowest wins rather than the last;
//! - a member that goes mid-wave is no longer waited for, a member that joins
//!   mid-wave is sent the wave, and a wave that still has not ended after
//!   `election_timeout` is dropped (the challenger tries again): in Zyre such waves
//!   wait for ever;
//! - a challenger starts a new wave only once the last has ended everywhere it
//!   knows of (every member's LEADER is back): waves under one challenger id cannot
//!   be told apart on the wire;
//! - a LEADER outside a wave, or for another challenger than the one a member
//!   supports, is ignored: a Zyre member that gets one aborts, so zmesh never sends
//!   one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::timers::Fixed;
use super::Engine;
use crate::event::{Event, PeerId};
use crate::wire::zre::Body;

/// One group's wave in progress.
#[derive(Debug)]
struct Wave {
    /// The challenger this member supports (Zyre's "current active wave").
    caw: String,
    /// Who brought the wave to us (none at its challenger).
    father: Option<PeerId>,
    /// The members we heard the wave of `caw` from (Zyre counts them, `erec`).
    heard: BTreeSet<PeerId>,
    /// The echo went to the father, or, at the challenger, LEADER went out.
    done: bool,
    /// At the challenger: the members whose LEADER came back.
    back: BTreeSet<PeerId>,
    /// When we joined or started the wave.
    since: Instant,
}

/// The elections of one node.
#[derive(Debug, Default)]
pub(crate) struct Elections {
    contest: BTreeSet<String>,
    waves: BTreeMap<String, Wave>,
    leaders: BTreeMap<String, PeerId>,
    /// Groups where we start an election at this time (once membership has been
    /// still until then).
    pending: BTreeMap<String, Instant>,
    /// Per group, the challengers whose waves ended here lately: their ELECTs
    /// still on their way must not open them again (only a challenger opens a new
    /// wave). With each, when it ended and the members whose ELECT came since:
    /// late, or early for its next wave (a forward can overtake the challenger's
    /// own ELECT), counted if the next wave opens.
    ended: BTreeMap<String, BTreeMap<String, (Instant, BTreeSet<PeerId>)>>,
}

/// How many ended waves a group remembers (a neighbour may name any challenger).
const ENDED_KEPT: usize = 16;

impl Elections {
    /// Contesting these groups from the start.
    pub(crate) fn contesting(groups: &BTreeSet<String>) -> Elections {
        Elections {
            contest: groups.clone(),
            ..Elections::default()
        }
    }
}

/// How a group's membership changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    /// We joined, started, or began to contest.
    Us,
    /// A peer joined.
    Joined(PeerId),
    /// A peer left the group or went.
    Gone(PeerId),
}

impl Engine {
    /// Contests the leadership of `group` (Zyre's `zyre_set_contest_in_group`):
    /// this node holds an election when it joins the group, when a member joins,
    /// and when the leader goes. Every member answers elections whether or not it
    /// contests; the lowest UUID among those contesting wins.
    pub fn set_contest_in_group(&mut self, group: &str) {
        if self.elections.contest.insert(group.to_string()) && self.is_running() {
            self.membership_changed(group, Change::Us);
        }
    }

    /// Whether this node contests the leadership of `group`.
    pub fn contests(&self, group: &str) -> bool {
        self.elections.contest.contains(group)
    }

    /// At start: every contested group we are in holds an election (alone, we
    /// lead it at once; peers that join later start new ones).
    pub(super) fn contest_at_start(&mut self) {
        let groups: Vec<String> = self
            .elections
            .contest
            .intersection(self.groups.own())
            .cloned()
            .collect();
        for g in groups {
            self.membership_changed(&g, Change::Us);
        }
    }

    /// We left `group`: its election is no concern of ours any more.
    pub(super) fn left_group(&mut self, group: &str) {
        self.elections.waves.remove(group);
        self.elections.leaders.remove(group);
        self.elections.pending.remove(group);
        self.elections.ended.remove(group);
    }

    /// The leader of `group` after its last election, if one finished (our own id
    /// if we lead it).
    pub fn leader(&self, group: &str) -> Option<PeerId> {
        self.elections.leaders.get(group).copied()
    }

    /// The group's members changed. A contesting member holds a new election once
    /// membership has been still for `election_delay`. A leader that went is
    /// forgotten; a member that went mid-wave is no longer waited for; a member
    /// that joined mid-wave is sent the wave it missed.
    pub(super) fn membership_changed(&mut self, group: &str, change: Change) {
        let mut trigger = true;
        match change {
            Change::Us => {}
            Change::Joined(id) => {
                let me = self.id.to_string();
                let catch_up = self.elections.waves.get(group).and_then(|w| {
                    let open = !(w.caw == me && w.done);
                    (open && w.father != Some(id)).then(|| w.caw.clone())
                });
                if let Some(caw) = catch_up {
                    self.send_to(&[id], None, || Body::Elect {
                        group: group.to_string(),
                        challenger_id: caw.clone(),
                    });
                }
            }
            Change::Gone(id) => {
                let leader_gone =
                    self.elections.leaders.get(group) == Some(&id) && !self.faults.keep_gone_leader;
                if leader_gone {
                    self.elections.leaders.remove(group);
                }
                let mid_wave = match self.elections.waves.get_mut(group) {
                    Some(w) => {
                        w.heard.remove(&id);
                        w.back.remove(&id);
                        if w.caw == id.to_string() {
                            // Its own wave died with it.
                            self.end_wave(group);
                        } else {
                            self.check_wave(group);
                        }
                        true
                    }
                    None => false,
                };
                trigger = leader_gone || mid_wave;
            }
        }
        if trigger && self.elections.contest.contains(group) && self.groups.own().contains(group) {
            self.schedule_election(group);
        }
    }

    /// Starts an election in `group` after `election_delay` (again, if one was
    /// due: the delay counts from the last change).
    fn schedule_election(&mut self, group: &str) {
        let Some(now) = self.now else {
            return;
        };
        let at = now + self.config.election_delay;
        self.elections.pending.insert(group.to_string(), at);
        self.arm_elections();
    }

    /// Arms the timer for the next election due or wave to give up on.
    pub(super) fn arm_elections(&mut self) {
        let timeout = self.config.election_timeout;
        let me = self.id.to_string();
        let waves = self.elections.waves.values().map(|w| {
            // The challenger waits twice as long, so that every member has dropped
            // the wave before it starts the next under the same id.
            w.since + if w.caw == me { 2 * timeout } else { timeout }
        });
        let next = self.elections.pending.values().copied().chain(waves).min();
        self.timers.set(Fixed::Election, next);
    }

    /// Starts the elections that are due, and drops waves that have not ended
    /// in time.
    pub(super) fn elections_due(&mut self, now: Instant) {
        let timeout = self.config.election_timeout;
        let me = self.id.to_string();
        let stale: Vec<(String, bool)> = self
            .elections
            .waves
            .iter()
            .filter(|(_, w)| {
                let limit = if w.caw == me { 2 * timeout } else { timeout };
                w.since + limit <= now
            })
            .map(|(g, w)| (g.clone(), w.caw == me))
            .collect();
        for (g, ours) in stale {
            log::debug!(
                "{}: [{g}] wave did not end in time: dropped",
                self.config.name
            );
            self.end_wave(&g);
            if ours {
                self.elections.pending.insert(g, now);
            }
        }
        let due: Vec<String> = self
            .elections
            .pending
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(g, _)| g.clone())
            .collect();
        for g in due {
            self.elections.pending.remove(&g);
            if self.elections.contest.contains(&g) && self.groups.own().contains(&g) {
                self.start_election(&g);
            }
        }
        self.arm_elections();
    }

    /// Starts a wave naming ourselves.
    fn start_election(&mut self, group: &str) {
        let me = self.id.to_string();
        if let Some(w) = self.elections.waves.get(group) {
            // A lower challenger's wave is under way: ours would die in it, and
            // starting ours would drop our part in it.
            if self.beats(&w.caw, &me) {
                return;
            }
            // Our last wave has not ended everywhere: a new one now could not be
            // told from it. Try again later.
            if w.caw == me {
                self.schedule_election(group);
                return;
            }
        }
        let Some(now) = self.now else {
            return;
        };
        self.elections.waves.insert(
            group.to_string(),
            Wave {
                caw: me.clone(),
                father: None,
                heard: BTreeSet::new(),
                done: false,
                back: BTreeSet::new(),
                since: now,
            },
        );
        self.arm_elections();
        log::debug!("{}: [{group}] ELECT {me}", self.config.name);
        let members = self.members(group);
        self.send_to(&members, None, || Body::Elect {
            group: group.to_string(),
            challenger_id: me.clone(),
        });
        // Alone in the group: nobody to wait for.
        self.check_wave(group);
    }

    fn members(&self, group: &str) -> Vec<PeerId> {
        self.groups
            .members(group)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Sends a message to each of `to` but `except`.
    fn send_to(&mut self, to: &[PeerId], except: Option<PeerId>, body: impl Fn() -> Body) {
        for id in to.iter().copied().filter(|id| Some(*id) != except) {
            if let Some(p) = self.peers.get_mut(&id) {
                p.send(body(), &mut self.scratch);
                self.out.mark(p);
            }
        }
    }

    fn is_member(&self, group: &str, id: PeerId) -> bool {
        self.groups.members(group).is_some_and(|m| m.contains(&id))
    }

    /// ELECT from `from` for `challenger` in `group`.
    pub(super) fn on_elect(&mut self, from: PeerId, group: String, challenger: String) {
        // Waves of groups we are not in are none of ours (and a neighbour may not
        // grow our memory by naming groups).
        if !self.groups.own().contains(&group) {
            return;
        }
        let Some(now) = self.now else {
            return;
        };
        // A higher challenger while we contest: answer with our own wave, which
        // puts its out (Zyre only joins it, so the last of several elections wins
        // rather than the lowest).
        let me = self.id.to_string();
        let counter = self.elections.contest.contains(&group)
            && self.beats(&me, &challenger)
            && from.to_string() == challenger;
        if counter {
            let wave = self.elections.waves.get(&group);
            match wave.map(|w| (w.caw.as_str(), w.done)) {
                Some((caw, _)) if self.beats(caw, &me) => {}
                // Ours is still open: the higher wave dies in it.
                Some((caw, false)) if caw == me => {}
                // Ours has ended where we know of, not everywhere: once it has,
                // another (a member had not heard of ours).
                Some((caw, true)) if caw == me => self.schedule_election(&group),
                _ => {
                    self.elections.pending.remove(&group);
                    self.start_election(&group);
                }
            }
        }
        let member = self.is_member(&group, from);
        let from_challenger = from.to_string() == challenger;
        let delay = self.config.election_delay;
        let better = match self.elections.waves.get(&group) {
            // Our own wave, ended: what is still on its way.
            None if challenger == me => false,
            // A wave that ended here lately: only its challenger opens a new one.
            None if !from_challenger => {
                let ended = self.elections.ended.get_mut(&group);
                match ended.and_then(|e| e.get_mut(&challenger)) {
                    Some((_, early)) => {
                        if member {
                            early.insert(from);
                        }
                        false
                    }
                    None => true,
                }
            }
            None => true,
            Some(w) => {
                self.beats(&challenger, &w.caw)
                    // The challenger sends its own ELECT only to open a wave: one
                    // from it, once we have had its first (or long after the wave
                    // reached us), is a new wave under the same id.
                    || (w.caw == challenger
                        && from_challenger
                        && (w.heard.contains(&from) || now >= w.since + delay))
            }
        };
        if better {
            let early = self
                .elections
                .ended
                .get_mut(&group)
                .and_then(|e| e.remove(&challenger))
                .map(|(_, early)| early);
            // Join its wave and pass it on.
            self.elections.waves.insert(
                group.clone(),
                Wave {
                    caw: challenger.clone(),
                    father: Some(from),
                    heard: early.unwrap_or_default(),
                    done: false,
                    back: BTreeSet::new(),
                    since: now,
                },
            );
            self.arm_elections();
            let members = self.members(&group);
            self.send_to(&members, Some(from), || Body::Elect {
                group: group.clone(),
                challenger_id: challenger.clone(),
            });
        }
        let Some(wave) = self.elections.waves.get_mut(&group) else {
            return;
        };
        log::trace!(
            "{}: [{group}] ELECT {challenger} from {from}: supporting {}, heard {}",
            self.config.name,
            wave.caw,
            wave.heard.len()
        );
        // A worse challenger's wave dies here; only members count (the LEAVE of one
        // that left is on its way).
        if member && wave.caw == challenger {
            wave.heard.insert(from);
            self.check_wave(&group);
        }
    }

    /// Once the wave has been heard from every member: echo it to the father, or,
    /// at its challenger, announce the leader.
    fn check_wave(&mut self, group: &str) {
        let me = self.id.to_string();
        let members = self.groups.members(group).map_or(0, |m| m.len());
        let Some(wave) = self.elections.waves.get_mut(group) else {
            return;
        };
        if wave.done {
            // At the challenger, the wave ends once every LEADER is back.
            if wave.caw == me && wave.heard.is_subset(&wave.back) {
                self.end_wave(group);
            }
            return;
        }
        if wave.heard.len() != members {
            return;
        }
        wave.done = true;
        let caw = wave.caw.clone();
        if caw == me {
            log::debug!("{}: [{group}] LEADER decision", self.config.name);
            let heard: Vec<PeerId> = wave.heard.iter().copied().collect();
            self.send_to(&heard, None, || Body::Leader {
                group: group.to_string(),
                leader_id: caw.clone(),
            });
            self.name_leader(group, self.id);
            self.check_wave(group);
        } else if let Some(father) = wave.father {
            self.send_to(&[father], None, || Body::Elect {
                group: group.to_string(),
                challenger_id: caw.clone(),
            });
        }
    }

    /// LEADER from `from` naming `leader` in `group`.
    pub(super) fn on_leader(&mut self, from: PeerId, group: String, leader: String) {
        let me = self.id.to_string();
        let Some(wave) = self.elections.waves.get_mut(&group) else {
            log::debug!(
                "{}: [{group}] LEADER outside a wave from {from}",
                self.config.name
            );
            return;
        };
        // A LEADER comes once every member has echoed: one before we have is
        // stale (from an earlier wave under this id).
        if wave.caw != leader || !wave.done {
            log::debug!("{}: [{group}] stale LEADER from {from}", self.config.name);
            return;
        }
        if leader == me {
            // Our own, passed back.
            if wave.done {
                wave.back.insert(from);
                self.check_wave(&group);
            }
            return;
        }
        // Only the challenger starts a LEADER, once every member has echoed: the
        // first is the decision. Passed on once, to those who carried the wave (a
        // Zyre member that gets a LEADER outside a wave aborts), as Zyre does.
        let heard: Vec<PeerId> = wave.heard.iter().copied().collect();
        self.end_wave(&group);
        self.send_to(&heard, None, || Body::Leader {
            group: group.clone(),
            leader_id: leader.clone(),
        });
        match leader.parse::<PeerId>() {
            // A leader we do not know: no event (Zyre asserts here).
            Ok(id) if self.peers.get(&id).is_some() => self.name_leader(&group, id),
            _ => {}
        }
    }

    /// Whether challenger `a` beats `b`: the lower UUID string, as Zyre's
    /// `strcmp`.
    fn beats(&self, a: &str, b: &str) -> bool {
        if self.faults.elect_highest {
            a > b
        } else {
            a < b
        }
    }

    /// The group's wave is over here.
    fn end_wave(&mut self, group: &str) {
        if let (Some(w), Some(now)) = (self.elections.waves.remove(group), self.now) {
            let keep = 2 * self.config.election_timeout;
            let ended = self.elections.ended.entry(group.to_string()).or_default();
            ended.retain(|_, (at, _)| *at + keep > now);
            if ended.len() >= ENDED_KEPT {
                let oldest = ended
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(c, _)| c.clone());
                if let Some(c) = oldest {
                    ended.remove(&c);
                }
            }
            ended.insert(w.caw, (now, BTreeSet::new()));
        }
        self.arm_elections();
    }

    /// `id` leads `group` now.
    fn name_leader(&mut self, group: &str, id: PeerId) {
        let name = match self.peers.get(&id) {
            Some(p) => p.name.clone(),
            None => self.config.name.as_str().into(),
        };
        log::debug!("{}: [{group}] leader is {name}", self.config.name);
        self.elections.leaders.insert(group.to_string(), id);
        self.emit(Event::Leader {
            peer: id,
            name,
            group: group.into(),
        });
    }
}

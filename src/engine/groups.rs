//! Groups: the ones we are in, the status counter that tracks their changes, and
//! which peers are in which group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Change, Engine};
use crate::event::{Event, ExitReason, PeerId};

/// The most groups a peer is known to be in: one HELLO or a stream of JOINs may
/// name millions, each a JOIN event and a set entry. Further ones are counted
/// (`Stats::over_bound`) and not taken (no JOIN event); the status counter still
/// moves on.
pub const MAX_PEER_GROUPS: usize = 1024;

/// The most headers kept of a peer's HELLO; further ones are counted
/// (`Stats::over_bound`) and dropped.
pub const MAX_PEER_HEADERS: usize = 256;

/// Our groups, our status counter and the members of every group we know of.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    own: BTreeSet<String>,
    /// Bumped on every join and leave of ours; it travels in HELLO, JOIN and LEAVE
    /// so peers can tell that they missed a change.
    status: u8,
    /// The names are shared with the peers' lists of their groups: every peer of
    /// a large mesh is in the same few groups.
    members: BTreeMap<Arc<str>, BTreeSet<PeerId>>,
}

impl Groups {
    pub(crate) fn own(&self) -> &BTreeSet<String> {
        &self.own
    }

    pub(crate) fn status(&self) -> u8 {
        self.status
    }

    /// Enters one of our groups: the new status, or `None` if we were in it.
    pub(crate) fn join(&mut self, group: &str) -> Option<u8> {
        if !self.own.insert(group.to_string()) {
            return None;
        }
        self.status = self.status.wrapping_add(1);
        Some(self.status)
    }

    /// Leaves one of our groups: the new status, or `None` if we were not in it.
    pub(crate) fn leave(&mut self, group: &str) -> Option<u8> {
        if !self.own.remove(group) {
            return None;
        }
        self.status = self.status.wrapping_add(1);
        Some(self.status)
    }

    /// The peers known to be in `group`.
    pub(crate) fn members(&self, group: &str) -> Option<&BTreeSet<PeerId>> {
        self.members.get(group)
    }

    /// Every group some peer is in, in name order.
    pub(crate) fn peer_groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.members
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(g, _)| &**g)
    }

    /// Adds `id` to `group`, returning the group's shared name.
    fn add_member(&mut self, group: &str, id: PeerId) -> Arc<str> {
        // The name is copied only for a group not seen before.
        match self.members.get_key_value(group) {
            Some((name, _)) => {
                let name = name.clone();
                if let Some(set) = self.members.get_mut(group) {
                    set.insert(id);
                }
                name
            }
            None => {
                let name: Arc<str> = Arc::from(group);
                self.members.insert(name.clone(), BTreeSet::from([id]));
                name
            }
        }
    }

    fn remove_member(&mut self, group: &str, id: PeerId) {
        if let Some(set) = self.members.get_mut(group) {
            set.remove(&id);
            if set.is_empty() {
                self.members.remove(group);
            }
        }
    }

    /// Takes a departed peer out of the groups it was in.
    pub(crate) fn forget_peer(&mut self, id: PeerId, groups: &super::peer::PeerGroups) {
        for g in groups.iter() {
            self.remove_member(g, id);
        }
    }

    /// Forgets every peer's membership (on stop).
    pub(crate) fn clear_members(&mut self) {
        self.members.clear();
    }
}

impl Engine {
    /// A peer joined a group (JOIN, or a group in its HELLO): its status counter
    /// moves on, and the application hears of it.
    pub(super) fn join_peer_group(&mut self, id: PeerId, group: &str) {
        self.peer_group_change(id, group, true);
    }

    /// A peer left a group.
    pub(super) fn leave_peer_group(&mut self, id: PeerId, group: &str) {
        self.peer_group_change(id, group, false);
    }

    fn peer_group_change(&mut self, id: PeerId, group: &str, joined: bool) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.status = p.status.wrapping_add(1);
        if joined && !p.groups.contains(group) && p.groups.len() >= MAX_PEER_GROUPS {
            self.stats.over_bound += 1;
            return;
        }
        let (peer, name) = (id, p.name.clone());
        if joined {
            p.groups.insert(self.groups.add_member(group, id));
        } else {
            p.groups.remove(group);
        }
        let group = crate::Name::from(group);
        if joined {
            self.emit(Event::Join {
                peer,
                name,
                group: group.clone(),
            });
        } else {
            self.groups.remove_member(&group, id);
            self.emit(Event::Leave {
                peer,
                name,
                group: group.clone(),
            });
        }
        let change = if joined {
            Change::Joined(id)
        } else {
            Change::Gone(id)
        };
        self.membership_changed(&group, change);
    }

    /// Compares a peer's status counter with ours of it. Zyre asserts here; zmesh
    /// drops the peer, whose group state we no longer trust.
    pub(super) fn check_status(&mut self, id: PeerId, status: u8) {
        if let Some(p) = self.peers.get(&id) {
            if p.status != status {
                log::info!(
                    "{}: status mismatch from {id}: ours {} theirs {status}",
                    self.config.name,
                    p.status
                );
                self.remove_peer(id, ExitReason::StatusMismatch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_changes_and_members_empty_out() {
        let mut g = Groups::default();
        assert_eq!(g.join("a"), Some(1));
        assert_eq!(g.join("a"), None);
        assert_eq!(g.leave("b"), None);
        assert_eq!(g.leave("a"), Some(2));
        let (p, q) = (PeerId([1; 16]), PeerId([2; 16]));
        g.add_member("x", p);
        g.add_member("x", q);
        g.add_member("y", p);
        assert_eq!(g.peer_groups().collect::<Vec<_>>(), ["x", "y"]);
        let mut of_p = super::super::peer::PeerGroups::default();
        of_p.insert("y".into());
        of_p.insert("x".into());
        g.forget_peer(p, &of_p);
        assert_eq!(g.peer_groups().collect::<Vec<_>>(), ["x"]);
        assert!(g.members("y").is_none());
        assert_eq!(g.members("x").unwrap().len(), 1);
    }
}

//! The peer table: every known peer and every index over them, kept in step in
//! one place.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use super::hash::{KeyedState, SlimMap};
use super::idmap::IdMap;
use super::peer::Peer;
use super::{Engine, LinkId, Output};
use crate::event::{Event, ExitReason, PeerId};
use crate::wire::zre::{Body, Hello};

/// Every known peer, with the indexes the engine looks peers up by.
///
/// The records sit in slots of one array, where each keeps its place while the
/// peer is known; every index names a peer by its slot (four bytes, and no
/// pointer to chase, where an id took sixteen and a lookup of its own). Peers are
/// looked up by id on every beacon and message: an index of ids that mostly
/// reads one cache line per lookup ([`IdMap`]). Iteration sorts the ids (it is
/// rare: a join, a leave, a list of peers), where a set kept in order cost every
/// peer another 26 bytes. Every index changes only through this type's methods,
/// so none of them can fall out of step with the others.
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    slots: Vec<Option<Peer>>,
    /// Empty slots, the last emptied filled first.
    free: Vec<u32>,
    /// Each peer's slot, plus one.
    map: IdMap<NonZeroU32>,
    /// How many peers are ready (kept, so that counting is O(1)).
    ready: usize,
    /// Which peer uses each endpoint (at most one: a newcomer purges the old),
    /// by the endpoint's hash under the id index's key (endpoints are the network's
    /// choice); a lookup checks the peer's endpoint itself, so that a hash that
    /// collides finds nothing rather than the wrong peer. Looked up on every new
    /// beacon, never iterated. A hash instead of a copy of the string saves a
    /// mesh of n nodes n² strings.
    by_endpoint: SlimMap<u32>,
    /// Our outgoing link to each peer (looked up, never iterated). A link leaves
    /// this index as soon as the driver or the engine closes it.
    by_link: SlimMap<u32>,
    /// Liveness deadlines, one entry per peer: (no earlier than this, its slot,
    /// its stamp). A peer's deadlines only move later (it was heard; the timeouts
    /// are fixed), so an entry that comes up early is put back at the peer's true
    /// deadline, and a reap looks only at peers that are due instead of at every
    /// peer. The stamp tells a removed peer's stale entry from that of a newer peer
    /// in the same slot (or of the same peer under an id it had before). Times
    /// are nanoseconds since `epoch`: 16 bytes an entry where an `Instant` made
    /// it 24.
    due: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// When the first peer was last heard at its insertion (or the first reap,
    /// if that came before any peer): deadlines count from here, and no
    /// deadline or reap of a driver whose clock only moves forward is earlier.
    epoch: Option<Instant>,
    next_stamp: u32,
    /// The sooner of the evasive and the expired timeout: how long after it was
    /// last heard from a peer is due.
    first: Duration,
}

/// A peer taken out of the table.
pub(crate) struct Removed {
    pub(crate) peer: Peer,
    /// True if its outgoing link was still open (the caller tells the driver to
    /// close it).
    pub(crate) link_open: bool,
}

impl PeerTable {
    /// Hashes peer ids under `key` from now on (see [`KeyedState`]).
    pub(crate) fn set_key(&mut self, key: KeyedState) {
        self.map.rekey(key);
        // Rehash the endpoint index under the new key.
        let eps: Vec<u32> = self.by_endpoint.drain().map(|(_, s)| s).collect();
        for s in eps {
            if let Some(p) = self.slot(s) {
                let h = key.hash_one(&*p.endpoint());
                self.by_endpoint.insert(h, s);
            }
        }
    }

    /// An empty table whose peers are due for the reaper when EVASIVE or EXIT
    /// comes, whichever is sooner.
    pub(crate) fn with_timeouts(evasive: Duration, expired: Duration) -> PeerTable {
        PeerTable {
            first: evasive.min(expired),
            ..PeerTable::default()
        }
    }

    /// `t` as a deadline queue time; a time before the epoch (which a driver
    /// whose clock only moves forward never hands in) counts as the epoch.
    fn ns(&mut self, t: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(t);
        u64::try_from(t.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn endpoint_hash(&self, endpoint: &str) -> u64 {
        self.map.key().hash_one(endpoint)
    }

    fn slot(&self, s: u32) -> Option<&Peer> {
        self.slots.get(s as usize)?.as_ref()
    }

    fn slot_of(&self, id: &PeerId) -> Option<u32> {
        self.map.get(id).map(|s| s.get() - 1)
    }

    pub(crate) fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.slot(self.slot_of(id)?)
    }

    pub(crate) fn get_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        let s = self.slot_of(id)?;
        self.slots.get_mut(s as usize)?.as_mut()
    }

    pub(crate) fn contains(&self, id: &PeerId) -> bool {
        self.map.contains_key(id)
    }

    /// How many peers are ready.
    pub(crate) fn ready_count(&self) -> usize {
        self.ready
    }

    /// Peers known but not entered yet (no HELLO from them).
    pub(crate) fn unready_count(&self) -> usize {
        self.map.len() - self.ready
    }

    /// The peer that uses this endpoint, if any.
    pub(crate) fn at_endpoint(&self, endpoint: &str) -> Option<PeerId> {
        let s = *self.by_endpoint.get(self.endpoint_hash(endpoint))?;
        self.slot(s)
            .filter(|p| p.endpoint() == endpoint)
            .map(|p| p.id)
    }

    /// The peer an outgoing link leads to, if the link is open.
    pub(crate) fn by_link(&self, link: LinkId) -> Option<PeerId> {
        let s = *self.by_link.get(link.0)?;
        self.slot(s).filter(|p| p.link_id == link).map(|p| p.id)
    }

    /// Known peers in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.ids().into_iter().filter_map(|id| self.get(&id))
    }

    /// Calls `f` on every peer in id order.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut Peer)) {
        for id in self.ids() {
            if let Some(p) = self.get_mut(&id) {
                f(p);
            }
        }
    }

    /// Adds a peer that is not in the table yet (not ready).
    pub(crate) fn insert(&mut self, mut peer: Peer) {
        let s = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                // A table of more than u32::MAX peers is far past every bound.
                (self.slots.len() - 1) as u32
            }
        };
        self.by_link.insert(peer.link_id.0, s);
        self.by_endpoint
            .insert(self.endpoint_hash(&peer.endpoint()), s);
        if peer.ready {
            self.ready += 1;
        }
        self.next_stamp = self.next_stamp.wrapping_add(1);
        peer.due_stamp = self.next_stamp;
        // Not the deadline itself: a reap before it must count from no later.
        self.epoch.get_or_insert(peer.heard_at);
        let at = self.ns(deadline(&peer, self.first));
        self.due.push(Reverse((at, s, peer.due_stamp)));
        self.map.insert(peer.id, NonZeroU32::MIN.saturating_add(s));
        self.slots[s as usize] = Some(peer);
    }

    /// The ids of the peers whose liveness deadline (EVASIVE or EXIT) has come by
    /// `now`, in id order, each taken out of the deadline queue: the caller hands
    /// back those it keeps with [`PeerTable::requeue`].
    pub(crate) fn take_due(&mut self, now: Instant, ids: &mut Vec<PeerId>) {
        let now_ns = self.ns(now);
        while let Some(&Reverse((at, s, stamp))) = self.due.peek() {
            if at > now_ns {
                break;
            }
            self.due.pop();
            let Some(p) = self.slot(s).filter(|p| p.due_stamp == stamp) else {
                continue; // gone, or rekeyed (it has an entry under a new stamp)
            };
            let at = deadline(p, self.first);
            if at > now {
                // Later than now in the queue's time too, so the loop ends (the
                // same as `ns(at)` for every time since the epoch).
                let at = self.ns(at).max(now_ns.saturating_add(1));
                self.due.push(Reverse((at, s, stamp)));
            } else {
                ids.push(p.id);
            }
        }
        ids.sort_unstable();
    }

    /// Puts a peer taken by [`PeerTable::take_due`] back in the deadline queue, due
    /// again at the next reap if nothing is heard from it meanwhile.
    pub(crate) fn requeue(&mut self, id: PeerId, now: Instant) {
        let Some(s) = self.slot_of(&id) else {
            return;
        };
        if let Some(p) = self.slot(s) {
            let (at, stamp) = (deadline(p, self.first).max(now), p.due_stamp);
            let at = self.ns(at);
            self.due.push(Reverse((at, s, stamp)));
        }
    }

    /// Marks a peer ready (its HELLO arrived); true if it was not ready before.
    pub(crate) fn set_ready(&mut self, id: &PeerId) -> bool {
        match self.get_mut(id) {
            Some(p) if !p.ready => {
                p.ready = true;
                self.ready += 1;
                true
            }
            _ => false,
        }
    }

    /// Forgets an outgoing link (it closed); returns the peer it led to.
    pub(crate) fn unlink(&mut self, link: LinkId) -> Option<PeerId> {
        let id = self.by_link(link);
        self.by_link.remove(link.0);
        id
    }

    /// Gives a peer a new outgoing link (the old one closed).
    pub(crate) fn relink(&mut self, id: PeerId, link: LinkId) {
        let Some(s) = self.slot_of(&id) else {
            return;
        };
        if let Some(p) = self.slots.get_mut(s as usize).and_then(Option::as_mut) {
            p.link_id = link;
            self.by_link.insert(link.0, s);
        }
    }

    /// Gives a peer that has not said HELLO (and is not waiting to reconnect) the
    /// UUID of the node that answered at its endpoint: our link and the HELLO on
    /// it went to that node, so it is the same peer under its true name. False if
    /// that is not the case.
    pub(crate) fn rekey(&mut self, old: PeerId, new: PeerId) -> bool {
        let fits = self
            .get(&old)
            .is_some_and(|p| !p.ready && p.reconnect_at().is_none());
        if !fits || self.map.contains_key(&new) {
            return false;
        }
        let Some(slot) = self.map.remove(&old) else {
            return false;
        };
        let s = slot.get() - 1;
        self.map.insert(new, slot);
        self.next_stamp = self.next_stamp.wrapping_add(1);
        let (stamp, first) = (self.next_stamp, self.first);
        let Some(p) = self.slots.get_mut(s as usize).and_then(Option::as_mut) else {
            return false;
        };
        p.id = new;
        // A fresh stamp: any entry it had, under any id, is stale now.
        p.due_stamp = stamp;
        let at = deadline(p, first);
        let h = self.map.key().hash_one(&*p.endpoint());
        self.by_endpoint.insert(h, s);
        let at = self.ns(at);
        self.due.push(Reverse((at, s, stamp)));
        true
    }

    /// Records a new endpoint for a known peer.
    pub(crate) fn set_endpoint(&mut self, id: PeerId, endpoint: String, addr: SocketAddr) {
        let key = self.map.key();
        let Some(s) = self.slot_of(&id) else {
            return;
        };
        let Some(p) = self.slots.get_mut(s as usize).and_then(Option::as_mut) else {
            return;
        };
        let old = key.hash_one(&*p.endpoint());
        if self.by_endpoint.get(old) == Some(&s) {
            self.by_endpoint.remove(old);
        }
        self.by_endpoint.insert(key.hash_one(endpoint.as_str()), s);
        p.set_place(&endpoint, addr);
    }

    /// Every peer's id, in id order.
    pub(crate) fn ids(&self) -> Vec<PeerId> {
        let mut ids: Vec<PeerId> = self.map.ids().collect();
        ids.sort_unstable();
        ids
    }

    /// Takes a peer out of every index.
    pub(crate) fn remove(&mut self, id: &PeerId) -> Option<Removed> {
        let s = self.map.remove(id)?.get() - 1;
        let peer = self.slots.get_mut(s as usize)?.take()?;
        self.free.push(s);
        let h = self.endpoint_hash(&peer.endpoint());
        if self.by_endpoint.get(h) == Some(&s) {
            self.by_endpoint.remove(h);
        }
        if peer.ready {
            self.ready -= 1;
        }
        let link_open = self.by_link.get(peer.link_id.0) == Some(&s);
        if link_open {
            self.by_link.remove(peer.link_id.0);
        }
        Some(Removed { peer, link_open })
    }

    /// Empties the table, returning the peers' outgoing links in id order.
    pub(crate) fn drain(&mut self) -> Vec<LinkId> {
        let links = self.iter().map(|p| p.link_id).collect();
        self.map = IdMap::with_key(self.map.key());
        self.slots = Vec::new();
        self.free.clear();
        self.by_endpoint.clear();
        self.by_link.clear();
        self.due.clear();
        self.ready = 0;
        links
    }
}

/// When a peer is next due for the reaper: EVASIVE, or EXIT when that is sooner.
fn deadline(p: &Peer, first: Duration) -> Instant {
    p.after(first)
}

impl Engine {
    pub(super) fn send_all(&mut self, body: impl Fn() -> Body) {
        let (scratch, out) = (&mut self.scratch, &mut self.out);
        self.peers.for_each_mut(|p| {
            p.send(body(), scratch);
            out.mark(p);
        });
    }

    /// Zyre's `require_peer`: known peers are left alone; a new one is connected to
    /// and greeted, after dropping any peer that used the same endpoint before.
    pub(super) fn require_peer(
        &mut self,
        now: Instant,
        id: PeerId,
        endpoint: String,
        addr: SocketAddr,
        key: Option<[u8; 32]>,
    ) {
        if self.peers.contains(&id) {
            return;
        }
        let addr = self.scoped(addr);
        if key.is_some_and(|k| !self.key_allowed(&k)) {
            return;
        }
        // CURVE: a peer is reached only through the key it announced.
        let Some(link) = self.dealer_link(key) else {
            self.stats.wrong_security += 1;
            return;
        };
        if let Some(old) = self.peers.at_endpoint(&endpoint) {
            self.remove_peer(old, ExitReason::EndpointReused);
        }
        let link_id = self.new_link();
        log::debug!("{}: new peer {id} at {endpoint}", self.config.name);
        let mut p = Peer::new(id, endpoint, addr, link_id, link, now);
        p.key = key.map(Box::new);
        p.send(self.hello_for(addr), &mut self.scratch);
        self.out.push(Output::Connect {
            link: link_id,
            addr,
        });
        self.out.touch(link_id);
        self.peers.insert(p);
    }

    /// A peer we know but have not reached (our link to it has not finished its
    /// handshake, so it cannot have our HELLO; with `failed`, our last attempt to
    /// connect failed outright) is said to be at `endpoint`: our link goes there
    /// instead. True if it did.
    pub(super) fn redirect(&mut self, id: PeerId, endpoint: &str, failed: bool) -> bool {
        let Some(p) = self.peers.get(&id) else {
            return false;
        };
        let reached = p.hello_out || p.link.is_ready() || (failed && p.reconnect_at().is_none());
        if p.ready || reached || p.endpoint() == endpoint {
            return false;
        }
        let Some(addr) = super::endpoint_addr(endpoint).map(|a| self.scoped(a)) else {
            return false;
        };
        log::debug!("{}: {id} is at {endpoint}", self.config.name);
        self.peers.set_endpoint(id, endpoint.to_string(), addr);
        self.new_link_to(id, true);
        true
    }

    /// Gives a known peer a fresh outgoing link to `addr`: the old one is closed,
    /// and with `hello` the new one starts with our HELLO (sequence 1 again).
    pub(super) fn new_link_to(&mut self, id: PeerId, hello: bool) {
        let link_id = self.new_link();
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let (old, at, addr) = (p.link_id, p.reconnect_at(), p.addr());
        let key = p.key.as_deref().copied();
        let Some(fresh) = self.dealer_link(key) else {
            return;
        };
        if self.peers.unlink(old).is_some() {
            self.out.close(old);
        }
        if let Some(at) = at {
            self.timers.cancel_reconnect(at, id);
        }
        let body = hello.then(|| self.hello_for(addr));
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.set_reconnect_at(None);
        p.link = fresh;
        if let Some(body) = body {
            p.sent_sequence = 0;
            p.hello_out = false;
            p.send(body, &mut self.scratch);
        }
        self.peers.relink(id, link_id);
        self.out.push(Output::Connect {
            link: link_id,
            addr,
        });
        self.out.touch(link_id);
    }

    /// Our HELLO as a peer at `addr` is to read it.
    pub(super) fn hello_for(&self, addr: SocketAddr) -> Body {
        Body::Hello(Hello {
            endpoint: self.endpoint_for(addr),
            groups: self.groups.own().iter().cloned().collect(),
            status: self.groups.status(),
            name: self.config.name.clone(),
            headers: self
                .config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    pub(super) fn remove_peer(&mut self, id: PeerId, reason: ExitReason) {
        let Some(removed) = self.peers.remove(&id) else {
            return;
        };
        let p = removed.peer;
        if let Some(at) = p.reconnect_at() {
            self.timers.cancel_reconnect(at, id);
        }
        log::debug!(
            "{}: peer {id} ({}) gone: {}",
            self.config.name,
            p.name,
            reason.as_str()
        );
        *self.stats.exits.entry(reason.as_str()).or_default() += 1;
        // As Zyre's UNPUBLISH: a peer that is gone is not offered to newcomers.
        if let Some(now) = self.now {
            let keep = self.config.gossip_ttl;
            self.gossip.withdraw(&id.to_string(), now, keep);
        }
        self.groups.forget_peer(id, &p.groups);
        let groups: Vec<String> = p.groups.iter().map(String::from).collect();
        if removed.link_open {
            self.out.close(p.link_id);
        }
        if p.ready {
            self.emit(Event::Exit {
                peer: id,
                name: p.name.clone(),
                reason,
            });
        }
        if !self.stopped {
            for g in groups {
                self.membership_changed(&g, super::Change::Gone(id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8, endpoint: &str, link: u64) -> Peer {
        Peer::new(
            PeerId([n; 16]),
            endpoint.to_string(),
            "127.0.0.1:1".parse().unwrap(),
            LinkId(link),
            crate::engine::link::Link::dealer(b"\x01x", 1024),
            Instant::now(),
        )
    }

    #[test]
    fn indexes_stay_in_step() {
        let mut t = PeerTable::default();
        t.insert(peer(2, "tcp://a:1", 1));
        t.insert(peer(1, "tcp://b:1", 2));
        assert_eq!(t.iter().map(|p| p.id.0[0]).collect::<Vec<_>>(), [1, 2]);
        assert!(t.set_ready(&PeerId([1; 16])));
        assert!(!t.set_ready(&PeerId([1; 16])));
        assert_eq!(t.ready_count(), 1);
        assert_eq!(t.at_endpoint("tcp://a:1"), Some(PeerId([2; 16])));
        assert_eq!(t.by_link(LinkId(2)), Some(PeerId([1; 16])));
        // A closed link leaves the link index; the peer gets a new one.
        assert_eq!(t.unlink(LinkId(2)), Some(PeerId([1; 16])));
        t.relink(PeerId([1; 16]), LinkId(3));
        assert_eq!(t.by_link(LinkId(3)), Some(PeerId([1; 16])));
        let r = t.remove(&PeerId([1; 16])).unwrap();
        assert!(r.link_open);
        assert_eq!(t.ready_count(), 0);
        assert_eq!(t.at_endpoint("tcp://b:1"), None);
        assert_eq!(t.by_link(LinkId(3)), None);
        // A new endpoint moves the index; a new key rehashes it.
        let two = PeerId([2; 16]);
        t.set_endpoint(two, "tcp://c:1".into(), "127.0.0.1:2".parse().unwrap());
        assert_eq!(t.at_endpoint("tcp://a:1"), None);
        t.set_key(KeyedState::from_seed(&[5; 32]));
        assert_eq!(t.at_endpoint("tcp://c:1"), Some(two));
        // The index holds hashes: an entry whose peer has another endpoint (a
        // collision) finds nothing.
        let h = t.endpoint_hash("tcp://d:1");
        let slot = t.slot_of(&two).unwrap();
        t.by_endpoint.insert(h, slot);
        assert_eq!(t.at_endpoint("tcp://d:1"), None);
        // A link index entry names a slot: one whose peer has another link now
        // finds nothing.
        t.by_link.insert(7, slot);
        assert_eq!(t.by_link(LinkId(7)), None);
        assert_eq!(t.unlink(LinkId(7)), None);
        assert_eq!(t.drain(), [LinkId(1)]);
        assert!(!t.contains(&PeerId([2; 16])));
        assert_eq!(t.at_endpoint("tcp://c:1"), None);
    }

    /// The first peer is due at its deadline to the nanosecond, however many reaps
    /// came before it (the queue counts time from when that peer was heard).
    #[test]
    fn the_first_peer_is_due_at_its_deadline() {
        use std::time::Duration;
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = PeerTable::with_timeouts(s(5), s(30));
        let mut p = peer(1, "tcp://a:1", 1);
        p.refresh(t0);
        t.insert(p);
        let mut due = Vec::new();
        for k in 1..5 {
            t.take_due(t0 + s(k), &mut due);
            assert!(due.is_empty());
        }
        t.take_due(t0 + s(5) - Duration::from_nanos(1), &mut due);
        assert!(due.is_empty());
        t.take_due(t0 + s(5), &mut due);
        assert_eq!(due, [PeerId([1; 16])]);
    }

    /// The deadline queue hands out exactly the peers that are due, in id order:
    /// a refreshed peer later, a rekeyed peer under its new id, a peer removed and
    /// added again under the same id once.
    #[test]
    fn deadline_queue_gives_the_due_peers() {
        use std::time::Duration;
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = PeerTable::with_timeouts(s(5), s(30));
        for (n, ep, link) in [
            (3, "tcp://a:1", 1),
            (1, "tcp://b:1", 2),
            (2, "tcp://c:1", 3),
        ] {
            let mut p = peer(n, ep, link);
            p.refresh(t0);
            t.insert(p);
        }
        let mut due = Vec::new();
        t.take_due(t0 + s(4), &mut due);
        assert!(due.is_empty());
        // Peer 1 is heard at 3 s, so it is due at 8 s, not 5 s.
        t.get_mut(&PeerId([1; 16])).unwrap().refresh(t0 + s(3));
        // Peer 2 becomes peer 9, then 2 again, then 9: one entry counts.
        assert!(t.rekey(PeerId([2; 16]), PeerId([9; 16])));
        assert!(t.rekey(PeerId([9; 16]), PeerId([2; 16])));
        assert!(t.rekey(PeerId([2; 16]), PeerId([9; 16])));
        // Peer 3 goes and comes back at 2 s (due at 7 s).
        t.remove(&PeerId([3; 16]));
        let mut back = peer(3, "tcp://a:1", 4);
        back.refresh(t0 + s(2));
        t.insert(back);
        t.take_due(t0 + s(5), &mut due);
        assert_eq!(due, [PeerId([9; 16])]);
        t.requeue(PeerId([9; 16]), t0 + s(5));
        due.clear();
        t.take_due(t0 + s(8), &mut due);
        assert_eq!(due, [PeerId([1; 16]), PeerId([3; 16]), PeerId([9; 16])]);
        // Not handed back: not due again.
        due.clear();
        t.take_due(t0 + s(60), &mut due);
        assert!(due.is_empty());
    }
}

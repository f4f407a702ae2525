//! The peer table's index by id: open addressing with linear probing over the
//! ids themselves.
//!
//! A beacon from a known peer costs the engine one lookup and nothing else, and a
//! 1,000-node mesh hears a million of them per second. A hash map that keeps its
//! control bytes apart from its entries reads two cache lines per lookup, and in a
//! large mesh neither is in the cache. Here the ids sit in one array, four to a
//! cache line, at most half full, so a lookup mostly reads one line; the values sit
//! in a parallel array, read only on a hit. Slots are placed by a keyed hash
//! (SipHash-1-3 under the node's key, as in every table keyed by the network), so a
//! neighbour cannot choose ids that pile up in one run of slots.

use std::hash::BuildHasher;

use super::hash::KeyedState;
use crate::event::PeerId;

/// The id that marks an empty slot; the nil id itself is kept aside.
const EMPTY: u128 = 0;

/// A map from peer ids to `V` (see the module docs).
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    ids: Vec<u128>,
    /// `Some` exactly where `ids` holds an id.
    vals: Vec<Option<V>>,
    /// Ids in `ids`.
    len: usize,
    /// The value of the nil id (all zeros), which cannot sit in `ids`.
    nil: Option<V>,
    key: KeyedState,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap::with_key(KeyedState::default())
    }
}

fn bits(id: &PeerId) -> u128 {
    u128::from_ne_bytes(id.0)
}

impl<V> IdMap<V> {
    /// An empty map that places ids by their hash under `key`.
    pub(crate) fn with_key(key: KeyedState) -> Self {
        IdMap {
            ids: Vec::new(),
            vals: Vec::new(),
            len: 0,
            nil: None,
            key,
        }
    }

    /// The same entries, placed by their hash under `key` from now on.
    pub(crate) fn rekey(&mut self, key: KeyedState) {
        self.key = key;
        self.rebuild(self.ids.len());
    }

    /// The key ids are placed under (the peer table hashes its other indexes
    /// under it too).
    pub(crate) fn key(&self) -> KeyedState {
        self.key
    }

    /// Places every entry again, into `cap` slots.
    fn rebuild(&mut self, cap: usize) {
        let ids = std::mem::replace(&mut self.ids, vec![EMPTY; cap]);
        let vals = std::mem::replace(&mut self.vals, (0..cap).map(|_| None).collect());
        self.len = 0;
        for (k, v) in ids.into_iter().zip(vals) {
            if let Some(v) = v {
                self.place(k, v);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len + usize::from(self.nil.is_some())
    }

    fn home(&self, k: u128) -> usize {
        (self.key.hash_one(k) as usize) & (self.ids.len() - 1)
    }

    /// The slot that holds `k` (not `EMPTY`). Ends: at most half the slots are
    /// taken.
    fn find(&self, k: u128) -> Option<usize> {
        if self.ids.is_empty() {
            return None;
        }
        let mask = self.ids.len() - 1;
        let mut i = self.home(k);
        loop {
            match self.ids[i] {
                x if x == k => return Some(i),
                EMPTY => return None,
                _ => i = (i + 1) & mask,
            }
        }
    }

    pub(crate) fn get(&self, id: &PeerId) -> Option<&V> {
        match bits(id) {
            EMPTY => self.nil.as_ref(),
            k => self.find(k).and_then(|i| self.vals[i].as_ref()),
        }
    }

    pub(crate) fn contains_key(&self, id: &PeerId) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value of `id`, returning the one it replaced.
    pub(crate) fn insert(&mut self, id: PeerId, v: V) -> Option<V> {
        let k = bits(&id);
        if k == EMPTY {
            return self.nil.replace(v);
        }
        if let Some(i) = self.find(k) {
            return self.vals[i].replace(v);
        }
        if (self.len + 1) * 2 > self.ids.len() {
            self.grow();
        }
        self.place(k, v);
        None
    }

    /// Puts an id that is not in the map into the first free slot from its home.
    fn place(&mut self, k: u128, v: V) {
        let mask = self.ids.len() - 1;
        let mut i = self.home(k);
        while self.ids[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.ids[i] = k;
        self.vals[i] = Some(v);
        self.len += 1;
    }

    fn grow(&mut self) {
        self.rebuild((self.ids.len() * 2).max(8));
    }

    /// Every id in the map, in no particular order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        let nil = self.nil.as_ref().map(|_| PeerId([0; 16]));
        self.ids
            .iter()
            .filter(|&&k| k != EMPTY)
            .map(|k| PeerId(k.to_ne_bytes()))
            .chain(nil)
    }

    /// Takes `id` out. The entries after it in its run move back into the hole
    /// where their home allows, so no lookup ever stops early at a hole.
    pub(crate) fn remove(&mut self, id: &PeerId) -> Option<V> {
        let k = bits(id);
        if k == EMPTY {
            return self.nil.take();
        }
        let mut hole = self.find(k)?;
        let v = self.vals[hole].take();
        self.ids[hole] = EMPTY;
        self.len -= 1;
        let mask = self.ids.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let x = self.ids[j];
            if x == EMPTY {
                return v;
            }
            // The entry at j stays if its home lies (cyclically) in (hole, j].
            let h = self.home(x);
            let stays = if hole <= j {
                hole < h && h <= j
            } else {
                hole < h || h <= j
            };
            if !stays {
                self.ids[hole] = x;
                self.ids[j] = EMPTY;
                self.vals[hole] = self.vals[j].take();
                hole = j;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn id(n: u8) -> PeerId {
        let mut b = [0u8; 16];
        b[15] = n;
        PeerId(b)
    }

    #[test]
    fn the_nil_id_is_an_id_like_any_other() {
        let mut m = IdMap::default();
        assert_eq!(m.insert(PeerId([0; 16]), 1), None);
        assert_eq!(m.insert(id(1), 2), None);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&PeerId([0; 16])), Some(&1));
        assert_eq!(m.remove(&PeerId([0; 16])), Some(1));
        assert!(!m.contains_key(&PeerId([0; 16])));
        assert_eq!(m.get(&id(1)), Some(&2));
    }

    /// A run that wraps around the end of the array loses its head: every entry
    /// after the hole must still be found, on both sides of the wrap.
    #[test]
    fn a_removal_keeps_a_wrapped_run_whole() {
        let mut m: IdMap<u8> = IdMap::with_key(KeyedState::from_seed(&[1; 32]));
        m.insert(id(1), 1);
        m.remove(&id(1));
        assert_eq!(m.ids.len(), 8, "four entries fit without growing");
        let with_home = |h: usize, not: &[u8]| {
            (1..=255u8)
                .find(|&n| m.home(bits(&id(n))) == h && !not.contains(&n))
                .unwrap()
        };
        let a = with_home(6, &[]);
        let b = with_home(6, &[a]);
        let c = with_home(7, &[]);
        let d = with_home(6, &[a, b]);
        for n in [a, b, c, d] {
            m.insert(id(n), n); // slots 6, 7, 0, 1
        }
        assert_eq!(m.remove(&id(a)), Some(a));
        for n in [b, c, d] {
            assert_eq!(m.get(&id(n)), Some(&n));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Rekey(u8),
    }

    /// Ids below `n`: few ids keep the array small, so runs often wrap around
    /// its end.
    fn op(n: u8) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..n, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (0..n).prop_map(Op::Remove),
            1 => any::<u8>().prop_map(Op::Rekey),
        ]
    }

    proptest! {
        /// Any run of inserts, removals and new keys leaves the map holding what a
        /// standard map holds, and listing it.
        #[test]
        fn behaves_as_a_map(
            ops in (1..=255u8).prop_flat_map(|n| proptest::collection::vec(op(n), 0..400))
        ) {
            let mut m = IdMap::with_key(KeyedState::from_seed(&[3; 32]));
            let mut model: HashMap<u8, u32> = HashMap::new();
            for o in ops {
                match o {
                    Op::Insert(k, v) => prop_assert_eq!(m.insert(id(k), v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(m.remove(&id(k)), model.remove(&k)),
                    Op::Rekey(s) => m.rekey(KeyedState::from_seed(&[s; 32])),
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for k in 0..=255u8 {
                prop_assert_eq!(m.get(&id(k)), model.get(&k));
            }
            let mut ids: Vec<PeerId> = m.ids().collect();
            ids.sort_unstable();
            let mut want: Vec<PeerId> = model.keys().map(|&k| id(k)).collect();
            want.sort_unstable();
            prop_assert_eq!(ids, want);
        }
    }
}

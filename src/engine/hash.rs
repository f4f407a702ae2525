//! Hashers for the engine's lookup tables.
//!
//! The standard `HashMap` seeds its hasher from the OS random generator, which the
//! sans-IO engine must not read. Tables keyed by the engine's own numbers (link ids)
//! use [`FixedHasher`], fixed and cheap: remote input cannot choose those keys.
//! Tables keyed by what the network says (peer UUIDs, routing ids) use
//! [`KeyedState`], SipHash-1-3 under a key the engine draws from its seed (from the
//! OS in a real node, from the run's seed in the simulator): a neighbour who cannot
//! know the key cannot pick UUIDs that collide and turn lookups into scans. Tables
//! are only looked up, never iterated where the order could change a result (or the
//! keys are sorted first), so the engine stays deterministic.
//!
//! ```
//! use zmesh::engine::hash::FixedMap;
//! let mut m: FixedMap<u64, &str> = FixedMap::default();
//! m.insert(7, "seven");
//! assert_eq!(m.get(&7), Some(&"seven"));
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use siphasher::sip::SipHasher13;

/// A multiply-rotate hasher with a SplitMix64 finish: fast, fixed, well mixed.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedHasher(u64);

/// SplitMix64's finaliser: a well-mixed 64-bit hash of a 64-bit input. The tools'
/// random streams are built on this same function.
///
/// ```
/// assert_ne!(zmesh::engine::hash::mix(1), zmesh::engine::hash::mix(2));
/// ```
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517C_C1B7_2722_0A95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
}

/// A `HashMap` with the fixed hasher.
pub type FixedMap<K, V> = HashMap<K, V, BuildHasherDefault<FixedHasher>>;
/// A map from 64-bit keys (ids, or keyed hashes of what the network chooses) held
/// at 4-byte alignment, so that an entry with a `u32` value takes 12 bytes where
/// a `u64` key made it 16: the engine's per-peer indexes hold n² entries in a
/// mesh of n nodes. Keys hash exactly as `u64`s do in a [`FixedMap`].
#[derive(Debug, Clone)]
pub(crate) struct SlimMap<V>(FixedMap<Key64, V>);

/// A `u64` as two `u32`s (alignment 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key64([u32; 2]);

impl Key64 {
    fn new(k: u64) -> Key64 {
        Key64([k as u32, (k >> 32) as u32])
    }

    fn get(self) -> u64 {
        u64::from(self.0[0]) | u64::from(self.0[1]) << 32
    }
}

impl std::hash::Hash for Key64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.get());
    }
}

impl<V> Default for SlimMap<V> {
    fn default() -> Self {
        SlimMap(FixedMap::default())
    }
}

impl<V> SlimMap<V> {
    pub(crate) fn get(&self, k: u64) -> Option<&V> {
        self.0.get(&Key64::new(k))
    }

    pub(crate) fn get_mut(&mut self, k: u64) -> Option<&mut V> {
        self.0.get_mut(&Key64::new(k))
    }

    pub(crate) fn insert(&mut self, k: u64, v: V) -> Option<V> {
        self.0.insert(Key64::new(k), v)
    }

    pub(crate) fn remove(&mut self, k: u64) -> Option<V> {
        self.0.remove(&Key64::new(k))
    }

    pub(crate) fn entry(&mut self, k: u64) -> std::collections::hash_map::Entry<'_, Key64, V> {
        self.0.entry(Key64::new(k))
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear()
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u64, V)> + '_ {
        self.0.drain().map(|(k, v)| (k.get(), v))
    }
}

/// A `HashSet` with the fixed hasher.
pub type FixedSet<K> = HashSet<K, BuildHasherDefault<FixedHasher>>;

/// SipHash-1-3 under a secret key: for tables whose keys come from the network.
///
/// ```
/// use zmesh::engine::hash::{KeyedMap, KeyedState};
/// let mut m: KeyedMap<[u8; 16], u32> = KeyedMap::with_hasher(KeyedState::from_seed(&[7; 32]));
/// m.insert([1; 16], 1);
/// assert_eq!(m.get(&[1; 16]), Some(&1));
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    /// A key drawn from `seed` (which must be secret for the key to be).
    pub fn from_seed(seed: &[u8]) -> KeyedState {
        let mut k = [0u64; 2];
        for (i, chunk) in seed.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            k[i % 2] = mix(k[i % 2] ^ u64::from_le_bytes(b) ^ i as u64);
        }
        KeyedState { k0: k[0], k1: k[1] }
    }
}

impl BuildHasher for KeyedState {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// A `HashMap` keyed by remote input, hashed under a secret key.
pub type KeyedMap<K, V> = HashMap<K, V, KeyedState>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of 12 bytes, found and hashed as `u64` keys are.
    #[test]
    fn a_slim_map_keeps_u64_keys_in_12_byte_entries() {
        assert_eq!(std::mem::size_of::<(Key64, u32)>(), 12);
        let mut m = SlimMap::default();
        for k in [0, 1, u32::MAX as u64 + 1, u64::MAX, 0x1234_5678_9abc_def0] {
            assert_eq!(m.insert(k, k as u32 ^ 7), None);
        }
        assert_eq!(m.get(u64::MAX), Some(&(u32::MAX ^ 7)));
        assert_eq!(m.get(u32::MAX as u64), None);
        *m.get_mut(1).unwrap() += 1;
        assert_eq!(m.remove(1), Some(7));
        *m.entry(1).or_default() += 2;
        let mut all: Vec<(u64, u32)> = m.drain().collect();
        all.sort_unstable();
        assert_eq!(all[0], (0, 7));
        assert_eq!(all[1], (1, 2));
        assert_eq!(all.len(), 5);
        assert_eq!(m.get(0), None);
        let h = |k: Key64| BuildHasherDefault::<FixedHasher>::default().hash_one(k);
        let k = 0x1234_5678_9abc_def0u64;
        assert_eq!(
            h(Key64::new(k)),
            BuildHasherDefault::<FixedHasher>::default().hash_one(k)
        );
    }

    #[test]
    fn the_key_changes_every_hash() {
        let (a, b) = (
            KeyedState::from_seed(&[1; 32]),
            KeyedState::from_seed(&[2; 32]),
        );
        let uuid = [0x55u8; 16];
        assert_ne!(a.hash_one(uuid), b.hash_one(uuid));
        assert_eq!(
            a.hash_one(uuid),
            KeyedState::from_seed(&[1; 32]).hash_one(uuid)
        );
        // Keys that collide under the fixed hasher (a flipped top bit in the first
        // word cancelled by a flipped bit in the second) do not under the keyed one.
        let fixed = BuildHasherDefault::<FixedHasher>::default();
        let x = [0u64, 0];
        let y = [1u64 << 63, 1 << 4];
        assert_eq!(fixed.hash_one(x), fixed.hash_one(y));
        assert_ne!(a.hash_one(x), a.hash_one(y));
    }
}

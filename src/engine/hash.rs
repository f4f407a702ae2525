//! A fixed (not randomly seeded) hasher for the engine's lookup tables.
//!
//! The standard `HashMap` seeds its hasher from the OS random generator, which the
//! sans-IO engine must not read, and its SipHash costs more than these small keys
//! need. Tables using this hasher are only looked up, never iterated where the order
//! could change a result (or the keys are sorted first), so the engine stays
//! deterministic. Remote input cannot choose the keys (link ids are the engine's own),
//! so hash flooding is not a concern.
//!
//! ```
//! use zmesh::engine::hash::FixedMap;
//! let mut m: FixedMap<u64, &str> = FixedMap::default();
//! m.insert(7, "seven");
//! assert_eq!(m.get(&7), Some(&"seven"));
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

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
/// A `HashSet` with the fixed hasher.
pub type FixedSet<K> = HashSet<K, BuildHasherDefault<FixedHasher>>;

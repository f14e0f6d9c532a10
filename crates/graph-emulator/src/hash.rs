//! A fast hasher for the emulator's large in-memory maps (the directory's indexes, the
//! schema's property tables, the tenant file's id and UPN checks).
//!
//! Why not the standard `RandomState` (SipHash): loading a 100,000-user tenant hashes a
//! few million short strings, and SipHash was the largest single cost of it (~15 %). This
//! is the multiply-rotate hash rustc uses (FxHash), eight bytes at a time, with a final
//! mix so that hashbrown's top-bit tags spread. It is not collision-resistant against a
//! chosen input; the emulator is a local test tool whose keys come from its own tenant file
//! and test clients, so that trade is acceptable here.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` with [`FastHasher`].
pub type FastSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

/// FxHash with a final mix (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // murmur3's fmix64: every input bit reaches the top bits hashbrown tags with.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::*;

    #[test]
    fn distinguishes_near_keys_and_works_as_a_map() {
        let b = BuildHasherDefault::<FastHasher>::default();
        let keys = ["", "a", "a\0", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi"];
        let hashes: std::collections::HashSet<u64> = keys.iter().map(|k| b.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
        let mut map: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            map.insert(format!("user{i}@contoso.com"), i);
        }
        assert_eq!(map.get("user9999@contoso.com"), Some(&9_999));
        assert_eq!(map.len(), 10_000);
    }
}

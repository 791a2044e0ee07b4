//! The hasher of the scheduler's maps: its keys are ids, names and small integers from
//! the CIB, looked up hundreds of thousands of times per plan at cloud scale, where the
//! standard library's DoS-resistant SipHash is a fifth of building the working set. A
//! multiply-and-rotate hash over machine words does for them. No output depends on a
//! map's iteration order (with the standard hasher it would already differ from run to
//! run).
use std::hash::{BuildHasherDefault, Hasher};

/// A map with [`WordHasher`].
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// A set with [`WordHasher`].
pub(crate) type Set<K> = std::collections::HashSet<K, BuildHasherDefault<WordHasher>>;

/// Folds each word in with a rotation, an exclusive or and a multiplication by an odd
/// constant (the fractional part of the golden ratio, which spreads consecutive integers).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The table picks a bucket by the low bits and tags it with the top 7; a
        // product's best-mixed bits are its high ones: bring them down.
        self.0.rotate_left(20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash<T: Hash>(v: T) -> u64 {
        BuildHasherDefault::<WordHasher>::default().hash_one(v)
    }

    #[test]
    fn equal_keys_hash_alike_and_near_ones_apart() {
        assert_eq!(hash("rsc1"), hash(String::from("rsc1")));
        let names: Vec<u64> = [
            "a", "ab", "ab\0", "rsc1", "rsc2", "rsc10", "rsc1:0", "rsc1:1",
        ]
        .iter()
        .map(hash)
        .collect();
        let mut distinct = names.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), names.len(), "{names:x?}");
        assert_ne!(hash((1usize, 2usize)), hash((2usize, 1usize)));
        assert_ne!(hash(vec![true, false]), hash(vec![false, true]));
    }

    #[test]
    fn a_map_keyed_by_ids_finds_every_key() {
        let mut m: Map<String, usize> = Map::default();
        for i in 0..10_000 {
            m.insert(format!("rsc{i}"), i);
        }
        assert!((0..10_000).all(|i| m.get(&format!("rsc{i}")) == Some(&i)));
        assert_eq!(m.get("rsc10000"), None);
    }
}

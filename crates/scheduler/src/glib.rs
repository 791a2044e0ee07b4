//! The order in which Pacemaker meets the nodes of a node table.
//!
//! Pacemaker keeps a resource's allowed nodes in a GLib hash table keyed by node id and,
//! to choose a node, sorts the table's values (`g_hash_table_get_values`) with a merge sort.
//! Under `placement-strategy=balanced` the comparison of free capacity votes attribute by
//! attribute and is not transitive (a node ahead on CPU, another ahead on memory: a tie),
//! so the sorted result depends on the order the sort starts from: the table's bucket order.
//! This module reproduces that order: GLib 2.x's open-addressing table (Pacemaker's own
//! string hash, index `hash * 11 mod prime`, quadratic probing, growth at 15/16 occupancy to
//! `nnodes * 1.333` rounded up to a power of two, in-place relocation on resize), filled in
//! the order Pacemaker fills it (its node list, sorted by name with numbers compared as
//! numbers). Only the behaviour is reproduced; the checks below compare it with GLib's own
//! results.

use std::cmp::Ordering;

/// The hash Pacemaker gives its string-keyed tables (`pcmk__str_hash`: h * 31 + c over
/// signed chars, from 0), with GLib's reserved values 0 and 1 mapped to 2 as the table does.
fn str_hash(s: &str) -> u32 {
    let mut h: u32 = 0;
    for &b in s.as_bytes() {
        h = h.wrapping_mul(31).wrapping_add(b as i8 as i32 as u32);
    }
    if h < 2 { 2 } else { h }
}

/// Primes GLib takes the index modulo, by table shift.
const PRIME_MOD: [u32; 32] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
    268435399, 536870909, 1073741789, 2147483647,
];
const MIN_SHIFT: u32 = 3;

/// A table of keys (indexes into the caller's key list), laid out as GLib lays them out.
struct Table {
    hashes: Vec<u32>,
    keys: Vec<usize>,
    size: usize,
    modulus: u32,
    mask: usize,
    nnodes: usize,
    noccupied: usize,
}

impl Table {
    fn new() -> Table {
        let mut t = Table {
            hashes: Vec::new(),
            keys: Vec::new(),
            size: 0,
            modulus: 0,
            mask: 0,
            nnodes: 0,
            noccupied: 0,
        };
        t.set_shift(MIN_SHIFT);
        t.hashes = vec![0; t.size];
        t.keys = vec![usize::MAX; t.size];
        t
    }

    fn set_shift(&mut self, shift: u32) {
        self.size = 1 << shift;
        self.modulus = PRIME_MOD[shift as usize];
        self.mask = self.size - 1;
    }

    fn index(&self, hash: u32) -> usize {
        (hash.wrapping_mul(11) % self.modulus) as usize
    }

    /// Inserts a key known to be absent (node ids are unique).
    fn insert(&mut self, key: usize, hash: u32) {
        let mut i = self.index(hash);
        let mut step = 0;
        while self.hashes[i] != 0 {
            step += 1;
            i = (i + step) & self.mask;
        }
        self.hashes[i] = hash;
        self.keys[i] = key;
        self.nnodes += 1;
        self.noccupied += 1;
        let grow = self.size <= self.noccupied + self.noccupied / 16;
        let shrink = self.size > self.nnodes * 4 && self.size > 1 << MIN_SHIFT;
        if grow || shrink {
            self.resize();
        }
    }

    fn resize(&mut self) {
        let old = self.size;
        // GLib truncates nnodes * 1.333 to an integer, then takes its bit length.
        let target = (self.nnodes as f64 * 1.333) as u64;
        let shift = (u64::BITS - target.leading_zeros()).max(MIN_SHIFT);
        self.set_shift(shift);
        if self.size > old {
            self.hashes.resize(self.size, 0);
            self.keys.resize(self.size, usize::MAX);
        }
        let mut moved = vec![false; self.size.max(old)];
        for i in 0..old {
            if self.hashes[i] < 2 || moved[i] {
                continue;
            }
            let mut hash = std::mem::replace(&mut self.hashes[i], 0);
            let mut key = self.keys[i];
            loop {
                let mut j = self.index(hash);
                let mut step = 0;
                while moved[j] {
                    step += 1;
                    j = (j + step) & self.mask;
                }
                moved[j] = true;
                let replaced = std::mem::replace(&mut self.hashes[j], hash);
                let evicted = std::mem::replace(&mut self.keys[j], key);
                if replaced < 2 {
                    break;
                }
                hash = replaced;
                key = evicted;
            }
        }
        if self.size < old {
            self.hashes.truncate(self.size);
            self.keys.truncate(self.size);
        }
        self.noccupied = self.nnodes;
    }

    /// Keys in bucket order (what a `GHashTableIter` visits).
    fn buckets(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.size)
            .filter(|&i| self.hashes[i] >= 2)
            .map(|i| self.keys[i])
    }
}

/// The order `g_hash_table_get_values` lists the keys `ids[k]` for k in `inserted`, when
/// they were inserted in that order into a new table. GLib prepends as it walks the
/// buckets: the list is in reverse bucket order. (A copy of a table, as
/// `pcmk__copy_node_table` makes, is a new table filled in the old one's bucket order.)
pub(crate) fn values_order(ids: &[&str], inserted: &[usize]) -> Vec<usize> {
    let mut t = Table::new();
    for &k in inserted {
        t.insert(k, str_hash(ids[k]));
    }
    let mut order: Vec<usize> = t.buckets().collect();
    order.reverse();
    order
}

/// Pacemaker's node-name order (`pcmk__numeric_strcasecmp`): case-insensitive, with runs
/// of digits compared as numbers (and the shorter run first when equal, so 7 < 007).
pub(crate) fn cmp_node_names(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let ei = i + a[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let ej = j + b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            let ord = cmp_digits(&a[i..ei], &b[j..ej]).then((ei - i).cmp(&(ej - j)));
            if ord != Ordering::Equal {
                return ord;
            }
            i = ei;
            j = ej;
        } else {
            let ord = a[i].to_ascii_lowercase().cmp(&b[j].to_ascii_lowercase());
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).min(1).cmp(&(b.len() - j).min(1))
}

/// Compares two runs of digits by value, however long.
fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys as GLib lists a table filled with them in order and then copied `copies`
    /// times, joined by spaces.
    fn listed(keys: &[String], copies: usize) -> String {
        let ids: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut order = values_order(&ids, &(0..keys.len()).collect::<Vec<_>>());
        for _ in 0..copies {
            // A copy is filled in bucket order: the listed order reversed.
            order.reverse();
            order = values_order(&ids, &order);
        }
        let out: Vec<&str> = order.into_iter().map(|k| ids[k]).collect();
        out.join(" ")
    }

    // The expected orders were produced by GLib 2.74 itself (Debian 12's libglib2.0-0:
    // g_hash_table_new with Pacemaker's string hash, g_hash_table_insert in order, then
    // g_hash_table_get_values), and agree with the order crm_simulate's traces show.
    #[test]
    fn sixteen_numeric_ids_come_out_as_glib_lists_them() {
        let keys: Vec<String> = (1..=16).map(|i| i.to_string()).collect();
        assert_eq!(listed(&keys, 0), "8 5 15 12 2 7 14 4 11 1 9 6 16 13 3 10");
    }

    #[test]
    fn a_copied_table_of_colliding_keys_is_laid_out_anew() {
        let keys: Vec<String> = (1..=40).map(|i| format!("node{i}")).collect();
        let strip = |s: String| s.replace("node", "");
        assert_eq!(
            strip(listed(&keys, 0)),
            "35 4 16 34 28 10 9 39 22 3 15 40 27 33 8 38 21 2 14 32 26 7 19 37 20 1 13 25 18 6 \
             36 12 31 24 5 17 29 11 30 23"
        );
        assert_eq!(
            strip(listed(&keys, 1)),
            "35 4 16 34 28 10 9 39 22 3 15 7 27 2 8 40 21 14 33 32 26 19 38 18 20 1 13 25 37 6 \
             5 12 31 24 17 36 29 11 30 23"
        );
    }

    #[test]
    fn node_names_sort_with_numbers_as_numbers() {
        let mut v = vec!["node10", "Node2", "node1", "node007", "node7", "a"];
        v.sort_by(|a, b| cmp_node_names(a, b));
        assert_eq!(v, ["a", "node1", "Node2", "node7", "node007", "node10"]);
    }
}

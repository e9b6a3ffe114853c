//! `Dict`: the keyspace's hash table, split into segments by hash prefix so that SCAN has
//! Redis's guarantee with a plain numeric cursor.
//!
//! Invariant: segment `j` of `2^bits` holds exactly the keys whose 32-bit hash prefix
//! (`hash >> 32`) lies in `[j << (32-bits), (j+1) << (32-bits))`. A scan cursor is a prefix
//! value: every key whose prefix is below the cursor has been returned. Resizing changes how
//! prefixes are grouped, never which prefix a key has, so a key present for a whole scan is
//! returned at least once however the table grows or shrinks in between.

use super::str::Str;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::BuildHasher;

/// Average keys per segment before the segment count doubles.
const GROW_AT: usize = 128;
/// Average keys per segment below which the segment count halves.
const SHRINK_AT: usize = 16;

/// What a `Dict` is keyed by: a byte string it owns (`Str`; the keyspace's `Key`).
pub trait DictKey: Borrow<[u8]> {}
impl DictKey for Str {}
impl DictKey for super::key::Key {}

#[inline]
fn bytes<K: DictKey>(k: &K) -> &[u8] {
    k.borrow()
}

pub struct Dict<V, K: DictKey = Str> {
    segs: Vec<HashTable<(K, V)>>,
    bits: u32,
    len: usize,
    hasher: foldhash::fast::FixedState,
}

impl<V, K: DictKey> Default for Dict<V, K> {
    fn default() -> Self {
        Dict::new()
    }
}

/// A process-wide random seed, so hash flooding cannot be planned from outside.
fn seed() -> u64 {
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(rand::random)
}

impl<V, K: DictKey> Dict<V, K> {
    pub fn new() -> Dict<V, K> {
        Dict {
            segs: vec![HashTable::new()],
            bits: 0,
            len: 0,
            hasher: foldhash::fast::FixedState::with_seed(seed()),
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        if self.bits == 0 {
            0
        } else {
            (h >> (64 - self.bits)) as usize
        }
    }

    /// The hash the segment's own table sees: the segment bits are constant inside a segment,
    /// so rotate them out of the table's bucket and tag bits.
    #[inline]
    fn inner(h: u64) -> u64 {
        h.rotate_left(32)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let h = self.hash(key);
        self.segs[self.seg_of(h)]
            .find(Self::inner(h), |(k, _)| bytes(k) == key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.segs[s]
            .find_mut(Self::inner(h), |(k, _)| bytes(k) == key)
            .map(|(_, v)| v)
    }

    /// The stored key (for its owner word) and value of `key`.
    pub fn get_kv_mut(&mut self, key: &[u8]) -> Option<(&mut K, &mut V)> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        self.segs[s]
            .find_mut(Self::inner(h), |(k, _)| bytes(k) == key)
            .map(|(k, v)| (k, v))
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        let h = self.hash(key);
        self.segs[self.seg_of(h)]
            .find(Self::inner(h), |(k, _)| bytes(k) == key)
            .map(|(k, v)| (k, v))
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let h = self.hash(bytes(&key));
        let s = self.seg_of(h);
        let hasher = &self.hasher;
        let entry = self.segs[s].entry(
            Self::inner(h),
            |(k, _)| bytes(k) == bytes(&key),
            |(k, _)| Self::inner(hasher.hash_one(bytes(k))),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                Some(std::mem::replace(&mut o.get_mut().1, value))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((key, value));
                self.len += 1;
                self.maybe_grow();
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        let h = self.hash(key);
        let s = self.seg_of(h);
        match self.segs[s].find_entry(Self::inner(h), |(k, _)| bytes(k) == key) {
            Ok(o) => {
                let (kv, _) = o.remove();
                self.len -= 1;
                self.maybe_shrink();
                Some(kv)
            }
            Err(_) => None,
        }
    }

    pub fn clear(&mut self) {
        *self = Dict {
            segs: vec![HashTable::new()],
            bits: 0,
            len: 0,
            hasher: self.hasher,
        };
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.segs.iter().flat_map(|s| s.iter().map(|(k, v)| (k, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.segs
            .iter_mut()
            .flat_map(|s| s.iter_mut().map(|(k, v)| (&*k, v)))
    }

    /// Keeps only the entries for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        let mut removed = 0;
        for s in &mut self.segs {
            let before = s.len();
            s.retain(|(k, v)| f(k, v));
            removed += before - s.len();
        }
        self.len -= removed;
        self.maybe_shrink();
    }

    /// Visits whole segments starting at `cursor` until at least `count` entries were offered
    /// to `f` (or the table ends). Returns the next cursor; 0 when the scan is complete.
    /// Cursors live in `[0, 2^32)`.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&K, &V)) -> u64 {
        let cursor = cursor & 0xFFFF_FFFF;
        let shift = 32 - self.bits;
        let mut seg = (cursor >> shift) as usize;
        let mut seen = 0;
        while seg < self.segs.len() {
            for (k, v) in self.segs[seg].iter() {
                if self.hash(bytes(k)) >> 32 >= cursor {
                    f(k, v);
                    seen += 1;
                }
            }
            seg += 1;
            if seen >= count.max(1) {
                break;
            }
        }
        if seg >= self.segs.len() {
            0
        } else {
            (seg as u64) << shift
        }
    }

    /// A uniformly chosen segment's random entry (close enough to uniform for RANDOMKEY).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&K, &V)> {
        if self.len == 0 {
            return None;
        }
        let n = self.segs.len();
        let start = rng.gen_range(0..n);
        for i in 0..n {
            let s = &self.segs[(start + i) % n];
            if !s.is_empty() {
                let idx = rng.gen_range(0..s.len());
                return s.iter().nth(idx).map(|(k, v)| (k, v));
            }
        }
        None
    }

    /// Approximate bytes used by the table structure (not the keys' and values' heap data).
    pub fn table_bytes(&self) -> usize {
        self.segs
            .iter()
            .map(|s| s.capacity() * (std::mem::size_of::<(K, V)>() + 1))
            .sum::<usize>()
            + self.segs.capacity() * std::mem::size_of::<HashTable<(K, V)>>()
    }

    fn maybe_grow(&mut self) {
        if self.len > self.segs.len() * GROW_AT && self.bits < 24 {
            self.resize(self.bits + 1);
        }
    }

    fn maybe_shrink(&mut self) {
        if self.bits > 0 && self.len < self.segs.len() * SHRINK_AT {
            self.resize(self.bits - 1);
        }
    }

    /// Regroups the keys into `2^bits` segments. Old and new segments are both in prefix
    /// order, so new segments are allocated only as the old ones before them are consumed and
    /// freed: the peak is about one table, not old and new side by side (RSS keeps a peak).
    fn resize(&mut self, bits: u32) {
        let old = std::mem::take(&mut self.segs);
        self.bits = bits;
        let n = 1usize << bits;
        let per = (self.len >> bits) + 1;
        let mut segs: Vec<HashTable<(K, V)>> = Vec::with_capacity(n);
        for seg in old {
            for (k, v) in seg {
                let h = self.hash(bytes(&k));
                let s = self.seg_of(h);
                while segs.len() <= s {
                    segs.push(HashTable::with_capacity(per));
                }
                let hasher = &self.hasher;
                segs[s].insert_unique(Self::inner(h), (k, v), |(k, _)| {
                    Self::inner(hasher.hash_one(bytes(k)))
                });
            }
        }
        segs.resize_with(n, || HashTable::with_capacity(per));
        self.segs = segs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove_resize() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..20_000u32 {
            d.insert(Str::from_i64(i as i64), i);
        }
        assert_eq!(d.len(), 20_000);
        assert!(d.bits > 0);
        for i in 0..20_000u32 {
            assert_eq!(d.get(Str::from_i64(i as i64).as_bytes()), Some(&i));
        }
        for i in 0..19_990u32 {
            assert!(d.remove(Str::from_i64(i as i64).as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d: Dict<()> = Dict::new();
        for i in 0..5000 {
            d.insert(Str::from_i64(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut rounds = 0;
        loop {
            cursor = d.scan(cursor, 10, |k, _| {
                seen.insert(k.clone());
            });
            rounds += 1;
            // Grow and shrink the table under the scan; keys 0..5000 stay throughout.
            if rounds == 3 {
                for i in 5000..50_000 {
                    d.insert(Str::from_i64(i), ());
                }
            }
            if rounds == 20 {
                for i in 5000..50_000 {
                    d.remove(Str::from_i64(i).as_bytes());
                }
            }
            if cursor == 0 || rounds > 100_000 {
                break;
            }
        }
        for i in 0..5000 {
            assert!(seen.contains(&Str::from_i64(i)), "missed {i}");
        }
    }
}

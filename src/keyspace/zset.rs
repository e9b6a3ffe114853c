//! Sorted set value: a member → score table plus an indexable skiplist ordered by
//! `(score, member)`.
//!
//! Invariants:
//! - `dict` and `list` hold exactly the same `(member, score)` pairs; no score is NaN.
//! - Rank, select, insert, delete and range boundaries are O(log n) (`list`); score lookup is
//!   O(1) (`dict`). SCAN walks `dict`, so its cursor keeps the keyspace SCAN guarantee.
//! - `listpack` mirrors the encoding Redis 7.0 would use for the same history of writes (small
//!   sets start compact and convert once they pass 128 entries or hold a member over 64
//!   bytes; they never convert back). It only changes what Redis makes visible: ZSCAN's reply
//!   shape, OBJECT ENCODING, and `-0` scores stored compactly reading back as `0`.

mod skiplist;

use super::dict::Dict;
use super::str::Str;
pub use skiplist::{NodeId, SkipList};

/// Redis's `zset-max-listpack-entries` default.
pub const LISTPACK_MAX_ENTRIES: usize = 128;
/// Redis's `zset-max-listpack-value` default.
pub const LISTPACK_MAX_VALUE: usize = 64;

pub struct ZSet {
    dict: Dict<f64>,
    list: SkipList,
    listpack: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        let mut dict = Dict::new();
        for (m, &s) in self.dict.iter() {
            dict.insert(m.clone(), s);
        }
        ZSet {
            dict,
            list: self.list.clone(),
            listpack: self.listpack,
        }
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet {
            dict: Dict::new(),
            list: SkipList::new(),
            listpack: true,
        }
    }

    /// An empty set already in the large (skiplist) encoding, for results Redis builds that
    /// way.
    pub fn skiplist() -> ZSet {
        ZSet {
            listpack: false,
            ..ZSet::new()
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether Redis would hold this set in its compact (listpack) encoding.
    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    /// `"listpack"` or `"skiplist"`, as OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.dict.contains_key(member)
    }

    /// Sets `member`'s score, adding it if absent; returns the previous score. The caller
    /// guarantees `score` is not NaN.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.score(member);
        if let Some(old) = old {
            let score = self.stored(score);
            if old.to_bits() != score.to_bits() {
                self.list.update_score(old, member, score);
                if let Some(s) = self.dict.get_mut(member) {
                    *s = score;
                }
            }
            return Some(old);
        }
        if self.listpack
            && (self.len() + 1 > LISTPACK_MAX_ENTRIES || member.len() > LISTPACK_MAX_VALUE)
        {
            self.listpack = false;
        }
        let score = self.stored(score);
        let key = Str::new(member);
        self.list.insert(score, key.clone());
        self.dict.insert(key, score);
        None
    }

    /// The score as it reads back: the compact encoding keeps scores as text, where `-0`
    /// becomes `0`.
    fn stored(&self, score: f64) -> f64 {
        if self.listpack {
            score + 0.0
        } else {
            score
        }
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, score) = self.dict.remove(member)?;
        self.list.remove(score, member);
        Some(score)
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        self.list.rank(score, member)
    }

    /// How many elements satisfy `before`, which must hold for a prefix of the ascending
    /// order (e.g. `score < x`). O(log n).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.list.count_before(before)
    }

    /// The element at 0-based ascending `rank`.
    pub fn at(&self, rank: usize) -> Option<(&Str, f64)> {
        self.list.at(rank).map(|id| self.list.get(id))
    }

    /// Elements from ascending rank `rank` onwards, in ascending order.
    pub fn iter_from(&self, rank: usize) -> Iter<'_> {
        Iter {
            list: &self.list,
            cur: self.list.at(rank),
            rev: false,
        }
    }

    /// Elements from ascending rank `rank` downwards, in descending order.
    pub fn iter_rev_from(&self, rank: usize) -> Iter<'_> {
        Iter {
            list: &self.list,
            cur: self.list.at(rank),
            rev: true,
        }
    }

    /// All elements in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: &self.list,
            cur: self.list.first(),
            rev: false,
        }
    }

    /// All elements in descending order.
    pub fn iter_rev(&self) -> Iter<'_> {
        Iter {
            list: &self.list,
            cur: self.list.last(),
            rev: true,
        }
    }

    /// One SCAN step over the member table (see [`Dict::scan`]); returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Str, f64)) -> u64 {
        self.dict.scan(cursor, count, |m, &s| f(m, s))
    }
}

/// Walks the skiplist's level-0 links in either direction.
pub struct Iter<'a> {
    list: &'a SkipList,
    cur: Option<NodeId>,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, f64);
    fn next(&mut self) -> Option<Self::Item> {
        let id = self.cur?;
        self.cur = if self.rev {
            self.list.prev(id)
        } else {
            self.list.next(id)
        };
        Some(self.list.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::{BTreeSet, HashMap};

    /// The obvious model: a member map and an ordered set of (score bits order, member).
    #[derive(Default)]
    struct Model {
        scores: HashMap<Vec<u8>, f64>,
    }

    impl Model {
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<_> = self.scores.iter().map(|(m, &s)| (m.clone(), s)).collect();
            v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
            v
        }
    }

    fn dump(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn randomized_against_model() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for round in 0..4 {
            let mut z = ZSet::new();
            let mut m = Model::default();
            let members = [10, 60, 300, 2000][round];
            for step in 0..6000 {
                let member = format!("m{}", rng.gen_range(0..members)).into_bytes();
                match rng.gen_range(0..10) {
                    0..=5 => {
                        // Few distinct scores so ties exercise the member order.
                        let s = rng.gen_range(-20..20) as f64 / 4.0;
                        assert_eq!(z.insert(&member, s), m.scores.insert(member.clone(), s));
                    }
                    6..=7 => assert_eq!(z.remove(&member), m.scores.remove(&member)),
                    _ => {
                        let sorted = m.sorted();
                        let rank = sorted.iter().position(|(mm, _)| *mm == member);
                        assert_eq!(z.rank(&member), rank);
                        if !sorted.is_empty() {
                            let r = rng.gen_range(0..sorted.len());
                            let (mm, s) = z.at(r).unwrap();
                            assert_eq!((mm.to_vec(), s), sorted[r]);
                            let x = rng.gen_range(-20..20) as f64 / 4.0;
                            let below = sorted.iter().filter(|e| e.1 < x).count();
                            assert_eq!(z.count_before(|s, _| s < x), below);
                            let rev: Vec<_> =
                                z.iter_rev_from(r).map(|(m, s)| (m.to_vec(), s)).collect();
                            let mut want = sorted[..=r].to_vec();
                            want.reverse();
                            assert_eq!(rev, want);
                        }
                    }
                }
                assert_eq!(z.len(), m.scores.len());
                if step % 500 == 0 {
                    z.list.check();
                    assert_eq!(dump(&z), m.sorted());
                }
            }
            z.list.check();
            assert_eq!(dump(&z), m.sorted());
            assert_eq!(dump(&z.clone()), m.sorted());
            let all: BTreeSet<Vec<u8>> = m.scores.keys().cloned().collect();
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            for _ in 0..100_000 {
                cursor = z.scan(cursor, 10, |mm, _| {
                    seen.insert(mm.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, all);
        }
    }

    #[test]
    fn encoding_follows_redis_rules() {
        let mut z = ZSet::new();
        z.insert(b"a", -0.0);
        assert!(z.is_listpack());
        assert!(z.score(b"a").unwrap().is_sign_positive());
        for i in 0..127 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.len(), 128);
        assert!(z.is_listpack());
        z.insert(b"one-more", 1.0);
        assert!(!z.is_listpack());
        z.remove(b"one-more");
        assert!(!z.is_listpack(), "never converts back");
        z.insert(b"neg", -0.0);
        assert!(z.score(b"neg").unwrap().is_sign_negative());
        let mut long = ZSet::new();
        long.insert(&[b'x'; 65], 1.0);
        assert_eq!(long.encoding(), "skiplist");
    }
}

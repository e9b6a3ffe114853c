//! Random picks from collections without random access (hashbrown maps and sets), for SPOP,
//! SRANDMEMBER and HRANDFIELD.
//!
//! Invariant: picks are uniform; a distinct pick of `k` returns `k` different elements in
//! random order. Each pick walks the collection once (O(n)): hashbrown exposes no buckets.

use crate::error::{CmdResult, CommandError};
use rand::seq::{IteratorRandom, SliceRandom};
use rand::Rng;

/// Replies of more elements than this are refused: Redis itself would try to build them
/// and exhaust its memory (e.g. `SRANDMEMBER key -9223372036854775807`).
pub const MAX_REPLY_ITEMS: u64 = 1 << 24;

/// One uniformly chosen element.
pub fn one<T>(mut items: impl ExactSizeIterator<Item = T>, rng: &mut impl Rng) -> Option<T> {
    let n = items.len();
    if n == 0 {
        return None;
    }
    items.nth(rng.gen_range(0..n))
}

/// `k` distinct elements in random order (all of them if there are fewer).
pub fn distinct<T>(items: impl Iterator<Item = T>, k: usize, rng: &mut impl Rng) -> Vec<T> {
    let mut v = items.choose_multiple(rng, k);
    v.shuffle(rng);
    v
}

/// `k` elements drawn with replacement; empty if there is nothing to draw from.
pub fn repeated<T: Clone>(
    items: impl Iterator<Item = T>,
    k: u64,
    rng: &mut impl Rng,
) -> CmdResult<Vec<T>> {
    if k > MAX_REPLY_ITEMS {
        return Err(CommandError::err("ERR value is out of range"));
    }
    let all: Vec<T> = items.collect();
    if all.is_empty() {
        return Ok(Vec::new());
    }
    Ok((0..k)
        .map(|_| all[rng.gen_range(0..all.len())].clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let v = distinct(0..10, 4, &mut rng);
        let mut s = v.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 4);
        assert_eq!(distinct(0..3, 10, &mut rng).len(), 3);
        assert_eq!(repeated(0..2, 7, &mut rng).map(|v| v.len()).ok(), Some(7));
        assert!(one(0..0, &mut rng).is_none());
        assert!(repeated(0..2, MAX_REPLY_ITEMS + 1, &mut rng).is_err());
    }
}

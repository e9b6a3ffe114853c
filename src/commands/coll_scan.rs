//! HSCAN/SSCAN cursors over a hashbrown collection.
//!
//! Invariant (SCAN's guarantee): a cursor is a position in the collection's 64-bit hash space
//! (its own `BuildHasher`, fixed for the collection's life). A call starting at cursor `c`
//! returns every element whose hash lies in `[c, next)` and answers `next`; successive ranges
//! tile the whole space, so an element present for a whole iteration is returned at least
//! once however the table grows, shrinks or rehashes in between. Small collections (those
//! Redis keeps as listpack/intset) are returned whole with cursor 0, as Redis does.
//!
//! Cost: each call hashes the whole collection once (hashbrown exposes no bucket order), so a
//! call returns at least 1/64 of a large collection to bound the total work of an iteration.

use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::glob::glob_match;

/// A whole iteration takes at most about this many calls on a large collection.
const MAX_CALLS: usize = 64;

pub struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Bytes>,
}

/// Parses a cursor as Redis does (`strtoul`: optional sign, digits, no leading space, an
/// empty string is 0, out of range is refused).
pub fn parse_cursor(b: &[u8]) -> CmdResult<u64> {
    let invalid = || CommandError::err("ERR invalid cursor");
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if b.is_empty() {
        return Ok(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses `[MATCH pattern] [COUNT n]` from `args[from..]`.
pub fn parse_opts(args: &[Bytes], from: usize) -> CmdResult<ScanOpts> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut a = ArgCursor::new(args, from);
    while let Some(opt) = a.next() {
        if is(opt, "COUNT") && a.remaining() >= 1 {
            let n = a.next_i64()?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "MATCH") && a.remaining() >= 1 {
            let p = a.required()?;
            opts.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(opts)
}

impl ScanOpts {
    pub fn matches(&self, member: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, member, false))
    }
}

/// One step of an iteration over `n` elements: the elements to return and the next cursor
/// (0 when done). `whole` returns everything with cursor 0 (small encodings).
pub fn step<T>(
    items: impl Iterator<Item = T>,
    hash: impl Fn(&T) -> u64,
    n: usize,
    cursor: u64,
    count: usize,
    whole: bool,
) -> (Vec<T>, u64) {
    if whole {
        return (items.collect(), 0);
    }
    let k = count.max(n / MAX_CALLS).max(1);
    let mut cands: Vec<(u64, T)> = items
        .map(|t| (hash(&t), t))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    if cands.len() <= k {
        return (cands.into_iter().map(|(_, t)| t).collect(), 0);
    }
    cands.select_nth_unstable_by_key(k, |(h, _)| *h);
    let bound = cands[k].0;
    if cands[..k].iter().any(|(h, _)| *h < bound) {
        cands.truncate(k);
        let below = cands
            .into_iter()
            .filter(|(h, _)| *h < bound)
            .map(|(_, t)| t)
            .collect();
        return (below, bound);
    }
    // Every one of the k smallest shares the bound's hash: return that whole hash value.
    let same = cands
        .into_iter()
        .filter(|(h, _)| *h == bound)
        .map(|(_, t)| t)
        .collect();
    (same, bound.wrapping_add(1))
}

/// The `[cursor, [items…]]` reply.
pub fn reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(b"").ok(), Some(0));
        assert_eq!(parse_cursor(b"-1").ok(), Some(u64::MAX));
        assert_eq!(parse_cursor(b"01").ok(), Some(1));
        assert_eq!(parse_cursor(b"+5").ok(), Some(5));
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"-").is_err());
        assert!(parse_cursor(b"18446744073709551616").is_err());
    }

    #[test]
    fn full_iteration_under_changes() {
        let mut set: hashbrown::HashSet<u64, foldhash::fast::RandomState> = Default::default();
        set.extend(0..5000u64);
        let hasher = *set.hasher();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        for round in 0..10_000 {
            let n = set.len();
            let (got, next) = step(
                set.iter().copied(),
                |x| hasher.hash_one(x),
                n,
                cursor,
                10,
                false,
            );
            seen.extend(got);
            cursor = next;
            if round == 3 {
                set.extend(5000..60_000);
            }
            if round == 20 {
                set.retain(|&x| x < 5000);
                set.shrink_to_fit();
            }
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(cursor, 0);
        assert!((0..5000).all(|x| seen.contains(&x)));
    }

    #[test]
    fn ties_make_progress() {
        let (got, next) = step(0..10u32, |_| 7, 10, 0, 3, false);
        assert_eq!((got.len(), next), (10, 8));
        let (got, next) = step(0..10u32, |_| 7, 10, 8, 3, false);
        assert_eq!((got.len(), next), (0, 0));
    }
}

//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered numerically or
//! lexicographically by themselves or by keys a pattern names (`BY weight_*`, `BY obj_*->f`),
//! optionally replaced by such keys' values (`GET`) and stored as a list (`STORE`).
//!
//! Invariant: a SORT whose BY or GET patterns name other keys holds every shard (see `wide`
//! in the table), so the keys it reads are consistent with the sorted one; results match
//! Redis's order exactly, ties included (numeric ties fall back to the elements' bytes).

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{List, Value};
use std::cmp::Ordering;

pub const COMMANDS: &[Command] = &[
    Command::new("sort", -2, WRITE | DENYOOM, Group::Generic, sort)
        .custom_keys(sort_keys)
        .wide(reads_patterns),
    Command::new(
        "sort_ro",
        -2,
        READONLY | MOVABLE_KEYS,
        Group::Generic,
        sort_ro,
    )
    .keys(1, 1, 1)
    .wide(reads_patterns),
];

/// SORT's keys: the sorted one and the last STORE target (options with arguments skipped as
/// Redis skips them).
fn sort_keys(args: &[Bytes]) -> Vec<usize> {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "LIMIT") {
            i += 2;
        } else if is(&args[i], "GET") || is(&args[i], "BY") {
            i += 1;
        } else if is(&args[i], "STORE") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    std::iter::once(1).chain(store).collect()
}

/// Whether a SORT reads keys its patterns name (then it needs every shard).
fn reads_patterns(args: &[Bytes]) -> bool {
    let mut i = 2;
    while i + 1 < args.len() {
        let p = &args[i + 1];
        if (is(&args[i], "BY") && p.contains(&b'*')) || (is(&args[i], "GET") && &p[..] != b"#") {
            return true;
        }
        i += 1;
    }
    false
}

fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    sort_generic(ctx, args, true)
}

/// The value a pattern names for `elem`: `#` is the element itself; otherwise the first `*`
/// becomes the element and the key is read as a string, or with `->field` as a hash field.
/// A pattern without `*`, a missing key or a key of another type gives nothing.
fn lookup(ctx: &mut Ctx<'_>, pattern: &[u8], elem: &[u8]) -> CmdResult<Option<Bytes>> {
    if pattern == b"#" {
        return Ok(Some(Bytes::copy_from_slice(elem)));
    }
    // C string semantics: a NUL ends the pattern.
    let pattern = &pattern[..pattern
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(pattern.len())];
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let after = &pattern[star + 1..];
    let field = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len())
        .map(|at| (at, &after[at + 2..]));
    let postfix = match field {
        Some((at, _)) => &after[..at],
        None => after,
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    let db = ctx.db(&key)?;
    Ok(match (db.get(&key), field) {
        (Some(Value::Str(s)), None) => Some(s.to_bytes()),
        (Some(Value::Hash(h)), Some((_, f))) => h.get(f).map(|v| v.to_bytes()),
        _ => None,
    })
}

/// A score as SORT reads one: C's `strtod` over the whole value, refusing trailing bytes,
/// out-of-range values and NaN (blanks before the number and an empty value are accepted).
fn score_of(value: &[u8]) -> Option<f64> {
    let text = &value[..value.iter().position(|&b| b == 0).unwrap_or(value.len())];
    let c = std::ffi::CString::new(text).ok()?;
    let mut end: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call; strtod writes only `end` and errno,
    // which this thread reads right after.
    let (v, errno, rest) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr(), &mut end);
        (v, *libc::__errno_location(), *end)
    };
    (rest == 0 && errno != libc::ERANGE && !v.is_nan()).then_some(v)
}

/// `strcmp` on the bytes before any NUL, as C's `strcoll` compares in the C locale.
fn c_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| {
        s.len()
            .min(s.iter().position(|&c| c == 0).unwrap_or(s.len()))
    };
    a[..cut(a)].cmp(&b[..cut(b)])
}

struct Item {
    elem: Bytes,
    score: f64,
    by: Option<Bytes>,
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], readonly: bool) -> CmdResult<Reply> {
    let key = args[1].clone();
    let (mut desc, mut alpha) = (false, false);
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut store: Option<Bytes> = None;
    let mut by: Option<Bytes> = None;
    let mut dontsort = false;
    let mut gets: Vec<Bytes> = Vec::new();
    let mut j = 2;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if is(a, "ASC") {
            desc = false;
        } else if is(a, "DESC") {
            desc = true;
        } else if is(a, "ALPHA") {
            alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            limit_start = int_arg(&args[j + 1])?;
            limit_count = int_arg(&args[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "STORE") && left >= 1 {
            store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "BY") && left >= 1 {
            let p = args[j + 1].clone();
            if !p.contains(&b'*') {
                dontsort = true;
            } else {
                cluster_check(ctx, &p, &key, "BY")?;
            }
            by = Some(p);
            j += 1;
        } else if is(a, "GET") && left >= 1 {
            cluster_check(ctx, &args[j + 1], &key, "GET")?;
            gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    // The elements, in the value's own order (a list's, a set's iteration order, a sorted
    // set's score order).
    let (kind, mut elems): (u8, Vec<Bytes>) = match ctx.db(&key)?.get(&key) {
        None => (b'l', Vec::new()),
        Some(Value::List(l)) => (b'l', l.iter().map(|e| e.to_bytes()).collect()),
        Some(Value::Set(s)) => (b's', s.iter().map(|e| e.to_bytes()).collect()),
        Some(Value::ZSet(z)) => (b'z', z.iter().map(|(m, _)| m.to_bytes()).collect()),
        Some(_) => return Err(CommandError::WrongType),
    };
    // Unsorted set output would differ between servers and replays: scripts and STORE sort
    // them alphabetically instead, as Redis does.
    if dontsort && kind == b's' && (store.is_some() || ctx.in_script) {
        dontsort = false;
        alpha = true;
        by = None;
    }
    let len = elems.len() as i64;
    let mut start = limit_start.max(0).min(len);
    let limit_count = limit_count.max(-1).min(len);
    let mut end = if limit_count < 0 {
        len
    } else {
        start + limit_count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = Vec::new();
    let mut conversion_error = false;
    if dontsort && kind != b's' {
        // A list or sorted set in its own order (reversed for DESC), only the LIMIT range.
        if end >= start {
            if desc {
                elems.reverse();
            }
            items = elems
                .drain(start as usize..=end as usize)
                .map(|elem| Item {
                    elem,
                    score: 0.0,
                    by: None,
                })
                .collect();
            end -= start;
            start = 0;
        }
    } else {
        items = elems
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                by: None,
            })
            .collect();
    }
    if !dontsort {
        for it in items.iter_mut() {
            let value = match &by {
                Some(p) => match lookup(ctx, p, &it.elem)? {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if alpha {
                it.by = value;
            } else {
                match score_of(value.as_deref().unwrap_or(&it.elem)) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let (bypattern, storing) = (by.is_some(), store.is_some());
        items.sort_by(|a, b| {
            let o = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if bypattern {
                match (&a.by, &b.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) if storing => x.cmp(y),
                    (Some(x), Some(y)) => c_cmp(x, y),
                }
            } else if storing {
                a.elem.cmp(&b.elem)
            } else {
                c_cmp(&a.elem, &b.elem)
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    if conversion_error {
        return Err(CommandError::err(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let range = if end >= start && end >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for it in range {
        if gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &gets {
            out.push(lookup(ctx, g, &it.elem)?);
        }
    }
    let Some(dst) = store else {
        return Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        ));
    };
    let n = out.len();
    let values: Vec<Bytes> = out.into_iter().map(Option::unwrap_or_default).collect();
    let db = ctx.db(&dst)?;
    if n > 0 {
        let list: List = values
            .iter()
            .map(|v| crate::keyspace::Str::from(&v[..]))
            .collect();
        db.set(&dst, Value::List(Box::new(list)));
        // Only the target is written (the source is read): it alone wakes WATCH and waiters.
        db.signal(&dst);
        ctx.dirty(n as u64);
        // The stored list, not the SORT: a replay needs neither the patterns' keys nor
        // the source's iteration order.
        ctx.propagate(vec![Bytes::from_static(b"DEL"), dst.clone()]);
        let mut push = Vec::with_capacity(n + 2);
        push.push(Bytes::from_static(b"RPUSH"));
        push.push(dst);
        push.extend(values);
        ctx.propagate(push);
    } else if db.remove(&dst).is_some() {
        db.signal(&dst);
        ctx.dirty(1);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), dst]);
    }
    Ok(Reply::Int(n as i64))
}

/// Cluster mode refuses BY/GET patterns that may name keys of another slot than the sorted
/// key's.
fn cluster_check(ctx: &Ctx<'_>, pattern: &[u8], key: &[u8], what: &str) -> CmdResult<()> {
    if ctx.server.cluster.is_none()
        || crate::slot::pattern_slot(pattern) == Some(crate::slot::key_slot(key))
    {
        return Ok(());
    }
    Err(CommandError::err(format!(
        "ERR {what} option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_as_strtod() {
        assert_eq!(score_of(b"1e3"), Some(1000.0));
        assert_eq!(score_of(b" 2"), Some(2.0));
        assert_eq!(score_of(b""), Some(0.0));
        assert_eq!(score_of(b"0x10"), Some(16.0));
        assert_eq!(score_of(b"2 "), None);
        assert_eq!(score_of(b"x"), None);
        assert_eq!(score_of(b"nan"), None);
        assert_eq!(score_of(b"1e400"), None);
        assert_eq!(score_of(b"1e-400"), None);
        assert_eq!(score_of(b"inf"), Some(f64::INFINITY));
    }
}

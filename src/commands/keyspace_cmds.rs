//! Keyspace-wide commands: KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB. They hold
//! every shard (the `KEYSPACE` flag), so they see one consistent keyspace.
//!
//! Invariant (SCAN): the cursor is `(shard << 32) | c`, `c` being that shard's `Dict::scan`
//! cursor; shards are walked in ascending order and a shard is left only once its own scan
//! returned 0, so every key present for the whole scan is returned at least once (each
//! shard's dictionary keeps that guarantee across resizes).

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::glob::glob_match;
use crate::keyspace::{Db, Str};
use rand::Rng;

pub const COMMANDS: &[Command] = &[
    Command::new("keys", 2, READONLY | KEYSPACE, Group::Generic, keys),
    Command::new(
        "scan",
        -2,
        READONLY | KEYSPACE | NONDETERMINISTIC,
        Group::Generic,
        scan,
    ),
    Command::new(
        "randomkey",
        1,
        READONLY | KEYSPACE | NONDETERMINISTIC,
        Group::Generic,
        randomkey,
    ),
    Command::new(
        "dbsize",
        1,
        READONLY | FAST | KEYSPACE,
        Group::Server,
        dbsize,
    ),
    Command::new("flushdb", -1, WRITE | KEYSPACE, Group::Server, flushdb),
    Command::new("flushall", -1, WRITE | KEYSPACE, Group::Server, flushall),
    Command::new("swapdb", 3, WRITE | FAST | KEYSPACE, Group::Server, swapdb),
];

/// Fails with `NotHeld` (so a script is re-run wider) unless every shard is held.
fn require_all(ctx: &Ctx<'_>) -> CmdResult<()> {
    match ctx.held.iter().position(|s| s.is_none()) {
        Some(i) => Err(CommandError::NotHeld(i)),
        None => Ok(()),
    }
}

/// Database `db` of held shard `shard`.
fn shard_db<'a>(ctx: &'a mut Ctx<'_>, shard: usize, db: usize) -> CmdResult<&'a mut Db> {
    match ctx.held.get_mut(shard).and_then(|s| s.as_deref_mut()) {
        Some(data) => data
            .dbs
            .get_mut(db)
            .ok_or_else(|| CommandError::err("ERR DB index is out of range")),
        None => Err(CommandError::NotHeld(shard)),
    }
}

fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    require_all(ctx)?;
    let pattern = &args[1][..];
    let all = pattern == b"*";
    let dbi = ctx.db;
    let mut out = Vec::new();
    for s in ctx.held_shards() {
        let db = &s.dbs[dbi];
        for (k, _) in db.keys.iter() {
            if (all || glob_match(pattern, k, false)) && !db.is_expired(k) {
                out.push(Reply::Bulk(k.to_bytes()));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// A SCAN cursor as Redis reads it (`strtoull`, base 10: a leading `-` wraps, leading space,
/// trailing bytes and overflow are refused; the empty string is 0).
fn parse_cursor(b: &[u8]) -> Option<u64> {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if b.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let cursor = parse_cursor(&args[1]).ok_or_else(|| CommandError::err("ERR invalid cursor"))?;
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut typ: Option<&[u8]> = None;
    let mut a = ArgCursor::new(args, 2);
    while let Some(opt) = a.next() {
        if is(opt, "COUNT") && a.remaining() > 0 {
            let n = a.next_i64()?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n.min(1 << 30) as usize;
        } else if is(opt, "MATCH") && a.remaining() > 0 {
            let p = &a.required()?[..];
            pattern = (p != b"*").then_some(p);
        } else if is(opt, "TYPE") && a.remaining() > 0 {
            typ = Some(&a.required()?[..]);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    require_all(ctx)?;
    let shards = ctx.shard_count();
    let dbi = ctx.db;
    let mut shard = (cursor >> 32) as usize;
    let mut c = cursor & 0xFFFF_FFFF;
    let mut visited = 0usize;
    let mut found: Vec<Reply> = Vec::new();
    while shard < shards && visited < count {
        let db = shard_db(ctx, shard, dbi)?;
        let mut picked: Vec<crate::keyspace::Key> = Vec::new();
        let next = db.keys.scan(c, count - visited, |k, e| {
            visited += 1;
            let type_ok = typ.is_none_or(|t| t.eq_ignore_ascii_case(e.type_name().as_bytes()));
            if type_ok && pattern.is_none_or(|p| glob_match(p, k, false)) {
                picked.push(k.clone());
            }
        });
        for k in picked {
            // Expired keys are deleted on the way, as Redis does, and not returned.
            if db.contains(&k) {
                found.push(Reply::Bulk(k.to_bytes()));
            }
        }
        if next == 0 {
            shard += 1;
            c = 0;
        } else {
            c = next;
        }
    }
    let next = if shard >= shards {
        0
    } else {
        ((shard as u64) << 32) | c
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(found),
    ]))
}

fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    require_all(ctx)?;
    let dbi = ctx.db;
    // Bounded: each try that lands on an expired key deletes it.
    for _ in 0..1000 {
        let sizes: Vec<usize> = ctx
            .held
            .iter()
            .map(|s| s.as_ref().map_or(0, |d| d.dbs[dbi].len()))
            .collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            return Ok(Reply::Nil);
        }
        let mut r = ctx.local.rng.gen_range(0..total);
        let mut shard = 0;
        while r >= sizes[shard] {
            r -= sizes[shard];
            shard += 1;
        }
        let rng = &mut ctx.local.rng;
        let Some(db) = ctx.held[shard].as_deref_mut().map(|d| &mut d.dbs[dbi]) else {
            return Err(CommandError::NotHeld(shard));
        };
        let Some(key) = db.keys.random(rng).map(|(k, _)| k.clone()) else {
            continue;
        };
        if db.contains(&key) {
            return Ok(Reply::Bulk(key.to_bytes()));
        }
    }
    Ok(Reply::Nil)
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    require_all(ctx)?;
    let db = ctx.db;
    Ok(Reply::Int(
        ctx.held_shards().map(|s| s.dbs[db].len() as i64).sum(),
    ))
}

/// Flags what watches a key that exists in `db` or in `other` (Redis 7.0 only invalidates
/// WATCHes of keys a flush or swap really affects). Blocked clients on those keys are woken
/// to re-check.
fn signal_existing(db: &mut Db, other: Option<&Db>) {
    if db.waiters.is_empty() {
        return;
    }
    let hit: Vec<Str> = db
        .waiters
        .keys()
        .filter(|k| db.keys.contains_key(k) || other.is_some_and(|o| o.keys.contains_key(k)))
        .cloned()
        .collect();
    for k in hit {
        db.signal(&k);
    }
}

fn empty_db(db: &mut Db) -> usize {
    signal_existing(db, None);
    // Client-side caching: every tracking client is told to drop everything.
    if db.track_writes {
        db.flushed = true;
    }
    let n = db.len();
    db.keys.clear();
    db.expires.clear();
    n
}

/// `[ASYNC|SYNC]`: both empty the data at once here.
fn flush_mode(args: &[Bytes]) -> CmdResult<()> {
    match args.len() {
        1 => Ok(()),
        2 if is(&args[1], "ASYNC") || is(&args[1], "SYNC") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode(args)?;
    require_all(ctx)?;
    let dbi = ctx.db;
    let n: usize = ctx.held_shards().map(|s| empty_db(&mut s.dbs[dbi])).sum();
    // Always propagated, even when there was nothing to delete.
    ctx.dirty(n.max(1) as u64);
    Ok(Reply::ok())
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode(args)?;
    require_all(ctx)?;
    let n: usize = ctx
        .held_shards()
        .map(|s| s.dbs.iter_mut().map(empty_db).sum::<usize>())
        .sum();
    ctx.dirty(n as u64 + 1);
    Ok(Reply::ok())
}

/// A SWAPDB index: any int parse failure gets the command's own message.
fn swap_index(arg: &[u8], msg: &'static str) -> CmdResult<i64> {
    match parse_i64(arg) {
        Some(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => Ok(v),
        _ => Err(CommandError::err(msg)),
    }
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.server.cluster.is_some() {
        return Err(CommandError::err(
            "ERR SWAPDB is not allowed in cluster mode",
        ));
    }
    let a = swap_index(&args[1], "ERR invalid first DB index")?;
    let b = swap_index(&args[2], "ERR invalid second DB index")?;
    let n = ctx.server.config().databases as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(CommandError::err("ERR DB index is out of range"));
    }
    require_all(ctx)?;
    let (a, b) = (a as usize, b as usize);
    for s in ctx.held_shards() {
        // Swapping a database with itself changes nothing: Redis touches no WATCH for it.
        if a == b {
            continue;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = s.dbs.split_at_mut(hi);
        let (x, y) = (&mut left[lo], &mut right[0]);
        // Data moves; waiters stay with their database index (clients watch by index).
        std::mem::swap(&mut x.keys, &mut y.keys);
        std::mem::swap(&mut x.expires, &mut y.expires);
        signal_existing(x, Some(y));
        signal_existing(y, Some(x));
    }
    ctx.dirty(1);
    Ok(Reply::ok())
}

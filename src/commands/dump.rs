//! DUMP and RESTORE: one key's value as Redis 7.0's DUMP payload (codec in
//! `persistence::rdb_value`).
//!
//! Invariant: RESTORE checks in Redis's order (options, existing key, TTL, payload) and is
//! propagated deterministically: a relative TTL becomes `<absolute ms> … ABSTTL`, and a key
//! restored already expired becomes a `DEL` (or nothing, if no key was replaced).

use super::args::{is, parse_i64};
use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::persistence::rdb_value;

pub const COMMANDS: &[Command] = &[
    Command::new("dump", 2, READONLY, Group::Generic, dump).keys(1, 1, 1),
    Command::new("restore", -4, WRITE | DENYOOM, Group::Generic, restore).keys(1, 1, 1),
    // What a cluster's migration sends after ASKING; otherwise the same as RESTORE.
    Command::new(
        "restore-asking",
        -4,
        WRITE | DENYOOM,
        Group::Server,
        restore,
    )
    .keys(1, 1, 1),
];

fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    match ctx.db(&args[1])?.get(&args[1]) {
        None => Ok(Reply::Nil),
        Some(v) => match rdb_value::encode(v) {
            Ok(p) => Ok(Reply::Bulk(Bytes::from(p))),
            Err(e) => Err(CommandError::Other(e.into())),
        },
    }
}

fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && more && freq.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(CommandError::NotInteger)?;
            if v < 0 {
                return Err(CommandError::Other(
                    "ERR Invalid IDLETIME value, must be >= 0".into(),
                ));
            }
            idle = Some(v);
            j += 1;
        } else if is(a, "freq") && more && idle.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(CommandError::NotInteger)?;
            if !(0..=255).contains(&v) {
                return Err(CommandError::Other(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255".into(),
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.db(key)?.contains(key) {
        return Err(CommandError::Other(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = parse_i64(&args[2]).ok_or(CommandError::NotInteger)?;
    if ttl < 0 {
        return Err(CommandError::Other(
            "ERR Invalid TTL value, must be >= 0".into(),
        ));
    }
    let value = rdb_value::decode(&args[3]).map_err(|e| CommandError::Other(e.into()))?;
    let now = ctx.now();
    let db = ctx.db(key)?;
    let deleted = replace && db.remove(key).is_some();
    let at = if ttl != 0 && !absttl {
        ttl.saturating_add(now as i64)
    } else {
        ttl
    };
    if ttl != 0 && at <= now as i64 {
        if deleted {
            ctx.dirty(1);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Ok(Reply::ok());
    }
    db.set(key, value);
    if ttl != 0 {
        db.set_expire(key, at as u64);
    }
    // IDLETIME counts under an LRU clock, FREQ under an LFU policy; the other is ignored.
    match (db.lfu, idle, freq) {
        (Some(l), _, Some(f)) => {
            db.set_meta(key, (l.minutes as u32) << 8 | f as u32);
        }
        (None, Some(i), _) => {
            // Our access clock is not Redis's (unix seconds), so an idle time is kept modulo
            // the 24-bit clock; beyond its range Redis's fallback (half the range) is used.
            let clock = db.clock & crate::keyspace::CLOCK_MASK;
            let meta = match u32::try_from(i) {
                Ok(i) if i <= crate::keyspace::CLOCK_MASK => clock.wrapping_sub(i),
                _ => clock.wrapping_add(1 << 23),
            };
            db.set_meta(key, meta);
        }
        _ => {}
    }
    ctx.dirty(1);
    if ttl != 0 && !absttl && ctx.wants_effects() {
        let mut e = args.to_vec();
        e[2] = Bytes::from(at.to_string());
        e.push(Bytes::from_static(b"ABSTTL"));
        ctx.propagate(e);
    }
    Ok(Reply::ok())
}

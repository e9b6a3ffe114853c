//! Hash commands: HSET and friends, counters, HRANDFIELD, HSCAN.
//!
//! Invariant: a hash key is never left empty (the last HDEL removes the key, and a key is only
//! created by a command that is about to store a field), and other types get WRONGTYPE.

use super::coll_scan;
use super::flags::*;
use super::longdouble::LongDouble;
use super::pick;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Db, Hash, Str, Value};
use rand::{Rng, SeedableRng};

const H: Group = Group::Hash;

pub const COMMANDS: &[Command] = &[
    Command::new("hset", -4, WRITE | DENYOOM | FAST, H, hset).keys(1, 1, 1),
    Command::new("hsetnx", 4, WRITE | DENYOOM | FAST, H, hsetnx).keys(1, 1, 1),
    Command::new("hget", 3, READONLY | FAST, H, hget).keys(1, 1, 1),
    Command::new("hmget", -3, READONLY | FAST, H, hmget).keys(1, 1, 1),
    Command::new("hmset", -4, WRITE | DENYOOM | FAST, H, hmset).keys(1, 1, 1),
    Command::new("hgetall", 2, READONLY, H, hgetall).keys(1, 1, 1),
    Command::new("hdel", -3, WRITE | FAST, H, hdel).keys(1, 1, 1),
    Command::new("hexists", 3, READONLY | FAST, H, hexists).keys(1, 1, 1),
    Command::new("hlen", 2, READONLY | FAST, H, hlen).keys(1, 1, 1),
    Command::new("hkeys", 2, READONLY, H, hkeys).keys(1, 1, 1),
    Command::new("hvals", 2, READONLY, H, hvals).keys(1, 1, 1),
    Command::new("hincrby", 4, WRITE | DENYOOM | FAST, H, hincrby).keys(1, 1, 1),
    Command::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, H, hincrbyfloat).keys(1, 1, 1),
    Command::new("hstrlen", 3, READONLY | FAST, H, hstrlen).keys(1, 1, 1),
    Command::new("hrandfield", -2, READONLY | NONDETERMINISTIC, H, hrandfield).keys(1, 1, 1),
    Command::new("hscan", -3, READONLY | NONDETERMINISTIC, H, hscan).keys(1, 1, 1),
];

/// Beyond this many fields Redis never keeps a hash as a listpack.
const LISTPACK_ENTRIES: usize = 512;

/// The hash at `key` for reading: `Ok(None)` if missing, WRONGTYPE if another type.
pub fn get_hash<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a Hash>> {
    match ctx.db(key)?.get(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The hash at `key` for writing, created empty if missing (the caller stores a field).
fn hash_for_write<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<&'a mut Hash> {
    let state = db.get(key).map(|v| matches!(v, Value::Hash(_)));
    match state {
        Some(false) => return Err(CommandError::WrongType),
        None => db.set(key, Value::Hash(Box::default())),
        Some(true) => {}
    }
    match db.get_mut(key) {
        Some(Value::Hash(h)) => Ok(h),
        _ => Err(CommandError::WrongType),
    }
}

/// The current value of `field` (cheap clone), WRONGTYPE if `key` is not a hash.
fn field_value(db: &mut Db, key: &[u8], field: &[u8]) -> CmdResult<Option<Str>> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(h.get(field).cloned()),
        Some(_) => Err(CommandError::WrongType),
    }
}

fn bulk(s: &Str) -> Reply {
    Reply::Bulk(s.to_bytes())
}

fn set_pairs(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> CmdResult<i64> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(name.into()));
    }
    let key = &args[1];
    let h = hash_for_write(ctx.db(key)?, key)?;
    // A new hash is sized to its first fields exactly; an existing one grows as usual (its
    // fields may be updates, which need no room).
    if h.is_empty() {
        h.reserve((args.len() - 2) / 2);
    }
    let mut added = 0;
    for pair in args[2..].chunks_exact(2) {
        if h.insert(Str::new(&pair[0]), Str::new(&pair[1])).is_none() {
            added += 1;
        }
    }
    ctx.dirty((args.len() as u64 - 2) / 2);
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    set_pairs(ctx, args, "hset").map(Reply::Int)
}

fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    set_pairs(ctx, args, "hmset").map(|_| Reply::ok())
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let db = ctx.db(key)?;
    if field_value(db, key, &args[2])?.is_some() {
        return Ok(Reply::Int(0));
    }
    hash_for_write(db, key)?.insert(Str::new(&args[2]), Str::new(&args[3]));
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(
        match get_hash(ctx, &args[1])?.and_then(|h| h.get(&args[2][..])) {
            Some(v) => bulk(v),
            None => Reply::Nil,
        },
    )
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let h = get_hash(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|f| h.and_then(|h| h.get(&f[..])).map_or(Reply::Nil, bulk))
            .collect(),
    ))
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = get_hash(ctx, &args[1])?
        .map(|h| h.iter().map(|(k, v)| (bulk(k), bulk(v))).collect())
        .unwrap_or_default();
    Ok(Reply::Map(pairs))
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let h = get_hash(ctx, &args[1])?;
    Ok(Reply::Array(
        h.map(|h| h.keys().map(bulk).collect()).unwrap_or_default(),
    ))
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let h = get_hash(ctx, &args[1])?;
    Ok(Reply::Array(
        h.map(|h| h.values().map(bulk).collect())
            .unwrap_or_default(),
    ))
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let db = ctx.db(key)?;
    let removed = match db.get_mut(key) {
        None => 0,
        Some(Value::Hash(h)) => args[2..]
            .iter()
            .filter(|f| {
                // Small hashes keep their order, as a listpack does; a large one is a hash
                // table in Redis (no order to keep), where O(n) shifting would hurt.
                if h.len() <= LISTPACK_ENTRIES {
                    h.shift_remove(&f[..]).is_some()
                } else {
                    h.swap_remove(&f[..]).is_some()
                }
            })
            .count(),
        Some(_) => return Err(CommandError::WrongType),
    };
    if removed > 0 {
        db.remove_if_empty(key);
        ctx.dirty(removed as u64);
    }
    Ok(Reply::Int(removed as i64))
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let h = get_hash(ctx, &args[1])?;
    Ok(Reply::Int(
        h.is_some_and(|h| h.contains_key(&args[2][..])) as i64
    ))
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        get_hash(ctx, &args[1])?.map_or(0, |h| h.len()) as i64
    ))
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let h = get_hash(ctx, &args[1])?;
    Ok(Reply::Int(
        h.and_then(|h| h.get(&args[2][..])).map_or(0, |v| v.len()) as i64,
    ))
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, field) = (&args[1], &args[2]);
    let incr = int_arg(&args[3])?;
    let db = ctx.db(key)?;
    let cur = match field_value(db, key, field)? {
        None => 0,
        Some(v) => {
            parse_i64(&v).ok_or_else(|| CommandError::err("ERR hash value is not an integer"))?
        }
    };
    let new = cur.checked_add(incr).ok_or(CommandError::Overflow)?;
    hash_for_write(db, key)?.insert(Str::new(field), Str::from_i64(new));
    ctx.dirty(1);
    Ok(Reply::Int(new))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, field) = (&args[1], &args[2]);
    let incr = LongDouble::parse(&args[3]).ok_or(CommandError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CommandError::err("ERR value is NaN or Infinity"));
    }
    let db = ctx.db(key)?;
    let cur = match field_value(db, key, field)? {
        None => LongDouble::from_i64(0),
        Some(v) => LongDouble::parse(&v)
            .ok_or_else(|| CommandError::err("ERR hash value is not a float"))?,
    };
    let sum = cur.plus(incr);
    if !sum.is_finite() {
        return Err(CommandError::err(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = Bytes::from(sum.to_human());
    hash_for_write(db, key)?.insert(Str::new(field), Str::new(&text));
    ctx.dirty(1);
    if ctx.wants_effects() {
        // Followers must store the very digits computed here, not recompute them.
        ctx.propagate(vec![
            Bytes::from_static(b"HSET"),
            key.clone(),
            field.clone(),
            text.clone(),
        ]);
    }
    Ok(Reply::Bulk(text))
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(ctx.local.rng.gen());
    if args.len() == 2 {
        let h = get_hash(ctx, &args[1])?;
        return Ok(h
            .and_then(|h| pick::one(h.keys(), &mut rng))
            .map_or(Reply::Nil, bulk));
    }
    let count = int_arg(&args[2])?;
    if count == i64::MIN {
        return Err(CommandError::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "WITHVALUES")) {
        return Err(CommandError::Syntax);
    }
    let withvalues = args.len() == 4;
    if withvalues && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CommandError::err("ERR value is out of range"));
    }
    let resp = ctx.resp;
    let Some(h) = get_hash(ctx, &args[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    let pairs: Vec<(&Str, &Str)> = if count >= 0 {
        let k = count as u64;
        if k >= h.len() as u64 {
            h.iter().collect()
        } else {
            pick::distinct(h.iter(), k as usize, &mut rng)
        }
    } else {
        pick::repeated(h.iter(), count.unsigned_abs(), &mut rng)?
    };
    let mut out = Vec::with_capacity(pairs.len() * (1 + withvalues as usize));
    for (k, v) in pairs {
        match (withvalues, resp >= 3) {
            (false, _) => out.push(bulk(k)),
            (true, true) => out.push(Reply::Array(vec![bulk(k), bulk(v)])),
            (true, false) => out.extend([bulk(k), bulk(v)]),
        }
    }
    Ok(Reply::Array(out))
}

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let cursor = coll_scan::parse_cursor(&args[2])?;
    let Some(h) = get_hash(ctx, &args[1])? else {
        return Ok(coll_scan::reply(0, vec![]));
    };
    let opts = coll_scan::parse_opts(args, 3)?;
    let (got, next) = coll_scan::step(
        h.iter(),
        |(k, _)| crate::keyspace::scan_hash(k.as_bytes()),
        h.len(),
        cursor,
        opts.count,
        super::object::hash_is_listpack(h),
    );
    let mut out = Vec::with_capacity(got.len() * 2);
    for (k, v) in got {
        if opts.matches(k) {
            out.extend([bulk(k), bulk(v)]);
        }
    }
    Ok(coll_scan::reply(next, out))
}

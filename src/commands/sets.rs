//! Set commands on one key (SADD, SREM, SPOP, SRANDMEMBER, SSCAN, …) and SMOVE.
//! The multi-key algebra (SINTER, SUNION, SDIFF and their STORE/CARD forms) is in `setops`.
//!
//! Invariant: a set key is never left empty (the last SREM/SPOP/SMOVE removes the key), and
//! other types get WRONGTYPE. SPOP, being random, records SREM of what it removed as its
//! effect.

use super::coll_scan;
use super::flags::*;
use super::pick;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Db, Set, Str, Value};
use rand::{Rng, SeedableRng};

const S: Group = Group::Set;

pub const COMMANDS: &[Command] = &[
    Command::new("sadd", -3, WRITE | DENYOOM | FAST, S, sadd).keys(1, 1, 1),
    Command::new("srem", -3, WRITE | FAST, S, srem).keys(1, 1, 1),
    Command::new("smembers", 2, READONLY, S, smembers).keys(1, 1, 1),
    Command::new("sismember", 3, READONLY | FAST, S, sismember).keys(1, 1, 1),
    Command::new("smismember", -3, READONLY | FAST, S, smismember).keys(1, 1, 1),
    Command::new("scard", 2, READONLY | FAST, S, scard).keys(1, 1, 1),
    Command::new("spop", -2, WRITE | FAST | NONDETERMINISTIC, S, spop).keys(1, 1, 1),
    Command::new(
        "srandmember",
        -2,
        READONLY | NONDETERMINISTIC,
        S,
        srandmember,
    )
    .keys(1, 1, 1),
    Command::new("smove", 4, WRITE | FAST, S, smove).keys(1, 2, 1),
    Command::new("sscan", -3, READONLY | NONDETERMINISTIC, S, sscan).keys(1, 1, 1),
];

/// Redis keeps all-integer sets up to this size as an intset, which SSCAN returns whole.
const INTSET_ENTRIES: usize = 512;

/// The set at `key` for reading: `Ok(None)` if missing, WRONGTYPE if another type.
pub fn get_set<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a Set>> {
    match ctx.db(key)?.get(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The set at `key` for writing, if it exists; WRONGTYPE if another type.
fn get_set_mut<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<Option<&'a mut Set>> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The set at `key` for writing, created empty if missing (the caller adds a member).
fn set_for_write<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<&'a mut Set> {
    let state = db.get(key).map(|v| matches!(v, Value::Set(_)));
    match state {
        Some(false) => return Err(CommandError::WrongType),
        None => db.set(key, Value::Set(Box::default())),
        Some(true) => {}
    }
    match db.get_mut(key) {
        Some(Value::Set(s)) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

fn bulk(s: &Str) -> Reply {
    Reply::Bulk(s.to_bytes())
}

/// A per-command generator seeded from the shard's (the shard's own is borrowed by `ctx`).
fn rng(ctx: &mut Ctx<'_>) -> rand::rngs::SmallRng {
    rand::rngs::SmallRng::seed_from_u64(ctx.local.rng.gen())
}

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let set = set_for_write(ctx.db(key)?, key)?;
    // A new set is sized to its first members exactly (repeated members only waste a slot).
    if set.is_empty() {
        set.reserve(args.len() - 2);
    }
    let added = args[2..].iter().filter(|m| set.insert(Str::new(m))).count();
    ctx.dirty(added as u64);
    Ok(Reply::Int(added as i64))
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let db = ctx.db(key)?;
    let removed = match get_set_mut(db, key)? {
        None => 0,
        Some(set) => args[2..].iter().filter(|m| set.remove(&m[..])).count(),
    };
    if removed > 0 {
        db.remove_if_empty(key);
        ctx.dirty(removed as u64);
    }
    Ok(Reply::Int(removed as i64))
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut members: Vec<&Str> = get_set(ctx, &args[1])?
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    intset_order(&mut members);
    Ok(Reply::Set(members.into_iter().map(bulk).collect()))
}

fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let set = get_set(ctx, &args[1])?;
    Ok(Reply::Int(
        set.is_some_and(|s| s.contains(&args[2][..])) as i64
    ))
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let set = get_set(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.contains(&m[..])) as i64))
            .collect(),
    ))
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        get_set(ctx, &args[1])?.map_or(0, |s| s.len()) as i64
    ))
}

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let mut rng = rng(ctx);
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => {
                return Err(CommandError::err(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
    };
    let db = ctx.db(key)?;
    let Some(set) = get_set_mut(db, key)? else {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(vec![]),
        });
    };
    let popped: Vec<Str> = match count {
        Some(0) => return Ok(Reply::Set(vec![])),
        None => pick::one(set.iter(), &mut rng)
            .into_iter()
            .cloned()
            .collect(),
        Some(k) if k >= set.len() as u64 => {
            let mut all = set.take_all();
            intset_order(&mut all);
            all
        }
        Some(k) => pick::distinct(set.iter(), k as usize, &mut rng)
            .into_iter()
            .cloned()
            .collect(),
    };
    for m in &popped {
        set.remove(m);
    }
    db.remove_if_empty(key);
    ctx.dirty(popped.len() as u64);
    if ctx.wants_effects() {
        let mut effect = Vec::with_capacity(popped.len() + 2);
        effect.push(Bytes::from_static(b"SREM"));
        effect.push(key.clone());
        effect.extend(popped.iter().map(|m| m.to_bytes()));
        ctx.propagate(effect);
    }
    Ok(match count {
        None => popped.first().map_or(Reply::Nil, bulk),
        Some(_) => Reply::Set(popped.iter().map(bulk).collect()),
    })
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut rng = rng(ctx);
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    if args.len() == 2 {
        let set = get_set(ctx, &args[1])?;
        return Ok(set
            .and_then(|s| pick::one(s.iter(), &mut rng))
            .map_or(Reply::Nil, bulk));
    }
    let count = int_arg(&args[2])?;
    if count == i64::MIN {
        return Err(CommandError::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let Some(set) = get_set(ctx, &args[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    let members: Vec<&Str> = if count >= 0 {
        if count as u64 >= set.len() as u64 {
            let mut all: Vec<&Str> = set.iter().collect();
            intset_order(&mut all);
            all
        } else {
            pick::distinct(set.iter(), count as usize, &mut rng)
        }
    } else {
        pick::repeated(set.iter(), count.unsigned_abs(), &mut rng)?
    };
    Ok(Reply::Array(members.into_iter().map(bulk).collect()))
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    // Redis answers 0 for a missing source before looking at the destination's type.
    let is_member = match get_set(ctx, src)? {
        None => return Ok(Reply::Int(0)),
        Some(s) => s.contains(&member[..]),
    };
    get_set(ctx, dst)?;
    if src == dst || !is_member {
        return Ok(Reply::Int(is_member as i64));
    }
    let db = ctx.db(src)?;
    if let Some(s) = get_set_mut(db, src)? {
        s.remove(&member[..]);
    }
    db.remove_if_empty(src);
    set_for_write(ctx.db(dst)?, dst)?.insert(Str::new(member));
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

/// Whether Redis would hold this set as an intset (small, all members integers).
fn intset_like(set: &Set) -> bool {
    set.len() <= INTSET_ENTRIES && set.iter().all(|m| parse_i64(m).is_some())
}

/// Puts a whole set's members in the order Redis lists them: an intset is kept sorted, so
/// small all-integer sets come out by value; any other order is the table's, left as is.
pub fn intset_order<T: AsRef<[u8]>>(members: &mut [T]) {
    if members.len() <= INTSET_ENTRIES && members.iter().all(|m| parse_i64(m.as_ref()).is_some()) {
        members.sort_by_key(|m| parse_i64(m.as_ref()));
    }
}

fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let cursor = coll_scan::parse_cursor(&args[2])?;
    let Some(set) = get_set(ctx, &args[1])? else {
        return Ok(coll_scan::reply(0, vec![]));
    };
    let opts = coll_scan::parse_opts(args, 3)?;
    let whole = intset_like(set);
    let (mut got, next) = coll_scan::step(
        set.iter(),
        |m| crate::keyspace::scan_hash(m.as_bytes()),
        set.len(),
        cursor,
        opts.count,
        whole,
    );
    if whole {
        intset_order(&mut got);
    }
    let out = got
        .into_iter()
        .filter(|m| opts.matches(m))
        .map(bulk)
        .collect();
    Ok(coll_scan::reply(next, out))
}

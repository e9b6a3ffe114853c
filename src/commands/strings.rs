//! String commands: GET, SET and its variants, GETEX/GETDEL/GETSET, MGET/MSET/MSETNX.
//! Counters live in `counters.rs`, APPEND/ranges in `ranges.rs`, bit commands in `bits.rs`.
//!
//! Invariant: option errors are reported in Redis's order (syntax while scanning options, then
//! number parsing, then the key's type), and every change calls `ctx.dirty`; relative or past
//! expiries are propagated as absolute `PXAT`/`PEXPIREAT` or `DEL`.

use super::counters::{decr, decrby, incr, incrby, incrbyfloat};
use super::expire::{positive_expire, ExpireArg};
use super::flags::*;
use super::ranges::{append, getrange, setrange, strlen};
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

pub const COMMANDS: &[Command] = &[
    Command::new("get", 2, READONLY | FAST, Group::String, get).keys(1, 1, 1),
    Command::new("set", -3, WRITE | DENYOOM, Group::String, set).keys(1, 1, 1),
    Command::new("setnx", 3, WRITE | DENYOOM | FAST, Group::String, setnx).keys(1, 1, 1),
    Command::new("setex", 4, WRITE | DENYOOM, Group::String, setex).keys(1, 1, 1),
    Command::new("psetex", 4, WRITE | DENYOOM, Group::String, psetex).keys(1, 1, 1),
    Command::new("getset", 3, WRITE | DENYOOM | FAST, Group::String, getset).keys(1, 1, 1),
    Command::new("getdel", 2, WRITE | FAST, Group::String, getdel).keys(1, 1, 1),
    Command::new("getex", -2, WRITE | FAST, Group::String, getex).keys(1, 1, 1),
    Command::new("mget", -2, READONLY | FAST, Group::String, mget).keys(1, -1, 1),
    Command::new("mset", -3, WRITE | DENYOOM, Group::String, mset).keys(1, -1, 2),
    Command::new("msetnx", -3, WRITE | DENYOOM, Group::String, msetnx).keys(1, -1, 2),
    Command::new("append", 3, WRITE | DENYOOM | FAST, Group::String, append).keys(1, 1, 1),
    Command::new("strlen", 2, READONLY | FAST, Group::String, strlen).keys(1, 1, 1),
    Command::new("incr", 2, WRITE | DENYOOM | FAST, Group::String, incr).keys(1, 1, 1),
    Command::new("decr", 2, WRITE | DENYOOM | FAST, Group::String, decr).keys(1, 1, 1),
    Command::new("incrby", 3, WRITE | DENYOOM | FAST, Group::String, incrby).keys(1, 1, 1),
    Command::new("decrby", 3, WRITE | DENYOOM | FAST, Group::String, decrby).keys(1, 1, 1),
    Command::new(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        Group::String,
        incrbyfloat,
    )
    .keys(1, 1, 1),
    Command::new("getrange", 4, READONLY, Group::String, getrange).keys(1, 1, 1),
    Command::new("substr", 4, READONLY, Group::String, getrange).keys(1, 1, 1),
    Command::new("setrange", 4, WRITE | DENYOOM, Group::String, setrange).keys(1, 1, 1),
];

/// The string at `key`: `Ok(None)` if missing, WRONGTYPE if another type.
pub fn get_str<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a Str>> {
    match ctx.db(key)?.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(CommandError::WrongType),
    }
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(match get_str(ctx, &args[1])? {
        Some(s) => Reply::Bulk(s.to_bytes()),
        None => Reply::Nil,
    })
}

/// The options SET and GETEX share, as scanned (numbers not yet parsed).
#[derive(Default)]
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireArg, &'a Bytes)>,
}

/// Scans SET (`is_set`) or GETEX options. A repeated option is allowed (the last value wins);
/// conflicting ones, or ones the command does not take, are a syntax error.
fn scan_opts(args: &[Bytes], from: usize, is_set: bool) -> CmdResult<StrOpts<'_>> {
    let mut o = StrOpts::default();
    let mut a = ArgCursor::new(args, from);
    while let Some(opt) = a.next() {
        let kind = if is(opt, "EX") {
            Some(ExpireArg::Ex)
        } else if is(opt, "PX") {
            Some(ExpireArg::Px)
        } else if is(opt, "EXAT") {
            Some(ExpireArg::ExAt)
        } else if is(opt, "PXAT") {
            Some(ExpireArg::PxAt)
        } else {
            None
        };
        if let Some(kind) = kind {
            let compatible = !o.keepttl && !o.persist && o.expire.is_none_or(|(k, _)| k == kind);
            match (compatible, a.peek()) {
                (true, Some(v)) => {
                    a.next();
                    o.expire = Some((kind, v));
                }
                _ => return Err(CommandError::Syntax),
            }
        } else if is_set && is(opt, "NX") && !o.xx {
            o.nx = true;
        } else if is_set && is(opt, "XX") && !o.nx {
            o.xx = true;
        } else if is_set && is(opt, "GET") {
            o.get = true;
        } else if is_set && is(opt, "KEEPTTL") && o.expire.is_none() {
            o.keepttl = true;
        } else if !is_set && is(opt, "PERSIST") && o.expire.is_none() {
            o.persist = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(o)
}

/// What a SET-like command does once its arguments are parsed.
struct SetPlan<'a> {
    key: &'a Bytes,
    value: &'a Bytes,
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry in unix ms.
    expire_at: Option<u64>,
}

/// Outcome of a SET-like command: whether it wrote, and the old value if asked for.
struct SetDone {
    written: bool,
    old: Option<Reply>,
}

fn set_generic(ctx: &mut Ctx<'_>, p: SetPlan<'_>) -> CmdResult<SetDone> {
    let db = ctx.db(p.key)?;
    let old = if p.get {
        Some(match db.get(p.key) {
            None => Reply::Nil,
            Some(Value::Str(s)) => Reply::Bulk(s.to_bytes()),
            Some(_) => return Err(CommandError::WrongType),
        })
    } else {
        None
    };
    // Only NX/XX need to know first (a plain SET would look the key up twice).
    if (p.nx || p.xx) && db.contains(p.key) == p.nx {
        return Ok(SetDone {
            written: false,
            old,
        });
    }
    let value = Value::Str(Str::new(p.value));
    if p.keepttl {
        db.set_keep_ttl(p.key, value);
    } else {
        db.set(p.key, value);
    }
    let mut alive = true;
    if let Some(at) = p.expire_at {
        alive = db.set_expire(p.key, at);
    }
    ctx.dirty(1);
    if let (Some(at), true) = (p.expire_at, ctx.wants_effects()) {
        // Relative expiries become absolute so followers and the log agree on the instant.
        ctx.propagate(if alive {
            vec![
                Bytes::from_static(b"SET"),
                p.key.clone(),
                p.value.clone(),
                Bytes::from_static(b"PXAT"),
                Bytes::from(at.to_string()),
            ]
        } else {
            vec![Bytes::from_static(b"DEL"), p.key.clone()]
        });
    }
    Ok(SetDone { written: true, old })
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let o = scan_opts(args, 3, true)?;
    let expire_at = match o.expire {
        Some((kind, v)) => Some(positive_expire(v, kind, ctx.now(), "set")?),
        None => None,
    };
    let done = set_generic(
        ctx,
        SetPlan {
            key: &args[1],
            value: &args[2],
            nx: o.nx,
            xx: o.xx,
            get: o.get,
            keepttl: o.keepttl,
            expire_at,
        },
    )?;
    Ok(match done.old {
        Some(old) => old,
        None if done.written => Reply::ok(),
        None => Reply::Nil,
    })
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let done = set_generic(
        ctx,
        SetPlan {
            key: &args[1],
            value: &args[2],
            nx: true,
            xx: false,
            get: false,
            keepttl: false,
            expire_at: None,
        },
    )?;
    Ok(Reply::Int(done.written as i64))
}

fn setex_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: ExpireArg) -> CmdResult<Reply> {
    let name = if kind == ExpireArg::Ex {
        "setex"
    } else {
        "psetex"
    };
    let at = positive_expire(&args[2], kind, ctx.now(), name)?;
    set_generic(
        ctx,
        SetPlan {
            key: &args[1],
            value: &args[3],
            nx: false,
            xx: false,
            get: false,
            keepttl: false,
            expire_at: Some(at),
        },
    )?;
    Ok(Reply::ok())
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setex_generic(ctx, args, ExpireArg::Ex)
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setex_generic(ctx, args, ExpireArg::Px)
}

fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let done = set_generic(
        ctx,
        SetPlan {
            key: &args[1],
            value: &args[2],
            nx: false,
            xx: false,
            get: true,
            keepttl: false,
            expire_at: None,
        },
    )?;
    Ok(done.old.unwrap_or(Reply::Nil))
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let Some(s) = get_str(ctx, key)? else {
        return Ok(Reply::Nil);
    };
    let value = s.to_bytes();
    ctx.db(key)?.remove(key);
    ctx.dirty(1);
    Ok(Reply::Bulk(value))
}

fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let o = scan_opts(args, 2, false)?;
    let Some(s) = get_str(ctx, key)? else {
        return Ok(Reply::Nil);
    };
    let value = s.to_bytes();
    let now = ctx.now();
    if let Some((kind, v)) = o.expire {
        let at = positive_expire(v, kind, now, "getex")?;
        let alive = ctx.db(key)?.set_expire(key, at);
        ctx.dirty(1);
        if ctx.wants_effects() {
            ctx.propagate(if alive {
                vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    key.clone(),
                    Bytes::from(at.to_string()),
                ]
            } else {
                vec![Bytes::from_static(b"DEL"), key.clone()]
            });
        }
    } else if o.persist && ctx.db(key)?.persist(key) {
        ctx.dirty(1);
        ctx.propagate(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
    }
    Ok(Reply::Bulk(value))
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::with_capacity(args.len() - 1);
    for k in &args[1..] {
        out.push(match ctx.db(k)?.get(k) {
            Some(Value::Str(s)) => Reply::Bulk(s.to_bytes()),
            _ => Reply::Nil,
        });
    }
    Ok(Reply::Array(out))
}

fn mset_pairs<'a>(args: &'a [Bytes], name: &str) -> CmdResult<std::slice::ChunksExact<'a, Bytes>> {
    if args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(name.to_string()));
    }
    Ok(args[1..].chunks_exact(2))
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = mset_pairs(args, "mset")?;
    let n = pairs.len() as u64;
    for kv in pairs {
        ctx.db(&kv[0])?.set(&kv[0], Value::Str(Str::new(&kv[1])));
    }
    ctx.dirty(n);
    Ok(Reply::ok())
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = mset_pairs(args, "msetnx")?;
    for kv in pairs.clone() {
        if ctx.db(&kv[0])?.contains(&kv[0]) {
            return Ok(Reply::Int(0));
        }
    }
    let n = pairs.len() as u64;
    for kv in pairs {
        ctx.db(&kv[0])?.set(&kv[0], Value::Str(Str::new(&kv[1])));
    }
    ctx.dirty(n);
    Ok(Reply::Int(1))
}

//! Key expiry: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (NX XX GT LT), TTL/PTTL,
//! EXPIRETIME/PEXPIRETIME, PERSIST, and the expire-argument checks SET/GETEX/SETEX share.
//!
//! Invariant: an expiry is stored as absolute unix milliseconds; every accepted relative time
//! is propagated as `PEXPIREAT <absolute>` and an expiry already in the past as `DEL`, so a
//! follower or the log never depends on when it applies the command.

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};

pub const COMMANDS: &[Command] = &[
    Command::new("expire", -3, WRITE | FAST, Group::Generic, expire).keys(1, 1, 1),
    Command::new("pexpire", -3, WRITE | FAST, Group::Generic, pexpire).keys(1, 1, 1),
    Command::new("expireat", -3, WRITE | FAST, Group::Generic, expireat).keys(1, 1, 1),
    Command::new("pexpireat", -3, WRITE | FAST, Group::Generic, pexpireat).keys(1, 1, 1),
    Command::new(
        "ttl",
        2,
        READONLY | FAST | NONDETERMINISTIC,
        Group::Generic,
        ttl,
    )
    .keys(1, 1, 1),
    Command::new(
        "pttl",
        2,
        READONLY | FAST | NONDETERMINISTIC,
        Group::Generic,
        pttl,
    )
    .keys(1, 1, 1),
    Command::new("expiretime", 2, READONLY | FAST, Group::Generic, expiretime).keys(1, 1, 1),
    Command::new(
        "pexpiretime",
        2,
        READONLY | FAST,
        Group::Generic,
        pexpiretime,
    )
    .keys(1, 1, 1),
    Command::new("persist", 2, WRITE | FAST, Group::Generic, persist).keys(1, 1, 1),
];

/// How an expire argument is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireArg {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireArg {
    fn seconds(self) -> bool {
        matches!(self, ExpireArg::Ex | ExpireArg::ExAt)
    }
    fn relative(self) -> bool {
        matches!(self, ExpireArg::Ex | ExpireArg::Px)
    }
}

pub fn invalid_expire(cmd: &str) -> CommandError {
    CommandError::err(format!("ERR invalid expire time in '{cmd}' command"))
}

/// The absolute expiry (unix ms) of a SET/GETEX/SETEX-style argument, which must be positive
/// and must not overflow once converted and added to `now`.
pub fn positive_expire(arg: &[u8], kind: ExpireArg, now: u64, cmd: &str) -> CmdResult<u64> {
    let v = int_arg(arg)?;
    if v <= 0 || (kind.seconds() && v > i64::MAX / 1000) {
        return Err(invalid_expire(cmd));
    }
    let ms = if kind.seconds() { v * 1000 } else { v };
    if !kind.relative() {
        return Ok(ms as u64);
    }
    let base = now as i64;
    if ms > i64::MAX - base {
        return Err(invalid_expire(cmd));
    }
    Ok((ms + base) as u64)
}

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;

fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    kind: ExpireArg,
    name: &str,
) -> CmdResult<Reply> {
    let key = &args[1];
    let mut flags = 0u8;
    for opt in &args[3..] {
        flags |= if is(opt, "NX") {
            NX
        } else if is(opt, "XX") {
            XX
        } else if is(opt, "GT") {
            GT
        } else if is(opt, "LT") {
            LT
        } else {
            return Err(CommandError::err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        return Err(CommandError::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & GT != 0 && flags & LT != 0 {
        return Err(CommandError::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = int_arg(&args[2])?;
    if kind.seconds() {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid_expire(name));
        }
        when *= 1000;
    }
    let base = if kind.relative() { ctx.now() as i64 } else { 0 };
    if when > i64::MAX - base {
        return Err(invalid_expire(name));
    }
    when += base;
    let now = ctx.now() as i64;
    let db = ctx.db(key)?;
    if !db.contains(key) {
        return Ok(Reply::Int(0));
    }
    let current = db.expire_at(key).map(|t| t as i64);
    let refused = (flags & NX != 0 && current.is_some())
        || (flags & XX != 0 && current.is_none())
        || (flags & GT != 0 && current.is_none_or(|c| when <= c))
        || (flags & LT != 0 && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Int(0));
    }
    if when <= now {
        db.remove(key);
        ctx.dirty(1);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
    } else {
        db.set_expire(key, when as u64);
        ctx.dirty(1);
        if ctx.wants_effects() {
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(when.to_string()),
            ]);
        }
    }
    Ok(Reply::Int(1))
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, ExpireArg::Ex, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, ExpireArg::Px, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, ExpireArg::ExAt, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, ExpireArg::PxAt, "pexpireat")
}

/// TTL-family reply: -2 missing, -1 no expiry, else remaining (or absolute) time.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> CmdResult<Reply> {
    let now = ctx.now() as i64;
    let db = ctx.db(key)?;
    if db.peek(key).is_none() {
        return Ok(Reply::Int(-2));
    }
    let Some(at) = db.expire_at(key) else {
        return Ok(Reply::Int(-1));
    };
    let at = at.min(i64::MAX as u64) as i64;
    let t = if absolute { at } else { (at - now).max(0) };
    Ok(Reply::Int(if ms {
        t
    } else {
        ((t as i128 + 500) / 1000) as i64
    }))
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], true, true)
}

fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db(&args[1])?;
    if !db.contains(&args[1]) || !db.persist(&args[1]) {
        return Ok(Reply::Int(0));
    }
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

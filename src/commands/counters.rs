//! Counters: INCR, DECR, INCRBY, DECRBY (64-bit, overflow refused) and INCRBYFLOAT (x87 long
//! double, see `longdouble.rs`).
//!
//! Invariant: a counter update keeps the key's TTL, and a failed update (bad number,
//! overflow, NaN/infinity) changes nothing.

use super::longdouble::LongDouble;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> CmdResult<Reply> {
    let db = ctx.db(key)?;
    let new = match db.get_mut(key) {
        Some(Value::Str(s)) => {
            let cur = parse_i64(s).ok_or(CommandError::NotInteger)?;
            let new = cur.checked_add(delta).ok_or(CommandError::Overflow)?;
            *s = Str::from_i64(new);
            new
        }
        Some(_) => return Err(CommandError::WrongType),
        None => {
            db.set(key, Value::Str(Str::from_i64(delta)));
            delta
        }
    };
    ctx.dirty(1);
    Ok(Reply::Int(new))
}

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    incr_by(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    incr_by(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let d = int_arg(&args[2])?;
    incr_by(ctx, &args[1], d)
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let d = int_arg(&args[2])?;
    if d == i64::MIN {
        return Err(CommandError::err("ERR decrement would overflow"));
    }
    incr_by(ctx, &args[1], -d)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let db = ctx.db(key)?;
    let cur = match db.get(key) {
        None => LongDouble::from_i64(0),
        Some(Value::Str(s)) => LongDouble::parse(s).ok_or(CommandError::NotFloat)?,
        Some(_) => return Err(CommandError::WrongType),
    };
    let incr = LongDouble::parse(&args[2]).ok_or(CommandError::NotFloat)?;
    let sum = cur.plus(incr);
    if !sum.is_finite() {
        return Err(CommandError::err(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = Bytes::from(sum.to_human());
    // Redis stores this result as a plain string, never as an integer, and OBJECT ENCODING
    // tells them apart by the form.
    db.set_keep_ttl(key, Value::Str(Str::never_int(&text)));
    ctx.dirty(1);
    if ctx.wants_effects() {
        // Float formatting could differ elsewhere: replicate the result, not the increment.
        ctx.propagate(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            text.clone(),
            Bytes::from_static(b"KEEPTTL"),
        ]);
    }
    Ok(Reply::Bulk(text))
}

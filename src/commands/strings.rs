//! String commands: GET, SET and friends, counters, ranges, bits.

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

pub const COMMANDS: &[Command] = &[
    Command::new("get", 2, READONLY | FAST, Group::String, get).keys(1, 1, 1),
    Command::new("set", -3, WRITE | DENYOOM, Group::String, set).keys(1, 1, 1),
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

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let mut a = ArgCursor::new(args, 3);
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expire: Option<u64> = None;
    let now = ctx.now();
    while let Some(opt) = a.next() {
        let when = |unit_ms: u64, absolute: bool, a: &mut ArgCursor| -> CmdResult<u64> {
            let v = a.next_i64()?;
            if v <= 0 || (!absolute && v.checked_mul(unit_ms as i64).is_none()) {
                return Err(CommandError::err(
                    "ERR invalid expire time in 'set' command",
                ));
            }
            let ms = (v as u64).saturating_mul(unit_ms);
            Ok(if absolute { ms } else { now.saturating_add(ms) })
        };
        if is(opt, "NX") && !xx {
            nx = true;
        } else if is(opt, "XX") && !nx {
            xx = true;
        } else if is(opt, "GET") {
            get = true;
        } else if is(opt, "KEEPTTL") && expire.is_none() {
            keepttl = true;
        } else if is(opt, "EX") && expire.is_none() && !keepttl {
            expire = Some(when(1000, false, &mut a)?);
        } else if is(opt, "PX") && expire.is_none() && !keepttl {
            expire = Some(when(1, false, &mut a)?);
        } else if is(opt, "EXAT") && expire.is_none() && !keepttl {
            expire = Some(when(1000, true, &mut a)?);
        } else if is(opt, "PXAT") && expire.is_none() && !keepttl {
            expire = Some(when(1, true, &mut a)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let db = ctx.db(key)?;
    let old = if get {
        match db.get(key) {
            None => Reply::Nil,
            Some(Value::Str(s)) => Reply::Bulk(s.to_bytes()),
            Some(_) => return Err(CommandError::WrongType),
        }
    } else {
        Reply::ok()
    };
    let exists = db.contains(key);
    if (nx && exists) || (xx && !exists) {
        return Ok(if get { old } else { Reply::Nil });
    }
    let value = Value::Str(Str::new(&args[2]));
    if keepttl {
        db.set_keep_ttl(key, value);
    } else {
        db.set(key, value);
    }
    if let Some(at) = expire {
        db.set_expire(key, at);
    }
    ctx.dirty(1);
    if expire.is_some() && ctx.wants_effects() {
        // Relative expiries become absolute so followers and the log agree on the instant.
        let at = Bytes::from(expire.unwrap_or(0).to_string());
        ctx.propagate(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            args[2].clone(),
            Bytes::from_static(b"PXAT"),
            at,
        ]);
    }
    Ok(old)
}

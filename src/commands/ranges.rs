//! Byte-range string commands: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE.
//!
//! Invariant: no string grows past `proto-max-bulk-len` (Redis's limit and error text), and
//! strings edited in place take the growable form (Redis's `raw` encoding).

use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

/// Refuses a string of `len + extra` bytes beyond the configured maximum.
pub fn check_len(ctx: &Ctx<'_>, len: i64, extra: i64) -> CmdResult<()> {
    let max = ctx.server.config().proto_max_bulk_len;
    match len.checked_add(extra) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CommandError::err(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, add) = (&args[1], &args[2]);
    let cur = match ctx.db(key)?.get(key) {
        None => None,
        Some(Value::Str(s)) => Some(s.len()),
        Some(_) => return Err(CommandError::WrongType),
    };
    let len = match cur {
        None => {
            ctx.db(key)?.set(key, Value::Str(Str::new(add)));
            add.len()
        }
        Some(n) => {
            check_len(ctx, n as i64, add.len() as i64)?;
            match ctx.db(key)?.get_mut(key) {
                Some(Value::Str(s)) => {
                    let v = s.make_mut();
                    v.extend_from_slice(add);
                    v.len()
                }
                _ => return Err(CommandError::WrongType),
            }
        }
    };
    ctx.dirty(1);
    Ok(Reply::Int(len as i64))
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(match ctx.db(&args[1])?.get(&args[1]) {
        None => 0,
        Some(Value::Str(s)) => s.len() as i64,
        Some(_) => return Err(CommandError::WrongType),
    }))
}

/// Resolves Redis's inclusive `start..=end` (negative from the end) over `len` items; `None`
/// when the range is empty.
pub fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let start = int_arg(&args[2])?;
    let end = int_arg(&args[3])?;
    let s = match ctx.db(&args[1])?.get(&args[1]) {
        None => return Ok(Reply::Bulk(Bytes::new())),
        Some(Value::Str(s)) => s,
        Some(_) => return Err(CommandError::WrongType),
    };
    Ok(Reply::Bulk(match clamp_range(start, end, s.len() as i64) {
        Some((a, b)) => Bytes::copy_from_slice(&s[a..=b]),
        None => Bytes::new(),
    }))
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let offset = int_arg(&args[2])?;
    if offset < 0 {
        return Err(CommandError::err("ERR offset is out of range"));
    }
    let value = &args[3];
    let cur = match ctx.db(key)?.get(key) {
        None => None,
        Some(Value::Str(s)) => Some(s.len()),
        Some(_) => return Err(CommandError::WrongType),
    };
    if value.is_empty() {
        // Nothing to write: neither creates the key nor checks the size.
        return Ok(Reply::Int(cur.unwrap_or(0) as i64));
    }
    check_len(ctx, offset, value.len() as i64)?;
    let off = offset as usize;
    let db = ctx.db(key)?;
    let len = match cur {
        None => {
            let mut v = vec![0u8; off];
            v.extend_from_slice(value);
            let n = v.len();
            db.set(key, Value::Str(Str::growable(v)));
            n
        }
        Some(_) => match db.get_mut(key) {
            Some(Value::Str(s)) => {
                let v = s.make_mut();
                if v.len() < off + value.len() {
                    v.resize(off + value.len(), 0);
                }
                v[off..off + value.len()].copy_from_slice(value);
                v.len()
            }
            _ => return Err(CommandError::WrongType),
        },
    };
    ctx.dirty(1);
    Ok(Reply::Int(len as i64))
}

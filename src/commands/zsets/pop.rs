//! Popping: ZPOPMIN ZPOPMAX ZMPOP, and the blocking BZPOPMIN BZPOPMAX BZMPOP in their
//! non-blocking form (serve now if any key has members, else the null reply Redis sends on
//! timeout; the blocking layer decides whether to wait and retry).
//!
//! Invariant: a pop is recorded as `ZREM key member…` so its effect is deterministic and
//! independent of how (or whether) the client blocked.

use super::*;

/// How a pop's reply is laid out.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// ZPOPMIN/ZPOPMAX: `[member, score, …]`; pairs nested in RESP3 when a count was given.
    Plain { counted: bool },
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    Keyed,
    /// ZMPOP/BZMPOP: `[key, [[member, score], …]]`.
    Nested,
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    zpop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    zpop(ctx, args, true)
}

fn zpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult<Reply> {
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
    let shape = Shape::Plain {
        counted: count.is_some(),
    };
    pop(ctx, &args[1..2], max, count.unwrap_or(1), shape)
}

pub fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    mpop(ctx, args, 1)
}

pub fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    timeout_arg(&args[1])?;
    mpop(ctx, args, 2)
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    timeout_arg(&args[args.len() - 1])?;
    pop(ctx, &args[1..args.len() - 1], false, 1, Shape::Keyed)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    timeout_arg(&args[args.len() - 1])?;
    pop(ctx, &args[1..args.len() - 1], true, 1, Shape::Keyed)
}

/// Validates a blocking timeout (seconds, float) as Redis does; returns milliseconds.
pub fn timeout_arg(arg: &[u8]) -> CmdResult<u64> {
    crate::server::blocking::parse_timeout(arg)
}

/// ZMPOP/BZMPOP from the numkeys argument at `at`: `numkeys key… MIN|MAX [COUNT n]`.
fn mpop(ctx: &mut Ctx<'_>, args: &[Bytes], at: usize) -> CmdResult<Reply> {
    let positive = |b: &[u8], msg: &'static str| match parse_i64(b) {
        Some(n) if n >= 1 => Ok(n as u64),
        _ => Err(CommandError::err(msg)),
    };
    let numkeys = positive(&args[at], "ERR numkeys should be greater than 0")?;
    let where_at = (at as u64).saturating_add(numkeys).saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err(CommandError::Syntax);
    }
    let where_at = where_at as usize;
    let max = if is(&args[where_at], "MIN") {
        false
    } else if is(&args[where_at], "MAX") {
        true
    } else {
        return Err(CommandError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "COUNT") && j + 1 < args.len() {
            count = Some(positive(
                &args[j + 1],
                "ERR count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    pop(
        ctx,
        &args[at + 1..where_at],
        max,
        count.unwrap_or(1),
        Shape::Nested,
    )
}

/// Pops up to `count` elements from the first of `keys` that exists.
fn pop(ctx: &mut Ctx<'_>, keys: &[Bytes], max: bool, count: u64, shape: Shape) -> CmdResult<Reply> {
    let mut found = None;
    for k in keys {
        if get_zset(ctx, k)?.is_some() {
            found = Some(k);
            break;
        }
    }
    let Some(key) = found else {
        return Ok(match shape {
            Shape::Plain { .. } => Reply::Array(vec![]),
            Shape::Keyed | Shape::Nested => Reply::NilArray,
        });
    };
    if count == 0 {
        return Ok(Reply::Array(vec![]));
    }
    let resp = ctx.resp;
    let mut popped = Vec::new();
    if let Some(z) = get_zset_mut(ctx, key)? {
        let n = (count.min(z.len() as u64)) as usize;
        popped = if max {
            z.iter_rev().take(n).map(|(m, s)| (m.clone(), s)).collect()
        } else {
            z.iter().take(n).map(|(m, s)| (m.clone(), s)).collect()
        };
        for (m, _) in &popped {
            z.remove(m);
        }
    }
    drop_if_empty(ctx, key)?;
    // Only the key popped from is touched (dispatch leaves the pops' other keys alone).
    ctx.db(key)?.signal(key);
    ctx.dirty(popped.len() as u64);
    zrem_effect(ctx, key, popped.iter().map(|(m, _)| m.to_bytes()).collect());
    Ok(match shape {
        Shape::Plain { counted } => {
            let mut out = Vec::new();
            for (m, s) in &popped {
                if counted {
                    push_elem(&mut out, resp, true, m, *s);
                } else {
                    out.push(Reply::Bulk(m.to_bytes()));
                    out.push(Reply::Double(*s));
                }
            }
            Reply::Array(out)
        }
        Shape::Keyed => {
            let mut out = vec![Reply::Bulk(key.clone())];
            for (m, s) in &popped {
                out.push(Reply::Bulk(m.to_bytes()));
                out.push(Reply::Double(*s));
            }
            Reply::Array(out)
        }
        Shape::Nested => Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Array(
                popped
                    .iter()
                    .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m.to_bytes()), Reply::Double(*s)]))
                    .collect(),
            ),
        ]),
    })
}

//! ZADD, ZINCRBY, ZREM: member-wise writes.
//!
//! Invariant: all arguments are validated (options, then every score) before the key is
//! touched, so an error never leaves a partial write behind.

use super::*;

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

enum Outcome {
    Added(f64),
    Updated(f64),
    /// Processed without a change (INCR still answers the score).
    Same(f64),
    /// Skipped by NX/XX/GT/LT.
    Nop,
}

pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "NX") {
            f.nx = true;
        } else if is(a, "XX") {
            f.xx = true;
        } else if is(a, "GT") {
            f.gt = true;
        } else if is(a, "LT") {
            f.lt = true;
        } else if is(a, "CH") {
            f.ch = true;
        } else if is(a, "INCR") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CommandError::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CommandError::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && pairs.len() > 2 {
        return Err(CommandError::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    add_pairs(ctx, &args[1], pairs, f)
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_pairs(ctx, &args[1], &args[2..4], f)
}

/// Applies `score member` pairs under `f`, replying as ZADD (or ZINCRBY with `f.incr`).
fn add_pairs(ctx: &mut Ctx<'_>, key: &[u8], pairs: &[Bytes], f: AddFlags) -> CmdResult<Reply> {
    let scores = pairs
        .chunks(2)
        .map(|p| num::strict_f64(&p[0]).ok_or(CommandError::NotFloat))
        .collect::<CmdResult<Vec<f64>>>()?;
    let db = ctx.db(key)?;
    let exists = match db.get(key) {
        None => false,
        Some(Value::ZSet(_)) => true,
        Some(_) => return Err(CommandError::WrongType),
    };
    let nil_or_zero = || {
        if f.incr {
            Reply::Nil
        } else {
            Reply::Int(0)
        }
    };
    if !exists {
        if f.xx {
            return Ok(nil_or_zero());
        }
        db.set(key, Value::ZSet(Box::default()));
    }
    let Some(Value::ZSet(z)) = db.get_mut(key) else {
        return Err(CommandError::WrongType);
    };
    let (mut added, mut updated, mut last) = (0i64, 0i64, None);
    let mut nan = false;
    for (pair, &score) in pairs.chunks(2).zip(&scores) {
        match add_one(z, &pair[1], score, f) {
            Ok(Outcome::Added(s)) => {
                added += 1;
                last = Some(s);
            }
            Ok(Outcome::Updated(s)) => {
                updated += 1;
                last = Some(s);
            }
            Ok(Outcome::Same(s)) => last = Some(s),
            Ok(Outcome::Nop) => {}
            Err(()) => {
                nan = true;
                break;
            }
        }
    }
    db.remove_if_empty(key);
    if nan {
        return Err(CommandError::err(
            "ERR resulting score is not a number (NaN)",
        ));
    }
    ctx.dirty((added + updated) as u64);
    Ok(if f.incr {
        last.map_or(Reply::Nil, Reply::Double)
    } else if f.ch {
        Reply::Int(added + updated)
    } else {
        Reply::Int(added)
    })
}

/// One element of ZADD; `Err` when an increment produces NaN.
fn add_one(z: &mut ZSet, member: &[u8], score: f64, f: AddFlags) -> Result<Outcome, ()> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok(Outcome::Nop);
            }
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return Err(());
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return Ok(Outcome::Nop);
            }
            if new != cur {
                z.insert(member, new);
                Ok(Outcome::Updated(new))
            } else {
                Ok(Outcome::Same(new))
            }
        }
        None => {
            if f.xx {
                return Ok(Outcome::Nop);
            }
            z.insert(member, score);
            Ok(Outcome::Added(score))
        }
    }
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let Some(z) = get_zset_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut n = 0;
    for m in &args[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    drop_if_empty(ctx, key)?;
    ctx.dirty(n as u64);
    Ok(Reply::Int(n))
}

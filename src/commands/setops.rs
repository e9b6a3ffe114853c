//! Set algebra over several keys: SINTER, SINTERCARD, SUNION, SDIFF and the STORE forms.
//!
//! Invariant: every source key is type-checked before any result is computed (Redis answers
//! WRONGTYPE even when an earlier key is missing), sources are read one at a time through
//! `ctx.db` (they may live on different shards the unit holds), and a STORE writes its
//! destination only after all sources were read, so a destination that is also a source is
//! read before it is replaced. An empty result deletes the destination.

use super::flags::*;
use super::sets::{get_set, intset_order};
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Set, Str, Value};

const S: Group = Group::Set;

pub const COMMANDS: &[Command] = &[
    Command::new("sinter", -2, READONLY, S, sinter).keys(1, -1, 1),
    Command::new("sintercard", -3, READONLY, S, sintercard).numkeys(1, None),
    Command::new("sinterstore", -3, WRITE | DENYOOM, S, sinterstore).keys(1, -1, 1),
    Command::new("sunion", -2, READONLY, S, sunion).keys(1, -1, 1),
    Command::new("sunionstore", -3, WRITE | DENYOOM, S, sunionstore).keys(1, -1, 1),
    Command::new("sdiff", -2, READONLY, S, sdiff).keys(1, -1, 1),
    Command::new("sdiffstore", -3, WRITE | DENYOOM, S, sdiffstore).keys(1, -1, 1),
];

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Sizes of the source sets (`None` for a missing key), WRONGTYPE for any other type.
fn sizes(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> CmdResult<Vec<Option<usize>>> {
    keys.iter()
        .map(|k| Ok(get_set(ctx, k)?.map(|s| s.len())))
        .collect()
}

/// Members of the set at `key` (empty if missing; the key was type-checked already).
fn members(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult<Vec<Str>> {
    Ok(get_set(ctx, key)?
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default())
}

fn intersect(ctx: &mut Ctx<'_>, keys: &[Bytes], sizes: &[Option<usize>]) -> CmdResult<Set> {
    let mut order: Vec<usize> = Vec::with_capacity(keys.len());
    for (i, s) in sizes.iter().enumerate() {
        match s {
            None => return Ok(Set::default()),
            Some(_) => order.push(i),
        }
    }
    // Start from the smallest set and filter through the others, smallest first.
    order.sort_by_key(|&i| sizes[i]);
    let mut acc: Set = members(ctx, &keys[order[0]])?.into_iter().collect();
    for &i in &order[1..] {
        if acc.is_empty() {
            break;
        }
        let other = get_set(ctx, &keys[i])?;
        acc.retain(|m| other.is_some_and(|o| o.contains(m)));
    }
    Ok(acc)
}

fn compute(ctx: &mut Ctx<'_>, op: Op, keys: &[Bytes]) -> CmdResult<Set> {
    let sizes = sizes(ctx, keys)?;
    match op {
        Op::Inter => intersect(ctx, keys, &sizes),
        Op::Union => {
            let mut acc = Set::default();
            for (k, size) in keys.iter().zip(&sizes) {
                if size.is_some() {
                    acc.extend(members(ctx, k)?);
                }
            }
            Ok(acc)
        }
        Op::Diff => {
            if sizes[0].is_none() {
                return Ok(Set::default());
            }
            let mut acc: Set = members(ctx, &keys[0])?.into_iter().collect();
            for (k, size) in keys[1..].iter().zip(&sizes[1..]) {
                if acc.is_empty() {
                    break;
                }
                if size.is_some() {
                    if let Some(other) = get_set(ctx, k)? {
                        acc.retain(|m| !other.contains(m));
                    }
                }
            }
            Ok(acc)
        }
    }
}

fn reply_set(set: Set) -> Reply {
    let mut members: Vec<&Str> = set.iter().collect();
    intset_order(&mut members);
    Reply::Set(
        members
            .into_iter()
            .map(|m| Reply::Bulk(m.to_bytes()))
            .collect(),
    )
}

fn store(ctx: &mut Ctx<'_>, op: Op, args: &[Bytes]) -> CmdResult<Reply> {
    let result = compute(ctx, op, &args[2..])?;
    let dst = &args[1];
    let db = ctx.db(dst)?;
    let n = result.len();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.dirty(1);
        }
    } else {
        db.set(dst, Value::Set(Box::new(result)));
        ctx.dirty(1);
    }
    Ok(Reply::Int(n as i64))
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    compute(ctx, Op::Inter, &args[1..]).map(reply_set)
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    compute(ctx, Op::Union, &args[1..]).map(reply_set)
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    compute(ctx, Op::Diff, &args[1..]).map(reply_set)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, Op::Inter, args)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, Op::Union, args)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, Op::Diff, args)
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CommandError::err("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(CommandError::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys = &args[2..2 + numkeys as usize];
    let mut a = ArgCursor::new(args, 2 + numkeys as usize);
    let mut limit: u64 = 0;
    while let Some(opt) = a.next() {
        if is(opt, "LIMIT") && a.remaining() >= 1 {
            limit = match parse_i64(a.required()?) {
                Some(l) if l >= 0 => l as u64,
                _ => return Err(CommandError::err("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let sizes = sizes(ctx, keys)?;
    let n = intersect(ctx, keys, &sizes)?.len() as u64;
    Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64))
}

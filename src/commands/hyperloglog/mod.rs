//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! Invariant: a HyperLogLog is a plain string value holding Redis 7.0's exact bytes
//! (`sketch.rs`), so GET, DUMP-like copies, replication and the log carry it unchanged, and a
//! string that merely looks like one (right header) is accepted as Redis accepts it. Every
//! command that changes the bytes marks the key dirty, PFCOUNT included when it refreshes the
//! cached cardinality: its effect is the PFCOUNT itself, which a follower replays to the same
//! bytes (what Redis propagates too).

mod sketch;

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

const H: Group = Group::HyperLogLog;

// PFCOUNT is `may_replicate` in Redis 7.0 (not listed by COMMAND INFO): read-only scripts and
// CLIENT PAUSE WRITE treat it as a write, followers serve it.

pub const COMMANDS: &[Command] = &[
    Command::new("pfadd", -2, WRITE | DENYOOM | FAST, H, pfadd).keys(1, 1, 1),
    Command::new("pfcount", -2, READONLY | MAY_REPLICATE, H, pfcount).keys(1, -1, 1),
    Command::new("pfmerge", -2, WRITE | DENYOOM, H, pfmerge).keys(1, -1, 1),
    Command::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, H, pfdebug).keys(2, 2, 1),
    Command::new("pfselftest", 1, ADMIN, H, pfselftest),
];

fn not_hll() -> CommandError {
    CommandError::err("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt() -> CommandError {
    CommandError::err("INVALIDOBJ Corrupted HLL object detected")
}

/// The sparse size limit (`hll-sparse-max-bytes`, 3000 by default).
fn sparse_max(ctx: &Ctx<'_>) -> u64 {
    ctx.server
        .config()
        .knobs
        .get("hll-sparse-max-bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// The bytes of an existing HyperLogLog, or Redis's errors for another type or a string that
/// is not one.
fn hll_bytes(v: &Value) -> CmdResult<&[u8]> {
    match v {
        Value::Str(s) if sketch::is_hll(s.as_bytes()) => Ok(s.as_bytes()),
        Value::Str(_) => Err(not_hll()),
        _ => Err(CommandError::WrongType),
    }
}

/// The existing HyperLogLog at `key`, checked and ready to change in place.
fn hll_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a mut Vec<u8>>> {
    match ctx.db(key)?.get_mut(key) {
        None => Ok(None),
        Some(v) => {
            hll_bytes(v)?;
            let Value::Str(s) = v else {
                unreachable!("checked a string")
            };
            Ok(Some(s.make_mut()))
        }
    }
}

/// PFADD key [element …]: 1 if the key was created or a register changed.
fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let max = sparse_max(ctx);
    let mut created = false;
    if ctx.db(key)?.get_mut(key).is_none() {
        let db = ctx.db(key)?;
        db.set(key, Value::Str(Str::growable(sketch::new_sparse())));
        created = true;
    }
    let Some(b) = hll_mut(ctx, key)? else {
        unreachable!("created above")
    };
    let mut updated = 0u64;
    for ele in &args[2..] {
        // A corrupted sketch fails the command with what was added so far kept, as in Redis.
        if sketch::add(b, ele, max).map_err(|_| corrupt())? {
            updated += 1;
        }
    }
    // Creating the key counts as an update: even an empty new sketch has a stale cache.
    let changes = updated + u64::from(created);
    if changes > 0 {
        sketch::invalidate(b);
        ctx.dirty(changes);
    }
    Ok(Reply::Int(i64::from(changes > 0)))
}

/// PFCOUNT key [key …]. One key: the cached cardinality, or a fresh estimate that is then
/// cached (a write). Several: the estimate of their union, nothing written.
fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 2 {
        let mut max = vec![0u8; sketch::REGISTERS];
        for key in &args[1..] {
            let Some(v) = ctx.db(key)?.get(key) else {
                continue;
            };
            sketch::merge_into(&mut max, hll_bytes(v)?).map_err(|_| corrupt())?;
        }
        let card = sketch::estimate(&sketch::raw_histogram(&max));
        return Ok(Reply::Int(card as i64));
    }
    let key = &args[1];
    let card = {
        let Some(v) = ctx.db(key)?.get_mut(key) else {
            return Ok(Reply::Int(0));
        };
        hll_bytes(v)?;
        let Value::Str(s) = v else {
            unreachable!("checked a string")
        };
        // Like Redis, unshared (so "raw") even when only read.
        let b = s.make_mut();
        if let Some(card) = sketch::cached(b) {
            return Ok(Reply::Int(card as i64));
        }
        let card = sketch::estimate(&sketch::histogram(b).map_err(|_| corrupt())?);
        sketch::set_cache(b, card);
        card
    };
    ctx.dirty(1);
    Ok(Reply::Int(card as i64))
}

/// PFMERGE destkey [sourcekey …]: the destination (itself a source) gets the registerwise
/// maximum, dense if any input was dense.
fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut max = vec![0u8; sketch::REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        let Some(v) = ctx.db(key)?.get(key) else {
            continue;
        };
        let b = hll_bytes(v)?;
        use_dense |= !sketch::is_sparse(b);
        sketch::merge_into(&mut max, b).map_err(|_| corrupt())?;
    }
    let dst = &args[1];
    let sparse_max = sparse_max(ctx);
    if ctx.db(dst)?.get_mut(dst).is_none() {
        let db = ctx.db(dst)?;
        db.set(dst, Value::Str(Str::growable(sketch::new_sparse())));
    }
    let Some(b) = hll_mut(ctx, dst)? else {
        unreachable!("created above")
    };
    let result = if use_dense {
        sketch::to_dense(b)
    } else {
        Ok(())
    };
    if result.is_ok() {
        for (i, &m) in max.iter().enumerate() {
            if m != 0 {
                // Redis ignores a failure here: the sources were checked whole already.
                let _ = sketch::set(b, i, m, sparse_max);
            }
        }
        sketch::invalidate(b);
    }
    // A destination created just now stays, even when the merge then fails (as in Redis).
    ctx.dirty(1);
    result.map_err(|_| corrupt())?;
    Ok(Reply::ok())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key.
fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let sub = &args[1];
    let key = &args[2];
    let Some(b) = hll_mut(ctx, key)? else {
        return Err(CommandError::err("ERR The specified key does not exist"));
    };
    if is(sub, "GETREG") || is(sub, "TODENSE") {
        let converted = sketch::is_sparse(b);
        sketch::to_dense(b).map_err(|_| corrupt())?;
        let reply = if is(sub, "GETREG") {
            let regs = &b[sketch::HDR..];
            let all = (0..sketch::REGISTERS)
                .map(|i| Reply::Int(sketch::dense_get(regs, i) as i64))
                .collect();
            Reply::Array(all)
        } else {
            Reply::Int(i64::from(converted))
        };
        if converted {
            ctx.dirty(1);
        }
        Ok(reply)
    } else if is(sub, "DECODE") {
        if !sketch::is_sparse(b) {
            return Err(CommandError::err("ERR HLL encoding is not sparse"));
        }
        Ok(Reply::Bulk(Bytes::from(sketch::decode(b))))
    } else if is(sub, "ENCODING") {
        let name = if sketch::is_sparse(b) {
            "sparse"
        } else {
            "dense"
        };
        Ok(Reply::Status(Bytes::from_static(name.as_bytes())))
    } else {
        Err(CommandError::err(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )))
    }
}

/// PFSELFTEST: checks the register packing and that sparse and dense sketches of the same
/// elements agree; OK or an error naming what failed.
fn pfselftest(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let mut dense = sketch::new_sparse();
    let _ = sketch::to_dense(&mut dense);
    let mut sparse = sketch::new_sparse();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..sketch::REGISTERS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let v = (state % 64) as u8;
        sketch::set(&mut dense, i, v, u64::MAX).map_err(|_| selftest_err("dense set"))?;
        if sketch::dense_get(&dense[sketch::HDR..], i) != v && v != 0 {
            return Err(selftest_err("TESTFAILED Register error"));
        }
    }
    for j in 0..2000u32 {
        let ele = j.to_le_bytes();
        sketch::add(&mut sparse, &ele, u64::MAX).map_err(|_| selftest_err("sparse add"))?;
    }
    let mut promoted = sparse.clone();
    sketch::to_dense(&mut promoted).map_err(|_| selftest_err("sparse to dense"))?;
    let a = sketch::histogram(&sparse).map_err(|_| selftest_err("sparse histogram"))?;
    let b = sketch::histogram(&promoted).map_err(|_| selftest_err("dense histogram"))?;
    if a != b {
        return Err(selftest_err("TESTFAILED sparse and dense disagree"));
    }
    Ok(Reply::ok())
}

fn selftest_err(what: &str) -> CommandError {
    CommandError::err(format!("ERR {what}"))
}

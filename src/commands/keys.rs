//! Generic per-key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE.
//! Expiry commands are in `expire.rs`, keyspace-wide ones in `keyspace_cmds.rs`, OBJECT and
//! MEMORY in `object.rs`.
//!
//! Invariant: a key moved or copied keeps its value and its absolute expiry; a command that
//! writes a key in another database signals that database's waiters itself (the dispatcher
//! only signals the selected one).

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::Value;

pub const COMMANDS: &[Command] = &[
    Command::new("del", -2, WRITE, Group::Generic, del).keys(1, -1, 1),
    Command::new("unlink", -2, WRITE | FAST, Group::Generic, del).keys(1, -1, 1),
    Command::new("exists", -2, READONLY | FAST, Group::Generic, exists).keys(1, -1, 1),
    Command::new("type", 2, READONLY | FAST, Group::Generic, type_).keys(1, 1, 1),
    Command::new("touch", -2, READONLY | FAST, Group::Generic, touch).keys(1, -1, 1),
    Command::new("rename", 3, WRITE, Group::Generic, rename).keys(1, 2, 1),
    Command::new("renamenx", 3, WRITE | FAST, Group::Generic, renamenx).keys(1, 2, 1),
    Command::new("copy", -3, WRITE | DENYOOM, Group::Generic, copy).keys(1, 2, 1),
    Command::new("move", 3, WRITE | FAST, Group::Generic, move_).keys(1, 1, 1),
];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut n = 0;
    for k in &args[1..] {
        let db = ctx.db(k)?;
        if db.remove(k).is_some() {
            // Only the keys deleted are touched (the generic signal would touch every one).
            db.signal(k);
            n += 1;
        }
    }
    ctx.dirty(n as u64);
    Ok(Reply::Int(n))
}

fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut n = 0;
    for k in &args[1..] {
        if ctx.db(k)?.contains(k) {
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let name = match ctx.db(&args[1])?.peek(&args[1]) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    Ok(Reply::status(name))
}

fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut n = 0;
    for k in &args[1..] {
        if ctx.db(k)?.get(k).is_some() {
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

fn rename_generic(ctx: &mut Ctx<'_>, args: &[Bytes], nx: bool) -> CmdResult<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    if !ctx.db(src)?.contains(src) {
        return Err(CommandError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::ok() });
    }
    if nx && ctx.db(dst)?.contains(dst) {
        return Ok(Reply::Int(0));
    }
    let db = ctx.db(src)?;
    let expire = db.expire_at(src);
    let Some(value) = db.remove(src) else {
        return Err(CommandError::NoSuchKey);
    };
    let db = ctx.db(dst)?;
    db.set(dst, value);
    if let Some(at) = expire {
        db.set_expire(dst, at);
    }
    ctx.dirty(1);
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rename_generic(ctx, args, true)
}

/// A database index argument as Redis's `getIntFromObjectOrReply` + `selectDb` check it.
pub fn db_index_arg(ctx: &Ctx<'_>, arg: &[u8]) -> CmdResult<usize> {
    db_index(arg, ctx.server.config().databases)
}

/// SELECT's database, wherever SELECT runs (a connection, MULTI, a script): `db_index`, and
/// only database 0 in cluster mode, as Redis Cluster.
pub fn select_index(server: &crate::server::Server, arg: &[u8]) -> CmdResult<usize> {
    if server.cluster.is_some() && int_arg(arg)? != 0 {
        return Err(CommandError::err(
            "ERR SELECT is not allowed in cluster mode",
        ));
    }
    db_index(arg, server.config().databases)
}

/// [`db_index_arg`] for callers without a shard context (SELECT on a connection, in MULTI or
/// in a script): an integer, within a C int, below `databases`.
pub fn db_index(arg: &[u8], databases: usize) -> CmdResult<usize> {
    let v = int_arg(arg)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(CommandError::err(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if v < 0 || v as usize >= databases {
        return Err(CommandError::err("ERR DB index is out of range"));
    }
    Ok(v as usize)
}

fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    let mut target = ctx.db;
    let mut replace = false;
    let mut a = ArgCursor::new(args, 3);
    while let Some(opt) = a.next() {
        if is(opt, "REPLACE") {
            replace = true;
        } else if is(opt, "DB") && a.remaining() > 0 {
            let arg = a.required()?;
            if ctx.server.cluster.is_some() && int_arg(arg)? != 0 {
                return Err(CommandError::err(
                    "ERR Copying to another database is not allowed in cluster mode",
                ));
            }
            target = db_index_arg(ctx, arg)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if src == dst && target == ctx.db {
        return Err(CommandError::err(
            "ERR source and destination objects are the same",
        ));
    }
    let db = ctx.db(src)?;
    let Some(value) = db.get(src).cloned() else {
        return Ok(Reply::Int(0));
    };
    let expire = db.expire_at(src);
    let tdb = ctx.db_index(dst, target)?;
    if tdb.contains(dst) {
        if !replace {
            return Ok(Reply::Int(0));
        }
        tdb.remove(dst);
    }
    tdb.set(dst, value);
    if let Some(at) = expire {
        tdb.set_expire(dst, at);
    }
    // COPY signals the copy itself, in whichever database it landed (the generic signal in
    // `commands::call` would use the current one).
    tdb.signal(dst);
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

fn move_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.server.cluster.is_some() {
        return Err(CommandError::err("ERR MOVE is not allowed in cluster mode"));
    }
    let key = &args[1];
    let target = db_index_arg(ctx, &args[2])?;
    if target == ctx.db {
        return Err(CommandError::err(
            "ERR source and destination objects are the same",
        ));
    }
    let db = ctx.db(key)?;
    if !db.contains(key) {
        return Ok(Reply::Int(0));
    }
    let expire = db.expire_at(key);
    if ctx.db_index(key, target)?.contains(key) {
        return Ok(Reply::Int(0));
    }
    let Some(value) = ctx.db(key)?.remove(key) else {
        return Ok(Reply::Int(0));
    };
    let tdb = ctx.db_index(key, target)?;
    tdb.set(key, value);
    if let Some(at) = expire {
        tdb.set_expire(key, at);
    }
    tdb.signal(key);
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

/// The value at `key` without touching its access time (OBJECT, MEMORY USAGE).
pub fn peek_value<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a Value>> {
    Ok(ctx.db(key)?.peek(key).map(|e| e.value))
}

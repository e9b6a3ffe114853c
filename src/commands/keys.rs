//! Generic key commands: DEL, EXISTS, TYPE, expiry, RENAME, SCAN, KEYS, DBSIZE, FLUSH…

use super::flags::*;
use super::*;
use crate::error::CmdResult;

pub const COMMANDS: &[Command] = &[
    Command::new("del", -2, WRITE, Group::Generic, del).keys(1, -1, 1),
    Command::new("exists", -2, READONLY | FAST, Group::Generic, exists).keys(1, -1, 1),
    Command::new(
        "dbsize",
        1,
        READONLY | FAST | KEYSPACE,
        Group::Server,
        dbsize,
    ),
];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut n = 0;
    for k in &args[1..] {
        if ctx.db(k)?.remove(k).is_some() {
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

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db;
    Ok(Reply::Int(
        ctx.held_shards().map(|s| s.dbs[db].len() as i64).sum(),
    ))
}

//! List commands: pushes, pops, ranges, edits, moves, and the blocking pops.
//!
//! Invariant: a key never holds an empty list. Every command that removes elements deletes the
//! key once its list is empty (`Db::remove_if_empty`), and nothing creates an empty one.
//! Arguments are parsed before any data is touched, in the order Redis parses them, so the
//! first error reported is the one Redis reports.
//!
//! The blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) are ordinary shard
//! commands here: each serves if it can and otherwise returns the reply it gives on timeout.
//! That is their whole behaviour inside MULTI and scripts; waiting is done around them by
//! `server::blocking`, driven by [`BLOCK_SPECS`].

mod access;
mod pops;

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Db, List, Str, Value};
use crate::server::blocking::{self, BlockSpec};

pub const COMMANDS: &[Command] = &[
    Command::new("lpush", -3, WRITE | DENYOOM | FAST, Group::List, lpush).keys(1, 1, 1),
    Command::new("rpush", -3, WRITE | DENYOOM | FAST, Group::List, rpush).keys(1, 1, 1),
    Command::new("lpushx", -3, WRITE | DENYOOM | FAST, Group::List, lpushx).keys(1, 1, 1),
    Command::new("rpushx", -3, WRITE | DENYOOM | FAST, Group::List, rpushx).keys(1, 1, 1),
    Command::new("lpop", -2, WRITE | FAST, Group::List, pops::lpop).keys(1, 1, 1),
    Command::new("rpop", -2, WRITE | FAST, Group::List, pops::rpop).keys(1, 1, 1),
    Command::new("llen", 2, READONLY | FAST, Group::List, llen).keys(1, 1, 1),
    Command::new("lrange", 4, READONLY, Group::List, access::lrange).keys(1, 1, 1),
    Command::new("lindex", 3, READONLY, Group::List, access::lindex).keys(1, 1, 1),
    Command::new("lset", 4, WRITE | DENYOOM, Group::List, access::lset).keys(1, 1, 1),
    Command::new("linsert", 5, WRITE | DENYOOM, Group::List, access::linsert).keys(1, 1, 1),
    Command::new("lrem", 4, WRITE, Group::List, access::lrem).keys(1, 1, 1),
    Command::new("ltrim", 4, WRITE, Group::List, access::ltrim).keys(1, 1, 1),
    Command::new("lpos", -3, READONLY, Group::List, access::lpos).keys(1, 1, 1),
    Command::new("lmove", 5, WRITE | DENYOOM, Group::List, pops::lmove).keys(1, 2, 1),
    Command::new(
        "rpoplpush",
        3,
        WRITE | DENYOOM,
        Group::List,
        pops::rpoplpush,
    )
    .keys(1, 2, 1),
    Command::new("lmpop", -4, WRITE, Group::List, pops::lmpop).numkeys(1, None),
    Command::new(
        "blpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        Group::List,
        pops::blpop,
    )
    .keys(1, -2, 1),
    Command::new(
        "brpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        Group::List,
        pops::brpop,
    )
    .keys(1, -2, 1),
    Command::new(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        Group::List,
        pops::blmove,
    )
    .keys(1, 2, 1),
    Command::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        Group::List,
        pops::brpoplpush,
    )
    .keys(1, 2, 1),
    Command::new("blmpop", -5, WRITE | BLOCKING, Group::List, pops::blmpop).numkeys(2, None),
];

/// How `server::blocking` waits for each blocking list command.
pub static BLOCK_SPECS: &[(&str, BlockSpec)] = &[
    (
        "blpop",
        BlockSpec {
            parse: pops::parse_bpop,
            sources: blocking::sources_before_timeout,
            narrow: blocking::narrow_before_timeout,
            kind: "list",
            not_served: Reply::NilArray,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
    (
        "brpop",
        BlockSpec {
            parse: pops::parse_bpop,
            sources: blocking::sources_before_timeout,
            narrow: blocking::narrow_before_timeout,
            kind: "list",
            not_served: Reply::NilArray,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
    (
        "blmove",
        BlockSpec {
            parse: pops::parse_blmove,
            sources: blocking::source_first,
            narrow: blocking::narrow_first,
            kind: "list",
            not_served: Reply::Nil,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
    (
        "brpoplpush",
        BlockSpec {
            parse: pops::parse_brpoplpush,
            sources: blocking::source_first,
            narrow: blocking::narrow_first,
            kind: "list",
            not_served: Reply::Nil,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
    (
        "blmpop",
        BlockSpec {
            parse: pops::parse_blmpop,
            sources: blocking::sources_numkeys_at2,
            narrow: blocking::narrow_numkeys_at2,
            kind: "list",
            not_served: Reply::NilArray,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
];

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Left,
    Right,
}

impl End {
    fn parse(arg: &[u8]) -> CmdResult<End> {
        if is(arg, "LEFT") {
            Ok(End::Left)
        } else if is(arg, "RIGHT") {
            Ok(End::Right)
        } else {
            Err(CommandError::Syntax)
        }
    }

    fn word(self) -> &'static [u8] {
        match self {
            End::Left => b"LEFT",
            End::Right => b"RIGHT",
        }
    }

    /// The non-blocking pop for this end, as effects name it.
    fn pop_name(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }
}

/// The list at `key` for reading: `None` if missing, WRONGTYPE if another type.
pub(crate) fn read<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<Option<&'a List>> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The list at `key` for writing: `None` if missing, WRONGTYPE if another type.
pub(crate) fn write<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<Option<&'a mut List>> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Pushes `items` at `end` of the list at `key`, creating it unless `only_existing`.
/// Returns the new length (0 when nothing exists and `only_existing`).
fn push_items(
    db: &mut Db,
    key: &[u8],
    items: &[Bytes],
    end: End,
    only_existing: bool,
) -> CmdResult<usize> {
    if write(db, key)?.is_none() {
        if only_existing {
            return Ok(0);
        }
        db.set(key, Value::List(Box::default()));
    }
    let Some(list) = write(db, key)? else {
        return Ok(0);
    };
    for item in items {
        match end {
            End::Left => list.push_front(Str::new(item)),
            End::Right => list.push_back(Str::new(item)),
        }
    }
    Ok(list.len())
}

fn push_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> CmdResult<Reply> {
    let key = &args[1];
    let n = push_items(ctx.db(key)?, key, &args[2..], end, only_existing)?;
    if n > 0 {
        ctx.dirty((args.len() - 2) as u64);
    }
    Ok(Reply::Int(n as i64))
}

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push_cmd(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push_cmd(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push_cmd(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push_cmd(ctx, args, End::Right, true)
}

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let n = read(ctx.db(key)?, key)?.map_or(0, |l| l.len());
    Ok(Reply::Int(n as i64))
}

/// Resolves a possibly negative index against `len` (Redis: negative counts from the end).
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// The inclusive range `start..=stop` of LRANGE/LTRIM, clamped to `len`; `None` if empty.
fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

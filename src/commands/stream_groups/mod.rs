//! Stream consumer groups: XGROUP, XREADGROUP (and its BLOCK waiting rule), XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM, and XINFO GROUPS / CONSUMERS (the group parts of XINFO STREAM FULL are
//! built here too). This file holds XGROUP, XREADGROUP and the effects; `pending.rs` XACK,
//! XPENDING and the claims; `info.rs` XINFO.
//!
//! Invariant: every change to a group propagates commands that rebuild it exactly on a
//! follower or from the log. As Redis does, a delivery or claim propagates
//! `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`, which sets
//! the pending entry as it is here (or, for an entry no longer in the stream, drops it). Where
//! Redis 7.0 leaves a follower behind, luagate propagates more: `XGROUP SETID … ENTRIESREAD`
//! after a `>` read (Redis's XCLAIM carries no read counter), `XGROUP CREATECONSUMER` for any
//! consumer a read creates, and an XCLAIM for each history read (its delivery count grows).

use super::flags::*;
use super::streams::{
    entry_reply, get_stream, get_stream_mut, id_reply, parse_bound, parse_id, IdForm,
};
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::stream::{ConsumerGroup, StreamId};
use crate::keyspace::{Stream, Value};

mod info;
mod pending;

pub(super) use info::{full_groups, xinfo_consumers, xinfo_groups};
use pending::{xack, xautoclaim, xclaim, xpending};

const X: Group = Group::Stream;

pub const COMMANDS: &[Command] = &[
    Command::new("xgroup", -2, 0, X, container).subs(&[
        Command::new("create", -5, WRITE | DENYOOM, X, xgroup_create).keys(2, 2, 1),
        Command::new("setid", -5, WRITE, X, xgroup_setid).keys(2, 2, 1),
        Command::new("destroy", 4, WRITE, X, xgroup_destroy).keys(2, 2, 1),
        Command::new(
            "createconsumer",
            5,
            WRITE | DENYOOM,
            X,
            xgroup_createconsumer,
        )
        .keys(2, 2, 1),
        Command::new("delconsumer", 5, WRITE, X, xgroup_delconsumer).keys(2, 2, 1),
        Command::new("help", 2, LOADING | STALE, X, xgroup_help),
    ]),
    Command::new("xreadgroup", -7, WRITE | BLOCKING, X, xreadgroup).custom_keys(xreadgroup_keys),
    Command::new("xack", -4, WRITE | FAST, X, xack).keys(1, 1, 1),
    Command::new("xpending", -3, READONLY, X, xpending).keys(1, 1, 1),
    Command::new("xclaim", -6, WRITE | FAST, X, xclaim).keys(1, 1, 1),
    Command::new("xautoclaim", -6, WRITE | FAST, X, xautoclaim).keys(1, 1, 1),
];

/// Never runs: the dispatcher resolves XGROUP to a subcommand or reports it unknown.
fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Err(CommandError::err(format!(
        "ERR unknown subcommand '{}'. Try XGROUP HELP.",
        String::from_utf8_lossy(args.get(1).map_or(&b""[..], |a| &a[..]))
    )))
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// XGROUP's and XINFO CONSUMERS' missing group.
fn no_group_for_key(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::err(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// XPENDING's, XCLAIM's and XAUTOCLAIM's missing key or group.
fn no_key_or_group(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

fn subcommand_syntax(args: &[Bytes]) -> CommandError {
    CommandError::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        lossy(&args[1])
    ))
}

fn b(s: &'static str) -> Reply {
    Reply::bulk_str(s)
}

fn bulk(s: &Bytes) -> Reply {
    Reply::Bulk(s.clone())
}

fn opt_int<T: TryInto<i64>>(v: Option<T>) -> Reply {
    v.and_then(|n| n.try_into().ok())
        .map_or(Reply::Nil, Reply::Int)
}

fn arg(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The XCLAIM that sets pending entry `id` on a follower as it is here (Redis's form).
fn claim_effect(key: &Bytes, group: &Bytes, g: &ConsumerGroup, id: StreamId) -> Vec<Bytes> {
    let (consumer, time, count) = match g.pel.get(&id) {
        Some(p) => (p.consumer.clone(), p.delivery_time, p.delivery_count),
        None => (Bytes::new(), 0, 0),
    };
    vec![
        arg("XCLAIM"),
        key.clone(),
        group.clone(),
        consumer,
        arg("0"),
        arg(&id.to_string()),
        arg("TIME"),
        arg(&time.to_string()),
        arg("RETRYCOUNT"),
        arg(&count.to_string()),
        arg("FORCE"),
        arg("JUSTID"),
        arg("LASTID"),
        arg(&g.last_id.to_string()),
    ]
}

/// The XGROUP SETID that sets a follower's last id and read counter as they are here.
fn setid_effect(key: &Bytes, group: &Bytes, g: &ConsumerGroup) -> Vec<Bytes> {
    vec![
        arg("XGROUP"),
        arg("SETID"),
        key.clone(),
        group.clone(),
        arg(&g.last_id.to_string()),
        arg("ENTRIESREAD"),
        arg(&g.entries_read.map_or(-1, |n| n as i64).to_string()),
    ]
}

fn createconsumer_effect(key: &Bytes, group: &Bytes, consumer: &Bytes) -> Vec<Bytes> {
    vec![
        arg("XGROUP"),
        arg("CREATECONSUMER"),
        key.clone(),
        group.clone(),
        consumer.clone(),
    ]
}

/// Records `effects` as the command's effects and counts `dirty` changes. A command that
/// changed something always propagates something, so the command itself never is.
fn finish(ctx: &mut Ctx<'_>, effects: Vec<Vec<Bytes>>, dirty: u64) {
    if effects.is_empty() && dirty == 0 {
        return;
    }
    // The command itself is never the effect, even when there is none to record.
    ctx.custom_effect = true;
    for e in effects {
        ctx.propagate(e);
    }
    ctx.dirty(dirty.max(1));
}

// ---- XGROUP ----

const HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn xgroup_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::help(HELP))
}

fn key_must_exist() -> CommandError {
    CommandError::err(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    )
}

fn parse_entries_read(a: &[u8]) -> CmdResult<Option<u64>> {
    let n = int_arg(a)?;
    if n < -1 {
        return Err(CommandError::err(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(u64::try_from(n).ok())
}

/// The group id argument: `$` is the stream's last id (0-0 without a stream).
fn group_id(a: &[u8], s: Option<&Stream>) -> CmdResult<StreamId> {
    if a == b"$" {
        Ok(s.map_or(StreamId::MIN, |s| s.last_id))
    } else {
        Ok(parse_id(a, 0, IdForm::Strict)?.0)
    }
}

fn xgroup_create(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[2], &args[3]);
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "MKSTREAM") {
            mkstream = true;
        } else if is(&args[i], "ENTRIESREAD") && i + 1 < args.len() {
            i += 1;
            entries_read = parse_entries_read(&args[i])?;
        } else {
            return Err(subcommand_syntax(args));
        }
        i += 1;
    }
    let db = ctx.db(key)?;
    let exists = get_stream(db, key)?.is_some();
    if !exists && !mkstream {
        return Err(key_must_exist());
    }
    let id = group_id(&args[4], get_stream(db, key)?)?;
    if !exists {
        db.set(key, Value::Stream(Box::default()));
        // The one group change that modifies the keyspace (see `commands::call_from`).
        db.signal(key);
    }
    let s = get_stream_mut(db, key)?.ok_or_else(key_must_exist)?;
    if s.groups.contains_key(name) {
        return Err(CommandError::err(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    s.groups.insert(
        name.clone(),
        ConsumerGroup {
            last_id: id,
            entries_read,
            ..Default::default()
        },
    );
    ctx.dirty(1);
    Ok(Reply::ok())
}

fn xgroup_setid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[2], &args[3]);
    let entries_read = match args.len() {
        5 => None,
        7 if is(&args[5], "ENTRIESREAD") => parse_entries_read(&args[6])?,
        _ => return Err(subcommand_syntax(args)),
    };
    let db = ctx.db(key)?;
    let s = get_stream_mut(db, key)?.ok_or_else(key_must_exist)?;
    if !s.groups.contains_key(name) {
        return Err(no_group_for_key(key, name));
    }
    let id = group_id(&args[4], Some(s))?;
    if let Some(g) = s.groups.get_mut(name) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    ctx.dirty(1);
    Ok(Reply::ok())
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[2], &args[3]);
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or_else(key_must_exist)?;
    if s.groups.remove(name).is_some() {
        ctx.dirty(1);
        Ok(Reply::Int(1))
    } else {
        Ok(Reply::Int(0))
    }
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name, consumer) = (&args[2], &args[3], &args[4]);
    let now = ctx.now();
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or_else(key_must_exist)?;
    let g = s
        .groups
        .get_mut(name)
        .ok_or_else(|| no_group_for_key(key, name))?;
    let (_, created) = g.consumer(consumer, now);
    if created {
        ctx.dirty(1);
    }
    Ok(Reply::Int(i64::from(created)))
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name, consumer) = (&args[2], &args[3], &args[4]);
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or_else(key_must_exist)?;
    let g = s
        .groups
        .get_mut(name)
        .ok_or_else(|| no_group_for_key(key, name))?;
    let Some(c) = g.consumers.remove(consumer) else {
        return Ok(Reply::Int(0));
    };
    for id in &c.pel {
        g.pel.remove(id);
    }
    ctx.dirty(1);
    Ok(Reply::Int(c.pel.len() as i64))
}

// ---- XREADGROUP ----

/// XREADGROUP's keys, found as Redis 7.0's key spec finds them: after the first STREAMS from
/// argument 4 on (GROUP and its two names come first), half of the remaining arguments.
fn xreadgroup_keys(args: &[Bytes]) -> Vec<usize> {
    crate::commands::streams::keys_after_streams(args, 4)
}

/// XREADGROUP with only the streams at `keep` (and their ids).
fn xreadgroup_narrow(args: &[Bytes], keep: &[usize]) -> Vec<Bytes> {
    crate::commands::streams::narrow_streams(args, &xreadgroup_keys(args), keep)
}

fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let crate::commands::streams::ReadArgs {
        count,
        noack,
        group,
        streams_at: at,
    } = crate::commands::streams::read_args(ctx, args, true)?;
    let Some((gname, cname)) = group else {
        return Err(CommandError::err("ERR Missing GROUP option for XREADGROUP"));
    };
    let n = (args.len() - at) / 2;
    // None: `>` (new entries); Some(id): the consumer's pending entries after id.
    let mut from: Vec<Option<StreamId>> = Vec::with_capacity(n);
    for j in 0..n {
        let key = &args[at + j];
        let id_arg = &args[at + n + j];
        let has_group =
            get_stream(ctx.db(key)?, key)?.is_some_and(|s| s.groups.contains_key(gname));
        if !has_group {
            return Err(CommandError::err(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(gname)
            )));
        }
        if &id_arg[..] == b">" {
            from.push(None);
        } else if &id_arg[..] == b"$" {
            return Err(CommandError::err(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ));
        } else {
            from.push(Some(parse_id(id_arg, 0, IdForm::Strict)?.0));
        }
    }
    let now = ctx.now();
    let take = if count == 0 { usize::MAX } else { count };
    let mut out: Vec<(Reply, Reply)> = Vec::new();
    let mut effects = Vec::new();
    let mut dirty = 0u64;
    for (j, from) in from.into_iter().enumerate() {
        let key = &args[at + j];
        let Some(s) = get_stream_mut(ctx.db(key)?, key)? else {
            continue;
        };
        let Some(mut g) = s.groups.remove(gname) else {
            continue;
        };
        // A `>` read is served only if the last live entry is new to the group (Redis 7.0's
        // `streamLastValidID`); otherwise the stream is left out of the reply and, as in
        // Redis, the consumer is not even created.
        if from.is_none() && s.last_entry().is_none_or(|e| e.id <= g.last_id) {
            s.groups.insert(gname.clone(), g);
            continue;
        }
        let (c, created) = g.consumer(cname, now);
        c.seen_time = now;
        if created {
            effects.push(createconsumer_effect(key, gname, cname));
            dirty += 1;
        }
        let entries = match from {
            None => {
                let start = g.last_id.next().unwrap_or(StreamId::MAX);
                let mut entries = Vec::new();
                let mut ids = Vec::new();
                for e in s.range(start, StreamId::MAX).take(take) {
                    entries.push(entry_reply(e));
                    ids.push(e.id);
                }
                for &id in &ids {
                    if g.entries_read.is_some() && !s.has_tombstones_from(id) {
                        g.entries_read = g.entries_read.map(|n| n + 1);
                    } else if s.entries_added != 0 {
                        g.entries_read = s.estimate_entries_read(id);
                    }
                    g.last_id = id;
                    if !noack {
                        g.pend(id, cname, now, 1);
                    }
                }
                if !ids.is_empty() {
                    dirty += 1;
                    if !noack {
                        for &id in &ids {
                            effects.push(claim_effect(key, gname, &g, id));
                        }
                    }
                    effects.push(setid_effect(key, gname, &g));
                }
                entries
            }
            Some(after) => {
                let Some(start) = after.next() else {
                    s.groups.insert(gname.clone(), g);
                    out.push((bulk(key), Reply::Array(vec![])));
                    continue;
                };
                let ids: Vec<StreamId> = g.consumers[cname]
                    .pel
                    .range(start..)
                    .take(take)
                    .copied()
                    .collect();
                let mut entries = Vec::with_capacity(ids.len());
                for id in ids {
                    match s.get(id) {
                        Some(e) => {
                            entries.push(entry_reply(e));
                            if let Some(p) = g.pel.get_mut(&id) {
                                p.delivery_time = now;
                                p.delivery_count += 1;
                            }
                            effects.push(claim_effect(key, gname, &g, id));
                            dirty += 1;
                        }
                        None => entries.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
                    }
                }
                entries
            }
        };
        s.groups.insert(gname.clone(), g);
        out.push((bulk(key), Reply::Array(entries)));
    }
    finish(ctx, effects, dirty);
    Ok(crate::commands::streams::read_reply(ctx.resp, out))
}

// ---- XREADGROUP BLOCK ----

/// How XREADGROUP BLOCK waits (src/server/blocking.rs): as XREAD BLOCK, on its stream keys,
/// retried whenever one is written; a retry that finds new entries serves. Readers are not
/// queued oldest first (stream waiters never are), so when one XADD wakes several readers of
/// one group, whichever retry runs first gets the entries; the others wait on.
pub static BLOCK_SPECS: &[(&str, crate::server::blocking::BlockSpec)] = &[(
    "xreadgroup",
    crate::server::blocking::BlockSpec {
        parse: xreadgroup_block_timeout,
        sources: xreadgroup_keys,
        narrow: xreadgroup_narrow,
        kind: "stream",
        not_served: Reply::NilArray,
        timed_out: Reply::NilArray,
        gone: Some(xreadgroup_gone),
    },
)];

/// Ends a wait whose stream or group has gone, with Redis 7.0's errors.
fn xreadgroup_gone(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Option<String> {
    let group = args
        .iter()
        .position(|a| is(a, "GROUP"))
        .and_then(|i| args.get(i + 1))?;
    for i in xreadgroup_keys(args) {
        let key = &args[i];
        let db = ctx.db(key).ok()?;
        let has_group = db.peek(key).map(|e| match &e.value {
            Value::Stream(s) => Some(s.groups.contains_key(group)),
            _ => None,
        });
        match has_group {
            Some(Some(false)) => {
                return Some(
                    "NOGROUP the consumer group this client was blocked on no longer exists".into(),
                )
            }
            Some(Some(true)) => {}
            _ => return Some("UNBLOCKED the stream key no longer exists".into()),
        }
    }
    None
}

/// The BLOCK timeout in milliseconds (0: forever). Without BLOCK, or with options it cannot
/// read, an error here: the command then runs once and answers for itself.
fn xreadgroup_block_timeout(args: &[Bytes]) -> CmdResult<u64> {
    let mut timeout = None;
    let mut i = 1;
    while i < args.len() {
        if is(&args[i], "BLOCK") && i + 1 < args.len() {
            timeout = parse_i64(&args[i + 1]).and_then(|t| u64::try_from(t).ok());
            if timeout.is_none() {
                return Err(CommandError::Syntax);
            }
            i += 2;
        } else if is(&args[i], "COUNT") {
            i += 2;
        } else if is(&args[i], "GROUP") {
            i += 3;
        } else if is(&args[i], "NOACK") {
            i += 1;
        } else if is(&args[i], "STREAMS") {
            break;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    timeout.ok_or(CommandError::Syntax)
}

//! Keyspace notifications (`notify-keyspace-events`): the flags, their parsing and canonical
//! form, and the events each command publishes.
//!
//! Events are collected while a command runs (`Ctx::events`) and handed to the Pub/Sub
//! registry when it ends (`flush`), in Redis's order: keys the command found expired first
//! (`expired`), then, per key, `new` when the command created it, then the command's events.
//! A script run that may be abandoned (its unit does not hold every shard) keeps its events
//! until it ends, as it keeps PUBLISH (see `scripting/run.rs`).
//!
//! Cost when notifications are off: one relaxed load per command (`Server::notify_flags`).

use super::ctx::Ctx;
use super::table::Group;
use super::CmdRef;
use crate::keyspace::Value;
use crate::protocol::Reply;
use bytes::Bytes;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 12; // d
pub const NEW: u32 = 1 << 13; // n
/// `A`: every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a flags string as CONFIG SET does; `None` for a character outside `Ag$lshzxeKEtmdn`.
pub fn parse(s: &[u8]) -> Option<u32> {
    let mut f = 0;
    for c in s {
        f |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// The canonical form CONFIG GET shows (classes, then K, E and m). As Redis 7.0, `A` hides
/// `n` (which stays set).
pub fn to_string(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The flags as stored: notifications are on only with K or E and some class.
pub fn effective(f: u32) -> u32 {
    if f & (KEYSPACE | KEYEVENT) == 0 || f & !(KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        f
    }
}

/// One event waiting to be published.
#[derive(Clone, Debug)]
pub struct KeyEvent {
    pub db: u16,
    pub class: u32,
    pub name: &'static str,
    pub key: Bytes,
}

/// Publishes one event on `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`, as `flags`
/// select.
pub fn publish(server: &crate::server::Server, flags: u32, e: &KeyEvent) {
    if flags & e.class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut ch = Vec::with_capacity(16 + e.key.len());
        ch.extend_from_slice(format!("__keyspace@{}__:", e.db).as_bytes());
        ch.extend_from_slice(&e.key);
        server.pubsub.publish(
            &Bytes::from(ch),
            &Bytes::from_static(e.name.as_bytes()),
            false,
        );
    }
    if flags & KEYEVENT != 0 {
        let ch = Bytes::from(format!("__keyevent@{}__:{}", e.db, e.name));
        server.pubsub.publish(&ch, &e.key, false);
    }
}

/// What a command needs checked before it runs, when notifications are on.
pub(crate) struct Before {
    flags: u32,
    /// Per key index of the command: whether the key existed (for `new` and DEL).
    existed: Vec<(usize, bool)>,
    /// Expired keys already noted in the current db of each held shard.
    expired_marks: Vec<usize>,
    /// Per key index of a stream command: the stream's length and number of consumers.
    streams: Vec<(usize, Option<(u64, usize)>)>,
}

/// A stream's length and its consumers over all groups (`None`: no stream there).
fn stream_stat(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<(u64, usize)> {
    match ctx.db(key).ok()?.keys.get(key)? {
        Value::Stream(s) => Some((s.len(), s.groups.values().map(|g| g.consumers.len()).sum())),
        _ => None,
    }
}

pub(crate) fn before(ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes], flags: u32) -> Before {
    let db = ctx.db;
    let mut expired_marks = Vec::new();
    for s in ctx.held.iter() {
        match s {
            Some(d) => {
                expired_marks.push(d.dbs[db].expired.len());
            }
            None => expired_marks.push(0),
        }
    }
    // A write looks its keys up first, as Redis's `lookupKeyWrite` does: one that has expired
    // goes now (its `expired` event before the command's), and whether each existed is noted
    // for `new` and DEL.
    let mut existed = Vec::new();
    if cmd.cmd.has(super::table::flags::WRITE) {
        for i in cmd.cmd.key_indices(args) {
            let there = match ctx.db(&args[i]) {
                // A follower keeps expired keys until its leader's DEL, which must then
                // publish `del` as a Redis replica does.
                Ok(db) if db.passive_expiry => db.keys.contains_key(&args[i]),
                Ok(db) => db.contains(&args[i]),
                Err(_) => false,
            };
            existed.push((i, there));
        }
    }
    let mut streams = Vec::new();
    if cmd.cmd.group == Group::Stream && cmd.cmd.may_write() {
        for i in cmd.cmd.key_indices(args) {
            let st = stream_stat(ctx, &args[i]);
            streams.push((i, st));
        }
    }
    Before {
        flags,
        existed,
        streams,
        expired_marks,
    }
}

/// Whether `key` exists in the current db after the command (no expiry applied: fresh).
fn exists(ctx: &mut Ctx<'_>, key: &[u8]) -> bool {
    match ctx.db(key) {
        Ok(db) => db.keys.contains_key(key),
        Err(_) => false,
    }
}

/// Collects the command's events after it ran, then publishes (or defers) them.
pub(crate) fn after(
    ctx: &mut Ctx<'_>,
    cmd: CmdRef,
    args: &[Bytes],
    b: Before,
    wrote: bool,
    result: &crate::error::CmdResult<Reply>,
) {
    let reply = result.as_ref().ok();
    let ok = reply.is_some_and(|r| !matches!(r, Reply::Error(_)));
    let db = ctx.db;
    let mut out: Vec<KeyEvent> = Vec::new();
    // Keys found expired while the command ran.
    for (s, mark) in b.expired_marks.iter().enumerate() {
        if let Some(Some(d)) = ctx.held.get(s) {
            for k in d.dbs[db].expired.iter().skip(*mark) {
                out.push(KeyEvent {
                    db: db as u16,
                    class: EXPIRED,
                    name: "expired",
                    key: k.to_bytes(),
                });
            }
        }
    }
    // A read publishes `keymiss` for each key it did not find, in order; so does a write for
    // the keys it reads (a store's sources, COPY's source …; OBJECT's lookups are silent, as
    // Redis's, and so are MEMORY USAGE's).
    let write = cmd.cmd.has(super::table::flags::WRITE);
    let looked: Option<Vec<usize>> = if b.flags & KEY_MISS == 0 {
        None
    } else if !write {
        match cmd.cmd.name {
            "encoding" | "freq" | "idletime" | "refcount" | "usage" => None,
            // XREAD looks its streams up twice (their ids, then their entries).
            "xread" => {
                let keys: Vec<usize> = cmd.cmd.key_indices(args).collect();
                Some(keys.iter().chain(keys.iter()).copied().collect())
            }
            _ => Some(cmd.cmd.key_indices(args).collect()),
        }
    } else {
        let keys = || cmd.cmd.key_indices(args);
        match cmd.cmd.name {
            "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore"
            | "zdiffstore" => Some(keys().filter(|&i| i != 1).collect()),
            "bitop" => Some(keys().filter(|&i| i != 2).collect()),
            "geosearchstore" | "zrangestore" => Some(vec![2]),
            "sort" | "copy" | "getex" | "getdel" | "getset" | "georadius" | "georadiusbymember" => {
                Some(vec![1])
            }
            "set" if has_arg(args, 3, &["get"]) => Some(vec![1]),
            // A BITFIELD of GETs only reads its key.
            "bitfield" if !has_arg(args, 2, &["set", "incrby"]) => Some(vec![1]),
            "pfmerge" => Some(keys().collect()),
            _ => None,
        }
    };
    if let Some(looked) = looked {
        // A failed command looked its keys up until the one of the wrong type; other errors
        // come before any lookup.
        let line = match result {
            Ok(Reply::Error(e)) => Some(e.clone()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        let wrong_type = match line {
            Some(e) if e.starts_with("WRONGTYPE") => true,
            // XINFO STREAM and the like: the lookup missed, then the error.
            Some(e) if e == "ERR no such key" => false,
            Some(_) => return publish_or_defer(ctx, b.flags, out),
            None => false,
        };
        let expected = match cmd.cmd.group {
            Group::Set => "set",
            Group::List => "list",
            Group::Hash => "hash",
            Group::SortedSet | Group::Geo => "zset",
            Group::Stream => "stream",
            Group::String | Group::Bitmap | Group::HyperLogLog => "string",
            _ if wrong_type => return publish_or_defer(ctx, b.flags, out),
            _ => "",
        };
        for i in looked {
            let t = match ctx.db(&args[i]) {
                Ok(d) => d.keys.get(&args[i]).map(|v| v.type_name()),
                Err(_) => None,
            };
            // A write's keys may exist by now (PFMERGE's destination): as they were before.
            let missing = if write {
                b.existed.iter().any(|&(j, e)| j == i && !e)
            } else {
                t.is_none()
            };
            if missing {
                out.push(ev(db, KEY_MISS, "keymiss", &args[i]));
            } else if wrong_type && t.is_some_and(|t| t != expected) {
                break;
            }
        }
    }
    // LTRIM publishes even when it removed nothing, as Redis's does.
    let always = cmd.cmd.name == "ltrim" && b.existed.first().is_some_and(|e| e.1);
    if (wrote || always) && ok {
        let mut evs = Vec::new();
        command_events(ctx, cmd, args, &b, reply, &mut evs);
        // `new` goes right before the first event of a key the command created.
        if b.flags & NEW != 0 && !evs.iter().any(|e| e.class == NEW) {
            let mut done: Vec<usize> = Vec::new();
            for e in evs {
                if e.name != "del" && e.class != NEW {
                    if let Some(&(i, false)) = b.existed.iter().find(|(i, _)| args[*i] == e.key) {
                        if !done.contains(&i) && e.db as usize == db && exists(ctx, &e.key) {
                            done.push(i);
                            out.push(ev(db, NEW, "new", &e.key));
                        }
                    }
                }
                out.push(e);
            }
        } else {
            out.extend(evs);
        }
    }
    publish_or_defer(ctx, b.flags, out);
}

fn publish_or_defer(ctx: &mut Ctx<'_>, flags: u32, out: Vec<KeyEvent>) {
    if out.is_empty() {
        return;
    }
    match ctx.events.as_mut() {
        Some(deferred) => deferred.extend(out),
        None => {
            for e in &out {
                publish(ctx.server, flags, e);
            }
        }
    }
}

fn ev(db: usize, class: u32, name: &'static str, key: &Bytes) -> KeyEvent {
    KeyEvent {
        db: db as u16,
        class,
        name,
        key: key.clone(),
    }
}

fn has_arg(args: &[Bytes], from: usize, names: &[&str]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| names.iter().any(|n| a.eq_ignore_ascii_case(n.as_bytes())))
}

/// The events of a command that changed the data, in Redis's order.
fn command_events(
    ctx: &mut Ctx<'_>,
    cmd: CmdRef,
    args: &[Bytes],
    b: &Before,
    reply: Option<&Reply>,
    out: &mut Vec<KeyEvent>,
) {
    let db = ctx.db;
    // The key a multi-key pop served from: the first element of its reply.
    let popped = || match reply {
        Some(Reply::Array(items)) => match items.first() {
            Some(Reply::Bulk(k)) => Some(k.clone()),
            _ => None,
        },
        _ => None,
    };
    let existed = |i: usize| b.existed.iter().any(|&(j, e)| j == i && e);
    let stream_before = |i: usize| {
        b.streams
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, s)| *s)
    };
    let left = |from: usize| {
        args.iter()
            .skip(from)
            .find(|a| a.eq_ignore_ascii_case(b"left") || a.eq_ignore_ascii_case(b"right"))
            .is_some_and(|a| a.eq_ignore_ascii_case(b"left"))
    };
    let min = |from: usize| {
        args.iter()
            .skip(from)
            .find(|a| a.eq_ignore_ascii_case(b"min") || a.eq_ignore_ascii_case(b"max"))
            .is_some_and(|a| a.eq_ignore_ascii_case(b"min"))
    };
    let k1 = || args.get(1).cloned().unwrap_or_default();
    let one = |out: &mut Vec<KeyEvent>, class, name| out.push(ev(db, class, name, &k1()));
    // A removal that may leave the key empty: its event, then `del` if it went.
    macro_rules! emptying {
        ($class:expr, $name:expr, $key:expr) => {{
            let key: Bytes = $key;
            out.push(ev(db, $class, $name, &key));
            if !exists(ctx, &key) {
                out.push(ev(db, GENERIC, "del", &key));
            }
        }};
    }
    // A store into the key at index `$i`: its event on the destination, or `del` when the
    // result was empty and the destination existed.
    macro_rules! store {
        ($class:expr, $name:expr, $i:expr) => {{
            let key: Bytes = args[$i].clone();
            if exists(ctx, &key) {
                out.push(ev(db, $class, $name, &key));
            } else if existed($i) {
                out.push(ev(db, GENERIC, "del", &key));
            }
        }};
    }
    match cmd.cmd.name {
        // Strings.
        "set" => {
            one(out, STRING, "set");
            if has_arg(args, 3, &["ex", "px", "exat", "pxat"]) {
                one(out, GENERIC, "expire");
            }
        }
        "setex" | "psetex" => {
            one(out, STRING, "set");
            one(out, GENERIC, "expire");
        }
        "setnx" | "getset" => one(out, STRING, "set"),
        "mset" | "msetnx" => {
            for k in args[1..].iter().step_by(2) {
                out.push(ev(db, STRING, "set", k));
            }
        }
        "append" => one(out, STRING, "append"),
        "setrange" => one(out, STRING, "setrange"),
        // Redis 7.0 names DECR's event `incrby` too.
        "incr" | "incrby" | "decr" | "decrby" => one(out, STRING, "incrby"),
        "incrbyfloat" => one(out, STRING, "incrbyfloat"),
        "getdel" => one(out, GENERIC, "del"),
        "getex" => {
            if !exists(ctx, &k1()) {
                one(out, GENERIC, "del");
            } else if has_arg(args, 2, &["persist"]) {
                one(out, GENERIC, "persist");
            } else {
                one(out, GENERIC, "expire");
            }
        }
        "setbit" | "bitfield" => one(out, STRING, "setbit"),
        "bitop" => store!(STRING, "set", 2),
        // Keys.
        "del" | "unlink" => {
            for (i, there) in &b.existed {
                if *there {
                    out.push(ev(db, GENERIC, "del", &args[*i]));
                }
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            if exists(ctx, &k1()) {
                one(out, GENERIC, "expire");
            } else {
                one(out, GENERIC, "del");
            }
        }
        "persist" => one(out, GENERIC, "persist"),
        // An already expired RESTORE … REPLACE only deleted the key it replaced.
        "restore" | "restore-asking" => {
            if exists(ctx, &k1()) {
                one(out, GENERIC, "restore");
            } else {
                one(out, GENERIC, "del");
            }
        }
        "copy" => {
            // COPY … DB n writes another database.
            let mut to = db;
            let mut i = 3;
            while i + 1 < args.len() {
                if args[i].eq_ignore_ascii_case(b"db") {
                    to = std::str::from_utf8(&args[i + 1])
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(db);
                }
                i += 1;
            }
            out.push(ev(to, NEW, "new", &args[2]));
            out.push(ev(to, GENERIC, "copy_to", &args[2]));
        }
        "move" => {
            if let Some(to) = std::str::from_utf8(&args[2])
                .ok()
                .and_then(|v| v.parse().ok())
            {
                out.push(ev(to, NEW, "new", &args[1]));
                one(out, GENERIC, "move_from");
                out.push(ev(to, GENERIC, "move_to", &args[1]));
            }
        }
        "sort" => {
            if let Some(i) = args.iter().position(|a| a.eq_ignore_ascii_case(b"store")) {
                if let Some(dst) = args.get(i + 1) {
                    if exists(ctx, dst) {
                        out.push(ev(db, LIST, "sortstore", dst));
                    } else if b.existed.iter().any(|&(j, e)| e && args[j] == *dst) {
                        out.push(ev(db, GENERIC, "del", dst));
                    }
                }
            }
        }
        // These add their destination afresh even over an existing key: `new` comes first.
        "rename" | "renamenx" if args[1] != args[2] => {
            out.push(ev(db, NEW, "new", &args[2]));
            one(out, GENERIC, "rename_from");
            out.push(ev(db, GENERIC, "rename_to", &args[2]));
        }
        // Lists.
        "lpush" | "lpushx" => one(out, LIST, "lpush"),
        "rpush" | "rpushx" => one(out, LIST, "rpush"),
        "lpop" => emptying!(LIST, "lpop", k1()),
        "rpop" => emptying!(LIST, "rpop", k1()),
        "linsert" => one(out, LIST, "linsert"),
        "blpop" | "brpop" | "lmpop" | "blmpop" => {
            if let Some(k) = popped() {
                let l = match cmd.cmd.name {
                    "blpop" => true,
                    "brpop" => false,
                    _ => left(2),
                };
                emptying!(LIST, if l { "lpop" } else { "rpop" }, k);
            }
        }
        "bzpopmin" | "bzpopmax" | "zmpop" | "bzmpop" => {
            if let Some(k) = popped() {
                let m = match cmd.cmd.name {
                    "bzpopmin" => true,
                    "bzpopmax" => false,
                    _ => min(2),
                };
                emptying!(ZSET, if m { "zpopmin" } else { "zpopmax" }, k);
            }
        }
        "lset" => one(out, LIST, "lset"),
        "ltrim" => emptying!(LIST, "ltrim", k1()),
        "lrem" => emptying!(LIST, "lrem", k1()),
        "rpoplpush" | "brpoplpush" | "lmove" | "blmove" => {
            let (from, to) = if cmd.cmd.name.ends_with("rpoplpush") {
                (false, true)
            } else {
                (
                    args[3].eq_ignore_ascii_case(b"left"),
                    args[4].eq_ignore_ascii_case(b"left"),
                )
            };
            // As Redis: the push's event first, then the pop's (and `del` if emptied).
            out.push(ev(db, LIST, if to { "lpush" } else { "rpush" }, &args[2]));
            out.push(ev(db, LIST, if from { "lpop" } else { "rpop" }, &args[1]));
            if !exists(ctx, &args[1]) {
                out.push(ev(db, GENERIC, "del", &args[1]));
            }
        }
        // Hashes.
        "hset" | "hmset" | "hsetnx" => one(out, HASH, "hset"),
        "hdel" => emptying!(HASH, "hdel", k1()),
        "hincrby" => one(out, HASH, "hincrby"),
        "hincrbyfloat" => one(out, HASH, "hincrbyfloat"),
        // Sets.
        "sadd" => one(out, SET, "sadd"),
        "srem" => emptying!(SET, "srem", k1()),
        "spop" => emptying!(SET, "spop", k1()),
        "smove" => {
            emptying!(SET, "srem", args[1].clone());
            out.push(ev(db, SET, "sadd", &args[2]));
        }
        "sinterstore" => store!(SET, "sinterstore", 1),
        "sunionstore" => store!(SET, "sunionstore", 1),
        "sdiffstore" => store!(SET, "sdiffstore", 1),
        // Sorted sets.
        "zadd" => {
            if has_arg(args, 2, &["incr"]) {
                one(out, ZSET, "zincr");
            } else {
                one(out, ZSET, "zadd");
            }
        }
        "zincrby" => one(out, ZSET, "zincr"),
        "zrem" => emptying!(ZSET, "zrem", k1()),
        "zremrangebyscore" => emptying!(ZSET, "zremrangebyscore", k1()),
        "zremrangebyrank" => emptying!(ZSET, "zremrangebyrank", k1()),
        "zremrangebylex" => emptying!(ZSET, "zremrangebylex", k1()),
        "zpopmin" => emptying!(ZSET, "zpopmin", k1()),
        "zpopmax" => emptying!(ZSET, "zpopmax", k1()),
        "zunionstore" => store!(ZSET, "zunionstore", 1),
        "zinterstore" => store!(ZSET, "zinterstore", 1),
        "zdiffstore" => store!(ZSET, "zdiffstore", 1),
        "zrangestore" => store!(ZSET, "zrangestore", 1),
        // Geo (GEOADD is ZADD underneath).
        "geoadd" => one(out, ZSET, "zadd"),
        "geosearchstore" => store!(ZSET, "geosearchstore", 1),
        "georadius" | "georadiusbymember" => {
            let at = args.iter().rposition(|a| {
                a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist")
            });
            if let Some(i) = at.filter(|i| i + 1 < args.len()) {
                store!(ZSET, "georadiusstore", i + 1);
            }
        }
        // HyperLogLog.
        "pfadd" => one(out, STRING, "pfadd"),
        "pfmerge" => one(out, STRING, "pfadd"),
        // Streams.
        "xadd" => {
            one(out, STREAM, "xadd");
            let trimmed = match (stream_before(1), stream_stat(ctx, &args[1])) {
                (Some((n, _)), Some((m, _))) => m <= n,
                (None, Some((m, _))) => m == 0,
                _ => false,
            };
            if trimmed && has_arg(args, 2, &["maxlen", "minid"]) {
                one(out, STREAM, "xtrim");
            }
        }
        "xtrim" => {
            if let (Some((n, _)), Some((m, _))) = (stream_before(1), stream_stat(ctx, &args[1])) {
                if m < n {
                    one(out, STREAM, "xtrim");
                }
            }
        }
        "xdel" => one(out, STREAM, "xdel"),
        "xsetid" => one(out, STREAM, "xsetid"),
        "create" | "setid" | "destroy" | "createconsumer" | "delconsumer"
            if cmd.cmd.group == Group::Stream =>
        {
            let name = match cmd.cmd.name {
                "create" => "xgroup-create",
                "setid" => "xgroup-setid",
                "destroy" => "xgroup-destroy",
                "createconsumer" => "xgroup-createconsumer",
                _ => "xgroup-delconsumer",
            };
            out.push(ev(db, STREAM, name, &args[2]));
        }
        "xreadgroup" | "xclaim" | "xautoclaim" => {
            for &(i, before) in &b.streams {
                let was = before.map_or(0, |(_, c)| c);
                if stream_stat(ctx, &args[i]).is_some_and(|(_, c)| c > was) {
                    out.push(ev(db, STREAM, "xgroup-createconsumer", &args[i]));
                }
            }
        }
        // Everything else publishes nothing yet (README: Known gaps).
        _ => {}
    }
}

/// Publishes events kept back by a unit that could have been abandoned.
pub fn publish_all(server: &crate::server::Server, events: Vec<KeyEvent>) {
    let flags = server.notify_flags();
    for e in &events {
        publish(server, flags, e);
    }
}

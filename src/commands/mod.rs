//! The command table and the execution context commands run in.
//!
//! Each family file (`strings.rs`, `keys.rs`, …) exports `COMMANDS`, a table of [`Command`]s:
//! name, arity, flags, key positions, and how it runs. A shard command is a plain function
//! `fn(&mut Ctx, &[Bytes]) -> CmdResult<Reply>`: it parses its arguments (rejecting leftovers),
//! executes against the shards the context holds, and returns a `Reply`. No I/O, no await.
//!
//! Architecture Invariant: commands never see sockets or channels. The router decides which
//! shards a command needs from the table alone (key positions), before it runs.

pub mod args;
pub mod bitfield;
pub mod bits;
pub mod coll_scan;
pub mod counters;
pub mod ctx;
pub mod dump;
pub mod expire;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod keyspace_cmds;
pub mod lcs;
pub mod lists;
pub mod longdouble;
pub mod memory;
pub mod notify;
pub mod object;
pub mod pick;
pub mod ranges;
pub mod setops;
pub mod sets;
pub mod sort;
pub mod stream_groups;
pub mod streams;
pub mod strings;
pub mod table;
pub mod zsets;

pub use args::*;
pub use ctx::{Ctx, Effect};
pub use table::*;

use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;
use std::time::Instant;

/// Every family's table, in COMMAND LIST order.
pub fn families() -> Vec<&'static [Command]> {
    vec![
        strings::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        setops::COMMANDS,
        bits::COMMANDS,
        bitfield::COMMANDS,
        lcs::COMMANDS,
        expire::COMMANDS,
        keyspace_cmds::COMMANDS,
        sort::COMMANDS,
        object::COMMANDS,
        memory::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        streams::COMMANDS,
        stream_groups::COMMANDS,
        hyperloglog::COMMANDS,
        server_side::COMMANDS,
        scripting_cmds::COMMANDS,
        pubsub_cmds::COMMANDS,
        crate::replication::cmds::COMMANDS,
        cluster_cmds::COMMANDS,
    ]
}

/// Pub/Sub (answered by the connection layer: `server::pubsub_cmds`), with Redis 7.0's
/// flags, arities and key specs.
pub mod pubsub_cmds {
    use super::flags::*;
    use super::*;
    const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
    const INTROSPECT: u32 = PUBSUB | LOADING | STALE;
    pub const COMMANDS: &[Command] = &[
        Command::conn("subscribe", -2, SUB, Group::PubSub),
        Command::conn("unsubscribe", -1, SUB, Group::PubSub),
        Command::conn("psubscribe", -2, SUB, Group::PubSub),
        Command::conn("punsubscribe", -1, SUB, Group::PubSub),
        Command::conn("ssubscribe", -2, SUB, Group::PubSub).not_keys(1, -1),
        Command::conn("sunsubscribe", -1, SUB, Group::PubSub).not_keys(1, -1),
        Command::conn(
            "publish",
            3,
            PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
            Group::PubSub,
        ),
        Command::conn(
            "spublish",
            3,
            PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
            Group::PubSub,
        )
        .not_keys(1, 1),
        Command::conn("pubsub", -2, 0, Group::PubSub).subs(&[
            Command::conn("channels", -2, INTROSPECT, Group::PubSub),
            Command::conn("numpat", 2, INTROSPECT, Group::PubSub),
            Command::conn("numsub", -2, INTROSPECT, Group::PubSub),
            Command::conn("shardchannels", -2, INTROSPECT, Group::PubSub),
            Command::conn("shardnumsub", -2, INTROSPECT, Group::PubSub),
            Command::conn("help", 2, LOADING | STALE, Group::PubSub),
        ]),
    ];
}

/// CLUSTER, READONLY, READWRITE and ASKING (answered by `cluster::cmds`), with Redis 7.0's
/// arities and flags. The subcommands that change a Redis Cluster's topology are listed so
/// clients see the whole command; luagate refuses them (its topology is configured).
pub mod cluster_cmds {
    use super::flags::*;
    use super::*;
    const READ: u32 = STALE;
    const TOPOLOGY: u32 = ADMIN | STALE;
    const C: Group = Group::Cluster;
    pub const COMMANDS: &[Command] = &[
        Command::conn("cluster", -2, 0, C).subs(&[
            Command::conn("info", 2, READ, C),
            Command::conn("myid", 2, READ, C),
            Command::conn("nodes", 2, READ, C),
            Command::conn("slots", 2, READ, C),
            Command::conn("shards", 2, READ, C),
            Command::conn("links", 2, READ, C),
            Command::conn("keyslot", 3, READ, C),
            Command::conn("countkeysinslot", 3, READ, C),
            Command::conn("getkeysinslot", 4, READ, C),
            Command::conn("replicas", 3, ADMIN | STALE, C),
            Command::conn("slaves", 3, ADMIN | STALE, C),
            Command::conn("count-failure-reports", 3, ADMIN | STALE, C),
            // luagate's own: a Pub/Sub message passed on by another node (`cluster::bus`).
            Command::conn("publish", 4, ADMIN | PUBSUB | LOADING | STALE | FAST, C),
            Command::conn("spublish", 4, ADMIN | PUBSUB | LOADING | STALE | FAST, C),
            Command::conn("help", 2, LOADING | STALE, C),
            Command::conn("meet", -4, TOPOLOGY, C),
            Command::conn("addslots", -3, TOPOLOGY, C),
            Command::conn("addslotsrange", -4, TOPOLOGY, C),
            Command::conn("delslots", -3, TOPOLOGY, C),
            Command::conn("delslotsrange", -4, TOPOLOGY, C),
            Command::conn("flushslots", 2, TOPOLOGY, C),
            Command::conn("setslot", -4, TOPOLOGY, C),
            Command::conn("forget", 3, TOPOLOGY, C),
            Command::conn("replicate", 3, TOPOLOGY, C),
            Command::conn("failover", -2, TOPOLOGY, C),
            Command::conn("reset", -2, TOPOLOGY | NOSCRIPT, C),
            Command::conn("saveconfig", 2, TOPOLOGY, C),
            Command::conn("bumpepoch", 2, TOPOLOGY, C),
            Command::conn("set-config-epoch", 3, TOPOLOGY, C),
        ]),
        Command::conn("readonly", 1, FAST | LOADING | STALE, C),
        Command::conn("readwrite", 1, FAST | LOADING | STALE, C),
        Command::conn("asking", 1, FAST, C),
    ];
}

/// Commands answered by the connection layer (they need per-client state or send units of
/// their own); listed here so COMMAND, arity checks and ACL categories know them.
pub mod server_side {
    use super::flags::*;
    use super::*;
    /// The flags of CLIENT subcommands: those Redis marks admin, and the others.
    const CLIENT_ADMIN: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
    const CLIENT_SELF: u32 = NOSCRIPT | LOADING | STALE;
    const ACL_ADMIN: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
    const LATENCY_ADMIN: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
    pub const COMMANDS: &[Command] = &[
        Command::conn("ping", -1, FAST | STALE | LOADING, Group::Connection),
        Command::conn("echo", 2, FAST | STALE | LOADING, Group::Connection),
        Command::conn(
            "hello",
            -1,
            FAST | STALE | LOADING | NO_AUTH | NOSCRIPT,
            Group::Connection,
        ),
        Command::conn(
            "auth",
            -2,
            FAST | STALE | LOADING | NO_AUTH | NOSCRIPT,
            Group::Connection,
        ),
        Command::conn("select", 2, FAST | STALE | LOADING, Group::Connection),
        Command::conn(
            "quit",
            -1,
            FAST | STALE | LOADING | NO_AUTH | NOSCRIPT,
            Group::Connection,
        ),
        Command::conn(
            "reset",
            1,
            FAST | STALE | LOADING | NO_AUTH | NOSCRIPT,
            Group::Connection,
        ),
        Command::conn("client", -2, 0, Group::Connection).subs(&[
            Command::conn("id", 2, CLIENT_SELF, Group::Connection),
            Command::conn("setname", 3, CLIENT_SELF, Group::Connection),
            Command::conn("getname", 2, CLIENT_SELF, Group::Connection),
            Command::conn("setinfo", 4, CLIENT_SELF, Group::Connection),
            Command::conn("list", -2, CLIENT_ADMIN, Group::Connection),
            Command::conn("info", 2, CLIENT_SELF, Group::Connection),
            Command::conn("kill", -3, CLIENT_ADMIN, Group::Connection),
            Command::conn("unblock", -3, CLIENT_ADMIN, Group::Connection),
            Command::conn("no-evict", 3, CLIENT_ADMIN, Group::Connection),
            Command::conn("getredir", 2, CLIENT_SELF, Group::Connection),
            Command::conn("reply", 3, CLIENT_SELF, Group::Connection),
            Command::conn("pause", -3, CLIENT_ADMIN, Group::Connection),
            Command::conn("unpause", 2, CLIENT_ADMIN, Group::Connection),
            Command::conn("trackinginfo", 2, CLIENT_SELF, Group::Connection),
            Command::conn("tracking", -3, CLIENT_SELF, Group::Connection),
            Command::conn("caching", 3, CLIENT_SELF, Group::Connection),
            Command::conn("no-touch", 3, CLIENT_SELF, Group::Connection),
            Command::conn("help", 2, LOADING | STALE, Group::Connection),
        ]),
        Command::conn("command", -1, STALE | LOADING, Group::Server).subs(&[
            Command::conn("count", 2, LOADING | STALE, Group::Server),
            Command::conn("list", -2, LOADING | STALE, Group::Server),
            Command::conn("info", -2, LOADING | STALE, Group::Server),
            Command::conn("docs", -2, LOADING | STALE, Group::Server),
            Command::conn("getkeys", -4, LOADING | STALE, Group::Server),
            Command::conn("getkeysandflags", -4, LOADING | STALE, Group::Server),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
        ]),
        Command::conn("time", 1, FAST | STALE | LOADING, Group::Server),
        Command::conn("lolwut", -1, READONLY | FAST, Group::Server),
        // The exchange with the target runs in a unit (src/server/migrate.rs).
        Command::conn("migrate", -6, WRITE, Group::Generic)
            .custom_keys(crate::server::migrate::keys),
        Command::conn(
            "monitor",
            1,
            ADMIN | NOSCRIPT | LOADING | STALE,
            Group::Server,
        ),
        // No modules are ever loaded (src/server/admin).
        Command::conn("module", -2, 0, Group::Server).subs(&[
            Command::conn("list", 2, ADMIN | NOSCRIPT, Group::Server),
            Command::conn("load", -3, ADMIN | NOSCRIPT, Group::Server),
            Command::conn("loadex", -3, ADMIN | NOSCRIPT, Group::Server),
            Command::conn("unload", 3, ADMIN | NOSCRIPT, Group::Server),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
        ]),
        // ACL for the one user, `default` (src/server/acl.rs).
        Command::conn("acl", -2, 0, Group::Server).subs(&[
            Command::conn("cat", -2, NOSCRIPT | LOADING | STALE, Group::Server),
            Command::conn("deluser", -3, ACL_ADMIN, Group::Server),
            Command::conn("dryrun", -4, ACL_ADMIN, Group::Server),
            Command::conn("genpass", -2, NOSCRIPT | LOADING | STALE, Group::Server),
            Command::conn("getuser", 3, ACL_ADMIN, Group::Server),
            Command::conn("list", 2, ACL_ADMIN, Group::Server),
            Command::conn("load", 2, ACL_ADMIN, Group::Server),
            Command::conn("log", -2, ACL_ADMIN, Group::Server),
            Command::conn("save", 2, ACL_ADMIN, Group::Server),
            Command::conn("setuser", -3, ACL_ADMIN, Group::Server),
            Command::conn("users", 2, ACL_ADMIN, Group::Server),
            Command::conn("whoami", 2, NOSCRIPT | LOADING | STALE, Group::Server),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
        ]),
        // Transactions (src/server/multi.rs).
        Command::conn(
            "multi",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
            Group::Transactions,
        ),
        Command::conn(
            "exec",
            1,
            NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
            Group::Transactions,
        ),
        Command::conn(
            "discard",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
            Group::Transactions,
        ),
        Command::conn(
            "watch",
            -2,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
            Group::Transactions,
        )
        .keys(1, -1, 1),
        Command::conn(
            "unwatch",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
            Group::Transactions,
        ),
        // Server administration (src/server/admin/).
        Command::conn("info", -1, LOADING | STALE, Group::Server),
        Command::conn("config", -2, 0, Group::Server).subs(&[
            Command::conn("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, Group::Server),
            Command::conn("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, Group::Server),
            Command::conn(
                "resetstat",
                2,
                ADMIN | NOSCRIPT | LOADING | STALE,
                Group::Server,
            ),
            Command::conn(
                "rewrite",
                2,
                ADMIN | NOSCRIPT | LOADING | STALE,
                Group::Server,
            ),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
        ]),
        Command::conn(
            "debug",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            Group::Server,
        ),
        Command::conn(
            "shutdown",
            -1,
            ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
            Group::Server,
        ),
        Command::conn("lastsave", 1, LOADING | STALE | FAST, Group::Server),
        Command::conn("bgrewriteaof", 1, NOSCRIPT | ADMIN, Group::Server),
        Command::conn("save", 1, NOSCRIPT | ADMIN | NO_MULTI, Group::Server),
        Command::conn("bgsave", -1, NOSCRIPT | ADMIN, Group::Server),
        Command::conn("slowlog", -2, 0, Group::Server).subs(&[
            Command::conn("get", -2, ADMIN | LOADING | STALE, Group::Server),
            Command::conn("len", 2, ADMIN | LOADING | STALE, Group::Server),
            Command::conn("reset", 2, ADMIN | LOADING | STALE, Group::Server),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
        ]),
        Command::conn("latency", -2, 0, Group::Server).subs(&[
            Command::conn("doctor", 2, LATENCY_ADMIN, Group::Server),
            Command::conn("graph", 3, LATENCY_ADMIN, Group::Server),
            Command::conn("help", 2, LOADING | STALE, Group::Server),
            Command::conn("histogram", -2, LATENCY_ADMIN, Group::Server),
            Command::conn("history", 3, LATENCY_ADMIN, Group::Server),
            Command::conn("latest", 2, LATENCY_ADMIN, Group::Server),
            Command::conn("reset", -2, LATENCY_ADMIN, Group::Server),
        ]),
    ];
}

/// The scripting commands (answered by `scripting::eval` through the connection layer: they
/// schedule their own units).
pub mod scripting_cmds {
    use super::flags::*;
    use super::*;
    pub const COMMANDS: &[Command] = &[
        Command::conn(
            "eval",
            -3,
            NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn(
            "evalsha",
            -3,
            NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn(
            "eval_ro",
            -3,
            NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn(
            "evalsha_ro",
            -3,
            NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn("script", -2, 0, Group::Scripting).subs(&[
            Command::conn("load", 3, NOSCRIPT | STALE, Group::Scripting),
            Command::conn("exists", -3, NOSCRIPT, Group::Scripting),
            Command::conn("flush", -2, NOSCRIPT, Group::Scripting),
            Command::conn("kill", 2, NOSCRIPT | ALLOW_BUSY, Group::Scripting),
            Command::conn("debug", 3, NOSCRIPT, Group::Scripting),
            Command::conn("help", 2, LOADING | STALE, Group::Scripting),
        ]),
        Command::conn(
            "fcall",
            -3,
            NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn(
            "fcall_ro",
            -3,
            NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
            Group::Scripting,
        )
        .numkeys(2, None),
        Command::conn("function", -2, 0, Group::Scripting).subs(&[
            Command::conn("load", -3, WRITE | NOSCRIPT | DENYOOM, Group::Scripting),
            Command::conn("delete", 3, WRITE | NOSCRIPT, Group::Scripting),
            Command::conn("list", -2, NOSCRIPT, Group::Scripting),
            Command::conn("flush", -2, WRITE | NOSCRIPT, Group::Scripting),
            Command::conn("dump", 2, NOSCRIPT, Group::Scripting),
            Command::conn("restore", -3, WRITE | NOSCRIPT | DENYOOM, Group::Scripting),
            Command::conn("stats", 2, NOSCRIPT | ALLOW_BUSY, Group::Scripting),
            Command::conn("kill", 2, NOSCRIPT | ALLOW_BUSY, Group::Scripting),
            Command::conn("help", 2, LOADING | STALE, Group::Scripting),
        ]),
    ];
}

/// Shows a command that ran to MONITOR clients, as Redis does: not admin or `skip_monitor`
/// commands (scripts are shown before they run), and not a client's blocking command, which
/// the connection shows once, not on every retry.
fn monitor(ctx: &Ctx<'_>, cmd: CmdRef, args: &[Bytes]) {
    use crate::server::monitor::Source;
    if cmd.cmd.has(flags::ADMIN | flags::SKIP_MONITOR)
        || (cmd.cmd.has(flags::BLOCKING)
            && !ctx.in_script
            && !ctx.in_multi
            && crate::server::blocking::may_wait(cmd, args))
    {
        return;
    }
    let source = if ctx.in_script {
        Source::Lua
    } else {
        Source::Client(ctx.client_id)
    };
    ctx.server.monitors.feed(ctx.server, ctx.db, source, args);
}

/// Runs one command on the shards `ctx` holds, recording its effect and waking what waits on
/// the keys it changed. The single entry point for clients, transactions and scripts.
pub fn call(ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes]) -> Reply {
    call_from(ctx, cmd, args, Instant::now()).0
}

/// [`call`] timed from `started`; also returns the instant it finished. A batch chains them
/// (each call starts when the previous one finished), reading the clock once per command
/// instead of twice: the clock read is a visible share of a cheap command's cost.
pub fn call_from(
    ctx: &mut Ctx<'_>,
    cmd: CmdRef,
    args: &[Bytes],
    started: Instant,
) -> (Reply, Instant) {
    let (reply, finished, _) = run_call(ctx, cmd, args, started, true);
    (reply, finished)
}

/// [`call`] without counting it in the command statistics; also returns whether it failed. A
/// blocking command's attempt that blocks is not a call yet: Redis counts the call when it is
/// served, times out or is unblocked (`server::blocking`).
pub(crate) fn call_uncounted(ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes]) -> (Reply, bool) {
    let (reply, _, failed) = run_call(ctx, cmd, args, Instant::now(), false);
    (reply, failed)
}

/// A blocked call that ended unserved (its timeout, CLIENT UNBLOCK), counted as Redis 7.0.15
/// counts it: a call of `usec`, with `failures`, in the latency histogram only if `histogram`.
pub(crate) fn account_unserved(
    ctx: &Ctx<'_>,
    cmd: CmdRef,
    usec: u64,
    failures: u32,
    histogram: bool,
) {
    let server = ctx.server;
    server.shards[ctx.home].stats.record_held(
        cmd.id,
        usec,
        failures,
        histogram && server.latency_tracking(),
    );
}

#[inline(always)]
fn run_call(
    ctx: &mut Ctx<'_>,
    cmd: CmdRef,
    args: &[Bytes],
    started: Instant,
    count: bool,
) -> (Reply, Instant, bool) {
    let f = match cmd.cmd.run {
        Run::Shard(f) => f,
        Run::Conn => {
            let r = Reply::Error(format!("ERR '{}' cannot run here", cmd.cmd.name));
            return (r, started, true);
        }
    };
    let dirty_before = ctx.dirty;
    ctx.custom_effect = false;
    let effects_before = ctx.effects.as_ref().map(|e| e.len());
    // Keyspace notifications: one relaxed load when they are off.
    let nflags = ctx.server.notify_flags();
    let before = (nflags != 0).then(|| notify::before(ctx, cmd, args, nflags));
    let result = f(ctx, args);
    if let Some(b) = before {
        let wrote = ctx.dirty != dirty_before;
        notify::after(ctx, cmd, args, b, wrote, &result);
    }
    let failed = match &result {
        Err(CommandError::NotHeld(_)) => false,
        Err(e) => {
            ctx.server.errors.record(&e.to_string());
            true
        }
        Ok(Reply::Error(e)) => {
            ctx.server.errors.record(e);
            true
        }
        Ok(_) => false,
    };
    let finished = if count {
        account(ctx, cmd, args, started, u32::from(failed))
    } else {
        started
    };
    if ctx.server.monitors.active() && !matches!(result, Err(CommandError::NotHeld(_))) {
        monitor(ctx, cmd, args);
    }
    if ctx.dirty != dirty_before {
        // Only the keys the command wrote are touched: a store command's sources are read, and
        // signalling them would fail a WATCH on a source that Redis leaves valid.
        let written: Option<usize> = match cmd.cmd.name {
            "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore"
            | "zdiffstore" | "zrangestore" | "geosearchstore" | "pfmerge" => Some(1),
            "bitop" => Some(2),
            // These signal the keys they wrote themselves (COPY's may be in another database,
            // DEL's are only the keys that existed, a pop's only the key it popped from);
            // index 0 is the name, so no key matches.
            "copy" | "del" | "unlink" | "blpop" | "brpop" | "lmpop" | "blmpop" | "bzpopmin"
            | "bzpopmax" | "zmpop" | "bzmpop" | "sort" | "georadius" | "georadiusbymember" => {
                Some(0)
            }
            // PFDEBUG's conversion to dense is propagated but, as in Redis, signals nothing.
            "pfdebug" => Some(0),
            // Consumer-group changes do not count as modifying the stream in Redis 7.0 (a WATCH
            // stays valid, a blocked reader is not woken); XGROUP CREATE signals the stream
            // MKSTREAM creates itself.
            "xreadgroup" | "xack" | "xclaim" | "xautoclaim" | "create" | "setid" | "destroy"
            | "createconsumer" | "delconsumer"
                if cmd.cmd.group == Group::Stream =>
            {
                Some(0)
            }
            _ => None,
        };
        for i in cmd.cmd.key_indices(args) {
            if written.is_some_and(|w| w != i) {
                continue;
            }
            if let Ok(db) = ctx.db(&args[i]) {
                if !db.waiters.is_empty() || db.track_writes {
                    db.signal(&args[i]);
                }
            }
        }
        if !ctx.custom_effect {
            ctx.propagate_args(args);
        }
    }
    if let Some(at) = effects_before {
        ctx.expiry_effects_at(at);
    }
    // Client-side caching: one relaxed load when nobody tracks.
    if ctx.server.tracking.active() {
        crate::server::tracking::hooks::after_call(ctx, cmd, args);
    }
    let reply = match result {
        Ok(r) => r,
        Err(e) => Reply::Error(e.to_string()),
    };
    (reply, finished, failed)
}

/// Counts a call that started at `started` in the home shard's command statistics and the slow
/// log, with `failures` failed calls (one for a failed command; a script's reply may add more,
/// see `scripting::convert::ReplyErrors`); returns when it finished.
pub(crate) fn account(
    ctx: &Ctx<'_>,
    cmd: CmdRef,
    args: &[Bytes],
    started: Instant,
    failures: u32,
) -> Instant {
    let finished = Instant::now();
    let usec = finished.saturating_duration_since(started).as_micros() as u64;
    let server = ctx.server;
    // A unit always holds its home shard, so it is the only writer of these statistics.
    server.shards[ctx.home]
        .stats
        .record_held(cmd.id, usec, failures, server.latency_tracking());
    // One comparison covers the slow log and the latency monitor (the lower of their
    // thresholds); the rest is the rare path.
    if usec >= server.notable_usec() {
        notable(ctx, cmd, args, usec);
    }
    finished
}

/// A call slow enough for the slow log or the latency monitor.
#[cold]
fn notable(ctx: &Ctx<'_>, cmd: CmdRef, args: &[Bytes], usec: u64) {
    let server = ctx.server;
    server.latency.command(cmd.cmd.has(flags::FAST), usec);
    if server.slowlog.is_slow(usec) && !cmd.cmd.has(flags::SKIP_SLOWLOG) {
        let (client, in_script) = (ctx.client_id, ctx.in_script);
        server
            .slowlog
            .push(args, usec, || slow_caller(server, client, in_script));
    }
}

/// Who ran a slow command: its client, or Redis's placeholder for a script's calls.
fn slow_caller(
    server: &crate::server::Server,
    client: u64,
    in_script: bool,
) -> crate::server::admin::slowlog::Caller {
    use crate::server::admin::slowlog::Caller;
    match server.clients.get(client).filter(|_| !in_script) {
        Some(c) => Caller {
            addr: c.addr.to_string(),
            name: c.name.lock().map(|n| n.clone()).unwrap_or_default(),
        },
        None => Caller {
            addr: "?:0".into(),
            name: String::new(),
        },
    }
}

/// Looks a command up by name (any case), resolving container commands to their subcommand.
pub fn lookup(args: &[Bytes]) -> Result<CmdRef, CommandError> {
    let name = &args[0];
    let Some(top) = table::find(name) else {
        return Err(CommandError::UnknownCommand {
            name: lossy_trunc(name, 128),
            args: unknown_args(&args[1..]),
        });
    };
    if top.cmd.subcommands.is_empty() {
        check_arity(top.cmd, args.len(), top.cmd.name)?;
        return Ok(top);
    }
    if args.len() < 2 {
        check_arity(top.cmd, args.len(), top.cmd.name)?;
        return Ok(top);
    }
    match table::find_sub(top, &args[1]) {
        Some(sub) => {
            check_arity(
                sub.cmd,
                args.len(),
                &format!("{}|{}", top.cmd.name, sub.cmd.name),
            )?;
            Ok(sub)
        }
        None => Err(CommandError::Other(
            format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                lossy_trunc(&args[1], 128),
                top.cmd.name.to_ascii_uppercase()
            )
            .into(),
        )),
    }
}

fn check_arity(cmd: &Command, n: usize, full: &str) -> Result<(), CommandError> {
    let a = cmd.arity;
    if (a > 0 && n as i32 != a) || (a < 0 && (n as i32) < -a) {
        return Err(CommandError::WrongArity(full.to_string()));
    }
    Ok(())
}

/// Redis quotes the arguments until the quoted text reaches 128 bytes.
fn unknown_args(args: &[Bytes]) -> Vec<String> {
    let mut out = Vec::new();
    let mut len = 0;
    for a in args {
        if len >= 128 {
            break;
        }
        let s = lossy_trunc(a, 128 - len);
        len += s.len() + 3;
        out.push(s);
    }
    out
}

fn lossy_trunc(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

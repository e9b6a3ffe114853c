//! MEMORY: USAGE of one key (computed in `object.rs`), and the server-wide reports STATS,
//! DOCTOR, MALLOC-STATS and PURGE.
//!
//! Invariant: STATS reads the shards' key counts while holding every shard (a keyspace-wide
//! command), so its per-database figures are one consistent snapshot; everything else comes
//! from the same counters INFO's memory section reads, so the two never disagree.

use super::flags::*;
use super::*;
use crate::error::CmdResult;
use crate::server::admin::info;

pub const COMMANDS: &[Command] = &[
    Command::new("memory", -2, 0, Group::Server, container).subs(&[
        Command::new("usage", -3, READONLY, Group::Server, super::object::usage).keys(2, 2, 1),
        Command::new("stats", 2, KEYSPACE, Group::Server, stats),
        Command::new("doctor", 2, 0, Group::Server, doctor),
        Command::new("malloc-stats", 2, 0, Group::Server, malloc_stats),
        Command::new("purge", 2, 0, Group::Server, purge),
        Command::new("help", 2, LOADING | STALE, Group::Server, help),
    ]),
];

/// Never runs: the dispatcher resolves MEMORY to a subcommand or reports it unknown.
fn container(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    super::object::container(ctx, args)
}

/// Memory figures of the whole server at one moment.
struct Figures {
    used: u64,
    peak: u64,
    startup: u64,
    rss: u64,
    scripts: u64,
    backlog: u64,
}

fn figures(ctx: &Ctx<'_>) -> Figures {
    let used = crate::allocator::used();
    Figures {
        used,
        peak: info::used_memory_peak(used),
        startup: crate::allocator::startup(),
        rss: info::rss(),
        scripts: ctx.server.scripting.info().used_memory_scripts_eval,
        backlog: ctx.server.repl.stream.with(|st| st.backlog_len()) as u64,
    }
}

/// Redis computes its ratios in single precision; printing them widened keeps its digits.
fn ratio(a: u64, b: u64) -> Reply {
    Reply::Double((a as f32 / b.max(1) as f32) as f64)
}

fn pair(name: &str, v: Reply) -> (Reply, Reply) {
    (Reply::bulk_str(name), v)
}

fn int(n: u64) -> Reply {
    Reply::Int(n as i64)
}

/// MEMORY STATS: Redis's fields in Redis's order, filled from luagate's counters. The
/// per-database overheads are luagate's own: a table slot per key (key, value and control
/// byte) and an expiry entry per volatile key.
fn stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if let Some(i) = ctx.held.iter().position(|s| s.is_none()) {
        return Err(CommandError::NotHeld(i));
    }
    let f = figures(ctx);
    let slot = std::mem::size_of::<(crate::keyspace::Key, crate::keyspace::Value)>() as u64 + 1;
    let expiry = std::mem::size_of::<(crate::keyspace::Str, u64)>() as u64 + 1;
    let ndbs = ctx.held_shards().map(|s| s.dbs.len()).max().unwrap_or(0);
    let mut per_db = Vec::new();
    let (mut keys, mut db_overhead) = (0u64, 0u64);
    for db in 0..ndbs {
        let (n, volatile) = ctx.held_shards().fold((0u64, 0u64), |(n, v), s| {
            (
                n + s.dbs[db].len() as u64,
                v + s.dbs[db].expires.len() as u64,
            )
        });
        if n == 0 {
            continue;
        }
        keys += n;
        let (main, expires) = (n * slot, volatile * expiry);
        db_overhead += main + expires;
        per_db.push(pair(
            &format!("db.{db}"),
            Reply::Map(vec![
                pair("overhead.hashtable.main", int(main)),
                pair("overhead.hashtable.expires", int(expires)),
                pair("overhead.hashtable.slot-to-keys", int(0)),
            ]),
        ));
    }
    let overhead = f.startup + f.backlog + f.scripts + db_overhead;
    let dataset = f.used.saturating_sub(overhead);
    let net = f.used.saturating_sub(f.startup);
    let mut out = vec![
        pair("peak.allocated", int(f.peak)),
        pair("total.allocated", int(f.used)),
        pair("startup.allocated", int(f.startup)),
        pair("replication.backlog", int(f.backlog)),
        pair("clients.slaves", int(0)),
        pair("clients.normal", int(0)),
        pair("cluster.links", int(0)),
        pair("aof.buffer", int(0)),
        pair("lua.caches", int(f.scripts)),
        pair("functions.caches", int(0)),
    ];
    out.extend(per_db);
    out.extend([
        pair("overhead.total", int(overhead)),
        pair("keys.count", int(keys)),
        pair(
            "keys.bytes-per-key",
            int(net.checked_div(keys).unwrap_or(0)),
        ),
        pair("dataset.bytes", int(dataset)),
        pair(
            "dataset.percentage",
            Reply::Double((dataset as f32 * 100.0 / net.max(1) as f32) as f64),
        ),
        pair(
            "peak.percentage",
            Reply::Double((f.used as f32 * 100.0 / f.peak.max(1) as f32) as f64),
        ),
        // One allocator's view: luagate counts requested bytes, not size classes, so
        // allocated and active are the same figure and fragmentation is RSS against it.
        pair("allocator.allocated", int(f.used)),
        pair("allocator.active", int(f.used)),
        pair("allocator.resident", int(f.rss)),
        pair("allocator-fragmentation.ratio", ratio(1, 1)),
        pair("allocator-fragmentation.bytes", int(0)),
        pair("allocator-rss.ratio", ratio(f.rss, f.used)),
        pair("allocator-rss.bytes", int(f.rss.saturating_sub(f.used))),
        pair("rss-overhead.ratio", ratio(1, 1)),
        pair("rss-overhead.bytes", int(0)),
        pair("fragmentation", ratio(f.rss, f.used)),
        pair("fragmentation.bytes", int(f.rss.saturating_sub(f.used))),
    ]);
    Ok(Reply::Map(out))
}

/// Below this much used memory there is nothing worth diagnosing (Redis's threshold too).
const SMALL: u64 = 5 << 20;

/// MEMORY DOCTOR: a short report in luagate's own words on the conditions Redis's doctor
/// looks at (an instance too small to judge, a peak far above current use, RSS far above
/// what is allocated).
fn doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let f = figures(ctx);
    let text = if f.used < SMALL {
        format!(
            "This server uses {} of memory, too little to say anything useful about it. \
             Ask again once it holds some data.",
            info::human(f.used)
        )
    } else {
        let mut problems = Vec::new();
        if f.peak as f64 > f.used as f64 * 1.5 {
            problems.push(format!(
                " * Peak memory: at one point this server used {} ({:.0}% more than the {} it \
                 uses now). Memory freed since may stay with the process (RSS) for a while; \
                 MEMORY PURGE asks the allocator to return what it can.",
                info::human(f.peak),
                (f.peak as f64 / f.used as f64 - 1.0) * 100.0,
                info::human(f.used)
            ));
        }
        if f.rss as f64 > f.used as f64 * 1.4 && f.rss - f.used > 10 << 20 {
            problems.push(format!(
                " * High fragmentation: the process holds {} of RAM (RSS) for {} of live data \
                 (ratio {:.2}). This often follows deleting many keys or values; MEMORY PURGE \
                 may help, and a restart with the data reloaded always does.",
                info::human(f.rss),
                info::human(f.used),
                f.rss as f64 / f.used as f64
            ));
        }
        if problems.is_empty() {
            "No memory problems found: used memory, its peak and the process's RSS look \
             healthy."
                .to_string()
        } else {
            format!(
                "This server's memory shows the following:\n\n{}\n",
                problems.join("\n\n")
            )
        }
    };
    Ok(Reply::Verbatim("txt", Bytes::from(text)))
}

/// MEMORY MALLOC-STATS: jemalloc's own statistics report (small blocks; large ones come
/// from glibc, see src/allocator.rs).
fn malloc_stats(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Verbatim(
        "txt",
        Bytes::from(crate::allocator::malloc_stats()),
    ))
}

/// MEMORY PURGE: hands free pages back to the system, from both allocators.
fn purge(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    crate::allocator::purge();
    Ok(Reply::ok())
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::help(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]))
}

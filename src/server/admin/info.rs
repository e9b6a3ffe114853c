//! INFO: Redis's sections and field names, filled from luagate's counters.
//!
//! Invariants: sections always come out in Redis's order, each at most once, joined by an
//! empty line (`\r\n`), whatever order or case they were asked in; unknown names are ignored.
//! Counters that live in the shards' data (keyspace, hits, misses, expired keys) are read by a
//! unit holding every shard, so the numbers are one consistent snapshot; everything else is
//! read from atomics without stopping any shard.

use super::super::connection::Conn;
use super::super::pubsub::Kind;
use super::super::Server;
use crate::commands::{self, Ctx};
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Section names in output order.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Not in `INFO` / `INFO default`.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

type Selection = [bool; SECTIONS.len()];

fn select(args: &[Bytes]) -> Selection {
    let mut sel = [false; SECTIONS.len()];
    let default = |sel: &mut Selection| {
        for (i, s) in SECTIONS.iter().enumerate() {
            sel[i] |= !NOT_DEFAULT.contains(s);
        }
    };
    if args.is_empty() {
        default(&mut sel);
    }
    for a in args {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "all" | "everything" => sel = [true; SECTIONS.len()],
            "default" => default(&mut sel),
            name => {
                if let Some(i) = SECTIONS.iter().position(|s| *s == name) {
                    sel[i] = true;
                }
            }
        }
    }
    sel
}

fn wants(sel: &Selection, name: &str) -> bool {
    SECTIONS
        .iter()
        .position(|s| *s == name)
        .is_some_and(|i| sel[i])
}

/// Counters read from the shards' data.
#[derive(Default)]
pub struct Data {
    /// Per database: keys, keys with an expiry, average remaining TTL (ms) of sampled keys.
    dbs: Vec<(u64, u64, u64)>,
    hits: u64,
    misses: u64,
    expired: u64,
}

/// Expiries sampled per database and shard for `avg_ttl` (Redis estimates it too).
const TTL_SAMPLE: usize = 256;

/// Reads the data counters from every shard `ctx` holds.
pub fn collect(ctx: &mut Ctx<'_>) -> Data {
    let now = ctx.now();
    let mut d = Data::default();
    let mut ttl: Vec<(u64, u64)> = Vec::new();
    for shard in ctx.held_shards() {
        if d.dbs.len() < shard.dbs.len() {
            d.dbs.resize(shard.dbs.len(), (0, 0, 0));
            ttl.resize(shard.dbs.len(), (0, 0));
        }
        for (i, db) in shard.dbs.iter().enumerate() {
            d.dbs[i].0 += db.len() as u64;
            d.dbs[i].1 += db.expires.len() as u64;
            d.hits += db.stat_hits;
            d.misses += db.stat_misses;
            d.expired += db.stat_expired;
            if !db.expires.is_empty() {
                db.expires.scan(0, TTL_SAMPLE, |_, &at| {
                    ttl[i].0 += at.saturating_sub(now);
                    ttl[i].1 += 1;
                });
            }
        }
    }
    for (db, (sum, n)) in d.dbs.iter_mut().zip(ttl) {
        db.2 = sum.checked_div(n).unwrap_or(0);
    }
    d
}

/// INFO run inside a unit that holds every shard (EXEC).
pub fn in_unit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sel = select(&args[1..]);
    let data = needs_data(&sel).then(|| collect(ctx));
    Reply::Verbatim("txt", Bytes::from(render(ctx.server, &sel, data.as_ref())))
}

fn needs_data(sel: &Selection) -> bool {
    wants(sel, "stats") || wants(sel, "keyspace")
}

/// INFO [section …]
pub async fn command(conn: &mut Conn, args: &[Bytes]) -> Reply {
    let sel = select(&args[1..]);
    let data = if needs_data(&sel) {
        let all: Vec<usize> = (0..conn.server.shards.len()).collect();
        conn.run_job_value(all, collect).await
    } else {
        None
    };
    Reply::Verbatim(
        "txt",
        Bytes::from(render(&conn.server, &sel, data.as_ref())),
    )
}

mod latencystats;
mod persistence;

/// Builds one section's text.
struct Section(String);

impl Section {
    fn new(title: &str) -> Section {
        Section(format!("# {title}\r\n"))
    }
    fn f(&mut self, name: &str, v: impl Display) -> &mut Self {
        let _ = write!(self.0, "{name}:{v}\r\n");
        self
    }
}

pub fn render(server: &Server, sel: &Selection, data: Option<&Data>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, name) in SECTIONS.iter().enumerate() {
        if !sel[i] {
            continue;
        }
        let s = match *name {
            "server" => server_section(server),
            "clients" => clients(server),
            "memory" => memory(server),
            "persistence" => persistence::section(server),
            "stats" => stats(server, data),
            "replication" => replication(server),
            "cpu" => cpu(),
            "modules" => Section::new("Modules"),
            "commandstats" => commandstats(server),
            "errorstats" => errorstats(server),
            "latencystats" => latencystats::section(server),
            "cluster" => {
                let mut s = Section::new("Cluster");
                s.f("cluster_enabled", u8::from(server.cluster.is_some()));
                s
            }
            _ => keyspace(data),
        };
        parts.push(s.0);
    }
    parts.join("\r\n")
}

fn server_section(server: &Server) -> Section {
    let cfg = server.config();
    let up = server.started.elapsed().as_secs();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let mut s = Section::new("Server");
    s.f("redis_version", super::super::conn_cmds::VERSION)
        .f("luagate_version", env!("CARGO_PKG_VERSION"))
        .f("redis_git_sha1", "00000000")
        .f("redis_git_dirty", 0)
        .f("redis_build_id", "0")
        .f(
            "redis_mode",
            if server.cluster.is_some() {
                "cluster"
            } else {
                "standalone"
            },
        )
        .f("os", os_name())
        .f("arch_bits", usize::BITS)
        .f("monotonic_clock", "POSIX clock_gettime")
        .f("multiplexing_api", "epoll")
        .f("atomicvar_api", "c11-builtin")
        .f("gcc_version", "0.0.0")
        .f("process_id", std::process::id())
        .f("process_supervised", "no")
        .f("run_id", &server.run_id)
        .f("tcp_port", server.port)
        .f("server_time_usec", now_us)
        .f("uptime_in_seconds", up)
        .f("uptime_in_days", up / 86400)
        .f("hz", cfg.hz)
        .f("configured_hz", cfg.hz)
        .f("lru_clock", server.clock_secs() & 0xFF_FFFF)
        .f(
            "executable",
            std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .f("config_file", "")
        .f("io_threads_active", 0)
        .f("shards", server.shards.len());
    s
}

fn os_name() -> String {
    // SAFETY: uname only writes into the struct we hand it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn clients(server: &Server) -> Section {
    let mut s = Section::new("Clients");
    s.f("connected_clients", server.clients.connected())
        .f("cluster_connections", 0)
        .f("maxclients", server.config().maxclients)
        .f("client_recent_max_input_buffer", 0)
        .f("client_recent_max_output_buffer", 0)
        .f("blocked_clients", server.blocked.blocked_clients())
        .f("tracking_clients", server.tracking.clients())
        .f("clients_in_timeout_table", 0);
    s
}

/// Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    const UNITS: &[(f64, &str)] = &[
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= *size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{}B", n as u64)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Resident set size of the process, from /proc.
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * page_size())
        .unwrap_or(0)
}

static PEAK: AtomicU64 = AtomicU64::new(0);

/// The most memory used so far, `used` (now) included. Sampled when INFO or MEMORY STATS
/// runs, as the figure is only ever read there.
pub fn used_memory_peak(used: u64) -> u64 {
    PEAK.fetch_max(used, Relaxed).max(used)
}

fn memory(server: &Server) -> Section {
    let si = server.scripting.info();
    let libs = server.scripting.functions.snapshot();
    let cfg = server.config();
    let used = crate::allocator::used();
    let rss = rss();
    let peak = used_memory_peak(used);
    // SAFETY: sysconf has no preconditions.
    let phys = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) }.max(0) as u64 * page_size();
    let mut s = Section::new("Memory");
    s.f("used_memory", used)
        .f("used_memory_human", human(used))
        .f("used_memory_rss", rss)
        .f("used_memory_rss_human", human(rss))
        .f("used_memory_peak", peak)
        .f("used_memory_peak_human", human(peak))
        .f(
            "used_memory_peak_perc",
            format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
        )
        .f("used_memory_overhead", 0)
        .f("used_memory_startup", crate::allocator::startup())
        .f("used_memory_dataset", used)
        .f("used_memory_dataset_perc", "100.00%")
        .f("allocator_allocated", used)
        .f("allocator_active", used)
        .f("allocator_resident", rss)
        .f("total_system_memory", phys)
        .f("total_system_memory_human", human(phys))
        .f("used_memory_lua", si.used_memory_vm_eval)
        .f("used_memory_vm_eval", si.used_memory_vm_eval)
        .f("used_memory_lua_human", human(si.used_memory_vm_eval))
        .f("used_memory_scripts_eval", si.used_memory_scripts_eval)
        .f("number_of_cached_scripts", si.number_of_cached_scripts)
        .f("number_of_functions", libs.functions.len())
        .f("number_of_libraries", libs.libs.len())
        .f("used_memory_vm_functions", 0)
        .f("used_memory_vm_total", si.used_memory_vm_eval)
        .f("used_memory_vm_total_human", human(si.used_memory_vm_eval))
        .f("used_memory_functions", 0)
        .f("used_memory_scripts", si.used_memory_scripts_eval)
        .f(
            "used_memory_scripts_human",
            human(si.used_memory_scripts_eval),
        )
        .f("maxmemory", cfg.maxmemory)
        .f("maxmemory_human", human(cfg.maxmemory))
        .f("maxmemory_policy", &cfg.maxmemory_policy)
        .f("allocator_frag_ratio", "1.00")
        .f("allocator_frag_bytes", 0)
        .f(
            "allocator_rss_ratio",
            format!("{:.2}", rss as f64 / used.max(1) as f64),
        )
        .f("allocator_rss_bytes", rss.saturating_sub(used))
        .f("rss_overhead_ratio", "1.00")
        .f("rss_overhead_bytes", 0)
        .f(
            "mem_fragmentation_ratio",
            format!("{:.2}", rss as f64 / used.max(1) as f64),
        )
        .f("mem_fragmentation_bytes", rss.saturating_sub(used))
        .f("mem_not_counted_for_evict", 0)
        .f("mem_replication_backlog", 0)
        .f("mem_total_replication_buffers", 0)
        .f("mem_clients_slaves", 0)
        .f("mem_clients_normal", 0)
        .f("mem_cluster_links", 0)
        .f("mem_aof_buffer", 0)
        // src/allocator.rs: jemalloc for blocks under 4 KiB, glibc for the rest.
        .f("mem_allocator", "jemalloc-5.3.0+libc")
        .f("active_defrag_running", 0)
        .f("lazyfree_pending_objects", 0)
        .f("lazyfreed_objects", 0);
    s
}

/// Recent `(when, total commands)` samples, for `instantaneous_ops_per_sec`.
static SAMPLES: Mutex<VecDeque<(Instant, u64)>> = Mutex::new(VecDeque::new());

/// Commands per second over the last few seconds, from samples taken when INFO runs (and
/// at least 100 ms apart); 0 until there are two samples.
fn ops_per_sec(total: u64) -> u64 {
    let Ok(mut q) = SAMPLES.lock() else {
        return 0;
    };
    let now = Instant::now();
    while q.len() > 1
        && q.front()
            .is_some_and(|(t, _)| now - *t > Duration::from_secs(5))
    {
        q.pop_front();
    }
    if q.back()
        .is_none_or(|(t, _)| now - *t >= Duration::from_millis(100))
    {
        q.push_back((now, total));
    }
    match q.front() {
        Some(&(t, n)) if now - t >= Duration::from_millis(100) => {
            (total.saturating_sub(n) as f64 / (now - t).as_secs_f64()) as u64
        }
        _ => 0,
    }
}

fn stats(server: &Server, data: Option<&Data>) -> Section {
    let st = &server.stats;
    let d = data
        .map(|d| (d.hits, d.misses, d.expired))
        .unwrap_or((0, 0, 0));
    let processed = st.commands_processed.load(Relaxed);
    let mut s = Section::new("Stats");
    s.f(
        "total_connections_received",
        st.connections_received.load(Relaxed),
    )
    .f("total_commands_processed", processed)
    .f("instantaneous_ops_per_sec", ops_per_sec(processed))
    .f("total_net_input_bytes", st.net_input_bytes.load(Relaxed))
    .f("total_net_output_bytes", st.net_output_bytes.load(Relaxed))
    .f("total_net_repl_input_bytes", 0)
    .f("total_net_repl_output_bytes", 0)
    .f("instantaneous_input_kbps", "0.00")
    .f("instantaneous_output_kbps", "0.00")
    .f("instantaneous_input_repl_kbps", "0.00")
    .f("instantaneous_output_repl_kbps", "0.00")
    .f(
        "rejected_connections",
        st.rejected_connections.load(Relaxed),
    )
    .f("sync_full", server.repl.full_syncs_served.load(Relaxed))
    .f(
        "sync_partial_ok",
        server.repl.partial_syncs_served.load(Relaxed),
    )
    .f(
        "sync_partial_err",
        server.repl.partial_syncs_refused.load(Relaxed),
    )
    .f("expired_keys", d.2)
    .f("expired_stale_perc", "0.00")
    .f("expired_time_cap_reached_count", 0)
    .f("expire_cycle_cpu_milliseconds", 0)
    .f("evicted_keys", server.evicted_keys.load(Relaxed))
    .f("evicted_clients", 0)
    .f("evicted_scripts", server.scripting.info().evicted_scripts)
    .f(
        "luagate_scripts_reruns",
        server.scripting.info().scripts_reruns,
    )
    .f("total_eviction_exceeded_time", 0)
    .f("current_eviction_exceeded_time", 0)
    .f("keyspace_hits", d.0)
    .f("keyspace_misses", d.1)
    .f("pubsub_channels", server.pubsub.count(Kind::Channel))
    .f("pubsub_patterns", server.pubsub.count(Kind::Pattern))
    .f("pubsubshard_channels", server.pubsub.count(Kind::Shard))
    .f(
        "latest_fork_usec",
        server
            .persist
            .last_pause_us
            .load(std::sync::atomic::Ordering::Relaxed),
    )
    .f("total_forks", 0)
    .f("migrate_cached_sockets", 0)
    .f("slave_expires_tracked_keys", 0)
    .f("active_defrag_hits", 0)
    .f("active_defrag_misses", 0)
    .f("active_defrag_key_hits", 0)
    .f("active_defrag_key_misses", 0)
    .f("total_active_defrag_time", 0)
    .f("current_active_defrag_time", 0)
    .f("tracking_total_keys", server.tracking.total_keys())
    .f("tracking_total_items", server.tracking.total_items())
    .f("tracking_total_prefixes", server.tracking.total_prefixes())
    .f("unexpected_error_replies", 0)
    .f("total_error_replies", server.errors.total())
    .f("dump_payload_sanitizations", 0)
    .f("total_reads_processed", 0)
    .f("total_writes_processed", 0)
    .f("io_threaded_reads_processed", 0)
    .f("io_threaded_writes_processed", 0)
    .f("reply_buffer_shrinks", 0)
    .f("reply_buffer_expands", 0);
    s
}

fn replication(server: &Server) -> Section {
    use std::sync::atomic::Ordering::Relaxed;
    let repl = &server.repl;
    let mut s = Section::new("Replication");
    let now = crate::clock::unix_ms();
    let follow = repl
        .follow
        .lock()
        .ok()
        .and_then(|f| f.as_ref().map(|f| (f.host.clone(), f.port, f.link.clone())));
    match &follow {
        Some((host, port, link)) => {
            let up = link.up.load(Relaxed);
            let off = link.offset.load(Relaxed);
            let last_io = link.last_io_ms.load(Relaxed);
            let state = *link.state.lock().unwrap_or_else(|e| e.into_inner());
            s.f("role", "slave")
                .f("master_host", host)
                .f("master_port", port)
                .f("master_link_status", if up { "up" } else { "down" })
                .f(
                    "master_last_io_seconds_ago",
                    if up && last_io > 0 {
                        (now.saturating_sub(last_io) / 1000) as i64
                    } else {
                        -1
                    },
                )
                .f("master_sync_in_progress", (state == "sync") as u8)
                .f("slave_read_repl_offset", off)
                .f("slave_repl_offset", off);
            if !up {
                let since = link.down_since_ms.load(Relaxed);
                s.f(
                    "master_link_down_since_seconds",
                    if since > 0 {
                        (now.saturating_sub(since) / 1000) as i64
                    } else {
                        -1
                    },
                );
            }
            s.f("slave_priority", 100)
                .f("slave_read_only", 1)
                .f("replica_announced", 1);
        }
        None => {
            s.f("role", "master");
        }
    }
    let replicas: Vec<_> = repl.replicas();
    s.f("connected_slaves", replicas.len());
    if let Some(good) = repl.good_replicas() {
        s.f("min_slaves_good_slaves", good);
    }
    for (i, r) in replicas.iter().enumerate() {
        let state = if r.online.load(Relaxed) {
            "online"
        } else {
            "wait_bgsave"
        };
        let lag = now.saturating_sub(r.last_ack_ms.load(Relaxed)) / 1000;
        s.f(
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={state},offset={},lag={lag}",
                r.ip,
                r.port,
                r.ack.load(Relaxed)
            ),
        );
    }
    let (replid, offset, replid2, second, start, histlen, size) = repl.stream.with(|st| {
        (
            st.replid.clone(),
            st.offset,
            st.replid2.clone(),
            st.second_offset,
            st.backlog_start(),
            st.backlog_len(),
            st.capacity(),
        )
    });
    // A follower reports its leader's history; a leader its own stream.
    let (replid, offset) = match &follow {
        Some((_, _, link)) => (
            link.master_replid
                .lock()
                .map(|r| r.clone())
                .unwrap_or_default(),
            link.offset.load(Relaxed),
        ),
        None => (replid, offset),
    };
    s.f("master_failover_state", server.repl.failover.state_name())
        .f("master_replid", replid)
        .f("master_replid2", replid2)
        .f("master_repl_offset", offset)
        .f("second_repl_offset", second)
        .f("repl_backlog_active", (server.effects_wanted()) as u8)
        .f("repl_backlog_size", size)
        .f(
            "repl_backlog_first_byte_offset",
            if histlen > 0 { start + 1 } else { 0 },
        )
        .f("repl_backlog_histlen", histlen);
    s
}

fn cpu() -> Section {
    let usage = |who| {
        // SAFETY: getrusage only writes into the struct we hand it.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut r) } != 0 {
            return (0.0, 0.0);
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (secs(r.ru_stime), secs(r.ru_utime))
    };
    let (sys, user) = usage(libc::RUSAGE_SELF);
    let (csys, cuser) = usage(libc::RUSAGE_CHILDREN);
    let mut s = Section::new("CPU");
    s.f("used_cpu_sys", format!("{sys:.6}"))
        .f("used_cpu_user", format!("{user:.6}"))
        .f("used_cpu_sys_children", format!("{csys:.6}"))
        .f("used_cpu_user_children", format!("{cuser:.6}"))
        .f("used_cpu_sys_main_thread", format!("{sys:.6}"))
        .f("used_cpu_user_main_thread", format!("{user:.6}"));
    s
}

fn commandstats(server: &Server) -> Section {
    let mut s = Section::new("Commandstats");
    for c in commands::all_commands() {
        let i = c.id as usize;
        let (mut calls, mut usec, mut failed, mut rejected) = (0, 0, 0, 0);
        for st in server
            .shards
            .iter()
            .map(|h| &h.stats)
            .chain(std::iter::once(&server.conn_stats))
        {
            if let Some(cs) = st.cmds.get(i) {
                calls += cs.calls.get();
                usec += cs.usec.get();
                failed += cs.failed.get();
                rejected += cs.rejected.get();
            }
        }
        if calls == 0 && failed == 0 && rejected == 0 {
            continue;
        }
        let per = if calls > 0 {
            usec as f64 / calls as f64
        } else {
            0.0
        };
        s.f(
            &format!("cmdstat_{}", commands::full_name(c.id)),
            format!(
                "calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}"
            ),
        );
    }
    s
}

fn errorstats(server: &Server) -> Section {
    let mut s = Section::new("Errorstats");
    for (code, n) in server.errors.snapshot() {
        s.f(&format!("errorstat_{code}"), format!("count={n}"));
    }
    s
}

fn keyspace(data: Option<&Data>) -> Section {
    let mut s = Section::new("Keyspace");
    for (i, &(keys, expires, avg)) in data.map(|d| &d.dbs[..]).unwrap_or(&[]).iter().enumerate() {
        if keys > 0 || expires > 0 {
            s.f(
                &format!("db{i}"),
                format!("keys={keys},expires={expires},avg_ttl={avg}"),
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1163736), "1.11M");
    }

    #[test]
    fn selection() {
        let names = |args: &[&str]| {
            let a: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
            let sel = select(&a);
            SECTIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| sel[*i])
                .map(|(_, s)| *s)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&["KEYSPACE", "server", "keyspace"]),
            ["server", "keyspace"]
        );
        assert_eq!(names(&["foo"]), Vec::<&str>::new());
        assert!(!names(&[]).contains(&"commandstats"));
        assert!(names(&["everything"]).contains(&"latencystats"));
    }
}

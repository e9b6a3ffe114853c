//! Prometheus metrics and the HTTP endpoints Kubernetes and Prometheus use.
//!
//! Architecture Invariant: the only user of the `prometheus` crate. Nothing on the data path
//! touches a Prometheus type: shards and connections bump plain relaxed atomics they own
//! (src/shard/stats.rs, `ServerStats`, [`Counters`]), and a scrape turns a snapshot of those
//! into metric families. Every label set is bounded: command names come from the command table,
//! shards and databases from the configuration, origins and outcomes from fixed enums.

mod http;

pub use http::serve as serve_http;

use crate::server::Server;
use crate::shard::LATENCY_BUCKETS;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Where a script came from.
#[derive(Clone, Copy, Debug)]
pub enum Origin {
    Eval = 0,
    Evalsha = 1,
    Fcall = 2,
}

/// How a script run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok = 0,
    Error = 1,
    Killed = 2,
    Busy = 3,
}

const ORIGINS: [&str; 3] = ["eval", "evalsha", "fcall"];
const OUTCOMES: [&str; 4] = ["ok", "error", "killed", "busy"];

/// Server-wide counters that have no better owner.
#[derive(Default)]
pub struct Counters {
    scripts: [[AtomicU64; 4]; 3],
    // Script cache size, evictions, re-runs and function libraries are read from
    // `Scripting`, which owns them.
}

impl Counters {
    pub fn script_run(&self, origin: Origin, outcome: Outcome) {
        self.scripts[origin as usize][outcome as usize].fetch_add(1, Relaxed);
    }

    pub fn script_runs(&self, origin: Origin, outcome: Outcome) -> u64 {
        self.scripts[origin as usize][outcome as usize].load(Relaxed)
    }
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

fn counter(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    let mut c = Counter::default();
    c.set_value(v);
    m.set_counter(c);
    m
}

fn gauge(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    let mut g = Gauge::default();
    g.set_value(v);
    m.set_gauge(g);
    m
}

/// Resident set size of this process, from /proc.
pub fn rss_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * page)
        .unwrap_or(0)
}

/// A snapshot of every metric, in Prometheus text format.
pub fn render(server: &Server) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&gather(server))
        .unwrap_or_default()
}

pub fn gather(server: &Server) -> Vec<MetricFamily> {
    let mut fams = Vec::new();
    let shards = &server.shards;

    // Commands: summed over shards, one series per command that has run.
    let (mut processed, mut failed, mut hist) = (Vec::new(), Vec::new(), Vec::new());
    for c in crate::commands::all_commands() {
        let id = c.id as usize;
        // Shard commands count on their shard, connection commands (EVAL, PING, …) on
        // `conn_stats`: each command is in exactly one of them.
        let all_stats = || {
            shards
                .iter()
                .map(|s| &s.stats)
                .chain(std::iter::once(&server.conn_stats))
        };
        let calls: u64 = all_stats().map(|s| s.cmds[id].calls.get()).sum();
        if calls == 0 {
            continue;
        }
        let name = crate::commands::full_name(c.id);
        let fails: u64 = all_stats().map(|s| s.cmds[id].failed.get()).sum();
        let usec: u64 = all_stats().map(|s| s.cmds[id].usec.get()).sum();
        processed.push(counter(&[("command", name)], calls as f64));
        failed.push(counter(&[("command", name)], fails as f64));
        let mut h = Histogram::default();
        let mut cumulative = 0;
        let mut buckets = Vec::new();
        for (i, ub) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += all_stats()
                .map(|s| s.cmds[id].buckets[i].get())
                .sum::<u64>();
            let mut b = Bucket::default();
            b.set_upper_bound(*ub);
            b.set_cumulative_count(cumulative);
            buckets.push(b);
        }
        h.set_bucket(buckets);
        h.set_sample_count(calls);
        h.set_sample_sum(usec as f64 / 1e6);
        let mut m = Metric::default();
        m.set_label(labels(&[("command", name)]));
        m.set_histogram(h);
        hist.push(m);
    }
    fams.push(family(
        "luagate_commands_processed_total",
        "Commands executed, by command.",
        MetricType::COUNTER,
        processed,
    ));
    fams.push(family(
        "luagate_commands_failed_total",
        "Commands that replied an error, by command.",
        MetricType::COUNTER,
        failed,
    ));
    fams.push(family(
        "luagate_errors_total",
        "Error replies by error code, as INFO errorstats counts them (in cluster mode MOVED, \
         CROSSSLOT and CLUSTERDOWN are the redirects).",
        MetricType::COUNTER,
        server
            .errors
            .snapshot()
            .iter()
            .map(|(code, n)| counter(&[("code", code)], *n as f64))
            .collect(),
    ));
    fams.push(family(
        "luagate_command_duration_seconds",
        "Command execution time on the shard.",
        MetricType::HISTOGRAM,
        hist,
    ));

    let st = &server.stats;
    fams.push(family(
        "luagate_connections_current",
        "Connected clients.",
        MetricType::GAUGE,
        vec![gauge(&[], server.clients.connected() as f64)],
    ));
    fams.push(family(
        "luagate_connections_received_total",
        "Connections accepted.",
        MetricType::COUNTER,
        vec![counter(&[], st.connections_received.load(Relaxed) as f64)],
    ));
    fams.push(family(
        "luagate_connections_rejected_total",
        "Connections refused because of maxclients.",
        MetricType::COUNTER,
        vec![counter(&[], st.rejected_connections.load(Relaxed) as f64)],
    ));
    fams.push(family(
        "luagate_network_received_bytes_total",
        "Bytes read from clients.",
        MetricType::COUNTER,
        vec![counter(&[], st.net_input_bytes.load(Relaxed) as f64)],
    ));
    fams.push(family(
        "luagate_network_sent_bytes_total",
        "Bytes written to clients.",
        MetricType::COUNTER,
        vec![counter(&[], st.net_output_bytes.load(Relaxed) as f64)],
    ));

    // Keyspace and shards.
    let (mut keys, mut expiring, mut lua, mut busy, mut queue) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, s) in shards.iter().enumerate() {
        let shard = i.to_string();
        for (db, k) in s.stats.keys.iter().enumerate() {
            let n = k.load(Relaxed);
            let e = s.stats.expiring[db].load(Relaxed);
            if n == 0 && db != 0 {
                continue;
            }
            let dbs = db.to_string();
            keys.push(gauge(&[("shard", &shard), ("db", &dbs)], n as f64));
            expiring.push(gauge(&[("shard", &shard), ("db", &dbs)], e as f64));
        }
        let vm = server
            .scripting
            .vm_memory
            .get(i)
            .map(|m| m.load(Relaxed))
            .unwrap_or(0);
        lua.push(gauge(&[("shard", &shard)], vm as f64));
        busy.push(counter(
            &[("shard", &shard)],
            s.stats.busy_usec.load(Relaxed) as f64 / 1e6,
        ));
        queue.push(gauge(&[("shard", &shard)], s.tx.len() as f64));
    }
    fams.push(family(
        "luagate_keyspace_keys",
        "Keys per shard and database.",
        MetricType::GAUGE,
        keys,
    ));
    fams.push(family(
        "luagate_keyspace_expiring_keys",
        "Keys with an expiry per shard and database.",
        MetricType::GAUGE,
        expiring,
    ));
    fams.push(family(
        "luagate_keyspace_evicted_keys_total",
        "Keys deleted to stay under maxmemory (INFO evicted_keys).",
        MetricType::COUNTER,
        vec![counter(&[], server.evicted_keys.load(Relaxed) as f64)],
    ));
    if let Some(bus) = server.bus.get() {
        fams.push(family(
            "luagate_cluster_bus_dropped_total",
            "Pub/Sub messages not passed on to another cluster node (its link down or its queue full).",
            MetricType::COUNTER,
            vec![counter(&[], bus.dropped.load(Relaxed) as f64)],
        ));
    }
    fams.push(family(
        "luagate_lua_memory_bytes",
        "Bytes used by each shard's Lua VM.",
        MetricType::GAUGE,
        lua,
    ));
    fams.push(family(
        "luagate_shard_busy_seconds_total",
        "Time shards spent in scripts past the busy threshold.",
        MetricType::COUNTER,
        busy,
    ));
    fams.push(family(
        "luagate_shard_queue_depth",
        "Units waiting in each shard's queue.",
        MetricType::GAUGE,
        queue,
    ));
    fams.push(family(
        "luagate_process_resident_memory_bytes",
        "Resident set size of the server process.",
        MetricType::GAUGE,
        vec![gauge(&[], rss_bytes() as f64)],
    ));

    // Scripting.
    let c = &server.counters;
    let si = server.scripting.info();
    let mut runs = Vec::new();
    for (o, origin) in ORIGINS.iter().enumerate() {
        for (r, outcome) in OUTCOMES.iter().enumerate() {
            runs.push(counter(
                &[("origin", origin), ("outcome", outcome)],
                c.scripts[o][r].load(Relaxed) as f64,
            ));
        }
    }
    fams.push(family(
        "luagate_scripts_executions_total",
        "Script and function runs by origin and outcome.",
        MetricType::COUNTER,
        runs,
    ));
    fams.push(family(
        "luagate_scripts_reruns_total",
        "Scripts re-run with more shards after reaching an undeclared key.",
        MetricType::COUNTER,
        vec![counter(&[], si.scripts_reruns as f64)],
    ));
    fams.push(family(
        "luagate_scripts_cached",
        "Scripts in the script cache.",
        MetricType::GAUGE,
        vec![gauge(&[], si.number_of_cached_scripts as f64)],
    ));
    fams.push(family(
        "luagate_scripts_evicted_total",
        "EVAL scripts evicted from the cache.",
        MetricType::COUNTER,
        vec![counter(&[], si.evicted_scripts as f64)],
    ));
    fams.push(family(
        "luagate_functions_libraries",
        "Function libraries loaded.",
        MetricType::GAUGE,
        vec![gauge(
            &[],
            server.scripting.functions.snapshot().libs.len() as f64,
        )],
    ));
    replication(server, &mut fams);
    fams.push(family(
        "luagate_up",
        "1 while the server runs.",
        MetricType::GAUGE,
        vec![gauge(&[], 1.0)],
    ));
    fams.push(family(
        "luagate_ready",
        "1 when the server is ready to serve.",
        MetricType::GAUGE,
        vec![gauge(&[], server.is_ready() as u8 as f64)],
    ));
    fams.retain(|f| !f.get_metric().is_empty());
    fams
}

/// Replication: the stream's offset (a follower mirrors its leader's, so offsets compare
/// across a leader and its followers), this node's followers and how far the slowest lags,
/// the syncs it served, and a follower's link.
fn replication(server: &Server, fams: &mut Vec<MetricFamily>) {
    let repl = &server.repl;
    let offset = repl.stream.offset();
    fams.push(family(
        "luagate_replication_offset_bytes",
        "Offset of the effect stream (master_repl_offset); a follower's is its leader's.",
        MetricType::GAUGE,
        vec![gauge(&[], offset as f64)],
    ));
    let followers = repl.replicas();
    let lag = followers
        .iter()
        .filter(|r| r.online.load(Relaxed))
        .map(|r| offset.saturating_sub(r.ack.load(Relaxed)))
        .max()
        .unwrap_or(0);
    fams.push(family(
        "luagate_replication_followers",
        "Followers attached to this node.",
        MetricType::GAUGE,
        vec![gauge(&[], followers.len() as f64)],
    ));
    fams.push(family(
        "luagate_replication_follower_lag_bytes",
        "Bytes of the effect stream the slowest online follower has not acknowledged.",
        MetricType::GAUGE,
        vec![gauge(&[], lag as f64)],
    ));
    fams.push(family(
        "luagate_replication_syncs_total",
        "Synchronizations this node served its followers: full, partial, and partial requests it refused.",
        MetricType::COUNTER,
        vec![
            counter(&[("kind", "full")], repl.full_syncs_served.load(Relaxed) as f64),
            counter(&[("kind", "partial")], repl.partial_syncs_served.load(Relaxed) as f64),
            counter(
                &[("kind", "partial_refused")],
                repl.partial_syncs_refused.load(Relaxed) as f64,
            ),
        ],
    ));
    let link = repl
        .link()
        .map(|l| gauge(&[], l.up.load(Relaxed) as u8 as f64));
    fams.push(family(
        "luagate_replication_link_up",
        "On a follower, 1 while its link with the leader is up (absent on a leader).",
        MetricType::GAUGE,
        link.into_iter().collect(),
    ));
}

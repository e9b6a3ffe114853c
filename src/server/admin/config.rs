//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP over a table of parameters.
//!
//! Invariants: the table below is the one list of parameters CONFIG knows, each with Redis's
//! type, bounds and mutability, so GET and SET agree and errors are Redis's. CONFIG SET is
//! atomic: every pair is checked, then all are applied to one copy of the configuration that
//! replaces the current one in a single store (readers never see half of a SET).

use super::super::connection::Conn;
use super::super::Server;
use crate::commands::{is, parse_i64};
use crate::config::Config;
use crate::error::CommandError;
use crate::keyspace::glob::glob_match;
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

use super::config_params::*;
use Access::*;
use Kind::*;

/// A parameter by name or alias (any case), and the name it was found under.
fn lookup(name: &[u8]) -> Option<(&'static Param, &'static str)> {
    PARAMS.iter().find_map(|p| {
        if is(name, p.name) {
            Some((p, p.name))
        } else {
            p.alias.filter(|a| is(name, a)).map(|a| (p, a))
        }
    })
}

/// The current value of `p`, as CONFIG GET shows it.
fn value(server: &Server, cfg: &Config, p: &Param) -> String {
    match p.name {
        "port" => server.port.to_string(),
        "bind" => cfg
            .bind
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        "databases" => cfg.databases.to_string(),
        "dir" => std::fs::canonicalize(&cfg.dir)
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|_| cfg.dir.clone()),
        "requirepass" => cfg.requirepass.clone().unwrap_or_default(),
        "maxclients" => cfg.maxclients.to_string(),
        "timeout" => cfg.timeout.to_string(),
        "tcp-keepalive" => cfg.tcp_keepalive.to_string(),
        "proto-max-bulk-len" => cfg.proto_max_bulk_len.to_string(),
        "busy-reply-threshold" => cfg.busy_reply_threshold_ms.to_string(),
        "maxmemory" => cfg.maxmemory.to_string(),
        "maxmemory-policy" => cfg.maxmemory_policy.clone(),
        "enable-debug-command" => cfg.enable_debug_command.clone(),
        "appendonly" => cfg.appendonly.clone(),
        "appendfsync" => cfg.appendfsync.clone(),
        "appendfilename" => cfg.appendfilename.clone(),
        "dbfilename" => cfg.dbfilename.clone(),
        "auto-aof-rewrite-min-size" => cfg.auto_aof_rewrite_min_size.to_string(),
        "auto-aof-rewrite-percentage" => cfg.auto_aof_rewrite_percentage.to_string(),
        "replica-serve-stale-data" => cfg.replica_serve_stale_data.clone(),
        "min-replicas-to-write" => cfg.min_replicas_to_write.to_string(),
        "min-replicas-max-lag" => cfg.min_replicas_max_lag.to_string(),
        "repl-backlog-size" => cfg.repl_backlog_size.to_string(),
        "repl-ping-replica-period" => cfg.repl_ping_replica_period.to_string(),
        "repl-timeout" => cfg.repl_timeout.to_string(),
        "masterauth" => cfg.masterauth.clone().unwrap_or_default(),
        "save" => cfg.save.clone(),
        "loglevel" => cfg.log_level.clone(),
        "hz" => cfg.hz.to_string(),
        "slowlog-log-slower-than" => cfg.slowlog_log_slower_than.to_string(),
        "slowlog-max-len" => cfg.slowlog_max_len.to_string(),
        "latency-monitor-threshold" => cfg.latency_monitor_threshold.to_string(),
        "latency-tracking" => cfg.latency_tracking.clone(),
        "latency-tracking-info-percentiles" => cfg.latency_tracking_info_percentiles.clone(),
        "lua-memory-limit" => cfg.lua_memory_limit.to_string(),
        "single-slot-scripts" => if cfg.single_slot_scripts {
            "always"
        } else {
            "cluster"
        }
        .into(),
        "shutdown-timeout" => cfg.shutdown_timeout.to_string(),
        "shards" => server.shards.len().to_string(),
        "io-workers" => cfg.io_worker_count().to_string(),
        "log-format" => cfg.log_format.clone(),
        "metrics-bind" => cfg.metrics_bind.to_string(),
        "metrics-port" => cfg.metrics_port.to_string(),
        "cluster-enabled" => cfg.cluster_enabled.clone(),
        "cluster-nodes" => cfg.cluster_nodes.join(", "),
        "cluster-announce-ip" => cfg.cluster_announce_ip.clone().unwrap_or_default(),
        "cluster-announce-port" => cfg.cluster_announce_port.to_string(),
        "notify-keyspace-events" => crate::commands::notify::to_string(
            cfg.knobs
                .get(p.name)
                .and_then(|v| crate::commands::notify::parse(v.as_bytes()))
                .unwrap_or(0),
        ),
        _ => cfg
            .knobs
            .get(p.name)
            .cloned()
            .unwrap_or_else(|| p.default.to_string()),
    }
}

/// Checks `v` against `p`'s type and returns its canonical form, or Redis's reason.
fn parse(p: &Param, v: &[u8]) -> Result<String, String> {
    match p.kind {
        Bool => {
            if is(v, "yes") {
                Ok("yes".into())
            } else if is(v, "no") {
                Ok("no".into())
            } else {
                Err("argument must be 'yes' or 'no'".into())
            }
        }
        Int { min, max } => {
            let n = parse_i64(v).ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Mem { min, max } => {
            let n = parse_memory(v).ok_or("argument must be a memory value")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Enum(options) => options
            .iter()
            .find(|o| is(v, o))
            .map(|o| o.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    options.join(", ")
                )
            }),
        Str => Ok(String::from_utf8_lossy(v).into_owned()),
    }
}

/// A memory amount: digits and an optional unit (b, k, kb, m, mb, g, gb; any case).
pub fn parse_memory(v: &[u8]) -> Option<u64> {
    let digits = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = std::str::from_utf8(&v[digits..]).ok()?.to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits == 0 {
        0
    } else {
        std::str::from_utf8(&v[..digits]).ok()?.parse().ok()?
    };
    n.checked_mul(mul)
}

/// Stores a checked value into the configuration; refuses what luagate cannot do.
fn apply(cfg: &mut Config, p: &Param, v: &str) -> Result<(), String> {
    let int = || v.parse::<u64>().map_err(|_| "bad value".to_string());
    match p.name {
        "requirepass" => cfg.requirepass = (!v.is_empty()).then(|| v.to_string()),
        "maxclients" => cfg.maxclients = int()? as usize,
        "timeout" => cfg.timeout = int()?,
        "tcp-keepalive" => cfg.tcp_keepalive = int()?,
        "proto-max-bulk-len" => cfg.proto_max_bulk_len = int()? as i64,
        "busy-reply-threshold" => cfg.busy_reply_threshold_ms = int()?,
        "maxmemory" => cfg.maxmemory = int()?,
        "maxmemory-policy" => {
            if crate::shard::evict::Policy::from_name(v).is_none() {
                return Err("unknown policy".into());
            }
            cfg.maxmemory_policy = v.to_string();
        }
        "loglevel" => cfg.log_level = v.to_string(),
        "hz" => cfg.hz = int()?.clamp(1, 500),
        "slowlog-log-slower-than" => {
            cfg.slowlog_log_slower_than = v.parse().map_err(|_| "bad value".to_string())?
        }
        "slowlog-max-len" => cfg.slowlog_max_len = int()?,
        "latency-monitor-threshold" => cfg.latency_monitor_threshold = int()?,
        "latency-tracking" => cfg.latency_tracking = v.to_string(),
        "latency-tracking-info-percentiles" => {
            // Kept in Redis's canonical spelling (`1e2` reads back as `100`).
            let ps = crate::config::parse_percentiles(v)?;
            cfg.latency_tracking_info_percentiles = ps
                .into_iter()
                .map(crate::config::percentile_text)
                .collect::<Vec<_>>()
                .join(" ");
        }
        "lua-memory-limit" => cfg.lua_memory_limit = int()?,
        "single-slot-scripts" => cfg.single_slot_scripts = v == "always",
        "notify-keyspace-events" => {
            if crate::commands::notify::parse(v.as_bytes()).is_none() {
                return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
            }
            // Stored as given (CONFIG GET shows the canonical form, in which `A` hides `n`).
            cfg.knobs.insert(p.name.to_string(), v.to_string());
        }
        "shutdown-timeout" => cfg.shutdown_timeout = int()?,
        "appendonly" => {
            if v != cfg.appendonly {
                return Err("appendonly is set at start (flag or config file)".into());
            }
        }
        "appendfsync" => cfg.appendfsync = v.to_string(),
        "replica-serve-stale-data" => cfg.replica_serve_stale_data = v.to_string(),
        "min-replicas-to-write" => cfg.min_replicas_to_write = int()?,
        "min-replicas-max-lag" => cfg.min_replicas_max_lag = int()?,
        "masterauth" => cfg.masterauth = (!v.is_empty()).then(|| v.to_string()),
        "repl-ping-replica-period" => cfg.repl_ping_replica_period = int()?.max(1),
        "repl-timeout" => cfg.repl_timeout = int()?.max(1),
        "auto-aof-rewrite-min-size" => cfg.auto_aof_rewrite_min_size = int()?,
        "auto-aof-rewrite-percentage" => cfg.auto_aof_rewrite_percentage = int()?,
        "save" => {
            if crate::config::parse_save_points(v).is_none() {
                return Err("Invalid save parameters".into());
            }
            cfg.save = v.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        name => {
            cfg.knobs.insert(name.to_string(), v.to_string());
        }
    }
    Ok(())
}

/// CONFIG GET pattern [pattern …]: a map of every matching parameter (aliases included).
pub fn get(conn: &Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let cfg = conn.server.config();
    let mut out: Vec<(String, &Param)> = Vec::new();
    let mut add = |key: String, p: &'static Param| {
        if !out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            out.push((key, p));
        }
    };
    for pat in &args[2..] {
        if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
            if let Some((p, _)) = lookup(pat) {
                add(String::from_utf8_lossy(pat).into_owned(), p);
            }
            continue;
        }
        for p in PARAMS.iter().filter(|p| !OWN.contains(&p.name)) {
            for name in std::iter::once(p.name).chain(p.alias) {
                if glob_match(pat, name.as_bytes(), true) {
                    add(name.to_string(), p);
                }
            }
        }
    }
    Ok(Reply::Map(
        out.into_iter()
            .map(|(k, p)| {
                (
                    Reply::bulk_str(&k),
                    Reply::bulk_str(&value(&conn.server, &cfg, p)),
                )
            })
            .collect(),
    ))
}

/// CONFIG SET name value [name value …], all or nothing.
pub fn set(conn: &Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let pairs = &args[2..];
    if !pairs.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let failed = |name: &str, why: &str| {
        CommandError::err(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    let mut found: Vec<(&Param, &'static str, &[u8])> = Vec::new();
    for (i, pair) in pairs.chunks(2).enumerate() {
        let given = String::from_utf8_lossy(&pair[0]);
        let (p, name) = lookup(&pair[0]).ok_or_else(|| {
            CommandError::err(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{given}'"
            ))
        })?;
        match p.access {
            Immutable => return Err(failed(&given, "can't set immutable config")),
            Protected => return Err(failed(&given, "can't set protected config")),
            Mutable => {}
        }
        if pairs[..i * 2]
            .chunks(2)
            .any(|q| q[0].eq_ignore_ascii_case(&pair[0]))
        {
            return Err(failed(&given, "duplicate parameter"));
        }
        found.push((p, name, &pair[1]));
    }
    let mut checked = Vec::with_capacity(found.len());
    for (p, name, v) in found {
        checked.push((p, name, parse(p, v).map_err(|why| failed(name, &why))?));
    }
    let mut cfg = (**conn.server.config()).clone();
    for (p, name, v) in &checked {
        apply(&mut cfg, p, v).map_err(|why| failed(name, &why))?;
    }
    let level_changed = cfg.log_level != conn.server.config().log_level;
    if level_changed {
        crate::logging::set_level(&cfg.log_level);
    }
    conn.server.update_config(|c| *c = cfg);
    Ok(Reply::ok())
}

/// CONFIG RESETSTAT: zeroes the INFO counters (commandstats, errorstats, stats) and the
/// per-command latency histograms (latencystats, LATENCY HISTOGRAM).
pub async fn resetstat(conn: &mut Conn) -> Result<Reply, CommandError> {
    let server = conn.server.clone();
    for s in &server.shards {
        s.stats.reset();
    }
    server.conn_stats.reset();
    server.conn_stats.clear_histograms();
    server.errors.reset();
    let st = &server.stats;
    for c in [
        &server.evicted_keys,
        &st.connections_received,
        &st.rejected_connections,
        &st.commands_processed,
        &st.net_input_bytes,
        &st.net_output_bytes,
        &server.repl.full_syncs_served,
        &server.repl.partial_syncs_served,
        &server.repl.partial_syncs_refused,
    ] {
        c.store(0, Relaxed);
    }
    let all: Vec<usize> = (0..server.shards.len()).collect();
    conn.run_job_value(all, |ctx| {
        // A shard's histograms are written with plain stores by its holder: cleared by one.
        for handle in ctx.server.shards.iter() {
            handle.stats.clear_histograms();
        }
        for shard in ctx.held_shards() {
            for db in &mut shard.dbs {
                db.stat_hits = 0;
                db.stat_misses = 0;
                db.stat_expired = 0;
            }
        }
    })
    .await;
    Ok(Reply::ok())
}

/// CONFIG REWRITE: the running values go back into the file given with `--config`. The
/// stored-only parameters have no place in the file and are not written.
pub fn rewrite(conn: &Conn) -> Result<Reply, CommandError> {
    let cfg = conn.server.config();
    let Some(path) = cfg.source.as_deref() else {
        return Err(CommandError::err(
            "ERR The server is running without a config file",
        ));
    };
    crate::config::rewrite_file(path, &cfg).map_err(|e| {
        tracing::warn!(error = %e, path = %path.display(), "CONFIG REWRITE failed");
        CommandError::err(format!("ERR Rewriting config file: {e}"))
    })?;
    tracing::info!(path = %path.display(), "configuration rewritten");
    Ok(Reply::ok())
}

pub fn help() -> Reply {
    Reply::help(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return the values of the parameters matching the glob-like <pattern>.",
        "SET <directive> <value>",
        "    Set the parameter <directive> to <value>.",
        "RESETSTAT",
        "    Zero the statistics INFO reports.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory(b"10"), Some(10));
        assert_eq!(parse_memory(b"10KB"), Some(10240));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"2gb"), Some(2 << 30));
        assert_eq!(parse_memory(b"1.5mb"), None);
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"1x"), None);
    }

    #[test]
    fn own_parameters_are_in_the_table() {
        for name in OWN {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
    }

    #[test]
    fn every_name_is_unique() {
        let mut names: Vec<&str> = PARAMS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.alias))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}

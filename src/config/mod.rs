//! Server configuration: built-in defaults, the YAML file, the environment and the command line,
//! applied in that order (later wins).
//!
//! Invariant: `Config::default()` is the one source of default values, and
//! `config/default.yaml` spells out exactly those values (a test compares them). Unknown keys
//! and bad values are errors that name the file, line and column; nothing is silently ignored.

mod file;
mod rewrite;

pub use file::{load_file, ConfigError};
pub use rewrite::{rewrite_file, rewrite_text};

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Addresses to listen on, all on `port`.
    pub bind: Vec<IpAddr>,
    pub port: u16,
    /// Number of shard threads; 0 means one per available core.
    pub shards: usize,
    /// Threads running connection tasks (and the units they run inline); 0 means one per
    /// available core.
    pub io_workers: usize,
    pub databases: usize,
    /// Data directory (function libraries, the append-only log, snapshots).
    pub dir: String,
    /// Password of the default user; null means none.
    pub requirepass: Option<String>,
    pub maxclients: usize,
    /// Idle client timeout in seconds; 0 disables.
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub proto_max_bulk_len: i64,
    /// Milliseconds after which a running script makes its shard answer -BUSY.
    #[serde(rename = "busy-reply-threshold")]
    pub busy_reply_threshold_ms: u64,
    /// `no`, `yes` or `local`, as Redis's `enable-debug-command`.
    pub enable_debug_command: String,
    /// Bytes; 0 means no limit.
    pub maxmemory: u64,
    /// `debug`, `verbose`, `notice` or `warning`.
    #[serde(rename = "loglevel")]
    pub log_level: String,
    /// Only `noeviction` is implemented; CONFIG SET refuses the others.
    pub maxmemory_policy: String,
    /// Background task frequency as Redis reports it (INFO `hz`); 1..=500.
    pub hz: u64,
    /// Parameters accepted and reported by CONFIG but with no effect on the server yet
    /// (encoding thresholds, slowlog knobs …): name → canonical value. Absent means default.
    #[serde(skip)]
    pub knobs: std::collections::BTreeMap<String, String>,
    /// Enforce Redis Cluster's single-slot rule on flagged scripts even in standalone mode
    /// (`single-slot-scripts: always`; `cluster` = only in cluster mode).
    #[serde(with = "always_or_cluster")]
    pub single_slot_scripts: bool,
    /// Memory limit of each shard's Lua VM in bytes; 0 = none.
    pub lua_memory_limit: u64,
    /// `text` or `json`.
    pub log_format: String,
    /// Address and port of the HTTP listener for /metrics, /healthz and /readyz; port 0
    /// disables it.
    pub metrics_bind: IpAddr,
    pub metrics_port: u16,
    /// Seconds SHUTDOWN / SIGTERM waits for in-flight work.
    pub shutdown_timeout: u64,
    /// Bytes of effect stream a follower may have queued and unwritten before the leader
    /// drops it (Redis: the hard limit of `client-output-buffer-limit replica`); 0 = none.
    pub replica_output_buffer_limit: u64,
    /// `host:port` of the leader to follow at start; null = start as a leader.
    pub replicaof: Option<String>,
    /// Password sent to the leader when it requires one.
    pub masterauth: Option<String>,
    /// Bytes of effect stream kept for partial resynchronization of followers.
    pub repl_backlog_size: u64,
    /// Seconds between the PINGs a leader sends down an idle stream (keeps links alive).
    pub repl_ping_replica_period: u64,
    /// Seconds without data after which a follower declares its link down (and reconnects),
    /// and a leader drops a follower that stopped acknowledging.
    pub repl_timeout: u64,
    /// `yes`: a follower whose link is down still answers with its data; `no`: -MASTERDOWN.
    pub replica_serve_stale_data: String,
    /// A leader refuses writes (-NOREPLICAS) unless this many followers acknowledged within
    /// `min-replicas-max-lag` seconds; 0 = never refuse.
    pub min_replicas_to_write: u64,
    /// Seconds since a follower's last acknowledgement for it to count toward
    /// `min-replicas-to-write`; 0 = never refuse.
    pub min_replicas_max_lag: u64,
    /// `yes` writes the effect stream to an append-only log under `dir` and loads it at start.
    pub appendonly: String,
    /// `always`, `everysec` or `no`.
    pub appendfsync: String,
    /// File name of the append-only log inside `dir`.
    pub appendfilename: String,
    /// File name of the snapshot (SAVE, BGSAVE, SHUTDOWN SAVE) inside `dir`. Its content is
    /// luagate's own snapshot format, not Redis's RDB.
    pub dbfilename: String,
    /// Save points, Redis's `save`: "<seconds> <changes> …" pairs; empty = never.
    pub save: String,
    /// The log is rewritten automatically once it is at least this many bytes and has grown by
    /// `auto-aof-rewrite-percentage` since its last rewrite (or load).
    pub auto_aof_rewrite_min_size: u64,
    /// Growth in percent that triggers an automatic rewrite; 0 disables it.
    pub auto_aof_rewrite_percentage: u64,
    /// Commands running at least this many microseconds go to the slow log; -1 disables it.
    pub slowlog_log_slower_than: i64,
    /// Most entries the slow log keeps.
    pub slowlog_max_len: u64,
    /// Milliseconds: events (slow commands, expiry and eviction passes, log writes) lasting at
    /// least this long are recorded for LATENCY LATEST/HISTORY/GRAPH/DOCTOR; 0 = off.
    pub latency_monitor_threshold: u64,
    /// `yes`: keep a latency histogram per command (LATENCY HISTOGRAM, INFO latencystats).
    pub latency_tracking: String,
    /// Percentiles INFO latencystats reports, 0..=100, separated by spaces.
    pub latency_tracking_info_percentiles: String,
    /// `yes`: serve as a node of a Redis Cluster (src/cluster).
    pub cluster_enabled: String,
    /// The cluster's nodes, the same list on every node: `"host:port first-last …"` for a
    /// primary and the slots it serves, `"host:port replica-of host:port"` for a replica.
    /// Empty: this node alone serves every slot.
    pub cluster_nodes: Vec<String>,
    /// This node's host in `cluster-nodes` (and as clients are told); null = the first `bind`
    /// address (when that is 0.0.0.0 or ::, the address each client connected to).
    pub cluster_announce_ip: Option<String>,
    /// This node's port in `cluster-nodes`; 0 = `port`.
    pub cluster_announce_port: u16,
    /// The file the configuration was read from (CONFIG REWRITE writes it back).
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec![IpAddr::from([127, 0, 0, 1])],
            port: 6379,
            shards: 0,
            io_workers: 0,
            databases: 16,
            dir: ".".into(),
            requirepass: None,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            proto_max_bulk_len: crate::protocol::DEFAULT_MAX_BULK_LEN,
            busy_reply_threshold_ms: 5000,
            enable_debug_command: "no".into(),
            maxmemory: 0,
            log_level: "notice".into(),
            maxmemory_policy: "noeviction".into(),
            hz: 10,
            knobs: Default::default(),
            single_slot_scripts: false,
            lua_memory_limit: 1 << 30,
            log_format: "text".into(),
            metrics_bind: IpAddr::from([127, 0, 0, 1]),
            metrics_port: 9121,
            shutdown_timeout: 10,
            replica_output_buffer_limit: 256 << 20,
            replicaof: None,
            masterauth: None,
            repl_backlog_size: 1 << 20,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            replica_serve_stale_data: "yes".into(),
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            appendonly: "no".into(),
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            dbfilename: "dump.rdb".into(),
            save: String::new(),
            auto_aof_rewrite_min_size: 64 << 20,
            auto_aof_rewrite_percentage: 100,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: "yes".into(),
            latency_tracking_info_percentiles: "50 99 99.9".into(),
            cluster_enabled: "no".into(),
            cluster_nodes: Vec::new(),
            cluster_announce_ip: None,
            cluster_announce_port: 0,
            source: None,
        }
    }
}

/// `single-slot-scripts` is spelled `always` or `cluster` in files and flags.
mod always_or_cluster {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "always" } else { "cluster" })
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "always" => Ok(true),
            "cluster" | "never" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "single-slot-scripts must be always or cluster, not '{other}'"
            ))),
        }
    }
}

/// Flags that take a value, with the config key each one sets.
const FLAGS: &[&str] = &[
    "bind",
    "port",
    "shards",
    "io-workers",
    "databases",
    "dir",
    "requirepass",
    "maxclients",
    "timeout",
    "tcp-keepalive",
    "proto-max-bulk-len",
    "busy-reply-threshold",
    "lua-time-limit",
    "lua-memory-limit",
    "enable-debug-command",
    "maxmemory",
    "maxmemory-policy",
    "single-slot-scripts",
    "loglevel",
    "hz",
    "log-format",
    "metrics-bind",
    "metrics-port",
    "shutdown-timeout",
    "replicaof",
    "replica-output-buffer-limit",
    "masterauth",
    "repl-backlog-size",
    "repl-ping-replica-period",
    "repl-timeout",
    "replica-serve-stale-data",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "appendonly",
    "appendfsync",
    "appendfilename",
    "dbfilename",
    "save",
    "auto-aof-rewrite-min-size",
    "auto-aof-rewrite-percentage",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "cluster-enabled",
    "cluster-nodes",
    "cluster-announce-ip",
    "cluster-announce-port",
];

/// `latency-tracking-info-percentiles`: numbers from 0 to 100 (C `strtod` syntax) separated
/// by single spaces, or nothing; the error is Redis's reason.
pub fn parse_percentiles(v: &str) -> Result<Vec<f64>, &'static str> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    v.split(' ')
        .map(|w| {
            let p = crate::commands::parse_f64(w.as_bytes())
                .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&p) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
                );
            }
            Ok(p)
        })
        .collect()
}

/// A percentile as Redis prints one (`%f` without trailing zeros): `50`, `99.9`, `12.5`.
pub fn percentile_text(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Redis's `save` value: pairs of non-negative integers (seconds, changes); `None` if invalid.
pub fn parse_save_points(v: &str) -> Option<Vec<(u64, u64)>> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return None;
    }
    words
        .chunks(2)
        .map(|p| Some((p[0].parse().ok()?, p[1].parse().ok()?)))
        .collect()
}

impl Config {
    /// The shard count to use: configured, or one per available core.
    pub fn shard_count(&self) -> usize {
        if self.shards > 0 {
            self.shards
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }

    /// The I/O worker count to use: configured, or one per available core.
    pub fn io_worker_count(&self) -> usize {
        if self.io_workers > 0 {
            self.io_workers
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }

    /// Sets one key from its string form (flags, environment, CONFIG SET). `name` is the
    /// kebab-case key; aliases are resolved here.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let name = match name {
            "lua-time-limit" => "busy-reply-threshold",
            n => n,
        };
        // Reuse the YAML schema for parsing and validation: one key, one value.
        let parsed = if name == "bind" {
            serde_yaml::Value::Sequence(
                value
                    .split_whitespace()
                    .map(|a| serde_yaml::Value::String(a.to_string()))
                    .collect(),
            )
        } else if name == "cluster-nodes" {
            // One flag or variable for the whole list: entries separated by commas.
            serde_yaml::Value::Sequence(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(|e| serde_yaml::Value::String(e.to_string()))
                    .collect(),
            )
        } else {
            match serde_yaml::from_str::<serde_yaml::Value>(value) {
                Ok(v @ (serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_))) => v,
                _ => serde_yaml::Value::String(value.to_string()),
            }
        };
        let mut current = serde_yaml::to_value(&*self).map_err(|e| e.to_string())?;
        let Some(cur) = current.as_mapping_mut() else {
            return Err("config is not a mapping".into());
        };
        let key = serde_yaml::Value::String(name.to_string());
        let is_string = match cur.get(&key) {
            None => return Err(format!("unknown option '{name}'")),
            // `requirepass` is null when unset; it is still a string key.
            Some(v) => v.is_string() || v.is_null(),
        };
        cur.insert(key, stringify_if_needed(is_string, parsed));
        let mut next: Config =
            serde_yaml::from_value(current).map_err(|e| format!("{name}: {e}"))?;
        next.knobs = self.knobs.clone();
        next.source = self.source.clone();
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks values serde cannot (ranges, enumerations).
    pub fn validate(&self) -> Result<(), String> {
        if parse_save_points(&self.save).is_none() {
            return Err("Invalid save parameters".into());
        }
        if self.bind.is_empty() {
            return Err("bind: no address given".into());
        }
        if self.databases == 0 {
            return Err("databases must be at least 1".into());
        }
        if self.proto_max_bulk_len < 1024 * 1024 {
            return Err("proto-max-bulk-len must be at least 1mb".into());
        }
        let one_of = |key: &str, v: &str, allowed: &[&str]| {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(format!("{key} must be one of {}", allowed.join(", ")))
            }
        };
        one_of(
            "enable-debug-command",
            &self.enable_debug_command,
            &["no", "yes", "local"],
        )?;
        one_of(
            "maxmemory-policy",
            &self.maxmemory_policy,
            &[
                "noeviction",
                "allkeys-lru",
                "volatile-lru",
                "allkeys-lfu",
                "volatile-lfu",
                "allkeys-random",
                "volatile-random",
                "volatile-ttl",
            ],
        )?;
        one_of(
            "loglevel",
            &self.log_level,
            &["debug", "verbose", "notice", "warning"],
        )?;
        one_of("log-format", &self.log_format, &["text", "json"])?;
        one_of(
            "replica-serve-stale-data",
            &self.replica_serve_stale_data,
            &["yes", "no"],
        )?;
        one_of("appendonly", &self.appendonly, &["yes", "no"])?;
        one_of("cluster-enabled", &self.cluster_enabled, &["yes", "no"])?;
        if self.cluster_enabled == "yes" && self.replicaof.is_some() {
            return Err("replicaof cannot be used in cluster mode: list this node as \"host:port replica-of host:port\" in cluster-nodes".into());
        }
        one_of(
            "appendfsync",
            &self.appendfsync,
            &["always", "everysec", "no"],
        )?;
        if let Some(r) = &self.replicaof {
            parse_host_port(r).ok_or_else(|| format!("replicaof must be host:port, not '{r}'"))?;
        }
        if self.repl_backlog_size < 16 * 1024 {
            return Err("repl-backlog-size must be at least 16384".into());
        }
        if self.repl_ping_replica_period < 1 || self.repl_timeout < 1 {
            return Err("repl-ping-replica-period and repl-timeout must be at least 1".into());
        }
        if self.slowlog_log_slower_than < -1 {
            return Err("slowlog-log-slower-than must be -1 or more".into());
        }
        one_of("latency-tracking", &self.latency_tracking, &["yes", "no"])?;
        parse_percentiles(&self.latency_tracking_info_percentiles)
            .map_err(|why| format!("latency-tracking-info-percentiles: {why}"))?;
        Ok(())
    }

    /// Applies `--flag value` overrides. `--config PATH` is handled by [`Config::load`].
    pub fn apply_args(&mut self, args: &[String]) -> Result<(), String> {
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument '{flag}'"));
            };
            if name == "config" {
                it.next();
                continue;
            }
            if !FLAGS.contains(&name) {
                return Err(format!("unknown option '{flag}'"));
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            self.set(name, value)?;
        }
        Ok(())
    }

    /// Applies `LUAGATE_<KEY>` environment variables (`LUAGATE_PORT`, `LUAGATE_METRICS_PORT`, …).
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), String> {
        for (k, v) in vars {
            let Some(rest) = k.strip_prefix("LUAGATE_") else {
                continue;
            };
            if rest == "LOG" {
                continue; // the log filter, read by main
            }
            let name = rest.to_ascii_lowercase().replace('_', "-");
            if name == "config" {
                continue;
            }
            if FLAGS.contains(&name.as_str()) {
                self.set(&name, &v)
                    .map_err(|e| format!("environment {k}: {e}"))?;
            } else {
                return Err(format!("environment {k}: unknown option '{name}'"));
            }
        }
        Ok(())
    }

    /// Defaults, then `--config PATH` (or `LUAGATE_CONFIG`), then the environment, then flags.
    pub fn load(args: &[String], env: Vec<(String, String)>) -> Result<Config, String> {
        let path = args
            .windows(2)
            .find(|w| w[0] == "--config")
            .map(|w| w[1].clone())
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| k == "LUAGATE_CONFIG")
                    .map(|(_, v)| v.clone())
            });
        let mut config = match path {
            Some(p) => {
                let mut c = load_file(std::path::Path::new(&p)).map_err(|e| e.to_string())?;
                c.source = Some(p.into());
                c
            }
            None => Config::default(),
        };
        config.apply_env(env.into_iter())?;
        config.apply_args(args)?;
        config.validate()?;
        Ok(config)
    }
}

/// Splits `host:port` (the last colon separates the port).
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (h, p) = s.rsplit_once(':')?;
    let port = p.parse().ok()?;
    (!h.is_empty()).then(|| (h.to_string(), port))
}

/// String-typed keys keep numeric-looking values as strings (`requirepass: 123`).
fn stringify_if_needed(is_string: bool, v: serde_yaml::Value) -> serde_yaml::Value {
    match (is_string, &v) {
        (true, serde_yaml::Value::Number(n)) => serde_yaml::Value::String(n.to_string()),
        (true, serde_yaml::Value::Bool(b)) => {
            serde_yaml::Value::String(if *b { "yes" } else { "no" }.into())
        }
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_yaml_equals_builtin_defaults() {
        let text = include_str!("../../config/default.yaml");
        let parsed: Config = serde_yaml::from_str(text).expect("config/default.yaml parses");
        assert_eq!(parsed, Config::default());
        // Every key is spelled out in the file, not left to defaults.
        let map: serde_yaml::Mapping = serde_yaml::from_str(text).expect("mapping");
        let all = serde_yaml::to_value(Config::default()).expect("value");
        for k in all.as_mapping().expect("mapping").keys() {
            assert!(map.contains_key(k), "config/default.yaml lacks {k:?}");
        }
    }

    #[test]
    fn flags_env_and_errors() {
        let mut c = Config::default();
        c.apply_args(&[
            "--port".into(),
            "7000".into(),
            "--shards".into(),
            "3".into(),
        ])
        .unwrap();
        assert_eq!((c.port, c.shards), (7000, 3));
        c.apply_env(vec![("LUAGATE_METRICS_PORT".to_string(), "9999".to_string())].into_iter())
            .unwrap();
        assert_eq!(c.metrics_port, 9999);
        assert!(c.apply_args(&["--port".into(), "x".into()]).is_err());
        assert!(c.apply_args(&["--nope".into(), "1".into()]).is_err());
        c.set("requirepass", "123").unwrap();
        assert_eq!(c.requirepass.as_deref(), Some("123"));
        assert!(c.set("loglevel", "loud").is_err());
    }
}

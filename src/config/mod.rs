//! Server configuration: built-in defaults and command-line overrides.
//!
//! Invariant: `Config::default()` is the one source of default values.

use std::net::IpAddr;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<IpAddr>,
    pub port: u16,
    /// Number of shard threads; 0 means one per available core.
    pub shards: usize,
    pub databases: usize,
    pub dir: String,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    /// Idle client timeout in seconds; 0 disables.
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub proto_max_bulk_len: i64,
    pub busy_reply_threshold_ms: u64,
    pub enable_debug_command: String,
    pub maxmemory: u64,
    pub log_level: String,
    /// Only `noeviction` is implemented; CONFIG SET refuses the others.
    pub maxmemory_policy: String,
    /// Background task frequency as Redis reports it (INFO `hz`); 1..=500.
    pub hz: u64,
    /// Parameters accepted and reported by CONFIG but with no effect on the server yet
    /// (encoding thresholds, slowlog knobs …): name → canonical value. Absent means default.
    pub knobs: std::collections::BTreeMap<String, String>,
    /// Enforce Redis Cluster's single-slot rule on flagged scripts (`single-slot-scripts:
    /// always`) even in standalone mode.
    pub single_slot_scripts: bool,
    /// Memory limit of each shard's Lua VM in bytes (`lua-memory-limit`); 0 = none.
    pub lua_memory_limit: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".parse().expect("literal address")],
            port: 6379,
            shards: 0,
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
        }
    }
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

    /// Applies `--flag value` overrides. Returns a usage error message on bad input.
    pub fn apply_args(&mut self, args: &[String]) -> Result<(), String> {
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag.trim_start_matches("--");
            if !flag.starts_with("--") {
                return Err(format!("unexpected argument '{flag}'"));
            }
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match name {
                "port" => {
                    self.port = value()?
                        .parse()
                        .map_err(|_| "--port needs a number 0-65535".to_string())?
                }
                "bind" => {
                    self.bind = value()?
                        .split_whitespace()
                        .map(|a| {
                            a.parse()
                                .map_err(|_| format!("--bind: '{a}' is not an IP address"))
                        })
                        .collect::<Result<_, _>>()?
                }
                "shards" => {
                    self.shards = value()?
                        .parse()
                        .map_err(|_| "--shards needs a number".to_string())?
                }
                "databases" => {
                    self.databases = value()?
                        .parse()
                        .map_err(|_| "--databases needs a number".to_string())?;
                    if self.databases == 0 {
                        return Err("--databases must be at least 1".into());
                    }
                }
                "dir" => self.dir = value()?,
                "requirepass" => self.requirepass = Some(value()?),
                "enable-debug-command" => self.enable_debug_command = value()?,
                "loglevel" => self.log_level = value()?,
                "busy-reply-threshold" | "lua-time-limit" => {
                    self.busy_reply_threshold_ms = value()?
                        .parse()
                        .map_err(|_| format!("{flag} needs milliseconds"))?
                }
                "single-slot-scripts" => {
                    self.single_slot_scripts = match value()?.as_str() {
                        "always" => true,
                        "never" => false,
                        other => {
                            return Err(format!(
                                "--single-slot-scripts: '{other}' is not always|never"
                            ))
                        }
                    }
                }
                "lua-memory-limit" => {
                    self.lua_memory_limit = value()?
                        .parse()
                        .map_err(|_| format!("{flag} needs a number of bytes"))?
                }
                _ => return Err(format!("unknown option '{flag}'")),
            }
        }
        Ok(())
    }
}

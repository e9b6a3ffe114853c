//! The table of parameters CONFIG knows (config.rs works over it): each with Redis's type,
//! bounds, mutability and default, plus the names that are luagate's own.
//!
//! Invariant: this is the one list; a parameter CONFIG GET shows is here, once.

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count with an optional unit (`10mb`, `1gb`, `100k`).
    Mem {
        min: u64,
        max: u64,
    },
    Enum(&'static [&'static str]),
    Str,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Access {
    Mutable,
    Immutable,
    /// Refused unless `enable-protected-configs` (which luagate keeps at `no`).
    Protected,
}

pub(super) struct Param {
    pub(super) name: &'static str,
    pub(super) alias: Option<&'static str>,
    pub(super) kind: Kind,
    pub(super) access: Access,
    /// Default of a stored-only parameter (see `Config::knobs`).
    pub(super) default: &'static str,
}

pub(super) const fn p(
    name: &'static str,
    kind: Kind,
    access: Access,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: None,
        kind,
        access,
        default,
    }
}

pub(super) const fn aka(mut param: Param, alias: &'static str) -> Param {
    param.alias = Some(alias);
    param
}

pub(super) const INT_MAX: i64 = i32::MAX as i64;
pub(super) const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

use Access::*;
use Kind::*;

/// Parameters with an effect on luagate come first; after them, ones only stored and reported
/// (clients and test suites set them; they change nothing yet).
pub(super) static PARAMS: &[Param] = &[
    p("port", Int { min: 0, max: 65535 }, Immutable, ""),
    p("bind", Str, Immutable, ""),
    p("cluster-enabled", Bool, Immutable, ""),
    p("cluster-announce-ip", Str, Immutable, ""),
    p(
        "cluster-announce-port",
        Int { min: 0, max: 65535 },
        Immutable,
        "",
    ),
    p(
        "databases",
        Int {
            min: 1,
            max: INT_MAX,
        },
        Immutable,
        "",
    ),
    p("dir", Str, Protected, ""),
    p("requirepass", Str, Mutable, ""),
    p(
        "maxclients",
        Int {
            min: 1,
            max: u32::MAX as i64,
        },
        Mutable,
        "",
    ),
    p(
        "timeout",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "",
    ),
    p(
        "tcp-keepalive",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "",
    ),
    p(
        "proto-max-bulk-len",
        Mem {
            min: 1024 * 1024,
            max: i64::MAX as u64,
        },
        Mutable,
        "",
    ),
    aka(
        p(
            "busy-reply-threshold",
            Int {
                min: 0,
                max: i64::MAX,
            },
            Mutable,
            "",
        ),
        "lua-time-limit",
    ),
    p(
        "maxmemory",
        Mem {
            min: 0,
            max: u64::MAX,
        },
        Mutable,
        "",
    ),
    p("maxmemory-policy", Enum(POLICIES), Mutable, ""),
    p(
        "enable-debug-command",
        Enum(&["no", "yes", "local"]),
        Immutable,
        "",
    ),
    p("appendonly", Bool, Mutable, ""),
    p("save", Str, Mutable, ""),
    p(
        "loglevel",
        Enum(&["debug", "verbose", "notice", "warning"]),
        Mutable,
        "",
    ),
    p(
        "hz",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "",
    ),
    p(
        "slowlog-log-slower-than",
        Int {
            min: -1,
            max: i64::MAX,
        },
        Mutable,
        "",
    ),
    p(
        "slowlog-max-len",
        Int {
            min: 0,
            max: i64::MAX,
        },
        Mutable,
        "",
    ),
    p(
        "latency-monitor-threshold",
        Int {
            min: 0,
            max: i64::MAX,
        },
        Mutable,
        "",
    ),
    p("latency-tracking", Bool, Mutable, ""),
    p("latency-tracking-info-percentiles", Str, Mutable, ""),
    // luagate's own parameters, under their configuration file names (see `OWN`).
    p(
        "lua-memory-limit",
        Mem {
            min: 0,
            max: i64::MAX as u64,
        },
        Mutable,
        "",
    ),
    p(
        "single-slot-scripts",
        Enum(&["always", "cluster"]),
        Mutable,
        "",
    ),
    p(
        "shutdown-timeout",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "",
    ),
    p(
        "shards",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Immutable,
        "",
    ),
    p(
        "io-workers",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Immutable,
        "",
    ),
    p("log-format", Enum(&["text", "json"]), Immutable, ""),
    p("cluster-nodes", Str, Immutable, ""),
    p("metrics-bind", Str, Immutable, ""),
    p("metrics-port", Int { min: 0, max: 65535 }, Immutable, ""),
    // Stored only.
    p("maxmemory-samples", Int { min: 1, max: 64 }, Mutable, "5"),
    p(
        "maxmemory-eviction-tenacity",
        Int { min: 0, max: 100 },
        Mutable,
        "10",
    ),
    p(
        "maxmemory-clients",
        Mem {
            min: 0,
            max: i64::MAX as u64,
        },
        Mutable,
        "0",
    ),
    aka(
        p(
            "list-max-listpack-size",
            Int {
                min: i32::MIN as i64,
                max: INT_MAX,
            },
            Mutable,
            "-2",
        ),
        "list-max-ziplist-size",
    ),
    p(
        "list-compress-depth",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "0",
    ),
    aka(
        p(
            "hash-max-listpack-entries",
            Int {
                min: 0,
                max: i64::MAX,
            },
            Mutable,
            "512",
        ),
        "hash-max-ziplist-entries",
    ),
    aka(
        p(
            "hash-max-listpack-value",
            Mem {
                min: 0,
                max: i64::MAX as u64,
            },
            Mutable,
            "64",
        ),
        "hash-max-ziplist-value",
    ),
    p(
        "set-max-intset-entries",
        Int {
            min: 0,
            max: i64::MAX,
        },
        Mutable,
        "512",
    ),
    aka(
        p(
            "zset-max-listpack-entries",
            Int {
                min: 0,
                max: i64::MAX,
            },
            Mutable,
            "128",
        ),
        "zset-max-ziplist-entries",
    ),
    aka(
        p(
            "zset-max-listpack-value",
            Mem {
                min: 0,
                max: i64::MAX as u64,
            },
            Mutable,
            "64",
        ),
        "zset-max-ziplist-value",
    ),
    p(
        "hll-sparse-max-bytes",
        Mem {
            min: 0,
            max: i64::MAX as u64,
        },
        Mutable,
        "3000",
    ),
    p("lazyfree-lazy-user-del", Bool, Mutable, "no"),
    p("notify-keyspace-events", Str, Mutable, ""),
    p(
        "appendfsync",
        Enum(&["always", "everysec", "no"]),
        Mutable,
        "everysec",
    ),
    p("appendfilename", Str, Immutable, "appendonly.aof"),
    p("dbfilename", Str, Protected, "dump.rdb"),
    p(
        "auto-aof-rewrite-min-size",
        Mem {
            min: 0,
            max: i64::MAX as u64,
        },
        Mutable,
        "67108864",
    ),
    p(
        "auto-aof-rewrite-percentage",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "100",
    ),
    aka(
        p("replica-serve-stale-data", Bool, Mutable, "yes"),
        "slave-serve-stale-data",
    ),
    p(
        "repl-backlog-size",
        Mem {
            min: 16 * 1024,
            max: i64::MAX as u64,
        },
        Immutable,
        "1048576",
    ),
    p("masterauth", Str, Mutable, ""),
    aka(
        p(
            "min-replicas-to-write",
            Int {
                min: 0,
                max: INT_MAX,
            },
            Mutable,
            "0",
        ),
        "min-slaves-to-write",
    ),
    aka(
        p(
            "min-replicas-max-lag",
            Int {
                min: 0,
                max: INT_MAX,
            },
            Mutable,
            "10",
        ),
        "min-slaves-max-lag",
    ),
    aka(
        p(
            "repl-ping-replica-period",
            Int {
                min: 1,
                max: INT_MAX,
            },
            Mutable,
            "10",
        ),
        "repl-ping-slave-period",
    ),
    p(
        "repl-timeout",
        Int {
            min: 1,
            max: INT_MAX,
        },
        Mutable,
        "60",
    ),
    p("daemonize", Bool, Immutable, "no"),
    p("protected-mode", Bool, Mutable, "yes"),
    // Bounds the tracking tables (src/server/tracking/hooks.rs); 0: no limit.
    p(
        "tracking-table-max-keys",
        Int {
            min: 0,
            max: i64::MAX,
        },
        Mutable,
        "1000000",
    ),
    p(
        "lfu-log-factor",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "10",
    ),
    p(
        "lfu-decay-time",
        Int {
            min: 0,
            max: INT_MAX,
        },
        Mutable,
        "1",
    ),
    p(
        "active-expire-effort",
        Int { min: 1, max: 10 },
        Mutable,
        "1",
    ),
    p("activerehashing", Bool, Mutable, "yes"),
];

/// Parameters Redis does not have. CONFIG GET shows them only when asked by exact name, so
/// that glob patterns (`CONFIG GET *`, `lua*`) answer exactly what Redis would.
pub(super) const OWN: &[&str] = &[
    "lua-memory-limit",
    "single-slot-scripts",
    "shutdown-timeout",
    "shards",
    "io-workers",
    "log-format",
    "metrics-bind",
    "metrics-port",
    "cluster-nodes",
];

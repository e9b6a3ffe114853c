//! luagate: a sharded, Redis-compatible server that hosts the Redis Lua scripting layer.
//!
//! Crate map (roughly in the order a request meets them; ARCHITECTURE.md has the details and
//! the invariants):
//! - [`config`]: defaults < YAML file < `LUAGATE_*` environment < flags; CONFIG REWRITE.
//! - [`server`]: listener, connection tasks (decode, route, batch, await, reply in order),
//!   connection commands, blocking commands, MULTI/EXEC/WATCH, and `admin` (INFO, CONFIG,
//!   SLOWLOG, DEBUG, SHUTDOWN); start-up and the shutdown order.
//! - [`protocol`]: RESP2/RESP3 request decoding and reply encoding. Knows no commands.
//! - [`slot`]: key → hash slot → shard. The only place slots are computed.
//! - [`cluster`]: cluster mode: which node serves which slot (a configured topology), the
//!   `-MOVED`/`-CROSSSLOT` rule keyed commands and scripts' calls pass, and CLUSTER.
//! - [`shard`]: each shard's data behind its ownership lock; units of work taking the shards
//!   they need (inline, or queued for the shard's thread; ascending order, deadlock-free);
//!   active expiry.
//! - [`commands`]: the command table and one file per command family; each command parses its
//!   arguments and executes against a [`commands::Ctx`], returning a [`protocol::Reply`];
//!   `commands::notify` derives keyspace notifications from what each command did.
//! - [`keyspace`]: databases, values (strings, lists, hashes, sets, sorted sets), expiry, glob
//!   matching, SCAN-able dictionaries. No tokio, no Lua.
//! - [`scripting`]: EVAL/EVALSHA/SCRIPT: one Lua VM per shard thread, the sandbox, the
//!   script registry (an arc-swap snapshot), re-runs with more shards for undeclared keys,
//!   busy/kill.
//! - [`functions`]: FUNCTION and FCALL: libraries, their registry and their file under `dir`.
//! - [`lualibs`]: the `cjson`, `cmsgpack`, `struct` and `bit` libraries scripts see.
//! - [`replication`]: the ordered effect stream with its backlog, the leader and follower
//!   sides, snapshots for full sync, REPLICAOF/ROLE/WAIT.
//! - [`persistence`]: the append-only log of the effect stream, replayed at start.
//! - [`metrics`]: Prometheus metrics read from atomics at scrape time, and the /metrics,
//!   /healthz, /readyz HTTP endpoints.
//! - [`error`]: `CommandError`, whose `Display` is the exact Redis error line.
//! - [`allocator`]: the global allocator, counting live bytes for `used_memory` and maxmemory.

pub mod allocator;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod error;
pub mod functions;
pub mod keyspace;
pub mod logging;
pub mod lualibs;
pub mod metrics;
pub mod persistence;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod shard;
pub mod slot;

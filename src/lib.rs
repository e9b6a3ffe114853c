//! luagate: a sharded, Redis-compatible server that hosts the Redis scripting layer.
//!
//! Crate map (data flows down this list):
//! - [`server`]: the listener and connection tasks. A connection reads, decodes, routes each
//!   command to the shard(s) owning its keys, awaits the reply and writes it, in order.
//! - [`protocol`]: RESP2/RESP3 request decoding and reply encoding. Knows no commands.
//! - [`slot`]: key → hash slot → shard. The only place slots are computed.
//! - [`shard`]: shard threads, each owning its keyspace slice; units of work; lending shards
//!   to a unit that needs several (ascending order, deadlock-free).
//! - [`commands`]: the command table and one file per command family; each command parses its
//!   arguments and executes against a [`commands::Ctx`], returning a [`protocol::Reply`].
//! - [`keyspace`]: databases, values, expiry, glob matching, SCAN-able dictionaries.
//! - [`lualibs`]: the `cjson`, `cmsgpack`, `struct` and `bit` libraries scripts see.
//! - [`config`]: configuration: defaults, YAML file, environment, flags.
//! - [`metrics`]: Prometheus metrics and the /metrics, /healthz, /readyz HTTP endpoints.
//! - [`error`]: `CommandError`, whose `Display` is the exact Redis error line.
//! - [`scripting`]: the Lua scripting layer (EVAL, SCRIPT), one VM per shard thread;
//!   [`lualibs`]: the Lua libraries scripts get (cjson, cmsgpack, struct, bit).

pub mod commands;
pub mod config;
pub mod error;
pub mod functions;
pub mod keyspace;
pub mod lualibs;
pub mod metrics;
pub mod persistence;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod shard;
pub mod slot;

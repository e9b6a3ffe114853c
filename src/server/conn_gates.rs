//! Gates a command passes on its connection before it runs, decided by other subsystems:
//! cluster mode's routing (`-MOVED`, `-CROSSSLOT`, … before anything else looks at the
//! command), making room under `maxmemory` (an eviction unit before a write), and the
//! commands a RESP2 subscriber or a loading server still serves.
//!
//! Invariant: a redirected command runs nowhere, and its transaction fails as Redis Cluster's
//! would; an eviction is an ordinary unit over every shard, never work on the connection.

use super::connection::Conn;
use super::multi;
use crate::commands::{self, flags, CmdRef};
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

impl Conn {
    /// Cluster mode's routing of `cmd` (EXEC: of the whole transaction), as Redis Cluster
    /// routes it before anything else looks at the command; `Err` is the redirect line.
    pub(super) fn cluster_route(&self, cmd: CmdRef, args: &[Bytes]) -> Result<(), String> {
        let Some(topo) = self.server.cluster.as_ref() else {
            return Ok(());
        };
        let readonly = self.info.readonly.load(Relaxed);
        let routed = if commands::full_name(cmd.id) == "exec" {
            let queued = self.tx.queued();
            let writes = queued.iter().any(|(c, _)| c.cmd.has(flags::WRITE));
            let keys = queued
                .iter()
                .flat_map(|(c, a)| c.cmd.slot_indices(a).map(move |i| &a[i][..]));
            topo.route(keys, readonly && !writes)
        } else {
            // Shard channels are served by the shard's replicas too, READONLY or not.
            let shard_pubsub = matches!(cmd.cmd.name, "ssubscribe" | "sunsubscribe" | "spublish");
            let read = (readonly || shard_pubsub) && !cmd.cmd.has(flags::WRITE);
            topo.route(cmd.cmd.slot_indices(args).map(|i| &args[i][..]), read)
        };
        routed.map(|_| ()).map_err(|r| topo.message(&r))
    }

    /// Answers a command cluster mode sends elsewhere. A queued command fails its transaction
    /// (EXEC then aborts); a redirected EXEC discards it and answers the redirect itself.
    pub(super) async fn refuse_redirect(&mut self, cmd: CmdRef, e: String) {
        if commands::full_name(cmd.id) == "exec" && self.tx.in_multi() {
            multi::discard(self).await;
            self.server.conn_stats.reject(cmd.id);
            self.server.errors.record(&e);
            return self.reply(Reply::Error(e)).await;
        }
        self.reject(Some(cmd), e).await
    }

    /// Near `maxmemory` with an evicting policy: deletes keys (a unit over every shard, see
    /// `shard::evict`) until memory is back under the eviction target.
    pub(super) async fn make_room(&mut self) {
        use crate::shard::evict::{evict, Policy};
        let cfg = self.server.config();
        let policy = Policy::from_name(&cfg.maxmemory_policy).unwrap_or(Policy::NoEviction);
        if policy == Policy::NoEviction {
            return;
        }
        let target = super::eviction_target(cfg.maxmemory);
        let samples = cfg
            .knobs
            .get("maxmemory-samples")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        drop(cfg);
        self.flush_pending().await;
        let all: Vec<usize> = (0..self.server.shards.len()).collect();
        self.run_job(all, move |ctx| {
            Reply::Int(evict(ctx, policy, target, samples) as i64)
        })
        .await;
    }
}

/// What a RESP2 client may run while subscribed.
pub fn allowed_when_subscribed(cmd: CmdRef) -> bool {
    super::pubsub_cmds::is_subscription(cmd)
        || matches!(commands::full_name(cmd.id), "ping" | "quit" | "reset")
}

pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

/// Commands Redis flags `loading` (served while the data loads); everything else gets
/// `-LOADING`.
pub fn allowed_while_loading(cmd: CmdRef) -> bool {
    let full = commands::full_name(cmd.id);
    matches!(
        full.split('|').next().unwrap_or(full),
        "auth"
            | "hello"
            | "client"
            | "info"
            | "config"
            | "command"
            | "select"
            | "quit"
            | "reset"
            | "multi"
            | "exec"
            | "discard"
            | "watch"
            | "unwatch"
            | "lastsave"
            | "slowlog"
            | "latency"
            | "role"
            | "time"
            | "shutdown"
            | "debug"
            | "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "publish"
            | "spublish"
            | "pubsub"
    )
}

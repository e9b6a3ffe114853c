//! Replication: the effect stream (`stream`), the leader side that feeds followers from it
//! (`leader`), the follower side that applies a leader's stream (`follower`, `apply`), the
//! full-sync snapshot (`snapshot`) and the commands (`cmds`: REPLICAOF, ROLE, WAIT, …).
//!
//! Invariant: a node is either a leader or a follower of exactly one leader; the role lives in
//! `Replication::follow` (None = leader). Followers refuse client writes and never expire keys
//! themselves (their databases use passive expiry); every change on a follower comes from its
//! leader's stream, applied one whole unit at a time.

pub mod apply;
pub mod cmds;
pub mod failover;
pub mod follower;
pub mod leader;
pub mod snapshot;
pub mod stream;

use crate::commands::{flags, CmdRef, Ctx};
use crate::protocol::Reply;
use crate::server::Server;
use crate::shard::{Request, ShardMsg, Work};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub const READONLY_ERR: &str = "READONLY You can't write against a read only replica.";
pub const NOREPLICAS_ERR: &str = "NOREPLICAS Not enough good replicas to write.";
pub const MASTERDOWN_ERR: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// A follower attached to this node.
pub struct ReplicaInfo {
    pub id: u64,
    pub ip: String,
    pub port: u16,
    /// Last offset the follower acknowledged (REPLCONF ACK).
    pub ack: AtomicU64,
    /// One past the last offset the follower reported as in its own fsynced append-only log
    /// (`REPLCONF ACK <offset> FACK <offset>`); 0 until it reports one (a follower without a
    /// log never does).
    pub fack: AtomicU64,
    /// True once the full sync (or partial resync) has been sent.
    pub online: AtomicBool,
    /// Unix ms of the last ACK.
    pub last_ack_ms: AtomicU64,
}

/// What a follower knows about its leader.
pub struct Follow {
    pub host: String,
    pub port: u16,
    /// Cleared to stop the follower task (REPLICAOF to another leader or NO ONE).
    pub running: Arc<AtomicBool>,
    pub stop: Arc<tokio::sync::Notify>,
    pub link: Arc<LinkState>,
}

/// The follower task's view of its link, shared with INFO and ROLE.
#[derive(Default)]
pub struct LinkState {
    pub up: AtomicBool,
    /// `connect`, `connecting`, `sync`, `connected`.
    pub state: Mutex<&'static str>,
    /// The leader's replid and the offset of the stream applied so far.
    pub master_replid: Mutex<String>,
    pub offset: AtomicU64,
    /// Whether `offset` is meaningful (false until the first sync).
    pub synced: AtomicBool,
    pub last_io_ms: AtomicU64,
    pub down_since_ms: AtomicU64,
    /// The database the leader's stream last selected (kept across reconnects so a partial
    /// resync continues where the stream was).
    pub db: AtomicU64,
    pub full_syncs: AtomicU64,
    pub partial_syncs: AtomicU64,
    /// Set by FAILOVER on the demoted leader: its first PSYNC hands over (`failover.rs`).
    pub handover: Mutex<Option<failover::Handover>>,
}

pub struct Replication {
    pub stream: stream::Stream,
    pub follow: Mutex<Option<Follow>>,
    is_follower: AtomicBool,
    pub replicas: Mutex<Vec<Arc<ReplicaInfo>>>,
    next_id: AtomicU64,
    pub full_syncs_served: AtomicU64,
    pub partial_syncs_served: AtomicU64,
    /// PSYNCs that named a history (not `?`) this node could not continue (INFO
    /// `sync_partial_err`).
    pub partial_syncs_refused: AtomicU64,
    /// Set once the keepalive task runs (started by the first follower).
    pinger: AtomicBool,
    pub failover: failover::Failover,
    /// `min-replicas-to-write` and `min-replicas-max-lag`, read on every write.
    min_to_write: AtomicU64,
    max_lag_secs: AtomicU64,
}

impl Replication {
    pub fn new(config: &crate::config::Config) -> Replication {
        let repl = Replication {
            stream: stream::Stream::new(config.repl_backlog_size as usize),
            follow: Mutex::new(None),
            is_follower: AtomicBool::new(false),
            replicas: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            full_syncs_served: AtomicU64::new(0),
            partial_syncs_served: AtomicU64::new(0),
            partial_syncs_refused: AtomicU64::new(0),
            pinger: AtomicBool::new(false),
            failover: failover::Failover::default(),
            min_to_write: AtomicU64::new(0),
            max_lag_secs: AtomicU64::new(0),
        };
        repl.configure(config);
        repl
    }

    /// Takes the settings read on every write (CONFIG SET calls it again).
    pub fn configure(&self, c: &crate::config::Config) {
        self.min_to_write.store(c.min_replicas_to_write, Relaxed);
        self.max_lag_secs.store(c.min_replicas_max_lag, Relaxed);
    }

    /// `min_slaves_good_slaves` of INFO: followers that acknowledged within
    /// `min-replicas-max-lag` seconds, when `min-replicas-to-write` is on.
    pub fn good_replicas(&self) -> Option<u64> {
        let lag = self.max_lag_secs.load(Relaxed);
        if self.min_to_write.load(Relaxed) == 0 || lag == 0 {
            return None;
        }
        let now = crate::clock::unix_ms() / 1000;
        let good = self
            .replicas()
            .iter()
            .filter(|r| {
                r.online.load(Relaxed)
                    && now.saturating_sub(r.last_ack_ms.load(Relaxed) / 1000) <= lag
            })
            .count();
        Some(good as u64)
    }

    /// Whether a leader must refuse a write now (-NOREPLICAS): `min-replicas-to-write` is on
    /// and fewer followers than that acknowledged within `min-replicas-max-lag` seconds. One
    /// relaxed load when it is off.
    pub fn too_few_replicas(&self) -> bool {
        let min = self.min_to_write.load(Relaxed);
        min > 0 && !self.is_follower() && self.good_replicas().is_some_and(|n| n < min)
    }

    /// Starts (once) the task that PINGs followers down the stream every
    /// `repl-ping-replica-period` seconds, so they can tell a quiet leader from a dead link.
    pub fn start_pinger(server: &Arc<Server>) {
        if server.repl.pinger.swap(true, Relaxed) {
            return;
        }
        let weak = Arc::downgrade(server);
        tokio::spawn(async move {
            loop {
                let Some(period) = weak.upgrade().map(|s| s.config().repl_ping_replica_period)
                else {
                    return;
                };
                tokio::time::sleep(std::time::Duration::from_secs(period.max(1))).await;
                let Some(server) = weak.upgrade() else {
                    return;
                };
                // A follower forwards its leader's PINGs; a hand-over fixes the offset (read
                // under the stream's lock, as the hand-over reads the offset under it).
                let repl = &server.repl;
                repl.stream.with(|s| {
                    if !repl.is_follower() && !repl.failover.handing_over() {
                        s.publish_ping();
                    }
                });
            }
        });
    }

    pub fn is_follower(&self) -> bool {
        self.is_follower.load(Relaxed)
    }

    pub(crate) fn set_follower(&self, on: bool) {
        self.is_follower.store(on, Relaxed);
    }

    /// The follower's link, if this node follows a leader.
    pub fn link(&self) -> Option<Arc<LinkState>> {
        self.follow
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|f| f.link.clone()))
    }

    /// False while this node follows a leader it has not synchronized with or lost its link
    /// to (/readyz reports not-ready then).
    pub fn in_sync(&self) -> bool {
        match self.link() {
            None => true,
            Some(l) => l.synced.load(Relaxed) && l.up.load(Relaxed),
        }
    }

    pub fn next_replica_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }

    pub fn replicas(&self) -> Vec<Arc<ReplicaInfo>> {
        self.replicas.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Why a client command must be refused on this node, if it must (READONLY on a follower,
    /// MASTERDOWN while its link is down and stale data may not be served, NOREPLICAS on a
    /// leader short of good followers).
    /// `writes`: the command writes (or is an EXEC of queued writes, which Redis checks as one).
    pub fn refuse(&self, server: &Server, cmd: CmdRef, writes: bool) -> Option<&'static str> {
        if !self.is_follower() {
            return (writes && self.too_few_replicas()).then_some(NOREPLICAS_ERR);
        }
        if writes {
            return Some(READONLY_ERR);
        }
        if !cmd.cmd.has(flags::STALE) && server.config().replica_serve_stale_data == "no" {
            if let Some(link) = self.link() {
                if !link.up.load(Relaxed) {
                    return Some(MASTERDOWN_ERR);
                }
            }
        }
        None
    }
}

/// Runs `job` as one unit holding `shards` (ascending) and returns its value, from any task.
pub async fn run_on<T: Send + 'static>(
    server: &Arc<Server>,
    shards: Vec<usize>,
    job: impl FnOnce(&mut Ctx<'_>) -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (reply, _ignored) = tokio::sync::oneshot::channel();
    let home = *shards.first()?;
    let req = Request {
        shards,
        db: 0,
        resp: 2,
        client_id: 0,
        flags: 0,
        work: Work::Job(Box::new(move |ctx| {
            let _ = tx.send(job(ctx));
            Reply::Nil
        })),
        done: bytes::BytesMut::new(),
        reply,
    };
    server.shards[home].tx.send(ShardMsg::Run(req)).ok()?;
    rx.await.ok()
}

/// Every shard index, ascending.
pub fn all_shards(server: &Server) -> Vec<usize> {
    (0..server.shards.len()).collect()
}

/// Switches every database between active expiry (leader) and passive expiry (follower).
pub async fn set_passive_expiry(server: &Arc<Server>, passive: bool) {
    run_on(server, all_shards(server), move |ctx| {
        for s in ctx.held_shards() {
            for db in &mut s.dbs {
                db.passive_expiry = passive;
            }
        }
    })
    .await;
}

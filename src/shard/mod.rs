//! Shard threads: each owns its slice of the keyspace outright and runs units of work on it.
//!
//! State: a shard's [`ShardData`] is a `Box` that only its thread touches, except while it is
//! *lent*: a unit that needs several shards runs on the lowest of them (its *home*), which asks
//! each other shard, in ascending order, to hand over its box; the lender then waits, doing
//! nothing, until the box comes back. Ownership moves through channels, so there is no lock on
//! the data path, and because every unit acquires in ascending shard order the wait-for graph
//! only ever points upward: no deadlock (see ARCHITECTURE.md, "Atomicity across shards").
//!
//! Architecture Invariant: the only cross-thread types of the data path are here (`ShardMsg`,
//! `Request`, the lend channels). Connection tasks never block on a shard: they await a oneshot.

mod stats;

pub use stats::{CmdStat, ErrorStats, ShardStats, LATENCY_BUCKETS};

use crate::commands::{self, CmdRef, Ctx, Effect};
use crate::keyspace::Db;
use crate::protocol::Reply;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver as SyncReceiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The data one shard owns.
pub struct ShardData {
    pub id: usize,
    pub dbs: Vec<Db>,
}

/// State of a shard thread that never moves: per-thread helpers (and, with scripting, the Lua
/// VM). Only the home shard's is visible to a unit.
pub struct ShardLocal {
    pub id: usize,
    pub rng: rand::rngs::SmallRng,
    /// Unix ms at the start of the current unit.
    pub now: u64,
    /// This thread's Lua VM for scripts, created on first use (here, on this thread).
    pub script_vm: Option<Box<crate::scripting::ScriptVm>>,
    /// This shard's own queue, so a script past `busy-reply-threshold` can answer what waits
    /// behind it with -BUSY (as Redis answers while a script runs) instead of holding it.
    pub inbox: Receiver<ShardMsg>,
}

pub type Job = Box<dyn FnOnce(&mut Ctx<'_>) -> Reply + Send>;

pub enum Work {
    /// Commands run one after the other; their replies are concatenated.
    Calls(Vec<(CmdRef, Vec<Bytes>)>),
    /// Arbitrary work with exclusive access to the held shards (EXEC, INFO, scripts).
    Job(Job),
}

/// A unit of work for one or more shards.
pub struct Request {
    /// Shards the unit needs, ascending; the first is home and runs it.
    pub shards: Vec<usize>,
    pub db: usize,
    pub resp: u8,
    pub client_id: u64,
    pub work: Work,
    /// The encoded replies.
    pub reply: tokio::sync::oneshot::Sender<Bytes>,
}

pub enum ShardMsg {
    Run(Request),
    /// Hand the data over through `give`, then wait for it on `back`.
    Lend {
        give: SyncSender<Box<ShardData>>,
        back: SyncReceiver<Box<ShardData>>,
    },
    Stop,
}

/// What other threads keep of a shard.
pub struct ShardHandle {
    pub tx: Sender<ShardMsg>,
    /// Set while a script on this shard has run past `busy-reply-threshold`.
    pub busy: AtomicBool,
    /// Set by SCRIPT KILL / FUNCTION KILL; the script's hook sees it.
    pub kill: AtomicBool,
    pub stats: ShardStats,
}

impl ShardHandle {
    pub fn new(tx: Sender<ShardMsg>, databases: usize) -> ShardHandle {
        ShardHandle {
            tx,
            busy: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            stats: ShardStats::new(databases),
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Creates the channel pairs for `n` shards (handles go into the `Server`, receivers to
/// [`spawn`]).
pub fn channels(n: usize, databases: usize) -> (Vec<ShardHandle>, Vec<Receiver<ShardMsg>>) {
    (0..n)
        .map(|_| {
            let (tx, rx) = crossbeam_channel::unbounded();
            (ShardHandle::new(tx, databases), rx)
        })
        .unzip()
}

/// Starts shard thread `id`, named `shard-<id>`.
pub fn spawn(
    server: Arc<Server>,
    id: usize,
    rx: Receiver<ShardMsg>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("shard-{id}"))
        // Room for the Lua VM and for converting deeply nested script replies.
        .stack_size(16 << 20)
        .spawn(move || {
            let databases = server.config().databases;
            let mut shard = Shard {
                data: Some(Box::new(ShardData {
                    id,
                    dbs: (0..databases).map(|_| Db::default()).collect(),
                })),
                local: ShardLocal {
                    id,
                    rng: rand::rngs::SmallRng::from_entropy(),
                    now: unix_ms(),
                    script_vm: None,
                    inbox: rx.clone(),
                },
                held: (0..server.shards.len()).map(|_| None).collect(),
                expire_cursor: vec![0; databases],
                server,
                rx,
            };
            shard.run();
        })
        .expect("spawning a shard thread")
}

struct Shard {
    data: Option<Box<ShardData>>,
    local: ShardLocal,
    /// Reused slot table for units: `held[i]` is shard i's data while this shard holds it.
    held: Vec<Option<Box<ShardData>>>,
    expire_cursor: Vec<u64>,
    server: Arc<Server>,
    rx: Receiver<ShardMsg>,
}

/// How often the shard's background work (active expiry) runs.
const CRON: Duration = Duration::from_millis(100);
/// Longest active-expiry pass per tick, so a sea of expiring keys never stalls the shard.
const EXPIRE_BUDGET: Duration = Duration::from_millis(10);

impl Shard {
    fn run(&mut self) {
        let mut next_cron = Instant::now() + CRON;
        loop {
            let timeout = next_cron.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(timeout) {
                Ok(ShardMsg::Run(req)) => self.run_request(req),
                Ok(ShardMsg::Lend { give, back }) => {
                    let data = self.data.take().expect("shard data present when not lent");
                    if give.send(data).is_ok() {
                        self.data = back.recv().ok();
                    }
                    if self.data.is_none() {
                        tracing::error!(shard = self.local.id, "lent shard data never came back");
                        return;
                    }
                }
                Ok(ShardMsg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_cron {
                self.cron();
                next_cron = Instant::now() + CRON;
            }
        }
    }

    fn run_request(&mut self, req: Request) {
        let Request {
            shards,
            db,
            resp,
            client_id,
            work,
            reply,
        } = req;
        let me = self.local.id;
        debug_assert_eq!(shards.first(), Some(&me));
        self.held[me] = self.data.take();
        // Borrow the other shards in ascending order; give them back in the same order.
        let mut returns = Vec::new();
        for &s in shards.iter().skip(1) {
            let (give_tx, give_rx) = sync_channel(1);
            let (back_tx, back_rx) = sync_channel(1);
            if self.server.shards[s]
                .tx
                .send(ShardMsg::Lend {
                    give: give_tx,
                    back: back_rx,
                })
                .is_ok()
            {
                if let Ok(data) = give_rx.recv() {
                    self.held[s] = Some(data);
                    returns.push((s, back_tx));
                }
            }
        }
        let now = unix_ms();
        self.local.now = now;
        let clock = self.server.clock_secs();
        for d in self.held.iter_mut().flatten() {
            for db in &mut d.dbs {
                db.now = now;
                db.clock = clock;
            }
        }
        let mut effects: Vec<Effect> = Vec::new();
        let collect = self.server.effects_wanted();
        let out = {
            let mut ctx = Ctx {
                held: &mut self.held,
                server: &self.server,
                home: me,
                local: &mut self.local,
                db,
                resp,
                client_id,
                effects: if collect { Some(&mut effects) } else { None },
                dirty: 0,
                custom_effect: false,
                in_script: false,
                in_multi: false,
            };
            let mut out = BytesMut::new();
            match work {
                Work::Calls(calls) => {
                    // A call's time also covers encoding the previous reply: one clock read
                    // per command (see `call_from`).
                    let mut t = Instant::now();
                    for (cmd, args) in calls {
                        let (r, end) = commands::call_from(&mut ctx, cmd, &args, t);
                        r.encode(resp, &mut out);
                        t = end;
                    }
                }
                Work::Job(job) => job(&mut ctx).encode(resp, &mut out),
            }
            out.freeze()
        };
        // Keys that expired while the unit ran become DEL effects (followers never expire).
        for d in self.held.iter_mut().flatten() {
            for (i, dbx) in d.dbs.iter_mut().enumerate() {
                for k in dbx.expired.drain(..) {
                    if collect {
                        effects.push(Effect::expiry_del(i as u16, k.to_bytes()));
                    }
                }
            }
        }
        if collect && !effects.is_empty() {
            // Still holding every shard of the unit: the stream's order matches the shards'.
            self.server.publish_effects(effects);
        }
        for (s, back) in returns {
            if let Some(data) = self.held[s].take() {
                let _ = back.send(data);
            }
        }
        self.data = self.held[me].take();
        let _ = reply.send(out);
    }

    /// Background work between units: bounded active expiry.
    fn cron(&mut self) {
        let Some(data) = self.data.as_mut() else {
            return;
        };
        // Gauges for INFO and /metrics, read by other threads without a unit.
        let stats = &self.server.shards[self.local.id].stats;
        for (i, db) in data.dbs.iter().enumerate() {
            stats.keys[i].store(db.len() as u64, Ordering::Relaxed);
            stats.expiring[i].store(db.expires.len() as u64, Ordering::Relaxed);
        }
        stats
            .queue_depth
            .store(self.rx.len() as u64, Ordering::Relaxed);
        if self.local.id == 0 {
            let used = crate::server::admin::info::used_memory();
            self.server.used_memory.store(used, Ordering::Relaxed);
        }
        let start = Instant::now();
        let now = unix_ms();
        for (i, db) in data.dbs.iter_mut().enumerate() {
            if db.expires.is_empty()
                || db.passive_expiry
                || !self.server.active_expire.load(Ordering::Relaxed)
            {
                continue;
            }
            db.now = now;
            while start.elapsed() < EXPIRE_BUDGET {
                let before = db.expires.len();
                self.expire_cursor[i] = db.active_expire(self.expire_cursor[i], 64);
                let removed = before - db.expires.len();
                // Keep going only while a good share of what we sample has expired.
                if self.expire_cursor[i] == 0 || removed < 16 {
                    break;
                }
            }
            if !db.expired.is_empty() {
                let keys: Vec<_> = db.expired.drain(..).collect();
                if self.server.effects_wanted() {
                    let effects = keys
                        .into_iter()
                        .map(|k| Effect::expiry_del(i as u16, k.to_bytes()))
                        .collect();
                    self.server.publish_effects(effects);
                }
            }
        }
        let _ = Ordering::Relaxed;
    }
}

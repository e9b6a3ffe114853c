//! Shards: each shard's slice of the keyspace, the thread that serves its queue, and the rules
//! for who may touch its data.
//!
//! State: a shard's [`ShardData`] and per-shard helpers ([`ShardLocal`], with its Lua VM) live in
//! its [`ShardHandle::state`]. Whoever holds that owns the data for the time of one unit, and
//! nothing touches the data without holding it. A unit is taken by one of two ways in
//! (hold.rs): a connection task runs it *inline* when every shard it needs is free at that
//! moment (no thread hand-off: the common case costs what it costs Redis), and otherwise queues
//! it for the home shard's thread, which waits for the shards. Only shard threads ever wait,
//! always in ascending shard order: no deadlock (ARCHITECTURE.md, "Atomicity across shards").
//!
//! Architecture Invariant: the only cross-thread types of the data path are here (`ShardMsg`,
//! `Request`, `ShardState`). Connection tasks never block on a shard: they try, or they await a
//! oneshot.

mod cron;
pub mod evict;
pub mod histogram;
mod hold;
mod stats;

pub use hold::{leave_io_worker, Hold, Leftover, Requester};

pub use stats::{CmdStat, ErrorStats, ShardStats, LATENCY_BUCKETS};

use crate::commands::CmdRef;
use crate::keyspace::Db;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The data one shard owns.
pub struct ShardData {
    pub id: usize,
    pub dbs: Vec<Db>,
    /// Keys of this shard read by tracking clients (client-side caching).
    pub tracked: crate::server::tracking::KeyTable,
    /// The `Db::track_writes` and `Db::no_touch` every database holds now (bit 0, bit 1), so
    /// a unit rewrites them only when they change, not per database per unit.
    pub(crate) db_bits: u8,
}

impl ShardData {
    /// Sets every database's `track_writes` and `no_touch` (a loop only when they change).
    #[inline]
    pub fn set_db_bits(&mut self, track_writes: bool, no_touch: bool) {
        let bits = u8::from(track_writes) | u8::from(no_touch) << 1;
        if self.db_bits != bits {
            self.db_bits = bits;
            for db in &mut self.dbs {
                db.track_writes = track_writes;
                db.no_touch = no_touch;
            }
        }
    }
}

/// Per-shard helpers that travel with the data: whoever holds the shard uses them. Only the
/// home shard's is visible to a unit.
pub struct ShardLocal {
    pub id: usize,
    pub rng: rand::rngs::SmallRng,
    /// Unix ms at the start of the current unit.
    pub now: u64,
    /// This shard's Lua VM for scripts, created on first use.
    pub script_vm: Option<Box<crate::scripting::ScriptVm>>,
    /// This shard's queue, so a script past `busy-reply-threshold` can answer what waits
    /// behind it with -BUSY (as Redis answers while a script runs) instead of holding it.
    pub inbox: Receiver<ShardMsg>,
    /// Per database, where active expiry resumes.
    pub expire_cursor: Vec<u64>,
    /// Invalidations for a unit's own client, written after its command's reply (kept here,
    /// empty between units, so a unit allocates and drops nothing for them).
    pub own_pushes: Vec<crate::server::tracking::Push>,
}

// SAFETY: `ShardLocal` is not `Send` only because of the Lua VM (mlua's `Lua` and its handles
// use non-atomic reference counts). The VM and every handle into it live inside this struct
// (a run's own handles are dropped before its unit ends) and move between threads only with
// the whole struct, inside the shard's mutex: one thread at a time touches them, and the mutex
// orders one holder's accesses before the next one's. mlua keeps no thread-local state.
unsafe impl Send for ShardLocal {}

/// What the shard's mutex guards.
pub struct ShardState {
    /// `None` only while a unit holding the shard runs (the data is in its table then).
    data: Option<Box<ShardData>>,
    pub local: ShardLocal,
}

pub type Job = Box<dyn FnOnce(&mut crate::commands::Ctx<'_>) -> crate::protocol::Reply + Send>;

pub enum Work {
    /// Commands run one after the other; their replies are concatenated.
    Calls(Vec<(CmdRef, Vec<Bytes>)>),
    /// Arbitrary work with exclusive access to the held shards (EXEC, INFO, scripts).
    Job(Job),
}

/// A unit of work for one or more shards, queued on its home shard.
pub struct Request {
    /// Shards the unit needs, ascending; the first is home and runs it.
    pub shards: Vec<usize>,
    pub db: usize,
    pub resp: u8,
    pub client_id: u64,
    /// `Requester::flags`.
    pub flags: u8,
    pub work: Work,
    /// Replies already encoded by an earlier part of the same batch (see [`Leftover`]); the
    /// unit's own follow them.
    pub done: BytesMut,
    /// The encoded replies.
    pub reply: tokio::sync::oneshot::Sender<Bytes>,
}

pub enum ShardMsg {
    Run(Request),
    Stop,
}

/// One -BUSY per reply `work` would have given.
pub fn busy_replies(server: &Server, resp: u8, work: &Work, out: &mut BytesMut) {
    let busy = crate::protocol::Reply::error(server.scripting.busy_error());
    let n = match work {
        Work::Calls(calls) => calls.len(),
        Work::Job(_) => 1,
    };
    for _ in 0..n {
        busy.encode(resp, out);
    }
}

/// A shard as every thread sees it.
pub struct ShardHandle {
    pub tx: Sender<ShardMsg>,
    /// The shard's data and helpers; hold.rs says who takes it and how.
    pub state: Mutex<ShardState>,
    /// Shard threads waiting for `state`: inline runners step aside while there are any.
    waiting: AtomicUsize,
    /// Set while a script on this shard has run past `busy-reply-threshold`.
    pub busy: AtomicBool,
    /// Set by SCRIPT KILL / FUNCTION KILL; the script's hook sees it.
    pub kill: AtomicBool,
    /// The shard's background work is due and its thread found the shard held: the holder
    /// runs it when its unit ends (cron.rs).
    cron_due: AtomicBool,
    pub stats: ShardStats,
}

/// Creates `n` shards with empty databases (handles go into the `Server`, receivers to
/// [`spawn`]).
pub fn channels(n: usize, databases: usize) -> (Vec<ShardHandle>, Vec<Receiver<ShardMsg>>) {
    (0..n)
        .map(|id| {
            let (tx, rx) = crossbeam_channel::unbounded();
            let state = ShardState {
                data: Some(Box::new(ShardData {
                    id,
                    dbs: (0..databases).map(|_| Db::default()).collect(),
                    tracked: Default::default(),
                    db_bits: 0,
                })),
                local: ShardLocal {
                    id,
                    rng: rand::rngs::SmallRng::from_entropy(),
                    now: crate::clock::unix_ms(),
                    script_vm: None,
                    inbox: rx.clone(),
                    expire_cursor: vec![0; databases],
                    own_pushes: Vec::new(),
                },
            };
            let handle = ShardHandle {
                tx,
                state: Mutex::new(state),
                waiting: AtomicUsize::new(0),
                busy: AtomicBool::new(false),
                kill: AtomicBool::new(false),
                cron_due: AtomicBool::new(false),
                stats: ShardStats::new(databases),
            };
            (handle, rx)
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
            let mut shard = Shard {
                id,
                table: (0..server.shards.len()).map(|_| None).collect(),
                server,
                rx,
            };
            shard.run();
        })
        .expect("spawning a shard thread")
}

/// A shard thread: serves the units queued for it (those that could not run inline) and the
/// shard's background work.
struct Shard {
    id: usize,
    /// Scratch slot table for units (see [`Hold::run`]).
    table: Vec<Option<Box<ShardData>>>,
    server: Arc<Server>,
    rx: Receiver<ShardMsg>,
}

/// How often the shard's background work (active expiry) runs.
const CRON: Duration = Duration::from_millis(100);

impl Shard {
    fn run(&mut self) {
        let mut next_cron = Instant::now() + CRON;
        loop {
            let timeout = next_cron.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(timeout) {
                Ok(ShardMsg::Run(req)) => {
                    if self.run_batch(req) {
                        return;
                    }
                }
                Ok(ShardMsg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_cron {
                crate::clock::resync();
                cron::tick(&self.server, self.id);
                next_cron = Instant::now() + CRON;
            }
        }
    }

    /// Runs `first` and everything queued behind it, in order, as one drain: inline runners
    /// step aside until it is done (`waiting`), so the queue empties in one go and the shard
    /// goes back to inline service. One unit at a time, the queue could stay non-empty for as
    /// long as clients kept the thread busy (each new unit queued behind the last), paying a
    /// thread hand-off per unit. Returns true when a Stop was among them.
    fn run_batch(&mut self, first: Request) -> bool {
        const MOST: usize = 1024;
        let mut batch = vec![first];
        let mut stop = false;
        while batch.len() < MOST {
            match self.rx.try_recv() {
                Ok(ShardMsg::Run(r)) => batch.push(r),
                Ok(ShardMsg::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let server = self.server.clone();
        let waiting = &server.shards[self.id].waiting;
        waiting.fetch_add(1, Ordering::Relaxed);
        for req in batch {
            self.run_request(req);
        }
        waiting.fetch_sub(1, Ordering::Relaxed);
        stop
    }

    fn run_request(&mut self, req: Request) {
        let Request {
            shards,
            db,
            resp,
            client_id,
            flags,
            work,
            done: mut out,
            reply,
        } = req;
        debug_assert_eq!(shards.first(), Some(&self.id));
        let server = &*self.server;
        let who = Requester {
            db,
            resp,
            client_id,
            flags,
        };
        let left = match Hold::take(server, &shards) {
            Ok(hold) => hold.run(server, &mut self.table, who, work, &mut out),
            Err(hold::Busy) => {
                busy_replies(server, resp, &work, &mut out);
                None
            }
        };
        match left {
            None => {
                let _ = reply.send(out.freeze());
            }
            // The rest of the batch goes to the home of its wider set of shards, with the
            // replies so far; the client waits for it before sending anything else.
            Some(left) => {
                let home = left.shards[0];
                let req = Request {
                    shards: left.shards,
                    db,
                    resp,
                    client_id,
                    flags,
                    work: Work::Calls(left.calls),
                    done: out,
                    reply,
                };
                if let Err(e) = server.shards[home].tx.send(ShardMsg::Run(req)) {
                    if let ShardMsg::Run(req) = e.into_inner() {
                        let _ = req.reply.send(req.done.freeze());
                    }
                }
            }
        }
    }
}

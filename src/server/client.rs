//! The registry of connected clients (CLIENT LIST / KILL / INFO, INFO clients).
//!
//! Invariant: a `ClientInfo` is written by its own connection task and read by others; fields
//! others read are atomics or behind a short mutex never held across an await.

use super::tracking::Push;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    /// `clock::coarse_ms` at the client's last request.
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicU64,
    pub resp: AtomicU8,
    pub name: Mutex<String>,
    /// CLIENT SETINFO's `lib-name` and `lib-ver` (empty: not set).
    pub lib: Mutex<(String, String)>,
    /// The id (`CmdRef::id`) of the last connection-level command plus one; 0 before any (an
    /// atomic, so recording it costs the connection no lock).
    pub last_cmd: AtomicU32,
    pub multi: AtomicU64,
    /// Subscriptions: channels, patterns, shard channels (CLIENT LIST `sub=`, `psub=`,
    /// `ssub=`), written by the connection's `pubsub::Subs`.
    pub subs: [AtomicU32; 3],
    /// Set by CLIENT KILL; the connection closes at its next wake-up.
    pub killed: AtomicBool,
    /// The connection's task while it waits (one waiter: the connection runs as one task).
    kill_waker: atomic_waker::AtomicWaker,
    /// CLIENT NO-EVICT (flag `e`). luagate never evicts clients, so it is only reported.
    pub no_evict: AtomicBool,
    /// READONLY in cluster mode (flag `r`): a replica serves this client's reads of its
    /// primary's slots.
    pub readonly: AtomicBool,
    /// MONITOR (flag `O`).
    pub monitor: AtomicBool,
    /// Held by CLIENT PAUSE (flag `b`, as Redis shows a postponed client).
    pub postponed: AtomicBool,
    /// Where the client's blocking command stands (`Block`), for CLIENT UNBLOCK and flag `b`.
    block: AtomicU8,
    /// The blocked connection's task, woken by CLIENT UNBLOCK.
    unblock_waker: atomic_waker::AtomicWaker,
    /// Client-side caching state shown by CLIENT LIST: `TRACKING_*` bits (flags `t`, `R`,
    /// `B`) and `redir=` (-1: not tracking).
    tracking: AtomicU8,
    redir: AtomicI64,
    /// CLIENT NO-TOUCH (flag `T`).
    pub no_touch: AtomicBool,
    /// A replication link rather than a client connection: `REPLICA` (a follower's link here,
    /// flag `S`) or `MASTER` (this follower's link to its leader, flag `M`), else `NORMAL`.
    pub role: AtomicU8,
    /// Invalidations for this connection to write (src/server/tracking/push.rs), queued by
    /// whichever thread ran the write; `pushed` says there are some and wakes the task (through
    /// the kill waker, which the connection always waits on).
    pushes: parking_lot::Mutex<Vec<Push>>,
    pushed: AtomicBool,
}

const TRACKING_ON: u8 = 1;
const TRACKING_BROKEN: u8 = 2;
const TRACKING_BCAST: u8 = 4;

/// `ClientInfo::role`: a client, a follower's link (here, on its leader), this follower's link
/// to its leader.
pub const NORMAL: u8 = 0;
pub const REPLICA: u8 = 1;
pub const MASTER: u8 = 2;

/// What woke a connection waiting on its `ClientInfo`.
pub enum Wake {
    Killed,
    Pushed,
}

/// The states of `ClientInfo::block`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Block {
    /// Not waiting in a blocking command.
    No = 0,
    /// Waiting for keys.
    Waiting = 1,
    /// CLIENT UNBLOCK … TIMEOUT: answer as if the timeout passed.
    UnblockTimeout = 2,
    /// CLIENT UNBLOCK … ERROR: answer `-UNBLOCKED`.
    UnblockError = 3,
}

impl Block {
    fn from_u8(v: u8) -> Block {
        match v {
            1 => Block::Waiting,
            2 => Block::UnblockTimeout,
            3 => Block::UnblockError,
            _ => Block::No,
        }
    }
}

impl ClientInfo {
    /// Whole seconds since the client's last request, on the timer-updated clock (so idle
    /// times advance in 100 ms steps).
    pub fn idle_secs(&self) -> u64 {
        crate::clock::coarse_ms().saturating_sub(self.last_interaction_ms.load(Relaxed)) / 1000
    }

    /// Marks a request: a relaxed store of the cached clock, no clock read per request.
    pub fn touch(&self) {
        self.last_interaction_ms
            .store(crate::clock::coarse_ms(), Relaxed);
    }

    /// Whether the client is subscribed to anything (Redis's `CLIENT_PUBSUB` flag: CLIENT LIST
    /// `flags=P`, client type `pubsub`).
    pub fn is_pubsub(&self) -> bool {
        self.subs.iter().any(|s| s.load(Relaxed) > 0)
    }

    /// CLIENT LIST / CLIENT KILL `TYPE`: `normal`, `pubsub`, `replica` or `master` (`slave`
    /// is read as `replica`).
    pub fn kind(&self) -> &'static str {
        match self.role.load(Relaxed) {
            REPLICA => "replica",
            MASTER => "master",
            _ if self.is_pubsub() => "pubsub",
            _ => "normal",
        }
    }

    /// Whether this is a follower's replication link (not counted in `connected_clients`).
    pub fn is_replica(&self) -> bool {
        self.role.load(Relaxed) == REPLICA
    }

    /// One CLIENT LIST line (without the newline), fields as Redis 7.2 prints them.
    pub fn describe(&self) -> String {
        let name = self.name.lock().map(|n| n.clone()).unwrap_or_default();
        let (lib_name, lib_ver) = self.lib.lock().map(|l| l.clone()).unwrap_or_default();
        let cmd = match self.last_cmd.load(Relaxed) {
            0 => "NULL",
            id => crate::commands::full_name((id - 1) as u16),
        };
        let multi = self.multi.load(Relaxed);
        // Redis's letters, in its order, for the states luagate has.
        let mut flags = String::new();
        let role = self.role.load(Relaxed);
        match role {
            REPLICA => flags.push('S'),
            MASTER => flags.push('M'),
            _ => {}
        }
        if self.monitor.load(Relaxed) {
            flags.push('O');
        }
        if self.is_pubsub() {
            flags.push('P');
        }
        if multi != 0 {
            flags.push('x');
        }
        if self.block_state() != Block::No || self.postponed.load(Relaxed) {
            flags.push('b');
        }
        let tracking = self.tracking.load(Relaxed);
        for (bit, c) in [
            (TRACKING_ON, 't'),
            (TRACKING_BROKEN, 'R'),
            (TRACKING_BCAST, 'B'),
        ] {
            if tracking & bit != 0 {
                flags.push(c);
            }
        }
        if self.readonly.load(Relaxed) {
            flags.push('r');
        }
        if self.no_evict.load(Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1024 events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Relaxed),
            self.subs[0].load(Relaxed),
            self.subs[1].load(Relaxed),
            self.subs[2].load(Relaxed),
            if multi == 0 { -1 } else { multi as i64 - 1 },
            cmd,
            // A leader's link acts for no user, as Redis's master client.
            if role == MASTER { "(superuser)" } else { "default" },
            self.redir.load(Relaxed),
            self.resp.load(Relaxed),
            lib_name,
            lib_ver,
        )
    }

    /// Records the client's tracking state for CLIENT LIST (a new state is never broken).
    pub fn set_tracking(&self, on: bool, bcast: bool, redirect: u64) {
        let bits = if on { TRACKING_ON } else { 0 } | if bcast { TRACKING_BCAST } else { 0 };
        self.tracking.store(bits, Relaxed);
        self.redir
            .store(if on { redirect as i64 } else { -1 }, Relaxed);
    }

    /// The client this one redirects invalidations to has gone (flag `R`).
    pub fn set_tracking_broken(&self) {
        self.tracking.fetch_or(TRACKING_BROKEN, Relaxed);
    }

    pub fn tracking_broken(&self) -> bool {
        self.tracking.load(Relaxed) & TRACKING_BROKEN != 0
    }

    /// Queues an invalidation for this connection and wakes it.
    pub fn push(&self, p: Push) {
        if self.killed.load(Relaxed) {
            return;
        }
        self.pushes.lock().push(p);
        self.pushed.store(true, Release);
        self.kill_waker.wake();
    }

    /// Whether invalidations are queued for this connection.
    #[inline]
    pub fn has_pushes(&self) -> bool {
        self.pushed.load(Acquire)
    }

    /// Takes the queued invalidations.
    pub fn take_pushes(&self) -> Vec<Push> {
        self.pushed.store(false, Release);
        std::mem::take(&mut *self.pushes.lock())
    }

    /// Resolves once the client is killed or has invalidations queued (the connection waits
    /// on it beside its socket).
    pub fn wake_signal(&self) -> impl std::future::Future<Output = Wake> + '_ {
        std::future::poll_fn(move |cx| {
            let ready = || {
                if self.killed.load(Acquire) {
                    Some(Wake::Killed)
                } else if self.pushed.load(Acquire) {
                    Some(Wake::Pushed)
                } else {
                    None
                }
            };
            if let Some(w) = ready() {
                return std::task::Poll::Ready(w);
            }
            self.kill_waker.register(cx.waker());
            // Checked again: a kill or push between the load and the registration woke no one.
            match ready() {
                Some(w) => std::task::Poll::Ready(w),
                None => std::task::Poll::Pending,
            }
        })
    }

    pub fn kill(&self) {
        self.killed.store(true, Release);
        self.kill_waker.wake();
    }

    /// Resolves once the client is killed; the connection waits on it beside its socket.
    /// Polling only registers the task's waker (tokio's `Notify` takes a lock to enlist and
    /// unlist a waiter around every wait, a visible share of an unpipelined request).
    pub fn killed_signal(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if !self.killed.load(Acquire) {
                self.kill_waker.register(cx.waker());
                // Checked again: a kill between the load and the registration woke no one.
                if !self.killed.load(Acquire) {
                    return std::task::Poll::Pending;
                }
            }
            std::task::Poll::Ready(())
        })
    }
}

impl ClientInfo {
    pub fn block_state(&self) -> Block {
        Block::from_u8(self.block.load(Acquire))
    }

    /// The client's blocking command starts or stops waiting (`Waiting` / `No`); returns the
    /// state it replaced, so the command learns of an UNBLOCK that came as it stopped.
    pub fn set_blocked(&self, waiting: bool) -> Block {
        let to = if waiting { Block::Waiting } else { Block::No };
        Block::from_u8(self.block.swap(to as u8, AcqRel))
    }

    /// CLIENT UNBLOCK: true if the client was waiting and will now end its command as `how`
    /// says (`UnblockTimeout` or `UnblockError`).
    pub fn unblock(&self, how: Block) -> bool {
        let done = self
            .block
            .compare_exchange(Block::Waiting as u8, how as u8, AcqRel, Acquire)
            .is_ok();
        if done {
            self.unblock_waker.wake();
        }
        done
    }

    /// Resolves with how to end once CLIENT UNBLOCK reached the waiting client.
    pub fn unblocked_signal(&self) -> impl std::future::Future<Output = Block> + '_ {
        std::future::poll_fn(move |cx| {
            let pending = |s: Block| matches!(s, Block::No | Block::Waiting);
            let mut s = self.block_state();
            if pending(s) {
                self.unblock_waker.register(cx.waker());
                s = self.block_state();
                if pending(s) {
                    return std::task::Poll::Pending;
                }
            }
            std::task::Poll::Ready(s)
        })
    }
}

#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let c = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(crate::clock::coarse_ms()),
            db: AtomicU64::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(String::new()),
            lib: Mutex::new((String::new(), String::new())),
            last_cmd: AtomicU32::new(0),
            multi: AtomicU64::new(0),
            subs: Default::default(),
            killed: AtomicBool::new(false),
            kill_waker: atomic_waker::AtomicWaker::new(),
            no_evict: AtomicBool::new(false),
            readonly: AtomicBool::new(false),
            monitor: AtomicBool::new(false),
            postponed: AtomicBool::new(false),
            block: AtomicU8::new(Block::No as u8),
            unblock_waker: atomic_waker::AtomicWaker::new(),
            tracking: AtomicU8::new(0),
            redir: AtomicI64::new(-1),
            no_touch: AtomicBool::new(false),
            role: AtomicU8::new(NORMAL),
            pushes: parking_lot::Mutex::new(Vec::new()),
            pushed: AtomicBool::new(false),
        });
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, c.clone());
        }
        c
    }

    pub fn unregister(&self, id: u64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&id);
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Clients without the followers' links (INFO `connected_clients`, as Redis counts).
    pub fn connected(&self) -> usize {
        self.map
            .lock()
            .map(|m| m.values().filter(|c| !c.is_replica()).count())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of all clients, in id order.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().ok().and_then(|m| m.get(&id).cloned())
    }
}

//! Blocking commands (BLPOP, BLMOVE, BLMPOP, BZPOPMIN …): waiting for keys outside MULTI and
//! scripts.
//!
//! A blocking command is an ordinary shard command whose function serves if it can and
//! otherwise returns its timeout reply. [`run`] repeats it until it serves: each attempt is one
//! unit over the shards of all the command's keys which tries the function and, if it could
//! not serve, registers the client's `Notify` as a `Waiter::Block` on every key it waits on.
//! Invariant (no lost wake-up): registration happens in the same unit as the failed attempt,
//! so any later write to those keys runs after it and its `Db::signal` finds the waiter (a
//! signal that fires before the client awaits leaves a permit in the `Notify`).
//!
//! Fairness: every call gets a ticket in arrival order. While waiting, the ticket is queued
//! per (db, key) in [`Blocked`]. An attempt serves only from keys where no older ticket is
//! queued, so when one push wakes several clients the oldest takes the element whatever order
//! their retries reach the shard; the others re-wait and are woken again when the older
//! client leaves the queue (served, timed out or gone). This is Redis's "first blocked, first
//! served" per key. As in Redis, clients blocked on a key that a unit made ready are served
//! before that unit ends ([`serve_ready`], in ticket order), so a pop pipelined right behind the
//! push cannot take the element first; a client whose other shards the unit does not hold is
//! woken and serves itself in a unit of its own.
//!
//! After the first attempt, a key holding a value of the wrong type is skipped rather than
//! reported (Redis 7.0 keeps such a client blocked). Waiters never leak: a client that stops
//! waiting removes its own, and registering prunes those whose owner has gone.

use super::client::{Block, ClientInfo};
use super::connection::Conn;
use super::Server;
use crate::commands::{self, CmdRef, Ctx};
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Db, Str, Waiter};
use crate::protocol::Reply;
use crate::shard::Work;
use bytes::{Buf, Bytes};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Checks, on a retry, whether what the client waits on has gone; the error line if so.
pub type Gone = fn(&mut Ctx<'_>, &[Bytes]) -> Option<String>;

/// How one blocking command waits. Families list theirs (e.g. `commands::lists::BLOCK_SPECS`)
/// and [`spec_for`] finds them by name.
pub struct BlockSpec {
    /// Checks every argument as the command does before it touches data (so errors come in
    /// Redis's order) and returns the timeout in milliseconds, 0 meaning forever.
    pub parse: fn(&[Bytes]) -> CmdResult<u64>,
    /// Positions of the keys the command waits on (not e.g. BLMOVE's destination).
    pub sources: fn(&[Bytes]) -> Vec<usize>,
    /// The arguments with only the waited-on keys at `keep` (a non-empty, ordered subset of
    /// `sources`), everything else unchanged.
    pub narrow: fn(&[Bytes], &[usize]) -> Vec<Bytes>,
    /// The type (`Value::type_name`) a key must hold to be served from.
    pub kind: &'static str,
    /// What the shard function returns when it cannot serve (its reply in MULTI).
    pub not_served: Reply,
    /// The reply on timeout (Redis 7.0 sends a null array for every blocking list command,
    /// even BLMOVE, whose MULTI form answers a null bulk).
    pub timed_out: Reply,
    /// For a retry: the error that ends the wait because what it waited on has gone
    /// (XREADGROUP's stream or group), if any.
    pub gone: Option<Gone>,
}

/// Whether a call of a blocking command may wait at all: XREAD only with BLOCK (without it,
/// it runs, and is batched, as any other command); the others always may.
pub fn may_wait(cmd: CmdRef, args: &[Bytes]) -> bool {
    match cmd.cmd.name {
        "xread" => args
            .iter()
            .skip(1)
            .take_while(|a| !a.eq_ignore_ascii_case(b"streams"))
            .any(|a| a.eq_ignore_ascii_case(b"block")),
        _ => true,
    }
}

/// The waiting rule of a blocking command, by its table name.
pub fn spec_for(name: &str) -> Option<&'static BlockSpec> {
    crate::commands::lists::BLOCK_SPECS
        .iter()
        .chain(crate::commands::zsets::BLOCK_SPECS.iter())
        .chain(crate::commands::streams::BLOCK_SPECS.iter())
        .chain(crate::commands::stream_groups::BLOCK_SPECS.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
}

/// A rewrite of the arguments, in a unit of its own before the first attempt, for commands
/// whose arguments name the data's state at call time (XREAD's `$`: the last id now).
type Prepare = fn(&mut Ctx<'_>, &[Bytes]) -> Vec<Bytes>;

/// The argument rewrite of a blocking command, if it has one.
fn prepare_for(name: &str) -> Option<Prepare> {
    match name {
        "xread" => Some(crate::commands::streams::xread_resolve_last_ids),
        _ => None,
    }
}

/// Whether waiters of this kind consume what they are served (pops) and so are served one at
/// a time, oldest first; stream readers take nothing, so none holds another back.
fn consumes(kind: &str) -> bool {
    kind != "stream"
}

/// A timeout in seconds (a float) as Redis reads it (`strtold`: hex floats too), in
/// milliseconds rounded up, 0 = forever. Values whose milliseconds do not fit an i64 are
/// "negative", as in Redis.
pub fn parse_timeout(arg: &[u8]) -> CmdResult<u64> {
    crate::commands::zsets::num::timeout_ms(arg).map_err(|not_float| {
        CommandError::err(if not_float {
            "ERR timeout is not a float or out of range"
        } else {
            "ERR timeout is negative"
        })
    })
}

// ---- key layouts shared by blocking commands ----

/// `CMD key [key ...] timeout` (BLPOP, BRPOP, BZPOPMIN, BZPOPMAX).
pub fn sources_before_timeout(args: &[Bytes]) -> Vec<usize> {
    (1..args.len().saturating_sub(1)).collect()
}

pub fn narrow_before_timeout(args: &[Bytes], keep: &[usize]) -> Vec<Bytes> {
    let mut v = vec![args[0].clone()];
    v.extend(keep.iter().map(|&i| args[i].clone()));
    v.push(args[args.len() - 1].clone());
    v
}

/// `CMD source destination ...` (BLMOVE, BRPOPLPUSH): only the source is waited on.
pub fn source_first(_args: &[Bytes]) -> Vec<usize> {
    vec![1]
}

pub fn narrow_first(args: &[Bytes], _keep: &[usize]) -> Vec<Bytes> {
    args.to_vec()
}

fn numkeys_at2(args: &[Bytes]) -> usize {
    args.get(2)
        .and_then(|n| commands::parse_i64(n))
        .and_then(|n| usize::try_from(n).ok())
        .map_or(0, |n| n.min(args.len().saturating_sub(3)))
}

/// `CMD timeout numkeys key [key ...] ...` (BLMPOP, BZMPOP).
pub fn sources_numkeys_at2(args: &[Bytes]) -> Vec<usize> {
    (3..3 + numkeys_at2(args)).collect()
}

pub fn narrow_numkeys_at2(args: &[Bytes], keep: &[usize]) -> Vec<Bytes> {
    let n = numkeys_at2(args);
    let mut v = vec![
        args[0].clone(),
        args[1].clone(),
        Bytes::from(keep.len().to_string()),
    ];
    v.extend(keep.iter().map(|&i| args[i].clone()));
    v.extend(args[3 + n..].iter().cloned());
    v
}

// ---- the per-key queues of waiting clients ----

/// Waiting clients on one key by ticket, with the type they wait for.
type Queue = BTreeMap<u64, (&'static str, Arc<Pending>)>;

/// Who waits on which key, oldest first (see the module comment on fairness).
#[derive(Default)]
pub struct Blocked {
    next_ticket: AtomicU64,
    waiting: AtomicUsize,
    queues: Mutex<HashMap<usize, HashMap<Bytes, Queue>>>,
}

impl Blocked {
    /// Clients waiting right now (INFO's `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Relaxed)
    }

    fn ticket(&self) -> u64 {
        self.next_ticket.fetch_add(1, Relaxed)
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<usize, HashMap<Bytes, Queue>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a client older than `ticket` waits on `key` for a value of type `kind` (one
    /// waiting for another type would never take this value, so it must not hold anyone back).
    fn has_older(&self, db: usize, key: &[u8], ticket: u64, kind: &str) -> bool {
        let q = self.queues();
        q.get(&db)
            .and_then(|keys| keys.get(key))
            .is_some_and(|queue| queue.range(..ticket).any(|(_, (k, _))| *k == kind))
    }

    fn join(&self, db: usize, keys: &[Bytes], ticket: u64, kind: &'static str, p: &Arc<Pending>) {
        let mut q = self.queues();
        let per_db = q.entry(db).or_default();
        for k in keys {
            per_db
                .entry(k.clone())
                .or_default()
                .insert(ticket, (kind, p.clone()));
        }
    }

    /// The clients waiting on `key`, oldest first.
    fn waiting_on(&self, db: usize, key: &[u8]) -> Vec<Arc<Pending>> {
        let q = self.queues();
        q.get(&db)
            .and_then(|keys| keys.get(key))
            .map(|queue| queue.values().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default()
    }

    /// Removes `ticket` from its queues and wakes whoever is now oldest on each key (for each
    /// type waited for), since it may have been held back by this client.
    fn leave(&self, db: usize, keys: &[Bytes], ticket: u64) {
        let mut q = self.queues();
        let Some(per_db) = q.get_mut(&db) else {
            return;
        };
        for k in keys {
            let Some(queue) = per_db.get_mut(k) else {
                continue;
            };
            if queue.remove(&ticket).is_none() {
                continue;
            }
            if queue.is_empty() {
                per_db.remove(k);
                continue;
            }
            let mut woken: Vec<&str> = Vec::new();
            for (kind, p) in queue.values() {
                if !woken.contains(kind) {
                    woken.push(kind);
                    p.notify.notify_one();
                }
            }
        }
        if per_db.is_empty() {
            q.remove(&db);
        }
    }
}

/// Keeps a waiting client's queue entries exactly as long as it waits, even if its task is
/// dropped mid-wait.
struct Membership {
    server: Arc<Server>,
    db: usize,
    keys: Arc<Vec<Bytes>>,
    ticket: u64,
    counted: bool,
}

impl Membership {
    fn count_waiting(&mut self) {
        if !self.counted {
            self.counted = true;
            self.server.blocked.waiting.fetch_add(1, Relaxed);
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.server.blocked.leave(self.db, &self.keys, self.ticket);
        if self.counted {
            self.server.blocked.waiting.fetch_sub(1, Relaxed);
        }
    }
}

/// A client held by CLIENT PAUSE counts as blocked while this lives, as Redis counts a
/// postponed client (INFO `blocked_clients`, CLIENT LIST flag `b`). It is not waiting for
/// keys, so CLIENT UNBLOCK leaves it alone.
pub struct Postponed<'a> {
    server: &'a Server,
    info: &'a ClientInfo,
}

impl<'a> Postponed<'a> {
    pub fn new(server: &'a Server, info: &'a ClientInfo) -> Postponed<'a> {
        server.blocked.waiting.fetch_add(1, Relaxed);
        info.postponed.store(true, Relaxed);
        Postponed { server, info }
    }
}

impl Drop for Postponed<'_> {
    fn drop(&mut self) {
        self.info.postponed.store(false, Relaxed);
        self.server.blocked.waiting.fetch_sub(1, Relaxed);
    }
}

// ---- waiters in the keyspace ----

fn is_mine(w: &Waiter, me: &Arc<Notify>) -> bool {
    matches!(w, Waiter::Block(n) if Arc::ptr_eq(n, me))
}

/// Registers `me` on `key`, replacing an earlier registration of its own and dropping
/// waiters whose client has gone (only the keyspace still holds their `Notify`).
fn register(db: &mut Db, key: &[u8], me: &Arc<Notify>) {
    let ws = db.waiters.entry(Str::new(key)).or_default();
    ws.retain(|w| match w {
        Waiter::Block(n) => !Arc::ptr_eq(n, me) && Arc::strong_count(n) > 1,
        Waiter::Watch(_) => true,
    });
    ws.push(Waiter::Block(me.clone()));
}

fn unregister(db: &mut Db, key: &[u8], me: &Arc<Notify>) {
    if let Some(ws) = db.waiters.get_mut(key) {
        ws.retain(|w| !is_mine(w, me));
        if ws.is_empty() {
            db.waiters.remove(key);
        }
    }
}

/// A blocked call: everything needed to serve it, by its own retries or by the unit that made
/// its key ready.
struct Pending {
    cmd: CmdRef,
    spec: &'static BlockSpec,
    args: Arc<Vec<Bytes>>,
    sources: Arc<Vec<usize>>,
    keys: Arc<Vec<Bytes>>,
    ticket: u64,
    notify: Arc<Notify>,
    /// The shards of the command's keys, ascending.
    shards: Vec<usize>,
    db: usize,
    resp: u8,
    client_id: u64,
    /// The encoded reply, once another client's unit served this one.
    served: Mutex<Option<Bytes>>,
    /// How long the first attempt ran: the duration of a call that ends unserved.
    first_usec: AtomicU64,
}

impl Pending {
    fn take_served(&self) -> Option<Bytes> {
        self.served.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// One attempt: a try by the client's own unit (`first` for the very first one) or by the unit
/// that made a key ready.
struct Attempt {
    p: Arc<Pending>,
    first: bool,
}

impl Attempt {
    /// Runs inside the unit: serves (returning the reply) or registers the client's waiters.
    fn run(&self, ctx: &mut Ctx<'_>) -> Option<Reply> {
        // A client's own retry can be queued behind the unit that has just served it
        // (`serve_ready`). Running the command again would hand it a second element, and
        // the first, waiting in `served`, would be lost; joining the queues again would hold
        // back every younger client until this one leaves. Its reply is already waiting.
        if !self.first && self.p.served.lock().map_or(true, |s| s.is_some()) {
            return None;
        }
        let db = ctx.db;
        let mut keep = Vec::with_capacity(self.p.sources.len());
        for &i in self.p.sources.iter() {
            let key = &self.p.args[i];
            // A retry only checks: like Redis, which looks up just the key that became
            // ready, it leaves an expired key alone (it expires, with its event, when next
            // looked up) and does not hand it to the command.
            let (kind, expired) = match ctx.db(key) {
                Ok(d) if d.is_expired(key) => (None, true),
                Ok(d) => (d.keys.get(key).map(|v| v.type_name()), false),
                Err(_) => (None, false),
            };
            let usable = (self.first || !expired)
                && match kind {
                    None => true,
                    Some(kind) => {
                        (self.first || kind == self.p.spec.kind)
                            && !(consumes(kind)
                                && ctx.server.blocked.has_older(db, key, self.p.ticket, kind))
                    }
                };
            if usable {
                keep.push(i);
            }
        }
        let gone = match self.p.spec.gone {
            Some(gone) if !self.first => gone(ctx, &self.p.args),
            _ => None,
        };
        if let Some(e) = gone {
            ctx.server.errors.record(&e);
            ctx.server.blocked.leave(db, &self.p.keys, self.p.ticket);
            for k in self.p.keys.iter() {
                if let Ok(d) = ctx.db(k) {
                    unregister(d, k, &self.p.notify);
                }
            }
            return Some(Reply::Error(e));
        }
        // The first attempt always runs the command whole, so argument errors (BZMPOP's numkeys
        // 0, say) are answered rather than waited on.
        if self.first || !keep.is_empty() {
            // Counted as a call only when it serves (or fails): an attempt that blocks is
            // not a call yet, as in Redis (see `count_unserved` for the other endings).
            let started = Instant::now();
            let (reply, failed) = if keep.len() == self.p.sources.len() {
                commands::call_uncounted(ctx, self.p.cmd, &self.p.args)
            } else {
                let narrowed = (self.p.spec.narrow)(&self.p.args, &keep);
                commands::call_uncounted(ctx, self.p.cmd, &narrowed)
            };
            if reply == self.p.spec.not_served {
                if self.first {
                    let usec = started.elapsed().as_micros() as u64;
                    self.p.first_usec.store(usec, Relaxed);
                }
            } else {
                commands::account(ctx, self.p.cmd, &self.p.args, started, u32::from(failed));
                // Only a retry can have joined queues or registered waiters.
                if !self.first {
                    ctx.server.blocked.leave(db, &self.p.keys, self.p.ticket);
                    for k in self.p.keys.iter() {
                        if let Ok(d) = ctx.db(k) {
                            unregister(d, k, &self.p.notify);
                        }
                    }
                }
                return Some(reply);
            }
        }
        ctx.server
            .blocked
            .join(db, &self.p.keys, self.p.ticket, self.p.spec.kind, &self.p);
        for k in self.p.keys.iter() {
            if let Ok(d) = ctx.db(k) {
                register(d, k, &self.p.notify);
            }
        }
        None
    }
}

/// Counts a blocked call that ended unserved as Redis 7.0.15 counts it: at its timeout a call
/// (of its first attempt's duration) outside the latency histogram; by CLIENT UNBLOCK (`how`),
/// TIMEOUT or ERROR alike, a failed call inside it.
fn count_unserved(ctx: &Ctx<'_>, p: &Pending, how: Block) {
    let usec = p.first_usec.load(Relaxed);
    let unblocked = matches!(how, Block::UnblockTimeout | Block::UnblockError);
    commands::account_unserved(ctx, p.cmd, usec, u32::from(unblocked), unblocked);
}

/// Serves, before the unit ends, the clients blocked on keys the unit made ready: oldest first
/// per key, each as itself (its db and protocol) when the unit holds all of its shards; the
/// rest were woken and serve themselves. Serving can make more keys ready (BLMOVE pushes), so
/// it repeats, boundedly.
pub fn serve_ready(ctx: &mut Ctx<'_>) {
    for _ in 0..64 {
        let mut ready: Vec<(usize, Str)> = Vec::new();
        for shard in ctx.held_shards() {
            for (i, d) in shard.dbs.iter_mut().enumerate() {
                ready.extend(d.ready.drain(..).map(|k| (i, k)));
            }
        }
        if ready.is_empty() {
            return;
        }
        ready.dedup();
        for (db, key) in ready {
            for p in ctx.server.blocked.waiting_on(db, key.as_bytes()) {
                let held = p
                    .shards
                    .iter()
                    .all(|&s| ctx.held.get(s).is_some_and(|h| h.is_some()));
                if !held || p.served.lock().map_or(true, |s| s.is_some()) {
                    continue;
                }
                let saved = (ctx.db, ctx.resp, ctx.client_id);
                (ctx.db, ctx.resp, ctx.client_id) = (p.db, p.resp, p.client_id);
                let reply = Attempt {
                    p: p.clone(),
                    first: false,
                }
                .run(ctx);
                (ctx.db, ctx.resp, ctx.client_id) = saved;
                if let Some(r) = reply {
                    let mut out = bytes::BytesMut::new();
                    r.encode(p.resp, &mut out);
                    if let Ok(mut slot) = p.served.lock() {
                        *slot = Some(out.freeze());
                    }
                    p.notify.notify_one();
                }
            }
        }
    }
}

enum End {
    TimedOut,
    Gone,
    /// By CLIENT UNBLOCK, with its reason.
    Unblocked(Block),
}

const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Shows the client as waiting (CLIENT LIST flag `b`, CLIENT UNBLOCK) while it lives, however
/// the command ends.
struct WaitingMark(Arc<ClientInfo>);

impl WaitingMark {
    fn new(info: Arc<ClientInfo>) -> WaitingMark {
        info.set_blocked(true);
        WaitingMark(info)
    }
}

impl Drop for WaitingMark {
    fn drop(&mut self) {
        self.0.set_blocked(false);
    }
}

/// Runs a BLOCKING command for a client (not in MULTI): serves it now, or waits for its keys
/// until served, timed out, killed or disconnected. `shards` are the command's routed shards;
/// `sock` lets a waiting client's earlier replies go out and its disconnection be noticed.
pub async fn run(
    conn: &mut Conn,
    cmd: CmdRef,
    args: Vec<Bytes>,
    shards: Vec<usize>,
    sock: Option<&TcpStream>,
) {
    let spec = spec_for(cmd.cmd.name);
    let timeout = spec.map(|s| (s.parse)(&args));
    let (Some(spec), Some(Ok(timeout_ms))) = (spec, timeout) else {
        // Unknown waiting rule or bad arguments: the shard function answers (and counts it).
        let bytes = conn.run_unit(shards, Work::Calls(vec![(cmd, args)])).await;
        conn.out.extend_from_slice(&bytes);
        return;
    };
    let args = match prepare_for(cmd.cmd.name) {
        Some(prepare) => {
            let given = args.clone();
            conn.run_job_value(shards.clone(), move |ctx| prepare(ctx, &given))
                .await
                .unwrap_or(args)
        }
        None => args,
    };
    let deadline = (timeout_ms > 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(timeout_ms)))
        .flatten();
    let server = conn.server.clone();
    let sources: Arc<Vec<usize>> = Arc::new((spec.sources)(&args));
    let keys: Arc<Vec<Bytes>> = Arc::new(sources.iter().map(|&i| args[i].clone()).collect());
    let ticket = server.blocked.ticket();
    let mut member = Membership {
        server: server.clone(),
        db: conn.db,
        keys: keys.clone(),
        ticket,
        counted: false,
    };
    let notify = Arc::new(Notify::new());
    let pending = Arc::new(Pending {
        cmd,
        spec,
        args: Arc::new(args),
        sources: sources.clone(),
        keys: keys.clone(),
        ticket,
        notify: notify.clone(),
        shards: shards.clone(),
        db: conn.db,
        resp: conn.resp,
        client_id: conn.info.id,
        served: Mutex::new(None),
        first_usec: AtomicU64::new(0),
    });
    let mut first = true;
    let mut mark = None;
    let end = loop {
        // Served by the unit that made a key ready (see `serve_ready`).
        if let Some(bytes) = pending.take_served() {
            conn.out.extend_from_slice(&bytes);
            return;
        }
        let served = Arc::new(AtomicBool::new(false));
        let attempt = Attempt {
            p: pending.clone(),
            first,
        };
        let flag = served.clone();
        let bytes = conn
            .run_job(shards.clone(), move |ctx| match attempt.run(ctx) {
                Some(r) => {
                    flag.store(true, Relaxed);
                    r
                }
                None => Reply::Nil,
            })
            .await;
        if served.load(Relaxed) {
            conn.out.extend_from_slice(&bytes);
            return;
        }
        // Served by another unit while this attempt waited for the shards.
        if let Some(bytes) = pending.take_served() {
            conn.out.extend_from_slice(&bytes);
            return;
        }
        if first {
            first = false;
            member.count_waiting();
            mark = Some(WaitingMark::new(conn.info.clone()));
            // Replies pipelined before this command must not wait behind it.
            if let Some(s) = sock {
                if write_now(conn, s).await.is_err() {
                    break End::Gone;
                }
            }
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = sleep => break End::TimedOut,
            _ = conn.info.killed_signal() => break End::Gone,
            _ = peer_gone(sock) => break End::Gone,
            how = conn.info.unblocked_signal() => break End::Unblocked(how),
        }
        if conn.info.killed.load(Relaxed) {
            break End::Gone;
        }
    };
    // An UNBLOCK that came as the wait ended counts as the way it ended (it answered 1).
    let end = match (conn.info.set_blocked(false), end) {
        (how @ (Block::UnblockTimeout | Block::UnblockError), End::TimedOut) => End::Unblocked(how),
        (_, end) => end,
    };
    drop(mark);
    // Leave the queues first so younger clients held back by this one can go on.
    drop(member);
    let me = notify.clone();
    let waited = keys.clone();
    let p = pending.clone();
    let ending = match end {
        End::TimedOut => Some(Block::No),
        End::Unblocked(how) => Some(how),
        End::Gone => None,
    };
    conn.run_job(shards, move |ctx| {
        for k in waited.iter() {
            if let Ok(d) = ctx.db(k) {
                unregister(d, k, &me);
            }
        }
        // Holding the keys' shards: nothing can serve it any more, so it ends unserved
        // unless it was served already (that unit counted it).
        let served = p.served.lock().map(|s| s.is_some()).unwrap_or(true);
        if let (Some(how), false) = (ending, served) {
            count_unserved(ctx, &p, how);
        }
        Reply::Nil
    })
    .await;
    // A unit may have served this client between its wake-up and leaving: that reply wins
    // (its element was taken for this client).
    if let Some(bytes) = pending.take_served() {
        conn.out.extend_from_slice(&bytes);
        if matches!(end, End::Gone) {
            conn.close = true;
        }
        return;
    }
    match end {
        End::TimedOut | End::Unblocked(Block::UnblockTimeout) => {
            spec.timed_out.encode(conn.resp, &mut conn.out)
        }
        End::Unblocked(_) => {
            conn.server.errors.record(UNBLOCKED);
            Reply::error(UNBLOCKED).encode(conn.resp, &mut conn.out)
        }
        End::Gone => conn.close = true,
    }
}

/// Writes the buffered replies now, through a shared reference to the socket.
pub(crate) async fn write_now(conn: &mut Conn, sock: &TcpStream) -> std::io::Result<()> {
    crate::persistence::aof::flush(&conn.server);
    while !conn.out.is_empty() {
        sock.writable().await?;
        match sock.try_write(&conn.out) {
            Ok(n) => {
                conn.server
                    .stats
                    .net_output_bytes
                    .fetch_add(n as u64, Relaxed);
                conn.out.advance(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Completes when the peer has closed the connection. Once unread input is pending the
/// closing cannot be seen without reading it, so this then never completes (the client is
/// found gone at its next read instead).
async fn peer_gone(sock: Option<&TcpStream>) {
    if let Some(s) = sock {
        let mut b = [0u8; 1];
        if !matches!(s.peek(&mut b).await, Ok(n) if n > 0) {
            return;
        }
    }
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        // Rounded up to whole milliseconds, so a tiny timeout still times out...
        assert_eq!(parse_timeout(b"0.0001"), Ok(1));
        // ...and a tiny negative one rounds to 0, which waits forever.
        assert_eq!(parse_timeout(b"-0.0001"), Ok(0));
        let neg = Err(CommandError::err("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"-1"), neg);
        assert_eq!(parse_timeout(b"inf"), neg);
        assert_eq!(parse_timeout(b"9223372036854776"), neg);
        let bad = Err(CommandError::err(
            "ERR timeout is not a float or out of range",
        ));
        assert_eq!(parse_timeout(b"nan"), bad);
        assert_eq!(parse_timeout(b"1x"), bad);
        assert_eq!(parse_timeout(b""), bad);
    }

    #[test]
    fn narrowing_keeps_everything_but_the_dropped_keys() {
        let a = args(&["BLPOP", "a", "b", "c", "5"]);
        assert_eq!(sources_before_timeout(&a), vec![1, 2, 3]);
        assert_eq!(
            narrow_before_timeout(&a, &[1, 3]),
            args(&["BLPOP", "a", "c", "5"])
        );
        let m = args(&["BLMPOP", "0", "3", "a", "b", "c", "LEFT", "COUNT", "2"]);
        assert_eq!(sources_numkeys_at2(&m), vec![3, 4, 5]);
        assert_eq!(
            narrow_numkeys_at2(&m, &[4]),
            args(&["BLMPOP", "0", "1", "b", "LEFT", "COUNT", "2"])
        );
        // A numkeys larger than the arguments never indexes past them.
        let bad = args(&["BLMPOP", "0", "9", "a"]);
        assert_eq!(sources_numkeys_at2(&bad), vec![3]);
        let mv = args(&["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]);
        assert_eq!(source_first(&mv), vec![1]);
        assert_eq!(narrow_first(&mv, &[1]), mv);
    }
}

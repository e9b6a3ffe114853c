//! Transactions: MULTI / EXEC / DISCARD / WATCH / UNWATCH.
//!
//! Invariants:
//! - While in MULTI, every command that passes the connection's checks (lookup, arity, auth,
//!   DEBUG gating, `no-multi`) is queued; one that fails them marks the transaction so EXEC
//!   discards it. EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run at once.
//! - EXEC runs the queue as ONE unit holding every shard the queued commands need *and* every
//!   shard holding a watched key, so the WATCH check and the writes are atomic together (no
//!   write skew between transactions watching each other's keys).
//! - A watched key is "touched" when a write signals it (`Db::signal`: writes, expiry deletes,
//!   flushes) or when it was live at WATCH time and has logically expired by EXEC (Redis 7.0).
//! - A client's watch waiters are removed from the shards at EXEC, DISCARD, UNWATCH, RESET and
//!   disconnect; each WATCH epoch has its own flag, so a stale waiter can never fail a later
//!   transaction.
//! - Scripts and functions queued in a transaction (EVAL*, FCALL*) are checked at EXEC like
//!   at the top level and run inside the unit in their place; the unit then holds every shard,
//!   so a script reaches any key without the re-run EVAL uses outside transactions.
//! - Connection-level commands queued in a transaction either run inside the unit, in order
//!   (PING, ECHO, TIME, SELECT, LASTSAVE, UNWATCH, INFO: see [`in_unit`]), or, when they only
//!   touch connection or server state (CLIENT, CONFIG, HELLO, DEBUG …), right after it, on the
//!   connection, with their replies placed at their position in the EXEC array.

use super::connection::Conn;
use super::{admin, conn_cmds};
use crate::commands::{self, flags, CmdRef, Ctx, Effect, Run};
use crate::error::CommandError;
use crate::keyspace::{Db, Waiter};
use crate::protocol::Reply;
use crate::scripting::batch;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Per-connection transaction state.
#[derive(Default)]
pub struct TxState {
    /// `Some` while in MULTI: the queued commands.
    queue: Option<Vec<(CmdRef, Vec<Bytes>)>>,
    /// A command was rejected while queueing: EXEC must abort.
    failed: bool,
    watch: Option<Watch>,
}

impl TxState {
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// Whether a queued command writes or may replicate (EXEC is then held by CLIENT PAUSE
    /// WRITE, as Redis holds it).
    pub fn queued_writes(&self) -> bool {
        self.queue.iter().flatten().any(|(c, _)| c.cmd.may_write())
    }

    /// Whether `cmd` counts as a write for the replication checks: it has the `write` flag, or
    /// it is the EXEC of queued commands that have it (Redis then aborts the transaction, on a
    /// follower or on a leader short of good followers).
    pub fn writes(&self, cmd: CmdRef) -> bool {
        cmd.cmd.has(flags::WRITE)
            || (self.in_multi()
                && cmd.cmd.name == "exec"
                && self
                    .queue
                    .iter()
                    .flatten()
                    .any(|(c, _)| c.cmd.has(flags::WRITE)))
    }

    /// The queued commands (none outside MULTI).
    pub fn queued(&self) -> &[(CmdRef, Vec<Bytes>)] {
        self.queue.as_deref().unwrap_or_default()
    }
}

struct Watch {
    /// Set by any shard when one of the watched keys is touched.
    flag: Arc<AtomicBool>,
    keys: Vec<Watched>,
}

struct Watched {
    db: usize,
    key: Bytes,
    shard: usize,
    /// The key existed with a past expiry when watched: its expiry is not a change.
    expired_at_watch: bool,
}

/// Commands that run immediately even inside MULTI.
pub fn runs_now(cmd: CmdRef) -> bool {
    matches!(
        commands::full_name(cmd.id),
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Whether `cmd` is one of this module's commands.
pub fn owns(cmd: CmdRef) -> bool {
    matches!(
        commands::full_name(cmd.id),
        "multi" | "exec" | "discard" | "watch" | "unwatch"
    )
}

pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let r = match cmd.cmd.name {
        "multi" => {
            if conn.tx.in_multi() {
                Err(CommandError::err("ERR MULTI calls can not be nested"))
            } else {
                conn.tx.queue = Some(Vec::new());
                conn.tx.failed = false;
                conn.info.multi.store(1, Ordering::Relaxed);
                Ok(Reply::ok())
            }
        }
        "discard" => {
            if conn.tx.in_multi() {
                discard(conn).await;
                Ok(Reply::ok())
            } else {
                Err(CommandError::err("ERR DISCARD without MULTI"))
            }
        }
        "watch" => {
            if conn.tx.in_multi() {
                Err(CommandError::err("ERR WATCH inside MULTI is not allowed"))
            } else {
                watch(conn, &args[1..]).await
            }
        }
        "unwatch" => {
            unwatch(conn).await;
            Ok(Reply::ok())
        }
        "exec" => exec(conn).await,
        _ => Err(CommandError::Syntax),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

/// Queues a command inside MULTI and replies `+QUEUED`.
pub async fn enqueue(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) {
    if let Some(q) = conn.tx.queue.as_mut() {
        q.push((cmd, args));
        conn.info.multi.store(q.len() as u64 + 1, Ordering::Relaxed);
    }
    conn.reply(Reply::status("QUEUED")).await;
}

/// The reply for a command rejected before it ran. Inside MULTI the rejection marks the
/// transaction; a rejected EXEC aborts it at once, naming the reason.
pub async fn on_reject(conn: &mut Conn, cmd: Option<CmdRef>, err: String) -> Reply {
    if !conn.tx.in_multi() {
        return Reply::Error(err);
    }
    conn.tx.failed = true;
    if cmd.is_some_and(|c| commands::full_name(c.id) == "exec") {
        discard(conn).await;
        let reason = err.strip_prefix("ERR ").unwrap_or(&err);
        return Reply::Error(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
    }
    Reply::Error(err)
}

/// Leaves MULTI (if in it) and drops every watch: DISCARD, RESET, disconnect.
pub async fn discard(conn: &mut Conn) {
    conn.tx.queue = None;
    conn.tx.failed = false;
    conn.info.multi.store(0, Ordering::Relaxed);
    unwatch(conn).await;
}

async fn watch(conn: &mut Conn, keys: &[Bytes]) -> Result<Reply, CommandError> {
    let db = conn.db;
    let w = conn.tx.watch.get_or_insert_with(|| Watch {
        flag: Arc::new(AtomicBool::new(false)),
        keys: Vec::new(),
    });
    let mut new: Vec<Watched> = Vec::new();
    for k in keys {
        let seen = |x: &Watched| x.db == db && x.key == *k;
        if w.keys.iter().any(seen) || new.iter().any(seen) {
            continue;
        }
        new.push(Watched {
            db,
            key: k.clone(),
            shard: conn.server.slots.shard_of_key(k).index(),
            expired_at_watch: false,
        });
    }
    if new.is_empty() {
        return Ok(Reply::ok());
    }
    let flag = w.flag.clone();
    let shards = shard_set(new.iter().map(|x| x.shard));
    let regs: Vec<(usize, Bytes)> = new.iter().map(|x| (x.db, x.key.clone())).collect();
    let expired = conn
        .run_job_value(shards, move |ctx| {
            regs.iter()
                .map(|(db, k)| match ctx.db_index(k, *db) {
                    Ok(d) => {
                        let expired = d.is_expired(k);
                        d.add_waiter(k, Waiter::Watch(flag.clone()));
                        expired
                    }
                    Err(_) => false,
                })
                .collect::<Vec<bool>>()
        })
        .await
        .ok_or_else(|| CommandError::err("ERR shard is not running"))?;
    for (x, e) in new.iter_mut().zip(expired) {
        x.expired_at_watch = e;
    }
    if let Some(w) = conn.tx.watch.as_mut() {
        w.keys.extend(new);
    }
    Ok(Reply::ok())
}

/// Forgets all watched keys, removing this client's waiters from the shards.
pub async fn unwatch(conn: &mut Conn) {
    let Some(w) = conn.tx.watch.take() else {
        return;
    };
    if w.keys.is_empty() {
        return;
    }
    let shards = shard_set(w.keys.iter().map(|x| x.shard));
    conn.run_job_value(shards, move |ctx| release(ctx, &w))
        .await;
}

/// Removes `w`'s waiters from the shards `ctx` holds.
fn release(ctx: &mut Ctx<'_>, w: &Watch) {
    for x in &w.keys {
        if let Ok(d) = ctx.db_index(&x.key, x.db) {
            remove_waiter(d, &x.key, &w.flag);
        }
    }
}

fn remove_waiter(db: &mut Db, key: &[u8], flag: &Arc<AtomicBool>) {
    if let Some(ws) = db.waiters.get_mut(key) {
        ws.retain(|w| !matches!(w, Waiter::Watch(f) if Arc::ptr_eq(f, flag)));
        if ws.is_empty() {
            db.waiters.remove(key);
        }
    }
}

/// Whether a watched key was touched: its flag, or a live key that has since expired.
fn touched(ctx: &mut Ctx<'_>, w: &Watch) -> bool {
    if w.flag.load(Ordering::Acquire) {
        return true;
    }
    w.keys.iter().any(|x| {
        !x.expired_at_watch
            && ctx
                .db_index(&x.key, x.db)
                .map(|d| d.is_expired(&x.key))
                .unwrap_or(false)
    })
}

fn shard_set(it: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v: Vec<usize> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A connection command EXEC runs inside its unit.
type UnitFn = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// Connection commands that run inside EXEC's unit, in order with the data commands, and
/// whether they need every shard. Scripting commands that must be atomic with the
/// transaction belong here too.
/// EVAL, EVALSHA, their `_RO` forms, FCALL and FCALL_RO.
fn script_call(cmd: CmdRef) -> bool {
    matches!(
        commands::full_name(cmd.id),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

fn in_unit(cmd: CmdRef) -> Option<(UnitFn, bool)> {
    Some(match commands::full_name(cmd.id) {
        "ping" => (unit_ping, false),
        "echo" => (|_, a| Reply::Bulk(a[1].clone()), false),
        "time" => (unit_time, false),
        "select" => (unit_select, false),
        "lastsave" => (
            |ctx, _| Reply::Int(crate::persistence::lastsave(ctx.server)),
            false,
        ),
        "unwatch" => (|_, _| Reply::ok(), false),
        "info" => (admin::info::in_unit, true),
        _ => return None,
    })
}

fn unit_ping(_: &mut Ctx<'_>, a: &[Bytes]) -> Reply {
    match a.len() {
        1 => Reply::status("PONG"),
        2 => Reply::Bulk(a[1].clone()),
        _ => Reply::error("ERR wrong number of arguments for 'ping' command"),
    }
}

fn unit_time(_: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk_str(&now.as_secs().to_string()),
        Reply::bulk_str(&now.subsec_micros().to_string()),
    ])
}

fn unit_select(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Reply {
    match crate::commands::keys::select_index(ctx.server, &a[1]) {
        Ok(i) => {
            ctx.db = i;
            Reply::ok()
        }
        Err(e) => Reply::Error(e.to_string()),
    }
}

enum Step {
    Call,
    Unit(UnitFn),
    /// A script or function call queued in the transaction, run in its place; the unit holds
    /// every shard, so it can reach any key without a re-run.
    Script(Arc<crate::scripting::run::ScriptJob>),
    /// A reply decided before the unit (a queued EVAL that failed its checks).
    Reply(Reply),
    /// Runs on the connection after the unit.
    Deferred,
}

enum Outcome {
    Aborted,
    Done {
        replies: Vec<Option<Reply>>,
        db: usize,
    },
}

async fn exec(conn: &mut Conn) -> Result<Reply, CommandError> {
    let Some(queue) = conn.tx.queue.take() else {
        return Err(CommandError::err("ERR EXEC without MULTI"));
    };
    conn.info.multi.store(0, Ordering::Relaxed);
    if std::mem::take(&mut conn.tx.failed) {
        unwatch(conn).await;
        return Err(CommandError::err(EXECABORT));
    }
    let watch = conn.tx.watch.take();
    if watch
        .as_ref()
        .is_some_and(|w| w.flag.load(Ordering::Acquire))
    {
        conn.tx.watch = watch;
        unwatch(conn).await;
        return Ok(Reply::NilArray);
    }

    let n = conn.server.shards.len();
    let mut need = vec![false; n];
    let mut plan: Vec<(Step, CmdRef, Vec<Bytes>)> = Vec::with_capacity(queue.len());
    let mut deferred = Vec::new();
    for (cmd, args) in queue {
        match cmd.cmd.run {
            Run::Shard(_) => {
                for s in conn.server.route(cmd.cmd, &args) {
                    need[s] = true;
                }
                plan.push((Step::Call, cmd, args));
            }
            Run::Conn if script_call(cmd) => {
                let name = commands::full_name(cmd.id);
                let job = if name.starts_with("fcall") {
                    crate::functions::cmds::prepare(&conn.server, name == "fcall_ro", args.clone())
                } else {
                    crate::scripting::eval::prepare(&conn.server, name, &args).map(|(j, _)| j)
                };
                match job {
                    Ok(job) => {
                        need.iter_mut().for_each(|x| *x = true);
                        plan.push((Step::Script(job), cmd, args));
                    }
                    Err(r) => plan.push((Step::Reply(r), cmd, args)),
                }
            }
            Run::Conn => match in_unit(cmd) {
                Some((f, all)) => {
                    if all {
                        need.iter_mut().for_each(|x| *x = true);
                    }
                    plan.push((Step::Unit(f), cmd, args));
                }
                None => {
                    plan.push((Step::Deferred, cmd, Vec::new()));
                    deferred.push((cmd, args));
                }
            },
        }
    }
    if let Some(w) = &watch {
        for x in &w.keys {
            need[x.shard] = true;
        }
    }
    let mut shards: Vec<usize> = (0..n).filter(|&s| need[s]).collect();
    if shards.is_empty() {
        shards.push(0);
    }
    if conn.busy(&shards) && plan.iter().any(|(_, c, _)| !c.cmd.has(flags::ALLOW_BUSY)) {
        conn.tx.watch = watch;
        unwatch(conn).await;
        return Err(CommandError::err(format!(
            "EXECABORT Transaction discarded because of: {}",
            conn.server.scripting.busy_error()
        )));
    }
    let outcome = conn
        .run_job_value(shards, move |ctx| run_unit(ctx, watch, plan))
        .await
        .ok_or_else(|| CommandError::err("ERR shard is not running"))?;
    let (replies, db) = match outcome {
        Outcome::Aborted => return Ok(Reply::NilArray),
        Outcome::Done { replies, db } => (replies, db),
    };
    conn.db = db;
    conn.info.db.store(db as u64, Ordering::Relaxed);
    Ok(Reply::Raw(encode_results(conn, replies, deferred).await))
}

/// The body of EXEC's unit: check the watches, then run every queued command in order.
fn run_unit(
    ctx: &mut Ctx<'_>,
    watch: Option<Watch>,
    plan: Vec<(Step, CmdRef, Vec<Bytes>)>,
) -> Outcome {
    if let Some(w) = &watch {
        let dirty = touched(ctx, w);
        release(ctx, w);
        if dirty {
            return Outcome::Aborted;
        }
    }
    ctx.in_multi = true;
    let first_effect = ctx.effects.as_ref().map(|e| e.len());
    let start_db = ctx.db as u16;
    let mut replies = Vec::with_capacity(plan.len());
    for (step, cmd, args) in &plan {
        let r = match step {
            Step::Unit(f) => {
                let started = std::time::Instant::now();
                let r = f(ctx, args);
                record(ctx.server, *cmd, started, &r);
                Some(r)
            }
            Step::Deferred => None,
            Step::Call => Some(commands::call(ctx, *cmd, args)),
            Step::Script(job) => {
                let started = std::time::Instant::now();
                let r = crate::scripting::run::run_script(ctx, job);
                let ran = batch::kind(*cmd).map(|o| (o, job.failures.load(Ordering::Relaxed)));
                let failures = batch::account_script(ctx.server, ran, &r);
                commands::account(ctx, *cmd, args, started, failures);
                Some(r)
            }
            // A script call refused at EXEC (NOSCRIPT …) is a failed call, as in Redis.
            Step::Reply(r) => {
                let failures = batch::account_script(ctx.server, None, r);
                commands::account(ctx, *cmd, args, std::time::Instant::now(), failures);
                Some(r.clone())
            }
        };
        replies.push(r);
    }
    ctx.in_multi = false;
    // Several effects become one MULTI … EXEC block in the effect stream (one is atomic alone).
    if let (Some(first), Some(e)) = (first_effect, ctx.effects.as_deref_mut()) {
        if e.len() > first + 1 {
            e.insert(
                first,
                Effect {
                    db: start_db,
                    args: vec![Bytes::from_static(b"MULTI")],
                },
            );
            e.push(Effect {
                db: ctx.db as u16,
                args: vec![Bytes::from_static(b"EXEC")],
            });
        }
    }
    Outcome::Done {
        replies,
        db: ctx.db,
    }
}

/// Encodes EXEC's array, running the deferred connection commands in their places. Each
/// element uses the protocol in force when it is produced (HELLO inside MULTI switches it
/// for the elements after it, as in Redis).
async fn encode_results(
    conn: &mut Conn,
    replies: Vec<Option<Reply>>,
    deferred: Vec<(CmdRef, Vec<Bytes>)>,
) -> Bytes {
    // The deferred commands are the `None`s, in queue order.
    let mut out = BytesMut::new();
    out.extend_from_slice(format!("*{}\r\n", replies.len()).as_bytes());
    let mut deferred = deferred.into_iter();
    conn.in_exec = true;
    for r in replies {
        match r {
            Some(r) => r.encode(conn.resp, &mut out),
            None => {
                let Some((cmd, args)) = deferred.next() else {
                    Reply::error("ERR internal: missing deferred command")
                        .encode(conn.resp, &mut out);
                    continue;
                };
                let started = std::time::Instant::now();
                let mark = conn.out.len();
                match conn_cmds::dispatch(conn, cmd, args).await {
                    Some(r) => {
                        record(&conn.server, cmd, started, &r);
                        // A PUBLISH to this very client puts the message inside the array,
                        // before its reply, as Redis 7.0 does.
                        if matches!(commands::full_name(cmd.id), "publish" | "spublish") {
                            if let Some(subs) = conn.subs.as_mut() {
                                subs.drain(conn.resp, &mut out);
                            }
                        }
                        r.encode(conn.resp, &mut out);
                    }
                    None => {
                        record(&conn.server, cmd, started, &Reply::ok());
                        out.extend_from_slice(&conn.out.split_off(mark));
                    }
                }
            }
        }
    }
    conn.in_exec = false;
    out.freeze()
}

/// Statistics for a connection command run inside EXEC.
fn record(server: &super::Server, cmd: CmdRef, started: std::time::Instant, r: &Reply) {
    let failed = if let Reply::Error(e) = r {
        server.errors.record(e);
        1
    } else {
        0
    };
    let usec = started.elapsed().as_micros() as u64;
    server
        .conn_stats
        .record(cmd.id, usec, failed, server.latency_tracking());
    server
        .latency
        .command(cmd.cmd.has(crate::commands::flags::FAST), usec);
}

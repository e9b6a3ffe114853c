//! Taking shards for a unit of work, and running the unit while they are held.
//!
//! Invariant: a unit holds every shard it needs, from before its first command until its
//! effects are published and its reply is encoded, so no other unit sees it half done. Shards
//! are taken in ascending order. Only shard threads wait for a shard ([`Hold::take`]);
//! connection tasks only try ([`Hold::try_take`]) and queue the unit when a shard is taken, so
//! waits only ever point from lower to higher shards and no cycle (deadlock) can form.

use super::{ShardData, ShardState, Work};
use crate::commands::{self, Ctx, Effect};
use crate::protocol::Reply;
use crate::scripting::batch;
use crate::server::Server;
use bytes::BytesMut;
use parking_lot::MutexGuard;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// How often a shard thread waiting for a shard looks whether a script there went busy.
const BUSY_POLL: Duration = Duration::from_millis(5);

/// A shard a unit needs is running a script past `busy-reply-threshold`.
pub struct Busy;

/// Who a unit runs for.
#[derive(Clone, Copy)]
pub struct Requester {
    pub db: usize,
    pub resp: u8,
    pub client_id: u64,
    /// Client-side caching and NO-TOUCH for this unit (`server::tracking::hooks`'s
    /// `TRACK_READS`, `NO_TOUCH`).
    pub flags: u8,
}

/// The shards of one unit, taken; dropping it gives them back.
pub struct Hold<'a> {
    home: usize,
    first: MutexGuard<'a, ShardState>,
    /// The other shards, ascending (empty, so not allocated, for single-shard units).
    rest: Vec<(usize, MutexGuard<'a, ShardState>)>,
}

impl<'a> Hold<'a> {
    /// Takes every shard in `shards` (ascending, non-empty) if each is free right now, without
    /// waiting. A shard with queued units, or a shard thread waiting for it, counts as taken:
    /// what waits goes first, so a stream of inline units cannot starve the queue.
    pub fn try_take(server: &'a Server, shards: &[usize]) -> Option<Hold<'a>> {
        let take = |s: usize| {
            let h = &server.shards[s];
            if h.waiting.load(Relaxed) != 0 || !h.tx.is_empty() {
                return None;
            }
            h.state.try_lock()
        };
        // Holding nothing yet, a short bounded spin on the first shard is safe (no wait-for
        // edge while we hold nothing) and usually wins: the holder is another I/O worker in
        // the middle of a unit of a few microseconds, and queueing would cost two thread
        // hand-offs. Never spin on later shards: a runner holding a shard must not wait.
        let first = match take(shards[0]) {
            Some(g) => g,
            None => spin_take(server, shards[0])?,
        };
        let mut rest = Vec::new();
        for &s in &shards[1..] {
            // On failure everything taken so far is dropped, that is, given back.
            rest.push((s, take(s)?));
        }
        Some(Hold {
            home: shards[0],
            first,
            rest,
        })
    }

    /// Takes every shard in `shards` (ascending, non-empty), waiting for each. Shard threads
    /// only: a connection task must never wait here. Gives up with [`Busy`] when a shard it
    /// waits for is busy with a script, so the unit can be answered -BUSY now, as Redis answers
    /// during a script, rather than after it.
    pub fn take(server: &'a Server, shards: &[usize]) -> Result<Hold<'a>, Busy> {
        let take = |s: usize| {
            let h = &server.shards[s];
            h.waiting.fetch_add(1, Relaxed);
            let got = loop {
                if let Some(g) = h.state.try_lock_for(BUSY_POLL) {
                    break Ok(g);
                }
                if h.busy.load(Relaxed) {
                    break Err(Busy);
                }
            };
            h.waiting.fetch_sub(1, Relaxed);
            got
        };
        let first = take(shards[0])?;
        let mut rest = Vec::with_capacity(shards.len() - 1);
        for &s in &shards[1..] {
            rest.push((s, take(s)?));
        }
        Ok(Hold {
            home: shards[0],
            first,
            rest,
        })
    }

    /// Runs `work` on the held shards and appends its encoded replies to `out`. `table` is
    /// scratch with one slot per shard of the server, all empty; it is left empty.
    ///
    /// A panic in a command is caught here: the shards get their data back and the caller an
    /// error, so one bad command costs neither a shard nor the connection.
    ///
    /// A batch whose script call found it needs more shards stops there: what it did not run
    /// comes back, to run next as a unit on the wider set of shards.
    pub fn run(
        mut self,
        server: &Server,
        table: &mut [Option<Box<ShardData>>],
        who: Requester,
        work: Work,
        out: &mut BytesMut,
    ) -> Option<Leftover> {
        let me = self.home;
        // Swapped rather than assigned: the slots are empty, and an assignment would call
        // `ShardData`'s drop glue on the `None` it replaces (a call per shard per unit).
        std::mem::swap(&mut table[me], &mut self.first.data);
        for (s, g) in &mut self.rest {
            std::mem::swap(&mut table[*s], &mut g.data);
        }
        let start = out.len();
        let local = &mut self.first.local;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            execute(server, table, me, local, who, work, out)
        }));
        std::mem::swap(&mut table[me], &mut self.first.data);
        for (s, g) in &mut self.rest {
            std::mem::swap(&mut table[*s], &mut g.data);
        }
        let left = match ran {
            Ok(left) => left,
            Err(_) => {
                tracing::error!(shard = me, "a command panicked; its unit was cut short");
                out.truncate(start);
                Reply::error("ERR internal error while running the command").encode(who.resp, out);
                None
            }
        };
        super::cron::run_if_due(server, me, &mut self.first);
        for (s, g) in &mut self.rest {
            super::cron::run_if_due(server, *s, g);
        }
        left
    }
}

/// Writes the invalidations the last command caused for the unit's own client after its reply
/// (nothing to do unless it tracks and wrote a key it read).
#[inline]
fn own_pushes(ctx: &mut Ctx<'_>, out: &mut BytesMut) {
    if !ctx.local.own_pushes.is_empty() {
        for p in ctx.local.own_pushes.drain(..) {
            p.encode(ctx.resp, false, out);
        }
    }
}

/// Clients blocked on keys the last command (or the whole EXEC or script) made ready are served
/// now, before anything else runs, as Redis serves them (one load when nobody is blocked).
#[inline]
fn serve_blocked(ctx: &mut Ctx<'_>) {
    if ctx.server.blocked.blocked_clients() > 0 {
        crate::server::blocking::serve_ready(ctx);
    }
}

/// Tries `shard` a bounded number of times while it is held by a unit that is running (not
/// when units are queued for it or its thread waits for it: those go first).
fn spin_take(server: &Server, shard: usize) -> Option<MutexGuard<'_, ShardState>> {
    const SPINS: usize = 256;
    let h = &server.shards[shard];
    for _ in 0..SPINS {
        if h.waiting.load(Relaxed) != 0 || !h.tx.is_empty() || h.busy.load(Relaxed) {
            return None;
        }
        std::hint::spin_loop();
        if let Some(g) = h.state.try_lock() {
            return Some(g);
        }
    }
    None
}

fn execute(
    server: &Server,
    table: &mut [Option<Box<ShardData>>],
    me: usize,
    local: &mut super::ShardLocal,
    who: Requester,
    work: Work,
    out: &mut BytesMut,
) -> Option<Leftover> {
    // One clock read for the unit: its keys' time, the LRU clock and its first call's start.
    let started = Instant::now();
    let now = crate::clock::unix_ms_at(started);
    local.now = now;
    let clock = server.clock_secs_at(started);
    let paused = server.pause.is_on();
    let lfu = server.lfu_at(now);
    let tracking = server.tracking.active();
    let no_touch = who.flags & crate::server::tracking::hooks::NO_TOUCH != 0;
    for d in table.iter_mut().flatten() {
        for db in &mut d.dbs {
            db.now = now;
            db.clock = clock;
            db.paused = paused;
            db.lfu = lfu;
        }
        d.set_db_bits(tracking, no_touch);
    }
    let mut effects: Vec<Effect> = Vec::new();
    let collect = server.effects_wanted();
    let mut left = None;
    let dirty = {
        let mut ctx = Ctx {
            held: table,
            server,
            home: me,
            local,
            db: who.db,
            resp: who.resp,
            client_id: who.client_id,
            effects: if collect { Some(&mut effects) } else { None },
            dirty: 0,
            custom_effect: false,
            in_script: false,
            in_multi: false,
            routed: None,
            events: None,
            unit_flags: who.flags,
            own_id: who.client_id,
        };
        match work {
            Work::Calls(calls) => {
                let single = ctx.held.iter().filter(|d| d.is_some()).count() == 1;
                // A call's time also covers encoding the previous reply: one clock read per
                // command (see `call_from`).
                let mut t = started;
                let mut calls = calls.into_iter();
                while let Some((cmd, args)) = calls.next() {
                    if let Some(origin) = batch::kind(cmd) {
                        match batch::run(&mut ctx, cmd, origin, args) {
                            batch::Ran::Done(r) => {
                                r.encode(who.resp, out);
                                own_pushes(&mut ctx, out);
                            }
                            batch::Ran::Wider(needed, args) => {
                                left = Some(Leftover::new(&ctx, needed, (cmd, args), calls));
                                break;
                            }
                        }
                        t = Instant::now();
                    } else {
                        // Batched alone on its shard, a call was routed there by its keys.
                        ctx.routed = single.then_some(me);
                        let (r, end) = commands::call_from(&mut ctx, cmd, &args, t);
                        ctx.routed = None;
                        r.encode(who.resp, out);
                        own_pushes(&mut ctx, out);
                        t = end;
                    }
                    serve_blocked(&mut ctx);
                }
            }
            Work::Job(job) => {
                job(&mut ctx).encode(who.resp, out);
                serve_blocked(&mut ctx);
            }
        }
        // A job's reply may not be what the client sees (some return their value on a
        // channel), and a batch may stop early: their own invalidations take the queue.
        // Always emptied: `own_pushes` outlives the unit (it belongs to the shard).
        if !ctx.local.own_pushes.is_empty() {
            let me = server.tracking.get(who.client_id);
            for p in ctx.local.own_pushes.drain(..) {
                if let Some(t) = &me {
                    t.info.push(p);
                }
            }
        }
        ctx.dirty
    };
    if tracking {
        // Invalidations for what the unit changed outside its commands (eviction, an undone
        // script), and the BCAST prefixes' keys, once per unit as Redis sends them per turn.
        let mut held: Vec<&mut ShardData> = table.iter_mut().flatten().map(|d| &mut **d).collect();
        crate::server::tracking::hooks::end_of_unit(server, &mut held, who.client_id);
    }
    if dirty > 0 {
        // Counted while the shards are held, so a snapshot's cut sees whole units.
        server.persist.dirty.fetch_add(dirty, Relaxed);
    }
    // Keys that expired while the unit ran become DEL effects (followers never expire).
    for d in table.iter_mut().flatten() {
        for (i, dbx) in d.dbs.iter_mut().enumerate() {
            if dbx.expired.is_empty() {
                continue; // the usual case: no drain of sixteen empty lists per unit
            }
            for k in dbx.expired.drain(..) {
                if collect {
                    effects.push(Effect::expiry_del(i as u16, k.to_bytes()));
                }
            }
        }
    }
    if collect && !effects.is_empty() {
        // Still holding every shard of the unit: the stream's order matches the shards'.
        server.publish_effects(effects);
    }
    left
}

/// The part of a batch that must run on more shards than the batch held: a script call that
/// found it needs them, and every call after it.
pub struct Leftover {
    /// Ascending: the shards the batch held and those the script needs.
    pub shards: Vec<usize>,
    pub calls: Vec<(commands::CmdRef, Vec<bytes::Bytes>)>,
}

impl Leftover {
    fn new(
        ctx: &Ctx<'_>,
        needed: Vec<usize>,
        first: (commands::CmdRef, Vec<bytes::Bytes>),
        rest: impl Iterator<Item = (commands::CmdRef, Vec<bytes::Bytes>)>,
    ) -> Leftover {
        let mut shards: Vec<usize> = ctx
            .held
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_some())
            .map(|(i, _)| i)
            .chain(needed)
            .collect();
        shards.sort_unstable();
        shards.dedup();
        Leftover {
            shards,
            calls: std::iter::once(first).chain(rest).collect(),
        }
    }
}

/// Called by a unit that has run long (a script past `busy-reply-threshold`): if it runs
/// inline on an I/O worker, that worker's other connections move to a fresh thread, so they
/// keep being served (-BUSY for this unit's shards, SCRIPT KILL, every other shard) while this
/// thread stays in the unit, even when the runtime has a single worker.
///
/// `block_in_place` hands the worker's scheduler to a new thread and takes it back when its
/// closure returns, unless the new thread has picked it up by then. A task spawned (or woken,
/// e.g. by a -BUSY reply the unit sends) from a thread that holds the scheduler goes to its
/// LIFO slot, which no other worker can steal: while this thread holds it, such a task waits
/// for the unit to end. So the hand-off is repeated until a probe spawned from this thread
/// runs elsewhere, which proves the thread no longer holds a scheduler. (Waiting for a probe
/// spawned before the hand-off proves nothing: another worker may steal it while the new
/// thread is still starting, and the scheduler then comes back.)
pub fn leave_io_worker() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    const ROUNDS: usize = 10;
    let Ok(handle) = Handle::try_current() else {
        return; // a shard thread: its queue is answered from the script's hook
    };
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return;
    }
    let mut probe = Probe::spawn(&handle);
    for _ in 0..ROUNDS {
        // Moves the probe (and the LIFO slot) to the stealable queue and the scheduler to a
        // new thread; with no scheduler held any more, it only waits.
        tokio::task::block_in_place(|| probe.wait(Duration::from_millis(200)));
        probe = Probe::spawn(&handle);
        // Outside `block_in_place`: if this thread took the scheduler back, the probe sits in
        // its LIFO slot and cannot run.
        if probe.wait(Duration::from_millis(20)) {
            return;
        }
    }
    tracing::warn!("a busy unit could not hand its I/O worker's scheduler to another thread");
}

/// A task that only says it has run.
struct Probe(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Probe {
    fn spawn(handle: &tokio::runtime::Handle) -> Probe {
        use std::sync::atomic::{AtomicBool, Ordering};
        let ran = std::sync::Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        handle.spawn(async move { flag.store(true, Ordering::Release) });
        Probe(ran)
    }

    /// Sleeps until the probe has run (true) or `limit` has passed (false).
    fn wait(&self, limit: Duration) -> bool {
        use std::sync::atomic::Ordering;
        let deadline = Instant::now() + limit;
        while !self.0.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::leave_io_worker;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A busy unit answers -BUSY from its own thread: the woken connection must run while the
    /// unit goes on. A wake from a thread that still holds the worker's scheduler lands in its
    /// unstealable LIFO slot, so this fails whenever `leave_io_worker` let the scheduler come
    /// back (another worker ran its probe before the new thread took the scheduler).
    #[test]
    fn tasks_woken_by_a_unit_that_left_its_io_worker_run_while_it_goes_on() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        for round in 0..300 {
            let served = Arc::new(AtomicBool::new(false));
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let s = served.clone();
            rt.block_on(async move {
                // A connection waiting for its reply.
                let waiter = tokio::spawn(async move {
                    if rx.await.is_ok() {
                        s.store(true, SeqCst);
                    }
                });
                // Noise: the other worker is awake and stealing, as under load.
                let noise: Vec<_> = (0..8)
                    .map(|_| tokio::spawn(async { tokio::task::yield_now().await }))
                    .collect();
                tokio::task::yield_now().await;
                let served2 = served.clone();
                let unit = tokio::spawn(async move {
                    // The unit, inline on an I/O worker, goes busy.
                    leave_io_worker();
                    tx.send(()).ok();
                    let deadline = Instant::now() + Duration::from_secs(2);
                    while !served2.load(SeqCst) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    served2.load(SeqCst)
                });
                let ok = unit.await.unwrap();
                waiter.await.unwrap();
                for n in noise {
                    n.await.unwrap();
                }
                assert!(
                    ok,
                    "round {round}: the woken task waited for the unit to end"
                );
            });
        }
    }
}

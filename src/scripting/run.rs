//! Running one script inside a unit of work on its home shard.
//!
//! Invariants:
//! - While a script runs, the thread-local `RUN` holds its state (the unit's `Ctx` as a raw
//!   pointer, valid exactly for the duration of `run_script`); the Lua callbacks and the hook
//!   reach the unit only through it, synchronously, on this thread.
//! - A run that reaches a shard it does not hold becomes *aborted*: every later redis.call fails
//!   and the hook raises at every instruction, so no `pcall` can keep it going; when it ends, its
//!   writes are undone and its effects dropped, and the connection re-runs it with more shards.
//! - A killed run (SCRIPT KILL) has written nothing; the hook raises at every instruction once
//!   it is killed. Busy and kill flags are cleared when the run ends, whatever happens.

use super::convert::{lua_to_reply, ReplyErrors, IGNORE_STATS};
use super::registry::Script;
use super::undo::UndoLog;
use super::vm::{Returned, ScriptVm, SELF_SOURCE};
use super::{CLEAN, IDLE, KILLED, WROTE};
use crate::commands::{Ctx, Effect};
use crate::protocol::Reply;
use crate::server::Server;
use crate::shard::ShardMsg;
use bytes::Bytes;
use bytes::BytesMut;
use mlua::{ffi, Value};
use std::cell::RefCell;
use std::ffi::CStr;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a job runs: an EVAL script, or a library function (FCALL).
pub enum Target {
    Script(Arc<Script>),
    Function {
        lib: Arc<crate::functions::Library>,
        index: usize,
    },
}

impl ScriptJob {
    pub fn keys(&self) -> &[Bytes] {
        self.args.get(3..self.first_arg).unwrap_or(&[])
    }

    pub fn argv(&self) -> &[Bytes] {
        self.args.get(self.first_arg..).unwrap_or(&[])
    }
}

impl Target {
    /// What error suffixes name: the script's sha or the function's name.
    pub fn label(&self) -> &str {
        match self {
            Target::Script(s) => s.sha_str(),
            Target::Function { lib, index, .. } => {
                lib.functions.get(*index).map_or("", |f| f.name.as_str())
            }
        }
    }

    pub fn footprint(&self) -> Option<&super::registry::Footprint> {
        match self {
            Target::Script(s) => Some(&s.footprint),
            Target::Function { lib, index, .. } => lib.functions.get(*index).map(|f| &f.footprint),
        }
    }
}

/// What the connection sends to the home shard to run a script.
pub struct ScriptJob {
    pub target: Target,
    /// The whole command line (`EVAL body numkeys keys… args…`; FUNCTION STATS shows an
    /// FCALL's): its keys are `args[3..first_arg]`, its arguments `args[first_arg..]`.
    pub args: Vec<Bytes>,
    pub first_arg: usize,
    /// EVAL_RO / EVALSHA_RO, or a `no-writes` script.
    pub read_only: bool,
    /// `allow-oom`: writes may run while used memory is over `maxmemory`.
    pub allow_oom: bool,
    /// Over `maxmemory` when the call was checked (after any eviction it caused): what its
    /// `redis.call`s that need memory are refused by, as Redis judges a script by its state
    /// before the command (compiling it, or its own allocations, never tip it over).
    pub oom: bool,
    /// The single-slot rule applies to this run (flagged script, `single-slot-scripts: always`,
    /// no `allow-cross-slot-keys`).
    pub single_slot: bool,
    /// Filled by an aborted run with the shards it could not reach.
    pub needs: Mutex<Vec<usize>>,
    /// Set by a finished run: the failed calls its reply adds to the command's statistics
    /// (see `convert::ReplyErrors`; the reply's errors are already counted).
    pub failures: AtomicU32,
}

pub(crate) const KILL_TEXT: &str = "ERR Script killed by user with SCRIPT KILL...";
const KILL_RAISE: &CStr = c"ERR Script killed by user with SCRIPT KILL...";
pub(crate) const ABORT_TEXT: &str = "ERR script needs more shards; it will run again";
const ABORT_RAISE: &CStr = c"ERR script needs more shards; it will run again";
const LOAD_TIMEOUT_RAISE: &CStr = c"ERR FUNCTION LOAD timeout";

/// Redis's `redisLrand48`: the 48-bit linear congruential generator of drand48.
pub(crate) struct Lrand48(u64);

impl Lrand48 {
    /// The generator's state before any seeding; every script run starts from it, so a run's
    /// `math.random` sequence is always the one Redis gives the first script after start.
    pub(crate) fn initial() -> Lrand48 {
        Lrand48(0x1234_ABCD_330E)
    }

    pub(crate) fn seeded(seed: i32) -> Lrand48 {
        Lrand48(((seed as u32 as u64) << 16) | 0x330E)
    }

    fn next_u31(&mut self) -> u32 {
        self.0 = 0x5DEE_CE66Du64.wrapping_mul(self.0).wrapping_add(0xB) & ((1 << 48) - 1);
        (self.0 >> 17) as u32
    }

    /// A number in [0, 1), as Redis's math.random computes it.
    pub(crate) fn next_f64(&mut self) -> f64 {
        const MAX: u32 = i32::MAX as u32;
        (self.next_u31() % MAX) as f64 / MAX as f64
    }
}

pub(crate) struct RunState {
    pub(crate) ctx: *mut Ctx<'static>,
    server: *const Server,
    pub(crate) home: usize,
    /// The job being run (valid for the run, like `ctx`).
    job: *const ScriptJob,
    pub(crate) read_only: bool,
    pub(crate) allow_oom: bool,
    /// `ScriptJob::oom`.
    pub(crate) oom_at_start: bool,
    pub(crate) resp: u8,
    pub(crate) repl: u8,
    pub(crate) wrote: bool,
    pub(crate) abort: Option<Vec<usize>>,
    pub(crate) killed: bool,
    pub(crate) undo: Option<UndoLog>,
    /// The unit holds every shard: no command of the run can need another.
    pub(crate) holds_all: bool,
    /// `Some(slot)` while the single-slot rule applies (`Some(None)` before the first key).
    pub(crate) slot_rule: Option<Option<u16>>,
    started: Instant,
    threshold: Duration,
    busy: bool,
    /// When busy time was last added to the shard's `busy_usec` (metrics).
    busy_mark: Instant,
    pub(crate) rand: Lrand48,
    /// Argument buffer of `redis.call`, reused across calls.
    pub(crate) argv: Vec<Bytes>,
    /// A panic caught in a command called by the script, resumed once the run has ended.
    pub(crate) panic: Option<Box<dyn std::any::Any + Send>>,
    /// Shard messages that arrived while busy, re-queued when the run ends.
    deferred: Vec<ShardMsg>,
}

impl RunState {
    pub(crate) fn server(&self) -> &Server {
        // SAFETY: the server outlives every unit; set from the running unit's `Ctx`.
        unsafe { &*self.server }
    }

    /// The job being run.
    ///
    /// # Safety
    /// Only during the run (`job` is valid exactly that long); the lifetime is the caller's.
    pub(crate) unsafe fn job<'a>(&self) -> Option<&'a ScriptJob> {
        self.job.as_ref()
    }

    /// Marks the run as having written; fails if SCRIPT KILL got there first.
    pub(crate) fn mark_write(&mut self) -> bool {
        if self.wrote {
            return true;
        }
        let state = &self.server().scripting.runs[self.home].state;
        match state.compare_exchange(CLEAN, WROTE, AcqRel, Acquire) {
            Ok(_) => {
                self.wrote = true;
                true
            }
            Err(KILLED) => {
                self.killed = true;
                false
            }
            Err(_) => {
                self.wrote = true;
                true
            }
        }
    }

    /// Called from the hook: updates busy state; returns the error to raise, if any.
    fn on_hook(&mut self) -> Option<&'static CStr> {
        if self.abort.is_some() {
            return Some(ABORT_RAISE);
        }
        if self.killed {
            return Some(KILL_RAISE);
        }
        // SAFETY: as in `server()`; a copy of the pointer so `self` stays free to update.
        let server = unsafe { &*self.server };
        if server.shards[self.home].kill.load(Relaxed)
            && server.scripting.runs[self.home].state.load(Acquire) == KILLED
        {
            self.killed = true;
            return Some(KILL_RAISE);
        }
        if !self.busy && self.started.elapsed() >= self.threshold {
            self.busy = true;
            self.busy_mark = self.started + self.threshold;
            let info = &server.scripting.runs[self.home];
            info.busy.store(true, Relaxed);
            // SAFETY: as in `answer_waiting_busy`: the unit's code is suspended in Lua.
            for s in held_shards(unsafe { &*self.ctx }) {
                server.shards[s].busy.store(true, Relaxed);
            }
            // FUNCTION STATS shows a function once other clients can see it run (busy).
            // SAFETY: `job` outlives the run.
            if let Some(job) = unsafe { self.job.as_ref() } {
                if let Target::Function { .. } = &job.target {
                    if let Ok(mut c) = info.current.lock() {
                        *c = Some(super::RunningFunction {
                            name: job.target.label().to_string(),
                            command: job.args.clone(),
                            started: self.started,
                        });
                    }
                }
            }
            // Last: from here other connections of this I/O worker are served elsewhere.
            crate::shard::leave_io_worker();
        }
        if self.busy {
            let now = Instant::now();
            let spent = now.saturating_duration_since(self.busy_mark).as_micros() as u64;
            server.shards[self.home]
                .stats
                .busy_usec
                .fetch_add(spent, Relaxed);
            self.busy_mark = now;
            self.answer_waiting_busy();
        }
        None
    }

    /// Units queued on this shard behind the busy script get -BUSY now, as Redis answers
    /// commands while a script runs; other shard messages (stop) are kept for after the run.
    fn answer_waiting_busy(&mut self) {
        // SAFETY: called from the hook, while the unit's code is suspended in Lua and no
        // callback holds the context.
        let inbox = unsafe { (*self.ctx).local.inbox.clone() };
        while let Ok(msg) = inbox.try_recv() {
            match msg {
                ShardMsg::Run(req) => {
                    let mut out = BytesMut::new();
                    crate::shard::busy_replies(self.server(), req.resp, &req.work, &mut out);
                    let _ = req.reply.send(out.freeze());
                }
                other => self.deferred.push(other),
            }
        }
    }
}

thread_local! {
    static RUN: RefCell<Option<RunState>> = const { RefCell::new(None) };
}

/// Runs `f` on the current run's state; `None` outside a run (or re-entered).
pub(crate) fn with_run<R>(f: impl FnOnce(&mut RunState) -> R) -> Option<R> {
    RUN.with(|cell| match cell.try_borrow_mut() {
        Ok(mut g) => g.as_mut().map(f),
        Err(_) => None,
    })
}

/// The VM hook. Periodically checks the busy deadline and SCRIPT KILL; once the run is killed or
/// aborted it switches itself to every instruction and raises an error in the user's code each
/// time, so no pcall, xpcall or coroutine can swallow it.
///
/// # Safety
/// Called by Lua with a valid state and debug record. It raises (`lua_error`) only after every
/// Rust value it created has been dropped.
pub(crate) unsafe extern "C-unwind" fn hook(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    let msg = match with_run(|r| r.on_hook()) {
        Some(Some(msg)) => msg,
        Some(None) => return,
        None if crate::functions::loader::load_deadline_passed() => LOAD_TIMEOUT_RAISE,
        None => return,
    };
    ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, 1);
    if ffi::lua_getinfo(l, c"S".as_ptr(), ar) != 0 && !(*ar).source.is_null() {
        let source = CStr::from_ptr((*ar).source).to_bytes();
        // The sandbox's own code (e.g. its error handler) must be allowed to finish.
        if source == SELF_SOURCE.as_bytes() {
            return;
        }
    }
    // An error table, as Redis raises it: no position is prepended when it crosses a coroutine.
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushstring(l, msg.as_ptr());
    ffi::lua_setfield(l, -2, c"err".as_ptr());
    ffi::lua_error(l);
}

/// The shards a unit holds.
fn held_shards<'a>(ctx: &'a Ctx<'_>) -> impl Iterator<Item = usize> + 'a {
    ctx.held
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_some())
        .map(|(i, _)| i)
}

/// Clears what a run set on shared state, even if the run unwinds.
struct Cleanup<'s> {
    server: &'s Server,
    home: usize,
    /// The running unit's context (the same pointer as `RunState::ctx`), read only to find the
    /// shards a busy run flagged.
    ctx: *const Ctx<'static>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        RUN.with(|cell| {
            if let Ok(mut g) = cell.try_borrow_mut() {
                g.take();
            }
        });
        let info = &self.server.scripting.runs[self.home];
        if info.busy.swap(false, Relaxed) {
            // SAFETY: the context outlives the run, and the run's code no longer uses it.
            for s in held_shards(unsafe { &*self.ctx }) {
                self.server.shards[s].busy.store(false, Relaxed);
            }
            if let Ok(mut c) = info.current.lock() {
                c.take();
            }
        }
        info.state.store(IDLE, Relaxed);
        info.function.store(false, Relaxed);
        self.server.shards[self.home].kill.store(false, Relaxed);
    }
}

/// Runs `job` in this unit and returns the script's reply (`Nil` for an aborted run, whose
/// caller re-runs it). Every error in the reply is counted in the error statistics here, as
/// Redis counts it (once, nested ones too), and `job.failures` says how many failed calls the
/// caller adds to the command's statistics.
pub fn run_script(ctx: &mut Ctx<'_>, job: &ScriptJob) -> Reply {
    let mut errs = ReplyErrors::default();
    let reply = run_script_noting(ctx, job, &mut errs);
    // An error no conversion saw (compile errors, a VM that could not be made) is new.
    if let (Reply::Error(e), true) = (&reply, errs.is_empty()) {
        errs.note(e, false);
    }
    for line in &errs.fresh {
        ctx.server.errors.record(line);
    }
    job.failures.store(errs.failed_calls(), Relaxed);
    reply
}

fn run_script_noting(ctx: &mut Ctx<'_>, job: &ScriptJob, errs: &mut ReplyErrors) -> Reply {
    let server = ctx.server;
    let scripting = &server.scripting;
    let (limit, threshold) = server.script_limits();
    let generation = scripting.registry.generation();
    let mut vm = match ctx.local.script_vm.take() {
        Some(vm) if vm.generation == generation && vm.healthy() => vm,
        _ => match ScriptVm::new(generation, limit) {
            Ok(vm) => Box::new(vm),
            Err(e) => return Reply::Error(format!("ERR Lua VM could not be created: {e}")),
        },
    };
    vm.set_memory_limit(limit);
    vm.prune(&scripting.registry);
    crate::functions::loader::prune(&mut vm, &scripting.functions);
    let reply = run_in_vm(ctx, &mut vm, job, threshold, errs);
    scripting.vm_memory[ctx.home].store(vm.lua.used_memory() as u64, Relaxed);
    ctx.local.script_vm = Some(vm);
    reply
}

fn run_in_vm(
    ctx: &mut Ctx<'_>,
    vm: &mut ScriptVm,
    job: &ScriptJob,
    threshold: Duration,
    errs: &mut ReplyErrors,
) -> Reply {
    // The function to run, by its registry reference in this VM.
    let func = match &job.target {
        Target::Script(script) => match vm.compile(script).map(|()| vm.script_ref(script)) {
            Ok(Some(r)) => r,
            Ok(None) => return Reply::error("ERR script not compiled"),
            Err(m) => {
                return Reply::Error(format!("ERR Error compiling script (new function): {m}"))
            }
        },
        Target::Function { lib, index, .. } => {
            match crate::functions::loader::library_function(vm, lib, *index) {
                Ok(r) => r,
                Err(e) => return Reply::Error(e),
            }
        }
    };
    vm.arm_hook();
    let server = ctx.server;
    let home = ctx.home;
    let holds_all = ctx.holds_all();
    let undo = (!holds_all).then(UndoLog::default);
    // Keyspace events of a run that may be abandoned wait for its end (see `notify`).
    let defer_events = !holds_all && ctx.events.is_none();
    if defer_events {
        ctx.events = Some(Vec::new());
    }
    let effects_start = ctx.effects.as_ref().map_or(0, |e| e.len());
    let (saved_resp, saved_db) = (ctx.resp, ctx.db);
    ctx.in_script = true;
    server.scripting.runs[home].state.store(CLEAN, Relaxed);
    let params = matches!(job.target, Target::Function { .. });
    if params {
        server.scripting.runs[home].function.store(true, Relaxed);
    }
    server.shards[home].kill.store(false, Relaxed);
    let ctx_ptr = (ctx as *mut Ctx<'_>).cast::<Ctx<'static>>();
    let cleanup = Cleanup {
        server,
        home,
        ctx: ctx_ptr,
    };
    let started = Instant::now();
    let state = RunState {
        ctx: ctx_ptr,
        server: server as *const Server,
        home,
        job: job as *const ScriptJob,
        read_only: job.read_only,
        allow_oom: job.allow_oom,
        oom_at_start: job.oom,
        resp: 2,
        repl: 3,
        wrote: false,
        abort: None,
        killed: false,
        undo,
        holds_all,
        slot_rule: job
            .single_slot
            .then(|| job.keys().first().map(|k| crate::slot::key_slot(k).get())),
        started,
        threshold,
        busy: false,
        busy_mark: started,
        rand: Lrand48::initial(),
        argv: std::mem::take(&mut vm.argv_buf),
        panic: None,
        deferred: Vec::new(),
    };
    RUN.with(|cell| *cell.borrow_mut() = Some(state));
    // A function gets its keys and arguments as parameters; KEYS and ARGV are not globals
    // while it runs (the next EVAL sets them again).
    let result = vm.call_ref(func, job.keys(), job.argv(), params);
    let run = RUN.with(|cell| cell.borrow_mut().take());
    drop(cleanup);
    ctx.in_script = false;
    ctx.resp = saved_resp;
    ctx.db = saved_db;
    let Some(mut run) = run else {
        return Reply::error("ERR script state lost");
    };
    let mut events = if defer_events {
        ctx.events.take()
    } else {
        None
    };
    if let Some(payload) = run.panic.take() {
        std::panic::resume_unwind(payload);
    }
    run.argv.clear();
    vm.argv_buf = std::mem::take(&mut run.argv);
    for msg in run.deferred.drain(..) {
        let _ = server.shards[home].tx.send(msg);
    }
    if run.killed || run.abort.is_some() {
        vm.hook_tripped = true;
    }
    if let Some(needed) = run.abort {
        if let Some(undo) = run.undo {
            undo.restore(ctx);
        }
        if let Some(e) = ctx.effects.as_deref_mut() {
            // Keys it found expired stay deleted (the undo does not restore them).
            let kept: Vec<Effect> = e.drain(effects_start..).filter(|x| x.is_expiry()).collect();
            e.extend(kept);
        }
        if let Some(ev) = events.take() {
            // Expired keys stay deleted, so their events stand; the rest is re-run.
            let kept = ev.into_iter().filter(|e| e.name == "expired").collect();
            crate::commands::notify::publish_all(server, kept);
        }
        if let Ok(mut n) = job.needs.lock() {
            n.extend(needed);
        }
        return Reply::Nil;
    }
    if let Some(ev) = events.take() {
        crate::commands::notify::publish_all(server, ev);
    }
    wrap_effects(ctx, effects_start, saved_db);
    let resp = run.resp;
    let reply = match result {
        Ok(Returned::Nil) => lua_to_reply(&Value::Nil, resp, &vm.keys, errs),
        Ok(Returned::Bool(b)) => lua_to_reply(&Value::Boolean(b), resp, &vm.keys, errs),
        Ok(Returned::Number(n)) => lua_to_reply(&Value::Number(n), resp, &vm.keys, errs),
        Ok(Returned::Str(s)) => Reply::Bulk(Bytes::from(s)),
        Ok(Returned::Value(ok, value)) => outcome(vm, &job.target, ok, value, resp, errs),
        Err(e) => Reply::Error(format!(
            "ERR Error running script {}: {e}",
            job.target.label()
        )),
    };
    vm.after_run();
    reply
}

/// A script's writes are one atomic unit in the effect stream.
fn wrap_effects(ctx: &mut Ctx<'_>, start: usize, db: usize) {
    let Some(effects) = ctx.effects.as_deref_mut() else {
        return;
    };
    if effects.len() - start > 1 {
        let db = db as u16;
        effects.insert(
            start,
            Effect {
                db,
                args: vec![Bytes::from_static(b"MULTI")],
            },
        );
        effects.push(Effect {
            db,
            args: vec![Bytes::from_static(b"EXEC")],
        });
    }
}

/// The reply for what `xpcall` returned: the script's value, or its error with Redis 7's
/// ` script: <sha>, on <source>:<line>.` suffix.
fn outcome(
    vm: &ScriptVm,
    target: &Target,
    ok: bool,
    value: Value,
    resp: u8,
    errs: &mut ReplyErrors,
) -> Reply {
    if ok {
        return lua_to_reply(&value, resp, &vm.keys, errs);
    }
    let sha = target.label();
    match value {
        Value::Table(t) => {
            let msg = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                _ => "ERR the script raised an error without a message".to_string(),
            };
            let source = t.raw_get::<Option<mlua::String>>("source").ok().flatten();
            let line = t.raw_get::<Option<i64>>("line").ok().flatten();
            let line = match (source, line) {
                (Some(src), Some(line)) => format!(
                    "{msg} script: {sha}, on {}:{line}.",
                    String::from_utf8_lossy(&src.as_bytes())
                ),
                _ => msg,
            };
            let counted = matches!(t.raw_get::<Value>(IGNORE_STATS), Ok(Value::Boolean(true)));
            errs.note(&line, counted);
            Reply::Error(line)
        }
        other => {
            let text = match &other {
                Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                v => format!("{v:?}"),
            };
            let limit = vm.memory_limit();
            if text.contains("not enough memory")
                || (limit > 0 && vm.lua.used_memory() as u64 + (1 << 20) >= limit)
            {
                Reply::Error(format!(
                    "ERR Lua VM memory limit exceeded (lua-memory-limit is {limit} bytes) script: {sha}"
                ))
            } else {
                Reply::Error(format!("ERR {text} script: {sha}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrand48_matches_redis() {
        // Redis 7.0 after start: math.random(100) gives 40, 85, 36, 45.
        let mut r = Lrand48::initial();
        let got: Vec<i64> = (0..4)
            .map(|_| (r.next_f64() * 100.0).floor() as i64 + 1)
            .collect();
        assert_eq!(got, vec![40, 85, 36, 45]);
        let mut r = Lrand48::seeded(5);
        assert_eq!((r.next_f64() * 100.0).floor() as i64 + 1, 53);
    }
}

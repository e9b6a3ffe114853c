//! The host side of the `redis` Lua library: the functions `sandbox.lua` wraps into
//! `redis.call`, `redis.pcall`, `redis.log`, `redis.setresp`, … and `math.random`.
//!
//! Invariants:
//! - Scripts only ever see Redis's error tables and strings, never an mlua error object: the
//!   mlua callbacks here raise nothing (errors travel back as values `(error_table, raise)` and
//!   the sandbox's Lua wrappers raise them); `redis.call` / `redis.pcall` are raw C functions
//!   that raise the error table themselves.
//! - In those C functions nothing owned by Rust lives across a Lua API call that may raise: the
//!   command runs first (`stage`), its outcome is parked in `PENDING`, and only then is the reply
//!   pushed or raised.

use super::convert::{arg_bytes, error_table, error_text, push_error_table, push_reply};
use super::registry::sha1_hex;
use super::run::{with_run, Lrand48, RunState, ABORT_TEXT, KILL_TEXT};
use super::undo::Counted;
use crate::commands::{self, flags, CmdRef, Ctx, Run};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::protocol::DOUBLE_TEXT_MAX;
use crate::server::conn_cmds::VERSION;
use bytes::Bytes;
use mlua::{ffi, Lua, MultiValue, Table, Value};
use std::cell::RefCell;
use std::os::raw::c_int;

const NO_ARGS: &str = "ERR Please specify at least one argument for this redis lib call";
const BAD_ARG: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// Builds the table of host functions and constants the sandbox is created with.
pub fn host_table(lua: &Lua) -> mlua::Result<Table> {
    let host = lua.create_table()?;
    host.set("self_source", super::vm::SELF_SOURCE)?;
    // SAFETY: both follow the Lua C API contract (see `call_entry`).
    host.set("call", unsafe { lua.create_c_function(redis_call)? })?;
    host.set("pcall", unsafe { lua.create_c_function(redis_pcall)? })?;
    host.set(
        "log",
        lua.create_function(|_, (level, msg): (i64, mlua::String)| {
            let msg = msg.to_string_lossy();
            match level {
                0 => tracing::debug!(target: "luagate::script", "{msg}"),
                1 => tracing::debug!(target: "luagate::script", verbose = true, "{msg}"),
                2 => tracing::info!(target: "luagate::script", "{msg}"),
                _ => tracing::warn!(target: "luagate::script", "{msg}"),
            }
            Ok(())
        })?,
    )?;
    host.set(
        "setresp",
        lua.create_function(|_, v: u8| {
            with_run(|run| run.resp = v);
            Ok(())
        })?,
    )?;
    host.set(
        "set_repl",
        lua.create_function(|_, v: u8| {
            with_run(|run| run.repl = v);
            Ok(())
        })?,
    )?;
    host.set(
        "error_text",
        lua.create_function(|_, s: mlua::String| Ok(error_text(&s.to_string_lossy())))?,
    )?;
    host.set(
        "sha1hex",
        lua.create_function(|lua, s: mlua::String| lua.create_string(sha1_hex(&s.as_bytes())))?,
    )?;
    host.set(
        "acl_check",
        lua.create_function(|lua, args: MultiValue| acl_check(lua, args))?,
    )?;
    host.set(
        "rand",
        lua.create_function(|_, ()| Ok(with_run(|run| run.rand.next_f64()).unwrap_or(0.0)))?,
    )?;
    host.set(
        "seed",
        lua.create_function(|_, seed: f64| {
            with_run(|run| run.rand = Lrand48::seeded(seed as i64 as i32));
            Ok(())
        })?,
    )?;
    host.set("constants", constants(lua)?)?;
    Ok(host)
}

fn constants(lua: &Lua) -> mlua::Result<Table> {
    let c = lua.create_table()?;
    for (i, name) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"]
        .iter()
        .enumerate()
    {
        c.set(*name, i as i64)?;
    }
    c.set("REPL_NONE", 0)?;
    c.set("REPL_AOF", 1)?;
    c.set("REPL_REPLICA", 2)?;
    c.set("REPL_SLAVE", 2)?;
    c.set("REPL_ALL", 3)?;
    c.set("REDIS_VERSION", VERSION)?;
    c.set("REDIS_VERSION_NUM", version_num(VERSION))?;
    Ok(c)
}

/// `major.minor.patch` as `0x00MMmmpp`.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | (p & 0xff))
}

fn fail(lua: &Lua, text: &str) -> mlua::Result<Value> {
    Ok(Value::Table(error_table(lua, text)?))
}

fn args_bytes(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err(NO_ARGS);
    }
    args.iter().map(|v| arg_bytes(v).ok_or(BAD_ARG)).collect()
}

/// `redis.acl_check_cmd`: there are no ACL users, so any existing command is allowed.
fn acl_check(lua: &Lua, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let argv = match args_bytes(&args) {
        Ok(a) => a,
        Err(e) => return Ok((fail(lua, e)?, true)),
    };
    let found = commands::find(&argv[0]).and_then(|top| {
        if top.cmd.subcommands.is_empty() || argv.len() < 2 {
            Some(top)
        } else {
            commands::find_sub(top, &argv[1])
        }
    });
    match found {
        Some(_) => Ok((Value::Boolean(true), false)),
        None => Ok((
            fail(lua, "ERR Invalid command passed to redis.acl_check_cmd()")?,
            true,
        )),
    }
}

/// How a `redis.call` ended, before it is handed to the script.
pub(crate) enum CallOutcome {
    /// The command ran (or was answered here): its reply, an error reply raised by
    /// `redis.call` and returned by `redis.pcall`.
    Reply(Reply),
    /// Refused before running (counted as an error reply already, as Redis's script client
    /// counts it): raised by `redis.call`, returned by `redis.pcall`.
    Refused(&'static str),
    /// Arguments Lua cannot pass (none, or not strings or numbers): raised by `redis.call`,
    /// returned by `redis.pcall`, and not counted until the script's reply is (as in Redis,
    /// where this is found before the command is looked at).
    BadArgs(&'static str),
    /// The run cannot go on (needs more shards, killed, outside a run): always raised.
    Stop(&'static str),
}

const OUTSIDE: &str = "ERR redis.call used outside a script";
const PANICKED: &str = "ERR internal error while running a command from the script";

thread_local! {
    /// The outcome of the `redis.call` being answered on this thread, while its reply is
    /// pushed (see the module invariant).
    static PENDING: RefCell<Option<(CallOutcome, u8)>> = const { RefCell::new(None) };
}

/// A command name as a script wrote it (up to 16 bytes), with what it resolved to.
type CachedName = ([u8; 16], usize, CmdRef);

thread_local! {
    /// The command this thread's scripts looked up last: scripts mostly call one command again
    /// and again, and comparing the name is cheaper than lowercasing and hashing it.
    static LAST_CMD: std::cell::Cell<Option<CachedName>> = const { std::cell::Cell::new(None) };
}

/// `commands::lookup`, through `LAST_CMD` for commands without subcommands.
fn lookup(argv: &[Bytes]) -> Result<CmdRef, CommandError> {
    let name = &argv[0][..];
    if let Some((bytes, len, cmd)) = LAST_CMD.get() {
        if len == name.len() && bytes[..len] == *name {
            let (a, n) = (cmd.cmd.arity, argv.len() as i64);
            let a = a as i64;
            if (a > 0 && n != a) || (a < 0 && n < -a) {
                return Err(CommandError::WrongArity(cmd.cmd.name.into()));
            }
            return Ok(cmd);
        }
    }
    let cmd = commands::lookup(argv)?;
    // Only a top-level command (a subcommand's name is not the one written) without
    // subcommands: its arity is all `lookup` checks.
    if cmd.cmd.subcommands.is_empty()
        && name.len() <= 16
        && cmd.cmd.name.as_bytes().eq_ignore_ascii_case(name)
    {
        let mut bytes = [0u8; 16];
        bytes[..name.len()].copy_from_slice(name);
        LAST_CMD.set(Some((bytes, name.len(), cmd)));
    }
    Ok(cmd)
}

/// Reads the arguments of a `redis.call` from `l`'s stack: strings as they are, numbers as
/// Redis 7.0 formats them; anything else refuses the call.
///
/// # Safety
/// `l` is the state of a running C function. Nothing here raises.
unsafe fn read_args(
    l: *mut ffi::lua_State,
    out: &mut Vec<Bytes>,
    known: &[Bytes],
) -> Result<(), &'static str> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return Err(NO_ARGS);
    }
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                let bytes = if p.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(p.cast::<u8>(), len)
                };
                out.push(if i == 1 {
                    command_name(bytes)
                } else {
                    shared_or_copy(bytes, known)
                });
            }
            ffi::LUA_TNUMBER => {
                let mut buf = [0u8; DOUBLE_TEXT_MAX];
                let n = crate::protocol::write_double(ffi::lua_tonumber(l, i), &mut buf);
                out.push(Bytes::copy_from_slice(&buf[..n]));
            }
            _ => return Err(BAD_ARG),
        }
    }
    Ok(())
}

/// How many of the run's keys and arguments an argument is compared with before it is copied.
const KNOWN_MAX: usize = 8;

/// `bytes` as one of the run's own keys or arguments when it is one (a reference to the
/// command line the job keeps, as a command from the network gets), else as a copy.
fn shared_or_copy(bytes: &[u8], known: &[Bytes]) -> Bytes {
    for k in known.iter().take(KNOWN_MAX) {
        if k.len() == bytes.len() && k[..] == *bytes {
            return k.clone();
        }
    }
    Bytes::copy_from_slice(bytes)
}

/// How many command names a thread keeps (scripts mostly call a few commands again and again).
const NAMES_MAX: usize = 4;

thread_local! {
    /// Command names as scripts wrote them, shared by every call that writes them the same way.
    static NAMES: RefCell<([Bytes; NAMES_MAX], usize)> = RefCell::new(Default::default());
}

/// A `redis.call` command name, shared with earlier calls that wrote the same bytes.
fn command_name(bytes: &[u8]) -> Bytes {
    if bytes.is_empty() || bytes.len() > 32 {
        return Bytes::copy_from_slice(bytes);
    }
    NAMES.with(|cell| {
        let Ok(mut names) = cell.try_borrow_mut() else {
            return Bytes::copy_from_slice(bytes);
        };
        if let Some(n) = names.0.iter().find(|n| n[..] == *bytes) {
            return n.clone();
        }
        let b = Bytes::copy_from_slice(bytes);
        let slot = names.1;
        names.0[slot] = b.clone();
        names.1 = (slot + 1) % NAMES_MAX;
        b
    })
}

/// `redis.call`: raises the error of a failed call.
unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    call_entry(l, false)
}

/// `redis.pcall`: returns the error table of a failed call (a run that cannot go on still
/// raises).
unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    call_entry(l, true)
}

/// Both run as C functions, as in Redis: the script's own frame is the one error positions
/// name, even for `return redis.call(...)`.
///
/// # Safety
/// Called by Lua as a C function. Raises (`lua_error`) only when this frame owns nothing.
unsafe fn call_entry(l: *mut ffi::lua_State, protected: bool) -> c_int {
    // Phase 1: the command, in Rust (a panic is kept for the run to resume once Lua is left).
    let staged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_run(|run| {
            let out = run.call(l);
            (out, run.resp)
        })
        .unwrap_or((CallOutcome::Stop(OUTSIDE), 2))
    }));
    let staged = staged.unwrap_or_else(|payload| {
        with_run(|run| run.panic = Some(payload));
        (CallOutcome::Stop(PANICKED), 2)
    });
    let slot = PENDING.with(|p| {
        *p.borrow_mut() = Some(staged);
        p.as_ptr()
    });
    // Phase 2: Lua values only; `slot` is read in place and nothing here owns anything.
    // SAFETY: `PENDING` is not touched again until this call ends (pushing a reply calls no
    // Lua or Rust code that could reach it).
    let raise = match &*slot {
        Some((CallOutcome::Reply(r), resp)) => {
            push_reply(l, r, *resp);
            if r.is_error() {
                mark_counted(l);
            }
            r.is_error() && !protected
        }
        Some((CallOutcome::Refused(text), _)) => {
            push_error_table(l, text.as_bytes());
            mark_counted(l);
            !protected
        }
        Some((CallOutcome::BadArgs(text), _)) => {
            push_error_table(l, text.as_bytes());
            !protected
        }
        Some((CallOutcome::Stop(text), _)) => {
            push_error_table(l, text.as_bytes());
            true
        }
        None => {
            push_error_table(l, OUTSIDE.as_bytes());
            true
        }
    };
    PENDING.with(|p| p.borrow_mut().take());
    if raise {
        ffi::lua_error(l);
    }
    1
}

/// Marks the error table on top of the stack as Redis 7 marks a failed call's error, raised or
/// returned (`ignore_error_stats_update = true`: the error was counted when the call failed,
/// so the script's reply does not count it again; see `convert::ReplyErrors`). Scripts see
/// the field, in `pairs`, `cjson.encode` or an `xpcall` handler.
///
/// # Safety
/// The top of `l`'s stack is a table without a metatable; one slot of stack is free.
unsafe fn mark_counted(l: *mut ffi::lua_State) {
    ffi::lua_pushboolean(l, 1);
    ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
}

/// The shard index of a `CommandError::NotHeld` that reached a reply (see its `Display`).
fn not_held(r: &Reply) -> Option<usize> {
    match r {
        Reply::Error(e) => e
            .strip_prefix("ERR internal: shard ")?
            .strip_suffix(" not held")?
            .parse()
            .ok(),
        _ => None,
    }
}

impl RunState {
    fn ctx(&mut self) -> &mut Ctx<'static> {
        // SAFETY: `ctx` points at the unit's context for the whole run, and this is only
        // called from a Lua callback of that run, on the unit's thread, while the unit's own
        // code is suspended inside the Lua call.
        unsafe { &mut *self.ctx }
    }

    /// Runs the command of a `redis.call` / `redis.pcall` whose arguments are on `l`'s stack.
    fn call(&mut self, l: *mut ffi::lua_State) -> CallOutcome {
        if self.abort.is_some() {
            return CallOutcome::Stop(ABORT_TEXT);
        }
        if self.killed {
            return CallOutcome::Stop(KILL_TEXT);
        }
        let mut argv = std::mem::take(&mut self.argv);
        argv.clear();
        // SAFETY: `l` is the state of the running C function; reading arguments cannot raise.
        // SAFETY: the job outlives the run (see `RunState::job`).
        let known = unsafe {
            self.job()
                .map_or(&[][..], |j| j.args.get(3..).unwrap_or(&[]))
        };
        let out = match unsafe { read_args(l, &mut argv, known) } {
            Ok(()) => self.run_command(&argv),
            Err(e) => CallOutcome::BadArgs(e),
        };
        argv.clear();
        self.argv = argv;
        out
    }

    fn run_command(&mut self, argv: &[Bytes]) -> CallOutcome {
        let cmd = match lookup(argv) {
            Ok(c) => c,
            Err(CommandError::WrongArity(_)) => {
                const ARITY: &str = "ERR Wrong number of args calling Redis command from script";
                return match crate::commands::table::find(&argv[0]) {
                    Some(c) => self.reject(Some(c), ARITY),
                    None => self.reject(None, ARITY),
                };
            }
            Err(_) => return self.reject(None, "ERR Unknown Redis command called from script"),
        };
        // A refusal of a known command is one of its rejected calls, as in Redis.
        let refuse = |this: &mut Self, text| this.reject(Some(cmd), text);
        if cmd.cmd.has(flags::NOSCRIPT) {
            return refuse(self, "ERR This Redis command is not allowed from script");
        }
        // As Redis: `may_replicate` commands (PUBLISH) are writes to a read-only script.
        if self.read_only && cmd.cmd.may_write() {
            return refuse(
                self,
                "ERR Write commands are not allowed from read-only scripts.",
            );
        }
        // A message cannot be taken back if the run is abandoned to be re-run on more shards:
        // a script publishes only once its unit holds every shard (so it cannot be abandoned).
        if crate::server::pubsub_cmds::is_publish(cmd) && !self.holds_all {
            let ctx = self.ctx();
            let missing: Vec<usize> = (0..ctx.shard_count())
                .filter(|&s| ctx.held[s].is_none())
                .collect();
            if !missing.is_empty() {
                self.abort = Some(missing);
                return CallOutcome::Stop(ABORT_TEXT);
            }
        }
        if let Run::Conn = cmd.cmd.run {
            let started = std::time::Instant::now();
            return match self.conn_command(cmd, argv) {
                Some(r) => {
                    // As `commands::call` counts the others.
                    let line = match &r {
                        Reply::Error(e) => Some(e.clone()),
                        _ => None,
                    };
                    if let Some(e) = &line {
                        self.server().errors.record(e);
                    }
                    let usec = started.elapsed().as_micros() as u64;
                    let failed = line.is_some();
                    let server = self.server();
                    server.conn_stats.record(
                        cmd.id,
                        usec,
                        u32::from(failed),
                        server.latency_tracking(),
                    );
                    server
                        .latency
                        .command(cmd.cmd.has(crate::commands::flags::FAST), usec);
                    if let Some(u) = self.undo.as_mut() {
                        u.counted(Counted::ConnCall(cmd.id, usec, failed, line));
                    }
                    CallOutcome::Reply(r)
                }
                None => refuse(self, "ERR This Redis command is not allowed from script"),
            };
        }
        // As Redis: over maxmemory, a script that has not written yet may not start a write
        // that needs memory (DEL and friends still run), unless it is flagged allow-oom.
        if cmd.cmd.has(flags::DENYOOM) && !self.allow_oom && !self.wrote && self.oom_at_start {
            return refuse(self, crate::server::OOM_ERR);
        }
        if cmd.cmd.has(flags::WRITE) && self.server().repl.is_follower() {
            return refuse(self, crate::replication::READONLY_ERR);
        }
        if cmd.cmd.has(flags::WRITE) && self.server().repl.too_few_replicas() {
            return refuse(self, crate::replication::NOREPLICAS_ERR);
        }
        if let Some(topo) = self.server().cluster.as_ref() {
            // A replica's scripts read its primary's slots (a write fails above).
            let read_here = topo.me().primary.is_some() && !cmd.cmd.has(flags::WRITE);
            let keys = cmd.cmd.slot_indices(argv).map(|i| &argv[i][..]);
            match topo.route(keys, read_here) {
                Ok(_) => {}
                Err(crate::cluster::Redirect::Down) => {
                    return refuse(
                        self,
                        "ERR Script attempted to execute a command while the cluster is down",
                    )
                }
                Err(_) => {
                    return refuse(
                        self,
                        "ERR Script attempted to access a non local key in a cluster node",
                    )
                }
            }
        }
        if let Some(rule) = self.slot_rule.as_mut() {
            for i in cmd.cmd.key_indices(argv) {
                let slot = crate::slot::key_slot(&argv[i]).get();
                match *rule {
                    None => *rule = Some(slot),
                    Some(s) if s != slot => {
                        return refuse(
                            self,
                            "ERR Script attempted to access keys that do not hash to the same slot",
                        )
                    }
                    _ => {}
                }
            }
        }
        if let Some(missing) = self.missing_shards(cmd, argv) {
            self.abort = Some(missing);
            return CallOutcome::Stop(ABORT_TEXT);
        }
        if cmd.cmd.has(flags::WRITE) && !self.mark_write() {
            return CallOutcome::Stop(KILL_TEXT);
        }
        let (resp, repl) = (self.resp, self.repl);
        let mut undo = self.undo.take();
        let ctx = self.ctx();
        if let (Some(u), true) = (undo.as_mut(), cmd.cmd.has(flags::WRITE)) {
            u.record_command(ctx, cmd, argv);
        }
        let saved_resp = std::mem::replace(&mut ctx.resp, resp);
        let saved_effects = if repl == 0 { ctx.effects.take() } else { None };
        let started = std::time::Instant::now();
        let (reply, finished) = commands::call_from(ctx, cmd, argv, started);
        ctx.resp = saved_resp;
        if repl == 0 {
            ctx.effects = saved_effects;
        }
        if let Some(u) = undo.as_mut() {
            // What `commands::call_from` counted, to take back if this run is abandoned.
            let usec = finished.saturating_duration_since(started).as_micros() as u64;
            let line = match &reply {
                Reply::Error(e) if not_held(&reply).is_none() => Some(e.clone()),
                _ => None,
            };
            u.counted(Counted::Call(cmd.id, usec, line.is_some(), line));
        }
        self.undo = undo;
        if let Some(shard) = not_held(&reply) {
            self.abort = Some(vec![shard]);
            return CallOutcome::Stop(ABORT_TEXT);
        }
        CallOutcome::Reply(reply)
    }

    /// Refuses a call, counted as Redis counts it: an error reply, and a rejected call of its
    /// command when there is one.
    fn reject(&mut self, cmd: Option<CmdRef>, text: &'static str) -> CallOutcome {
        self.server().errors.record(text);
        if let Some(c) = cmd {
            self.server().conn_stats.reject(c.id);
        }
        if let Some(u) = self.undo.as_mut() {
            u.counted(Counted::Refused(cmd.map(|c| c.id), text));
        }
        CallOutcome::Refused(text)
    }

    /// Shards this command needs that the unit does not hold (`None` if it holds them all).
    fn missing_shards(&mut self, cmd: CmdRef, argv: &[Bytes]) -> Option<Vec<usize>> {
        if self.holds_all {
            return None;
        }
        let ctx = self.ctx();
        let mut missing = Vec::new();
        if cmd.cmd.needs_all_shards(argv) {
            missing.extend((0..ctx.shard_count()).filter(|&s| ctx.held[s].is_none()));
        } else {
            for i in cmd.cmd.key_indices(argv) {
                let s = ctx.server.slots.shard_of_key(&argv[i]).index();
                if ctx.held[s].is_none() && !missing.contains(&s) {
                    missing.push(s);
                }
            }
        }
        (!missing.is_empty()).then_some(missing)
    }

    /// The connection-level commands a script may call (they need no connection state).
    fn conn_command(&mut self, cmd: CmdRef, argv: &[Bytes]) -> Option<Reply> {
        let repl = self.repl;
        let ctx = self.ctx();
        if cmd.cmd.group == commands::Group::PubSub {
            // PUBLISH, SPUBLISH and PUBSUB's subcommands (the subscriptions are `noscript`).
            let r = crate::server::pubsub_cmds::run(ctx.server, cmd, argv);
            if crate::server::pubsub_cmds::is_publish(cmd)
                && repl != 0
                && ctx.server.cluster.is_none()
            {
                let db = ctx.db as u16;
                if let Some(e) = ctx.effects.as_deref_mut() {
                    e.push(commands::Effect {
                        db,
                        args: argv.to_vec(),
                    });
                }
            }
            return Some(r);
        }
        Some(match cmd.cmd.name {
            "ping" => match argv.len() {
                1 => Reply::status("PONG"),
                2 => Reply::Bulk(argv[1].clone()),
                _ => Reply::Error(CommandError::WrongArity("ping".into()).to_string()),
            },
            "echo" => Reply::Bulk(argv[1].clone()),
            "time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Reply::Array(vec![
                    Reply::bulk_str(&now.as_secs().to_string()),
                    Reply::bulk_str(&now.subsec_micros().to_string()),
                ])
            }
            "select" => match commands::keys::select_index(ctx.server, &argv[1]) {
                Err(e) => Reply::Error(e.to_string()),
                Ok(i) => {
                    ctx.db = i;
                    Reply::ok()
                }
            },
            _ => return None,
        })
    }
}

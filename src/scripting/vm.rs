//! One Lua VM per shard thread: creation, the sandbox, the compile cache and the hook.
//!
//! Invariants:
//! - A VM is created on its shard thread and never leaves it (`mlua::Lua` is not `Send`).
//! - User code runs only inside the environment built by `sandbox.lua`, from the allow-lists
//!   below; every function it compiles gets that environment.
//! - A count hook is always installed, on the main Lua thread and therefore (inherited) on every
//!   coroutine the script creates; `run::hook` decides what it does.
//! - The collector runs unless a script stopped it, and then only until its run ends: scripts
//!   get this module's `collectgarbage`, which notes a stop for `after_run` to undo.
//! - A run is one protected C API call into `run_entry` (arguments, globals and the script
//!   under the sandbox's error handler), from registry references, so the per-run cost is the
//!   script's, not the host's. Nothing outside protected mode allocates: at the Lua memory
//!   limit an allocation there would abort the process.

use super::convert::ReplyKeys;
use super::registry::{Script, Sha};
use super::run;
use bytes::Bytes;
use mlua::{ffi, ChunkMode, Function, Lua, LuaOptions, StdLib, Table};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::raw::c_int;
use std::rc::Rc;

/// The hasher of the per-run lookups (compiled scripts, library instances).
pub(crate) type FastHash = foldhash::fast::RandomState;

/// The chunk name of the sandbox code, so error positions and the kill hook can skip its frames.
pub const SELF_SOURCE: &str = "=luagate_sandbox";
const SANDBOX: &str = include_str!("sandbox.lua");

/// Instructions between two runs of the hook (deadline, SCRIPT KILL, re-run checks).
pub const HOOK_EVERY: i32 = 10_000;

/// Base-library globals copied into the script environment as they are, with why each is safe.
/// Absent on purpose: print, dofile, loadfile, require, module, getfenv, setfenv, newproxy (I/O,
/// file access, or a way out of the sandbox's environment).
pub const GLOBALS: &[(&str, &str)] = &[
    ("assert", "raises an error; no side effect"),
    (
        "collectgarbage",
        "Redis allows it; only affects this VM's memory",
    ),
    ("error", "raises an error"),
    ("gcinfo", "reads this VM's memory use"),
    (
        "getmetatable",
        "protected tables answer with a read-only stand-in (__metatable)",
    ),
    ("rawequal", "pure"),
    ("select", "pure"),
    ("tonumber", "pure"),
    ("tostring", "pure"),
    ("type", "pure"),
    ("unpack", "pure"),
    (
        "xpcall",
        "runs a function; the kill hook cannot be swallowed by it",
    ),
];

/// Library tables handed to scripts as read-only copies. `math`, `os` and `redis` are built by
/// the sandbox itself (seeded random, clock only, the host API); `pcall`, `rawget`, `rawset`,
/// `setmetatable`, `next`, `pairs`, `ipairs`, `load` and `loadstring` are wrapped there.
pub const LIBRARIES: &[(&str, &str)] = &[
    (
        "string",
        "pure string functions (string.dump is harmless: bytecode cannot be loaded)",
    ),
    ("table", "pure table functions"),
    (
        "coroutine",
        "coroutines inherit the hook, so they can be killed",
    ),
    ("bit", "LuaBitOp, pure"),
    ("struct", "binary packing, pure"),
    ("cjson", "JSON, pure"),
    ("cmsgpack", "MessagePack, pure"),
];

pub struct ScriptVm {
    pub(crate) lua: Lua,
    /// `xpcall`s a function with the sandbox's error handler.
    pub(crate) runner: Function,
    /// The VM's main state and a registry reference to [`run_entry`], the C function that runs
    /// a script or library function (it holds the sandbox's error handler and the real script
    /// globals, where KEYS and ARGV are set): a run calls straight into them
    /// ([`call_ref`](Self::call_ref)), without mlua's call machinery.
    raw: *mut ffi::lua_State,
    entry_ref: c_int,
    /// A registry slot that always exists, where a run's table or error result is parked for
    /// mlua to read: storing into it allocates nothing, so it is safe outside protected mode
    /// even at the memory limit.
    result_ref: c_int,
    pub(crate) keys: Rc<ReplyKeys>,
    env: Table,
    /// Compiled scripts, each with a registry reference for raw calls.
    compiled: HashMap<Sha, (Function, c_int), FastHash>,
    /// `library_env()` from the sandbox: a fresh environment for one library body.
    pub(crate) library_env: Function,
    /// Libraries instantiated in this VM: library id → callback of each of its functions (and
    /// its registry reference), in the order of `Library::functions`.
    pub(crate) libs: HashMap<u64, Vec<Option<(Function, c_int)>>, FastHash>,
    /// The registry generation the compile cache belongs to.
    pub(crate) generation: u64,
    memory_limit: u64,
    /// The hook was switched to every instruction (after a kill or a re-run request).
    pub(crate) hook_tripped: bool,
    /// `redis.call`'s argument buffer, lent to each run (`RunState::argv`) so it is allocated
    /// once per VM rather than once per run.
    pub(crate) argv_buf: Vec<Bytes>,
    /// Set by the scripts' `collectgarbage("stop")` (see [`collectgarbage`]); boxed so the
    /// function can keep its address as an upvalue.
    gc_stopped: Box<Cell<bool>>,
}

impl ScriptVm {
    pub fn new(generation: u64, memory_limit: u64) -> mlua::Result<ScriptVm> {
        // SAFETY: the debug library is needed by the sandbox's error handler only; scripts never
        // see it (it is not in the allow-lists).
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        crate::lualibs::register_all(&lua)?;
        let host = super::api::host_table(&lua)?;
        // SAFETY: `make_keep` follows the Lua C API contract (see its comment).
        host.set("keep", unsafe { lua.create_c_function(make_keep)? })?;
        let gc_stopped = Box::new(Cell::new(false));
        let flag = (&*gc_stopped as *const Cell<bool>)
            .cast_mut()
            .cast::<std::ffi::c_void>();
        // SAFETY: pushes one C closure whose upvalue points at `gc_stopped`, which lives in the
        // same `ScriptVm` as the state and so outlives every call of it.
        let gc: Function = unsafe {
            lua.exec_raw((), |l| {
                ffi::lua_pushlightuserdata(l, flag);
                ffi::lua_pushcclosure(l, collectgarbage, 1);
            })?
        };
        // The sandbox copies it into the script globals in place of the stock function.
        lua.globals().raw_set("collectgarbage", gc)?;
        let globals = lua.create_sequence_from(GLOBALS.iter().map(|(n, _)| *n))?;
        let libraries = lua.create_sequence_from(LIBRARIES.iter().map(|(n, _)| *n))?;
        let (env, real, runner, library_env, handler): (
            Table,
            Table,
            Function,
            Function,
            Function,
        ) = lua
            .load(SANDBOX)
            .set_name(SELF_SOURCE)
            .call((host, globals, libraries))?;
        // SAFETY: pushes `run_entry` (which follows the Lua C API contract, see its comment)
        // with its upvalues: the spare empty KEYS and ARGV tables, the names "KEYS" and "ARGV"
        // (so a run does not hash them), then the error handler and the real globals (so a
        // run passes only the function and its arguments). The stack starts with the handler
        // and the globals, and ends with the closure alone.
        let entry: Function = unsafe {
            lua.exec_raw((handler, real), |l| {
                ffi::lua_createtable(l, 0, 0);
                ffi::lua_createtable(l, 0, 0);
                ffi::lua_pushstring(l, c"KEYS".as_ptr());
                ffi::lua_pushstring(l, c"ARGV".as_ptr());
                ffi::lua_pushvalue(l, -6);
                ffi::lua_pushvalue(l, -6);
                ffi::lua_pushcclosure(l, run_entry, 6);
                ffi::lua_replace(l, -3);
                ffi::lua_pop(l, 1);
            })?
        };
        let keys = Rc::new(ReplyKeys::new(&lua)?);
        // SAFETY: takes a registry reference to `entry` on the main state (the state mlua runs
        // this protected call on), which lives as long as `lua`.
        let (raw, entry_ref) = unsafe { registry_ref(&lua, &entry)? };
        // SAFETY: as above, for the result slot (holding `true` while unused).
        let (_, result_ref) = unsafe { registry_ref(&lua, true)? };
        let mut vm = ScriptVm {
            lua,
            runner,
            raw,
            entry_ref,
            result_ref,
            keys,
            env,
            compiled: HashMap::default(),
            library_env,
            libs: HashMap::default(),
            generation,
            memory_limit: 0,
            hook_tripped: true,
            argv_buf: Vec::new(),
            gc_stopped,
        };
        vm.arm_hook();
        vm.set_memory_limit(memory_limit);
        Ok(vm)
    }

    /// Applies `lua-memory-limit` (0 = none).
    pub fn set_memory_limit(&mut self, limit: u64) {
        if limit != self.memory_limit {
            let _ = self.lua.set_memory_limit(limit as usize);
            self.memory_limit = limit;
        }
    }

    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// Housekeeping after a run: a script may have stopped the collector (`collectgarbage`
    /// is allowed, as in Redis), and one that hit the memory limit leaves garbage that only a
    /// full collection frees; the collection itself needs memory, so the limit is lifted for it.
    pub fn after_run(&mut self) {
        // Only when a script stopped it: restarting a running collector forces a collection
        // step at the next allocation, which on every run keeps the collector cycling over the
        // whole heap without pause.
        if self.gc_stopped.replace(false) {
            self.lua.gc_restart();
        }
        let limit = self.memory_limit;
        if limit > 0 && self.lua.used_memory() as u64 > limit / 2 {
            let _ = self.lua.set_memory_limit(0);
            let _ = self.lua.gc_collect();
            let _ = self.lua.gc_collect();
            let _ = self.lua.set_memory_limit(limit as usize);
        }
    }

    /// False when the VM cannot run scripts any more (still over its memory limit after a full
    /// collection); the shard then replaces it.
    pub fn healthy(&self) -> bool {
        self.memory_limit == 0 || (self.lua.used_memory() as u64) < self.memory_limit * 9 / 10
    }

    /// Installs the periodic hook again if a previous run switched it to every instruction.
    pub fn arm_hook(&mut self) {
        if !self.hook_tripped {
            return;
        }
        // SAFETY: sets a C hook on this VM's main thread; `run::hook` only touches the
        // thread-local run state and the Lua stack it is given.
        let done = unsafe {
            self.lua.exec_raw::<()>((), |state| {
                ffi::lua_sethook(state, Some(run::hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
            })
        };
        self.hook_tripped = done.is_err();
    }

    /// Compiles `script` in this VM unless it already is.
    pub fn compile(&mut self, script: &Script) -> Result<(), String> {
        if !self.compiled.contains_key(&script.sha) {
            let f = compile(&self.lua, &script.body, "@user_script", Some(&self.env))?;
            let r = self.registry_ref(&f).map_err(|e| e.to_string())?;
            self.compiled.insert(script.sha, (f, r));
        }
        Ok(())
    }

    /// A registry reference to `f` for [`call_ref`](Self::call_ref).
    pub(crate) fn registry_ref(&self, f: &Function) -> mlua::Result<c_int> {
        // SAFETY: as in `new`.
        unsafe { registry_ref(&self.lua, f).map(|(_, r)| r) }
    }

    /// Drops a reference taken by [`registry_ref`](Self::registry_ref).
    pub(crate) fn unref(&self, r: c_int) {
        // SAFETY: drops this VM's own reference on its main state.
        unsafe { ffi::luaL_unref(self.raw, ffi::LUA_REGISTRYINDEX, r) };
    }

    /// The registry reference of `script`'s compiled function (see [`compile`](Self::compile)).
    pub(crate) fn script_ref(&self, script: &Script) -> Option<c_int> {
        self.compiled.get(&script.sha).map(|(_, r)| *r)
    }

    /// Runs the function behind registry reference `func` with the sandbox's error handler,
    /// giving what `xpcall` would have (`true` and the first result, or `false` and the
    /// error): a script gets `keys` and `argv` as the globals KEYS and ARGV; a library function
    /// (`params`) is called as `func(KEYS, ARGV)` while neither is a global. One protected
    /// call, by the C API, into [`run_entry`], which builds the argument tables and runs it.
    /// Plain results come back as such; tables and errors as mlua values.
    pub(crate) fn call_ref(
        &self,
        func: c_int,
        keys: &[Bytes],
        argv: &[Bytes],
        params: bool,
    ) -> mlua::Result<Returned> {
        let args = EntryArgs { keys, argv, params };
        let ptr = (&args as *const EntryArgs)
            .cast_mut()
            .cast::<std::ffi::c_void>();
        let l = self.raw;
        // SAFETY: `l` is this VM's main state, used on this thread only and never inside
        // another call into it (a run is the outermost Lua call of its unit). The stack is
        // restored to `base` on every path; `args` outlives the call.
        unsafe {
            let base = ffi::lua_gettop(l);
            // Three slots; a state's main stack keeps at least 40 (BASIC_STACK_SIZE), nearly all
            // free between calls, so no check (which could grow the stack, that is allocate).
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.entry_ref as _);
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, func as _);
            ffi::lua_pushlightuserdata(l, ptr);
            let status = ffi::lua_pcall(l, 2, 2, 0);
            let out = if status != 0 {
                let text = string_at(l, -1).unwrap_or_default();
                let text = String::from_utf8_lossy(&text).into_owned();
                Err(if status == ffi::LUA_ERRMEM {
                    mlua::Error::MemoryError(text)
                } else {
                    mlua::Error::RuntimeError(text)
                })
            } else {
                let ok = ffi::lua_toboolean(l, -2) != 0;
                match (ok, ffi::lua_type(l, -1)) {
                    (true, ffi::LUA_TNIL) => Ok(Returned::Nil),
                    (true, ffi::LUA_TBOOLEAN) => Ok(Returned::Bool(ffi::lua_toboolean(l, -1) != 0)),
                    (true, ffi::LUA_TNUMBER) => Ok(Returned::Number(ffi::lua_tonumber(l, -1))),
                    (true, ffi::LUA_TSTRING) => {
                        Ok(Returned::Str(string_at(l, -1).unwrap_or_default()))
                    }
                    _ => {
                        // Tables and errors go through mlua's values (rarer, and richer),
                        // read in protected mode from the result slot.
                        let slot = self.result_ref;
                        ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
                        ffi::lua_settop(l, base);
                        let v = self.lua.exec_raw::<mlua::Value>((), |s| {
                            ffi::lua_rawgeti(s, ffi::LUA_REGISTRYINDEX, slot as _);
                        });
                        ffi::lua_pushboolean(l, 1);
                        ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
                        v.map(|v| Returned::Value(ok, v))
                    }
                }
            };
            ffi::lua_settop(l, base);
            out
        }
    }

    /// Drops compiled functions of scripts the registry no longer has, once the cache has
    /// clearly outgrown it.
    pub fn prune(&mut self, registry: &super::registry::Registry) {
        // The length test first: it spares every run a registry snapshot load.
        if self.compiled.len() > 64 && self.compiled.len() > registry.len() + 64 {
            let l = self.raw;
            self.compiled.retain(|sha, (_, r)| {
                let keep = registry.exists(sha);
                if !keep {
                    // SAFETY: drops this VM's own reference on its main state.
                    unsafe { ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, *r) };
                }
                keep
            });
        }
    }
}

/// What a run returned: a plain value as such, anything else (tables, and errors, with `false`)
/// as an mlua value.
pub(crate) enum Returned {
    Nil,
    Bool(bool),
    Number(f64),
    Str(Vec<u8>),
    Value(bool, mlua::Value),
}

/// The bytes of the string at `idx` (a string value only: numbers are not converted in place).
unsafe fn string_at(l: *mut ffi::lua_State, idx: c_int) -> Option<Vec<u8>> {
    if ffi::lua_type(l, idx) != ffi::LUA_TSTRING {
        return None;
    }
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    (!p.is_null()).then(|| std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
}

/// The main state of `lua` and a registry reference to `value` on it.
///
/// # Safety
/// `lua` must be the state's owner; the reference lives until unreferenced or the state closes.
unsafe fn registry_ref(
    lua: &Lua,
    value: impl mlua::IntoLua,
) -> mlua::Result<(*mut ffi::lua_State, c_int)> {
    let mut out = (std::ptr::null_mut(), 0);
    lua.exec_raw::<()>(value, |l| {
        ffi::lua_pushvalue(l, 1);
        out = (l, ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
        ffi::lua_settop(l, 0);
    })?;
    Ok(out)
}

/// What [`ScriptVm::call_ref`] hands [`run_entry`] (as a light userdata, valid for the call).
struct EntryArgs<'a> {
    keys: &'a [Bytes],
    argv: &'a [Bytes],
    params: bool,
}

/// `entry(func, args)` (the error handler and the globals are its upvalues 5 and 6): builds
/// KEYS and ARGV from `args` (an [`EntryArgs`]), then calls `func` protected by the handler
/// and returns `true, first result` or `false, error`, as `xpcall(func, handler)` does (but
/// for the further results). Called by mlua in protected mode, so a memory error while
/// building the tables is an `Err` of that call; it holds no Rust value that needs dropping.
unsafe extern "C-unwind" fn run_entry(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    ffi::luaL_checkstack(l, 8, c"too many arguments".as_ptr());
    let args = ffi::lua_touserdata(l, 2) as *const EntryArgs;
    let Some(args) = args.as_ref() else {
        ffi::lua_pushstring(l, c"entry: arguments expected".as_ptr());
        ffi::lua_error(l)
    };
    // The stack becomes `func, handler, globals`.
    ffi::lua_settop(l, 1);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(5));
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(6));
    // A script's KEYS and ARGV are the spare tables, refilled (see `push_args`); a function's
    // are new tables (library code can keep references in upvalues).
    push_args(l, args.keys, !args.params, 1);
    push_args(l, args.argv, !args.params, 2);
    let (keys_name, argv_name) = (ffi::lua_upvalueindex(3), ffi::lua_upvalueindex(4));
    let status = if args.params {
        for name in [keys_name, argv_name] {
            ffi::lua_pushvalue(l, name);
            ffi::lua_pushnil(l);
            ffi::lua_rawset(l, 3);
        }
        ffi::lua_pushvalue(l, 1);
        ffi::lua_pushvalue(l, 4);
        ffi::lua_pushvalue(l, 5);
        ffi::lua_pcall(l, 2, 1, 2)
    } else {
        ffi::lua_pushvalue(l, argv_name);
        ffi::lua_insert(l, -2);
        ffi::lua_rawset(l, 3);
        ffi::lua_pushvalue(l, keys_name);
        ffi::lua_insert(l, -2);
        ffi::lua_rawset(l, 3);
        ffi::lua_pushvalue(l, 1);
        ffi::lua_pcall(l, 0, 1, 2)
    };
    // Only the first result counts (Redis ignores the others).
    ffi::lua_pushboolean(l, (status == 0) as std::os::raw::c_int);
    ffi::lua_insert(l, -2);
    2
}

/// Pushes the array of `items`. For `reuse` (a script's KEYS or ARGV: no script can keep a
/// reference across runs, its globals and every library being read-only) that is the table in
/// upvalue `spare`, refilled, unless the last run left it with a metatable or with entries
/// beyond the new items; then a new table, which becomes the spare.
unsafe fn push_args(l: *mut ffi::lua_State, items: &[Bytes], reuse: bool, spare: i32) {
    if !reuse {
        return push_strings(l, items);
    }
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(spare));
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        if ffi::lua_getmetatable(l, -1) != 0 {
            ffi::lua_pop(l, 1);
        } else {
            let before = ffi::lua_objlen(l, -1);
            for (i, item) in items.iter().enumerate() {
                ffi::lua_pushlstring(l, item.as_ptr().cast(), item.len());
                ffi::lua_rawseti_(l, -2, (i + 1) as std::os::raw::c_int);
            }
            for i in items.len() + 1..=before {
                ffi::lua_pushnil(l);
                ffi::lua_rawseti_(l, -2, i as std::os::raw::c_int);
            }
            // Clean when nothing follows the last item (array entries come first in the
            // traversal, then the hash part, where a script's own keys would be).
            if items.is_empty() {
                ffi::lua_pushnil(l);
            } else {
                ffi::lua_pushinteger(l, items.len() as ffi::lua_Integer);
            }
            if ffi::lua_next(l, -2) == 0 {
                return;
            }
            ffi::lua_pop(l, 2);
        }
    }
    ffi::lua_pop(l, 1);
    push_strings(l, items);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_replace(l, ffi::lua_upvalueindex(spare));
}

/// Pushes a new array of `items` as Lua strings.
unsafe fn push_strings(l: *mut ffi::lua_State, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as i32, 0);
    for (i, item) in items.iter().enumerate() {
        ffi::lua_pushlstring(l, item.as_ptr().cast(), item.len());
        ffi::lua_rawseti_(l, -2, (i + 1) as std::os::raw::c_int);
    }
}

/// `collectgarbage` as scripts see it: the stock Lua 5.1 function (same options, defaults,
/// results and argument errors), except that `"stop"` also sets the flag its upvalue points
/// at, so `after_run` knows to restart the collector.
unsafe extern "C-unwind" fn collectgarbage(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    const NAMES: [*const std::os::raw::c_char; 8] = [
        c"stop".as_ptr(),
        c"restart".as_ptr(),
        c"collect".as_ptr(),
        c"count".as_ptr(),
        c"step".as_ptr(),
        c"setpause".as_ptr(),
        c"setstepmul".as_ptr(),
        std::ptr::null(),
    ];
    const WHAT: [std::os::raw::c_int; 7] = [
        ffi::LUA_GCSTOP,
        ffi::LUA_GCRESTART,
        ffi::LUA_GCCOLLECT,
        ffi::LUA_GCCOUNT,
        ffi::LUA_GCSTEP,
        ffi::LUA_GCSETPAUSE,
        ffi::LUA_GCSETSTEPMUL,
    ];
    let option = ffi::luaL_checkoption(l, 1, c"collect".as_ptr(), NAMES.as_ptr());
    let data = ffi::luaL_optinteger(l, 2, 0) as std::os::raw::c_int;
    let what = WHAT[option as usize];
    if what == ffi::LUA_GCSTOP {
        let flag = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const Cell<bool>;
        if let Some(flag) = flag.as_ref() {
            flag.set(true);
        }
    }
    let result = ffi::lua_gc(l, what, data);
    match what {
        ffi::LUA_GCCOUNT => {
            let rest = ffi::lua_gc(l, ffi::LUA_GCCOUNTB, 0);
            ffi::lua_pushnumber(l, result as f64 + rest as f64 / 1024.0);
        }
        ffi::LUA_GCSTEP => ffi::lua_pushboolean(l, result),
        _ => ffi::lua_pushnumber(l, result as f64),
    }
    1
}

/// `keep(f)` returns a C function that calls `f` with its arguments and returns its results.
/// Every function the sandbox writes in Lua is handed out wrapped this way: a script's
/// `return redis.call(...)` is then a call to a C function, which (unlike a Lua function) does
/// not replace the script's frame in a tail call, so error positions still name the script's
/// line, as they do in Redis where these functions are written in C.
unsafe extern "C-unwind" fn make_keep(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    if ffi::lua_type(l, 1) != ffi::LUA_TFUNCTION {
        ffi::lua_pushstring(l, c"keep: function expected".as_ptr());
        ffi::lua_error(l);
    }
    ffi::lua_settop(l, 1);
    ffi::lua_pushcclosure(l, keep_frame, 1);
    1
}

unsafe extern "C-unwind" fn keep_frame(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let n = ffi::lua_gettop(l);
    if ffi::lua_checkstack(l, 1) == 0 {
        ffi::lua_pushstring(l, c"stack overflow".as_ptr());
        ffi::lua_error(l);
    }
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

/// Compiles a script body as Redis does: chunk name `@user_script`, text only (a body starting
/// with ESC is parsed as text and fails like Redis's patched Lua).
pub(crate) fn compile(
    lua: &Lua,
    body: &[u8],
    name: &str,
    env: Option<&Table>,
) -> Result<Function, String> {
    let rewritten;
    let src: &[u8] = if body.starts_with(b"#!") {
        // The shebang line is not Lua: compile an empty line in its place (same line numbers).
        let rest = body
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&[][..], |i| &body[i..]);
        rewritten = rest.to_vec();
        &rewritten
    } else if body.first() == Some(&27) {
        rewritten = [b" ", body].concat();
        &rewritten
    } else {
        body
    };
    let mut chunk = lua.load(src).set_name(name).set_mode(ChunkMode::Text);
    if let Some(env) = env {
        chunk = chunk.set_environment(env.clone());
    }
    chunk.into_function().map_err(|e| match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    })
}

thread_local! {
    /// A bare Lua state per connection thread, used only to syntax-check new script bodies
    /// before they enter the registry.
    static CHECKER: RefCell<Option<Lua>> = const { RefCell::new(None) };
}

/// Checks that `body` compiles; the error is Redis's exact line.
pub fn check_compiles(body: &[u8]) -> Result<(), String> {
    CHECKER
        .with(|c| {
            let mut c = c.borrow_mut();
            let lua = c.get_or_insert_with(|| {
                Lua::new_with(StdLib::NONE, LuaOptions::default()).unwrap_or_else(|_| Lua::new())
            });
            compile(lua, body, "@user_script", None).map(|_| ())
        })
        .map_err(|m| format!("ERR Error compiling script (new function): {m}"))
}

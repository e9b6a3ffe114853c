//! Running a library body in a Lua VM: once on a connection thread to validate FUNCTION LOAD /
//! RESTORE (and at start-up), then lazily in each shard VM that calls one of its functions.
//!
//! Invariants:
//! - The body runs in its own library environment (see `library_env` in `sandbox.lua`), where
//!   only `redis.register_function`, `redis.log` and the constants exist; it is switched to the
//!   script globals once the body returns, so callbacks see what scripts see.
//! - A body never runs longer than `LOAD_TIMEOUT`: the VM hook raises once the deadline set
//!   here has passed (checked only outside a script run).

use crate::scripting::vm::{compile, ScriptVm};
use mlua::{Function, MultiValue, Table, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Redis's limit on the time a library body may take to register its functions.
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The VM that validates libraries on this (connection or start-up) thread.
    static CHECKER: RefCell<Option<ScriptVm>> = const { RefCell::new(None) };
}

/// Whether a library body is running on this thread past its deadline (asked by the hook).
pub(crate) fn load_deadline_passed() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// What one `redis.register_function` call registered.
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
    pub callback: Function,
}

/// Runs `code` (a library with its header) in `vm` and returns what it registered, or Redis's
/// error line.
pub fn run_library(vm: &mut ScriptVm, code: &[u8]) -> Result<Vec<Registered>, String> {
    let internal = |e: mlua::Error| format!("ERR Error registering functions: {e}");
    let (env, open): (Table, Function) = vm.library_env.call(()).map_err(internal)?;
    let chunk = compile(&vm.lua, code, "@user_function", Some(&env))
        .map_err(|m| format!("ERR Error compiling function: {m}"))?;
    vm.arm_hook();
    DEADLINE.with(|d| d.set(Some(Instant::now() + LOAD_TIMEOUT)));
    let result = vm.runner.call::<MultiValue>(chunk);
    DEADLINE.with(|d| d.set(None));
    // The hook may have switched itself to every instruction; re-arm it before the next run.
    vm.hook_tripped = true;
    let regs: Table = open.call(()).map_err(internal)?;
    let values = result.map_err(internal)?;
    let mut it = values.into_iter();
    if !matches!(it.next(), Some(Value::Boolean(true))) {
        let msg = match it.next() {
            Some(Value::Table(t)) => t
                .raw_get::<Option<mlua::String>>("err")
                .ok()
                .flatten()
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|| "ERR unknown error".into()),
            _ => "ERR unknown error".into(),
        };
        return Err(format!("ERR Error registering functions: {msg}"));
    }
    let mut out = Vec::new();
    for entry in regs.sequence_values::<Table>() {
        let t = entry.map_err(internal)?;
        let name: mlua::String = t.raw_get("name").map_err(internal)?;
        let description: Option<mlua::String> = t.raw_get("description").map_err(internal)?;
        let flags: Table = t.raw_get("flags").map_err(internal)?;
        let flags = flags
            .sequence_values::<mlua::String>()
            .filter_map(|f| f.ok().map(|f| f.to_string_lossy()))
            .collect();
        out.push(Registered {
            name: name.to_string_lossy(),
            description: description.map(|d| d.to_string_lossy()),
            flags,
            callback: t.raw_get("callback").map_err(internal)?,
        });
    }
    if out.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(out)
}

/// A registration's metadata: name, description, flag names.
pub type Meta = (String, Option<String>, Vec<String>);

/// Validates `code` on this thread's checker VM and returns its registrations' metadata.
pub fn check_library(code: &[u8], memory_limit: u64) -> Result<Vec<Meta>, String> {
    CHECKER.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|vm| !vm.healthy()) {
            *c = Some(
                ScriptVm::new(0, memory_limit)
                    .map_err(|e| format!("ERR Lua VM could not be created: {e}"))?,
            );
        }
        let Some(vm) = c.as_mut() else {
            return Err("ERR Lua VM could not be created".into());
        };
        vm.set_memory_limit(memory_limit);
        let regs = run_library(vm, code);
        vm.after_run();
        Ok(regs?
            .into_iter()
            .map(|r| (r.name, r.description, r.flags))
            .collect())
    })
}

/// The callback of `lib`'s function `index` in this shard VM, instantiating the library first
/// if this VM has not run it yet.
pub fn library_function(
    vm: &mut ScriptVm,
    lib: &super::Library,
    index: usize,
) -> Result<std::os::raw::c_int, String> {
    if !vm.libs.contains_key(&lib.id) {
        let regs = run_library(vm, &lib.code)?;
        let by_name: HashMap<String, Function> = regs
            .into_iter()
            .map(|r| (r.name.to_ascii_lowercase(), r.callback))
            .collect();
        // Indexed like `lib.functions`, so a call finds its callback without a name lookup.
        let mut callbacks = Vec::with_capacity(lib.functions.len());
        for f in &lib.functions {
            let entry = match by_name.get(&f.name.to_ascii_lowercase()) {
                Some(cb) => Some((cb.clone(), vm.registry_ref(cb).map_err(|e| e.to_string())?)),
                None => None,
            };
            callbacks.push(entry);
        }
        vm.libs.insert(lib.id, callbacks);
    }
    vm.libs
        .get(&lib.id)
        .and_then(|c| c.get(index))
        .and_then(|f| f.as_ref().map(|(_, r)| *r))
        .ok_or_else(|| "ERR Function not found".to_string())
}

/// Drops the instances of libraries that are gone, once there are clearly more than needed.
pub fn prune(vm: &mut ScriptVm, functions: &super::Functions) {
    // The length test first: it spares every run a snapshot load.
    if vm.libs.len() <= 8 {
        return;
    }
    let live = functions.snapshot();
    if vm.libs.len() > live.libs.len() + 8 {
        let gone: Vec<u64> = vm
            .libs
            .keys()
            .filter(|id| !live.libs.values().any(|l| l.id == **id))
            .copied()
            .collect();
        for id in gone {
            for (_, r) in vm.libs.remove(&id).into_iter().flatten().flatten() {
                vm.unref(r);
            }
        }
    }
}

//! The Redis Lua scripting layer: EVAL/EVALSHA/EVAL_RO/EVALSHA_RO and SCRIPT.
//!
//! Map:
//! - [`flags`]: `#!lua flags=…` shebangs.
//! - [`registry`]: sha1 → script, one snapshot shared by all shards, LRU for EVAL scripts.
//! - [`vm`] and `sandbox.lua`: one Lua VM per shard thread and the Redis sandbox.
//! - [`api`]: the host side of `redis.*`; [`convert`]: replies ⇄ Lua values.
//! - [`run`]: running a script inside a unit (hook, kill, abort and undo for re-runs).
//! - [`eval`]: the connection-level commands, which schedule runs and re-runs.
//! - [`batch`]: script calls that run inside a batch of pipelined commands.
//!
//! Invariant: a script runs as one unit on the shards it holds; if it reaches a shard it does
//! not hold, that run leaves no trace and the connection runs it again with more shards, so a
//! client never sees partial effects of a script.

pub mod api;
pub mod batch;
pub mod convert;
pub mod eval;
pub mod flags;
pub mod registry;
pub mod run;
pub mod undo;
pub mod vm;

pub use registry::Registry;
pub use vm::ScriptVm;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};

/// Run states of a home shard's script (`RunInfo::state`).
pub const IDLE: u8 = 0;
/// Running, nothing written yet: SCRIPT KILL may stop it.
pub const CLEAN: u8 = 1;
/// Running and has called a write command: UNKILLABLE.
pub const WROTE: u8 = 2;
/// SCRIPT KILL won the race against the first write.
pub const KILLED: u8 = 3;

/// What other connections can see of the script running on a home shard.
#[derive(Default)]
pub struct RunInfo {
    /// Past `busy-reply-threshold`.
    pub busy: AtomicBool,
    pub state: AtomicU8,
    /// The run is a library function (FCALL), not an EVAL script.
    pub function: AtomicBool,
    /// The function running, for FUNCTION STATS.
    pub current: std::sync::Mutex<Option<RunningFunction>>,
}

pub struct RunningFunction {
    pub name: String,
    pub command: Vec<bytes::Bytes>,
    pub started: std::time::Instant,
}

/// BUSY for a script run by EVAL.
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// BUSY for a library function run by FCALL.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Server-wide scripting state.
pub struct Scripting {
    pub registry: Registry,
    /// Function libraries (FUNCTION / FCALL).
    pub functions: crate::functions::Functions,
    /// Indexed by home shard.
    pub runs: Vec<RunInfo>,
    /// Bytes used by each shard's VM, updated after every run.
    pub vm_memory: Vec<AtomicU64>,
    /// Script runs abandoned and run again with more shards.
    pub reruns: AtomicU64,
}

/// The scripting figures INFO reports (see [`Scripting::info`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptingInfo {
    pub number_of_cached_scripts: u64,
    pub used_memory_scripts_eval: u64,
    pub evicted_scripts: u64,
    /// Sum over the shard VMs (`used_memory_vm_eval`, `used_memory_lua`).
    pub used_memory_vm_eval: u64,
    /// Runs re-done with a wider set of shards (`scripts_reruns`).
    pub scripts_reruns: u64,
}

impl Scripting {
    pub fn new(shards: usize) -> Scripting {
        Scripting {
            registry: Registry::new(shards),
            functions: crate::functions::Functions::new(shards),
            runs: (0..shards).map(|_| RunInfo::default()).collect(),
            vm_memory: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            reruns: AtomicU64::new(0),
        }
    }

    /// The BUSY error for a client blocked by a busy run: it names the KILL command that
    /// applies (FUNCTION KILL while a function is the busy run).
    pub fn busy_error(&self) -> &'static str {
        let function_busy = self
            .runs
            .iter()
            .any(|r| r.busy.load(Relaxed) && r.function.load(Relaxed));
        if function_busy {
            BUSY_FUNCTION
        } else {
            BUSY_SCRIPT
        }
    }

    /// Figures for INFO (memory / stats sections) and metrics.
    pub fn info(&self) -> ScriptingInfo {
        let r = self.registry.stats();
        ScriptingInfo {
            number_of_cached_scripts: r.number_of_cached_scripts as u64,
            used_memory_scripts_eval: r.used_memory_scripts_eval as u64,
            evicted_scripts: r.evicted_scripts,
            used_memory_vm_eval: self.vm_memory.iter().map(|m| m.load(Relaxed)).sum(),
            scripts_reruns: self.reruns.load(Relaxed),
        }
    }
}

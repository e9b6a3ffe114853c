//! Durable storage: the append-only log of the effect stream (`aof`), snapshot files
//! (`save`: SAVE, BGSAVE, SHUTDOWN SAVE) and loading either at start (`load`).
//!
//! How they combine: a snapshot file (`dir/dbfilename`) is one consistent cut of the data,
//! scripts and libraries; the log is self-contained, beginning with the snapshot written by
//! its last rewrite (BGREWRITEAOF or the size trigger) and followed by every unit published
//! since. So at start, with `appendonly yes` the log alone is loaded; only when there is no
//! log yet (the log was just turned on) is the snapshot file loaded and copied in as the
//! log's beginning. With `appendonly no` the snapshot file is loaded.
//!
//! Invariants: the log holds whole units of the effect stream, in stream order, and nothing
//! else; files are replaced atomically (temporary file, fsync, rename, fsync of the
//! directory), so a crash leaves the old file or the new one; one background job (BGSAVE or
//! a log rewrite) runs at a time, as in Redis, and the other is scheduled behind it.

pub mod aof;
pub mod history;
pub mod load;
mod rdb_stream;
pub mod rdb_value;
pub mod save;

use crate::server::Server;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Persistence state shared by commands, background jobs and INFO.
#[derive(Default)]
pub struct State {
    pub progress: load::Progress,
    /// A SAVE or BGSAVE is writing a snapshot file.
    pub saving: AtomicBool,
    /// BGSAVE SCHEDULE (or BGSAVE during a rewrite) waits for the rewrite to end.
    pub save_scheduled: AtomicBool,
    /// BGREWRITEAOF waits for a BGSAVE to end.
    pub rewrite_scheduled: AtomicBool,
    /// Unix seconds of the last successful save (0: none yet; LASTSAVE then reports start).
    pub last_save_unix: AtomicU64,
    pub last_save_ok: AtomicBool,
    pub saves: AtomicU64,
    /// Seconds the last background save took, -1 before the first; start of the current one.
    pub last_bgsave_secs: AtomicI64,
    pub bgsave_started_ms: AtomicU64,
    /// Microseconds the last snapshot held every shard (INFO stats `latest_fork_usec`).
    pub last_pause_us: AtomicU64,
    pub rewrite_failed: AtomicBool,
    pub rewrites: AtomicU64,
    pub last_rewrite_secs: AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    /// Changes made since start (Redis's `server.dirty`, summed over units), and its value at
    /// the cut of the last successful save.
    pub dirty: AtomicU64,
    pub dirty_at_save: AtomicU64,
    /// Unix seconds of the last save attempt by a save point (retries wait after a failure).
    pub last_auto_try: AtomicU64,
    /// The runtime background jobs are spawned on (triggers also fire on shard threads).
    pub rt: std::sync::OnceLock<tokio::runtime::Handle>,
    /// Where the stream was at the cut of the last snapshot file this run wrote.
    pub last_cut: std::sync::Mutex<Option<history::Position>>,
}

impl State {
    pub fn new() -> State {
        let s = State::default();
        s.last_save_ok.store(true, Relaxed);
        s.last_bgsave_secs.store(-1, Relaxed);
        s.last_rewrite_secs.store(-1, Relaxed);
        s
    }
}

/// Writes since the last successful save (INFO `rdb_changes_since_last_save`).
pub fn changes_since_save(server: &Server) -> u64 {
    let p = &server.persist;
    p.dirty
        .load(Relaxed)
        .saturating_sub(p.dirty_at_save.load(Relaxed))
}

/// LASTSAVE: unix seconds of the last successful save, or of the start.
pub fn lastsave(server: &Server) -> i64 {
    match server.persist.last_save_unix.load(Relaxed) {
        0 => (server.started_unix_ms / 1000) as i64,
        t => t as i64,
    }
}

/// Loads what is on disk and starts the log if it is on; `follows`: this node starts as a
/// follower (see `history`). Errors stop start-up.
pub async fn start(server: &Arc<Server>, follows: bool) -> Result<(), String> {
    let _ = server.persist.rt.set(tokio::runtime::Handle::current());
    if server.config().appendonly == "yes" {
        let source = aof::start(server).await?;
        history::resume_at_start(server, source, follows);
        return Ok(());
    }
    let path = save::path(server);
    if path.exists() {
        save::load(server, &path).await?;
        history::resume_at_start(server, "snapshot", follows);
    } else {
        history::resume_at_start(server, "none", follows);
    }
    Ok(())
}

/// At exit: the log's last writes reach the disk whatever the fsync policy.
pub fn on_exit(server: &Server) {
    if let Some(shared) = server.aof.get() {
        aof::flush(server);
        shared.sync_now();
    }
    history::save_at_exit(server);
}

/// A handle to spawn background jobs on, from any thread.
pub(crate) fn runtime(server: &Server) -> Option<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| server.persist.rt.get().cloned())
}

/// Creates `path`'s temporary sibling for writing.
pub(crate) fn create_tmp(path: &Path, suffix: &str) -> Result<(PathBuf, File), String> {
    let tmp = path.with_extension(suffix);
    let f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok((tmp, f))
}

/// Makes `tmp` (written through `f`) durable and atomically the new `path`.
pub(crate) fn commit(f: File, tmp: &Path, path: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(tmp, path).map_err(io)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Starts whichever background job was scheduled behind the one that just ended.
pub(crate) fn run_scheduled(server: &Arc<Server>) {
    if server.persist.rewrite_scheduled.swap(false, Relaxed) {
        // A BGSAVE that is still running schedules it again.
        let _ = aof::start_rewrite(server);
    }
    if server.persist.save_scheduled.swap(false, Relaxed)
        && save::start_bgsave(server) == Err(save::CHILD_ACTIVE)
    {
        server.persist.save_scheduled.store(true, Relaxed);
    }
}

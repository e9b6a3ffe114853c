//! Snapshot files: SAVE, BGSAVE and SHUTDOWN SAVE write `dir/dbfilename`; start-up loads it
//! when the append-only log is off (or does not exist yet).
//!
//! Invariants:
//! - The data is copied in one unit holding every shard (the only pause; its length is
//!   `State::last_pause_us`); serializing and writing happen after the shards are released,
//!   on a blocking thread.
//! - The file is replaced atomically: readers and a crash see the old snapshot or the new one.
//! - The file holds luagate's snapshot commands (the same as a full sync), not Redis's RDB
//!   format; a Redis RDB file found in its place stops start-up with a clear message.

use super::{commit, create_tmp};
use crate::replication::{all_shards, run_on, snapshot};
use crate::server::Server;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

pub const IN_PROGRESS: &str = "ERR Background save already in progress";
pub const CHILD_ACTIVE: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";

pub fn path(server: &Server) -> PathBuf {
    let cfg = server.config();
    Path::new(&cfg.dir).join(&cfg.dbfilename)
}

/// Copies the data at one cut (holding every shard only for the copy) and writes it to
/// `dir/dbfilename`; returns the bytes written.
pub async fn write_snapshot(server: &Arc<Server>) -> Result<u64, String> {
    let started = Instant::now();
    let cap = run_on(server, all_shards(server), |ctx| {
        let t = Instant::now();
        let dirty = ctx.server.persist.dirty.load(Relaxed);
        let cap = snapshot::capture(ctx, |_| {});
        (cap, t.elapsed(), dirty)
    })
    .await
    .ok_or("shards are not running")?;
    let (cap, pause, dirty_at_cut) = cap;
    server
        .persist
        .last_pause_us
        .store(pause.as_micros() as u64, Relaxed);
    let path = path(server);
    let keys = cap.keys;
    let cut = super::history::Position {
        replid: cap.replid.clone(),
        offset: cap.offset,
        db: cap.end_db().unwrap_or(0),
        source: "snapshot",
    };
    let bytes = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let (tmp, f) = create_tmp(&path, "rdb.tmp")?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let n = cap
            .write_to(&mut w)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        let f = w
            .into_inner()
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        commit(f, &tmp, &path)?;
        Ok(n)
    })
    .await
    .map_err(|e| e.to_string())??;
    tracing::info!(
        keys,
        bytes,
        pause_us = pause.as_micros() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "snapshot saved"
    );
    server.persist.dirty_at_save.store(dirty_at_cut, Relaxed);
    if let Ok(mut last) = server.persist.last_cut.lock() {
        *last = Some(cut);
    }
    Ok(bytes)
}

fn finished(server: &Server, r: &Result<u64, String>) {
    let p = &server.persist;
    match r {
        Ok(_) => {
            p.last_save_unix
                .store(crate::clock::unix_ms() / 1000, Relaxed);
            p.last_save_ok.store(true, Relaxed);
            p.saves.fetch_add(1, Relaxed);
        }
        Err(e) => {
            tracing::error!(error = %e, "saving the snapshot failed");
            p.last_save_ok.store(false, Relaxed);
        }
    }
}

/// SAVE (and SHUTDOWN SAVE): returns once the file is durable.
pub async fn save(server: &Arc<Server>) -> Result<(), String> {
    if server.persist.saving.swap(true, Relaxed) {
        return Err(IN_PROGRESS.into());
    }
    let r = write_snapshot(server).await;
    finished(server, &r);
    server.persist.saving.store(false, Relaxed);
    super::run_scheduled(server);
    r.map(|_| ())
}

/// BGSAVE: starts a background save, or says why not (Redis's error line).
pub fn start_bgsave(server: &Arc<Server>) -> Result<(), &'static str> {
    let rewriting = server.aof.get().is_some_and(|a| a.is_rewriting());
    if server.persist.saving.load(Relaxed) {
        return Err(IN_PROGRESS);
    }
    if rewriting {
        return Err(CHILD_ACTIVE);
    }
    if server.persist.saving.swap(true, Relaxed) {
        return Err(IN_PROGRESS);
    }
    let Some(rt) = super::runtime(server) else {
        server.persist.saving.store(false, Relaxed);
        return Err("ERR no runtime");
    };
    server
        .persist
        .bgsave_started_ms
        .store(crate::clock::unix_ms(), Relaxed);
    let server = server.clone();
    rt.spawn(async move {
        let t = Instant::now();
        let r = write_snapshot(&server).await;
        finished(&server, &r);
        server
            .persist
            .last_bgsave_secs
            .store(t.elapsed().as_secs() as i64, Relaxed);
        server.persist.saving.store(false, Relaxed);
        super::run_scheduled(&server);
    });
    Ok(())
}

/// Loads a snapshot file at start; a file that does not end on a whole command is corrupt.
pub async fn load(server: &Arc<Server>, path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let len = data.len();
    let p = &server.persist.progress;
    let loaded = super::load::load(server, data, p)
        .await
        .map_err(|e| format!("Bad snapshot file {}: {e}", path.display()))?;
    if loaded.good_len < len {
        return Err(format!(
            "Bad snapshot file {}: it ends inside a command at byte {}",
            path.display(),
            loaded.good_len
        ));
    }
    let keys = key_count(server).await;
    p.keys_loaded.store(keys, Relaxed);
    tracing::info!(keys, bytes = len, path = %path.display(), "snapshot loaded");
    Ok(())
}

/// Keys in every database of every shard.
pub async fn key_count(server: &Arc<Server>) -> u64 {
    run_on(server, all_shards(server), |ctx| {
        let mut n = 0u64;
        for s in ctx.held_shards() {
            for d in &s.dbs {
                n += d.len() as u64;
            }
        }
        n
    })
    .await
    .unwrap_or(0)
}

/// How long a failed save point waits before trying again (Redis: 5 s).
const RETRY_AFTER_FAILURE_SECS: u64 = 5;

/// Save points (`save "<seconds> <changes> …"`): checked once a second; starts a BGSAVE when
/// some point is reached, as Redis's cron does. Runs for the server's life.
pub async fn save_points(server: Arc<Server>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let cfg = server.config();
        let Some(points) = crate::config::parse_save_points(&cfg.save) else {
            continue;
        };
        let p = &server.persist;
        if points.is_empty() || p.saving.load(Relaxed) {
            continue;
        }
        let now = crate::clock::unix_ms() / 1000;
        let since_save = now.saturating_sub(super::lastsave(&server).max(0) as u64);
        let changes = super::changes_since_save(&server);
        let due = points
            .iter()
            .any(|&(secs, n)| changes >= n && since_save > secs);
        let may_retry = p.last_save_ok.load(Relaxed)
            || now.saturating_sub(p.last_auto_try.load(Relaxed)) > RETRY_AFTER_FAILURE_SECS;
        if due && may_retry {
            p.last_auto_try.store(now, Relaxed);
            tracing::info!(changes, seconds = since_save, "save point reached: saving");
            // A rewrite running now makes this a no-op; the next tick tries again.
            let _ = start_bgsave(&server);
        }
    }
}

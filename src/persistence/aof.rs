//! The append-only log: every unit of the effect stream written to `dir/appendfilename`,
//! fsynced per `appendfsync`, and replayed at start.
//!
//! Invariants:
//! - Units reach the log under the stream's lock, in stream order, appended by the unit that
//!   produced them while it still holds its shards. With `appendfsync always` each is written
//!   and fsynced there, so a write is on disk before its client gets a reply. Otherwise units
//!   collect in the sink's buffer, which is written (one `write` for many units, as Redis
//!   writes its buffer once per event-loop turn) before any client's reply or any stream bytes
//!   to a follower leave ([`flush`]), every second by the fsync thread, when it passes 64 KiB,
//!   when the sink is replaced and at exit: a reply still implies its write is in the file.
//! - A rewrite (BGREWRITEAOF, or the size trigger: `auto-aof-rewrite-min-size` and
//!   `auto-aof-rewrite-percentage`, as in Redis) replaces the log with a snapshot of the data, scripts and function
//!   libraries followed by every unit published after the snapshot's cut. The cut is a copy
//!   taken in a unit holding every shard; at the cut the sink starts keeping a copy of each
//!   unit it writes (the rewrite buffer). The snapshot is written and fsynced with the shards
//!   released; the buffered units are appended, and the new file is renamed over the log and
//!   becomes the sink under the stream's lock, so no unit falls between the two files or is
//!   written to both. Until then the old log keeps receiving every unit, so a crash during a
//!   rewrite loses nothing.
//! - At start the log is read unit by unit. A tail that ends inside a command or inside a
//!   MULTI … EXEC block (a crash mid-write) is cut back to the last whole unit, with a
//!   warning; no part of that unit is applied. Anything else that does not parse, or names a
//!   command the stream never contains, stops start-up.

use crate::replication::apply::{self, Applier, Fed};
use crate::replication::stream::{Inner, Sink};
use crate::replication::{all_shards, run_on, snapshot};
use crate::server::Server;
use bytes::BytesMut;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// State shared by the writer, the `everysec` fsync thread and rewrites.
pub struct Shared {
    /// Set when something was written since the last background fsync.
    dirty: AtomicBool,
    /// Set while the sink holds buffered units not yet written to the file.
    unwritten: AtomicBool,
    /// The file the fsync thread syncs (replaced by a rewrite).
    syncer: Mutex<Option<File>>,
    /// Bytes in the log, and in it right after the last rewrite (or load).
    size: AtomicU64,
    base: AtomicU64,
    rewriting: AtomicBool,
    /// While a rewrite runs: every unit written since its cut, for the new file.
    rewrite_buf: Mutex<Option<Vec<u8>>>,
    /// Bytes of units ever handed to the log (never reset, unlike `size`), and how many of
    /// those are known to be on disk: fsynced, or written with `appendfsync no` (WAITAOF).
    appended: AtomicU64,
    synced: AtomicU64,
}

impl Shared {
    pub fn is_rewriting(&self) -> bool {
        self.rewriting.load(Relaxed)
    }

    pub fn size(&self) -> u64 {
        self.size.load(Relaxed)
    }

    pub fn base_size(&self) -> u64 {
        self.base.load(Relaxed)
    }

    /// Log position (bytes of units ever appended) and how much of it is on disk, for
    /// WAITAOF: a write is durable once `synced` reaches the `appended` read after it.
    pub fn durability(&self) -> (u64, u64) {
        (self.appended.load(Relaxed), self.synced.load(Relaxed))
    }

    /// fsyncs the log now (shutdown).
    pub fn sync_now(&self) {
        if let Ok(guard) = self.syncer.lock() {
            if let Some(Err(e)) = guard.as_ref().map(|f| f.sync_data()) {
                tracing::error!(error = %e, "fsync of the append-only log failed");
            }
        }
    }
}

/// What a rewrite request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewrite {
    Started,
    /// One is running already.
    Running,
    /// A BGSAVE runs; the rewrite starts when it ends.
    Scheduled,
    /// The log is off.
    Off,
}

/// Writes out the log's buffered units, if any: called before a reply or follower bytes are
/// sent. One relaxed load when the log is off or nothing is buffered.
#[inline]
pub fn flush(server: &Server) {
    if let Some(shared) = server.aof.get() {
        if shared.unwritten.load(Relaxed) {
            server.repl.stream.flush_sink();
        }
    }
}

/// Buffered units are written at once past this size.
const BUFFER_MAX: usize = 64 * 1024;

/// The writer installed as the stream's sink.
struct AofSink {
    file: File,
    server: std::sync::Weak<Server>,
    shared: Arc<Shared>,
    failed: bool,
    /// Units appended and not yet written (not with `appendfsync always`).
    buffer: Vec<u8>,
    /// The latency monitor (`aof-write`, `aof-fsync-always`): one load per write when off.
    latency: Arc<crate::server::admin::latency::Monitor>,
}

impl AofSink {
    fn write_file(&mut self, bytes: &[u8]) -> bool {
        let started = self.latency.start();
        let written = self.file.write_all(bytes);
        self.latency.end("aof-write", started);
        match written {
            Ok(()) => true,
            Err(e) => {
                if !self.failed {
                    tracing::error!(error = %e, "writing the append-only log failed");
                    self.failed = true;
                }
                false
            }
        }
    }

    fn write_buffer(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let buffer = std::mem::take(&mut self.buffer);
        if self.write_file(&buffer) {
            self.shared.dirty.store(true, Relaxed);
        }
        self.buffer = buffer;
        self.buffer.clear();
        self.shared.unwritten.store(false, Relaxed);
    }
}

impl Drop for AofSink {
    fn drop(&mut self) {
        self.write_buffer();
    }
}

impl Sink for AofSink {
    fn flush(&mut self) {
        self.write_buffer();
    }

    fn write(&mut self, unit: &[u8]) {
        let Some(server) = self.server.upgrade() else {
            self.write_file(unit);
            return;
        };
        // Settings are read per write so CONFIG SET applies at once.
        let cfg = server.config();
        let policy = Fsync::parse(&cfg.appendfsync);
        if policy == Fsync::Always {
            self.write_buffer();
            if !self.write_file(unit) {
                return;
            }
        } else {
            self.buffer.extend_from_slice(unit);
            self.shared.unwritten.store(true, Relaxed);
            if self.buffer.len() >= BUFFER_MAX {
                self.write_buffer();
            }
        }
        if let Ok(mut b) = self.shared.rewrite_buf.lock() {
            if let Some(b) = b.as_mut() {
                b.extend_from_slice(unit);
            }
        }
        let size = self.shared.size.fetch_add(unit.len() as u64, Relaxed) + unit.len() as u64;
        let end = self.shared.appended.fetch_add(unit.len() as u64, Relaxed) + unit.len() as u64;
        let pct = cfg.auto_aof_rewrite_percentage;
        let base = self.shared.base.load(Relaxed);
        if pct > 0
            && size >= cfg.auto_aof_rewrite_min_size
            && size.saturating_sub(base) * 100 >= base.saturating_mul(pct)
            && !self.shared.rewriting.load(Relaxed)
            && !server.persist.rewrite_scheduled.load(Relaxed)
        {
            start_rewrite(&server);
        }
        if policy == Fsync::Always {
            let started = self.latency.start();
            let synced = self.file.sync_data();
            self.latency.end("aof-fsync-always", started);
            match synced {
                Ok(()) => drop(self.shared.synced.fetch_max(end, Relaxed)),
                Err(e) => tracing::error!(error = %e, "fsync of the append-only log failed"),
            }
        }
    }
}

pub fn path(server: &Server) -> PathBuf {
    let cfg = server.config();
    Path::new(&cfg.dir).join(&cfg.appendfilename)
}

/// Loads the log (if any), then installs the writer. With no log yet, the snapshot file (if
/// any) is loaded and copied in as the log's beginning, so the log is self-contained from the
/// start. Errors stop start-up.
pub async fn start(server: &Arc<Server>) -> Result<&'static str, String> {
    let path = path(server);
    let has_log = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
    let mut source = "none";
    if has_log {
        load(server, &path).await?;
        source = "aof";
    } else {
        let dump = super::save::path(server);
        if dump.exists() {
            source = "snapshot";
            super::save::load(server, &dump).await?;
            let (tmp, f) = super::create_tmp(&path, "seed.tmp")?;
            drop(f);
            std::fs::copy(&dump, &tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
            let f = File::open(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
            super::commit(f, &tmp, &path)?;
        }
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open the append-only log {}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let shared = Arc::new(Shared {
        dirty: AtomicBool::new(false),
        unwritten: AtomicBool::new(false),
        syncer: Mutex::new(Some(
            file.try_clone()
                .map_err(|e| format!("cannot open the append-only log: {e}"))?,
        )),
        size: AtomicU64::new(size),
        base: AtomicU64::new(size),
        rewriting: AtomicBool::new(false),
        rewrite_buf: Mutex::new(None),
        appended: AtomicU64::new(0),
        synced: AtomicU64::new(0),
    });
    let _ = server.aof.set(shared.clone());
    server
        .repl
        .stream
        .with(|s| install(s, server, file, &shared));
    server.want_effects();
    // `everysec`: at most about a second of acknowledged writes is lost on a crash.
    let weak = Arc::downgrade(server);
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let Some(server) = weak.upgrade() else {
                return;
            };
            // Everything appended before the flush is in the file after it.
            let target = shared.appended.load(Relaxed);
            flush(&server);
            let policy = Fsync::parse(&server.config().appendfsync);
            drop(server);
            let on_disk = match policy {
                Fsync::EverySec if shared.dirty.swap(false, Relaxed) => {
                    match shared
                        .syncer
                        .lock()
                        .ok()
                        .and_then(|g| g.as_ref().map(|f| f.sync_data()))
                    {
                        Some(Err(e)) => {
                            tracing::error!(error = %e, "fsync of the append-only log failed");
                            false
                        }
                        _ => true,
                    }
                }
                // Nothing written since the last fsync; and `no` leaves fsync to the kernel,
                // so written is as durable as the log gets (WAITAOF counts it).
                Fsync::EverySec | Fsync::No => true,
                // `always` fsyncs each unit as it is written.
                Fsync::Always => false,
            };
            if on_disk {
                shared.synced.fetch_max(target, Relaxed);
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(source)
}

/// Makes `file` the stream's sink (called under the stream's lock).
fn install(s: &mut Inner, server: &Arc<Server>, file: File, shared: &Arc<Shared>) {
    s.reset_db();
    s.sink = Some(Box::new(AofSink {
        file,
        server: Arc::downgrade(server),
        shared: shared.clone(),
        failed: false,
        buffer: Vec::new(),
        latency: server.latency.clone(),
    }));
}

/// Starts a background rewrite unless one runs, a BGSAVE runs (then it is scheduled) or the
/// log is off.
pub fn start_rewrite(server: &Arc<Server>) -> Rewrite {
    let Some(shared) = server.aof.get() else {
        return Rewrite::Off;
    };
    if shared.rewriting.load(Relaxed) {
        return Rewrite::Running;
    }
    if server.persist.saving.load(Relaxed) {
        server.persist.rewrite_scheduled.store(true, Relaxed);
        return Rewrite::Scheduled;
    }
    if shared.rewriting.swap(true, Relaxed) {
        return Rewrite::Running;
    }
    let server = server.clone();
    // The size trigger runs on a shard thread, outside the runtime.
    let Some(rt) = super::runtime(&server) else {
        shared.rewriting.store(false, Relaxed);
        return Rewrite::Off;
    };
    server
        .persist
        .rewrite_started_ms
        .store(crate::clock::unix_ms(), Relaxed);
    rt.spawn(async move {
        let t = std::time::Instant::now();
        let r = rewrite(&server).await;
        let p = &server.persist;
        p.last_rewrite_secs
            .store(t.elapsed().as_secs() as i64, Relaxed);
        match r {
            Ok(_) => {
                p.rewrites.fetch_add(1, Relaxed);
                p.rewrite_failed.store(false, Relaxed);
            }
            Err(e) => {
                p.rewrite_failed.store(true, Relaxed);
                tracing::error!(error = %e, "rewriting the append-only log failed");
            }
        }
        if let Some(s) = server.aof.get() {
            if let Ok(mut b) = s.rewrite_buf.lock() {
                *b = None;
            }
            s.rewriting.store(false, Relaxed);
        }
        super::run_scheduled(&server);
    });
    Rewrite::Started
}

/// Replaces the log with a snapshot and the units published after its cut (see the module
/// invariants for the order of the steps).
async fn rewrite(server: &Arc<Server>) -> Result<(), String> {
    let path = path(server);
    let shared = server
        .aof
        .get()
        .ok_or("the append-only log is off")?
        .clone();
    let sh = shared.clone();
    let (cap, pause) = run_on(server, all_shards(server), move |ctx| {
        let t = std::time::Instant::now();
        let cap = snapshot::capture(ctx, |_| {
            if let Ok(mut b) = sh.rewrite_buf.lock() {
                *b = Some(Vec::new());
            }
        });
        (cap, t.elapsed())
    })
    .await
    .ok_or("shards are not running")?;
    server
        .persist
        .last_pause_us
        .store(pause.as_micros() as u64, Relaxed);
    let sh = shared.clone();
    let tmp_path = path.clone();
    // Off the shards and off the stream: the snapshot, then what accumulated meanwhile.
    let (tmp, f) = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let (tmp, f) = super::create_tmp(&tmp_path, "rewrite.tmp")?;
        let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        cap.write_to(&mut w).map_err(io)?;
        let mut f = w.into_inner().map_err(|e| io(e.into_error()))?;
        for _ in 0..3 {
            let chunk = sh
                .rewrite_buf
                .lock()
                .ok()
                .and_then(|mut b| b.as_mut().map(std::mem::take))
                .unwrap_or_default();
            f.write_all(&chunk).map_err(io)?;
        }
        f.sync_data().map_err(io)?;
        Ok((tmp, f))
    })
    .await
    .map_err(|e| e.to_string())??;
    // The last few units, the swap and the new sink, with publishing paused.
    let srv = server.clone();
    let len = server.repl.stream.with(move |s| -> Result<u64, String> {
        let mut f = f;
        let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
        let rest = shared
            .rewrite_buf
            .lock()
            .ok()
            .and_then(|mut b| b.take())
            .unwrap_or_default();
        let started = srv.latency.start();
        f.write_all(&rest).map_err(io)?;
        super::commit(f, &tmp, &path)?;
        srv.latency.end("aof-rename", started);
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if let Ok(mut sy) = shared.syncer.lock() {
            *sy = file.try_clone().ok();
        }
        shared.size.store(len, Relaxed);
        shared.base.store(len.max(1), Relaxed);
        // The new file holds every unit appended so far, and `commit` fsynced it.
        shared
            .synced
            .fetch_max(shared.appended.load(Relaxed), Relaxed);
        install(s, &srv, file, &shared);
        Ok(len)
    })?;
    tracing::info!(
        bytes = len,
        pause_us = pause.as_micros() as u64,
        "append-only log rewritten"
    );
    Ok(())
}

/// What reading a log found: the whole units, and where the last one ends.
pub struct Parsed {
    pub units: Vec<Vec<apply::UnitCmd>>,
    pub good_len: usize,
}

/// Splits a log into units; `Err` for corruption other than a torn tail.
pub fn parse(data: &[u8]) -> Result<Parsed, String> {
    let mut decoder = crate::protocol::RequestDecoder::new(i64::MAX);
    decoder.authenticated = true;
    let mut buf = BytesMut::from(data);
    let mut applier = Applier::new(0);
    let mut units = Vec::new();
    let mut consumed = 0usize;
    let mut good_len = 0usize;
    loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(args)) => {
                consumed += before - buf.len();
                let known = super::load::known(&args);
                if !known {
                    return Err(format!(
                        "unknown command '{}' at byte {}",
                        String::from_utf8_lossy(&args[0]),
                        consumed - (before - buf.len())
                    ));
                }
                if let Fed::Boundary(unit) = applier.feed(args) {
                    units.extend(unit);
                    good_len = consumed;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{e} at byte {consumed}")),
        }
    }
    Ok(Parsed { units, good_len })
}

async fn load(server: &Arc<Server>, path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let len = data.len();
    let loaded = super::load::load(server, data, &server.persist.progress)
        .await
        .map_err(|e| {
            format!(
                "Bad file format reading the append only file {}: {e}",
                path.display()
            )
        })?;
    if loaded.good_len < len {
        tracing::warn!(
            path = %path.display(),
            kept = loaded.good_len,
            dropped = len - loaded.good_len,
            "the append-only log ends with an incomplete unit (crash mid-write); truncating it"
        );
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot truncate {}: {e}", path.display()))?;
        f.set_len(loaded.good_len as u64)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("cannot truncate {}: {e}", path.display()))?;
    }
    tracing::info!(
        units = loaded.units,
        bytes = loaded.good_len,
        "append-only log loaded"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tails_are_cut_to_whole_units() {
        let whole = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
        let multi = b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
        let mut data = whole.to_vec();
        data.extend_from_slice(multi);
        let p = parse(&data).unwrap();
        assert_eq!(p.good_len, whole.len());
        assert_eq!(p.units.len(), 1);
        data.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n*3\r\n$3\r\nSE");
        let p = parse(&data).unwrap();
        assert_eq!(p.units.len(), 2);
        assert_eq!(p.good_len, data.len() - b"*3\r\n$3\r\nSE".len());
        assert!(parse(b"*1\r\n$7\r\nNOTACMD\r\n").is_err());
    }
}

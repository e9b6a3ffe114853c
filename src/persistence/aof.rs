//! The append-only log: every unit of the effect stream written to `dir/appendfilename`,
//! fsynced per `appendfsync`, and replayed at start.
//!
//! Invariants:
//! - Units are written under the stream's lock, in stream order, by the unit that produced
//!   them while it still holds its shards, so with `appendfsync always` a write is on disk
//!   before its client gets a reply.
//! - BGREWRITEAOF (and the size trigger: the log has doubled since the last rewrite and is over
//!   64 MiB) replaces the log with a snapshot of the data, scripts and function libraries,
//!   taken in a unit holding every shard; the file is swapped while that unit still holds them,
//!   so no unit's effects fall between the snapshot and the new log.
//! - At start the log is read unit by unit. A tail that ends inside a command or inside a
//!   MULTI … EXEC block (a crash mid-write) is cut back to the last whole unit, with a
//!   warning; no part of that unit is applied. Anything else that does not parse, or names a
//!   command the stream never contains, stops start-up.

use crate::commands::{self, Run};
use crate::replication::apply::{self, Applier, Fed};
use crate::replication::stream::Sink;
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
    /// The file the fsync thread syncs (replaced by a rewrite).
    syncer: Mutex<Option<File>>,
    /// Bytes in the log, and in it right after the last rewrite (or load).
    size: AtomicU64,
    base: AtomicU64,
    rewriting: AtomicBool,
}

/// Rewrite once the log is this big and has doubled since the last rewrite.
const REWRITE_MIN: u64 = 64 << 20;

/// The writer installed as the stream's sink.
struct AofSink {
    file: File,
    server: std::sync::Weak<Server>,
    shared: Arc<Shared>,
    failed: bool,
}

impl Sink for AofSink {
    fn write(&mut self, unit: &[u8]) {
        if let Err(e) = self.file.write_all(unit) {
            if !self.failed {
                tracing::error!(error = %e, "writing the append-only log failed");
                self.failed = true;
            }
            return;
        }
        let size = self.shared.size.fetch_add(unit.len() as u64, Relaxed) + unit.len() as u64;
        if size > REWRITE_MIN && size > 2 * self.shared.base.load(Relaxed) {
            if let Some(server) = self.server.upgrade() {
                start_rewrite(&server);
            }
        }
        // The policy is read per write so CONFIG SET appendfsync applies at once.
        let policy = self
            .server
            .upgrade()
            .map(|s| Fsync::parse(&s.config().appendfsync))
            .unwrap_or(Fsync::EverySec);
        match policy {
            Fsync::Always => {
                if let Err(e) = self.file.sync_data() {
                    tracing::error!(error = %e, "fsync of the append-only log failed");
                }
            }
            Fsync::EverySec => self.shared.dirty.store(true, Relaxed),
            Fsync::No => {}
        }
    }
}

pub fn path(server: &Server) -> PathBuf {
    let cfg = server.config();
    Path::new(&cfg.dir).join(&cfg.appendfilename)
}

/// Loads the log (if any), then installs the writer. Errors stop start-up.
pub async fn start(server: &Arc<Server>) -> Result<(), String> {
    let path = path(server);
    if path.exists() {
        load(server, &path).await?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open the append-only log {}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let shared = Arc::new(Shared {
        dirty: AtomicBool::new(false),
        syncer: Mutex::new(Some(
            file.try_clone()
                .map_err(|e| format!("cannot open the append-only log: {e}"))?,
        )),
        size: AtomicU64::new(size),
        base: AtomicU64::new(size),
        rewriting: AtomicBool::new(false),
    });
    let _ = server.aof.set(shared.clone());
    install(server, file, &shared);
    server.want_effects();
    // `everysec`: at most about a second of acknowledged writes is lost on a crash.
    let weak = Arc::downgrade(server);
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if weak.upgrade().is_none() {
                return;
            }
            if shared.dirty.swap(false, Relaxed) {
                if let Ok(guard) = shared.syncer.lock() {
                    if let Some(Err(e)) = guard.as_ref().map(|f| f.sync_data()) {
                        tracing::error!(error = %e, "fsync of the append-only log failed");
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Makes `file` the stream's sink.
fn install(server: &Arc<Server>, file: File, shared: &Arc<Shared>) {
    server.repl.stream.with(|s| {
        s.reset_db();
        s.sink = Some(Box::new(AofSink {
            file,
            server: Arc::downgrade(server),
            shared: shared.clone(),
            failed: false,
        }));
    });
}

/// Starts a background rewrite unless one runs or the log is off; false if it did not start.
pub fn start_rewrite(server: &Arc<Server>) -> bool {
    let Some(shared) = server.aof.get() else {
        return false;
    };
    if shared.rewriting.swap(true, Relaxed) {
        return false;
    }
    let server = server.clone();
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        shared.rewriting.store(false, Relaxed);
        return false;
    };
    rt.spawn(async move {
        if let Err(e) = rewrite(&server).await {
            tracing::error!(error = %e, "rewriting the append-only log failed");
        }
        if let Some(s) = server.aof.get() {
            s.rewriting.store(false, Relaxed);
        }
    });
    true
}

/// Replaces the log with a snapshot: write a temporary file, fsync, rename over the log, fsync
/// the directory, and make the new file the sink, all while holding every shard.
async fn rewrite(server: &Arc<Server>) -> Result<(), String> {
    let path = path(server);
    let tmp = path.with_extension("rewrite.tmp");
    let srv = server.clone();
    let shards = crate::replication::all_shards(server);
    let done = crate::replication::run_on(server, shards, move |ctx| -> Result<u64, String> {
        let snap = crate::replication::snapshot::build(ctx, None);
        let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&snap.payload).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                let _ = d.sync_all();
            }
        }
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        let shared = srv.aof.get().ok_or("the append-only log is off")?.clone();
        if let Ok(mut s) = shared.syncer.lock() {
            *s = file.try_clone().ok();
        }
        let len = snap.payload.len() as u64;
        shared.size.store(len, Relaxed);
        shared.base.store(len.max(1), Relaxed);
        install(&srv, file, &shared);
        Ok(len)
    })
    .await
    .ok_or("shards are not running")??;
    tracing::info!(bytes = done, "append-only log rewritten");
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
                let known = (args.len() == 3
                    && args[0].eq_ignore_ascii_case(b"SCRIPT")
                    && args[1].eq_ignore_ascii_case(b"LOAD"))
                    || (args.len() == 4
                        && args[0].eq_ignore_ascii_case(b"FUNCTION")
                        && args[1].eq_ignore_ascii_case(b"RESTORE"))
                    || ["SELECT", "MULTI", "EXEC"]
                        .iter()
                        .any(|n| args[0].eq_ignore_ascii_case(n.as_bytes()))
                    || matches!(commands::lookup(&args), Ok(c) if matches!(c.cmd.run, Run::Shard(_)));
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
    let parsed = parse(&data).map_err(|e| {
        format!(
            "Bad file format reading the append only file {}: {e}",
            path.display()
        )
    })?;
    if parsed.good_len < data.len() {
        tracing::warn!(
            path = %path.display(),
            kept = parsed.good_len,
            dropped = data.len() - parsed.good_len,
            "the append-only log ends with an incomplete unit (crash mid-write); truncating it"
        );
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot truncate {}: {e}", path.display()))?;
        f.set_len(parsed.good_len as u64)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("cannot truncate {}: {e}", path.display()))?;
    }
    let n = parsed.units.len();
    for unit in parsed.units {
        apply::apply(server, unit).await;
    }
    tracing::info!(units = n, bytes = parsed.good_len, "append-only log loaded");
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

//! The append-only log: every unit of the effect stream written to `dir/appendfilename`,
//! fsynced per `appendfsync`, and replayed at start.
//!
//! Invariants:
//! - Units are written under the stream's lock, in stream order, by the unit that produced
//!   them while it still holds its shards, so with `appendfsync always` a write is on disk
//!   before its client gets a reply.
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
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

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

/// The writer installed as the stream's sink.
struct AofSink {
    file: File,
    server: std::sync::Weak<Server>,
    /// Set when something was written since the last background fsync.
    dirty: Arc<AtomicBool>,
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
            Fsync::EverySec => self.dirty.store(true, Relaxed),
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
    let dirty = Arc::new(AtomicBool::new(false));
    let syncer = file
        .try_clone()
        .map_err(|e| format!("cannot open the append-only log: {e}"))?;
    server.repl.stream.with(|s| {
        s.reset_db();
        s.sink = Some(Box::new(AofSink {
            file,
            server: Arc::downgrade(server),
            dirty: dirty.clone(),
            failed: false,
        }));
    });
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
            if dirty.swap(false, Relaxed) {
                if let Err(e) = syncer.sync_data() {
                    tracing::error!(error = %e, "fsync of the append-only log failed");
                }
            }
        })
        .map_err(|e| e.to_string())?;
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

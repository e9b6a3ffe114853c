//! Loading a snapshot file or the append-only log at start: whole units only, applied in
//! batches, with progress for INFO persistence.
//!
//! Invariants:
//! - Only whole units are applied: a file that ends inside a command or inside a MULTI … EXEC
//!   block loads up to the last whole unit and reports where that unit ends (`good_len`); the
//!   caller decides whether that is a torn tail to cut (the log) or corruption (a snapshot).
//! - Anything that does not parse, or names a command the stream never contains, is an error
//!   with its byte position; nothing after it is applied.
//! - `Progress` is only written here; readers (INFO) see `loading` set for the whole load.

use crate::commands::{self, Run};
use crate::replication::apply::{self, Applier, Fed, UnitCmd};
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Commands applied per shard unit while loading.
const BATCH: usize = 4096;

/// Load progress, as INFO persistence reports it.
#[derive(Default)]
pub struct Progress {
    pub loading: AtomicBool,
    /// Unix seconds the current (or last) load started.
    pub start_unix: AtomicU64,
    pub total_bytes: AtomicU64,
    pub loaded_bytes: AtomicU64,
    /// Keys in the last snapshot file loaded.
    pub keys_loaded: AtomicU64,
}

/// What a load found.
pub struct Loaded {
    /// Bytes up to the end of the last whole unit.
    pub good_len: usize,
    pub units: usize,
}

/// Whether `args` is a command the effect stream (or a snapshot) can contain.
pub fn known(args: &[Bytes]) -> bool {
    (args.len() == 3
        && args[0].eq_ignore_ascii_case(b"SCRIPT")
        && args[1].eq_ignore_ascii_case(b"LOAD"))
        || (args.len() == 4
            && args[0].eq_ignore_ascii_case(b"FUNCTION")
            && args[1].eq_ignore_ascii_case(b"RESTORE"))
        // Messages travel down the stream (followers deliver them); replaying them reaches
        // no one.
        || (args.len() == 3
            && (args[0].eq_ignore_ascii_case(b"PUBLISH")
                || args[0].eq_ignore_ascii_case(b"SPUBLISH")))
        || ["SELECT", "MULTI", "EXEC"]
            .iter()
            .any(|n| args[0].eq_ignore_ascii_case(n.as_bytes()))
        || matches!(commands::lookup(args), Ok(c) if matches!(c.cmd.run, Run::Shard(_)))
}

/// Applies the whole units of `data`; `Err` names the first corruption (not a torn tail).
pub async fn load(
    server: &Arc<Server>,
    data: Vec<u8>,
    progress: &Progress,
) -> Result<Loaded, String> {
    progress
        .start_unix
        .store(crate::clock::unix_ms() / 1000, Relaxed);
    progress.total_bytes.store(data.len() as u64, Relaxed);
    progress.loaded_bytes.store(0, Relaxed);
    progress.loading.store(true, Relaxed);
    let r = run(server, data, progress).await;
    progress.loading.store(false, Relaxed);
    r
}

async fn run(server: &Arc<Server>, data: Vec<u8>, progress: &Progress) -> Result<Loaded, String> {
    if data.starts_with(b"REDIS") {
        return Err(
            "this is a Redis RDB file; luagate reads only its own snapshots and logs".into(),
        );
    }
    let mut decoder = crate::protocol::RequestDecoder::new(i64::MAX);
    decoder.authenticated = true;
    let total = data.len();
    let mut buf = BytesMut::from(&data[..]);
    drop(data);
    let mut applier = Applier::new(0);
    let mut batch: Vec<UnitCmd> = Vec::new();
    let (mut good_len, mut units) = (0usize, 0usize);
    loop {
        let at = total - buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(args)) => {
                if !known(&args) {
                    return Err(format!(
                        "unknown command '{}' at byte {at}",
                        String::from_utf8_lossy(&args[0])
                    ));
                }
                if let Fed::Boundary(unit) = applier.feed(args) {
                    if let Some(unit) = unit {
                        batch.extend(unit);
                        units += 1;
                    }
                    good_len = total - buf.len();
                    if batch.len() >= BATCH {
                        apply::apply_batch(server, std::mem::take(&mut batch)).await;
                        progress.loaded_bytes.store(good_len as u64, Relaxed);
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{e} at byte {at}")),
        }
    }
    if !batch.is_empty() {
        apply::apply_batch(server, batch).await;
    }
    progress.loaded_bytes.store(good_len as u64, Relaxed);
    Ok(Loaded { good_len, units })
}

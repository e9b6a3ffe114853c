//! The replication history beside the data: at a clean exit, which history (replid) and
//! offset the data on disk is at, so that after a restart this node resumes its stream and
//! its leader or its followers continue with a partial resync instead of a full one (Redis
//! keeps the same in its RDB file).
//!
//! Invariants:
//! - Written only at a clean exit, describing data already durable: the log, flushed and
//!   closed under the stream's lock (nothing later reaches it), or the last snapshot file
//!   written in this run (at its cut). A leader resumes it under a new replid
//!   (`stream::Inner::resume`), so a follower holding more of the old history than the data
//!   kept is refused a partial resync.
//! - Read and deleted at start, before this run writes anything, and used only with the data
//!   source it was written for; a crash therefore never pairs it with other data.

use crate::server::Server;
use std::path::PathBuf;

const FILE: &str = "replication-history";

/// A history position and the data it was written for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub replid: String,
    pub offset: u64,
    pub db: u16,
    /// `aof` or `snapshot`.
    pub source: &'static str,
}

fn path(server: &Server) -> PathBuf {
    PathBuf::from(&server.config().dir).join(FILE)
}

/// At a clean exit: records where the durable data is, if that can be known.
pub fn save_at_exit(server: &Server) {
    let position = match server.aof.get() {
        Some(log) => {
            if log.is_rewriting() {
                // A rewrite could still swap in a file holding more than the position.
                return;
            }
            let (replid, offset, db) = server.repl.stream.with(|s| {
                s.close_sink();
                s.position()
            });
            log.sync_now();
            Position {
                replid,
                offset,
                db,
                source: "aof",
            }
        }
        None => match server.persist.last_cut.lock().ok().and_then(|c| c.clone()) {
            Some(cut) => cut,
            None => return,
        },
    };
    let text = format!(
        "luagate replication history\n{} {} {} {}\n",
        position.replid, position.offset, position.db, position.source
    );
    let target = path(server);
    let written = super::create_tmp(&target, "tmp").and_then(|(tmp, mut f)| {
        use std::io::Write;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        super::commit(f, &tmp, &target)
    });
    match written {
        Ok(()) => tracing::info!(
            replid = %position.replid,
            offset = position.offset,
            "replication history saved"
        ),
        Err(e) => tracing::warn!(error = %e, "could not save the replication history"),
    }
}

/// At start, after the data from `source` loaded: resumes the history recorded with it, if
/// any (`follows`: this node starts as a follower); the file is removed either way.
pub fn resume_at_start(server: &Server, source: &'static str, follows: bool) {
    let target = path(server);
    let Ok(text) = std::fs::read_to_string(&target) else {
        return;
    };
    if let Err(e) = std::fs::remove_file(&target) {
        tracing::warn!(error = %e, "could not remove the replication history; not resuming it");
        return;
    }
    let Some(p) = parse(&text) else {
        tracing::warn!(path = %target.display(), "unreadable replication history; ignored");
        return;
    };
    if p.source != source {
        return;
    }
    tracing::info!(replid = %p.replid, offset = p.offset, "resuming the replication history");
    server
        .repl
        .stream
        .with(|s| s.resume(p.replid.clone(), p.offset, p.db, follows));
}

fn parse(text: &str) -> Option<Position> {
    let mut lines = text.lines();
    if lines.next()? != "luagate replication history" {
        return None;
    }
    let mut f = lines.next()?.split(' ');
    let replid = f.next()?.to_string();
    let offset = f.next()?.parse().ok()?;
    let db = f.next()?.parse().ok()?;
    let source = match f.next()? {
        "aof" => "aof",
        "snapshot" => "snapshot",
        _ => return None,
    };
    let valid_id = replid.len() == 40 && replid.bytes().all(|b| b.is_ascii_hexdigit());
    (valid_id && f.next().is_none()).then_some(Position {
        replid,
        offset,
        db,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes_and_refuses_the_rest() {
        let id = "0123456789abcdef0123456789abcdef01234567";
        let p = parse(&format!("luagate replication history\n{id} 123 4 aof\n")).unwrap();
        assert_eq!(
            (p.replid.as_str(), p.offset, p.db, p.source),
            (id, 123, 4, "aof")
        );
        for bad in [
            format!("luagate replication history\n{id} 123 4 rdb\n"),
            format!("luagate replication history\n{id} x 4 aof\n"),
            format!("luagate replication history\n{id} 1 4 aof extra\n"),
            "luagate replication history\nshort 1 0 aof\n".to_string(),
            format!("something else\n{id} 1 0 aof\n"),
        ] {
            assert!(parse(&bad).is_none(), "{bad:?}");
        }
    }
}

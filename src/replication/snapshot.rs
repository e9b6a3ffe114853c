//! Snapshots: the whole dataset, every script body and the function libraries as RESP
//! commands (full syncs, the append-only log's rewrite, SAVE/BGSAVE files).
//!
//! Invariants:
//! - `capture` runs inside a unit that holds every shard, so the data it copies is one
//!   consistent cut of the stream. It only *copies* (cheap clones: short strings are inline,
//!   long ones shared); serializing and writing happen after the shards are released, so the
//!   pause is the copy, not the write.
//! - In that same unit and under the stream's lock it reads the script bodies and libraries,
//!   publishes any not yet published (`Inner::cut`), reads the offset and runs `at_cut` (which
//!   attaches a follower or starts the log's rewrite buffer), so the reader gets exactly the
//!   units published after the cut and every script and library exactly once.
//! - Loading the commands into empty databases reproduces the data exactly (values, absolute
//!   expiries, script bodies, libraries).

use super::stream::{put_command, Inner};
use crate::commands::Ctx;
use crate::keyspace::{Key, Value};
use crate::protocol::format_double;
use crate::shard::ShardData;
use bytes::{Bytes, BytesMut};
use std::io::Write;

/// Elements per command when a collection is rebuilt.
const CHUNK: usize = 256;

/// One key as copied: name, value, absolute expiry (unix ms).
type KeyCopy = (Key, Value, Option<u64>);

/// A copy of everything, taken at one cut of the stream.
pub struct Capture {
    pub replid: String,
    pub offset: u64,
    scripts: Vec<Bytes>,
    /// FUNCTION DUMP payload, when there are libraries.
    functions: Option<Bytes>,
    /// Per database index, its keys (one part per shard).
    dbs: Vec<(usize, Vec<Vec<KeyCopy>>)>,
    pub keys: u64,
    /// On a follower, the database its leader's stream is in at the cut: the snapshot ends by
    /// selecting it, as the mirrored units after the cut may not (Redis's `repl-stream-db`).
    end_db: Option<u16>,
}

/// Copies everything `ctx` holds (it must hold every shard) and makes the cut; `at_cut` runs
/// under the stream's lock at the cut's offset.
pub fn capture(ctx: &mut Ctx<'_>, at_cut: impl FnOnce(&mut Inner)) -> Capture {
    let server = ctx.server;
    let databases = server.config().databases;
    // One copying thread per shard: the unit holds every shard (no other unit can run), so
    // the copy can use every core and the pause shrinks accordingly.
    let shards: Vec<&ShardData> = ctx.held_shards().map(|s| &*s).collect();
    let mut per_shard: Vec<Vec<Vec<KeyCopy>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .map(|shard| scope.spawn(move || copy_shard(shard, databases)))
            .collect();
        handles
            .into_iter()
            // A copy that panicked must not yield a snapshot missing a shard: re-raise it in
            // the unit, as if the copy had run inline.
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut dbs = Vec::new();
    let mut keys = 0u64;
    for dbi in 0..databases {
        let parts: Vec<Vec<KeyCopy>> = per_shard
            .iter_mut()
            .filter_map(|shard| shard.get_mut(dbi).map(std::mem::take))
            .filter(|part| !part.is_empty())
            .collect();
        if !parts.is_empty() {
            keys += parts.iter().map(|p| p.len() as u64).sum::<u64>();
            dbs.push((dbi, parts));
        }
    }
    server.repl.stream.with(|s| {
        let scripts: Vec<([u8; 40], Bytes)> = server
            .scripting
            .registry
            .all()
            .iter()
            .map(|sc| (sc.sha, sc.body.clone()))
            .collect();
        let libs = server.scripting.functions.snapshot();
        let dump = Bytes::from(libs.dump());
        s.cut(&scripts, dump.clone(), libs.libs.is_empty());
        at_cut(s);
        Capture {
            replid: s.replid.clone(),
            offset: s.offset,
            scripts: scripts.into_iter().map(|(_, b)| b).collect(),
            functions: (!libs.libs.is_empty()).then_some(dump),
            dbs,
            keys,
            end_db: s.mirrored_db(),
        }
    })
}

/// Copies one shard's databases (index = database number).
fn copy_shard(shard: &ShardData, databases: usize) -> Vec<Vec<KeyCopy>> {
    shard
        .dbs
        .iter()
        .take(databases)
        .map(|db| {
            let mut entries = Vec::with_capacity(db.len());
            let with_ttl = !db.expires.is_empty();
            for (k, e) in db.keys.iter() {
                let at = if with_ttl {
                    db.expires.get(k.as_bytes()).copied()
                } else {
                    None
                };
                entries.push((k.clone(), e.clone(), at));
            }
            entries
        })
        .collect()
}

impl Capture {
    /// On a follower, the database its leader's stream was in at the cut.
    pub fn end_db(&self) -> Option<u16> {
        self.end_db
    }

    /// Writes the snapshot's commands to `w`; returns the bytes written.
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<u64> {
        let mut out = BytesMut::with_capacity(1 << 16);
        let mut total = 0u64;
        let mut flush = |out: &mut BytesMut, w: &mut dyn Write, force: bool| {
            if force || out.len() >= 1 << 16 {
                total += out.len() as u64;
                let r = w.write_all(out);
                out.clear();
                r
            } else {
                Ok(())
            }
        };
        for body in &self.scripts {
            put_command(&mut out, &[&b"SCRIPT"[..], b"LOAD", body]);
            flush(&mut out, w, false)?;
        }
        if let Some(dump) = &self.functions {
            put_command(&mut out, &[&b"FUNCTION"[..], b"RESTORE", dump, b"FLUSH"]);
        }
        for (dbi, parts) in &self.dbs {
            put_command(&mut out, &[&b"SELECT"[..], dbi.to_string().as_bytes()]);
            for (k, v, at) in parts.iter().flatten() {
                put_value(&mut out, k.as_bytes(), v);
                if let Some(at) = at {
                    put_command(
                        &mut out,
                        &[&b"PEXPIREAT"[..], k.as_bytes(), at.to_string().as_bytes()],
                    );
                }
                flush(&mut out, w, false)?;
            }
        }
        if let Some(db) = self.end_db {
            put_command(&mut out, &[&b"SELECT"[..], db.to_string().as_bytes()]);
        }
        flush(&mut out, w, true)?;
        Ok(total)
    }

    /// The snapshot's commands in memory (a follower's full sync).
    pub fn payload(&self) -> Bytes {
        let mut v = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut v);
        Bytes::from(v)
    }
}

fn put_value(out: &mut BytesMut, key: &[u8], v: &Value) {
    match v {
        Value::Str(s) => put_command(out, &[&b"SET"[..], key, s.as_bytes()]),
        Value::List(l) => put_chunks(out, b"RPUSH", key, l.iter().map(|e| vec![e.to_bytes()])),
        Value::Set(s) => put_chunks(out, b"SADD", key, s.iter().map(|e| vec![e.to_bytes()])),
        Value::Hash(h) => put_chunks(
            out,
            b"HSET",
            key,
            h.iter().map(|(f, v)| vec![f.to_bytes(), v.to_bytes()]),
        ),
        Value::ZSet(z) => put_chunks(
            out,
            b"ZADD",
            key,
            z.iter()
                .map(|(m, score)| vec![Bytes::from(format_double(score)), m.to_bytes()]),
        ),
        Value::Stream(st) => put_stream(out, key, st),
    }
}

/// A stream as one XADD per entry (explicit ids), then its consumer groups, then XSETID
/// restoring its last id, entries added and highest deleted id; an empty stream is created by
/// an XADD trimmed to nothing.
///
/// A group is `XGROUP CREATE … ENTRIESREAD`, `XGROUP CREATECONSUMER` per consumer and one
/// `XCLAIM … FORCE` per pending entry (its consumer, delivery time and count). XCLAIM only
/// creates a pending entry for an entry the stream has, so a pending entry whose stream entry
/// is gone gets a placeholder entry at its id, removed after the groups: by an exact
/// `XTRIM … MINID` below the first live entry (trimmed entries were the oldest, and a trim
/// leaves the highest deleted id alone), by XDEL elsewhere (XSETID then restores the highest
/// deleted id, which that XDEL had set when it happened).
fn put_stream(out: &mut BytesMut, key: &[u8], st: &crate::keyspace::Stream) {
    use crate::keyspace::stream::StreamId;
    let mut gone: Vec<StreamId> = st
        .groups
        .values()
        .flat_map(|g| g.pel.keys().copied())
        .filter(|&id| !st.contains(id))
        .collect();
    gone.sort_unstable();
    gone.dedup();
    let mut holes = gone.iter().copied().peekable();
    let mut any = false;
    let put_hole = |out: &mut BytesMut, id: StreamId| {
        let id = id.to_string();
        put_command(out, &[&b"XADD"[..], key, id.as_bytes(), b"x", b"x"]);
    };
    for e in st.iter() {
        while let Some(h) = holes.next_if(|&h| h < e.id) {
            put_hole(out, h);
        }
        let id = e.id.to_string();
        let mut args: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
        args.extend(e.fields.iter().map(|f| f.as_bytes()));
        put_command(out, &args);
        any = true;
    }
    for h in holes {
        put_hole(out, h);
        any = true;
    }
    if !any {
        put_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"1-1", b"x", b"x"],
        );
    }
    for (name, g) in &st.groups {
        let read = g.entries_read.map_or(-1, |n| n as i64).to_string();
        put_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                g.last_id.to_string().as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for cname in g.consumers.keys() {
            put_command(out, &[&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname]);
        }
        for (id, p) in &g.pel {
            put_command(
                out,
                &[
                    &b"XCLAIM"[..],
                    key,
                    name,
                    &p.consumer,
                    b"0",
                    id.to_string().as_bytes(),
                    b"TIME",
                    p.delivery_time.to_string().as_bytes(),
                    b"RETRYCOUNT",
                    p.delivery_count.to_string().as_bytes(),
                    b"FORCE",
                    b"JUSTID",
                ],
            );
        }
    }
    match st.first_entry().map(|e| e.id) {
        None if !gone.is_empty() => put_command(out, &[&b"XTRIM"[..], key, b"MAXLEN", b"0"]),
        None => {}
        Some(first) => {
            if gone.first().is_some_and(|&h| h < first) {
                put_command(
                    out,
                    &[&b"XTRIM"[..], key, b"MINID", first.to_string().as_bytes()],
                );
            }
            for h in gone.iter().filter(|&&h| h > first) {
                put_command(out, &[&b"XDEL"[..], key, h.to_string().as_bytes()]);
            }
        }
    }
    put_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            st.last_id.to_string().as_bytes(),
            b"ENTRIESADDED",
            st.entries_added.to_string().as_bytes(),
            b"MAXDELETEDID",
            st.max_deleted_id.to_string().as_bytes(),
        ],
    );
}

/// `CMD key items…` in commands of at most CHUNK items.
fn put_chunks(
    out: &mut BytesMut,
    cmd: &'static [u8],
    key: &[u8],
    items: impl Iterator<Item = Vec<Bytes>>,
) {
    let mut args: Vec<Bytes> = Vec::new();
    let mut n = 0;
    let head = |args: &mut Vec<Bytes>| {
        args.clear();
        args.push(Bytes::from_static(cmd));
        args.push(Bytes::copy_from_slice(key));
    };
    head(&mut args);
    for item in items {
        args.extend(item);
        n += 1;
        if n == CHUNK {
            put_command(out, &args);
            head(&mut args);
            n = 0;
        }
    }
    if n > 0 {
        put_command(out, &args);
    }
}

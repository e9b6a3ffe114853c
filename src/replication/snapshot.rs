//! Full-sync snapshots: the whole dataset and every script body as RESP commands.
//!
//! Invariant: `build` runs inside a unit that holds every shard, so the data it reads is one
//! consistent cut of the stream; it reads the stream's offset and registers the new reader
//! under the stream's lock in that same unit, so the reader gets exactly the units published
//! after the cut. Loading the commands into empty databases reproduces the data exactly
//! (values, absolute expiries, script bodies).

use super::stream::{put_command, Subscriber};
use crate::commands::Ctx;
use crate::keyspace::Value;
use crate::protocol::format_double;
use bytes::{Bytes, BytesMut};

/// Elements per command when a collection is rebuilt.
const CHUNK: usize = 256;

/// A snapshot and the stream position it corresponds to.
pub struct Snapshot {
    pub replid: String,
    pub offset: u64,
    pub payload: Bytes,
}

/// Serializes everything `ctx` holds (it must hold every shard); when `subscribe` is given,
/// attaches it to the stream at the snapshot's offset.
pub fn build(ctx: &mut Ctx<'_>, subscribe: Option<Subscriber>) -> Snapshot {
    let server = ctx.server;
    let mut out = BytesMut::new();
    let mut shas = Vec::new();
    let scripts = server.scripting.registry.all();
    for s in &scripts {
        put_command(&mut out, &[&b"SCRIPT"[..], b"LOAD", &s.body]);
        shas.push(s.sha);
    }
    let libs = server.scripting.functions.snapshot();
    if !libs.libs.is_empty() {
        put_command(
            &mut out,
            &[&b"FUNCTION"[..], b"RESTORE", &libs.dump(), b"FLUSH"],
        );
    }
    let databases = server.config().databases;
    for dbi in 0..databases {
        let mut selected = false;
        for shard in ctx.held_shards() {
            let db = &shard.dbs[dbi];
            if db.is_empty() {
                continue;
            }
            if !selected {
                put_command(&mut out, &[&b"SELECT"[..], dbi.to_string().as_bytes()]);
                selected = true;
            }
            for (k, e) in db.keys.iter() {
                put_value(&mut out, k.as_bytes(), &e.value);
                if let Some(at) = db.expires.get(k.as_bytes()) {
                    put_command(
                        &mut out,
                        &[&b"PEXPIREAT"[..], k.as_bytes(), at.to_string().as_bytes()],
                    );
                }
            }
        }
    }
    server.repl.stream.with(|s| {
        if let Some(sub) = subscribe {
            s.subscribers.push(sub);
            s.reset_db();
            s.scripts_known(shas);
        }
        Snapshot {
            replid: s.replid.clone(),
            offset: s.offset,
            payload: out.freeze(),
        }
    })
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
    }
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

//! DEBUG: introspection and test helpers (HELP, LOG, SLEEP, DIGEST, DIGEST-VALUE, OBJECT,
//! PROTOCOL, SET-ACTIVE-EXPIRE, ERROR, POPULATE).
//!
//! Invariant: whether DEBUG may run at all is decided before dispatch (`enable-debug-command`,
//! see `admin::debug_allowed`); here every subcommand checks its own argument count and
//! answers Redis's "unknown subcommand or wrong number of arguments" otherwise. Subcommands
//! that read data run as units holding the shards they need; SLEEP holds them all, stopping the
//! server as Redis's does.

use super::super::connection::Conn;
use super::digest;
use crate::commands::{parse_f64, parse_i64};
use crate::error::CommandError;
use crate::keyspace::{Str, Value};
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub async fn command(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let n = args.len();
    match (sub.as_str(), n) {
        ("help", 2) => Ok(help()),
        ("log", 3) => {
            tracing::warn!(message = %String::from_utf8_lossy(&args[2]), "DEBUG LOG");
            Ok(Reply::ok())
        }
        ("sleep", 3) => {
            let secs = strtod(&args[2]);
            if secs > 0.0 {
                let d = std::time::Duration::from_secs_f64(secs.min(1e9));
                // On the shard threads: sleeping inline would stall this I/O thread's other
                // clients, not just the shards (Redis stops everything; we stop the shards).
                let shards = all(conn);
                let sleep = move |_: &mut crate::commands::Ctx<'_>| {
                    std::thread::sleep(d);
                    Reply::Nil
                };
                conn.run_queued(shards, crate::shard::Work::Job(Box::new(sleep)))
                    .await;
            }
            Ok(Reply::ok())
        }
        ("digest", 2) => {
            let per_db = conn
                .run_job_value(all(conn), |ctx| {
                    let dbs = ctx.server.config().databases;
                    let mut per_db: Vec<Option<digest::D>> = vec![None; dbs];
                    for shard in ctx.held_shards() {
                        for (i, db) in shard.dbs.iter().enumerate() {
                            if db.is_empty() {
                                continue;
                            }
                            let d = digest::db_digest(db);
                            let acc = per_db[i].get_or_insert([0; 20]);
                            for (a, b) in acc.iter_mut().zip(d) {
                                *a ^= b;
                            }
                        }
                    }
                    per_db
                })
                .await
                .unwrap_or_default();
            Ok(status(digest::hex(&digest::dataset_digest(&per_db))))
        }
        ("digest-value", _) => {
            let keys: Vec<Bytes> = args[2..].to_vec();
            let shards = key_shards(conn, &keys);
            let digests = conn
                .run_job_value(shards, move |ctx| {
                    keys.iter()
                        .map(|k| match ctx.db(k) {
                            Ok(db) => {
                                let exp = db.expire_at(k).is_some();
                                db.get(k)
                                    .map(|v| digest::value_digest(v, exp))
                                    .unwrap_or([0; 20])
                            }
                            Err(_) => [0; 20],
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
            Ok(Reply::Array(
                digests.iter().map(|d| status(digest::hex(d))).collect(),
            ))
        }
        ("object", 3) => {
            let key = args[2].clone();
            let shards = key_shards(conn, std::slice::from_ref(&key));
            conn.run_job_value(shards, move |ctx| {
                let clock = ctx.server.clock_secs();
                let cfg = ctx.server.config();
                let db = ctx.db(&key).ok()?;
                let e = db.peek(&key)?;
                Some(describe(e, clock, &cfg))
            })
            .await
            .flatten()
            .map(status)
            .ok_or(CommandError::NoSuchKey)
        }
        ("protocol", 3) => protocol(conn.resp, &args[2]),
        ("set-active-expire", 3) => {
            conn.server
                .active_expire
                .store(atoi(&args[2]) != 0, Relaxed);
            Ok(Reply::ok())
        }
        ("error", 3) => Ok(Reply::Error(String::from_utf8_lossy(&args[2]).into_owned())),
        ("populate", 3..=5) => populate(conn, args).await,
        _ => Err(CommandError::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&args[1])
        ))),
    }
}

fn all(conn: &Conn) -> Vec<usize> {
    (0..conn.server.shards.len()).collect()
}

fn key_shards(conn: &Conn, keys: &[Bytes]) -> Vec<usize> {
    let mut v: Vec<usize> = keys
        .iter()
        .map(|k| conn.server.slots.shard_of_key(k).index())
        .collect();
    if v.is_empty() {
        v.push(0);
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn status(s: String) -> Reply {
    Reply::Status(Bytes::from(s))
}

/// C's `strtod` on an argument: the longest numeric prefix after blanks, 0 if none.
fn strtod(b: &[u8]) -> f64 {
    let start = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let b = &b[start..];
    (1..=b.len().min(64))
        .rev()
        .find_map(|n| parse_f64(&b[..n]))
        .filter(|v| !v.is_nan())
        .unwrap_or(0.0)
}

/// C's `atoi`: optional sign and digits after blanks, 0 if none.
fn atoi(b: &[u8]) -> i64 {
    let start = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let b = &b[start..];
    let neg = b.first() == Some(&b'-');
    let sign = usize::from(matches!(b.first(), Some(b'-') | Some(b'+')));
    let n = b[sign..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| {
            n.saturating_mul(10).saturating_add((c - b'0') as i64)
        });
    if neg {
        -n
    } else {
        n
    }
}

/// The encoding Redis 7.0 would use for this value with its default thresholds (or the
/// thresholds set through CONFIG).
fn encoding(v: &Value, cfg: &crate::config::Config) -> &'static str {
    let knob = |name: &str, default: i64| {
        cfg.knobs
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
    };
    let is_int = |s: &Str| s.len() <= 20 && parse_i64(s.as_bytes()).is_some();
    match v {
        Value::Str(s) if is_int(s) => "int",
        Value::Str(s) if s.len() <= 44 => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        Value::Set(s) => {
            if s.len() as i64 <= knob("set-max-intset-entries", 512) && s.iter().all(is_int) {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::Hash(h) => {
            let max = knob("hash-max-listpack-value", 64) as usize;
            if h.len() as i64 <= knob("hash-max-listpack-entries", 512)
                && h.iter().all(|(f, v)| f.len() <= max && v.len() <= max)
            {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            let max = knob("zset-max-listpack-value", 64) as usize;
            if z.len() as i64 <= knob("zset-max-listpack-entries", 128)
                && z.iter().map(|(m, _)| m).all(|m| m.len() <= max)
            {
                "listpack"
            } else {
                "skiplist"
            }
        }
        Value::Stream(_) => "stream",
    }
}

/// An estimate of the value's serialized size (DEBUG OBJECT's `serializedlength`).
fn serialized_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len() + 1,
        Value::List(l) => l.iter().map(|e| e.len() + 1).sum::<usize>() + 3,
        Value::Set(s) => s.iter().map(|e| e.len() + 1).sum::<usize>() + 3,
        Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len() + 2).sum::<usize>() + 3,
        Value::ZSet(z) => z.iter().map(|(m, _)| m).map(|m| m.len() + 9).sum::<usize>() + 3,
        Value::Stream(s) => s.node_bytes() + 16 * s.node_count() + 40,
    }
}

fn describe(e: crate::keyspace::EntryRef<'_>, clock: u32, cfg: &crate::config::Config) -> String {
    let v = e.value;
    let mut s = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        v as *const Value,
        encoding(v, cfg),
        serialized_len(v),
        e.atime,
        crate::keyspace::idle_secs(clock, e.atime)
    );
    if let Value::List(l) = v {
        let bytes: usize = l.iter().map(|e| e.len() + 2).sum();
        s.push_str(&format!(
            " ql_nodes:1 ql_avg_node:{:.2} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{}",
            l.len() as f64,
            bytes
        ));
    }
    s
}

/// DEBUG PROTOCOL <type>: one sample reply of each RESP type.
fn protocol(resp: u8, name: &[u8]) -> Result<Reply, CommandError> {
    let ints = || (0..3).map(Reply::Int).collect::<Vec<_>>();
    let t = String::from_utf8_lossy(name).to_ascii_lowercase();
    Ok(match t.as_str() {
        "string" => Reply::bulk_str("Hello World"),
        "integer" => Reply::Int(12345),
        // The sample value Redis sends, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => Reply::Double(3.141),
        "bignum" => Reply::BigNumber(Bytes::from_static(
            b"1234567999999999999999999999999999999",
        )),
        "null" => Reply::Nil,
        "array" => Reply::Array(ints()),
        "set" => Reply::Set(ints()),
        "map" => Reply::Map(
            (0..3)
                .map(|i| (Reply::Int(i), Reply::Bool(i == 1)))
                .collect(),
        ),
        "attrib" => {
            let body = "Some real reply following the attribute";
            if resp >= 3 {
                let mut raw = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n".to_vec();
                raw.extend_from_slice(&Reply::bulk_str(body).to_bytes(resp));
                Reply::Raw(Bytes::from(raw))
            } else {
                Reply::bulk_str(body)
            }
        }
        "push" => {
            if resp < 3 {
                return Err(CommandError::err("ERR RESP2 is not supported by this command"));
            }
            let mut raw = b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n".to_vec();
            raw.extend_from_slice(
                &Reply::bulk_str("Some real reply following the push reply").to_bytes(resp),
            );
            Reply::Raw(Bytes::from(raw))
        }
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        "verbatim" => Reply::Verbatim("txt", Bytes::from_static(b"This is a verbatim\nstring")),
        _ => return Err(CommandError::err(
            "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        )),
    })
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` = `value:N` (cut or zero-padded
/// to `size`), skipping keys that exist. Not an effect: Redis does not propagate it either.
async fn populate(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let positive = |b: &[u8]| {
        parse_i64(b)
            .filter(|&n| n >= 0)
            .ok_or_else(|| CommandError::err("ERR value is out of range, must be positive"))
    };
    let count = positive(&args[2])? as u64;
    let prefix = args.get(3).cloned().unwrap_or(Bytes::from_static(b"key"));
    let size = match args.get(4) {
        Some(s) => Some(positive(s)? as usize),
        None => None,
    };
    conn.run_job_value(all(conn), move |ctx| {
        for i in 0..count {
            let mut key = prefix.to_vec();
            key.extend_from_slice(format!(":{i}").as_bytes());
            let mut val = format!("value:{i}").into_bytes();
            if let Some(n) = size.filter(|&n| n > 0) {
                val.resize(n, 0);
            }
            if let Ok(db) = ctx.db(&key) {
                if !db.contains(&key) {
                    db.set(&key, Value::Str(Str::new(&val)));
                }
            }
        }
    })
    .await;
    Ok(Reply::ok())
}

fn help() -> Reply {
    Reply::help(&[
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DIGEST",
        "    A hex fingerprint of all the data; equal data gives equal fingerprints.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    A hex fingerprint of the value of each key.",
        "ERROR <string>",
        "    Reply with <string> as an error.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "OBJECT <key>",
        "    Internal details of the value at <key>.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named <prefix>:<num> (prefix defaults to 'key').",
        "PROTOCOL <type>",
        "    Reply with a sample value of a RESP type: string, integer, double, bignum,",
        "    null, array, set, map, attrib, push, verbatim, true, false.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Turn expiring keys in the background off (0) or back on (1).",
        "SLEEP <seconds>",
        "    Stop the server for <seconds> (decimals allowed).",
        "HELP",
        "    Print this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_parsing() {
        assert_eq!(strtod(b"0.5s"), 0.5);
        assert_eq!(strtod(b"x"), 0.0);
        assert_eq!(strtod(b" 2"), 2.0);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"2"), 2);
        assert_eq!(atoi(b"-1abc"), -1);
        assert_eq!(atoi(b"01"), 1);
    }
}

//! MIGRATE: moves keys to another server as DUMP payloads sent with RESTORE, then deletes
//! them here (unless COPY).
//!
//! Invariant: the whole exchange with the target runs inside one unit holding the keys'
//! shards, on the home shard's thread, never on an I/O worker. Redis blocks for a migration;
//! here only the keys' shards wait, and no client ever sees a key on both servers or on
//! neither. Every network step is bounded by the command's timeout. A key is deleted only
//! after the target answered its RESTORE with success; the deletion is an ordinary DEL (its
//! effect reaches followers and the log, its keyspace events are published).

use super::connection::Conn;
use crate::commands::{self, is, parse_i64, Ctx};
use crate::error::CommandError;
use crate::persistence::rdb_value;
use crate::protocol::Reply;
use bytes::Bytes;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_ERR: &str = "IOERR error or timeout connecting to the client";
const WRITE_ERR: &str = "IOERR error or timeout writing to target instance";
const READ_ERR: &str = "IOERR error or timeout reading to target instance";

/// Where MIGRATE's keys are: argument 3, or everything after `KEYS` when it is empty.
pub fn keys(args: &[Bytes]) -> Vec<usize> {
    let mut i = 6;
    while i < args.len() {
        let a = &args[i];
        if is(a, "KEYS") {
            return if args[3].is_empty() {
                (i + 1..args.len()).collect()
            } else {
                vec![3]
            };
        }
        i += if is(a, "AUTH") {
            2
        } else if is(a, "AUTH2") {
            3
        } else {
            1
        };
    }
    if args.len() > 3 && !args[3].is_empty() {
        vec![3]
    } else {
        Vec::new()
    }
}

/// What to send, parsed from the arguments.
struct Plan {
    host: String,
    port: u16,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Vec<Bytes>,
    keys: Vec<Bytes>,
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key ...]`, checked in Redis's order.
fn parse(args: &[Bytes]) -> Result<Plan, CommandError> {
    let (mut copy, mut replace, mut auth, mut multi) = (false, false, Vec::new(), None);
    let mut i = 6;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = &args[i];
        if is(a, "COPY") {
            copy = true;
        } else if is(a, "REPLACE") {
            replace = true;
        } else if is(a, "AUTH") && more >= 1 {
            auth = vec![Bytes::from_static(b"AUTH"), args[i + 1].clone()];
            i += 1;
        } else if is(a, "AUTH2") && more >= 2 {
            auth = vec![
                Bytes::from_static(b"AUTH"),
                args[i + 1].clone(),
                args[i + 2].clone(),
            ];
            i += 2;
        } else if is(a, "KEYS") {
            if !args[3].is_empty() {
                return Err(CommandError::err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            multi = Some(args[i + 1..].to_vec());
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let timeout = parse_i64(&args[5]).ok_or(CommandError::NotInteger)?;
    let db = parse_i64(&args[4]).ok_or(CommandError::NotInteger)?;
    // Redis reads the port as atoi does: anything else is port 0, which no connect reaches.
    let digits: String = String::from_utf8_lossy(&args[2])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Ok(Plan {
        host: String::from_utf8_lossy(&args[1]).into_owned(),
        port: digits.parse::<u32>().map_or(0, |p| p.min(65535) as u16),
        db,
        timeout: Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 }),
        copy,
        replace,
        auth,
        keys: multi.unwrap_or_else(|| vec![args[3].clone()]),
    })
}

pub async fn migrate(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let plan = parse(args)?;
    let mut shards: Vec<usize> = plan
        .keys
        .iter()
        .map(|k| conn.server.slots.shard_of_key(k).index())
        .collect();
    if shards.is_empty() {
        shards.push(0);
    }
    shards.sort_unstable();
    shards.dedup();
    let cluster = conn.server.cluster.is_some();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let work = crate::shard::Work::Job(Box::new(move |ctx: &mut Ctx<'_>| {
        let _ = tx.send(run(ctx, plan, cluster));
        Reply::Nil
    }));
    // Queued, never inline: the exchange blocks its thread (the shard's, not an I/O worker).
    conn.run_queued(shards, work).await;
    rx.await
        .unwrap_or_else(|_| Err(CommandError::err("ERR shard is not running")))
}

/// One key to send: its name, remaining time to live (ms, 0 = none) and payload.
struct Outgoing {
    key: Bytes,
    ttl: u64,
    payload: Vec<u8>,
}

fn run(ctx: &mut Ctx<'_>, plan: Plan, cluster: bool) -> Result<Reply, CommandError> {
    let mut out = Vec::new();
    for key in &plan.keys {
        let db = ctx.db(key)?;
        let now = db.now;
        let Some(value) = db.get(key) else { continue };
        let payload = rdb_value::encode(value).map_err(|e| CommandError::Other(e.into()))?;
        let ttl = match db.expire_at(key) {
            None => 0,
            Some(at) => at.saturating_sub(now).max(1),
        };
        out.push(Outgoing {
            key: key.clone(),
            ttl,
            payload,
        });
    }
    if out.is_empty() {
        return Ok(Reply::status("NOKEY"));
    }
    let restored = exchange(&plan, &out, cluster)?;
    let moved: Vec<Bytes> = out
        .iter()
        .zip(&restored)
        .filter(|(_, r)| r.is_ok())
        .map(|(o, _)| o.key.clone())
        .collect();
    if !plan.copy && !moved.is_empty() {
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(moved);
        let cmd = commands::lookup(&del).map_err(|_| CommandError::Syntax)?;
        commands::call(ctx, cmd, &del);
    }
    match restored.into_iter().find_map(|r| r.err()) {
        Some(e) => Err(CommandError::err(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => Ok(Reply::ok()),
    }
}

/// Sends AUTH, SELECT and one RESTORE per key in one write, then reads every answer: the
/// RESTOREs' outcomes in key order (an error is the target's message without its `-`).
fn exchange(
    plan: &Plan,
    out: &[Outgoing],
    cluster: bool,
) -> Result<Vec<Result<(), String>>, CommandError> {
    let io = |msg: &str| CommandError::err(msg.to_string());
    let addr = (plan.host.as_str(), plan.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| io(CONNECT_ERR))?;
    let sock = match TcpStream::connect_timeout(&addr, plan.timeout) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(io(CONNECT_ERR)),
        Err(_) => return Err(io(WRITE_ERR)),
    };
    let _ = sock.set_nodelay(true);
    sock.set_write_timeout(Some(plan.timeout))
        .and_then(|_| sock.set_read_timeout(Some(plan.timeout)))
        .map_err(|_| io(WRITE_ERR))?;
    let mut buf = Vec::new();
    let put = |buf: &mut Vec<u8>, args: &[&[u8]]| {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    };
    if !plan.auth.is_empty() {
        let a: Vec<&[u8]> = plan.auth.iter().map(|b| &b[..]).collect();
        put(&mut buf, &a);
    }
    let db = plan.db.to_string();
    put(&mut buf, &[b"SELECT", db.as_bytes()]);
    let restore: &[u8] = if cluster {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for o in out {
        let ttl = o.ttl.to_string();
        let mut args: Vec<&[u8]> = vec![restore, &o.key, ttl.as_bytes(), &o.payload];
        if plan.replace {
            args.push(b"REPLACE");
        }
        put(&mut buf, &args);
    }
    let mut w = &sock;
    w.write_all(&buf).map_err(|_| io(WRITE_ERR))?;
    let mut r = BufReader::new(&sock);
    let mut answer = || -> Result<Result<(), String>, CommandError> {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => return Err(io(READ_ERR)),
        }
        let line = line.trim_end();
        Ok(match line.strip_prefix('-') {
            Some(e) => Err(e.to_string()),
            None => Ok(()),
        })
    };
    // AUTH and SELECT must succeed before any key counts.
    for _ in 0..1 + usize::from(!plan.auth.is_empty()) {
        if let Err(e) = answer()? {
            return Err(CommandError::err(format!(
                "ERR Target instance replied with error: {e}"
            )));
        }
    }
    out.iter().map(|_| answer()).collect()
}

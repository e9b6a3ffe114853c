//! REPLICAOF / SLAVEOF, ROLE, WAIT, FAILOVER (`failover.rs`), and the follower's handshake
//! commands (REPLCONF, PSYNC, SYNC), answered by the connection layer.
//!
//! Invariant: PSYNC/SYNC never reply here; they mark the connection, which then hands its
//! socket to `leader::serve_replica` once the replies before it have been written.

use super::{follower, ReplicaInfo};
use crate::commands::{self, flags::*, int_arg, is, CmdRef, Command, Group};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::server::connection::Conn;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub const COMMANDS: &[Command] = &[
    Command::conn(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_MULTI,
        Group::Server,
    ),
    Command::conn(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_MULTI,
        Group::Server,
    ),
    Command::conn("role", 1, NOSCRIPT | LOADING | STALE | FAST, Group::Server),
    Command::conn("wait", 3, NOSCRIPT, Group::Generic),
    Command::conn("waitaof", 4, NOSCRIPT, Group::Generic),
    Command::conn(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        Group::Server,
    ),
    Command::conn("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, Group::Server),
    Command::conn("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, Group::Server),
    Command::conn("failover", -1, ADMIN | NOSCRIPT | STALE, Group::Server),
];

/// Whether `cmd` is answered here.
pub fn owns(cmd: CmdRef) -> bool {
    matches!(
        cmd.cmd.name,
        "replicaof" | "slaveof" | "role" | "wait" | "waitaof" | "replconf" | "psync" | "sync" | "failover"
    ) && cmd.cmd.group != Group::Scripting
        // Not CLUSTER FAILOVER.
        && !commands::full_name(cmd.id).contains('|')
}

/// A PSYNC request waiting for the connection to hand over its socket.
pub struct PsyncRequest {
    pub replid: String,
    /// The next byte the follower wants (its offset + 1), or -1 for a full sync.
    pub offset: i64,
    pub listening_port: u16,
}

pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let r = match cmd.cmd.name {
        "replicaof" | "slaveof" => replicaof(conn, &args).await,
        "role" => Ok(role(conn)),
        "wait" => wait(conn, &args).await,
        "waitaof" => waitaof(conn, &args).await,
        "replconf" => match replconf(conn, &args) {
            Ok(None) => return None,
            r => r.map(|r| r.unwrap_or_else(Reply::ok)),
        },
        "failover" => super::failover::command(&conn.server, &args),
        "psync" | "sync" => {
            let (replid, offset) = if cmd.cmd.name == "psync" {
                let Some(off) = commands::parse_i64(&args[2]) else {
                    return Some(Reply::Error(CommandError::NotInteger.to_string()));
                };
                (String::from_utf8_lossy(&args[1]).into_owned(), off)
            } else {
                ("?".to_string(), -1)
            };
            if args.len() == 4 && is(&args[3], "FAILOVER") {
                let server = conn.server.clone();
                if let Err(e) = super::failover::take_over(&server, &args[1]).await {
                    return Some(Reply::error(e));
                }
            }
            if !conn.server.repl.in_sync() {
                // A follower serves followers of its own (its stream mirrors its leader's)
                // only once it has the leader's data.
                return Some(Reply::error(
                    "NOMASTERLINK Can't SYNC while not connected with my master",
                ));
            }
            conn.psync = Some(PsyncRequest {
                replid,
                offset,
                listening_port: conn.replica_port,
            });
            conn.close = true;
            return None;
        }
        _ => Err(CommandError::Syntax),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

async fn replicaof(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let server = conn.server.clone();
    if server.cluster.is_some() {
        return Err(CommandError::err(
            "ERR REPLICAOF not allowed in cluster mode.",
        ));
    }
    if is(&args[1], "NO") && is(&args[2], "ONE") {
        follower::stop(&server, true).await;
        return Ok(Reply::ok());
    }
    let port = commands::parse_i64(&args[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CommandError::err("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    if let Ok(f) = server.repl.follow.lock() {
        if let Some(f) = f.as_ref() {
            if f.host.eq_ignore_ascii_case(&host) && f.port == port as u16 {
                return Ok(Reply::status("OK Already connected to specified master"));
            }
        }
    }
    follower::start(&server, host, port as u16).await;
    Ok(Reply::ok())
}

fn role(conn: &Conn) -> Reply {
    let server = &conn.server;
    let bulk = |s: &str| Reply::bulk_str(s);
    if let (Some(link), Ok(f)) = (server.repl.link(), server.repl.follow.lock()) {
        if let Some(f) = f.as_ref() {
            let state = *link.state.lock().unwrap_or_else(|e| e.into_inner());
            let offset = if link.synced.load(Relaxed) {
                link.offset.load(Relaxed) as i64
            } else {
                -1
            };
            return Reply::Array(vec![
                bulk("slave"),
                bulk(&f.host),
                Reply::Int(f.port as i64),
                bulk(state),
                Reply::Int(offset),
            ]);
        }
    }
    let replicas = server
        .repl
        .replicas()
        .iter()
        .filter(|r| r.online.load(Relaxed))
        .map(|r| {
            Reply::Array(vec![
                bulk(&r.ip),
                bulk(&r.port.to_string()),
                bulk(&r.ack.load(Relaxed).to_string()),
            ])
        })
        .collect();
    Reply::Array(vec![
        bulk("master"),
        Reply::Int(server.repl.stream.offset() as i64),
        Reply::Array(replicas),
    ])
}

/// WAIT numreplicas timeout: blocks until that many followers acknowledged everything
/// published so far (which includes this client's writes), or the timeout (ms; 0 = forever).
async fn wait(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let want = int_arg(&args[1])?;
    let deadline = deadline(&args[2])?;
    let server = conn.server.clone();
    if server.repl.is_follower() {
        return Err(CommandError::err(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let target = server.repl.stream.offset();
    let count = |rs: &[Arc<ReplicaInfo>]| {
        rs.iter()
            .filter(|r| r.online.load(Relaxed) && r.ack.load(Relaxed) >= target)
            .count() as i64
    };
    let n = poll(conn.in_exec, deadline, || {
        let n = count(&server.repl.replicas());
        (n >= want, n)
    })
    .await;
    Ok(Reply::Int(n))
}

/// A blocking timeout in milliseconds as WAIT and WAITAOF read it: its deadline (none: 0,
/// wait forever).
fn deadline(arg: &[u8]) -> Result<Option<std::time::Instant>, CommandError> {
    let timeout = commands::timeout_ms_arg(arg)?;
    Ok(
        (timeout > 0)
            .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout)),
    )
}

/// Polls `check` (done?, value) every 2 ms until it is done or the deadline passes; inside
/// EXEC it answers at once, as Redis does where a client cannot block.
async fn poll<T>(
    in_exec: bool,
    deadline: Option<std::time::Instant>,
    mut check: impl FnMut() -> (bool, T),
) -> T {
    loop {
        let (done, value) = check();
        if done || in_exec || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// WAITAOF numlocal numreplicas timeout (Redis 7.2): blocks until this node's append-only
/// log (numlocal 1) and that many followers' logs hold on disk everything published so far,
/// which includes this client's writes, or the timeout (ms; 0 = forever). Answers
/// `[local, followers]`. The error texts are Redis 7.2's, from its source and documentation
/// (the reference server here, 7.0, has no WAITAOF).
async fn waitaof(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let numlocal = int_arg(&args[1])?;
    if !(0..=1).contains(&numlocal) {
        return Err(CommandError::err(
            "ERR value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = int_arg(&args[2])?;
    if numreplicas < 0 {
        return Err(CommandError::err(
            "ERR value is out of range, must be positive",
        ));
    }
    let deadline = deadline(&args[3])?;
    let server = conn.server.clone();
    if server.repl.is_follower() {
        return Err(CommandError::err(
            "ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.",
        ));
    }
    let log = server.aof.get().cloned();
    if numlocal > 0 && log.is_none() {
        return Err(CommandError::err(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        ));
    }
    // Everything published so far: the stream's offset for followers, the log's position here.
    crate::persistence::aof::flush(&server);
    let target = server.repl.stream.offset();
    let local_target = log.as_ref().map(|l| l.durability().0);
    let (local, replicas) = poll(conn.in_exec, deadline, || {
        let local = match (&log, local_target) {
            (Some(l), Some(t)) => i64::from(l.durability().1 >= t),
            _ => 0,
        };
        let replicas = server
            .repl
            .replicas()
            .iter()
            .filter(|r| r.online.load(Relaxed) && r.fack.load(Relaxed) > target)
            .count() as i64;
        (
            local >= numlocal && replicas >= numreplicas,
            (local, replicas),
        )
    })
    .await;
    Ok(Reply::Array(vec![Reply::Int(local), Reply::Int(replicas)]))
}

/// REPLCONF. `Ok(None)`: no reply at all, as Redis answers ACK and GETACK (a follower's
/// acknowledgements travel on its link, which `leader.rs` reads; on a client connection they
/// mean nothing and are dropped).
fn replconf(conn: &mut Conn, args: &[Bytes]) -> Result<Option<Reply>, CommandError> {
    if args.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    for pair in args[1..].chunks(2) {
        if is(&pair[0], "listening-port") {
            let p = int_arg(&pair[1])?;
            conn.replica_port = p.clamp(0, 65535) as u16;
        } else if is(&pair[0], "ack") || is(&pair[0], "getack") {
            return Ok(None);
        } else if !["capa", "ip-address"].iter().any(|w| is(&pair[0], w)) {
            return Err(CommandError::err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(&pair[0])
            )));
        }
    }
    Ok(Some(Reply::ok()))
}

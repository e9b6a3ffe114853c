//! The leader's side of one follower link: choose partial or full synchronization, send it,
//! then forward the live stream and read the follower's acknowledgements.
//!
//! A follower serves its own followers the same way (chained): its stream mirrors its
//! leader's, offsets included.
//!
//! Invariant: the follower receives a contiguous stream: either the backlog from the offset
//! it asked for, or a snapshot taken at offset O followed by every unit published after O.
//! In both cases the subscription starts under the stream's lock at exactly that offset.

use super::cmds::PsyncRequest;
use super::stream::Subscriber;
use super::{all_shards, run_on, snapshot, ReplicaInfo};
use crate::server::client::ClientInfo;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves the follower whose connection (`client`, listed as its link) asked `req`, until the
/// link fails or CLIENT KILL drops it.
pub async fn serve_replica(
    server: Arc<Server>,
    mut sock: TcpStream,
    req: PsyncRequest,
    client: Arc<ClientInfo>,
) {
    client.role.store(crate::server::client::REPLICA, Relaxed);
    let id = server.repl.next_replica_id();
    let ip = sock
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let info = Arc::new(ReplicaInfo {
        id,
        ip,
        port: req.listening_port,
        ack: AtomicU64::new(0),
        fack: AtomicU64::new(0),
        online: AtomicBool::new(false),
        last_ack_ms: AtomicU64::new(crate::clock::unix_ms()),
    });
    if let Ok(mut r) = server.repl.replicas.lock() {
        r.push(info.clone());
    }
    server.want_effects();
    super::Replication::start_pinger(&server);
    let r = tokio::select! {
        r = link(&server, &mut sock, &req, &info, &client) => r,
        _ = client.killed_signal() => Ok(()),
    };
    if let Err(e) = r {
        tracing::info!(replica = id, error = %e, "follower link closed");
    }
    if let Ok(mut r) = server.repl.replicas.lock() {
        r.retain(|x| x.id != id);
    }
    server
        .repl
        .stream
        .with(|s| s.subscribers.retain(|x| x.id != id));
}

async fn link(
    server: &Arc<Server>,
    sock: &mut TcpStream,
    req: &PsyncRequest,
    info: &Arc<ReplicaInfo>,
    client: &ClientInfo,
) -> std::io::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let id = info.id;
    let pending = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let limit = server.config().replica_output_buffer_limit;
    let dropped = Arc::new(tokio::sync::Notify::new());
    let subscriber = |tx| Subscriber {
        id,
        tx,
        pending: pending.clone(),
        limit,
        dropped: dropped.clone(),
    };
    // Partial: the same history (or the one this continues, up to where it was left), and
    // the backlog still holds the next byte it wants.
    let partial = server.repl.stream.with(|s| {
        if !s.continues(&req.replid, req.offset) {
            return None;
        }
        let from = (req.offset - 1) as u64;
        let tail = s.since(from)?;
        s.subscribers.push(subscriber(tx.clone()));
        Some((s.replid.clone(), tail, from))
    });
    match partial {
        Some((replid, tail, from)) => {
            server.repl.partial_syncs_served.fetch_add(1, Relaxed);
            info.ack.store(from, Relaxed);
            tracing::info!(replica = id, from, "partial resynchronization");
            sock.write_all(format!("+CONTINUE {replid}\r\n").as_bytes())
                .await?;
            crate::persistence::aof::flush(server);
            sock.write_all(&tail).await?;
        }
        None => {
            if req.replid != "?" {
                server.repl.partial_syncs_refused.fetch_add(1, Relaxed);
            }
            server.repl.full_syncs_served.fetch_add(1, Relaxed);
            let sub = subscriber(tx.clone());
            let snap = run_on(server, all_shards(server), move |ctx| {
                snapshot::capture(ctx, |s| {
                    s.subscribers.push(sub);
                    s.reset_db();
                })
            })
            .await
            .ok_or_else(|| std::io::Error::other("shards are not running"))?;
            // Serialized after the shards are released (the live stream queues meanwhile).
            let (replid, offset) = (snap.replid.clone(), snap.offset);
            let payload = tokio::task::spawn_blocking(move || snap.payload())
                .await
                .map_err(std::io::Error::other)?;
            tracing::info!(
                replica = id,
                offset,
                bytes = payload.len(),
                "full synchronization"
            );
            let head = format!("+FULLRESYNC {replid} {offset}\r\n${}\r\n", payload.len());
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&payload).await?;
        }
    }
    drop(tx);
    info.online.store(true, Relaxed);
    info.last_ack_ms.store(crate::clock::unix_ms(), Relaxed);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let (mut rd, mut wr) = sock.split();
    let mut inbuf = BytesMut::with_capacity(4096);
    let mut decoder = crate::protocol::RequestDecoder::new(1 << 20);
    decoder.authenticated = true;
    let mut out = BytesMut::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Followers acknowledge every second; one silent for repl-timeout is gone.
                let timeout = server.config().repl_timeout * 1000;
                let silent = crate::clock::unix_ms().saturating_sub(info.last_ack_ms.load(Relaxed));
                if silent >= timeout {
                    tracing::warn!(replica = id, silent_ms = silent, "follower timed out (repl-timeout); dropping it");
                    return Ok(());
                }
            }
            chunk = rx.recv() => {
                let Some(chunk) = chunk else { return Ok(()) };
                // Let the connections that are ready run first: their units join this write,
                // one socket write for many units (as Redis flushes replica buffers once per
                // event-loop turn) instead of one per unit.
                tokio::task::yield_now().await;
                out.clear();
                out.extend_from_slice(&chunk);
                while out.len() < 1 << 20 {
                    match rx.try_recv() {
                        Ok(more) => out.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                let timeout = std::time::Duration::from_secs(server.config().repl_timeout);
                // As in Redis, the log has the units before any follower does.
                crate::persistence::aof::flush(server);
                tokio::select! {
                    r = wr.write_all(&out) => r?,
                    _ = dropped.notified() => return Ok(()),
                    // A follower that stopped reading for repl-timeout is gone.
                    _ = tokio::time::sleep(timeout) => return Ok(()),
                }
                pending.fetch_sub(out.len() as u64, Relaxed);
            }
            n = rd.read_buf(&mut inbuf) => {
                if n? == 0 {
                    return Ok(());
                }
                while let Ok(Some(args)) = decoder.decode(&mut inbuf) {
                    if args.len() >= 3 && args[0].eq_ignore_ascii_case(b"REPLCONF") && args[1].eq_ignore_ascii_case(b"ACK") {
                        if let Some(off) = crate::commands::parse_i64(&args[2]) {
                            info.ack.store(off.max(0) as u64, Relaxed);
                            info.last_ack_ms.store(crate::clock::unix_ms(), Relaxed);
                        }
                        client.touch();
                        if let Some(cmd) = crate::commands::table::find(&args[0]) {
                            client.last_cmd.store(u32::from(cmd.id) + 1, Relaxed);
                        }
                        if args.len() == 5 && args[3].eq_ignore_ascii_case(b"FACK") {
                            if let Some(off) = crate::commands::parse_i64(&args[4]) {
                                info.fack.fetch_max(off.max(0) as u64 + 1, Relaxed);
                            }
                        }
                    }
                }
            }
        }
    }
}

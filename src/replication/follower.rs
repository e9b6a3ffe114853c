//! The follower task: connect to the leader, handshake, synchronize (full or partial), then
//! apply the live stream unit by unit, acknowledging what it applied; reconnect on failure.
//!
//! Invariant: `LinkState::offset` is the leader offset at the end of the last unit this node
//! applied whole (plus any SELECT after it), so a partial resync asks for exactly the next
//! unit. Bytes of a unit not yet complete when the link drops are discarded and asked again.

use super::apply::{self, Applier, Fed};
use super::failover::Handover;
use super::{Follow, LinkState};
use crate::server::client::ClientInfo;
use crate::server::Server;
use bytes::BytesMut;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long the follower waits before reconnecting after a failure.
const RETRY: Duration = Duration::from_millis(200);

/// Makes this node follow `host:port` (stopping any previous link).
pub async fn start(server: &Arc<Server>, host: String, port: u16) {
    start_with(server, host, port, LinkState::default()).await
}

/// FAILOVER's demotion: follow `host:port`, whose first PSYNC names this node's history and
/// asks the target to take over (`PSYNC <replid> <offset+1> FAILOVER`); its outcome goes to
/// `handover.done`.
pub async fn start_handover(server: &Arc<Server>, host: String, port: u16, handover: Handover) {
    let link = LinkState::default();
    if let Ok(mut h) = link.handover.lock() {
        *h = Some(handover);
    }
    start_with(server, host, port, link).await
}

async fn start_with(server: &Arc<Server>, host: String, port: u16, link: LinkState) {
    stop(server, false).await;
    let running = Arc::new(AtomicBool::new(true));
    let stop_notify = Arc::new(tokio::sync::Notify::new());
    let link = Arc::new(link);
    *link.state.lock().unwrap_or_else(|e| e.into_inner()) = "connect";
    link.down_since_ms.store(crate::clock::unix_ms(), Relaxed);
    if let Ok(mut f) = server.repl.follow.lock() {
        *f = Some(Follow {
            host: host.clone(),
            port,
            running: running.clone(),
            stop: stop_notify.clone(),
            link: link.clone(),
        });
    }
    server.repl.set_follower(true);
    server.repl.stream.with(|s| s.start_following());
    super::set_passive_expiry(server, true).await;
    tracing::info!(%host, port, "following a leader");
    let server = server.clone();
    tokio::spawn(async move {
        // The last failure logged: a link that keeps failing the same way (a wrong
        // `masterauth`, a leader that is down) warns once, not at every retry.
        let mut last_error = String::new();
        while running.load(Relaxed) {
            tokio::select! {
                r = session(&server, &host, port, &link) => {
                    if let Err(e) = r {
                        let e = e.to_string();
                        if e != last_error {
                            tracing::warn!(error = %e, "link with the leader is down");
                            last_error = e;
                        } else {
                            tracing::debug!(error = %e, "link with the leader is still down");
                        }
                    }
                }
                _ = stop_notify.notified() => {}
            }
            if link.up.swap(false, Relaxed) {
                link.down_since_ms.store(crate::clock::unix_ms(), Relaxed);
            }
            *link.state.lock().unwrap_or_else(|e| e.into_inner()) = "connect";
            if running.load(Relaxed) {
                tokio::time::sleep(RETRY).await;
            }
        }
    });
}

/// Stops following; with `promote`, this node becomes a leader (REPLICAOF NO ONE): it starts
/// a history that continues the one it followed (so the old leader's other followers resume
/// here with a partial resync) and expires keys itself again.
pub async fn stop(server: &Arc<Server>, promote: bool) {
    let old = server.repl.follow.lock().ok().and_then(|mut f| f.take());
    if let Some(f) = old {
        f.running.store(false, Relaxed);
        f.stop.notify_one();
        tracing::info!(host = %f.host, port = f.port, "stopped following");
    }
    if promote && server.repl.is_follower() {
        // Every write from now on must reach the backlog, which followers continue from.
        server.want_effects();
        server.repl.stream.with(|s| s.promote());
        server.repl.set_follower(false);
        super::set_passive_expiry(server, false).await;
    }
}

/// One connection to the leader, until it fails. After a FAILOVER demotion, sessions carry
/// the hand-over until the target answers it, and report that answer.
async fn session(
    server: &Arc<Server>,
    host: &str,
    port: u16,
    link: &Arc<LinkState>,
) -> std::io::Result<()> {
    let mut handover = link.handover.lock().ok().and_then(|mut h| h.take());
    let r = connect_and_sync(server, host, port, link, &mut handover).await;
    if let (Some(h), Ok(mut slot)) = (handover, link.handover.lock()) {
        *slot = Some(h);
    }
    r
}

async fn connect_and_sync(
    server: &Arc<Server>,
    host: &str,
    port: u16,
    link: &Arc<LinkState>,
    handover: &mut Option<Handover>,
) -> std::io::Result<()> {
    set_state(link, "connecting");
    let sock = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect((host, port)))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    let _ = sock.set_nodelay(true);
    // Listed as a client while it lasts (flag `M`, as Redis lists its master link); CLIENT
    // KILL drops it and the task connects again.
    let listed = Listed::new(server, &sock);
    let mut sock = BufReader::new(sock);
    let masterauth = server.config().masterauth.clone();
    if let Some(pass) = masterauth {
        command(&mut sock, &["AUTH", &pass]).await?;
    }
    command(&mut sock, &["PING"]).await?;
    let my_port = server.port.to_string();
    command(&mut sock, &["REPLCONF", "listening-port", &my_port]).await?;
    command(&mut sock, &["REPLCONF", "capa", "psync2"]).await?;
    // The history this node's data is at: the leader's it mirrors, or its own as a leader
    // (a demoted leader, or a follower pointed at a sibling promoted from the same leader, can
    // continue it); a node with no writes at all asks for a full sync.
    let (replid, next) = match server.repl.stream.with(|s| s.psync_position()) {
        Some((replid, next)) => (replid, next.to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    set_state(link, "sync");
    let line = match handover.take() {
        None => {
            send(&mut sock, &["PSYNC", &replid, &next]).await?;
            read_line(&mut sock).await?
        }
        Some(h) => {
            let next = (h.offset + 1).to_string();
            let line = match send(&mut sock, &["PSYNC", &h.replid, &next, "FAILOVER"]).await {
                Ok(()) => read_line(&mut sock).await,
                Err(e) => Err(e),
            };
            match &line {
                Ok(l) if !l.starts_with('-') => drop(h.done.send(Ok(()))),
                Ok(l) => drop(h.done.send(Err(format!("the target refused: {l}")))),
                // Not answered: the next session asks again (as Redis retries until the
                // target answers or FAILOVER ABORT).
                Err(_) => *handover = Some(h),
            }
            line?
        }
    };
    if let Some(rest) = line.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split_whitespace();
        let id = parts.next().unwrap_or_default().to_string();
        let offset: u64 = parts
            .next()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| bad("FULLRESYNC without an offset"))?;
        let len_line = read_line(&mut sock).await?;
        let len: usize = len_line
            .strip_prefix('$')
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("snapshot length missing"))?;
        let mut payload = vec![0u8; len];
        sock.read_exact(&mut payload).await?;
        // This node mirrors since REPLICAOF (`start_following`), so loading the snapshot goes
        // to its log only.
        let db = apply::load_snapshot(server, payload.into(), id.clone(), offset)
            .await
            .map_err(std::io::Error::other)?;
        if let Ok(mut r) = link.master_replid.lock() {
            *r = id;
        }
        link.offset.store(offset, Relaxed);
        link.db.store(db as u64, Relaxed);
        link.synced.store(true, Relaxed);
        link.full_syncs.fetch_add(1, Relaxed);
        tracing::info!(offset, bytes = len, "full synchronization done");
    } else if let Some(rest) = line.strip_prefix("+CONTINUE") {
        let (id, offset, db) = server.repl.stream.with(|s| {
            s.follow_partial(rest.trim());
            (s.replid.clone(), s.offset, s.mirrored_db().unwrap_or(0))
        });
        if let Ok(mut r) = link.master_replid.lock() {
            *r = id;
        }
        if !link.synced.swap(true, Relaxed) {
            // Continuing this node's own history (it led it until now).
            link.offset.store(offset, Relaxed);
            link.db.store(db as u64, Relaxed);
        }
        link.partial_syncs.fetch_add(1, Relaxed);
        tracing::info!(
            offset = link.offset.load(Relaxed),
            "partial resynchronization"
        );
    } else {
        return Err(bad(&format!("unexpected PSYNC reply: {line}")));
    }
    set_state(link, "connected");
    link.up.store(true, Relaxed);
    tokio::select! {
        r = stream(server, sock, link, &listed.0) => r,
        _ = listed.0.killed_signal() => Err(std::io::Error::other("link killed by CLIENT KILL")),
    }
}

/// The link's entry in the client list, removed when the link ends.
struct Listed(Arc<ClientInfo>, Arc<Server>);

impl Listed {
    fn new(server: &Arc<Server>, sock: &TcpStream) -> Listed {
        let local = sock.local_addr();
        let peer = sock.peer_addr();
        let fallback = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let info = server
            .clients
            .register(peer.unwrap_or(fallback), local.unwrap_or(fallback));
        info.role.store(crate::server::client::MASTER, Relaxed);
        Listed(info, server.clone())
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.1.clients.unregister(self.0.id);
    }
}

/// Applies the live stream until the link fails.
async fn stream(
    server: &Arc<Server>,
    mut sock: BufReader<TcpStream>,
    link: &Arc<LinkState>,
    client: &ClientInfo,
) -> std::io::Result<()> {
    let mut applier = Applier::new(link.db.load(Relaxed) as u16);
    let mut decoder = crate::protocol::RequestDecoder::new(i64::MAX);
    decoder.authenticated = true;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // Bytes consumed since the last unit boundary.
    let mut pending: u64 = 0;
    // Every byte read and not yet mirrored: a unit's bytes are its first `pending`.
    let mut raw = BytesMut::with_capacity(64 * 1024);
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let mut acked = u64::MAX;
    let mut durable = Durable::default();
    // What the sync gave this node is in its log as of now.
    durable.applied(server, link.offset.load(Relaxed));
    let mut last_data = std::time::Instant::now();
    loop {
        let had = buf.len();
        let n = tokio::select! {
            n = sock.read_buf(&mut buf) => n?,
            _ = ack_tick.tick() => {
                // The leader PINGs an idle stream every repl-ping-replica-period seconds, so
                // silence this long means the link is dead even if TCP has not noticed.
                let timeout = server.config().repl_timeout;
                if last_data.elapsed() >= Duration::from_secs(timeout) {
                    return Err(bad(&format!("no data from the leader for {timeout} seconds (repl-timeout)")));
                }
                let off = link.offset.load(Relaxed);
                ack(&mut sock, off, durable.fsynced(server)).await?;
                acked = off;
                continue;
            }
        };
        last_data = std::time::Instant::now();
        if n == 0 {
            return Err(std::io::Error::other("leader closed the link"));
        }
        link.last_io_ms.store(crate::clock::unix_ms(), Relaxed);
        client.touch();
        raw.extend_from_slice(&buf[had..]);
        loop {
            let before = buf.len();
            let decoded = decoder.decode(&mut buf);
            // The decoder consumes the complete parts of a command it cannot finish yet, so
            // count what left the buffer whatever it returned.
            pending += (before - buf.len()) as u64;
            let args = match decoded {
                Ok(Some(a)) => a,
                Ok(None) => break,
                Err(e) => return Err(bad(&format!("stream does not parse: {e}"))),
            };
            // CLIENT LIST's `cmd=` for the link: the leader's last command, as Redis shows.
            if let Some(cmd) = args.first().and_then(|n| crate::commands::table::find(n)) {
                client.last_cmd.store(u32::from(cmd.id) + 1, Relaxed);
            }
            if let Fed::Boundary(unit) = applier.feed(args) {
                let bytes = raw.split_to(pending as usize).freeze();
                let db = applier.db;
                match unit {
                    // The leader's keepalive: only its bytes count.
                    Some(u)
                        if u.len() == 1
                            && u[0].1.len() == 1
                            && u[0].1[0].eq_ignore_ascii_case(b"PING") =>
                    {
                        apply::mirror_only(server, bytes, db, false)
                    }
                    Some(unit) => apply::apply_mirrored(server, unit, bytes, db).await,
                    None => apply::mirror_only(server, bytes, db, true),
                }
                let off = link.offset.fetch_add(pending, Relaxed) + pending;
                link.db.store(applier.db as u64, Relaxed);
                pending = 0;
                durable.applied(server, off);
            }
        }
        let off = link.offset.load(Relaxed);
        if off != acked {
            ack(&mut sock, off, durable.fsynced(server)).await?;
            acked = off;
        }
    }
}

/// Which leader offsets this follower's own append-only log holds on disk (for the leader's
/// WAITAOF): after each applied unit, where the log then ended, and the leader offset.
#[derive(Default)]
struct Durable {
    marks: std::collections::VecDeque<(u64, u64)>,
    fsynced: Option<u64>,
}

impl Durable {
    /// Most marks kept: the fsync thread catches up within a second, so this is plenty.
    const MAX: usize = 1 << 16;

    fn applied(&mut self, server: &Server, offset: u64) {
        let Some(log) = server.aof.get() else { return };
        if self.marks.len() >= Self::MAX {
            self.marks.pop_front();
        }
        self.marks.push_back((log.durability().0, offset));
    }

    /// The last leader offset whose units are all on disk here (`None` without a log).
    fn fsynced(&mut self, server: &Server) -> Option<u64> {
        let log = server.aof.get()?;
        let synced = log.durability().1;
        while let Some(&(end, offset)) = self.marks.front() {
            if end > synced {
                break;
            }
            self.fsynced = Some(offset);
            self.marks.pop_front();
        }
        self.fsynced
    }
}

async fn ack(
    sock: &mut BufReader<TcpStream>,
    offset: u64,
    fsynced: Option<u64>,
) -> std::io::Result<()> {
    let off = offset.to_string();
    match fsynced {
        Some(f) => send(sock, &["REPLCONF", "ACK", &off, "FACK", &f.to_string()]).await,
        None => send(sock, &["REPLCONF", "ACK", &off]).await,
    }
}

fn set_state(link: &LinkState, s: &'static str) {
    *link.state.lock().unwrap_or_else(|e| e.into_inner()) = s;
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

async fn send(sock: &mut BufReader<TcpStream>, args: &[&str]) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    super::stream::put_command(&mut out, args);
    sock.get_mut().write_all(&out).await
}

/// Sends a handshake command and requires a non-error reply.
async fn command(sock: &mut BufReader<TcpStream>, args: &[&str]) -> std::io::Result<()> {
    send(sock, args).await?;
    let line = read_line(sock).await?;
    if line.starts_with('-') {
        let hint = if line.starts_with("-NOAUTH") || line.starts_with("-WRONGPASS") {
            " (check masterauth)"
        } else {
            ""
        };
        return Err(bad(&format!(
            "the leader refused {}: {line}{hint}",
            args[0]
        )));
    }
    Ok(())
}

async fn read_line(sock: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(30), sock.read_line(&mut line))
        .await
        .map_err(|_| bad("leader did not answer"))??;
    if n == 0 {
        return Err(bad("leader closed the link"));
    }
    Ok(line.trim_end().to_string())
}

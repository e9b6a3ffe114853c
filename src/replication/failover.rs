//! FAILOVER: a coordinated hand-over from this leader to one of its followers, as Redis 6.2+
//! runs it: hold client writes, wait for a follower to acknowledge the whole stream, become a
//! follower of it, and tell it to take over with `PSYNC <replid> <offset> FAILOVER`.
//!
//! Invariants:
//! - At most one failover runs; its state (`no-failover`, `waiting-for-sync`,
//!   `failover-in-progress`) is what INFO replication shows.
//! - Client writes stay held from the command until the failover ends, either way, so no
//!   write lands on this node once its follower has caught up. On success the held writes
//!   then meet a follower (`-READONLY`); on abort (ABORT, the timeout without FORCE, or a
//!   target that refuses) this node is a leader again with its history unchanged, and its
//!   followers reconnect with a partial resynchronization. A target that cannot be reached
//!   is asked again until it answers or FAILOVER ABORT, as Redis does.
//! - The target promotes itself only when the request names the history it follows, so a
//!   stale or foreign node cannot make it take over.

use super::follower;
use crate::commands::{self, is};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::server::Server;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NONE: u8 = 0;
const WAITING: u8 = 1;
const IN_PROGRESS: u8 = 2;

/// How often the waiting phase looks at the followers' acknowledgements.
const POLL: Duration = Duration::from_millis(5);

#[derive(Default)]
pub struct Failover {
    state: AtomicU8,
    /// Set by FAILOVER ABORT; the running failover polls it (a flag, unlike a wake-up
    /// permit, cannot outlive the failover it was meant for).
    abort: AtomicBool,
}

impl Failover {
    /// INFO replication's `master_failover_state`.
    /// Whether this leader is handing over: its stream must not grow any more (no keepalive
    /// PINGs), so the target continues it exactly where the hand-over said.
    pub fn handing_over(&self) -> bool {
        self.state.load(Relaxed) == IN_PROGRESS
    }

    pub fn state_name(&self) -> &'static str {
        match self.state.load(Relaxed) {
            WAITING => "waiting-for-sync",
            IN_PROGRESS => "failover-in-progress",
            _ => "no-failover",
        }
    }
}

/// The follower to hand over to.
#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
}

/// What the demoted leader's first PSYNC carries, and where its outcome goes.
pub struct Handover {
    pub replid: String,
    pub offset: u64,
    pub done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`, with Redis's checks in Redis's
/// order.
pub fn command(server: &Arc<Server>, args: &[Bytes]) -> Result<Reply, CommandError> {
    if server.cluster.is_some() {
        return Err(CommandError::err(
            "ERR FAILOVER not allowed in cluster mode.",
        ));
    }
    let (mut target, mut timeout, mut force, mut abort) = (None, None, false, false);
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if is(a, "TO") && target.is_none() && i + 2 < args.len() {
            let port = commands::parse_i64(&args[i + 2]).ok_or(CommandError::NotInteger)?;
            target = Some(Target {
                host: String::from_utf8_lossy(&args[i + 1]).into_owned(),
                port: port.clamp(0, 65535) as u16,
            });
            i += 2;
        } else if is(a, "TIMEOUT") && timeout.is_none() && i + 1 < args.len() {
            let ms = commands::parse_i64(&args[i + 1]).ok_or(CommandError::NotInteger)?;
            if ms <= 0 {
                return Err(CommandError::err(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            timeout = Some(Duration::from_millis(ms as u64));
            i += 1;
        } else if is(a, "FORCE") && !force {
            force = true;
        } else if is(a, "ABORT") && !abort {
            abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let fo = &server.repl.failover;
    if abort {
        if force || timeout.is_some() || target.is_some() {
            return Err(CommandError::Syntax);
        }
        if fo.state.load(Relaxed) == NONE {
            return Err(CommandError::err("ERR No failover in progress."));
        }
        fo.abort.store(true, Relaxed);
        return Ok(Reply::ok());
    }
    if server.repl.is_follower() {
        return Err(CommandError::err(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    if fo.state.load(Relaxed) != NONE {
        return Err(CommandError::err("ERR FAILOVER already in progress."));
    }
    let replicas = server.repl.replicas();
    if replicas.is_empty() {
        return Err(CommandError::err(
            "ERR FAILOVER requires connected replicas.",
        ));
    }
    if force && (timeout.is_none() || target.is_none()) {
        return Err(CommandError::err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if let Some(t) = &target {
        let Some(r) = replicas.iter().find(|r| names(r, t)) else {
            return Err(CommandError::err(
                "ERR FAILOVER target HOST and PORT is not a replica.",
            ));
        };
        if !r.online.load(Relaxed) {
            return Err(CommandError::err(
                "ERR FAILOVER target replica is not online.",
            ));
        }
    }
    if fo
        .state
        .compare_exchange(NONE, WAITING, Relaxed, Relaxed)
        .is_err()
    {
        return Err(CommandError::err("ERR FAILOVER already in progress."));
    }
    fo.abort.store(false, Relaxed);
    server.pause.hold_writes(true);
    tracing::info!(
        target = target.as_ref().map(|t| format!("{}:{}", t.host, t.port)),
        "FAILOVER requested: holding writes until a follower has the whole stream"
    );
    let deadline = timeout.map(|t| Instant::now() + t);
    tokio::spawn(run(server.clone(), target, deadline, force));
    Ok(Reply::ok())
}

/// Whether follower `r` is the one `t` names (its address and the port it listens on).
fn names(r: &super::ReplicaInfo, t: &Target) -> bool {
    r.port == t.port
        && (r.ip.eq_ignore_ascii_case(&t.host)
            || (t.host.eq_ignore_ascii_case("localhost") && r.ip == "127.0.0.1"))
}

async fn run(server: Arc<Server>, target: Option<Target>, deadline: Option<Instant>, force: bool) {
    let fo = &server.repl.failover;
    let target = match caught_up(&server, target, deadline, force).await {
        Ok(t) => t,
        Err(why) => return end(&server, Some(why)),
    };
    fo.state.store(IN_PROGRESS, Relaxed);
    tracing::info!(host = %target.host, port = target.port, "FAILOVER: handing over");
    // The other followers stay on: nothing more is published (writes are held, no keepalive
    // while handing over, and a follower publishes only to its log). When the target takes
    // this node on under its new replid they are let go and continue through it (chained);
    // after a failed hand-over they simply go on.
    let (replid, offset) = server.repl.stream.with(|s| (s.replid.clone(), s.offset));
    let (done, outcome) = tokio::sync::oneshot::channel();
    let handover = Handover {
        replid,
        offset,
        done,
    };
    follower::start_handover(&server, target.host.clone(), target.port, handover).await;
    let refused = tokio::select! {
        r = outcome => match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("the hand-over was dropped".to_string()),
        },
        _ = aborted(fo) => Some("FAILOVER ABORT".to_string()),
    };
    if let Some(why) = &refused {
        // Back to leading, with the history this node had (continued under a new name if
        // the target had already taken this node on).
        let synced = server.repl.link().is_some_and(|l| l.synced.load(Relaxed));
        follower::stop(&server, false).await;
        server.repl.stream.with(|s| {
            if synced {
                s.promote();
            } else {
                s.lead_again();
            }
        });
        server.repl.set_follower(false);
        super::set_passive_expiry(&server, false).await;
        tracing::warn!(reason = %why, "FAILOVER failed; this node leads again");
    }
    end(&server, refused);
}

/// Waits until a follower (the target, if named) acknowledged everything published; at the
/// deadline, FORCE hands over to the target anyway, otherwise the failover ends.
async fn caught_up(
    server: &Arc<Server>,
    target: Option<Target>,
    deadline: Option<Instant>,
    force: bool,
) -> Result<Target, String> {
    loop {
        if server.repl.failover.abort.load(Relaxed) {
            return Err("FAILOVER ABORT".to_string());
        }
        let offset = server.repl.stream.offset();
        let ready = server.repl.replicas().into_iter().find(|r| {
            r.online.load(Relaxed)
                && r.ack.load(Relaxed) >= offset
                && target.as_ref().is_none_or(|t| names(r, t))
        });
        if let Some(r) = ready {
            return Ok(target.unwrap_or(Target {
                host: r.ip.clone(),
                port: r.port,
            }));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return match (force, target) {
                (true, Some(t)) => Ok(t),
                _ => Err("no follower caught up before the timeout".to_string()),
            };
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Resolves once FAILOVER ABORT is asked.
async fn aborted(fo: &Failover) {
    while !fo.abort.load(Relaxed) {
        tokio::time::sleep(POLL).await;
    }
}

fn end(server: &Server, aborted: Option<String>) {
    if let Some(why) = aborted {
        tracing::info!(reason = %why, "FAILOVER aborted");
    } else {
        tracing::info!("FAILOVER done: this node follows the new leader");
    }
    server.repl.failover.state.store(NONE, Relaxed);
    server.pause.hold_writes(false);
}

/// On the target: a `PSYNC <replid> <offset> FAILOVER` from the leader it follows makes it
/// take over (a leader that has that history just serves the PSYNC). Err: Redis's refusal.
pub async fn take_over(server: &Arc<Server>, replid: &[u8]) -> Result<(), String> {
    let ours = match server.repl.link() {
        Some(link) => link
            .master_replid
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default(),
        None => server.repl.stream.with(|s| s.replid.clone()),
    };
    if ours.as_bytes() != replid {
        return Err("ERR PSYNC FAILOVER replid must match my replid.".to_string());
    }
    if server.repl.is_follower() {
        tracing::info!("taking over as leader (FAILOVER requested by the leader)");
        follower::stop(server, true).await;
    }
    Ok(())
}

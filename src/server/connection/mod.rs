//! One client connection: read, decode, route, run or queue units, reply.
//!
//! Invariant: replies leave in request order, and this client's units run in request order.
//! Consecutive commands for the same single shard form one batch. A unit runs inline, on this
//! task, only when nothing of this client is in flight and every shard it needs is free
//! (src/shard/hold.rs); otherwise it is queued on its home shard, and nothing of this client
//! for another shard is sent until it is answered (more batches for the same shard may follow
//! it into that queue). So no other client, even one reading several shards in one unit, sees
//! this client's writes out of order. The task never waits for a shard: a busy shard delays
//! only the clients waiting on it.

use super::admin::slowlog::Caller;
use super::client::ClientInfo;
use super::conn_cmds;
use super::conn_modes::ReplyMode;
use super::multi::{self, TxState};
use super::{admin, pubsub_cmds, Server};
use crate::commands::{self, flags, CmdRef, Run};
use crate::protocol::{Reply, RequestDecoder};
use crate::scripting::batch;
use crate::shard::{Leftover, ShardData, Work};
use bytes::{Bytes, BytesMut};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod units;

/// Flush replies to the socket once this much is buffered, even mid-pipeline.
const OUT_FLUSH: usize = 256 * 1024;
/// Most commands in one batch.
const MAX_BATCH: usize = 512;

thread_local! {
    /// Reads this I/O thread has served since it last woke from idle (see `io_thread_woke`).
    static READS_THIS_WAKE: Cell<u32> = const { Cell::new(0) };
}

/// Called by the runtime each time an I/O thread wakes from idle (`on_thread_unpark`).
pub fn io_thread_woke() {
    READS_THIS_WAKE.with(|c| c.set(0));
}

pub const BUSY_ERR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Per-client state.
/// What woke a connection waiting for its client.
enum Woke {
    /// Bytes read (0: closed or killed).
    Read(usize),
    /// A Pub/Sub message for this subscriber.
    Message(super::pubsub::Message),
    /// A MONITOR line.
    Monitored(Bytes),
    /// Invalidations (client-side caching) were queued for this connection.
    Pushed,
}

pub struct Conn {
    pub server: Arc<Server>,
    pub info: Arc<ClientInfo>,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    /// Set by QUIT, protocol errors and CLIENT KILL of self: close after the replies go out.
    pub close: bool,
    pub out: BytesMut,
    /// Commands decoded from the current read, added to `total_commands_processed` once per
    /// read rather than with an atomic add per command.
    processed: u64,
    pending: Vec<(CmdRef, Vec<Bytes>)>,
    /// Length of the last batch sent: a new batch is sized for as many calls up front, since
    /// growing it call by call cost three reallocations per pipelined batch of 16.
    last_batch: usize,
    pending_shard: usize,
    /// The pending batch has a script call (scripting/batch.rs): if it is queued rather than
    /// run inline, nothing else is sent until it is answered.
    pending_scripts: bool,
    /// The rest of a batch run inline whose script call needs more shards: it runs before
    /// anything else (`flush_pending`).
    leftover: Option<Leftover>,
    /// Scratch for routing each command (reused, so routing allocates nothing).
    route: Vec<usize>,
    /// Scratch for the shards of a script's unit (`scripting::eval::schedule`), reused so a
    /// script call allocates no shard list when it runs inline.
    pub unit_shards: Vec<usize>,
    /// Set by a script call whose reply went straight into `out`: the failed calls it adds to
    /// its command's statistics (its run counted the reply's errors already).
    pub script_failures: Option<u32>,
    /// Scratch slot table for units run inline (one slot per shard, all empty between units).
    table: Vec<Option<Box<ShardData>>>,
    /// Batches sent and not yet answered, in request order.
    inflight: std::collections::VecDeque<tokio::sync::oneshot::Receiver<Bytes>>,
    /// MULTI queue and WATCHed keys (src/server/multi.rs).
    pub tx: TxState,
    /// REPLCONF listening-port of a follower handshaking on this connection.
    pub replica_port: u16,
    /// Set by PSYNC/SYNC: the socket becomes a follower link once earlier replies are out.
    pub psync: Option<crate::replication::cmds::PsyncRequest>,
    /// Pub/Sub subscriptions and their message queue: `Some` exactly while subscribed to
    /// something (src/server/pubsub_cmds.rs). Connections that never subscribe pay one check
    /// of this per command and per read.
    pub subs: Option<Box<super::pubsub::Subs>>,
    /// Set while EXEC runs its deferred connection commands (SSUBSCRIBE is refused there).
    pub in_exec: bool,
    /// CLIENT REPLY: what the client is not sent (see `ReplyMode`).
    pub reply_mode: ReplyMode,
    /// MONITOR: the lines of the commands the server runs (src/server/monitor.rs).
    pub monitor: Option<tokio::sync::mpsc::UnboundedReceiver<Bytes>>,
    /// CLIENT TRACKING: this client's entry in the tracking registry, `Some` while on.
    pub tracking: Option<Arc<super::tracking::Tracker>>,
    /// CLIENT CACHING YES/NO was given: it decides the next command (or transaction).
    pub caching: bool,
    /// CLIENT NO-TOUCH ON.
    pub no_touch: bool,
    /// The flags units of this client run with now (`tracking::hooks::TRACK_READS`,
    /// `NO_TOUCH`); the pending batch was gathered under them.
    unit_flags: u8,
}

pub async fn handle(server: Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    let laddr = stream.local_addr().unwrap_or(peer);
    let info = server.clients.register(peer, laddr);
    let id = info.id;
    let mut conn = Conn {
        authenticated: server.config().requirepass.is_none(),
        server: server.clone(),
        info,
        db: 0,
        resp: 2,
        close: false,
        out: BytesMut::with_capacity(16 * 1024),
        processed: 0,
        pending: Vec::new(),
        last_batch: 1,
        pending_shard: usize::MAX,
        pending_scripts: false,
        leftover: None,
        route: Vec::with_capacity(4),
        unit_shards: Vec::with_capacity(4),
        script_failures: None,
        table: (0..server.shards.len()).map(|_| None).collect(),
        inflight: std::collections::VecDeque::new(),
        tx: TxState::default(),
        replica_port: 0,
        psync: None,
        subs: None,
        in_exec: false,
        reply_mode: ReplyMode::On,
        monitor: None,
        tracking: None,
        caching: false,
        no_touch: false,
        unit_flags: 0,
    };
    let mut stream = stream;
    if let Err(e) = conn.run(&mut stream).await {
        tracing::debug!(client = id, error = %e, "connection ended");
    }
    // Watched keys hold waiters on the shards, subscriptions sit in the registry: take them away.
    multi::discard(&mut conn).await;
    super::pubsub_cmds::leave(&mut conn);
    super::tracking::cmds::turn_off(&mut conn);
    if conn.monitor.is_some() {
        server.monitors.remove(id);
    }
    if let Some(req) = conn.psync.take() {
        // The connection becomes a follower's link, still listed while it lasts.
        crate::replication::leader::serve_replica(server.clone(), stream, req, conn.info.clone())
            .await;
    }
    server.clients.unregister(id);
}

impl Conn {
    async fn run(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut decoder = RequestDecoder::new(self.server.config().proto_max_bulk_len);
        decoder.authenticated = self.authenticated;
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            buf.reserve(decoder.wanted().clamp(16 * 1024, 64 * 1024 * 1024));
            // As in Redis, `timeout` never closes a subscribed client.
            let timeout = if self.subs.is_some() {
                0
            } else {
                self.server.client_timeout()
            };
            let read = async {
                if timeout > 0 {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(timeout),
                        stream.read_buf(&mut buf),
                    )
                    .await
                    .unwrap_or(Ok(0))
                } else {
                    stream.read_buf(&mut buf).await
                }
            };
            let woke = match (self.subs.as_mut(), self.monitor.as_mut()) {
                (None, None) => tokio::select! {
                    biased;
                    r = read => Woke::Read(r?),
                    w = self.info.wake_signal() => woke_by(w),
                },
                // Subscribed or monitoring: a message or a monitored command wakes it too.
                (subs, monitor) => {
                    let (has_subs, has_monitor) = (subs.is_some(), monitor.is_some());
                    tokio::select! {
                        biased;
                        w = self.info.wake_signal() => woke_by(w),
                        r = read => Woke::Read(r?),
                        Some(m) = async { subs?.recv().await }, if has_subs => Woke::Message(m),
                        Some(l) = async { monitor?.recv().await }, if has_monitor => {
                            Woke::Monitored(l)
                        }
                    }
                }
            };
            let n = match woke {
                Woke::Read(n) => n,
                Woke::Message(message) => {
                    if let Some(subs) = self.subs.as_mut() {
                        subs.take(message, self.resp, &mut self.out);
                        subs.drain(self.resp, &mut self.out);
                    }
                    self.write_out(stream).await?;
                    continue;
                }
                Woke::Monitored(line) => {
                    self.out.extend_from_slice(&line);
                    self.drain_monitor();
                    self.write_out(stream).await?;
                    continue;
                }
                Woke::Pushed => {
                    self.drain_pushes();
                    self.write_out(stream).await?;
                    continue;
                }
            };
            if n == 0 || self.info.killed.load(Relaxed) {
                return Ok(());
            }
            // Invalidations queued before these commands were read go before their replies.
            self.drain_pushes();
            self.server
                .stats
                .net_input_bytes
                .fetch_add(n as u64, Relaxed);
            self.info.touch();
            let nth_this_wake = READS_THIS_WAKE.with(|c| {
                // Saturating: a thread that never idles would otherwise wrap after 2^32 reads.
                c.set(c.get().saturating_add(1));
                c.get()
            });
            let mut decoded = 0usize;
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(args)) => {
                        decoded += 1;
                        if self.reply_mode == ReplyMode::On {
                            self.process(args, Some(&*stream)).await;
                        } else {
                            self.process_dropping_replies(args, Some(&*stream)).await;
                        }
                        decoder.authenticated = self.authenticated;
                        if self.close {
                            break;
                        }
                        if self.out.len() >= OUT_FLUSH {
                            self.flush_pending().await;
                            self.write_out(stream).await?;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.flush_pending().await;
                        Reply::Error(e.to_string()).encode(self.resp, &mut self.out);
                        self.close = true;
                        break;
                    }
                }
            }
            self.flush_pending().await;
            // Messages that arrived meanwhile follow the replies (never inside one).
            if let Some(subs) = self.subs.as_mut() {
                subs.drain(self.resp, &mut self.out);
            }
            if self.monitor.is_some() {
                self.drain_monitor();
            }
            // Invalidations follow the replies, as Redis sends a client's own after its reply.
            self.drain_pushes();
            let processed = std::mem::take(&mut self.processed);
            self.server
                .stats
                .commands_processed
                .fetch_add(processed, Relaxed);
            // Once another connection has been served since this thread last woke, the thread
            // is busy with many clients: let every connection made ready by the same poll run
            // first, then write, so replies leave in one burst (as Redis writes them before it
            // sleeps) and a pipelining client is woken once for many replies instead of once
            // per reply (pinned EVALSHA INCR at -P 16: 17% less server CPU per call). A read of
            // one command writes at once: the detour (a task switch and an extra poll, ~600
            // instructions, an eighth of an unpipelined GET) bought nothing measurable there.
            if nth_this_wake > 1 && decoded > 1 {
                tokio::task::yield_now().await;
            }
            self.write_out(stream).await?;
            if self.close {
                return Ok(());
            }
        }
    }

    /// Shows a command this client ran to MONITOR clients.
    fn monitored(&self, args: &[Bytes]) {
        let source = super::monitor::Source::Client(self.info.id);
        self.server
            .monitors
            .feed(&self.server, self.db, source, args);
    }

    /// Appends the invalidations queued for this connection, as it can show them now (one
    /// load when there are none: this runs twice per read).
    #[inline]
    fn drain_pushes(&mut self) {
        if self.info.has_pushes() {
            self.write_pushes();
        }
    }

    #[cold]
    #[inline(never)]
    fn write_pushes(&mut self) {
        for p in self.info.take_pushes() {
            p.encode(self.resp, self.subs.is_some(), &mut self.out);
        }
    }

    /// Appends the monitored lines queued so far.
    fn drain_monitor(&mut self) {
        if let Some(rx) = self.monitor.as_mut() {
            while let Ok(line) = rx.try_recv() {
                self.out.extend_from_slice(&line);
            }
        }
    }

    async fn write_out(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        if !self.out.is_empty() {
            // The writes these replies acknowledge reach the log first.
            crate::persistence::aof::flush(&self.server);
            self.server
                .stats
                .net_output_bytes
                .fetch_add(self.out.len() as u64, Relaxed);
            match self.subs.as_mut() {
                None => stream.write_all(&self.out).await?,
                // A subscriber that stops reading is closed when its queue passes the output
                // limit (src/server/pubsub.rs): the kill must end a write stuck on it.
                Some(subs) => {
                    tokio::select! {
                        biased;
                        r = stream.write_all(&self.out) => r?,
                        _ = self.info.killed_signal() => {
                            return Err(std::io::Error::other("killed while writing"));
                        }
                    }
                    subs.written();
                }
            }
            self.out.clear();
        }
        Ok(())
    }

    /// Appends a reply in order (after whatever batch is pending).
    pub async fn reply(&mut self, r: Reply) {
        self.flush_pending().await;
        r.encode(self.resp, &mut self.out);
    }

    /// Sends the pending single-shard batch and every earlier one, and appends all their
    /// replies in order.
    pub async fn flush_pending(&mut self) {
        self.send_pending();
        self.finish_leftover().await;
        while let Some(rx) = self.inflight.pop_front() {
            let bytes = rx
                .await
                .unwrap_or_else(|_| Reply::error("ERR shard is not running").to_bytes(self.resp));
            self.out.extend_from_slice(&bytes);
        }
    }

    /// Runs the pending batch inline or sends it, without waiting for it. True when the
    /// caller must [`flush_pending`](Self::flush_pending) before anything else: a batch with a
    /// script call was queued, or ran inline and left a part for more shards.
    fn send_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let calls = std::mem::take(&mut self.pending);
        self.last_batch = calls.len();
        let scripts = std::mem::take(&mut self.pending_scripts);
        let shard = self.pending_shard;
        self.pending_shard = usize::MAX;
        let work = match self.try_inline_into_out(&[shard], Work::Calls(calls)) {
            Ok(()) => return self.leftover.is_some(),
            Err(work) => work,
        };
        let rx = self.send_unit(vec![shard], work);
        self.inflight.push_back(rx);
        scripts
    }

    /// Runs what is left of a batch whose script call needed more shards (and whatever that
    /// leaves in turn), on the wider sets of shards.
    async fn finish_leftover(&mut self) {
        while let Some(left) = self.leftover.take() {
            let work = Work::Calls(left.calls);
            if let Err(work) = self.try_inline_into_out(&left.shards, work) {
                // The shard threads pass on whatever this leaves; its reply has it all.
                let bytes = self.run_queued(left.shards, work).await;
                self.out.extend_from_slice(&bytes);
            }
        }
    }

    /// Replies to a command refused before it ran, counting it (rejected call, error code)
    /// and, inside MULTI, failing the transaction.
    pub async fn reject(&mut self, cmd: Option<CmdRef>, err: impl Into<String>) {
        if let Some(c) = cmd {
            self.server.conn_stats.reject(c.id);
        }
        let r = multi::on_reject(self, cmd, err.into()).await;
        if let Reply::Error(e) = &r {
            self.server.errors.record(e);
        }
        self.reply(r).await
    }

    /// Whether any of `shards` is running a script past the busy threshold.
    pub fn busy(&self, shards: &[usize]) -> bool {
        shards
            .iter()
            .any(|&s| self.server.shards[s].busy.load(Relaxed))
    }

    /// Adds a single-shard call to the pending batch, sending the batch first if it is for
    /// another shard or full.
    async fn add_to_batch(&mut self, shard: usize, cmd: CmdRef, args: Vec<Bytes>) {
        let same_shard = self.pending_shard == shard;
        if !same_shard || self.pending.len() >= MAX_BATCH {
            // A batch that had to queue is answered before a batch for another shard is
            // sent: otherwise that one could run first, and a client reading both shards in
            // one unit could see this client's later write without its earlier one.
            if self.send_pending() || (!same_shard && !self.inflight.is_empty()) {
                self.flush_pending().await;
            }
            self.pending_shard = shard;
        }
        self.push_pending(cmd, args);
    }

    /// Adds the commands decoded before the current one to `total_commands_processed`, so a
    /// connection command (INFO) sees every earlier command of its pipeline and, as in Redis,
    /// not itself; the rest is added when the read is done.
    fn publish_processed_before_this(&mut self) {
        let before = self.processed.saturating_sub(1);
        if before > 0 {
            self.server
                .stats
                .commands_processed
                .fetch_add(before, Relaxed);
            self.processed -= before;
        }
    }

    fn push_pending(&mut self, cmd: CmdRef, args: Vec<Bytes>) {
        if self.pending.capacity() == 0 {
            self.pending
                .reserve_exact(self.last_batch.clamp(1, MAX_BATCH));
        }
        self.pending.push((cmd, args));
    }

    /// The shard a script call can be batched on (scripting/batch.rs): only while nothing of
    /// this client is in flight, and never on a shard busy with a script (the general path
    /// answers -BUSY).
    fn script_batch_shard(
        &mut self,
        origin: crate::metrics::Origin,
        args: &[Bytes],
    ) -> Option<usize> {
        if !self.inflight.is_empty() {
            return None;
        }
        let mut scratch = std::mem::take(&mut self.route);
        let shard = batch::shard(&self.server, origin, args, &mut scratch);
        self.route = scratch;
        shard.filter(|&s| !self.server.shards[s].busy.load(Relaxed))
    }

    /// Runs one command. `sock` (absent when there is no client socket) lets a blocking
    /// command flush earlier replies and notice the client leaving while it waits.
    pub(super) async fn process(&mut self, args: Vec<Bytes>, sock: Option<&TcpStream>) {
        self.processed += 1;
        let cmd = match commands::lookup(&args) {
            Ok(c) => c,
            Err(e) => {
                // Any command but CLIENT's spends CLIENT CACHING, outside a transaction.
                if !self.tx.in_multi() {
                    self.caching = false;
                }
                return self.reject(named(&args), e.to_string()).await;
            }
        };
        if self.tracking.is_some() || self.no_touch || self.unit_flags != 0 {
            self.set_unit_flags(cmd).await;
        }
        // CLIENT LIST's `cmd=`: every command found, as Redis sets `lastcmd` at lookup.
        self.info
            .last_cmd
            .store(cmd.id as u32 + 1, std::sync::atomic::Ordering::Relaxed);
        if commands::full_name(cmd.id) == "debug" && !admin::debug_allowed(self) {
            return self.reject(Some(cmd), admin::DEBUG_NOT_ALLOWED).await;
        }
        if !self.authenticated && !cmd.cmd.has(flags::NO_AUTH) {
            return self
                .reject(Some(cmd), "NOAUTH Authentication required.")
                .await;
        }
        if self.server.cluster.is_some() {
            if let Err(e) = self.cluster_route(cmd, &args) {
                return self.refuse_redirect(cmd, e).await;
            }
        }
        // A monitor is a replica to Redis: it may not touch the keyspace.
        if self.monitor.is_some()
            && cmd
                .cmd
                .has(flags::READONLY | flags::WRITE | flags::MAY_REPLICATE)
        {
            return self
                .reject(Some(cmd), "ERR Replica can't interact with the keyspace")
                .await;
        }
        if let Some(e) = self
            .server
            .repl
            .refuse(&self.server, cmd, self.tx.writes(cmd))
        {
            return self.reject(Some(cmd), e).await;
        }
        if self.subs.is_some() && self.resp == 2 && !super::conn_gates::allowed_when_subscribed(cmd)
        {
            let e = pubsub_cmds::subscribed_mode_error(cmd);
            // Redis aborts a refused EXEC, in MULTI or not (`multi::on_reject` words it there).
            let e = if cmd.cmd.name == "exec" && !self.tx.in_multi() {
                format!(
                    "EXECABORT Transaction discarded because of: {}",
                    e.strip_prefix("ERR ").unwrap_or(&e)
                )
            } else {
                e
            };
            return self.reject(Some(cmd), e).await;
        }
        if self.server.persist.progress.loading.load(Relaxed)
            && !super::conn_gates::allowed_while_loading(cmd)
        {
            return self.reject(Some(cmd), super::conn_gates::LOADING_ERR).await;
        }
        // Over maxmemory Redis refuses writes that need memory, and inside MULTI everything but
        // EXEC/DISCARD/QUIT/RESET (queueing itself takes memory).
        let queues =
            self.tx.in_multi() && !matches!(cmd.cmd.name, "exec" | "discard" | "quit" | "reset");
        let needs_memory = cmd.cmd.has(flags::DENYOOM) || queues;
        // Near the limit, a command that may write first makes room (if the policy evicts).
        if needs_memory || cmd.cmd.may_write() {
            if self.server.should_evict() {
                self.make_room().await;
            }
            if needs_memory && self.server.oom() {
                return self.reject(Some(cmd), super::OOM_ERR).await;
            }
        }
        if self.server.pause.is_on() && !self.wait_while_paused(cmd, sock).await {
            return; // killed while held: the command never runs
        }
        if self.tx.in_multi() {
            if cmd.cmd.has(flags::NO_MULTI) {
                return self
                    .reject(Some(cmd), "ERR Command not allowed inside a transaction")
                    .await;
            }
            if !multi::runs_now(cmd) {
                self.flush_pending().await;
                return multi::enqueue(self, cmd, args).await;
            }
        }
        // Scripts are shown to MONITOR before they run, so their calls follow them; what this
        // client sent earlier runs first.
        if self.server.monitors.active() && cmd.cmd.has(flags::SKIP_MONITOR) {
            self.flush_pending().await;
            self.monitored(&args);
        }
        // A subscriber's scripts take the general path, so messages they publish to it go out
        // before their reply (as in Redis).
        if let Some(origin) = batch::kind(cmd).filter(|_| self.subs.is_none()) {
            if let Some(shard) = self.script_batch_shard(origin, &args) {
                // Joining a batch for another shard would leave that one in flight.
                if self.pending_shard != shard || self.pending.len() >= MAX_BATCH {
                    self.flush_pending().await;
                    self.pending_shard = shard;
                }
                self.push_pending(cmd, args);
                self.pending_scripts = true;
                return;
            }
        }
        match cmd.cmd.run {
            Run::Shard(_) => {
                let mut shards = std::mem::take(&mut self.route);
                self.server.route_into(cmd.cmd, &args, &mut shards);
                if self.busy(&shards) && !cmd.cmd.has(flags::ALLOW_BUSY) {
                    self.route = shards;
                    let busy = self.server.scripting.busy_error();
                    return self.reject(Some(cmd), busy).await;
                }
                if cmd.cmd.has(flags::BLOCKING) && super::blocking::may_wait(cmd, &args) {
                    self.flush_pending().await;
                    // Shown once, not on every retry.
                    if self.server.monitors.active() {
                        self.monitored(&args);
                    }
                    return super::blocking::run(self, cmd, args, shards, sock).await;
                }
                if shards.len() == 1 {
                    let shard = shards[0];
                    self.route = shards;
                    self.add_to_batch(shard, cmd, args).await;
                } else {
                    self.flush_pending().await;
                    let bytes = self.run_unit(shards, Work::Calls(vec![(cmd, args)])).await;
                    self.out.extend_from_slice(&bytes);
                }
            }
            Run::Conn => {
                self.flush_pending().await;
                self.publish_processed_before_this();
                // Dispatch consumes the arguments; the slow log needs them afterwards, but only
                // if it may log this command at all (CONFIG may turn it on while it runs).
                let started = std::time::Instant::now();
                let mark = self.out.len();
                let quick = if self.subs.is_some() && self.resp == 2 && cmd.cmd.name == "ping" {
                    (args.len() <= 2).then(|| pubsub_cmds::subscribed_ping(&args))
                } else {
                    None
                };
                let quick = quick.or_else(|| conn_cmds::by_ref(cmd, &args));
                let for_monitor = (self.server.monitors.active()
                    && !cmd.cmd.has(flags::ADMIN | flags::SKIP_MONITOR))
                .then(|| args.clone());
                let (r, args_for_log) = match quick {
                    Some(r) => (Some(r), Some(args)),
                    None => {
                        let args_for_log = ((self.server.slowlog.enabled()
                            || commands::full_name(cmd.id).starts_with("config|"))
                            && !cmd.cmd.has(flags::SKIP_SLOWLOG))
                        .then(|| args.clone());
                        let r = if multi::owns(cmd) {
                            multi::dispatch(self, cmd, args).await
                        } else {
                            conn_cmds::dispatch(self, cmd, args).await
                        };
                        (r, args_for_log)
                    }
                };
                let failures = match &r {
                    Some(Reply::Error(e)) => {
                        self.server.errors.record(e);
                        1
                    }
                    Some(_) => 0,
                    // Appended already: a script's reply, whose errors its run counted.
                    None => match self.script_failures.take() {
                        Some(n) => n,
                        None => match self.out.get(mark..).and_then(|o| o.strip_prefix(b"-")) {
                            Some(line) => {
                                let end =
                                    line.iter().position(|&b| b == b'\r').unwrap_or(line.len());
                                self.server
                                    .errors
                                    .record(&String::from_utf8_lossy(&line[..end]));
                                1
                            }
                            None => 0,
                        },
                    },
                };
                let usec = started.elapsed().as_micros() as u64;
                let server = &self.server;
                server
                    .conn_stats
                    .record(cmd.id, usec, failures, server.latency_tracking());
                if usec >= server.notable_usec() {
                    server.latency.command(cmd.cmd.has(flags::FAST), usec);
                }
                if let Some(args) = for_monitor {
                    self.monitored(&args);
                }
                let logged = args_for_log.filter(|_| self.server.slowlog.is_slow(usec));
                if let Some(args_for_log) = logged {
                    let info = self.info.clone();
                    self.server.slowlog.push(&args_for_log, usec, || Caller {
                        addr: info.addr.to_string(),
                        name: info.name.lock().map(|n| n.clone()).unwrap_or_default(),
                    });
                }
                // Messages queued while it ran (a PUBLISH to this very client, a script's)
                // go before its reply, as Redis queues them before it; confirmations placed
                // their own.
                if let Some(subs) = self.subs.as_mut() {
                    if !pubsub_cmds::is_subscription(cmd) {
                        let tail = self.out.split_off(mark.min(self.out.len()));
                        subs.drain(self.resp, &mut self.out);
                        self.out.unsplit(tail);
                    }
                }
                if let Some(r) = r {
                    r.encode(self.resp, &mut self.out);
                }
            }
        }
    }
}

fn woke_by(w: super::client::Wake) -> Woke {
    match w {
        super::client::Wake::Killed => Woke::Read(0),
        super::client::Wake::Pushed => Woke::Pushed,
    }
}

/// The command a refused request names, if it exists (for its `rejected_calls`).
fn named(args: &[Bytes]) -> Option<CmdRef> {
    let top = commands::find(args.first()?)?;
    if top.cmd.subcommands.is_empty() || args.len() < 2 {
        return Some(top);
    }
    commands::find_sub(top, &args[1])
}

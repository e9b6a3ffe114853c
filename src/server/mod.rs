//! The server: shared state, the listener, and start-up/shutdown.
//!
//! Shutdown order (SHUTDOWN, SIGTERM, SIGINT):
//! 1. report not-ready on /readyz;
//! 2. stop accepting connections;
//! 3. let in-flight units finish: each shard's stop message queues behind the work already
//!    sent to it; wait for the shard threads up to `shutdown-timeout` seconds;
//! 4. exit with status 0.

pub mod acl;
pub mod admin;
pub mod blocking;
pub mod client;
pub(crate) mod conn_cmds;
mod conn_gates;
pub mod conn_modes;
pub mod connection;
pub mod introspect;
pub mod lolwut;
pub mod migrate;
pub mod monitor;
pub mod multi;
pub mod pause;
pub mod pubsub;
pub(crate) mod pubsub_cmds;
pub mod tracking;

use crate::config::Config;
use crate::shard::{self, ShardHandle};
use crate::slot::SlotMap;
use arc_swap::ArcSwap;
use client::Clients;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// The reply to a write that needs memory while used memory is over `maxmemory`.
pub const OOM_ERR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

pub struct Server {
    config: ArcSwap<Config>,
    /// Settings read on every request or read, mirrored from `config` whenever it changes.
    hot: HotConfig,
    pub slots: SlotMap,
    /// Cluster mode's topology; `None` in standalone mode (src/cluster).
    pub cluster: Option<crate::cluster::Topology>,
    /// Links to the other cluster nodes, for Pub/Sub (set once serving, with several nodes).
    pub bus: std::sync::OnceLock<crate::cluster::bus::Bus>,
    pub shards: Vec<ShardHandle>,
    /// Script registry and per-shard script run state.
    pub scripting: crate::scripting::Scripting,
    pub clients: Clients,
    /// Who listens to which Pub/Sub channels and patterns (`pubsub`).
    pub pubsub: pubsub::PubSub,
    /// Client-side caching: tracking clients, BCAST prefixes (`tracking`).
    pub tracking: tracking::Tracking,
    /// MONITOR clients (`monitor`).
    pub monitors: monitor::Monitors,
    /// Keys deleted by eviction under `maxmemory` (INFO `evicted_keys`; `shard::evict`).
    pub evicted_keys: AtomicU64,
    pub stats: ServerStats,
    pub started: Instant,
    pub started_unix_ms: u64,
    pub run_id: String,
    pub port: u16,
    effects_wanted: AtomicBool,
    pub shutdown: tokio::sync::Notify,
    /// Clients waiting in blocking commands, per key (`blocking`).
    pub blocked: blocking::Blocked,
    /// CLIENT PAUSE (`pause`).
    pub pause: pause::Pause,
    /// Statistics of commands answered by connections (PING, MULTI, CONFIG …); shard commands
    /// count on their shard. INFO commandstats sums both.
    pub conn_stats: shard::ShardStats,
    /// Error replies by code (INFO errorstats).
    pub errors: shard::ErrorStats,
    /// Cleared by DEBUG SET-ACTIVE-EXPIRE 0: shards then expire keys only when touched.
    pub active_expire: AtomicBool,
    /// Counters with no better owner (scripts, replication), exported by `metrics`.
    pub counters: crate::metrics::Counters,
    /// SLOWLOG's entries and threshold.
    pub slowlog: admin::slowlog::SlowLog,
    /// The latency monitor's events and threshold (LATENCY; per-command histograms live in
    /// the shards' statistics).
    pub latency: Arc<admin::latency::Monitor>,
    /// True once shards run and data is loaded; false again when shutting down.
    ready: AtomicBool,
    /// The append-only log's shared state, once it is on.
    pub aof: std::sync::OnceLock<Arc<crate::persistence::aof::Shared>>,
    /// The effect stream, followers and the leader link (src/replication).
    pub repl: crate::replication::Replication,
    /// Snapshot and log state: saves, rewrites, load progress (src/persistence).
    pub persist: crate::persistence::State,
}

impl Server {
    /// The current configuration (cheap: one atomic load).
    pub fn config(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// Replaces the configuration (CONFIG SET).
    pub fn update_config(&self, f: impl FnOnce(&mut Config)) {
        let mut c = (**self.config.load()).clone();
        f(&mut c);
        self.slowlog.configure(&c);
        self.latency.configure(&c);
        self.hot.configure(&c);
        self.repl.configure(&c);
        self.config.store(Arc::new(c));
    }

    /// `latency-tracking`: whether calls go into their command's latency histogram.
    #[inline]
    pub fn latency_tracking(&self) -> bool {
        self.hot.latency_tracking.load(Relaxed)
    }

    /// The lower of the slow log's and the latency monitor's thresholds in microseconds
    /// (`u64::MAX` when both are off): a call at least this long needs a closer look.
    #[inline]
    pub fn notable_usec(&self) -> u64 {
        self.hot.notable_usec.load(Relaxed)
    }

    /// `timeout` in seconds (0: none), without loading the configuration.
    pub fn client_timeout(&self) -> u64 {
        self.hot.timeout.load(Relaxed)
    }

    /// `lua-memory-limit` in bytes (0: none) and `busy-reply-threshold`, as every script run
    /// reads them, without loading the configuration.
    pub fn script_limits(&self) -> (u64, std::time::Duration) {
        let ms = self.hot.busy_reply_threshold_ms.load(Relaxed);
        (
            self.hot.lua_memory_limit.load(Relaxed),
            std::time::Duration::from_millis(ms),
        )
    }

    /// The LFU counter settings of a unit starting at `now_ms`, when an LFU maxmemory policy
    /// is selected.
    pub fn lfu_at(&self, now_ms: u64) -> Option<crate::keyspace::Lfu> {
        self.hot.lfu.load(Relaxed).then(|| crate::keyspace::Lfu {
            minutes: (now_ms / 60_000) as u16,
            log_factor: self.hot.lfu_log_factor.load(Relaxed) as u32,
            decay_time: self.hot.lfu_decay_time.load(Relaxed) as u32,
        })
    }

    /// The single-slot rule for flagged scripts: cluster mode, or `single-slot-scripts: always`.
    /// The keyspace notification flags in effect (0: none are published).
    #[inline]
    /// `tracking-table-max-keys` (0: no limit).
    pub fn tracking_max_keys(&self) -> u64 {
        self.hot.tracking_max_keys.load(Relaxed)
    }

    pub fn notify_flags(&self) -> u32 {
        self.hot.notify.load(Relaxed)
    }

    pub fn single_slot_scripts(&self) -> bool {
        self.cluster.is_some() || self.hot.single_slot_scripts.load(Relaxed)
    }

    /// Under an evicting policy, whether memory is within 1/64th of `maxmemory` (or over it):
    /// a write then first evicts down to `eviction_target` (`shard::evict`). The margin keeps
    /// a command's own allocations (a script's compilation) from tipping it over the limit,
    /// and the gap between the two marks lets many writes share one eviction pass.
    pub fn should_evict(&self) -> bool {
        let max = self.hot.maxmemory.load(Relaxed);
        max > 0
            && self.hot.evicting.load(Relaxed)
            && !self.repl.is_follower()
            && crate::allocator::used() > max - max / 64
    }

    /// Whether writes that need memory must be refused: `maxmemory` is set and the bytes in
    /// live allocations (src/allocator.rs) exceed it. Followers obey their leader, not their
    /// own limit.
    pub fn oom(&self) -> bool {
        let max = self.hot.maxmemory.load(Relaxed);
        max > 0 && crate::allocator::used() > max && !self.repl.is_follower()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Relaxed);
    }

    /// Seconds since start, the clock of OBJECT IDLETIME.
    pub fn clock_secs(&self) -> u32 {
        self.clock_secs_at(Instant::now())
    }

    /// The LRU clock at `t`.
    pub fn clock_secs_at(&self, t: Instant) -> u32 {
        t.saturating_duration_since(self.started).as_secs() as u32
    }

    /// Whether anything consumes effects (followers, the append-only log).
    pub fn effects_wanted(&self) -> bool {
        self.effects_wanted.load(Relaxed)
    }

    /// From now on units collect effects (a follower attached, or the log is on). Never turned
    /// off again: a unit that reads it as set must find its effects consumed.
    pub fn want_effects(&self) {
        self.effects_wanted.store(true, Relaxed);
    }

    /// Hands a unit's effects to the effect stream.
    pub fn publish_effects(&self, effects: Vec<crate::commands::Effect>) {
        self.repl.stream.publish(&effects);
    }

    /// The shards a command needs, ascending. Keyspace-wide commands need all of them; a
    /// command without keys runs on shard 0.
    pub fn route(&self, cmd: &crate::commands::Command, args: &[bytes::Bytes]) -> Vec<usize> {
        let mut out = Vec::with_capacity(1);
        self.route_into(cmd, args, &mut out);
        out
    }

    /// [`Server::route`] into a reused buffer (cleared first): the connection's hot path
    /// routes every command and should not allocate for it.
    pub fn route_into(
        &self,
        cmd: &crate::commands::Command,
        args: &[bytes::Bytes],
        out: &mut Vec<usize>,
    ) {
        out.clear();
        // One shard owns every key: nothing to hash.
        if self.shards.len() == 1 {
            out.push(0);
            return;
        }
        if cmd.needs_all_shards(args) {
            out.extend(0..self.shards.len());
            return;
        }
        for i in cmd.key_indices(args) {
            let s = self.slots.shard_of_key(&args[i]).index();
            if !out.contains(&s) {
                out.push(s);
            }
        }
        if out.is_empty() {
            out.push(0);
        }
        out.sort_unstable();
    }
}

/// The used memory an eviction pass brings memory down to: `maxmemory` less 1/32nd (it
/// starts at 1/64th below, see `Server::should_evict`).
pub fn eviction_target(max: u64) -> u64 {
    max - max / 32
}

/// A running server.
pub struct Running {
    pub server: Arc<Server>,
    pub addr: std::net::SocketAddr,
    /// Listeners on the other `bind` addresses (same port as `addr`).
    pub more_listeners: Vec<TcpListener>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the shard threads (step 3 of the shutdown order) and waits for them.
    pub fn join(self) {
        for s in &self.server.shards {
            let _ = s.tx.send(shard::ShardMsg::Stop);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Binds the listener, starts the shards and serves connections until shutdown is notified.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let (mut running, listener) = start(config).await?;
    let server = running.server.clone();
    let cfg = server.config();
    // The HTTP side first, so /readyz answers not-ready while the data loads.
    if cfg.metrics_port != 0 {
        let l = TcpListener::bind((cfg.metrics_bind, cfg.metrics_port)).await?;
        let addr = l.local_addr()?;
        tracing::info!(%addr, "metrics listening");
        // A stdout line of its own (before the RESP one), for scripts and tests.
        println!("luagate metrics listening on {addr}");
        tokio::spawn(crate::metrics::serve_http(server.clone(), l));
    }
    // Clients are accepted from here on; until the data is loaded, commands other than those
    // Redis serves while loading (INFO, CONFIG, CLIENT …) get -LOADING.
    let loading = &server.persist.progress.loading;
    loading.store(true, Relaxed);
    let mut accepts: Vec<_> = std::iter::once(listener)
        .chain(std::mem::take(&mut running.more_listeners))
        .map(|l| tokio::spawn(accept_loop(server.clone(), l)))
        .collect();
    // A cluster replica follows the primary its `cluster-nodes` entry names.
    let primary = server.cluster.as_ref().and_then(|t| {
        let p = &t.nodes[t.me().primary?];
        Some((p.host.clone(), p.port))
    });
    let leader = primary.or_else(|| {
        cfg.replicaof
            .as_deref()
            .and_then(crate::config::parse_host_port)
    });
    // The snapshot or the log.
    let loaded = crate::persistence::start(&server, leader.is_some()).await;
    loading.store(false, Relaxed);
    if let Err(e) = loaded {
        tracing::error!(error = %e, "cannot start");
        return Err(std::io::Error::other(e));
    }
    tracing::info!(addr = %running.addr, shards = server.shards.len(), "luagate ready to accept connections");
    // Pub/Sub messages reach the other cluster nodes over these links (the password the
    // nodes share: masterauth, else requirepass).
    if let Some(topo) = server.cluster.as_ref().filter(|t| t.nodes.len() > 1) {
        let password = cfg.masterauth.clone().or_else(|| cfg.requirepass.clone());
        let _ = server
            .bus
            .set(crate::cluster::bus::Bus::start(topo, password));
    }
    if let Some((host, port)) = leader {
        crate::replication::follower::start(&server, host, port).await;
    }
    server.set_ready(true);
    // Signal handlers go in before anyone learns we listen: a SIGTERM sent right after the
    // line below must shut down gracefully, not kill the process.
    let signals = termination_signal();
    accepts.push(tokio::spawn(crate::persistence::save::save_points(
        server.clone(),
    )));
    // One line on stdout for scripts and tests that start us on port 0.
    println!("luagate listening on {}", running.addr);
    tokio::select! {
        _ = server.shutdown.notified() => {}
        _ = signals => {}
    }
    // Steps 1-2: not ready; the accept loops (and save points) stop.
    for a in accepts {
        a.abort();
    }
    server.set_ready(false);
    // Read now, not at start: CONFIG SET may have changed it.
    let deadline = std::time::Duration::from_secs(server.config().shutdown_timeout);
    let join = tokio::task::spawn_blocking(move || running.join());
    if tokio::time::timeout(deadline, join).await.is_err() {
        tracing::warn!("in-flight work did not finish within shutdown-timeout; exiting anyway");
    }
    crate::persistence::on_exit(&server);
    Ok(())
}

/// Installs the SIGTERM and SIGINT handlers now; the future resolves on either (never, if they
/// cannot be installed).
fn termination_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received, shutting down");
    }
}

/// Cluster mode's topology, with this node at `cluster-announce-ip`/`-port` (default: the
/// first bind address and the port it listens on).
fn cluster_topology(
    config: &Config,
    port: u16,
) -> Result<Option<crate::cluster::Topology>, String> {
    if config.cluster_enabled != "yes" {
        return Ok(None);
    }
    let bind = config.bind[0];
    let host = match &config.cluster_announce_ip {
        Some(h) => h.clone(),
        None => bind.to_string(),
    };
    let port = match config.cluster_announce_port {
        0 => port,
        p => p,
    };
    let known = config.cluster_announce_ip.is_some() || !bind.is_unspecified();
    crate::cluster::Topology::new(&config.cluster_nodes, (&host, port), known).map(Some)
}

/// Binds the listener and starts the shard threads (nothing is loaded yet: `serve` loads the
/// snapshot or log); the caller drives [`accept_loop`].
pub async fn start(config: Config) -> std::io::Result<(Running, TcpListener)> {
    let addr = std::net::SocketAddr::new(config.bind[0], config.port);
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Every other address listens on the same port (the one chosen for port 0 included).
    let mut more_listeners = Vec::new();
    for ip in config.bind.iter().skip(1) {
        let addr = std::net::SocketAddr::new(*ip, local.port());
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        more_listeners.push(l);
    }
    let cluster = cluster_topology(&config, local.port()).map_err(std::io::Error::other)?;
    let n = config.shard_count();
    let (handles, receivers) = shard::channels(n, config.databases);
    let server = Arc::new(Server {
        slots: SlotMap::new(n),
        cluster,
        bus: std::sync::OnceLock::new(),
        shards: handles,
        scripting: crate::scripting::Scripting::new(n),
        clients: Clients::default(),
        pubsub: pubsub::PubSub::default(),
        tracking: tracking::Tracking::default(),
        monitors: monitor::Monitors::default(),
        evicted_keys: AtomicU64::new(0),
        stats: ServerStats::default(),
        started: Instant::now(),
        started_unix_ms: crate::clock::unix_ms(),
        run_id: (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect(),
        port: local.port(),
        effects_wanted: AtomicBool::new(false),
        shutdown: tokio::sync::Notify::new(),
        blocked: blocking::Blocked::default(),
        pause: pause::Pause::default(),
        conn_stats: shard::ShardStats::new(0),
        errors: shard::ErrorStats::default(),
        active_expire: AtomicBool::new(true),
        counters: crate::metrics::Counters::default(),
        ready: AtomicBool::new(false),
        aof: std::sync::OnceLock::new(),
        persist: crate::persistence::State::new(),
        repl: crate::replication::Replication::new(&config),
        slowlog: admin::slowlog::SlowLog::new(&config),
        latency: Arc::new(admin::latency::Monitor::new(&config)),
        hot: HotConfig::new(&config),
        config: ArcSwap::from_pointee(config),
    });
    // Function libraries saved under `dir` come back before the first client; a damaged file
    // stops the start-up instead of silently losing libraries.
    let cfg = server.config();
    let file = crate::functions::persist::path_in(&cfg.dir);
    match server.scripting.functions.open(file, cfg.lua_memory_limit) {
        Ok(n) if n > 0 => tracing::info!(libraries = n, "function libraries loaded"),
        Ok(_) => {}
        Err(e) => return Err(std::io::Error::other(e)),
    }
    let threads = receivers
        .into_iter()
        .enumerate()
        .map(|(i, rx)| shard::spawn(server.clone(), i, rx))
        .collect();
    crate::allocator::mark_startup();

    Ok((
        Running {
            server,
            addr: local,
            more_listeners,
            threads,
        },
        listener,
    ))
}

pub async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        server.stats.connections_received.fetch_add(1, Relaxed);
        if server.clients.len() >= server.config().maxclients {
            server.stats.rejected_connections.fetch_add(1, Relaxed);
            use tokio::io::AsyncWriteExt;
            let mut s = stream;
            let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
            continue;
        }
        let _ = stream.set_nodelay(true);
        // tcp-keepalive, as Redis applies it: probes after this many idle seconds.
        let keepalive = server.config().tcp_keepalive;
        if keepalive > 0 {
            let ka =
                socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(keepalive));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let server = server.clone();
        tokio::spawn(async move {
            connection::handle(server, stream, peer).await;
        });
    }
}

/// Configuration read on the data path, as plain atomics: loading the whole `Config` from its
/// `ArcSwap` costs a few dozen instructions (about 2% of a pipelined INCR), reading one of
/// these a relaxed load.
struct HotConfig {
    maxmemory: AtomicU64,
    timeout: AtomicU64,
    lua_memory_limit: AtomicU64,
    busy_reply_threshold_ms: AtomicU64,
    single_slot_scripts: AtomicBool,
    /// The maxmemory policy evicts (anything but `noeviction`).
    evicting: AtomicBool,
    /// An LFU maxmemory policy is selected, with `lfu-log-factor` and `lfu-decay-time`.
    lfu: AtomicBool,
    lfu_log_factor: AtomicU64,
    lfu_decay_time: AtomicU64,
    /// `notify-keyspace-events`, parsed (0 when nothing is published).
    notify: std::sync::atomic::AtomicU32,
    latency_tracking: AtomicBool,
    /// See [`Server::notable_usec`].
    notable_usec: AtomicU64,
    /// `tracking-table-max-keys`.
    tracking_max_keys: AtomicU64,
}

impl HotConfig {
    fn new(c: &Config) -> HotConfig {
        let hot = HotConfig {
            maxmemory: AtomicU64::new(0),
            timeout: AtomicU64::new(0),
            lua_memory_limit: AtomicU64::new(0),
            busy_reply_threshold_ms: AtomicU64::new(0),
            single_slot_scripts: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            lfu: AtomicBool::new(false),
            lfu_log_factor: AtomicU64::new(10),
            lfu_decay_time: AtomicU64::new(1),
            notify: std::sync::atomic::AtomicU32::new(0),
            latency_tracking: AtomicBool::new(true),
            notable_usec: AtomicU64::new(u64::MAX),
            tracking_max_keys: AtomicU64::new(0),
        };
        hot.configure(c);
        hot
    }

    fn configure(&self, c: &Config) {
        self.maxmemory.store(c.maxmemory, Relaxed);
        self.timeout.store(c.timeout, Relaxed);
        self.lua_memory_limit.store(c.lua_memory_limit, Relaxed);
        self.busy_reply_threshold_ms
            .store(c.busy_reply_threshold_ms, Relaxed);
        self.single_slot_scripts
            .store(c.single_slot_scripts, Relaxed);
        self.evicting
            .store(c.maxmemory_policy != "noeviction", Relaxed);
        self.lfu
            .store(c.maxmemory_policy.ends_with("-lfu"), Relaxed);
        self.latency_tracking
            .store(c.latency_tracking == "yes", Relaxed);
        let slow = match c.slowlog_log_slower_than {
            t if t >= 0 && c.slowlog_max_len > 0 => t as u64,
            _ => u64::MAX,
        };
        let monitor = match c.latency_monitor_threshold {
            0 => u64::MAX,
            ms => ms.saturating_mul(1000),
        };
        self.notable_usec.store(slow.min(monitor), Relaxed);
        let knob = |name: &str, default: u64| {
            c.knobs
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        self.lfu_log_factor
            .store(knob("lfu-log-factor", 10), Relaxed);
        self.lfu_decay_time
            .store(knob("lfu-decay-time", 1), Relaxed);
        self.tracking_max_keys
            .store(knob("tracking-table-max-keys", 1_000_000), Relaxed);
        let notify = c
            .knobs
            .get("notify-keyspace-events")
            .and_then(|v| crate::commands::notify::parse(v.as_bytes()))
            .unwrap_or(0);
        self.notify
            .store(crate::commands::notify::effective(notify), Relaxed);
    }
}

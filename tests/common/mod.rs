//! Test harness: starts the real `luagate` binary (or a reference `redis-server`) on a free
//! loopback port, and talks to it with raw RESP bytes or the `redis` crate.
#![allow(dead_code)]

pub mod proxy;
pub mod resp;
pub mod streams;
pub mod transcript;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub dir: Option<std::path::PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Proc {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }
}

/// Starts luagate with extra flags (`--port 0 --metrics-port 0` are added) and waits until it
/// listens.
pub fn luagate(extra: &[&str]) -> Proc {
    try_luagate(extra).unwrap_or_else(|line| panic!("luagate did not report its port: {line:?}"))
}

/// [`luagate`], or the first line it printed if it did not start (say, its `--port` was
/// taken meanwhile).
pub fn try_luagate(extra: &[&str]) -> Result<Proc, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_luagate"));
    // No metrics listener unless a test asks (`extra` comes later and wins): concurrent
    // servers would all want the default metrics port.
    // A fresh data directory per server (function libraries, logs), so concurrent tests never
    // share files; a test that restarts a server on its own directory passes `--dir` itself.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "luagate-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("test data dir");
    cmd.args([
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--metrics-port",
        "0",
        "--dir",
    ])
    .arg(&dir)
    .args(extra);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("LUAGATE_LOG", "warn");
    let mut child = cmd.spawn().expect("spawning luagate");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader
        .read_line(&mut line)
        .expect("reading the listening line");
    let Some(port) = listening_port(&line) else {
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        return Err(line);
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    Ok(Proc {
        child,
        port,
        dir: Some(dir),
    })
}

/// Three luagate nodes on free ports: 0 serves slots 0-8191, 1 serves 8192-16383, 2 is a
/// replica of 0. Retried if a port was taken before its node bound it.
pub fn three_cluster_nodes() -> (Vec<Proc>, Vec<u16>) {
    for _ in 0..5 {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let layout = format!(
            "127.0.0.1:{} 0-8191, 127.0.0.1:{} 8192-16383, 127.0.0.1:{} replica-of 127.0.0.1:{}",
            ports[0], ports[1], ports[2], ports[0]
        );
        let nodes: Vec<Result<Proc, String>> = ports
            .iter()
            .map(|p| {
                try_luagate(&[
                    "--shards",
                    "2",
                    "--port",
                    &p.to_string(),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-nodes",
                    &layout,
                ])
            })
            .collect();
        if nodes.iter().all(Result::is_ok) {
            return (nodes.into_iter().map(Result::unwrap).collect(), ports);
        }
    }
    panic!("could not start three cluster nodes");
}

/// The port of a `luagate [metrics ]listening on ADDR:PORT` line.
pub fn listening_port(line: &str) -> Option<u16> {
    line.trim().rsplit(':').next()?.parse().ok()
}

/// Starts luagate with `n` shards.
pub fn luagate_shards(n: usize) -> Proc {
    luagate(&["--shards", &n.to_string()])
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Path of the reference server, if installed (`.ci/run` installs Debian's redis-server).
pub fn redis_server_path() -> Option<String> {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    None
}

/// Starts a reference redis-server (no persistence) and waits until it answers PING.
pub fn redis_reference(extra: &[&str]) -> Proc {
    let bin = redis_server_path()
        .expect("redis-server is required for differential tests (bash .ci/run installs it)");
    for _ in 0..20 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("luagate-ref-{port}"));
        let _ = std::fs::create_dir_all(&dir);
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawning redis-server");
        let p = Proc {
            child,
            port,
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mine = format!("process_id:{}\r\n", p.child.id());
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"PING\r\n");
                let mut b = [0u8; 7];
                if s.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n" {
                    // The port may have gone to another test's server in the meantime (ours
                    // then failed to bind): only our own process will do.
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                    let mut r = Raw {
                        stream: s,
                        buf: Vec::new(),
                    };
                    r.send(b"INFO server\r\n");
                    let info = r.read_reply().unwrap_or_default();
                    if String::from_utf8_lossy(&info).contains(&mine) {
                        return p;
                    }
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("redis-server did not start");
}

/// A raw RESP connection that sends commands and reads whole replies as bytes.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.set_nodelay(true).ok();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends one command as a multibulk.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        self.send(&encode_cmd(args));
    }

    /// Sends a command and returns its reply's exact bytes.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send_cmd(&a);
        self.read_reply().expect("reply")
    }

    /// Like `cmd`, returning the reply as a lossy string (handy in assertions).
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Reads one complete reply; `None` if the server closed the connection.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = reply_len(&self.buf) {
                let rest = self.buf.split_off(n);
                return Some(std::mem::replace(&mut self.buf, rest));
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True once the server has closed the connection (reads hit EOF).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0))
    }
}

pub fn encode_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 reply in `b`, if it is complete.
pub fn reply_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = &b[1..line_end];
    let after = line_end + 2;
    let num = || std::str::from_utf8(head).ok()?.parse::<i64>().ok();
    match *b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(b[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += reply_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Splits an array reply into its elements' raw bytes (None if not an array).
pub fn array_items(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    if !matches!(reply.first(), Some(b'*') | Some(b'~')) {
        return None;
    }
    let line_end = reply.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&reply[1..line_end])
        .ok()?
        .parse()
        .ok()?;
    let mut pos = line_end + 2;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let l = reply_len(&reply[pos..])?;
        out.push(reply[pos..pos + l].to_vec());
        pos += l;
    }
    Some(out)
}

/// Differential testing: the same commands against luagate and a reference redis-server,
/// replies compared byte for byte.
pub struct Diff {
    pub lg: Proc,
    pub reference: Proc,
    pub a: Raw,
    pub b: Raw,
}

impl Diff {
    /// luagate with 4 shards (so multi-key commands cross shards) against redis-server.
    pub fn new() -> Diff {
        Diff::with_flags(&["--shards", "4"], &[])
    }

    pub fn with_flags(lg_flags: &[&str], ref_flags: &[&str]) -> Diff {
        let lg = luagate(lg_flags);
        let reference = redis_reference(ref_flags);
        let a = lg.raw();
        let b = reference.raw();
        Diff {
            lg,
            reference,
            a,
            b,
        }
    }

    /// Runs one command on both servers and returns (luagate, redis) replies.
    pub fn both(&mut self, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
        (self.a.cmd(args), self.b.cmd(args))
    }

    /// COMMAND INFO of `name` on both: the first `fields` of its entry must be the same bytes
    /// (name, arity, flags, key positions, step at 6; ACL categories at 7). The rest (tips,
    /// key specs, subcommands) is coarser here than in Redis.
    #[track_caller]
    pub fn check_command_info(&mut self, name: &str, fields: usize) {
        let (a, b) = self.both(&["COMMAND", "INFO", name]);
        let head = |r: &[u8]| {
            let outer = array_items(r).expect("array");
            let inner = array_items(&outer[0]).expect("entry");
            String::from_utf8_lossy(&inner[..fields].concat()).into_owned()
        };
        assert_eq!(head(&a), head(&b), "COMMAND INFO {name}");
    }

    /// Runs one command on both and asserts identical bytes; returns the reply.
    #[track_caller]
    pub fn check(&mut self, args: &[&str]) -> Vec<u8> {
        let (x, y) = self.both(args);
        assert_eq!(
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(&y),
            "luagate (left) and redis-server (right) differ on {args:?}"
        );
        x
    }

    /// `check` for every command in order.
    #[track_caller]
    pub fn check_all(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            self.check(c);
        }
    }

    /// `check` for each line of `script`: a command whose words are split on spaces (so no
    /// argument holds one); empty lines and `#` comments are skipped.
    #[track_caller]
    pub fn check_lines(&mut self, script: &str) {
        for line in script.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            self.check(&words);
        }
    }

    /// Like `check`, but an array reply's elements may come in any order (SMEMBERS, KEYS…).
    #[track_caller]
    pub fn check_unordered(&mut self, args: &[&str]) {
        let (x, y) = self.both(args);
        match (array_items(&x), array_items(&y)) {
            (Some(mut p), Some(mut q)) => {
                p.sort();
                q.sort();
                assert_eq!(p, q, "unordered replies differ on {args:?}");
            }
            _ => assert_eq!(
                String::from_utf8_lossy(&x),
                String::from_utf8_lossy(&y),
                "replies differ on {args:?}"
            ),
        }
    }
}

// ---- replication helpers (tests/replication*.rs) ----

/// A field of `INFO replication`.
pub fn info_field(r: &mut Raw, field: &str) -> Option<String> {
    let text = r.cmd_str(&["INFO", "replication"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Waits (bounded) until the follower is up and has applied everything the leader published.
pub fn wait_synced(leader: &mut Raw, follower: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lo = info_field(leader, "master_repl_offset");
        let up = info_field(follower, "master_link_status");
        let fo = info_field(follower, "slave_repl_offset");
        if up.as_deref() == Some("up") && lo.is_some() && lo == fo {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "follower did not catch up: leader {lo:?}, follower {up:?} {fo:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `DEBUG DIGEST` of a server (started with `--enable-debug-command yes`).
pub fn digest(r: &mut Raw) -> String {
    r.cmd_str(&["DEBUG", "DIGEST"])
}

/// `n` key names `{prefix}{i}` on pairwise different shards of a `shards`-shard server (the
/// first name found for each shard, in order of `i`).
pub fn keys_on_distinct_shards(prefix: &str, n: usize, shards: usize) -> Vec<String> {
    let map = luagate::slot::SlotMap::new(shards);
    let mut seen = Vec::new();
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| {
            let s = map.shard_of_key(k.as_bytes()).index();
            let new = !seen.contains(&s);
            seen.push(s);
            new
        })
        .take(n)
        .collect();
    assert_eq!(keys.len(), n, "no {n} keys on distinct shards of {shards}");
    keys
}

/// The first key named `{prefix}{i}` that lives on `shard` of a `shards`-shard server.
pub fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    let map = luagate::slot::SlotMap::new(shards);
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| map.shard_of_key(k.as_bytes()).index() == shard)
        .expect("a key for every shard")
}

/// Waits (bounded) until `INFO clients` counts `n` blocked clients, so what was sent to block
/// is waiting before a test goes on (a fixed sleep is only a guess on a loaded machine).
pub fn wait_blocked_clients(c: &mut Raw, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.cmd_str(&["INFO", "clients"]).contains(&want) {
        assert!(
            Instant::now() < deadline,
            "the server never counted {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A small deterministic generator (xorshift64*), so a failing random test reproduces from
/// its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[lo, hi)`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// Runs `scenario` on luagate (4 shards) and on redis-server; the transcripts must match.
pub fn on_both(scenario: impl Fn(&Proc) -> Vec<String>) -> Vec<String> {
    let lg = luagate_shards(4);
    let reference = redis_reference(&[]);
    let ours = scenario(&lg);
    let theirs = scenario(&reference);
    assert_eq!(
        ours, theirs,
        "luagate (left) and redis-server (right) differ"
    );
    ours
}

/// Makes the append-only log in `dir` worth compacting (3000 overwrites of one key), asks for
/// BGREWRITEAOF and waits (bounded) until the log has shrunk below half, which tells the
/// rewrite is done.
pub fn rewrite_log(r: &mut Raw, dir: &std::path::Path) {
    for i in 0..3000 {
        r.cmd(&["SET", "filler", &format!("{i:0>60}")]);
    }
    let log = dir.join("appendonly.aof");
    let before = std::fs::metadata(&log).expect("log").len();
    r.cmd(&["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(before) >= before / 2 {
        assert!(Instant::now() < deadline, "the log was not rewritten");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh, empty directory for a test's files, unique to this process and `tag` (the caller
/// removes it when done).
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("luagate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// luagate with 4 shards and DEBUG enabled (for DEBUG DIGEST), plus `extra` flags (a later
/// `--shards` wins).
pub fn luagate_debug(extra: &[&str]) -> Proc {
    let mut flags = vec!["--shards", "4", "--enable-debug-command", "yes"];
    flags.extend_from_slice(extra);
    luagate(&flags)
}

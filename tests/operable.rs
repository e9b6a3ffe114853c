//! The operable server, against the real binary: the HTTP endpoints and the metric values they
//! expose (checked by `promtool check metrics`; replication's on a leader and its follower), configuration from file / environment / flags
//! and its errors, every example file in config/, CONFIG's luagate keys and REWRITE, and the
//! shutdown paths (SIGTERM, SHUTDOWN).

mod common;
#[path = "common/node.rs"]
mod node;

use common::Proc;
use node::{eventually, http, scrape, start, Node};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The value of the sample `series` (`name{labels}` exactly as exposed), if present.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
}

/// Sum of every sample of family `name` (any labels).
fn family_sum(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| {
            l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b'{') | Some(b' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `promtool check metrics` on an exposition; panics if promtool is missing (the test
/// command installs it: scripts/deps.sh).
fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool is required (Debian package `prometheus`; bash scripts/deps.sh installs it)",
        );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for the process to exit (bounded) and returns its exit code.
fn exit_code(p: &mut Proc, secs: u64) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = p.child.try_wait() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn health_endpoints() {
    let node = start(&["--shards", "2"], &[]);
    assert_eq!(
        http(node.metrics, "GET", "/healthz"),
        Some((200, "ok\n".into()))
    );
    assert_eq!(
        http(node.metrics, "GET", "/readyz"),
        Some((200, "ready\n".into()))
    );
    assert_eq!(http(node.metrics, "GET", "/nope").map(|r| r.0), Some(404));
    assert_eq!(
        http(node.metrics, "POST", "/metrics").map(|r| r.0),
        Some(405)
    );
    assert_eq!(
        http(node.metrics, "HEAD", "/healthz"),
        Some((200, String::new()))
    );
}

#[test]
fn metric_values_follow_commands_and_pass_promtool() {
    let node = start(&["--shards", "2"], &[]);
    let mut c = node.proc.raw();
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["SET", "e", "v", "EX", "100"]);
    c.cmd(&["GET", "k1"]);
    c.cmd(&["INCR", "k1"]); // fails: not an integer
    c.cmd(&["EVAL", "return 1", "0"]);
    c.cmd(&["EVAL", "return redis.call('nope')", "0"]);
    let body = scrape(&node);
    assert_eq!(
        sample(&body, r#"luagate_commands_processed_total{command="set"}"#),
        Some(21.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, r#"luagate_commands_processed_total{command="get"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, r#"luagate_commands_failed_total{command="incr"}"#),
        Some(1.0)
    );
    // The failed INCR's error, by its code (as INFO errorstats counts it).
    assert!(sample(&body, r#"luagate_errors_total{code="ERR"}"#).is_some_and(|n| n >= 1.0));
    assert_eq!(
        sample(&body, r#"luagate_commands_processed_total{command="eval"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &body,
            r#"luagate_command_duration_seconds_count{command="set"}"#
        ),
        Some(21.0)
    );
    assert_eq!(
        sample(
            &body,
            r#"luagate_scripts_executions_total{origin="eval",outcome="ok"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &body,
            r#"luagate_scripts_executions_total{origin="eval",outcome="error"}"#
        ),
        Some(1.0)
    );
    assert_eq!(sample(&body, "luagate_scripts_cached"), Some(2.0));
    assert_eq!(sample(&body, "luagate_ready"), Some(1.0));
    assert_eq!(sample(&body, "luagate_connections_current"), Some(1.0));
    assert!(sample(&body, "luagate_network_received_bytes_total").unwrap_or(0.0) > 0.0);
    assert!(sample(&body, "luagate_process_resident_memory_bytes").unwrap_or(0.0) > 0.0);
    assert!(family_sum(&body, "luagate_lua_memory_bytes") > 0.0);
    // The keyspace gauges follow the shards' cron (every 100 ms).
    let mut last = String::new();
    let settled = eventually(5, || {
        last = scrape(&node);
        family_sum(&last, "luagate_keyspace_keys") == 21.0
            && family_sum(&last, "luagate_keyspace_expiring_keys") == 1.0
    });
    assert!(
        settled,
        "keyspace gauges never reached 21 keys / 1 expiring:\n{last}"
    );
    promtool_check(&last);
}

/// Replication metrics on a leader and its follower: the same offsets on both (the follower
/// mirrors the leader's stream), the leader's follower count, lag and syncs served, and the
/// follower's link, which drops to 0 when the leader goes away.
#[test]
fn replication_metrics_follow_the_link() {
    let leader = start(&["--shards", "2"], &[]);
    let follower = start(&["--replicaof", &leader.proc.addr()], &[]);
    let linked = eventually(10, || {
        sample(&scrape(&follower), "luagate_replication_link_up") == Some(1.0)
    });
    assert!(linked, "the follower never linked");
    // Written after the full sync, so they travel down the stream.
    let mut c = leader.proc.raw();
    for i in 0..10 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let mut last = (String::new(), String::new());
    let synced = eventually(10, || {
        last = (scrape(&leader), scrape(&follower));
        let (l, f) = (&last.0, &last.1);
        let lo = sample(l, "luagate_replication_offset_bytes");
        lo.is_some_and(|o| o > 0.0)
            && lo == sample(f, "luagate_replication_offset_bytes")
            && sample(l, "luagate_replication_follower_lag_bytes") == Some(0.0)
    });
    assert!(synced, "offsets never met:\n{}\n{}", last.0, last.1);
    let (l, f) = &last;
    assert_eq!(sample(l, "luagate_replication_followers"), Some(1.0));
    assert_eq!(
        sample(l, r#"luagate_replication_syncs_total{kind="full"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(l, r#"luagate_replication_syncs_total{kind="partial"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(l, "luagate_replication_link_up"),
        None,
        "a leader has no link"
    );
    assert_eq!(sample(f, "luagate_replication_link_up"), Some(1.0));
    assert_eq!(sample(f, "luagate_replication_followers"), Some(0.0));
    promtool_check(l);
    promtool_check(f);
    drop(c);
    drop(leader);
    let down = eventually(10, || {
        sample(&scrape(&follower), "luagate_replication_link_up") == Some(0.0)
    });
    assert!(down, "the follower's link never went down");
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("luagate-operable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// A fresh, empty working directory for a server started without `--dir` (its data directory
/// is then `.`), so nothing left in the checkout can change how it starts.
fn empty_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("luagate-cwd-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("working dir");
    dir
}

/// Runs the binary expecting it to refuse to start; returns (exit code, stderr).
fn refused(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_luagate"))
        .current_dir(empty_dir("refused"))
        .args(["--port", "0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err)
                .ok();
            return (st.code().unwrap_or(-1), err);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("luagate started although it should have refused: {args:?}");
}

#[test]
fn config_file_errors_name_file_line_and_column() {
    let p = write_temp(
        "unknown.yaml",
        "port: 0\n# comment\nshards: 2\nno-such-key: 1\n",
    );
    let (code, err) = refused(&["--config", p.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(err.contains(p.to_str().unwrap()), "{err}");
    assert!(err.contains("line 4 column 1"), "{err}");
    assert!(err.contains("no-such-key"), "{err}");

    let p = write_temp("badvalue.yaml", "shards: 2\nbusy-reply-threshold: soon\n");
    let (code, err) = refused(&["--config", p.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("line 2 column"), "{err}");

    let p = write_temp("badenum.yaml", "log-format: xml\n");
    let (code, err) = refused(&["--config", p.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("log-format"), "{err}");

    let (code, err) = refused(&["--shards", "two"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("shards"), "{err}");
    let (code, err) = refused(&[], &[("LUAGATE_MAXCLIENTS", "many")]);
    assert_ne!(code, 0);
    assert!(err.contains("LUAGATE_MAXCLIENTS"), "{err}");
}

fn config_get(node: &Node, key: &str) -> String {
    let r = node.proc.raw().cmd_str(&["CONFIG", "GET", key]);
    r.lines().nth(4).unwrap_or_default().to_string()
}

#[test]
fn flags_and_environment_override_the_file() {
    let p = write_temp(
        "override.yaml",
        "busy-reply-threshold: 1234\nmaxclients: 77\ntimeout: 5\n",
    );
    let path = p.to_str().unwrap();
    let node = start(
        &["--config", path, "--maxclients", "88"],
        &[("LUAGATE_TIMEOUT", "9")],
    );
    assert_eq!(config_get(&node, "busy-reply-threshold"), "1234");
    assert_eq!(config_get(&node, "maxclients"), "88");
    assert_eq!(config_get(&node, "timeout"), "9");
    drop(node);
    // Flags also beat the environment.
    let node = start(
        &["--config", path, "--timeout", "3"],
        &[("LUAGATE_TIMEOUT", "9")],
    );
    assert_eq!(config_get(&node, "timeout"), "3");
    // LUAGATE_CONFIG names the file.
    drop(node);
    let node = start(&[], &[("LUAGATE_CONFIG", path)]);
    assert_eq!(config_get(&node, "maxclients"), "77");
}

#[test]
fn every_file_in_config_dir_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("config/") {
        let path = e.expect("entry").path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        luagate::config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    for name in ["default", "standalone", "sidecar", "leader", "follower"] {
        assert!(
            dir.join(format!("{name}.yaml")).exists(),
            "config/{name}.yaml missing"
        );
    }
    assert!(n >= 5);
}

#[test]
fn config_speaks_luagate_keys() {
    let node = start(&["--shards", "2"], &[]);
    let mut c = node.proc.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "lua-memory-limit", "64mb"]),
        "+OK\r\n"
    );
    assert_eq!(config_get(&node, "lua-memory-limit"), "67108864");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "single-slot-scripts", "always"]),
        "+OK\r\n"
    );
    assert_eq!(config_get(&node, "single-slot-scripts"), "always");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "slowlog-max-len", "5"]),
        "+OK\r\n"
    );
    assert_eq!(config_get(&node, "slowlog-max-len"), "5");
    assert_eq!(config_get(&node, "shards"), "2");
    for key in ["shards", "metrics-port", "log-format", "port"] {
        assert_eq!(
            c.cmd_str(&["CONFIG", "SET", key, "1"]),
            format!("-ERR CONFIG SET failed (possibly related to argument '{key}') - can't set immutable config\r\n")
        );
    }
    let got = c.cmd_str(&["CONFIG", "GET", "slowlog-*"]);
    assert!(got.starts_with("*4\r\n"), "{got}");
    assert_eq!(
        c.cmd_str(&["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
}

#[test]
fn config_rewrite_writes_the_running_values_back() {
    let p = write_temp("rewrite.yaml", "# keep me\nbusy-reply-threshold: 5000\n");
    let node = start(&["--config", p.to_str().unwrap()], &[]);
    let mut c = node.proc.raw();
    c.cmd(&[
        "CONFIG",
        "SET",
        "busy-reply-threshold",
        "250",
        "slowlog-log-slower-than",
        "-1",
    ]);
    assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(
        text.starts_with("# keep me\nbusy-reply-threshold: 250\n"),
        "{text}"
    );
    let back = luagate::config::load_file(&p).expect("rewritten file parses");
    assert_eq!(back.busy_reply_threshold_ms, 250);
    assert_eq!(back.slowlog_log_slower_than, -1);
}

fn sigterm(p: &Proc) {
    let pid = p.child.id() as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

#[test]
fn sigterm_turns_not_ready_then_exits_zero() {
    // A script that never ends keeps the shard busy, so shutdown waits out its deadline and
    // /readyz can be seen saying 503 meanwhile.
    let mut node = start(
        &[
            "--shards",
            "1",
            "--shutdown-timeout",
            "3",
            "--busy-reply-threshold",
            "100",
        ],
        &[],
    );
    let mut c = node.proc.raw();
    c.send(&common::encode_cmd(&[b"EVAL", b"while true do end", b"0"]));
    assert!(eventually(5, || node
        .proc
        .raw()
        .cmd_str(&["GET", "k"])
        .starts_with("-BUSY")));
    assert_eq!(http(node.metrics, "GET", "/readyz").map(|r| r.0), Some(200));
    sigterm(&node.proc);
    let saw_503 = eventually(3, || match http(node.metrics, "GET", "/readyz") {
        Some((503, _)) => true,
        None => true, // the listener already closed: not ready either
        _ => false,
    });
    assert!(saw_503, "/readyz stayed ready after SIGTERM");
    assert_eq!(exit_code(&mut node.proc, 20), Some(0));
    assert!(
        http(node.metrics, "GET", "/healthz").is_none(),
        "metrics port still open after exit"
    );
}

#[test]
fn sigterm_when_idle_exits_zero() {
    let mut node = start(&["--shards", "2"], &[]);
    node.proc.raw().cmd(&["SET", "a", "1"]);
    sigterm(&node.proc);
    assert_eq!(exit_code(&mut node.proc, 15), Some(0));
    assert!(TcpStream::connect(("127.0.0.1", node.proc.port)).is_err());
}

#[test]
fn shutdown_command_exits_zero() {
    let mut node = start(&["--shards", "2"], &[]);
    let mut c = node.proc.raw();
    c.cmd(&["SET", "a", "1"]);
    c.send(&common::encode_cmd(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(
        c.read_reply().is_none(),
        "SHUTDOWN should close the connection without a reply"
    );
    assert_eq!(exit_code(&mut node.proc, 15), Some(0));
}

/// `tcp-keepalive` is applied to client sockets (the kernel shows a keepalive timer).
#[test]
fn tcp_keepalive_is_applied_to_client_sockets() {
    let s = common::luagate(&["--tcp-keepalive", "120"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let filter = format!("( sport = :{} )", s.port);
    let out = std::process::Command::new("ss")
        .args(["-tno", "state", "established", &filter])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("timer:(keepalive,"),
        "no keepalive timer: {text}"
    );
}

/// CONFIG SET loglevel changes what the running server logs (slow-log entries are INFO lines,
/// hidden at `warning`).
#[test]
fn config_set_loglevel_takes_effect_live() {
    let log = std::env::temp_dir().join(format!("luagate-loglevel-{}.log", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_luagate"))
        .current_dir(empty_dir("loglevel"))
        .args([
            "--port",
            "0",
            "--metrics-port",
            "0",
            "--loglevel",
            "warning",
        ])
        .args(["--slowlog-log-slower-than", "0"])
        .env_remove("LUAGATE_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("listening line");
    let port = common::listening_port(&line).expect("port");
    let mut c = common::Raw::connect(port);
    c.cmd(&["INCR", "n"]);
    assert_eq!(c.cmd(&["CONFIG", "SET", "loglevel", "verbose"]), b"+OK\r\n");
    c.cmd(&["DECR", "n"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        !text.contains("INCR"),
        "logged before the level allowed it: {text}"
    );
    assert!(
        text.contains("DECR"),
        "not logged after CONFIG SET loglevel verbose: {text}"
    );
}

#[test]
fn every_bind_address_listens_on_the_same_port() {
    let p = common::luagate(&["--bind", "127.0.0.1 127.0.0.2"]);
    for ip in ["127.0.0.1", "127.0.0.2"] {
        let mut s = TcpStream::connect((ip, p.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+PONG\r\n", "on {ip}");
    }
}

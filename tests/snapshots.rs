//! Snapshot files and log rewrites: SAVE, BGSAVE [SCHEDULE], LASTSAVE, SHUTDOWN SAVE, INFO
//! persistence; start-up loads the snapshot (and seeds a new log from it); BGREWRITEAOF under
//! concurrent writes, script loads and function changes loses and repeats nothing.

mod common;
#[path = "common/node.rs"]
mod node;

use common::{luagate, Proc, Raw};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    common::scratch_dir(&format!("snap-{name}"))
}

fn node(dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--shards",
        "4",
        "--enable-debug-command",
        "yes",
        "--dir",
        dir.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    luagate(&args)
}

fn persistence_field(r: &mut Raw, field: &str) -> String {
    let text = r.cmd_str(&["INFO", "persistence"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn wait_field(r: &mut Raw, field: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while persistence_field(r, field) != want {
        assert!(Instant::now() < deadline, "{field} never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn int(reply: &str) -> i64 {
    reply
        .trim()
        .trim_start_matches(':')
        .parse()
        .expect("integer reply")
}

fn fill(r: &mut Raw) -> String {
    r.cmd(&["DEBUG", "POPULATE", "2000"]);
    r.cmd(&["RPUSH", "list", "a", "b", "c"]);
    r.cmd(&["HSET", "hash", "f", "v"]);
    r.cmd(&["SADD", "set", "x", "y"]);
    r.cmd(&["ZADD", "z", "1.5", "m", "-2", "n"]);
    r.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    r.cmd(&["SELECT", "7"]);
    r.cmd(&["SET", "in7", "x"]);
    r.cmd(&["SELECT", "0"]);
    let sha = r.cmd_str(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]);
    r.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=snaplib\nredis.register_function('snap_get', function(k) return redis.call('GET', k[1]) end)",
    ]);
    sha.lines().nth(1).expect("sha").to_string()
}

fn check_restored(r: &mut Raw, digest: &str, sha: &str) {
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd_str(&["EVALSHA", sha, "1", "ctr"]), ":1\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL", "snap_get", "1", "key:5"]),
        "$7\r\nvalue:5\r\n"
    );
    let ttl = int(&r.cmd_str(&["TTL", "ttl"]));
    assert!(ttl > 900 && ttl <= 1000, "expiry kept: {ttl}");
}

#[test]
fn save_and_bgsave_write_a_snapshot_that_start_up_loads() {
    let dir = tmpdir("save");
    let p = node(&dir, &[]);
    let mut r = p.raw();
    let sha = fill(&mut r);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    let before = int(&r.cmd_str(&["LASTSAVE"]));
    assert_eq!(persistence_field(&mut r, "rdb_saves"), "0");
    assert_eq!(r.cmd_str(&["SAVE"]), "+OK\r\n");
    assert!(dir.join("dump.rdb").exists());
    assert!(int(&r.cmd_str(&["LASTSAVE"])) >= before);
    assert_eq!(persistence_field(&mut r, "rdb_saves"), "1");
    assert_eq!(persistence_field(&mut r, "rdb_last_bgsave_status"), "ok");
    // BGSAVE: started, and a second one while it runs is refused with Redis's words (the
    // flag is set before the first reply, so the pipelined second always sees it).
    r.send_cmd(&[b"BGSAVE"]);
    r.send_cmd(&[b"BGSAVE"]);
    r.send_cmd(&[b"SAVE"]);
    assert_eq!(
        String::from_utf8(r.read_reply().expect("reply")).expect("utf8"),
        "+Background saving started\r\n"
    );
    let busy = "-ERR Background save already in progress\r\n";
    assert_eq!(
        String::from_utf8(r.read_reply().expect("reply")).expect("utf8"),
        busy
    );
    assert_eq!(
        String::from_utf8(r.read_reply().expect("reply")).expect("utf8"),
        busy
    );
    wait_field(&mut r, "rdb_bgsave_in_progress", "0");
    assert_eq!(persistence_field(&mut r, "rdb_saves"), "2");
    assert_eq!(
        persistence_field(&mut r, "rdb_current_bgsave_time_sec"),
        "-1"
    );
    assert_ne!(persistence_field(&mut r, "rdb_last_bgsave_time_sec"), "-1");
    assert_eq!(r.cmd_str(&["BGSAVE", "NOW"]), "-ERR syntax error\r\n");
    // Writes after the snapshot are not in it (no log): a restart shows the snapshot.
    r.cmd(&["SET", "after", "1"]);
    drop(r);
    drop(p);
    let p = node(&dir, &[]);
    let mut r = p.raw();
    check_restored(&mut r, &digest, &sha);
    assert_eq!(r.cmd_str(&["EXISTS", "after"]), ":0\r\n");
    assert_eq!(
        persistence_field(&mut r, "rdb_last_load_keys_loaded"),
        "2006"
    );
    assert_eq!(persistence_field(&mut r, "loading"), "0");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_save_saves_and_a_new_log_starts_from_the_snapshot() {
    let dir = tmpdir("shutdown");
    let mut p = node(&dir, &[]);
    let mut r = p.raw();
    let sha = fill(&mut r);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    r.send_cmd(&[b"SHUTDOWN", b"SAVE"]);
    assert!(r.read_reply().is_none(), "SHUTDOWN replies nothing");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "SHUTDOWN SAVE did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(p);
    // Turning the log on: with no log yet, the snapshot is loaded and becomes its beginning.
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut p = node(&dir, &aof);
    let mut r = p.raw();
    check_restored(&mut r, &digest, &sha);
    assert!(dir.join("appendonly.aof").exists());
    r.cmd(&["SET", "after", "1"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(p);
    // The log alone (snapshot + tail) restores everything, without reading the snapshot
    // file again (it is removed to prove it).
    std::fs::remove_file(dir.join("dump.rdb")).expect("remove snapshot");
    let p = node(&dir, &aof);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd_str(&["GET", "after"]), "$1\r\n1\r\n");
    assert_eq!(persistence_field(&mut r, "aof_enabled"), "1");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_snapshot_stops_start_up() {
    let dir = tmpdir("bad");
    std::fs::write(dir.join("dump.rdb"), b"REDIS0011\xfa\x09redis-ver").expect("write");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_luagate"))
            .args(["--port", "0", "--metrics-port", "0", "--dir"])
            .arg(&dir)
            .output()
            .expect("run")
    };
    let out = run();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Redis RDB file"), "{err}");
    // A snapshot cut inside a command is corrupt (files are renamed whole, never torn).
    std::fs::write(dir.join("dump.rdb"), b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1").expect("write");
    let out = run();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Bad snapshot file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// BGSAVE and BGREWRITEAOF run one at a time, as Redis's child processes do, with Redis's
/// replies for the one that has to wait.
#[test]
fn bgsave_and_bgrewriteaof_schedule_each_other() {
    let dir = tmpdir("sched");
    let p = node(&dir, &["--appendonly", "yes"]);
    let mut r = p.raw();
    r.cmd(&["DEBUG", "POPULATE", "20000"]);
    r.send_cmd(&[b"BGSAVE"]);
    r.send_cmd(&[b"BGREWRITEAOF"]);
    let mut next = || String::from_utf8(r.read_reply().expect("reply")).expect("utf8");
    assert_eq!(next(), "+Background saving started\r\n");
    assert_eq!(
        next(),
        "+Background append only file rewriting scheduled\r\n"
    );
    wait_field(&mut r, "aof_rewrites", "1");
    assert_eq!(persistence_field(&mut r, "aof_rewrite_scheduled"), "0");
    r.send_cmd(&[b"BGREWRITEAOF"]);
    r.send_cmd(&[b"BGREWRITEAOF"]);
    r.send_cmd(&[b"BGSAVE"]);
    r.send_cmd(&[b"BGSAVE", b"SCHEDULE"]);
    let mut next = || String::from_utf8(r.read_reply().expect("reply")).expect("utf8");
    assert_eq!(next(), "+Background append only file rewriting started\r\n");
    assert_eq!(
        next(),
        "-ERR Background append only file rewriting already in progress\r\n"
    );
    assert_eq!(next(), "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n");
    assert_eq!(next(), "+Background saving scheduled\r\n");
    // The scheduled save runs once the rewrite is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    while persistence_field(&mut r, "rdb_saves") != "2" {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rewrites race with writers, SCRIPT LOAD and FUNCTION LOAD; after kill -9 the log restores
/// exactly the acknowledged state, every script body and the last library set.
#[test]
fn rewrites_under_concurrent_writes_lose_nothing() {
    let dir = tmpdir("race");
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut p = node(&dir, &aof);
    let mut r = p.raw();
    r.cmd(&["DEBUG", "POPULATE", "5000"]);
    let port = p.port;
    let writer = std::thread::spawn(move || {
        let mut w = Raw::connect(port);
        for i in 0..1500 {
            w.cmd(&["SET", &format!("w{}", i % 300), &i.to_string()]);
            w.cmd(&["EVAL", "return redis.call('INCR', 'evals')", "0"]);
            if i % 5 == 0 {
                w.cmd(&["MULTI"]);
                w.cmd(&["RPUSH", "wl", &i.to_string()]);
                w.cmd(&["INCR", "txs"]);
                w.cmd(&["EXEC"]);
            }
        }
    });
    let loader = std::thread::spawn(move || {
        let mut w = Raw::connect(port);
        let mut shas = Vec::new();
        for i in 0..150 {
            let s = w.cmd_str(&["SCRIPT", "LOAD", &format!("return {i}")]);
            shas.push(s.lines().nth(1).expect("sha").to_string());
            if i % 10 == 0 {
                let lib = format!(
                    "#!lua name=race\nredis.register_function('race', function() return {i} end)"
                );
                let reply = w.cmd_str(&["FUNCTION", "LOAD", "REPLACE", &lib]);
                assert_eq!(reply, "$4\r\nrace\r\n");
            }
        }
        shas
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rewrites = 0;
    while !(writer.is_finished() && loader.is_finished()) && Instant::now() < deadline {
        let reply = r.cmd_str(&["BGREWRITEAOF"]);
        if reply.starts_with("+Background append only file rewriting started") {
            rewrites += 1;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    writer.join().expect("writer");
    let shas = loader.join().expect("loader");
    wait_field(&mut r, "aof_rewrite_in_progress", "0");
    assert!(rewrites > 0);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    let libs = r.cmd(&["FUNCTION", "DUMP"]);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(p);
    let log = std::fs::read(dir.join("appendonly.aof")).expect("log");
    let p = node(&dir, &aof);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd(&["FUNCTION", "DUMP"]), libs);
    assert_eq!(r.cmd_str(&["FCALL", "race", "0"]), ":140\r\n");
    for (i, sha) in shas.iter().enumerate() {
        assert_eq!(
            r.cmd_str(&["EVALSHA", sha, "0"]),
            format!(":{i}\r\n"),
            "script {i} lost"
        );
        // Each body is in the log exactly once.
        let body = format!("return {i}\r\n");
        let n = log
            .windows(body.len())
            .filter(|w| *w == body.as_bytes())
            .count();
        assert_eq!(n, 1, "script {i} appears {n} times in the log");
    }
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// While a large snapshot loads, /readyz says 503 (the HTTP side starts first) and the RESP
/// port is not served yet; afterwards /readyz is 200 and the data is all there.
#[test]
fn readyz_is_not_ready_while_loading() {
    use std::io::BufRead;
    let dir = tmpdir("loading");
    {
        let p = node(&dir, &[]);
        let mut r = p.raw();
        r.cmd(&["DEBUG", "POPULATE", "300000"]);
        assert_eq!(r.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let resp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_luagate"))
        .args(["--port", &resp_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--shards", "4"])
        .args(["--metrics-port", &metrics.to_string(), "--dir"])
        .arg(&dir)
        .env("LUAGATE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("first line");
    assert!(line.starts_with("luagate metrics listening on"), "{line}");
    let status = node::http(metrics, "GET", "/readyz").map(|r| r.0);
    // Clients are accepted during the load: data commands get -LOADING, INFO shows progress.
    let mut early = Raw::connect(resp_port);
    let dbsize_while_loading = early.cmd_str(&["DBSIZE"]);
    let loading_field = persistence_field(&mut early, "loading");
    line.clear();
    out.read_line(&mut line).expect("second line");
    assert!(line.starts_with("luagate listening on"), "{line}");
    let port = common::listening_port(&line).expect("port");
    assert_eq!(status, Some(503), "/readyz while loading");
    assert_eq!(
        dbsize_while_loading,
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert_eq!(loading_field, "1");
    assert_eq!(early.cmd_str(&["DBSIZE"]), ":300000\r\n");
    assert_eq!(
        node::http(metrics, "GET", "/readyz").map(|r| r.0),
        Some(200)
    );
    let mut r = Raw::connect(port);
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":300000\r\n");
    assert_eq!(persistence_field(&mut r, "loading"), "0");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The size trigger (`auto-aof-rewrite-min-size`, `auto-aof-rewrite-percentage`) rewrites the
/// log by itself; the result still restores everything.
#[test]
fn the_log_is_rewritten_automatically_when_it_grows() {
    let dir = tmpdir("auto");
    let aof = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--auto-aof-rewrite-min-size",
        "65536",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let mut p = node(&dir, &aof);
    let mut r = p.raw();
    let value = "x".repeat(100);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while persistence_field(&mut r, "aof_rewrites") == "0" {
        assert!(Instant::now() < deadline, "no automatic rewrite");
        for _ in 0..200 {
            r.cmd(&["SET", &format!("k{}", i % 50), &value]);
            i += 1;
        }
    }
    wait_field(&mut r, "aof_rewrite_in_progress", "0");
    let size: u64 = persistence_field(&mut r, "aof_current_size")
        .parse()
        .expect("size");
    assert!(size < 65536, "the rewritten log is compact: {size}");
    r.cmd(&["SET", "after", "1"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(p);
    let p = node(&dir, &aof);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Argument errors and transaction rules of the persistence commands, byte for byte against
/// redis-server, and the replication/persistence keys CONFIG GET reports.
#[test]
fn persistence_command_errors_match_redis() {
    let mut d = common::Diff::new();
    d.check(&["BGSAVE", "NOW"]);
    d.check(&["BGSAVE", "SCHEDULE", "x"]);
    d.check(&["SAVE", "x"]);
    d.check(&["LASTSAVE", "x"]);
    d.check(&["MULTI"]);
    d.check(&["SAVE"]);
    d.check(&["EXEC"]);
    d.check(&["CONFIG", "SET", "dbfilename", "other.rdb"]);
    d.check(&["CONFIG", "GET", "dbfilename"]);
    d.check(&["CONFIG", "GET", "repl-timeout"]);
    d.check(&["CONFIG", "GET", "repl-ping-replica-period"]);
    d.check(&["CONFIG", "GET", "auto-aof-rewrite-min-size"]);
    d.check(&["CONFIG", "GET", "auto-aof-rewrite-percentage"]);
    d.check(&["CONFIG", "SET", "repl-timeout", "0"]);
    d.check(&["CONFIG", "SET", "repl-timeout", "30"]);
    d.check(&["CONFIG", "GET", "repl-timeout"]);
}

#[test]
fn save_points_config_and_change_count_match_redis() {
    let mut d = common::Diff::new();
    for bad in ["abc", "3600", "3600 1 300", "-1 5", "1 x"] {
        d.check(&["CONFIG", "SET", "save", bad]);
    }
    d.check(&["CONFIG", "SET", "save", "3600 1 300 100"]);
    d.check(&["CONFIG", "GET", "save"]);
    d.check(&["CONFIG", "SET", "save", ""]);
    d.check(&["CONFIG", "GET", "save"]);
    // Writes count as Redis counts them (MSET of three keys is three changes; a no-op is none).
    let mut counts = Vec::new();
    for r in [&mut d.a, &mut d.b] {
        r.cmd(&["SET", "a", "1"]);
        r.cmd(&["INCR", "n"]);
        r.cmd(&["MSET", "x", "1", "y", "2", "z", "3"]);
        r.cmd(&["DEL", "missing"]);
        r.cmd(&["SADD", "s", "m1", "m2"]);
        let text = r.cmd_str(&["INFO", "persistence"]);
        counts.push(
            text.lines()
                .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
                .map(|v| v.trim().to_string()),
        );
    }
    assert_eq!(counts[0], counts[1], "luagate vs redis");
    assert_eq!(counts[0].as_deref(), Some("7"));
}

#[test]
fn a_save_point_saves_in_the_background_and_the_restart_loads_it() {
    let dir = tmpdir("savepoint");
    let p = node(&dir, &["--save", "1 3"]);
    let mut r = p.raw();
    assert_eq!(
        r.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$3\r\n1 3\r\n"
    );
    r.cmd(&["SET", "only", "one"]);
    // One change is below the point: nothing is saved.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        persistence_field(&mut r, "rdb_changes_since_last_save"),
        "1"
    );
    assert!(!dir.join("dump.rdb").exists());
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    wait_field(&mut r, "rdb_changes_since_last_save", "0");
    assert_eq!(persistence_field(&mut r, "rdb_last_bgsave_status"), "ok");
    assert!(dir.join("dump.rdb").exists());
    drop(r);
    drop(p);
    let p = node(&dir, &[]);
    let mut r = p.raw();
    assert_eq!(
        r.cmd_str(&["MGET", "only", "a", "b"]),
        "*3\r\n$3\r\none\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    drop(r);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The append-only log: acknowledged writes survive kill -9 with `appendfsync always`, a torn
//! tail is cut back to whole units, other corruption stops start-up; published messages in the
//! log do not.

mod common;

use common::{luagate, Proc};
use std::path::PathBuf;

fn tmpdir(name: &str) -> PathBuf {
    common::scratch_dir(&format!("aof-{name}"))
}

fn node(dir: &std::path::Path, fsync: &str) -> Proc {
    luagate(&[
        "--shards",
        "4",
        "--metrics-port",
        "0",
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
        "--dir",
        dir.to_str().expect("utf-8 path"),
    ])
}

/// kill -9, then the same node again on the same directory.
fn restart_after_kill_9(mut p: Proc, dir: &std::path::Path) -> Proc {
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(p);
    node(dir, "always")
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tmpdir("kill");
    let p = node(&dir, "always");
    let mut r = p.raw();
    let sha = r.cmd_str(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]);
    let sha = sha.lines().nth(1).expect("sha").to_string();
    for i in 0..300 {
        let k = format!("key{i}");
        assert_eq!(r.cmd_str(&["SET", &k, &i.to_string()]), "+OK\r\n");
        if i % 50 == 0 {
            r.cmd(&["MULTI"]);
            r.cmd(&["RPUSH", "list", &k]);
            r.cmd(&["HSET", "hash", &k, "v"]);
            r.cmd(&["EXEC"]);
            r.cmd(&[
                "EVAL",
                "redis.call('SADD', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])",
                "2",
                "set",
                "ctr",
                &k,
            ]);
            r.cmd(&["SELECT", "5"]);
            r.cmd(&["ZADD", "z", &i.to_string(), &k]);
            r.cmd(&["SELECT", "0"]);
        }
    }
    r.cmd(&["SET", "ttl", "x", "EX", "1000"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    let p = restart_after_kill_9(p, &dir);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd_str(&["GET", "key299"]), "$3\r\n299\r\n");
    assert_eq!(r.cmd_str(&["EVALSHA", &sha, "1", "n"]), ":1\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torn_tail_is_truncated_and_corruption_stops_start() {
    let dir = tmpdir("torn");
    {
        let p = node(&dir, "everysec");
        let mut r = p.raw();
        r.cmd(&["SET", "a", "1"]);
        r.cmd(&[
            "EVAL",
            "redis.call('SET', 'b', '2') redis.call('SET', 'c', '3')",
            "0",
        ]);
        // Let `everysec` flush; then crash.
        std::thread::sleep(std::time::Duration::from_millis(1200));
    }
    let file = dir.join("appendonly.aof");
    let good = std::fs::read(&file).expect("log exists");
    // A crash in the middle of a script's unit: MULTI and one of its writes, then half a command.
    let mut torn = good.clone();
    torn.extend_from_slice(
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\n4\r\n*3\r\n$3\r\nSE",
    );
    std::fs::write(&file, &torn).expect("write");
    {
        let p = node(&dir, "everysec");
        let mut r = p.raw();
        assert_eq!(
            r.cmd_str(&["MGET", "a", "b", "c", "d"]),
            "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n"
        );
    }
    assert_eq!(
        std::fs::read(&file).expect("log"),
        good,
        "torn tail cut back"
    );
    // Corruption inside the file is not a torn tail: start-up stops.
    let mut bad = b"*1\r\n$7\r\nNOTACMD\r\n".to_vec();
    bad.extend_from_slice(&good);
    std::fs::write(&file, &bad).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_luagate"))
        .args([
            "--port",
            "0",
            "--metrics-port",
            "0",
            "--appendonly",
            "yes",
            "--dir",
            dir.to_str().expect("path"),
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Bad file format reading the append only file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// BGREWRITEAOF replaces the log with a snapshot (much smaller after many overwrites) that
/// still restores everything after kill -9: data, expiries, scripts and function libraries.
#[test]
fn bgrewriteaof_compacts_and_still_restores() {
    let dir = tmpdir("rewrite");
    let mut p = node(&dir, "always");
    let mut r = p.raw();
    let sha = r.cmd_str(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]);
    let sha = sha.lines().nth(1).expect("sha").to_string();
    r.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=aoflib\nredis.register_function('aof_get', function(k) return redis.call('GET', k[1]) end)",
    ]);
    for i in 0..2000 {
        r.cmd(&["SET", &format!("k{}", i % 10), &format!("value-{i}")]);
    }
    r.cmd(&["RPUSH", "list", "a", "b", "c"]);
    r.cmd(&["HSET", "hash", "f", "v"]);
    r.cmd(&["ZADD", "z", "1.5", "m"]);
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SET", "in3", "x", "EX", "1000"]);
    r.cmd(&["SELECT", "0"]);
    let log = dir.join("appendonly.aof");
    let before = std::fs::metadata(&log).expect("log").len();
    assert_eq!(
        r.cmd_str(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(before) >= before / 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log was not rewritten"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Writes after the rewrite land in the new log.
    r.cmd(&["SET", "after", "1"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    let p = node(&dir, "always");
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd_str(&["EVALSHA", &sha, "1", "ctr"]), ":1\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL", "aof_get", "1", "k9"]),
        "$10\r\nvalue-1999\r\n"
    );
    r.cmd(&["SELECT", "3"]);
    let ttl: i64 = r
        .cmd_str(&["TTL", "in3"])
        .trim()
        .trim_start_matches(':')
        .parse()
        .expect("ttl");
    assert!(ttl > 900 && ttl <= 1000, "expiry kept: {ttl}");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// PUBLISH travels down the effect stream, so it lands in the log (alone, and inside a
/// script's unit); the log still loads at start, and replaying the messages reaches no one.
#[test]
fn published_messages_in_the_log_do_not_stop_start() {
    let dir = tmpdir("publish");
    let p = node(&dir, "always");
    let mut r = p.raw();
    r.cmd(&["SET", "before", "1"]);
    assert_eq!(r.cmd_str(&["PUBLISH", "ch", "hello"]), ":0\r\n");
    assert_eq!(r.cmd_str(&["SPUBLISH", "sch", "hello"]), ":0\r\n");
    r.cmd(&[
        "EVAL",
        "redis.call('PUBLISH', 'ch', 'from a script') return redis.call('INCR', KEYS[1])",
        "1",
        "n",
    ]);
    r.cmd(&["SET", "after", "2"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    let log = std::fs::read(dir.join("appendonly.aof")).expect("the log");
    assert!(
        log.windows(7).any(|w| w.eq_ignore_ascii_case(b"publish")),
        "the log holds the messages"
    );
    let p = restart_after_kill_9(p, &dir);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(
        r.cmd_str(&["MGET", "before", "n", "after"]),
        "*3\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

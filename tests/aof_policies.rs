//! Leader restarts with `appendfsync everysec` and `no`: a graceful SHUTDOWN keeps every write;
//! after kill -9 the data loaded is a prefix of the acknowledged units (here all of them, as
//! the page cache survives a process kill), and a log cut at any byte loads a whole-unit
//! prefix, never part of a transaction or a script.

mod common;

use common::{luagate, Proc, Raw};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    common::scratch_dir(&format!("aofp-{name}"))
}

fn node(dir: &Path, fsync: &str) -> Proc {
    luagate(&[
        "--shards",
        "4",
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

const SCRIPT: &str = "redis.call('SET', 'c' .. ARGV[1], ARGV[1]) \
    redis.call('SET', 'd' .. ARGV[1], ARGV[1]) \
    redis.call('INCR', 'scripts') return 1";

/// Unit `i`: a transaction writing a{i} and b{i}, then a script writing c{i} and d{i}
/// (undeclared keys, on different shards).
fn write_unit(r: &mut Raw, i: usize) {
    let v = i.to_string();
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", &format!("a{i}"), &v]);
    r.cmd(&["SET", &format!("b{i}"), &v]);
    r.cmd(&["INCR", "txs"]);
    let exec = r.cmd_str(&["EXEC"]);
    assert!(exec.starts_with("*3"), "{exec}");
    assert_eq!(r.cmd_str(&["EVAL", SCRIPT, "0", &v]), ":1\r\n");
}

/// Checks that what the node holds is exactly units `0..n` whole, for some n, and returns n.
fn whole_prefix(r: &mut Raw, acknowledged: usize) -> usize {
    let mut n = 0;
    while n < acknowledged && r.cmd_str(&["EXISTS", &format!("a{n}")]) == ":1\r\n" {
        n += 1;
    }
    // Counting units by their keys: every unit below n is whole, nothing at or above n exists
    // except possibly the transaction half of unit n (the script is a separate unit).
    for i in 0..acknowledged {
        let v = i.to_string();
        let want = |k: &str| format!("${}\r\n{v}\r\n", v.len()) == k;
        let a = r.cmd_str(&["GET", &format!("a{i}")]);
        let b = r.cmd_str(&["GET", &format!("b{i}")]);
        let c = r.cmd_str(&["GET", &format!("c{i}")]);
        let d = r.cmd_str(&["GET", &format!("d{i}")]);
        assert_eq!(
            want(&a),
            want(&b),
            "transaction {i} half applied: {a:?} {b:?}"
        );
        assert_eq!(want(&c), want(&d), "script {i} half applied: {c:?} {d:?}");
        if i < n {
            assert!(want(&a), "unit {i} missing below the prefix end {n}");
            if i + 1 < n {
                assert!(want(&c), "script {i} missing below the prefix end {n}");
            }
        } else if i > n {
            assert!(
                !want(&a) && !want(&c),
                "unit {i} present after a gap at {n}"
            );
        } else {
            assert!(!want(&a) && !want(&c), "unit {i} at the prefix end");
        }
    }
    // The counters agree with the units present.
    let txs = r.cmd_str(&["GET", "txs"]);
    let expect_txs = if n == 0 {
        "$-1\r\n".to_string()
    } else {
        format!("${}\r\n{n}\r\n", n.to_string().len())
    };
    assert_eq!(txs, expect_txs);
    n
}

fn graceful_restart_keeps_everything(fsync: &str) {
    let dir = tmpdir(&format!("graceful-{fsync}"));
    let p = node(&dir, fsync);
    let mut r = p.raw();
    let sha = r.cmd_str(&["SCRIPT", "LOAD", SCRIPT]);
    let sha = sha.lines().nth(1).expect("sha").to_string();
    r.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function(k, a) return redis.call('INCR', k[1]) end)",
    ]);
    for i in 0..150 {
        write_unit(&mut r, i);
    }
    r.cmd(&["FCALL", "f", "1", "fc"]);
    r.cmd(&["SET", "ttl", "x", "EX", "1000"]);
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    r.send_cmd(&[b"SHUTDOWN"]);
    assert!(r.read_reply().is_none(), "SHUTDOWN replies nothing");
    let mut p = p;
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "SHUTDOWN did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(p);
    let p = node(&dir, fsync);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(whole_prefix(&mut r, 150), 150);
    assert_eq!(r.cmd_str(&["EVALSHA", &sha, "0", "x"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["FCALL", "f", "1", "fc"]), ":2\r\n");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

fn kill_9_loads_a_whole_prefix(fsync: &str) {
    let dir = tmpdir(&format!("kill-{fsync}"));
    let mut p = node(&dir, fsync);
    let mut r = p.raw();
    const UNITS: usize = 200;
    for i in 0..UNITS {
        write_unit(&mut r, i);
    }
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(r);
    drop(p);
    let log = dir.join("appendonly.aof");
    let full = std::fs::read(&log).expect("the log exists");
    {
        let p = node(&dir, fsync);
        let mut r = p.raw();
        let n = whole_prefix(&mut r, UNITS);
        // A process kill does not lose the page cache: every acknowledged unit is there.
        assert_eq!(n, UNITS);
    }
    // A crash mid-write can leave any byte prefix of the log: each loads a whole-unit prefix.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..4 {
        let cut = rng.gen_range(1..full.len());
        std::fs::write(&log, &full[..cut]).expect("cut log");
        let p = node(&dir, fsync);
        let mut r = p.raw();
        let n = whole_prefix(&mut r, UNITS);
        assert!(n <= UNITS);
        drop(p);
        assert!(
            std::fs::metadata(&log).expect("log").len() <= cut as u64,
            "the torn tail was cut back"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn everysec_graceful_shutdown_keeps_everything() {
    graceful_restart_keeps_everything("everysec");
}

#[test]
fn no_fsync_graceful_shutdown_keeps_everything() {
    graceful_restart_keeps_everything("no");
}

#[test]
fn everysec_kill_9_loads_a_whole_unit_prefix() {
    kill_9_loads_a_whole_prefix("everysec");
}

#[test]
fn no_fsync_kill_9_loads_a_whole_unit_prefix() {
    kill_9_loads_a_whole_prefix("no");
}

/// A write no client is waiting on (here the DEL of a key the shard's timer expired) sits in
/// the log's buffer until the fsync thread's once-a-second flush writes it out.
fn unanswered_writes_reach_the_log_within_seconds(fsync: &str) {
    let dir = tmpdir(&format!("expiry-{fsync}"));
    let p = node(&dir, fsync);
    let mut r = p.raw();
    assert_eq!(r.cmd_str(&["SET", "soon", "v", "PX", "100"]), "+OK\r\n");
    let file = dir.join("appendonly.aof");
    let del = b"*2\r\n$3\r\nDEL\r\n$4\r\nsoon\r\n";
    let deadline = Instant::now() + Duration::from_secs(10);
    // No command is sent while waiting: only the timer's expiry and the flush can write.
    let found = loop {
        let log = std::fs::read(&file).unwrap_or_default();
        if log.windows(del.len()).any(|w| w == del) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        found,
        "no DEL of the expired key in the log after 10 s ({fsync})"
    );
    assert_eq!(r.cmd_str(&["EXISTS", "soon"]), ":0\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn everysec_log_gets_unanswered_writes() {
    unanswered_writes_reach_the_log_within_seconds("everysec");
}

#[test]
fn no_fsync_log_gets_unanswered_writes() {
    unanswered_writes_reach_the_log_within_seconds("no");
}

/// A write no client waits on reaches the leader's log before its follower sees it: by the
/// time the follower's offset shows the expiry DEL, the leader's log file has it.
#[test]
fn the_log_has_an_unanswered_write_before_the_follower_does() {
    let dir = tmpdir("before-follower");
    let l = node(&dir, "everysec");
    let mut lr = l.raw();
    let f = luagate(&["--shards", "2", "--replicaof", &l.addr()]);
    let mut fr = f.raw();
    assert_eq!(lr.cmd_str(&["SET", "soon", "v", "PX", "300"]), "+OK\r\n");
    common::wait_synced(&mut lr, &mut fr);
    let offset = |r: &mut Raw| -> u64 {
        common::info_field(r, "master_repl_offset")
            .and_then(|v| v.parse().ok())
            .expect("offset")
    };
    let synced = offset(&mut fr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while offset(&mut fr) == synced {
        assert!(
            Instant::now() < deadline,
            "the DEL never reached the follower"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let log = std::fs::read(dir.join("appendonly.aof")).expect("log");
    let del = b"*2\r\n$3\r\nDEL\r\n$4\r\nsoon\r\n";
    assert!(
        log.windows(del.len()).any(|w| w == del),
        "the follower has the DEL and the leader's log does not"
    );
    drop(f);
    drop(l);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Followers: full sync, the live stream (commands, MULTI/EXEC, scripts, functions) converging
//! on one leader and two followers while a follower reader never sees half a function's writes,
//! READONLY, promotion with EVALSHA, partial resync after a broken link, expiry ordering.

mod common;

use common::proxy::Proxy;
use common::{digest, info_field, luagate, luagate_debug, wait_synced, Proc, Raw};
use rand::{Rng, SeedableRng};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn leader() -> Proc {
    luagate_debug(&[])
}

fn follower(of: &Proc, shards: &str) -> Proc {
    luagate_debug(&["--shards", shards, "--replicaof", &of.addr()])
}

const SCRIPT: &str = "local n = redis.call('INCR', KEYS[1]) \
    redis.call('SET', 'undeclared:' .. ARGV[1], n) \
    redis.call('HSET', 'h:' .. ARGV[1], 'n', n) \
    return n";

fn workload(r: &mut Raw, seed: u64, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..n {
        let k = format!("k{}", rng.gen_range(0..50));
        let v = rng.gen_range(0..1000).to_string();
        let reply = match rng.gen_range(0..14) {
            0 => r.cmd_str(&["SET", &k, &v]),
            1 => r.cmd_str(&["INCRBYFLOAT", &format!("f{}", rng.gen_range(0..5)), "1.5"]),
            2 => r.cmd_str(&["RPUSH", &format!("l{}", rng.gen_range(0..5)), &v]),
            3 => r.cmd_str(&["HSET", &format!("h{}", rng.gen_range(0..5)), &k, &v]),
            4 => r.cmd_str(&["SADD", &format!("s{}", rng.gen_range(0..5)), &v]),
            5 => r.cmd_str(&["ZADD", &format!("z{}", rng.gen_range(0..5)), &v, &k]),
            6 => r.cmd_str(&["DEL", &k]),
            7 => r.cmd_str(&["EXPIRE", &k, "1000"]),
            8 => r.cmd_str(&["SPOP", &format!("s{}", rng.gen_range(0..5))]),
            9 => {
                r.cmd(&["MULTI"]);
                r.cmd(&["SET", &k, &v]);
                r.cmd(&["INCR", &format!("c{}", rng.gen_range(0..5))]);
                r.cmd(&["LPUSH", &format!("l{}", rng.gen_range(0..5)), &v]);
                r.cmd_str(&["EXEC"])
            }
            10 => r.cmd_str(&[
                "EVAL",
                SCRIPT,
                "1",
                &format!("c{}", rng.gen_range(0..5)),
                &v,
            ]),
            11 => {
                r.cmd_str(&["SELECT", "3"])
                    + &r.cmd_str(&["SET", &k, &v])
                    + &r.cmd_str(&["SELECT", "0"])
            }
            12 => r.cmd_str(&["ZPOPMIN", &format!("z{}", rng.gen_range(0..5))]),
            _ => r.cmd_str(&["MSET", &k, &v, &format!("m{i}"), &v]),
        };
        assert!(!reply.starts_with("-ERR"), "command failed: {reply}");
    }
}

fn library(version: u32) -> String {
    format!(
        "#!lua name=wl\n\
         redis.register_function('bump', function(keys, args) \
           local n = redis.call('INCRBY', keys[1], {version}) \
           redis.call('SET', 'fa:' .. args[1], n) \
           redis.call('SET', 'fb:' .. args[1], n) \
           return n end)\n\
         redis.register_function{{function_name='get2', flags={{'no-writes'}}, \
           callback=function(keys, args) \
             return {{redis.call('GET', 'fa:' .. args[1]), redis.call('GET', 'fb:' .. args[1])}} end}}"
    )
}

/// FCALLs of a function writing two undeclared keys on different shards, with the library
/// replaced (changing what the function does) half-way.
fn functions_workload(r: &mut Raw, seed: u64, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..n {
        if i == n / 2 {
            let reply = r.cmd_str(&["FUNCTION", "LOAD", "REPLACE", &library(2)]);
            assert_eq!(reply, "$2\r\nwl\r\n");
        }
        let k = rng.gen_range(0..4).to_string();
        let ctr = format!("fc{}", rng.gen_range(0..3));
        let reply = r.cmd_str(&["FCALL", "bump", "1", &ctr, &k]);
        assert!(reply.starts_with(':'), "FCALL failed: {reply}");
    }
}

#[test]
fn leader_and_two_followers_converge() {
    let l = leader();
    let mut lr = l.raw();
    assert_eq!(
        lr.cmd_str(&["FUNCTION", "LOAD", &library(1)]),
        "$2\r\nwl\r\n"
    );
    // Data before the followers attach travels in the snapshot.
    workload(&mut lr, 1, 300);
    lr.cmd(&["SCRIPT", "LOAD", "return 'loaded'"]);
    let f1 = follower(&l, "4");
    let f2 = follower(&l, "2");
    let (mut r1, mut r2) = (f1.raw(), f2.raw());
    wait_synced(&mut lr, &mut r1);
    wait_synced(&mut lr, &mut r2);
    // Then the live stream, from three clients at once (commands, transactions, scripts with
    // undeclared keys, functions and a library replaced mid-way), while a reader on a follower
    // checks that a function's two writes are always seen together.
    let port = l.port;
    let t = std::thread::spawn(move || workload(&mut Raw::connect(port), 2, 600));
    let t2 = std::thread::spawn(move || functions_workload(&mut Raw::connect(port), 4, 300));
    let fport = f1.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut r = Raw::connect(fport);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut reads = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
            for k in 0..4 {
                let (a, b) = (format!("fa:{k}"), format!("fb:{k}"));
                let reply = r.cmd(&["MGET", &a, &b]);
                let items = common::array_items(&reply).expect("MGET array");
                assert_eq!(items[0], items[1], "a function's writes seen half applied");
                reads += 1;
            }
        }
        reads
    });
    workload(&mut lr, 3, 600);
    t.join().expect("second writer");
    t2.join().expect("functions writer");
    wait_synced(&mut lr, &mut r1);
    wait_synced(&mut lr, &mut r2);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().expect("reader") > 0);
    let d = digest(&mut lr);
    assert_eq!(digest(&mut r1), d);
    assert_eq!(digest(&mut r2), d);
    let libs = lr.cmd(&["FUNCTION", "DUMP"]);
    assert_eq!(r1.cmd(&["FUNCTION", "DUMP"]), libs);
    assert_eq!(r2.cmd(&["FUNCTION", "DUMP"]), libs);
    assert_eq!(
        r2.cmd_str(&["FCALL_RO", "get2", "0", "1"]),
        lr.cmd_str(&["FCALL_RO", "get2", "0", "1"])
    );
    assert_eq!(r1.cmd_str(&["DBSIZE"]), lr.cmd_str(&["DBSIZE"]));
    // Roles.
    assert!(info_field(&mut lr, "connected_slaves").as_deref() == Some("2"));
    assert!(r1.cmd_str(&["ROLE"]).contains("slave"));
    assert!(lr.cmd_str(&["ROLE"]).starts_with("*3\r\n$6\r\nmaster"));
    // WAIT counts both followers.
    lr.cmd(&["SET", "waited", "1"]);
    assert_eq!(lr.cmd_str(&["WAIT", "2", "5000"]), ":2\r\n");
}

#[test]
fn followers_refuse_writes_and_allow_read_only_scripts() {
    let l = leader();
    let mut lr = l.raw();
    lr.cmd(&["SET", "a", "1"]);
    let f = follower(&l, "4");
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    let ro = "-READONLY You can't write against a read only replica.\r\n";
    assert_eq!(fr.cmd_str(&["SET", "a", "2"]), ro);
    assert_eq!(fr.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(
        fr.cmd_str(&["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "a"]),
        "$1\r\n1\r\n"
    );
    assert_eq!(
        fr.cmd_str(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
            "1",
            "a"
        ]),
        "$1\r\n1\r\n"
    );
    assert_eq!(
        fr.cmd_str(&[
            "EVAL",
            "#!lua\nreturn redis.call('SET', KEYS[1], 'x')",
            "1",
            "a"
        ]),
        ro
    );
    let e = fr.cmd_str(&["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "a"]);
    assert!(
        e.starts_with("-READONLY You can't write against a read only replica."),
        "{e}"
    );
    // A transaction with a write is refused as a whole.
    fr.cmd(&["MULTI"]);
    assert_eq!(fr.cmd_str(&["SET", "a", "3"]), ro);
    assert!(fr.cmd_str(&["EXEC"]).starts_with("-EXECABORT"));
    assert_eq!(fr.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
}

#[test]
fn promotion_keeps_scripts() {
    let l = leader();
    let mut lr = l.raw();
    let f = follower(&l, "4");
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    let sha_loaded = lr.cmd_str(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]);
    let sha_loaded = sha_loaded.lines().nth(1).expect("sha").to_string();
    lr.cmd(&[
        "EVAL",
        "return redis.call('SET', KEYS[1], ARGV[1])",
        "1",
        "x",
        "v",
    ]);
    let sha_eval = lr.cmd_str(&[
        "SCRIPT",
        "LOAD",
        "return redis.call('SET', KEYS[1], ARGV[1])",
    ]);
    let sha_eval = sha_eval.lines().nth(1).expect("sha").to_string();
    wait_synced(&mut lr, &mut fr);
    assert_eq!(fr.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(fr.cmd_str(&["EVALSHA", &sha_loaded, "1", "n"]), ":1\r\n");
    assert_eq!(
        fr.cmd_str(&["EVALSHA", &sha_eval, "1", "y", "w"]),
        "+OK\r\n"
    );
    assert_eq!(fr.cmd_str(&["GET", "x"]), "$1\r\nv\r\n");
    assert_eq!(info_field(&mut fr, "role").as_deref(), Some("master"));
}

#[test]
fn partial_resync_after_a_broken_link() {
    let l = leader();
    let mut lr = l.raw();
    let proxy = Proxy::new(l.port);
    let f = luagate(&[
        "--shards",
        "2",
        "--enable-debug-command",
        "yes",
        "--metrics-port",
        "0",
        "--replicaof",
        &format!("127.0.0.1:{}", proxy.port),
    ]);
    let mut fr = f.raw();
    workload(&mut lr, 7, 100);
    wait_synced(&mut lr, &mut fr);
    proxy.cut();
    // Writes while the link is down land in the backlog.
    workload(&mut lr, 8, 100);
    wait_synced(&mut lr, &mut fr);
    let stats = lr.cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("sync_full:1\r\n"), "{stats}");
    assert!(stats.contains("sync_partial_ok:1\r\n"), "{stats}");
    assert_eq!(digest(&mut fr), digest(&mut lr));
}

#[test]
fn lazily_expired_key_is_deleted_before_the_write_that_found_it() {
    let l = leader();
    let mut lr = l.raw();
    lr.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let f = follower(&l, "4");
    let mut fr = f.raw();
    lr.cmd(&["SET", "k", "old", "PX", "50"]);
    wait_synced(&mut lr, &mut fr);
    std::thread::sleep(Duration::from_millis(100));
    // SET on the expired key: the follower must end with the new value, not a deleted key.
    lr.cmd(&["SET", "k", "new"]);
    lr.cmd(&[
        "EVAL",
        "redis.call('SET', KEYS[1], 'x') return redis.call('GET', KEYS[2])",
        "2",
        "k2",
        "k",
    ]);
    wait_synced(&mut lr, &mut fr);
    assert_eq!(fr.cmd_str(&["GET", "k"]), "$3\r\nnew\r\n");
    assert_eq!(fr.cmd_str(&["TTL", "k"]), ":-1\r\n");
    assert_eq!(digest(&mut fr), digest(&mut lr));
}

#[test]
fn masterdown_while_the_link_is_down_when_stale_data_is_refused() {
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let f = luagate(&[
        "--metrics-port",
        "0",
        "--replica-serve-stale-data",
        "no",
        "--replicaof",
        &format!("127.0.0.1:{port}"),
    ]);
    let mut fr = f.raw();
    assert_eq!(
        fr.cmd_str(&["GET", "a"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_eq!(fr.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        info_field(&mut fr, "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(
        fr.cmd_str(&["CONFIG", "SET", "replica-serve-stale-data", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(fr.cmd_str(&["GET", "a"]), "$-1\r\n");
    assert!(fr.cmd_str(&["ROLE"]).contains("connect"));
}

/// Function libraries travel in the stream (and the full-sync snapshot): a follower runs
/// FCALL_RO on them, refuses FUNCTION LOAD, and keeps them when promoted.
#[test]
fn functions_replicate_to_followers() {
    let l = leader();
    let mut lr = l.raw();
    let lib = "#!lua name=rlib\nredis.register_function{function_name='get_it', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\nredis.register_function('set_it', function(keys, args) return redis.call('SET', keys[1], args[1]) end)";
    // Loaded before the follower exists: reaches it through the snapshot.
    assert_eq!(lr.cmd_str(&["FUNCTION", "LOAD", lib]), "$4\r\nrlib\r\n");
    let f = follower(&l, "2");
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    assert_eq!(lr.cmd_str(&["FCALL", "set_it", "1", "fk", "v1"]), "+OK\r\n");
    wait_synced(&mut lr, &mut fr);
    assert_eq!(
        fr.cmd_str(&["FCALL_RO", "get_it", "1", "fk"]),
        "$2\r\nv1\r\n"
    );
    assert_eq!(
        fr.cmd_str(&["FUNCTION", "LOAD", lib]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    // A change after the sync reaches it through the live stream.
    assert_eq!(lr.cmd_str(&["FUNCTION", "DELETE", "rlib"]), "+OK\r\n");
    wait_synced(&mut lr, &mut fr);
    assert_eq!(fr.cmd_str(&["FUNCTION", "LIST"]), "*0\r\n");
    assert_eq!(lr.cmd_str(&["FUNCTION", "LOAD", lib]), "$4\r\nrlib\r\n");
    wait_synced(&mut lr, &mut fr);
    assert_eq!(fr.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(fr.cmd_str(&["FCALL", "set_it", "1", "fk", "v2"]), "+OK\r\n");
    assert_eq!(
        fr.cmd_str(&["FCALL_RO", "get_it", "1", "fk"]),
        "$2\r\nv2\r\n"
    );
}

/// A follower that stops reading is dropped once its queued stream passes
/// `replica-output-buffer-limit`, instead of growing the leader's memory without bound.
#[test]
fn a_stalled_follower_is_dropped_past_its_output_limit() {
    let l = luagate(&["--shards", "2", "--replica-output-buffer-limit", "1048576"]);
    let mut lr = l.raw();
    // A fake follower: handshake, then never read.
    let mut fake = l.raw();
    assert_eq!(
        fake.cmd_str(&["REPLCONF", "listening-port", "1"]),
        "+OK\r\n"
    );
    fake.send_cmd(&[b"PSYNC", b"?", b"-1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while info_field(&mut lr, "connected_slaves").as_deref() != Some("1") {
        assert!(
            std::time::Instant::now() < deadline,
            "the fake follower never attached"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Far more than the socket buffers plus the limit.
    let value = "x".repeat(100_000);
    for i in 0..400 {
        lr.cmd(&["SET", &format!("big{}", i % 50), &value]);
        if info_field(&mut lr, "connected_slaves").as_deref() == Some("0") {
            break;
        }
    }
    while info_field(&mut lr, "connected_slaves").as_deref() != Some("0") {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled follower was kept"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(lr.cmd_str(&["PING"]), "+PONG\r\n");
}

/// PUBLISH (from a client or a script) and SPUBLISH on the leader reach subscribers connected
/// to a follower, as Redis replicates PUBLISH to its replicas.
#[test]
fn publish_reaches_subscribers_on_followers() {
    let l = leader();
    let mut lr = l.raw();
    let f = follower(&l, "2");
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    let mut sub = f.raw();
    sub.cmd(&["SUBSCRIBE", "news"]);
    let mut ssub = f.raw();
    ssub.cmd(&["SSUBSCRIBE", "snews"]);
    // Nobody listens on the leader itself.
    assert_eq!(lr.cmd_str(&["PUBLISH", "news", "one"]), ":0\r\n");
    let script = "return redis.call('PUBLISH', 'news', ARGV[1])";
    assert_eq!(lr.cmd_str(&["EVAL", script, "0", "two"]), ":0\r\n");
    assert_eq!(lr.cmd_str(&["SPUBLISH", "snews", "three"]), ":0\r\n");
    for m in ["one", "two"] {
        let want = format!("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\n{m}\r\n");
        assert_eq!(
            String::from_utf8_lossy(&sub.read_reply().expect("message")),
            want
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&ssub.read_reply().expect("message")),
        "*3\r\n$8\r\nsmessage\r\n$5\r\nsnews\r\n$5\r\nthree\r\n"
    );
}

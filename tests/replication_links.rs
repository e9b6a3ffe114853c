//! Follower links under stress: a follower killed with -9 and restarted resynchronizes and
//! holds the leader's data; `masterauth` against a leader with `requirepass` (right and wrong
//! password); a reader on a follower never sees half of a script's effects.

mod common;

use common::{digest, info_field, luagate, wait_synced, Proc, Raw};
use std::time::{Duration, Instant};

fn node(extra: &[&str]) -> Proc {
    let mut args = vec!["--shards", "4", "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    luagate(&args)
}

fn write_batch(r: &mut Raw, from: usize, to: usize) {
    for i in from..to {
        assert_eq!(
            r.cmd_str(&["SET", &format!("k{i}"), &i.to_string()]),
            "+OK\r\n"
        );
        if i % 10 == 0 {
            r.cmd(&["RPUSH", "list", &i.to_string()]);
            r.cmd(&["HSET", "hash", &format!("f{i}"), "v"]);
            r.cmd(&[
                "EVAL",
                "redis.call('INCR', 'undeclared:ctr') return redis.call('SADD', KEYS[1], ARGV[1])",
                "1",
                "set",
                &i.to_string(),
            ]);
        }
    }
}

#[test]
fn follower_killed_and_restarted_resyncs() {
    let l = node(&[]);
    let mut lr = l.raw();
    write_batch(&mut lr, 0, 200);
    let fargs = ["--replicaof", &l.addr()];
    let mut f = node(&fargs);
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    assert_eq!(digest(&mut fr), digest(&mut lr));
    // kill -9 the follower; the leader keeps writing while it is gone.
    f.child.kill().expect("kill -9");
    let _ = f.child.wait();
    drop(fr);
    drop(f);
    write_batch(&mut lr, 200, 400);
    lr.cmd(&["DEL", "k5"]);
    let f = node(&fargs);
    let mut fr = f.raw();
    wait_synced(&mut lr, &mut fr);
    assert_eq!(digest(&mut fr), digest(&mut lr));
    assert_eq!(fr.cmd_str(&["GET", "k399"]), "$3\r\n399\r\n");
    assert_eq!(fr.cmd_str(&["EXISTS", "k5"]), ":0\r\n");
    // And it keeps following the live stream.
    write_batch(&mut lr, 400, 450);
    wait_synced(&mut lr, &mut fr);
    assert_eq!(digest(&mut fr), digest(&mut lr));
}

#[test]
fn masterauth_right_syncs_and_wrong_keeps_the_link_down() {
    let l = node(&["--requirepass", "s3cret"]);
    let mut lr = l.raw();
    assert_eq!(lr.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    lr.cmd(&["SET", "a", "1"]);
    let good = node(&["--replicaof", &l.addr(), "--masterauth", "s3cret"]);
    let bad = node(&["--replicaof", &l.addr(), "--masterauth", "wrong"]);
    let none = node(&["--replicaof", &l.addr()]);
    let mut gr = good.raw();
    wait_synced(&mut lr, &mut gr);
    assert_eq!(gr.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
    lr.cmd(&["SET", "b", "2"]);
    wait_synced(&mut lr, &mut gr);
    assert_eq!(gr.cmd_str(&["GET", "b"]), "$1\r\n2\r\n");
    // The refused followers retry and stay down; INFO says so, and they never got data.
    let (mut br, mut nr) = (bad.raw(), none.raw());
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        for r in [&mut br, &mut nr] {
            assert_eq!(info_field(r, "master_link_status").as_deref(), Some("down"));
            assert_eq!(r.cmd_str(&["DBSIZE"]), ":0\r\n");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = br.cmd_str(&["INFO", "replication"]);
    assert!(text.contains("master_link_down_since_seconds:"), "{text}");
    assert!(text.contains("master_sync_in_progress:0"), "{text}");
    // The leader only counts the good follower.
    assert_eq!(
        info_field(&mut lr, "connected_slaves").as_deref(),
        Some("1")
    );
    // Fixing the password at runtime brings the link up.
    assert_eq!(
        br.cmd_str(&["CONFIG", "SET", "masterauth", "s3cret"]),
        "+OK\r\n"
    );
    wait_synced(&mut lr, &mut br);
    assert_eq!(br.cmd_str(&["GET", "b"]), "$1\r\n2\r\n");
}

/// A script on the leader writes N keys (spread over every shard, undeclared) to one counter
/// value per run; a reader on the follower repeatedly reads them all at once and must always
/// find them equal.
#[test]
fn follower_reader_never_sees_half_a_script() {
    const N: usize = 16;
    const RUNS: usize = 400;
    let l = node(&[]);
    let f = node(&["--replicaof", &l.addr()]);
    let mut lr = l.raw();
    let mut fr = f.raw();
    let keys: Vec<String> = (0..N).map(|i| format!("same:{i}")).collect();
    let script = format!(
        "local n = redis.call('INCR', KEYS[1]) \
         for i = 0, {} do redis.call('SET', 'same:' .. i, n) end \
         return n",
        N - 1
    );
    lr.cmd(&["EVAL", &script, "1", "ctr"]);
    wait_synced(&mut lr, &mut fr);
    let port = f.port;
    let reader_keys = keys.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        let mut args = vec!["MGET"];
        args.extend(reader_keys.iter().map(|s| s.as_str()));
        let mut reads = 0usize;
        let mut distinct = std::collections::HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop2.load(std::sync::atomic::Ordering::Relaxed)
            && reads < 200_000
            && Instant::now() < deadline
        {
            let reply = r.cmd(&args);
            let items = common::array_items(&reply).expect("MGET array");
            let first = &items[0];
            for (i, it) in items.iter().enumerate() {
                assert_eq!(
                    it,
                    first,
                    "key {i} differs: {:?} vs {:?}",
                    String::from_utf8_lossy(it),
                    String::from_utf8_lossy(first)
                );
            }
            distinct.insert(first.clone());
            reads += 1;
        }
        (reads, distinct.len())
    });
    for _ in 0..RUNS {
        let r = lr.cmd_str(&["EVAL", &script, "1", "ctr"]);
        assert!(r.starts_with(':'), "{r}");
    }
    wait_synced(&mut lr, &mut fr);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, distinct) = reader.join().expect("reader");
    assert!(reads > 0);
    // The reader saw the stream move (not one frozen value), and the end state is whole.
    assert!(distinct > 1, "reader saw only {distinct} value(s)");
    let end = (RUNS + 1).to_string();
    for k in &keys {
        assert_eq!(
            fr.cmd_str(&["GET", k]),
            format!("${}\r\n{end}\r\n", end.len())
        );
    }
}

/// Forwards connections to `to`; while `frozen`, forwards nothing (the connections stay open,
/// as with a dead peer TCP has not noticed).
struct FreezingProxy {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezingProxy {
    fn new(to: u16) -> FreezingProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering::Relaxed;
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let fz = frozen.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(a) = c else { return };
                let Ok(b) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                for (mut from, mut into) in [
                    (a.try_clone().expect("clone"), b.try_clone().expect("clone")),
                    (b, a),
                ] {
                    let fz = fz.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            while fz.load(Relaxed) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            while fz.load(Relaxed) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            if into.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        FreezingProxy { port, frozen }
    }
}

/// The leader PINGs an idle stream, so a quiet but healthy link stays up past repl-timeout
/// (and offsets still match: pings count on both sides); a link that goes silent is declared
/// down after repl-timeout and comes back by itself once the path works again.
#[test]
fn pings_keep_an_idle_link_up_and_repl_timeout_detects_a_dead_one() {
    use std::sync::atomic::Ordering::Relaxed;
    let l = node(&["--repl-ping-replica-period", "1", "--repl-timeout", "3"]);
    let proxy = FreezingProxy::new(l.port);
    let f = node(&[
        "--replicaof",
        &format!("127.0.0.1:{}", proxy.port),
        "--repl-timeout",
        "3",
    ]);
    let (mut lr, mut fr) = (l.raw(), f.raw());
    lr.cmd(&["SET", "a", "1"]);
    wait_synced(&mut lr, &mut fr);
    let before = info_field(&mut lr, "master_repl_offset");
    // Idle for longer than repl-timeout: still up, and the offset moved (pings).
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(
        info_field(&mut fr, "master_link_status").as_deref(),
        Some("up")
    );
    wait_synced(&mut lr, &mut fr);
    assert_ne!(
        info_field(&mut lr, "master_repl_offset"),
        before,
        "no pings"
    );
    // A silent path: down within repl-timeout (+ a tick), without any TCP error.
    proxy.frozen.store(true, Relaxed);
    let frozen_at = Instant::now();
    let deadline = frozen_at + Duration::from_secs(15);
    while info_field(&mut fr, "master_link_status").as_deref() != Some("down") {
        assert!(
            Instant::now() < deadline,
            "the dead link was never declared down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(frozen_at.elapsed() >= Duration::from_secs(2));
    // The path works again: the follower reconnects and catches up.
    lr.cmd(&["SET", "b", "2"]);
    proxy.frozen.store(false, Relaxed);
    wait_synced(&mut lr, &mut fr);
    assert_eq!(fr.cmd_str(&["GET", "b"]), "$1\r\n2\r\n");
}

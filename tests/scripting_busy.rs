//! Long scripts and concurrency against the real binary: BUSY only for the shards a busy script
//! holds, SCRIPT KILL / UNKILLABLE / NOTBUSY, and re-runs of undeclared cross-shard scripts
//! under concurrent load with no partial effect ever visible.
mod common;

use luagate::slot::SlotMap;
use std::time::{Duration, Instant};

const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

use common::key_on;

/// Sends EVAL on its own connection in a thread; the handle yields the reply.
fn eval_in_background(port: u16, script: &str, keys: &[&str]) -> std::thread::JoinHandle<Vec<u8>> {
    let mut args: Vec<String> = vec!["EVAL".into(), script.into(), keys.len().to_string()];
    args.extend(keys.iter().map(|k| k.to_string()));
    std::thread::spawn(move || {
        let mut c = common::Raw::connect(port);
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        c.cmd(&a)
    })
}

/// Polls `key` until the server answers BUSY for it (bounded).
fn wait_busy(c: &mut common::Raw, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if c.cmd(&["GET", key]) == BUSY {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the shard of {key} never became busy");
}

#[test]
fn busy_shards_answer_busy_others_keep_serving_and_script_kill_works() {
    let s = common::luagate(&["--shards", "4", "--busy-reply-threshold", "100"]);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "b")).collect();
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );

    // A script holding shards 0 and 2 spins forever.
    let spin = "local i = 0 while true do i = i + 1 end";
    let h = eval_in_background(s.port, spin, &[&k[0], &k[2]]);
    wait_busy(&mut c, &k[0]);
    assert_eq!(c.cmd(&["GET", &k[2]]), BUSY);
    assert_eq!(c.cmd(&["EVAL", "return 1", "1", &k[0]]), BUSY);
    // Other shards keep serving, including scripts.
    assert_eq!(c.cmd(&["SET", &k[1], "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", &k[1]]), b"$1\r\nv\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", &k[1]]),
        b"$1\r\nv\r\n"
    );
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let r = String::from_utf8(h.join().unwrap()).unwrap();
    assert_eq!(
        r,
        "-ERR Script killed by user with SCRIPT KILL... script: 3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1.\r\n"
    );
    assert_eq!(c.cmd(&["GET", &k[0]]), b"$-1\r\n");
    assert_eq!(c.cmd(&["GET", &k[2]]), b"$-1\r\n");

    // pcall and coroutines cannot swallow the kill.
    for spin in [
        "while true do pcall(function() while true do end end) end",
        "while true do local co = coroutine.wrap(function() while true do end end) pcall(co) end",
        "local ok = pcall(coroutine.wrap(function() while true do end end)) while true do end",
    ] {
        let h = eval_in_background(s.port, spin, &[&k[3]]);
        wait_busy(&mut c, &k[3]);
        assert_eq!(c.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
        let r = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(
            r.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
            "{spin}: {r}"
        );
        assert_eq!(c.cmd(&["GET", &k[3]]), b"$-1\r\n");
    }

    // A script that has written cannot be killed; it runs to its end.
    let writer = "redis.call('set', KEYS[1], 'w') local t = os.clock() \
                  while os.clock() - t < 1.0 do end return 'done'";
    let h = eval_in_background(s.port, writer, &[&k[0]]);
    wait_busy(&mut c, &k[0]);
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]),
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n".to_vec()
    );
    assert_eq!(h.join().unwrap(), b"$4\r\ndone\r\n");
    assert_eq!(c.cmd(&["GET", &k[0]]), b"$1\r\nw\r\n");
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
}

/// The settings every script run reads are kept beside the configuration for speed; CONFIG
/// SET must reach them at once (fails if a setting is read from a stale copy).
#[test]
fn script_settings_follow_config_set_at_once() {
    // Started with a threshold no test waits out: a stale copy would never answer BUSY.
    let s = common::luagate(&["--shards", "4", "--busy-reply-threshold", "60000"]);
    let mut c = s.raw();
    let k = key_on(1, 4, "c");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
        b"+OK\r\n"
    );
    let spin = "local i = 0 while true do i = i + 1 end";
    let h = eval_in_background(s.port, spin, &[&k]);
    wait_busy(&mut c, &k);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    h.join().unwrap();

    // lua-memory-limit.
    let hog = "local t = {} for i = 1, 1e7 do t[i] = string.rep('x', 100) .. i end return #t";
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "lua-memory-limit", "20000000"]),
        b"+OK\r\n"
    );
    let r = c.cmd_str(&["EVAL", hog, "1", &k]);
    assert!(
        r.starts_with("-ERR Lua VM memory limit exceeded (lua-memory-limit is 20000000 bytes)"),
        "{r}"
    );

    // single-slot-scripts, for scripts and functions.
    let lib = "#!lua name=l\nredis.register_function('f', function() return 1 end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), b"$1\r\nl\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "#!lua\nreturn 1", "2", "a", "b"]),
        b":1\r\n"
    );
    assert_eq!(c.cmd(&["FCALL", "f", "2", "a", "b"]), b":1\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "single-slot-scripts", "always"]),
        b"+OK\r\n"
    );
    let crossslot = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    assert_eq!(
        c.cmd(&["EVAL", "#!lua\nreturn 1", "2", "a", "b"]),
        crossslot
    );
    assert_eq!(c.cmd(&["FCALL", "f", "2", "a", "b"]), crossslot);
}

#[test]
fn cross_shard_reruns_under_concurrent_load_never_show_partial_effects() {
    let s = common::luagate_shards(4);
    let counter = "{a}count";
    let buckets: Vec<String> = (0..8).map(|i| format!("bucket:{i}")).collect();
    // Buckets spread over several shards, none declared by the writers.
    let map = SlotMap::new(4);
    let mut shards: Vec<usize> = buckets
        .iter()
        .map(|b| map.shard_of_key(b.as_bytes()).index())
        .collect();
    shards.sort_unstable();
    shards.dedup();
    assert!(shards.len() >= 3, "buckets should span shards: {shards:?}");

    let writer = "local a = tonumber(redis.call('get', KEYS[1]) or '0') \
                  redis.call('set', KEYS[1], a + 1) \
                  local b = tonumber(redis.call('get', ARGV[1]) or '0') \
                  redis.call('set', ARGV[1], b + 1) \
                  return a + 1";
    let reader = "local a = tonumber(redis.call('get', KEYS[1]) or '0') local s = 0 \
                  for i = 2, #KEYS do s = s + tonumber(redis.call('get', KEYS[i]) or '0') end \
                  return {a, s}";
    const WRITERS: usize = 3;
    const PER_WRITER: usize = 120;
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let port = s.port;
        let buckets = buckets.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = common::Raw::connect(port);
            for i in 0..PER_WRITER {
                if w == 0 && i % 15 == 0 {
                    // Forget footprints so scripts keep discovering their shards again.
                    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
                }
                let b = &buckets[(i * 7 + w * 3) % buckets.len()];
                let r = c.cmd(&["EVAL", writer, "1", counter, b]);
                assert!(
                    r.starts_with(b":"),
                    "writer got {:?}",
                    String::from_utf8_lossy(&r)
                );
            }
        }));
    }
    let mut all: Vec<&str> = vec!["EVAL", reader, "9", counter];
    all.extend(buckets.iter().map(|b| b.as_str()));
    let mut c = s.raw();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    loop {
        let r = c.cmd(&all);
        let items = common::array_items(&r).expect("array");
        assert_eq!(
            items[0],
            items[1],
            "partial effect visible: {:?}",
            String::from_utf8_lossy(&r)
        );
        seen += 1;
        if handles.iter().all(|h| h.is_finished()) || Instant::now() >= deadline {
            break;
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    let total = (WRITERS * PER_WRITER).to_string();
    let want = format!("*2\r\n:{total}\r\n:{total}\r\n");
    assert_eq!(String::from_utf8_lossy(&c.cmd(&all)), want);
    assert!(seen > 0);
}

/// With a single I/O worker, a script running inline on it must not hold the other
/// connections: they get -BUSY for its shard, service on other shards, and SCRIPT KILL works.
#[test]
fn busy_script_on_the_only_io_worker_leaves_others_served() {
    let s = common::luagate(&[
        "--shards",
        "2",
        "--io-workers",
        "1",
        "--busy-reply-threshold",
        "50",
    ]);
    let mut c = s.raw();
    let k0 = key_on(0, 2, "w");
    let k1 = key_on(1, 2, "w");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "io-workers"]),
        b"*2\r\n$10\r\nio-workers\r\n$1\r\n1\r\n"
    );
    let h = eval_in_background(s.port, "while true do end", &[&k0]);
    wait_busy(&mut c, &k0);
    // A new connection is accepted and served while the script spins.
    let mut fresh = s.raw();
    assert_eq!(fresh.cmd(&["SET", &k1, "x"]), b"+OK\r\n");
    assert_eq!(fresh.cmd(&["GET", &k0]), BUSY);
    assert_eq!(fresh.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let r = String::from_utf8(h.join().unwrap()).unwrap();
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL"),
        "{r}"
    );
    assert_eq!(c.cmd(&["GET", &k0]), b"$-1\r\n");
    assert_eq!(c.cmd(&["GET", &k1]), b"$1\r\nx\r\n");
}

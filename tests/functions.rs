//! Redis Functions: FUNCTION subcommands and FCALL/FCALL_RO, differential against redis-server,
//! plus persistence across kill -9, DUMP/RESTORE interchange with Redis, busy/kill and
//! concurrent FCALL across shards.

mod common;
use common::{luagate, redis_reference, Diff, Raw};
use std::time::{Duration, Instant};

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "luagate-fn-{tag}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A differential pair whose luagate saves its libraries in a fresh directory.
fn diff(tag: &str) -> (Diff, std::path::PathBuf) {
    let dir = tempdir(tag);
    let d = Diff::with_flags(
        &[
            "--shards",
            "4",
            "--metrics-port",
            "0",
            "--dir",
            dir.to_str().unwrap_or("."),
        ],
        &[],
    );
    (d, dir)
}

fn lg(dir: &std::path::Path, extra: &[&str]) -> common::Proc {
    let mut flags = vec!["--shards", "4", "--metrics-port", "0", "--dir"];
    flags.push(dir.to_str().unwrap_or("."));
    flags.extend_from_slice(extra);
    luagate(&flags)
}

const LIB_A: &str = "#!lua name=liba\nredis.register_function('setit', function(keys, args) return redis.call('set', keys[1], args[1]) end)";
const LIB_B: &str = "#!lua name=libb\nredis.register_function{function_name='getit', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-oom'}, description='reads'}";

#[test]
fn load_errors_match_redis() {
    let (mut d, _dir) = diff("errors");
    let bodies = [
        "return 1",
        "#!lua\nx",
        "#!lua name=\nx",
        "#!lua name=a-b\nx",
        "#!lua name=ab",
        "#!lua name=ab foo=bar\nx",
        "#!js name=ab\nx",
        "#!js foo=bar\nx",
        "#!lua name=ab name=cd\nx",
        "#!lua name=ab\nreturn 1",
        "#!lua name=ab\nredis.call('set','x','1')",
        "#!lua name=ab\nlocal t = type(1)",
        "#!lua name=ab\nX = 1",
        "#!lua name=ab\nlocal x = nil + 1",
        "#!lua name=ab\nlocal x =",
        "#!lua name=ab\nwhile true do end",
        "#!lua name=ab\nredis.register_function('f-x', function() return 1 end)",
        "#!lua name=ab\nredis.register_function('', function() return 1 end)",
        "#!lua name=ab\nredis.register_function('f', 1)",
        "#!lua name=ab\nredis.register_function('f')",
        "#!lua name=ab\nredis.register_function()",
        "#!lua name=ab\nredis.register_function('a','b','c')",
        "#!lua name=ab\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
        "#!lua name=ab\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
        "#!lua name=ab\nredis.register_function{function_name='f', callback=function() end, foo=1}",
        "#!lua name=ab\nredis.register_function{callback=function() end}",
        "#!lua name=ab\nredis.register_function{function_name='f'}",
        "#!lua name=ab\nredis.register_function{function_name='f', callback=1}",
        "#!lua name=ab\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
    ];
    for b in bodies {
        d.check(&["FUNCTION", "LOAD", b]);
    }
    d.check(&["FUNCTION", "LOAD", "x", "y"]);
    d.check(&["FUNCTION", "LOAD", "REPLACE"]);
    d.check(&["FUNCTION", "LOAD"]);
    d.check(&["FUNCTION", "LIST"]);
}

#[test]
fn load_call_list_delete_match_redis() {
    let (mut d, _dir) = diff("basic");
    d.check(&["FUNCTION", "LOAD", LIB_A]);
    d.check(&["FUNCTION", "LOAD", LIB_B]);
    d.check(&["FUNCTION", "LOAD", LIB_A]);
    d.check(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=libc\nredis.register_function('SETIT', function() return 1 end)",
    ]);
    d.check(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=libc\nredis.register_function('GETit', function() return 1 end)",
    ]);
    d.check(&["FUNCTION", "LOAD", "replace", LIB_A]);
    d.check_all(&[
        &["FCALL", "setit", "1", "k1", "v1"],
        &["FCALL", "SETIT", "1", "{k}2", "v2"],
        &["FCALL_RO", "getit", "1", "k1"],
        &["FCALL_RO", "setit", "1", "k1", "v"],
        &["FCALL", "GetIt", "1", "{k}2"],
        &["FCALL", "nosuch", "0"],
        &["FCALL", "nosuch", "x"],
        &["FCALL", "setit", "x"],
        &["FCALL", "setit", "-1"],
        &["FCALL", "setit", "3", "a"],
        &["FCALL", "setit"],
        &["FCALL", "setit", "0"],
    ]);
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        d.check_unordered(&["FUNCTION", "LIST"]);
        d.check(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "LIBB"]);
        d.check(&["FUNCTION", "LIST", "LIBRARYNAME", "liba", "WITHCODE"]);
        d.check(&["FUNCTION", "STATS"]);
    }
    d.check_all(&[
        &["FUNCTION", "LIST", "x"],
        &["FUNCTION", "LIST", "LIBRARYNAME"],
        &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
        &["FUNCTION", "DELETE", "nosuch"],
        &["FUNCTION", "DELETE", "LIBA"],
        &["FUNCTION", "DELETE", "liba"],
        &["FCALL", "setit", "1", "k", "v"],
        &["FUNCTION", "DELETE"],
        &["FUNCTION", "FLUSH", "x"],
        &["FUNCTION", "FLUSH", "SYNC", "x"],
        &["FUNCTION", "FLUSH", "async"],
        &["FUNCTION", "LIST"],
        &["FUNCTION", "STATS", "x"],
        &["FUNCTION", "KILL"],
        &["FUNCTION", "FOO"],
        &["FUNCTION", "HELP"],
        &["FUNCTION"],
    ]);
}

#[test]
fn function_runtime_errors_and_flags_match_redis() {
    let (mut d, _dir) = diff("runtime");
    d.check(&["FUNCTION", "LOAD", "#!lua name=rt\n\
local function helper() return type(1) end\n\
redis.register_function('helper', function() return helper() end)\n\
redis.register_function('glob', function() X = 1 return 1 end)\n\
redis.register_function('ver', function() return redis.REDIS_VERSION ~= nil end)\n\
redis.register_function('nested', function() return redis.register_function('z', function() end) end)\n\
redis.register_function('bad', function() return redis.call('nosuch') end)\n\
redis.register_function{function_name='ro', callback=function(k) return redis.call('set', k[1], 'x') end, flags={'no-writes'}}\n\
redis.register_function('args', function(k, a) return {#k, #a, k[1], a[1]} end)\n\
redis.register_function('globalkeys', function() return KEYS end)"]);
    d.check_all(&[
        &["FCALL", "helper", "0"],
        &["FCALL", "glob", "0"],
        &["FCALL", "ver", "0"],
        &["FCALL", "nested", "0"],
        &["FCALL", "bad", "0"],
        &["FCALL", "ro", "1", "k"],
        &["FCALL_RO", "ro", "1", "k"],
        &["FCALL", "args", "2", "k1", "k2", "a1"],
        &["FCALL_RO", "args", "0"],
        &["EVAL", "return KEYS[1]", "1", "x"],
        &["FCALL", "globalkeys", "1", "a"],
        &["EVAL", "return ARGV[1]", "0", "y"],
    ]);
}

fn cmd_bytes(r: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    r.send_cmd(args);
    r.read_reply().expect("reply")
}

/// The bulk payload of a `$n\r\n...\r\n` reply.
fn bulk_body(reply: &[u8]) -> Vec<u8> {
    let nl = reply.windows(2).position(|w| w == b"\r\n").expect("header");
    let n: usize = std::str::from_utf8(&reply[1..nl]).unwrap().parse().unwrap();
    reply[nl + 2..nl + 2 + n].to_vec()
}

#[test]
fn dump_restore_interchange_with_redis() {
    let dir = tempdir("dump");
    let l = lg(&dir, &[]);
    let rd = redis_reference(&[]);
    let (mut a, mut b) = (l.raw(), rd.raw());
    // A library longer than 20 bytes: Redis compresses it with LZF in its payload.
    let long_lib = format!(
        "#!lua name=big\n{}redis.register_function('big', function() return 'big' end)",
        "-- padding padding padding padding\n".repeat(20)
    );
    assert_eq!(b.cmd_str(&["FUNCTION", "LOAD", &long_lib]), "$3\r\nbig\r\n");
    assert_eq!(b.cmd_str(&["FUNCTION", "LOAD", LIB_A]), "$4\r\nliba\r\n");
    let from_redis = bulk_body(&b.cmd(&["FUNCTION", "DUMP"]));
    // redis → luagate
    assert_eq!(
        cmd_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &from_redis]),
        b"+OK\r\n"
    );
    assert_eq!(a.cmd_str(&["FCALL", "big", "0"]), "$3\r\nbig\r\n");
    assert_eq!(a.cmd_str(&["FCALL", "setit", "1", "k", "v"]), "+OK\r\n");
    // The payload lists libraries in Redis's (seeded hash) order; the first one that
    // collides is named.
    let again =
        String::from_utf8_lossy(&cmd_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &from_redis]))
            .into_owned();
    assert!(
        again == "-ERR Library big already exists\r\n"
            || again == "-ERR Library liba already exists\r\n",
        "{again}"
    );
    assert_eq!(
        cmd_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &from_redis, b"REPLACE"]),
        b"+OK\r\n"
    );
    // luagate → redis
    a.cmd(&["FUNCTION", "LOAD", LIB_B]);
    let from_lg = bulk_body(&a.cmd(&["FUNCTION", "DUMP"]));
    assert_eq!(
        cmd_bytes(&mut b, &[b"FUNCTION", b"RESTORE", &from_lg, b"FLUSH"]),
        b"+OK\r\n"
    );
    assert_eq!(b.cmd_str(&["FCALL_RO", "getit", "1", "k"]), "$-1\r\n");
    let list = |r: &mut Raw| {
        let mut items = common::array_items(&r.cmd(&["FUNCTION", "LIST", "WITHCODE"])).unwrap();
        items.sort();
        items
    };
    assert_eq!(list(&mut a), list(&mut b));
    // Corrupted payloads: same error on both, nothing changes.
    let before = a.cmd(&["FUNCTION", "DUMP"]);
    for i in [
        0,
        3,
        from_lg.len() / 2,
        from_lg.len() - 9,
        from_lg.len() - 1,
    ] {
        let mut bad = from_lg.clone();
        bad[i] ^= 0x20;
        for r in [&mut a, &mut b] {
            for policy in [&b"FLUSH"[..], b"REPLACE"] {
                assert_eq!(
                    cmd_bytes(r, &[b"FUNCTION", b"RESTORE", &bad, policy]),
                    b"-ERR DUMP payload version or checksum are wrong\r\n"
                );
            }
        }
    }
    assert_eq!(a.cmd(&["FUNCTION", "DUMP"]), before);
    for args in [&["FUNCTION", "RESTORE", "xx"][..], &["FUNCTION", "RESTORE"]] {
        assert_eq!(a.cmd_str(args), b.cmd_str(args));
    }
    for policy in ["BOGUS", "flush"] {
        let x = cmd_bytes(
            &mut a,
            &[b"FUNCTION", b"RESTORE", &from_lg, policy.as_bytes(), b"x"],
        );
        let y = cmd_bytes(
            &mut b,
            &[b"FUNCTION", b"RESTORE", &from_lg, policy.as_bytes(), b"x"],
        );
        assert_eq!(x, y);
        let x = cmd_bytes(
            &mut a,
            &[b"FUNCTION", b"RESTORE", &from_lg, policy.as_bytes()],
        );
        let y = cmd_bytes(
            &mut b,
            &[b"FUNCTION", b"RESTORE", &from_lg, policy.as_bytes()],
        );
        assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
    }
}

#[test]
fn libraries_survive_kill_9() {
    let dir = tempdir("persist");
    let mut l = lg(&dir, &[]);
    let mut r = l.raw();
    assert_eq!(r.cmd_str(&["FUNCTION", "LOAD", LIB_A]), "$4\r\nliba\r\n");
    assert_eq!(r.cmd_str(&["FUNCTION", "LOAD", LIB_B]), "$4\r\nlibb\r\n");
    assert_eq!(r.cmd_str(&["FUNCTION", "DELETE", "libb"]), "+OK\r\n");
    l.child.kill().expect("kill -9");
    let _ = l.child.wait();
    let l = lg(&dir, &[]);
    let mut r = l.raw();
    assert_eq!(r.cmd_str(&["FCALL", "setit", "1", "k", "v"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL", "getit", "1", "k"]),
        "-ERR Function not found\r\n"
    );
    drop(r);
    drop(l);
    // A damaged file stops the start-up with a message naming it.
    let file = dir.join("luagate-functions.dump");
    let mut bytes = std::fs::read(&file).expect("library file");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&file, &bytes).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_luagate"))
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--metrics-port",
            "0",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .expect("run luagate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is damaged"), "{err}");
    assert!(err.contains("luagate-functions.dump"), "{err}");
}

#[test]
fn busy_function_kill_and_stats() {
    let dir = tempdir("busy");
    let l = lg(&dir, &["--busy-reply-threshold", "100"]);
    let mut r = l.raw();
    r.cmd(&["FUNCTION", "LOAD", "#!lua name=slow\n\
redis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}\n\
redis.register_function('spinw', function(k) redis.call('set', k[1], '1') local t = redis.call('time') while true do local n = redis.call('time') if n[1] - t[1] > 1 then return 'done' end end end)"]);
    let mut runner = l.raw();
    runner.send_cmd(&[b"FCALL", b"spin", b"1", b"kk", b"arg1"]);
    let mut other = l.raw();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = other.cmd_str(&["FUNCTION", "STATS"]);
        if s.contains("spin") {
            assert!(
                s.contains("$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n1\r\n$2\r\nkk\r\n$4\r\narg1\r\n"),
                "{s}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "function never showed in STATS");
        std::thread::sleep(Duration::from_millis(20));
    }
    loop {
        let s = other.cmd_str(&["GET", "kk"]);
        if s.starts_with("-BUSY") {
            assert_eq!(s, "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n");
            break;
        }
        assert!(Instant::now() < deadline, "never busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        other.cmd_str(&["SCRIPT", "KILL"]),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(other.cmd_str(&["FUNCTION", "KILL"]), "+OK\r\n");
    let reply = String::from_utf8_lossy(&runner.read_reply().expect("reply")).into_owned();
    assert_eq!(
        reply,
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert_eq!(
        other.cmd_str(&["FUNCTION", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A function that wrote is not killable.
    runner.send_cmd(&[b"FCALL", b"spinw", b"1", b"kw"]);
    loop {
        let s = other.cmd_str(&["FUNCTION", "KILL"]);
        if s.starts_with("-UNKILLABLE") {
            break;
        }
        assert!(Instant::now() < deadline, "never unkillable: {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(runner.read_reply().expect("reply"), b"$4\r\ndone\r\n");
    assert_eq!(other.cmd_str(&["GET", "kw"]), "$1\r\n1\r\n");
}

#[test]
fn fcall_across_shards_under_concurrent_load() {
    let dir = tempdir("load");
    let l = lg(&dir, &[]);
    let mut r = l.raw();
    r.cmd(&["FUNCTION", "LOAD", "#!lua name=cnt\n\
redis.register_function('bump', function(keys) for _, k in ipairs(keys) do redis.call('incr', k) end return #keys end)\n\
redis.register_function{function_name='total', callback=function(keys) local s = 0 for _, k in ipairs(keys) do s = s + tonumber(redis.call('get', k) or 0) end return s end, flags={'no-writes'}}\n\
redis.register_function('undeclared', function(_, args) return redis.call('incr', args[1]) end)"]);
    let keys: Vec<String> = (0..8).map(|i| format!("ctr:{i}")).collect();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let port = l.port;
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..100 {
                    let mut args = vec!["FCALL".to_string(), "bump".into(), "8".into()];
                    args.extend(keys.iter().cloned());
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    assert_eq!(c.cmd_str(&a), ":8\r\n");
                    let u = format!("und:{}", (t * 100 + i) % 5);
                    assert!(c
                        .cmd_str(&["FCALL", "undeclared", "0", &u])
                        .starts_with(':'));
                    let mut ro = vec!["FCALL_RO", "total", "8"];
                    ro.extend(keys.iter().map(String::as_str));
                    let total = c.cmd_str(&ro);
                    let n: i64 = total.trim_start_matches(':').trim().parse().unwrap();
                    // Each bump is atomic across shards: the total is always a multiple of 8.
                    assert_eq!(n % 8, 0, "partial bump visible: {n}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    for k in &keys {
        assert_eq!(r.cmd_str(&["GET", k]), "$3\r\n800\r\n");
    }
    let mut sum = 0;
    for i in 0..5 {
        let v = r.cmd_str(&["GET", &format!("und:{i}")]);
        sum += v.lines().nth(1).unwrap().parse::<i64>().unwrap();
    }
    assert_eq!(sum, 800);
}

#[test]
fn single_slot_rule_when_always() {
    let dir = tempdir("slot");
    let l = lg(&dir, &["--single-slot-scripts", "always"]);
    let mut r = l.raw();
    r.cmd(&["FUNCTION", "LOAD", "#!lua name=ss\n\
redis.register_function('two', function(k) redis.call('set', k[1], 1) return redis.call('set', k[2], 1) end)\n\
redis.register_function{function_name='cross', callback=function(k) redis.call('set', k[1], 1) return redis.call('set', 'b', 1) end, flags={'allow-cross-slot-keys'}}"]);
    assert_eq!(
        r.cmd_str(&["FCALL", "two", "2", "a", "b"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(r.cmd_str(&["FCALL", "two", "2", "{t}a", "{t}b"]), "+OK\r\n");
    // The flag frees the keys reached through redis.call, not the declared ones (a cluster
    // routes the call by those).
    assert_eq!(r.cmd_str(&["FCALL", "cross", "1", "a"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL", "cross", "2", "a", "b"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let l2 = lg(&tempdir("slot2"), &[]);
    let mut r2 = l2.raw();
    r2.cmd(&["FUNCTION", "LOAD", "#!lua name=ss\nredis.register_function('two', function(k) redis.call('set', k[1], 1) return redis.call('set', k[2], 1) end)"]);
    assert_eq!(r2.cmd_str(&["FCALL", "two", "2", "a", "b"]), "+OK\r\n");
}

/// The `#!lua` header line is split like a command line, as Redis splits it: quotes, escapes
/// and tabs work; unbalanced quotes are invalid metadata.
#[test]
fn library_header_quoting_matches_redis() {
    let mut d = Diff::new();
    let body = "\nredis.register_function('f', function() return 1 end)";
    for header in [
        "#!lua name=\"q1\"",
        "#!lua \"name=q3\" ",
        "#!lua\tname=tab",
        "#!lua name='q\\x41'",
        "#!lua name=\"q4",
        "#!lua name=\"a b\"",
        "#!lua name=x y=z",
    ] {
        d.check(&["FUNCTION", "LOAD", "REPLACE", &format!("{header}{body}")]);
        d.check(&["FUNCTION", "FLUSH"]);
    }
}

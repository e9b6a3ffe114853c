//! Scripting against the real binary: sandbox escapes, the script cache (LRU), re-runs across
//! shards, the single-slot rule, the Lua memory limit.
mod common;

use common::key_on;

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// SCRIPT LOAD `body`, giving its sha1.
fn load(c: &mut common::Raw, body: &str) -> String {
    let r = c.cmd_str(&["SCRIPT", "LOAD", body]);
    r.rsplit("\r\n").nth(1).expect("sha").to_string()
}

/// One command, RESP-encoded.
fn enc(args: &[&str]) -> Vec<u8> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    common::encode_cmd(&a)
}

#[test]
fn sandbox_escapes_fail() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    let ro = "Attempt to modify a readonly table";
    let cases: &[(&str, &str)] = &[
        // Globals and library tables are read-only, even through raw access.
        ("x = 1", ro),
        ("redis = nil", ro),
        ("_G.KEYS = {}", ro),
        ("rawset(_G, 'x', 1)", ro),
        ("rawset(redis, 'call', 1)", ro),
        ("rawset(string, 'rep', nil)", ro),
        ("rawset(getmetatable(''), '__index', {})", ro),
        ("getmetatable('').__index.rep = nil", ro),
        ("setmetatable(_G, {})", ro),
        ("setmetatable(getmetatable(_G), {})", ro),
        ("getmetatable(getmetatable(_G)).__index = {}", ro),
        ("cjson = 1", ro),
        ("math.random = function() return 4 end", ro),
        ("os.clock = nil", ro),
        ("coroutine.wrap(function() x = 1 end)()", ro),
        // Absent on purpose.
        (
            "return os.execute('true')",
            "attempt to call field 'execute'",
        ),
        (
            "return io.open('/etc/passwd')",
            "nonexistent global variable 'io'",
        ),
        (
            "return debug.getinfo(1)",
            "nonexistent global variable 'debug'",
        ),
        (
            "return require('os')",
            "nonexistent global variable 'require'",
        ),
        (
            "return dofile('/etc/passwd')",
            "nonexistent global variable 'dofile'",
        ),
        (
            "return loadfile('/etc/passwd')",
            "nonexistent global variable 'loadfile'",
        ),
        ("return getfenv(0)", "nonexistent global variable 'getfenv'"),
        (
            "return setfenv(1, {})",
            "nonexistent global variable 'setfenv'",
        ),
        (
            "return newproxy(true)",
            "nonexistent global variable 'newproxy'",
        ),
        ("return print('x')", "nonexistent global variable 'print'"),
        ("return module('x')", "nonexistent global variable 'module'"),
        ("return package", "nonexistent global variable 'package'"),
        // Chunks loaded at run time get the same sandbox.
        ("loadstring('x = 1')()", ro),
        ("load(function() return nil end)", ""),
        (
            "loadstring('return io')()",
            "nonexistent global variable 'io'",
        ),
    ];
    for (script, want) in cases {
        let r = c.cmd_str(&["EVAL", script, "0"]);
        if want.is_empty() {
            continue;
        }
        assert!(r.starts_with("-ERR") && r.contains(want), "{script}: {r}");
    }
    // Bytecode never loads.
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "return loadstring(string.dump(function() return 1 end))",
            "0"
        ]),
        b"$-1\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "local f = load(function() return nil end) return f ~= nil",
            "0"
        ]),
        b":1\r\n"
    );
    // The real globals never leak out of the proxies.
    for script in [
        "local _, g = ipairs(_G) return g == _G",
        "local _, g = pairs(_G) return g == _G",
        "return rawequal(getmetatable(_G), getmetatable(getmetatable(_G)))",
        "return rawget(_G, 'redis') == redis",
        "return loadstring('return _G')() == _G",
        "local n = 0 for k in pairs(_G) do if k == 'debug' or k == 'io' then n = n + 1 end end return n == 0",
        "local n = 0 for k in pairs(redis) do n = n + 1 end return n > 10",
        "return type(os.clock()) == 'number'",
    ] {
        assert_eq!(c.cmd(&["EVAL", script, "0"]), b":1\r\n", "{script}");
    }
    // Nothing a script does persists into the next one.
    c.cmd(&[
        "EVAL",
        "pcall(function() rawset(_G, 'leak', 1) end) collectgarbage('stop')",
        "0",
    ]);
    let r = c.cmd_str(&["EVAL", "return leak", "0"]);
    assert!(r.contains("nonexistent global variable 'leak'"), "{r}");
    assert_eq!(
        c.cmd(&["EVAL", "return collectgarbage('count') > 0", "0"]),
        b":1\r\n"
    );
    // ... and the collector it stopped runs again: garbage made later stays bounded.
    c.cmd(&["EVAL", "collectgarbage('stop') return 1", "0"]);
    let grow = "local before = collectgarbage('count') \
        for i = 1, 200000 do local t = {i} end \
        return collectgarbage('count') - before < 4000";
    assert_eq!(c.cmd(&["EVAL", grow, "0"]), b":1\r\n");
    // math.random is deterministic per run.
    let a = c.cmd(&["EVAL", "return {math.random(1000), math.random(1000)}", "0"]);
    let b = c.cmd(&["EVAL", "return {math.random(1000), math.random(1000)}", "0"]);
    assert_eq!(a, b);
    c.cmd(&["EVAL", "math.randomseed(7) return 1", "0"]);
    assert_eq!(
        c.cmd(&["EVAL", "return {math.random(1000), math.random(1000)}", "0"]),
        a
    );
}

#[test]
fn script_errors_leave_the_vm_usable() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    // A script error leaves the VM usable.
    for _ in 0..3 {
        let r = c.cmd_str(&["EVAL", "error('boom')", "0"]);
        assert!(r.starts_with("-ERR user_script:1: boom script: "), "{r}");
        assert_eq!(c.cmd(&["EVAL", "return 'ok'", "0"]), bulk("ok"));
    }
}

#[test]
fn eval_cache_evicts_least_recently_used_eval_scripts_only() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    let loaded = c.cmd_str(&["SCRIPT", "LOAD", "return 'loaded'"]);
    let loaded = loaded.lines().nth(1).unwrap().to_string();
    let sha = |i: usize| {
        let body = format!("return {i}");
        let mut h = String::new();
        use std::fmt::Write;
        for b in sha1_of(body.as_bytes()) {
            write!(h, "{b:02x}").unwrap();
        }
        h
    };
    let mut batch = Vec::new();
    for i in 0..510 {
        batch.extend(common::encode_cmd(&[
            b"EVAL",
            format!("return {i}").as_bytes(),
            b"0",
        ]));
        if i == 499 {
            // Touch script 0 so it is not the least recently used any more.
            batch.extend(common::encode_cmd(&[b"EVALSHA", sha(0).as_bytes(), b"0"]));
        }
    }
    c.send(&batch);
    for i in 0..511 {
        let r = c.read_reply().unwrap();
        assert!(
            r.starts_with(b":"),
            "reply {i}: {:?}",
            String::from_utf8_lossy(&r)
        );
    }
    let exists =
        |c: &mut common::Raw, sha: &str| c.cmd(&["SCRIPT", "EXISTS", sha]) == b"*1\r\n:1\r\n";
    assert!(exists(&mut c, &sha(0)), "touched script kept");
    for i in 1..=10 {
        assert!(!exists(&mut c, &sha(i)), "script {i} evicted");
    }
    for i in 11..510 {
        assert!(exists(&mut c, &sha(i)), "script {i} kept");
    }
    assert!(
        exists(&mut c, &loaded),
        "SCRIPT LOAD scripts are never evicted"
    );
    assert_eq!(
        c.cmd(&["EVALSHA", &sha(5), "0"]),
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(c.cmd(&["EVALSHA", &loaded, "0"]), bulk("loaded"));
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
    assert!(!exists(&mut c, &loaded));
}

/// SHA-1, for computing script names in tests without the server.
fn sha1_of(data: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    Sha1::digest(data).into()
}

#[test]
fn undeclared_keys_on_other_shards_are_reached_by_rerunning() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "r")).collect();
    // Declared key on shard 0, undeclared writes on shards 2 and 3.
    let script = "redis.call('set', KEYS[1], 'a') redis.call('set', ARGV[1], 'b') \
                  redis.call('set', ARGV[2], 'c') \
                  return {redis.call('get', KEYS[1]), redis.call('get', ARGV[1]), redis.call('get', ARGV[2])}";
    assert_eq!(
        c.cmd(&["EVAL", script, "1", &k[0], &k[2], &k[3]]),
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(c.cmd(&["GET", &k[2]]), bulk("b"));
    // pcall cannot swallow the need for another shard, and the partial write is undone.
    c.cmd(&["SET", &k[1], "before"]);
    let script = "redis.call('set', KEYS[1], 'during') \
                  local ok = pcall(redis.call, 'get', ARGV[1]) \
                  return redis.call('get', KEYS[1])";
    assert_eq!(c.cmd(&["EVAL", script, "1", &k[1], &k[3]]), bulk("during"));
    // numkeys 0: starts on shard 0, reaches every shard, keyspace-wide commands work.
    let r = c.cmd(&["EVAL", "return redis.call('dbsize')", "0"]);
    assert_eq!(r, b":4\r\n");
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "return redis.call('del', ARGV[1], ARGV[2], ARGV[3])",
            "0",
            &k[1],
            &k[2],
            &k[3]
        ]),
        b":3\r\n"
    );
    // Errors after a re-run are reported as usual.
    let r = c.cmd_str(&[
        "EVAL",
        "redis.call('get', ARGV[1]) error('late')",
        "1",
        &k[0],
        &k[3],
    ]);
    assert!(r.starts_with("-ERR user_script:1: late script: "), "{r}");
}

#[test]
fn single_slot_rule_applies_to_flagged_scripts_when_configured() {
    let s = common::luagate(&["--shards", "4", "--single-slot-scripts", "always"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["EVAL", "#!lua\nreturn 1", "2", "a", "b"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "#!lua\nreturn 1", "2", "{t}a", "{t}b"]),
        b":1\r\n"
    );
    let two = "#!lua\nredis.call('set','foo','bar')\nredis.call('set','bar','foo')\nreturn 'OK'";
    let r = c.cmd_str(&["EVAL", two, "0"]);
    assert!(
        r.starts_with(
            "-ERR Script attempted to access keys that do not hash to the same slot script: "
        ) && r.ends_with(", on @user_script:3.\r\n"),
        "{r}"
    );
    let r = c.cmd_str(&["EVAL", "#!lua\nreturn redis.pcall('get','bar')", "1", "foo"]);
    assert_eq!(
        r,
        "-ERR Script attempted to access keys that do not hash to the same slot\r\n"
    );
    let allowed = "#!lua flags=allow-cross-slot-keys\nredis.call('set','foo','bar')\nredis.call('set','bar','foo')\nreturn 'OK'";
    assert_eq!(c.cmd(&["EVAL", allowed, "0"]), bulk("OK"));
    // Unflagged scripts never obey the rule.
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('get','bar')", "1", "foo"]),
        bulk("foo")
    );
    assert_eq!(c.cmd(&["EVAL", "return 1", "2", "a", "b"]), b":1\r\n");

    // Without the switch, flagged scripts have a standalone server's freedom.
    let s = common::luagate(&["--shards", "4"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["EVAL", "#!lua\nreturn 1", "2", "a", "b"]),
        b":1\r\n"
    );
    assert_eq!(c.cmd(&["EVAL", two, "0"]), bulk("OK"));
}

#[test]
fn lua_memory_limit_fails_the_script_and_the_vm_carries_on() {
    let s = common::luagate(&["--shards", "2", "--lua-memory-limit", "20000000"]);
    let mut c = s.raw();
    let hog = "local t = {} for i = 1, 1e7 do t[i] = string.rep('x', 100) .. i end return #t";
    for _ in 0..2 {
        let r = c.cmd_str(&["EVAL", hog, "0"]);
        assert!(
            r.starts_with("-ERR Lua VM memory limit exceeded (lua-memory-limit is 20000000 bytes)"),
            "{r}"
        );
        assert_eq!(
            c.cmd(&["EVAL", "return #string.rep('x', 1000000)", "0"]),
            b":1000000\r\n"
        );
    }
    let r = c.cmd_str(&[
        "EVAL",
        &format!("local ok = pcall(function() {hog} end) return 1"),
        "0",
    ]);
    assert!(r == ":1\r\n" || r.contains("memory limit"), "{r}");
    assert_eq!(c.cmd(&["EVAL", "return 2", "0"]), b":2\r\n");
}

#[test]
fn resp3_scripts_see_resp3_replies() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    c.cmd(&["HELLO", "3"]);
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "redis.setresp(3) return {redis.call('get', 'nosuch') == nil, true}",
            "0"
        ]),
        b"*2\r\n#t\r\n#t\r\n"
    );
    assert_eq!(c.cmd(&["EVAL", "return {double=0.5}", "0"]), b",0.5\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return {map={k={set={m=true}}}}", "0"]),
        b"%1\r\n$1\r\nk\r\n~1\r\n$1\r\nm\r\n"
    );
}

/// INFO reports the script cache as Redis 7.4 names it, plus luagate's re-run counter.
#[test]
fn info_reports_the_script_cache() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    c.cmd(&["EVAL", "return 1", "0"]);
    c.cmd(&["SCRIPT", "LOAD", "return 2"]);
    let mem = c.cmd_str(&["INFO", "memory"]);
    assert!(mem.contains("number_of_cached_scripts:2\r\n"), "{mem}");
    assert!(!mem.contains("used_memory_scripts_eval:0\r\n"), "{mem}");
    let stats = c.cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("evicted_scripts:0\r\n"), "{stats}");
    assert!(stats.contains("luagate_scripts_reruns:"), "{stats}");
}

/// A run that needs more shards leaves nothing in the replies: pipelined around other
/// commands, the client sees exactly one reply per command, in order.
#[test]
fn a_rerun_leaves_no_trace_in_pipelined_replies() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "p")).collect();
    let resp = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        out
    };
    let mut batch = String::new();
    batch.push_str(&resp(&["SET", &k[0], "x"]));
    for i in 0..3 {
        // A new body each time: no remembered footprint, so the first run is cut short.
        let script = format!("redis.call('set', ARGV[1], '{i}') return redis.call('get', KEYS[1])");
        batch.push_str(&resp(&["EVAL", &script, "1", &k[0], &k[(i % 3) + 1]]));
        batch.push_str(&resp(&["PING"]));
    }
    c.send(batch.as_bytes());
    assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
    for _ in 0..3 {
        assert_eq!(c.read_reply().expect("reply"), bulk("x"));
        assert_eq!(c.read_reply().expect("reply"), b"+PONG\r\n");
    }
    for i in 0..3 {
        assert_eq!(c.cmd(&["GET", &k[i + 1]]), bulk(&i.to_string()));
    }
}

/// Pipelined script calls of known scripts run inside batches of data commands (see
/// scripting/batch.rs). One that finds it needs another shard stops its batch there; the rest
/// of the pipeline still sees the order it was sent in, and the run leaves no trace.
#[test]
fn a_batched_script_that_needs_more_shards_keeps_pipeline_order() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "b")).collect();
    let script = "redis.call('incr', KEYS[1]) return redis.call('incr', ARGV[1])";
    let sha = load(&mut c, script);
    let mut pipe = Vec::new();
    pipe.extend(enc(&["SET", &k[0], "10"]));
    // Footprint still unknown: batched on shard 0, needs shard 2, goes on as a wider unit.
    pipe.extend(enc(&["EVALSHA", &sha, "1", &k[0], &k[2]]));
    pipe.extend(enc(&["GET", &k[2]]));
    pipe.extend(enc(&["INCR", &k[0]]));
    // Now remembered: scheduled on both shards at once.
    pipe.extend(enc(&["EVALSHA", &sha, "1", &k[0], &k[2]]));
    pipe.extend(enc(&["GET", &k[0]]));
    // Batched again (declared key and footprint on shard 3 only), between commands there.
    pipe.extend(enc(&["SET", &k[3], "1"]));
    pipe.extend(enc(&["EVALSHA", &sha, "1", &k[3], &k[3]]));
    pipe.extend(enc(&["GET", &k[3]]));
    c.send(&pipe);
    let expected: [&[u8]; 9] = [
        b"+OK\r\n",
        b":1\r\n",
        b"$1\r\n1\r\n",
        b":12\r\n",
        b":2\r\n",
        b"$2\r\n13\r\n",
        b"+OK\r\n",
        b":3\r\n",
        b"$1\r\n3\r\n",
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = c.read_reply().expect("reply");
        assert_eq!(got, *want, "reply {i}: {}", String::from_utf8_lossy(&got));
    }
    let info = c.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("luagate_scripts_reruns:1\r\n"), "{info}");
}

/// Many clients pipelining batched scripts and plain commands over four shards, some reaching
/// undeclared keys on other shards, while others run inline or queue behind them: every
/// increment lands exactly once.
#[test]
fn batched_scripts_under_concurrent_pipelines_count_exactly() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "cc")).collect();
    let near = "return redis.call('incr', KEYS[1])";
    let far = "redis.call('incr', KEYS[1]) return redis.call('incr', ARGV[1])";
    let (near, far) = (load(&mut c, near), load(&mut c, far));
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 40;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let mut c = s.raw();
            let (k, near, far) = (k.clone(), near.clone(), far.clone());
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    let mut pipe = Vec::new();
                    for i in 0..16 {
                        let key = &k[(t + r + i) % 4];
                        let other = &k[(t + r + i + 1) % 4];
                        let args: Vec<&[u8]> = match i % 4 {
                            0 => vec![
                                b"EVALSHA",
                                far.as_bytes(),
                                b"1",
                                key.as_bytes(),
                                other.as_bytes(),
                            ],
                            1 | 2 => vec![b"EVALSHA", near.as_bytes(), b"1", key.as_bytes()],
                            _ => vec![b"INCR", key.as_bytes()],
                        };
                        pipe.extend(common::encode_cmd(&args));
                    }
                    c.send(&pipe);
                    for _ in 0..16 {
                        let r = c.read_reply().expect("reply");
                        assert_eq!(r[0], b':', "{}", String::from_utf8_lossy(&r));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    // Per 16 calls: 4 far scripts (2 increments each), 8 near ones, 4 INCRs = 20.
    let total: i64 = k
        .iter()
        .map(|key| {
            let r = c.cmd_str(&["GET", key]);
            r.rsplit("\r\n")
                .nth(1)
                .expect("value")
                .parse::<i64>()
                .expect("number")
        })
        .sum();
    assert_eq!(total, (CLIENTS * ROUNDS * 20) as i64);
}

/// The same when the batch had to queue (its shards were held): the shard thread passes the
/// rest on to the wider set of shards with the replies so far.
#[test]
fn a_queued_batched_script_that_needs_more_shards_keeps_pipeline_order() {
    let s = common::luagate(&["--shards", "4", "--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let k: Vec<String> = (0..4).map(|i| key_on(i, 4, "q")).collect();
    // Reaches a lower shard than its home, then a higher one: two hand-offs.
    let script = "redis.call('incr', KEYS[1]) redis.call('incr', ARGV[1]) \
                  return redis.call('incr', ARGV[2])";
    let sha = load(&mut c, script);
    // Holds every shard on the shard threads for a while.
    let mut sleeper = s.raw();
    let a: Vec<&[u8]> = vec![b"DEBUG", b"SLEEP", b"0.3"];
    sleeper.send(&common::encode_cmd(&a));
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut pipe = Vec::new();
    pipe.extend(enc(&["SET", &k[2], "5"]));
    pipe.extend(enc(&["EVALSHA", &sha, "1", &k[2], &k[0], &k[3]]));
    pipe.extend(enc(&["INCR", &k[2]]));
    pipe.extend(enc(&["MGET", &k[0], &k[2], &k[3]]));
    c.send(&pipe);
    let expected: [&[u8]; 4] = [
        b"+OK\r\n",
        b":1\r\n",
        b":7\r\n",
        b"*3\r\n$1\r\n1\r\n$1\r\n7\r\n$1\r\n1\r\n",
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = c.read_reply().expect("reply");
        assert_eq!(got, *want, "reply {i}: {}", String::from_utf8_lossy(&got));
    }
    assert_eq!(sleeper.read_reply().expect("sleep reply"), b"+OK\r\n");
}

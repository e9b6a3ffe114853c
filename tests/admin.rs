//! INFO, CONFIG, DEBUG, SHUTDOWN and LASTSAVE, against the reference redis-server where the
//! replies are deterministic, and by shape where they are not.
mod common;

use common::{array_items, Diff};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A flat CONFIG GET reply (RESP2) as name → value.
fn pairs(reply: &[u8]) -> BTreeMap<String, String> {
    let items = array_items(reply).expect("an array");
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).into_owned();
        let body = s.split_once("\r\n").map(|x| x.1).unwrap_or("");
        body.trim_end_matches("\r\n").to_string()
    };
    items
        .chunks(2)
        .map(|p| (text(&p[0]), text(&p[1])))
        .collect()
}

#[track_caller]
fn check_config_get(d: &mut Diff, args: &[&str]) {
    let (x, y) = d.both(args);
    assert_eq!(pairs(&x), pairs(&y), "CONFIG GET differs on {args:?}");
}

/// The body of a bulk (or verbatim) INFO reply.
fn info_text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    s.split_once("\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// Section titles of an INFO reply.
fn headers(reply: &[u8]) -> Vec<String> {
    info_text(reply)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Field names of an INFO reply.
fn fields(reply: &[u8]) -> BTreeSet<String> {
    info_text(reply)
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn config_get_matches_redis() {
    let mut d = Diff::new();
    for p in [
        "timeout",
        "maxclients",
        "tcp-keepalive",
        "proto-max-bulk-len",
        "busy-reply-threshold",
        "lua-time-limit",
        "LUA-TIME-limit",
        "maxmemory",
        "maxmemory-policy",
        "appendonly",
        "save",
        "loglevel",
        "hz",
        "databases",
        "requirepass",
        "enable-debug-command",
        "bind",
        "nosuch",
    ] {
        d.check(&["CONFIG", "GET", p]);
    }
    check_config_get(&mut d, &["CONFIG", "GET", "maxmemory*"]);
    check_config_get(
        &mut d,
        &["CONFIG", "GET", "timeout", "TIMEOUT", "hz", "nosuch"],
    );
    check_config_get(&mut d, &["CONFIG", "GET", "*zzz*", "lua*"]);
    d.check_all(&[
        &["CONFIG", "GET"],
        &["CONFIG"],
        &["CONFIG", "FOO"],
        &["CONFIG", "RESETSTAT", "x"],
        &["CONFIG", "REWRITE"],
    ]);
    // The port is each server's own.
    let port = d.lg.port.to_string();
    assert_eq!(pairs(&d.a.cmd(&["CONFIG", "GET", "port"]))["port"], port);
}

#[test]
fn config_set_errors_match_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["CONFIG", "SET", "nosuch", "1"],
        &["CONFIG", "SET", "Nosuch", "1"],
        &["CONFIG", "SET", "timeout", "1", "timeout"],
        &["CONFIG", "SET", "timeout"],
        &["CONFIG", "SET", "databases", "3"],
        &["CONFIG", "SET", "DATABASES", "3"],
        &["CONFIG", "SET", "enable-debug-command", "yes"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["CONFIG", "SET", "maxmemory", "abc"],
        &["CONFIG", "SET", "maxmemory", "1.5mb"],
        &["CONFIG", "SET", "maxmemory", "-1"],
        &["CONFIG", "SET", "timeout", "abc"],
        &["CONFIG", "SET", "TIMEOUT", "abc"],
        &["CONFIG", "SET", "timeout", "-1"],
        &["CONFIG", "SET", "timeout", "010"],
        &["CONFIG", "SET", "timeout", "99999999999"],
        &["CONFIG", "SET", "lua-time-limit", "abc"],
        &["CONFIG", "SET", "busy-reply-threshold", "-1"],
        &["CONFIG", "SET", "maxmemory-policy", "foo"],
        &["CONFIG", "SET", "loglevel", "foo"],
        &["CONFIG", "SET", "appendonly", "maybe"],
        &["CONFIG", "SET", "proto-max-bulk-len", "10"],
        &["CONFIG", "SET", "maxclients", "0"],
        &["CONFIG", "SET", "timeout", "5", "timeout", "6"],
        &["CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"],
        &["CONFIG", "SET", "timeout", "abc", "nosuch", "1"],
        &["CONFIG", "SET", "timeout", "1", "databases", "2"],
        &["CONFIG", "SET", "databases", "2", "nosuch", "2"],
    ]);
}

#[test]
fn config_set_round_trips_and_is_atomic() {
    let mut d = Diff::new();
    d.check_all(&[
        &["CONFIG", "SET", "timeout", "10", "maxmemory", "10mb"],
        &["CONFIG", "GET", "timeout"],
        &["CONFIG", "GET", "maxmemory"],
        // One bad pair: nothing changes.
        &["CONFIG", "SET", "timeout", "5", "maxmemory", "bad"],
        &["CONFIG", "GET", "timeout"],
        &["CONFIG", "SET", "maxmemory", "10KB"],
        &["CONFIG", "GET", "maxmemory"],
        // The alias and its parameter are one value; the last pair wins.
        &[
            "CONFIG",
            "SET",
            "timeout",
            "1",
            "lua-time-limit",
            "5",
            "busy-reply-threshold",
            "6",
        ],
        &["CONFIG", "GET", "lua-time-limit"],
        &["CONFIG", "GET", "busy-reply-threshold"],
        &["CONFIG", "SET", "hz", "0"],
        &["CONFIG", "GET", "hz"],
        &["CONFIG", "SET", "hz", "1000"],
        &["CONFIG", "GET", "hz"],
        &["CONFIG", "SET", "loglevel", "WARNING"],
        &["CONFIG", "GET", "loglevel"],
        &["CONFIG", "SET", "maxmemory-policy", "NOEVICTION"],
        &["CONFIG", "GET", "maxmemory-policy"],
        &["CONFIG", "SET", "appendonly", "no", "save", ""],
        &["CONFIG", "SET", "proto-max-bulk-len", "1mb"],
        &["CONFIG", "GET", "proto-max-bulk-len"],
        &["CONFIG", "SET", "hash-max-ziplist-entries", "64"],
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            "0",
            "timeout",
            "0",
            "hz",
            "10",
        ],
        &["CONFIG", "RESETSTAT"],
    ]);
}

#[test]
fn config_set_requirepass_applies_to_new_connections() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["CONFIG", "SET", "requirepass", "pw"]), b"+OK\r\n");
    // This connection stays authenticated; a new one must AUTH.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let mut n = s.raw();
    assert_eq!(
        n.cmd(&["PING"]),
        b"-NOAUTH Authentication required.\r\n".to_vec()
    );
    assert_eq!(n.cmd(&["AUTH", "pw"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
}

#[test]
fn config_help_shape() {
    let s = common::luagate_shards(1);
    let mut c = s.raw();
    let r = c.cmd_str(&["CONFIG", "HELP"]);
    assert!(
        r.starts_with("*")
            && r.contains("+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"),
        "{r}"
    );
    assert!(r.ends_with("+HELP\r\n+    Print this help.\r\n"), "{r}");
}

#[test]
fn info_sections_match_redis() {
    let mut d = Diff::new();
    for args in [
        &["INFO"][..],
        &["INFO", "all"],
        &["INFO", "default"],
        &["INFO", "everything"],
        &["INFO", "server", "clients"],
        &["INFO", "SERVER"],
        &["INFO", "keyspace", "server", "keyspace"],
        &["INFO", "everything", "foo"],
        &["INFO", "commandstats"],
        &["INFO", "latencystats"],
        &["INFO", "modules"],
    ] {
        let (x, y) = d.both(args);
        assert_eq!(headers(&x), headers(&y), "sections differ for {args:?}");
    }
    // Exact bytes where the content is deterministic.
    d.check_all(&[&["INFO", "foo"], &["INFO", "modules"], &["INFO", "cluster"]]);
}

#[test]
fn info_fields_include_redis_field_names() {
    let mut d = Diff::new();
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "cluster",
    ] {
        let (x, y) = d.both(&["INFO", section]);
        let ours = fields(&x);
        let missing: Vec<_> = fields(&y).difference(&ours).cloned().collect();
        assert!(missing.is_empty(), "INFO {section} lacks {missing:?}");
    }
    let r = d.a.cmd_str(&["INFO", "server"]);
    assert!(r.contains("redis_version:7.2.0\r\n"), "{r}");
    assert!(r.contains("luagate_version:"), "{r}");
    assert!(r.contains("redis_mode:standalone\r\n"), "{r}");
    assert!(r.contains(&format!("tcp_port:{}\r\n", d.lg.port)), "{r}");
    assert!(
        r.contains(&format!("process_id:{}\r\n", d.lg.child.id())),
        "{r}"
    );
    let r = d.a.cmd_str(&["INFO", "memory"]);
    assert!(r.contains("maxmemory_policy:noeviction\r\n"), "{r}");
    assert!(r.contains("mem_allocator:jemalloc-5.3.0+libc\r\n"), "{r}");
    let used: u64 = r
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    assert!(used > 0);
    let r = d.a.cmd_str(&["INFO", "replication"]);
    assert!(r.contains("role:master\r\nconnected_slaves:0\r\n"), "{r}");
}

#[test]
fn info_keyspace_and_counters_after_writes() {
    let mut d = Diff::new();
    d.check(&["INFO", "keyspace"]);
    for i in 0..20 {
        d.check(&["SET", &format!("k{i}"), "v"]);
    }
    d.check_all(&[
        &["SELECT", "3"],
        &["SET", "other", "v"],
        &["SELECT", "0"],
        &["INFO", "keyspace"],
    ]);
    // The same in RESP3: a verbatim string.
    d.both(&["HELLO", "3"]);
    d.check(&["INFO", "keyspace"]);
    d.both(&["HELLO", "2"]);
    // Hits, misses, expires.
    d.check_all(&[
        &["CONFIG", "RESETSTAT"],
        &["GET", "k1"],
        &["GET", "k2"],
        &["GET", "nope"],
        &["SET", "e", "v", "PX", "1"],
    ]);
    std::thread::sleep(Duration::from_millis(20));
    d.check(&["GET", "e"]);
    let r = d.a.cmd_str(&["INFO", "stats"]);
    for f in [
        "keyspace_hits:2\r\n",
        "keyspace_misses:2\r\n",
        "expired_keys:1\r\n",
    ] {
        assert!(r.contains(f), "missing {f:?} in {r}");
    }
    let r = d.a.cmd_str(&["INFO", "keyspace"]);
    assert!(r.contains("db0:keys=20,expires=0,avg_ttl=0\r\n"), "{r}");
}

#[test]
fn errorstats_and_commandstats_count_like_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["CONFIG", "RESETSTAT"],
        &["SET", "s", "x"],
        &["MULTI"],
        &["SET", "s", "y", "EX", "0"],
        &["GET"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "s", "y", "EX", "0"],
        &["EXEC"],
        &["EXEC"],
        &["GET"],
        &["NOSUCH"],
        &["INFO", "errorstats"],
    ]);
    // Commandstats: same counts (times differ).
    let counts = |r: &[u8]| -> BTreeMap<String, String> {
        info_text(r)
            .lines()
            .filter_map(|l| {
                let (name, v) = l.split_once(':')?;
                let kept: Vec<&str> = v.split(',').filter(|f| !f.starts_with("usec")).collect();
                Some((name.to_string(), kept.join(",")))
            })
            .filter(|(n, _)| n != "cmdstat_info")
            .collect()
    };
    let (x, y) = d.both(&["INFO", "commandstats"]);
    assert_eq!(counts(&x), counts(&y));
    let r = d.a.cmd_str(&["INFO", "stats"]);
    assert!(r.contains("total_error_replies:6\r\n"), "{r}");
}

fn debug_diff() -> Diff {
    Diff::with_flags(
        &["--shards", "4", "--enable-debug-command", "yes"],
        &["--enable-debug-command", "yes"],
    )
}

#[test]
fn debug_is_gated_like_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["DEBUG", "SLEEP", "0"],
        &["DEBUG", "HELP"],
        &["DEBUG"],
        &["MULTI"],
        &["DEBUG", "DIGEST"],
        &["EXEC"],
    ]);
    // "local": allowed from loopback, which is where the tests connect from.
    let s = common::luagate(&["--shards", "2", "--enable-debug-command", "local"]);
    assert_eq!(s.raw().cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
    let s = common::luagate(&["--shards", "2", "--enable-debug-command", "yes"]);
    assert_eq!(s.raw().cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
}

#[test]
fn debug_digest_matches_redis_and_ignores_shard_count() {
    let mut d = debug_diff();
    d.check(&["DEBUG", "DIGEST"]);
    for i in 0..50 {
        d.check(&["SET", &format!("key:{i}"), &format!("{}", i * 7)]);
    }
    d.check_all(&[
        &["SET", "withttl", "v", "EX", "1000"],
        &["SELECT", "5"],
        &["SET", "key:1", "in-db5"],
        &["SELECT", "0"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "DIGEST-VALUE", "key:1", "withttl", "nokey"],
        &["DEBUG", "DIGEST-VALUE"],
        &["DEL", "withttl"],
        &["DEBUG", "DIGEST"],
    ]);
    let digest = d.a.cmd(&["DEBUG", "DIGEST"]);
    // The same data on one shard.
    let one = common::luagate(&["--shards", "1", "--enable-debug-command", "yes"]);
    let mut c = one.raw();
    for i in (0..50).rev() {
        c.cmd(&["SET", &format!("key:{i}"), &format!("{}", i * 7)]);
    }
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "key:1", "in-db5"]);
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest);
}

#[test]
fn debug_subcommands_match_redis() {
    let mut d = debug_diff();
    d.check_all(&[
        &["DEBUG", "FOO"],
        &["DEBUG", "digest", "x"],
        &["DEBUG", "PROTOCOL"],
        &["DEBUG", "PROTOCOL", "nosuch"],
        &["DEBUG", "SET-ACTIVE-EXPIRE"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1", "2"],
        &["DEBUG", "SLEEP", "0", "extra"],
        &["DEBUG", "SLEEP", "0.01"],
        &["DEBUG", "SLEEP", "x"],
        &["DEBUG", "LOG", "hello from the tests"],
        &["DEBUG", "LOG"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "ERROR", "FOO bar"],
        &["DEBUG", "ERROR", "hello world"],
        &["DEBUG", "POPULATE", "-1"],
        &["DEBUG", "POPULATE", "x"],
        &["DEBUG", "POPULATE", "1", "q", "x"],
        &["DEBUG", "POPULATE", "30"],
        &["DEBUG", "POPULATE", "5", "p", "12"],
        &["DEBUG", "POPULATE", "5", "p", "2"],
        &["DBSIZE"],
        &["GET", "key:7"],
        &["GET", "p:3"],
        &["DEBUG", "DIGEST"],
    ]);
    let r = d.a.cmd_str(&["DEBUG", "OBJECT", "key:7"]);
    assert!(
        r.starts_with("+Value at:0x") && r.contains(" encoding:embstr "),
        "{r}"
    );
    let r = d.a.cmd_str(&["DEBUG", "HELP"]);
    assert!(r.contains("+DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));
}

#[test]
fn debug_protocol_in_both_protocols() {
    let mut d = debug_diff();
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "true", "false",
        "verbatim", "push",
    ];
    for t in types {
        d.check(&["DEBUG", "PROTOCOL", t]);
    }
    d.check(&["DEBUG", "PROTOCOL", "attrib"]);
    d.both(&["HELLO", "3"]);
    for t in types {
        d.check(&["DEBUG", "PROTOCOL", t]);
    }
    // attrib and push are followed by a second reply.
    for t in ["attrib", "push"] {
        d.check(&["DEBUG", "PROTOCOL", t]);
        let (x, y) = (d.a.read_reply(), d.b.read_reply());
        assert_eq!(x, y, "second part of {t}");
    }
    d.check(&["PING"]);
}

#[test]
fn shutdown_errors_match_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "foo"],
        &["SHUTDOWN", "NOSAVE", "SAVE"],
        &["SHUTDOWN", "NOW", "FORCE", "ABORT"],
        &["MULTI"],
        &["SHUTDOWN"],
        &["EXEC"],
    ]);
}

fn wait_exit(p: &mut common::Proc) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = p.child.try_wait().expect("try_wait") {
            return st;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_exits_with_status_zero() {
    for args in [&["SHUTDOWN"][..], &["SHUTDOWN", "NOSAVE", "NOW", "FORCE"]] {
        let mut s = common::luagate_shards(4);
        let mut c = s.raw();
        c.cmd(&["SET", "a", "1"]);
        let mut other = s.raw();
        c.send_cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        assert!(c.read_reply().is_none(), "SHUTDOWN replies nothing");
        assert!(wait_exit(&mut s).success());
        assert!(other.read_reply().is_none() || other.is_closed());
    }
}

#[test]
fn sigterm_exits_with_status_zero() {
    let mut s = common::luagate_shards(2);
    assert_eq!(s.raw().cmd(&["PING"]), b"+PONG\r\n");
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGTERM);
    }
    assert!(wait_exit(&mut s).success());
}

#[test]
fn lastsave_and_time() {
    let s = common::luagate_shards(1);
    let mut c = s.raw();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = c.cmd_str(&["LASTSAVE"]);
    let t: i64 = r.trim_start_matches(':').trim().parse().expect("integer");
    assert!((now - t).abs() < 120, "{r}");
    assert_eq!(
        c.cmd(&["LASTSAVE", "x"]),
        b"-ERR wrong number of arguments for 'lastsave' command\r\n".to_vec()
    );
}

/// Command statistics grow without locked adds (shard/stats.rs) and CONFIG RESETSTAT moves
/// their base: after a reset only what ran since shows, counted from zero, as in Redis.
#[test]
fn resetstat_restarts_command_statistics() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    let stats = |c: &mut common::Raw| c.cmd_str(&["INFO", "commandstats"]);
    for k in ["a", "b", "c", "d"] {
        c.cmd(&["SET", k, "1"]);
        c.cmd(&["GET", k]);
    }
    let before = stats(&mut c);
    assert!(before.contains("cmdstat_get:calls=4,"), "{before}");
    assert!(before.contains("cmdstat_set:calls=4,"), "{before}");
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let st = c.cmd_str(&["INFO", "stats"]);
    assert!(st.contains("\r\ntotal_commands_processed:1\r\n"), "{st}");
    c.cmd(&["GET", "a"]);
    let after = stats(&mut c);
    assert!(after.contains("cmdstat_get:calls=1,"), "{after}");
    assert!(!after.contains("cmdstat_set"), "{after}");
    assert!(
        after.contains("cmdstat_config|resetstat:calls=1,"),
        "{after}"
    );
}

/// `total_commands_processed` counts every command before INFO, including those pipelined in
/// the same read, and not INFO itself, as Redis counts (checked by the difference between two
/// INFOs on both servers).
#[test]
fn commands_processed_counts_a_pipeline_as_redis_does() {
    let mut d = Diff::new();
    let processed = |r: &[u8]| -> i64 {
        let text = String::from_utf8_lossy(r).into_owned();
        let v = text
            .split("total_commands_processed:")
            .nth(1)
            .unwrap_or_default();
        v.split("\r\n")
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(-1)
    };
    let mut deltas = Vec::new();
    for c in [&mut d.a, &mut d.b] {
        let before = processed(&c.cmd(&["INFO", "stats"]));
        let mut pipeline = Vec::new();
        for args in [
            &["SET", "a", "1"][..],
            &["GET", "a"],
            &["PING"],
            &["INFO", "stats"],
        ] {
            let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
            pipeline.extend(common::encode_cmd(&a));
        }
        c.send(&pipeline);
        for _ in 0..3 {
            c.read_reply().expect("reply");
        }
        let after = processed(&c.read_reply().expect("INFO"));
        deltas.push(after - before);
    }
    assert_eq!(
        deltas[0], deltas[1],
        "luagate (left) and redis-server (right)"
    );
    assert_eq!(deltas[1], 4);
}

/// A reply's structure with its scalars reduced to their type byte, keeping the text of
/// names (bulk strings that are not numbers): `MEMORY STATS` of two servers then compare
/// field for field while their figures differ.
fn shape(reply: &[u8]) -> String {
    let head_end = reply.windows(2).position(|w| w == b"\r\n").expect("a line");
    let head = String::from_utf8_lossy(&reply[1..head_end]).into_owned();
    match reply[0] {
        b'*' | b'%' => {
            let n: usize = head.parse().expect("a count");
            let n = if reply[0] == b'%' { n * 2 } else { n };
            let mut pos = head_end + 2;
            let mut parts = Vec::new();
            for _ in 0..n {
                let l = common::reply_len(&reply[pos..]).expect("a whole reply");
                parts.push(shape(&reply[pos..pos + l]));
                pos += l;
            }
            format!("{}[{}]", reply[0] as char, parts.join(" "))
        }
        b'$' => {
            let body = String::from_utf8_lossy(&reply[head_end + 2..reply.len() - 2]).into_owned();
            if body.parse::<f64>().is_ok() {
                "$num".to_string()
            } else {
                body
            }
        }
        other => (other as char).to_string(),
    }
}

/// MEMORY STATS has Redis's fields in Redis's order with the same types (a `db.N` entry for
/// each database holding keys), in RESP2 and RESP3; DOCTOR and MALLOC-STATS answer text
/// (verbatim in RESP3), PURGE answers OK, and the arity errors and HELP are Redis's.
#[test]
fn memory_reports_have_redis_shape() {
    let mut d = Diff::new();
    d.check_all(&[
        &["SET", "a", "1"],
        &["SELECT", "3"],
        &["SET", "b", "2", "EX", "100"],
        &["SELECT", "0"],
        &["MEMORY", "STATS", "x"],
        &["MEMORY", "DOCTOR", "x"],
        &["MEMORY", "PURGE", "x"],
        &["MEMORY", "MALLOC-STATS", "x"],
        &["MEMORY", "PURGE"],
        &["MEMORY", "HELP"],
        &["MEMORY", "NOSUCH"],
    ]);
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        let (lg, redis) = d.both(&["MEMORY", "STATS"]);
        assert_eq!(shape(&lg), shape(&redis), "RESP{resp}");
        assert!(shape(&lg).contains("db.0 ") && shape(&lg).contains("db.3 "));
        for sub in ["DOCTOR", "MALLOC-STATS"] {
            let (lg, redis) = d.both(&["MEMORY", sub]);
            assert_eq!(lg[0], redis[0], "MEMORY {sub} in RESP{resp}");
            assert!(
                info_text(&lg).len() > 20,
                "{}",
                String::from_utf8_lossy(&lg)
            );
        }
    }
    // The figures are luagate's own, over every shard: both keys count.
    let mut r = d.lg.raw();
    let before = String::from_utf8_lossy(&r.cmd(&["MEMORY", "STATS"])).into_owned();
    assert!(before.contains("keys.count\r\n:2\r\n"), "{before}");
}

/// LOLWUT answers the version line, after a drawing for VERSION 5 the size Redis's is (the
/// same number of lines, each as wide), with Redis's argument errors; the drawing itself is
/// random in both.
#[test]
fn lolwut_matches_redis_in_shape() {
    let mut d = Diff::new();
    let lines = |reply: &[u8]| -> Vec<usize> {
        let text = info_text(reply);
        let (art, version) = text.trim_end().rsplit_once("Redis ver. ").expect("version");
        assert!(version.starts_with('7'), "{text}");
        art.lines().map(|l| l.chars().count()).collect()
    };
    for args in [
        &["LOLWUT"][..],
        &["LOLWUT", "x"],
        &["LOLWUT", "VERSION"],
        &["LOLWUT", "VERSION", "7", "x"],
        &["LOLWUT", "VERSION", "5"],
        &["LOLWUT", "VERSION", "5", "3", "1", "1"],
        &["LOLWUT", "VERSION", "5", "0", "0", "0"],
        &["LOLWUT", "VERSION", "5", "20", "3", "4", "9"],
        &["LOLWUT", "VERSION", "5", "-3", "-1", "500"],
    ] {
        let (lg, redis) = d.both(args);
        assert_eq!(lines(&lg), lines(&redis), "{args:?}");
    }
    d.check_all(&[
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION", "5", "x"],
        &["LOLWUT", "VERSION", "5", "10", "2", "y"],
    ]);
}

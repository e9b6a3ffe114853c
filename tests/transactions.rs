//! MULTI / EXEC / DISCARD / WATCH / UNWATCH against the reference redis-server, byte for byte,
//! with luagate on 4 shards so transactions and watches span shards.
mod common;

use common::{Diff, Raw};

/// One key per shard of a 4-shard server (slots are split in 4 contiguous ranges).
fn spread_keys() -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; 4];
    for i in 0..1000 {
        let k = format!("key{i}");
        let shard = luagate::slot::key_slot(k.as_bytes()).get() as usize / 4096;
        if out[shard].is_none() {
            out[shard] = Some(k);
        }
        if out.iter().all(|x| x.is_some()) {
            break;
        }
    }
    out.into_iter()
        .map(|k| k.expect("a key per shard"))
        .collect()
}

/// A second pair of connections (luagate, reference) for a concurrent client.
fn others(d: &Diff) -> (Raw, Raw) {
    (d.lg.raw(), d.reference.raw())
}

#[track_caller]
fn check2(c: &mut (Raw, Raw), args: &[&str]) {
    let x = c.0.cmd(args);
    let y = c.1.cmd(args);
    assert_eq!(
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y),
        "second client differs on {args:?}"
    );
}

#[test]
fn exec_runs_queued_commands_across_shards() {
    let k = spread_keys();
    let mut d = Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["SET", &k[0], "a"],
        &["SET", &k[1], "b"],
        &["SET", &k[2], "c", "EX", "0"],
        &["GET", &k[0]],
        &["DEL", &k[3], &k[1]],
        &["EXISTS", &k[0], &k[1], &k[2]],
        &["DBSIZE"],
        &["EXEC"],
        &["GET", &k[0]],
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["EXEC"],
    ]);
}

#[test]
fn queueing_errors_and_execabort() {
    let k = spread_keys();
    let mut d = Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["MULTI"],
        &["WATCH", &k[0]],
        &["SET", &k[0], "1"],
        &["EXEC"],
        &["GET", &k[0]],
        &["MULTI"],
        &["SET", &k[0], "2"],
        &["NOSUCHCMD", "x"],
        &["EXEC"],
        &["GET", &k[0]],
        &["MULTI"],
        &["SET", &k[0], "3"],
        &["GET"],
        &["EXEC"],
        &["MULTI"],
        &["SET", &k[0], "4"],
        &["SHUTDOWN"],
        &["EXEC"],
        &["MULTI"],
        &["SET", &k[0], "5"],
        &["EXEC", "extra"],
        &["EXEC"],
        &["MULTI"],
        &["CONFIG", "NOSUCH"],
        &["DISCARD"],
        &["MULTI"],
        &["DEBUG", "SLEEP", "0"],
        &["EXEC"],
        &["MULTI", "x"],
        &["DISCARD", "x"],
        &["GET", &k[0]],
    ]);
}

#[test]
fn runtime_errors_are_elements_of_the_reply() {
    let k = spread_keys();
    let mut d = Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["SET", &k[0], "v"],
        &["SET", &k[1], "v", "EX", "-5"],
        &["SET", &k[1], "v", "NX", "XX"],
        &["GET", &k[1]],
        &["SELECT", "99"],
        &["SELECT", "x"],
        &["EXEC"],
    ]);
}

#[test]
fn connection_commands_inside_exec() {
    let k = spread_keys();
    let mut d = Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["PING"],
        &["PING", "hello"],
        &["ECHO", "hi"],
        &["SELECT", "2"],
        &["SET", &k[0], "in-db2"],
        &["DBSIZE"],
        &["UNWATCH"],
        &["CONFIG", "GET", "maxmemory"],
        &["EXEC"],
        // SELECT inside EXEC sticks.
        &["GET", &k[0]],
        &["SELECT", "0"],
        &["GET", &k[0]],
        &["MULTI"],
        &["INFO", "keyspace"],
        &["SET", &k[1], "x"],
        &["INFO", "keyspace"],
        &["EXEC"],
    ]);
    // TIME and LASTSAVE differ in value, not in shape.
    let r = String::from_utf8_lossy(&{
        d.a.cmd(&["MULTI"]);
        d.a.cmd(&["TIME"]);
        d.a.cmd(&["LASTSAVE"]);
        d.a.cmd(&["EXEC"])
    })
    .into_owned();
    assert!(r.starts_with("*2\r\n*2\r\n$10\r\n"), "{r:?}");
    assert!(r.contains("\r\n:1"), "{r:?}");
}

#[test]
fn exec_in_resp3() {
    let k = spread_keys();
    let mut d = Diff::new();
    d.both(&["HELLO", "3"]);
    d.check_all(&[
        &["MULTI"],
        &["GET", &k[0]],
        &["SET", &k[0], "v"],
        &["GET", &k[0]],
        &["EXEC"],
        &["WATCH", &k[0]],
        &["SET", &k[0], "w"],
        &["MULTI"],
        &["GET", &k[0]],
        &["EXEC"],
    ]);
}

#[test]
fn watch_fails_when_another_client_writes_a_watched_key() {
    let k = spread_keys();
    let mut d = Diff::new();
    let mut o = others(&d);
    d.check_all(&[&["SET", &k[0], "0"], &["WATCH", &k[0], &k[1], &k[2]]]);
    check2(&mut o, &["SET", &k[2], "other"]);
    d.check_all(&[
        &["MULTI"],
        &["SET", &k[0], "mine"],
        &["SET", &k[3], "mine"],
        &["EXEC"],
        &["GET", &k[0]],
        &["GET", &k[3]],
        // The failed EXEC dropped the watches: the same transaction now succeeds.
        &["MULTI"],
        &["SET", &k[0], "mine"],
        &["EXEC"],
    ]);
}

#[test]
fn watch_succeeds_without_changes() {
    let k = spread_keys();
    let mut d = Diff::new();
    let mut o = others(&d);
    d.check_all(&[&["SET", &k[0], "0"], &["WATCH", &k[0], &k[1]]]);
    // Reads, writes to other keys, a DEL of a missing key and writes in another database do
    // not touch the watched keys.
    check2(&mut o, &["GET", &k[0]]);
    check2(&mut o, &["SET", &k[2], "x"]);
    check2(&mut o, &["DEL", &k[1]]);
    check2(&mut o, &["SELECT", "1"]);
    check2(&mut o, &["SET", &k[0], "db1"]);
    d.check_all(&[
        &["MULTI"],
        &["SET", &k[0], "1"],
        &["SET", &k[1], "1"],
        &["EXEC"],
        &["GET", &k[0]],
    ]);
}

#[test]
fn own_writes_missing_keys_and_unwatch() {
    let k = spread_keys();
    let mut d = Diff::new();
    let mut o = others(&d);
    // Touching a watched key yourself before MULTI fails the transaction too.
    d.check_all(&[
        &["WATCH", &k[0]],
        &["SET", &k[0], "self"],
        &["MULTI"],
        &["PING"],
        &["EXEC"],
    ]);
    // A key created (and deleted again) by another client counts as touched.
    d.check(&["WATCH", &k[1]]);
    check2(&mut o, &["SET", &k[1], "x"]);
    check2(&mut o, &["DEL", &k[1]]);
    d.check_all(&[&["MULTI"], &["PING"], &["EXEC"]]);
    // UNWATCH and DISCARD forget the keys.
    d.check(&["WATCH", &k[2]]);
    d.check(&["UNWATCH"]);
    check2(&mut o, &["SET", &k[2], "x"]);
    d.check_all(&[&["MULTI"], &["PING"], &["EXEC"]]);
    d.check(&["WATCH", &k[2]]);
    d.check_all(&[&["MULTI"], &["DISCARD"]]);
    check2(&mut o, &["SET", &k[2], "y"]);
    d.check_all(&[&["MULTI"], &["PING"], &["EXEC"]]);
    // RESET forgets them as well.
    d.check(&["WATCH", &k[3]]);
    d.check(&["RESET"]);
    check2(&mut o, &["SET", &k[3], "y"]);
    d.check_all(&[&["MULTI"], &["PING"], &["EXEC"]]);
}

#[test]
fn watched_key_that_expires_fails_exec() {
    let k = spread_keys();
    let mut d = Diff::new();
    // Live when watched, expired by EXEC (deleted or not yet): touched.
    d.check_all(&[&["SET", &k[0], "v", "PX", "100"], &["WATCH", &k[0]]]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.check_all(&[&["MULTI"], &["PING"], &["EXEC"]]);
    // Already expired when watched: its expiry is not a change.
    d.check(&["SET", &k[1], "v", "PX", "50"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    d.check_all(&[&["WATCH", &k[1]], &["MULTI"], &["PING"], &["EXEC"]]);
}

#[test]
fn watched_key_expiring_without_active_expiry() {
    let k = spread_keys();
    let mut d = Diff::with_flags(
        &["--shards", "4", "--enable-debug-command", "yes"],
        &["--enable-debug-command", "yes"],
    );
    d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    d.check_all(&[&["SET", &k[0], "v", "PX", "100"], &["WATCH", &k[0]]]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.check_all(&[&["DBSIZE"], &["MULTI"], &["PING"], &["EXEC"]]);
    d.check(&["SET", &k[1], "v", "PX", "50"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    d.check_all(&[&["WATCH", &k[1]], &["MULTI"], &["PING"], &["EXEC"]]);
    d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

#[test]
fn client_list_shows_the_queue_length() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    c.cmd(&["PING"]);
    let mut other = s.raw();
    let list = other.cmd_str(&["CLIENT", "LIST"]);
    assert!(list.contains("multi=2"), "{list}");
    c.cmd(&["DISCARD"]);
    let list = other.cmd_str(&["CLIENT", "LIST"]);
    assert!(!list.contains("multi=2"), "{list}");
}

/// A store command touches only its destination: a WATCH on one of its source keys (present or
/// missing) survives it (found by differential_random). COPY touches only the copy.
#[test]
fn store_commands_do_not_touch_their_sources() {
    let mut d = Diff::new();
    let k = spread_keys();
    let stores: &[&[&str]] = &[
        &["SUNIONSTORE", &k[0], &k[1], &k[2]],
        &["SINTERSTORE", &k[0], &k[1], &k[2]],
        &["SDIFFSTORE", &k[0], &k[1], &k[2]],
        &["ZUNIONSTORE", &k[0], "2", &k[1], &k[2]],
        &["ZINTERSTORE", &k[0], "2", &k[1], &k[2]],
        &["ZDIFFSTORE", &k[0], "2", &k[1], &k[2]],
        &["ZRANGESTORE", &k[0], &k[1], "0", "-1"],
        &["COPY", &k[1], &k[0], "REPLACE"],
    ];
    for (i, store) in stores.iter().enumerate() {
        // The destination exists (so an empty result deletes it); a source is a set or zset.
        d.check(&["DEL", &k[0], &k[1]]);
        d.check(&["SADD", &k[0], "x"]);
        if i % 2 == 0 {
            d.check(&["SADD", &k[1], "a", "b"]);
        } else {
            d.check(&["ZADD", &k[1], "1", "a"]);
        }
        d.check_all(&[&["WATCH", &k[1], &k[2]], store, &["MULTI"], &["EXEC"]]);
        // The destination is touched.
        d.check_all(&[&["WATCH", &k[0]], store, &["MULTI"], &["EXEC"]]);
    }
}

/// COPY … DB n touches the copy in database n, not the same name in the current database
/// (found by differential_random).
#[test]
fn copy_to_another_db_touches_only_that_db() {
    let mut d = Diff::new();
    let k = spread_keys();
    d.check_all(&[
        &["SET", &k[0], "v"],
        &["WATCH", &k[1]],
        &["COPY", &k[0], &k[1], "DB", "1"],
        &["MULTI"],
        &["EXEC"],
        &["WATCH", &k[1]],
        &["COPY", &k[0], &k[1]],
        &["MULTI"],
        &["EXEC"],
    ]);
    let mut c = others(&d);
    check2(&mut c, &["SELECT", "1"]);
    check2(&mut c, &["WATCH", &k[1]]);
    d.check(&["COPY", &k[0], &k[1], "DB", "1", "REPLACE"]);
    check2(&mut c, &["MULTI"]);
    check2(&mut c, &["EXEC"]);
}

/// DEL and UNLINK touch only the keys they deleted: a WATCH on a missing key named in the same
/// call survives (found by differential_random).
#[test]
fn del_touches_only_deleted_keys() {
    let mut d = Diff::new();
    let k = spread_keys();
    for c in ["DEL", "UNLINK"] {
        d.check_all(&[
            &["SET", &k[0], "v"],
            &["WATCH", &k[1]],
            &[c, &k[0], &k[1], &k[2]],
            &["MULTI"],
            &["EXEC"],
            &["SET", &k[1], "v"],
            &["WATCH", &k[1]],
            &[c, &k[0], &k[1]],
            &["MULTI"],
            &["EXEC"],
        ]);
    }
}

/// The pops over several keys (LMPOP, ZMPOP, BLPOP … and their blocking forms served at once)
/// touch only the key they popped from: a WATCH on another key they name survives, one on the
/// popped key fails (found by differential_random).
#[test]
fn multi_key_pops_touch_only_the_popped_key() {
    let mut d = Diff::new();
    let k = spread_keys();
    let pops: &[(&str, &[&str])] = &[
        ("RPUSH", &["LMPOP", "3", &k[0], &k[1], &k[2], "LEFT"]),
        (
            "RPUSH",
            &["BLMPOP", "0", "2", &k[0], &k[1], "RIGHT", "COUNT", "2"],
        ),
        ("RPUSH", &["BLPOP", &k[0], &k[1], "0"]),
        ("RPUSH", &["BRPOP", &k[0], &k[1], "0"]),
        ("ZADD", &["ZMPOP", "3", &k[0], &k[1], &k[2], "MIN"]),
        ("ZADD", &["BZMPOP", "0", "2", &k[0], &k[1], "MAX"]),
        ("ZADD", &["BZPOPMIN", &k[0], &k[1], "0"]),
        ("ZADD", &["BZPOPMAX", &k[0], &k[1], "0"]),
    ];
    for (add, pop) in pops {
        // k1 is a string (a later key of the wrong type is not even read), k2 is missing.
        d.check(&["DEL", &k[0], &k[1], &k[2]]);
        d.check(&["SET", &k[1], "s"]);
        let fill: &[&str] = if *add == "RPUSH" {
            &["RPUSH", &k[0], "a", "b", "c"]
        } else {
            &["ZADD", &k[0], "1", "a", "2", "b", "3", "c"]
        };
        d.check(fill);
        d.check_all(&[&["WATCH", &k[1], &k[2]], pop, &["MULTI"], &["EXEC"]]);
        d.check_all(&[&["WATCH", &k[0]], pop, &["MULTI"], &["EXEC"]]);
    }
}

/// LTRIM touches an existing list even when it trims nothing (Redis signals it
/// unconditionally); on a missing key it touches nothing (found by differential_random).
#[test]
fn ltrim_touches_the_list_even_without_trimming() {
    let mut d = Diff::new();
    let k = spread_keys();
    d.check_all(&[
        &["RPUSH", &k[0], "a", "b", "c"],
        &["WATCH", &k[0]],
        &["LTRIM", &k[0], "0", "-1"],
        &["MULTI"],
        &["EXEC"],
        &["WATCH", &k[1]],
        &["LTRIM", &k[1], "0", "-1"],
        &["MULTI"],
        &["EXEC"],
    ]);
}

/// Scripts and functions queued in MULTI run in their place inside EXEC, like any command.
#[test]
fn scripts_queued_in_multi_run_in_order() {
    let mut d = common::Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "k4", "first"],
        &["SET", "k4", "second"],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k4"],
        &["EVAL", "redis.call('SET', 'undeclared', 'u') return redis.call('GET', 'other')", "0"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["EVAL", "return 1", "-1"],
        &["EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", "1", "k4"],
        &["EXEC"],
        &["GET", "k4"],
        &["GET", "undeclared"],
        &["FUNCTION", "LOAD", "#!lua name=txlib\nredis.register_function('tx_set', function(k, a) return redis.call('SET', k[1], a[1]) end)"],
        &["MULTI"],
        &["FCALL", "tx_set", "1", "f1", "a"],
        &["SET", "f1", "b"],
        &["FCALL_RO", "tx_set", "1", "f1", "c"],
        &["EXEC"],
        &["GET", "f1"],
        &["FUNCTION", "FLUSH"],
    ]);
}

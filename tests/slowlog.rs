//! SLOWLOG against the reference server: with `slowlog-log-slower-than 0` every executed
//! command is logged, so the entries' shape (ids, arguments with truncation and redaction,
//! client names, script calls, transactions) is deterministic once the timestamp, duration and
//! client port are masked.

mod common;

use common::resp::{parse, V};
use common::Diff;

/// SLOWLOG GET's entries with what differs between servers masked: ids made relative to the
/// oldest shown, timestamp and duration zeroed, a client's port replaced.
fn masked(reply: &[u8]) -> Vec<V> {
    let V::Arr(entries) = parse(reply).0 else {
        panic!("not an array: {}", String::from_utf8_lossy(reply))
    };
    let min_id = entries
        .iter()
        .filter_map(|e| match e {
            V::Arr(f) => match f.first() {
                Some(V::Int(id)) => Some(*id),
                _ => None,
            },
            _ => None,
        })
        .min()
        .unwrap_or(0);
    entries
        .into_iter()
        .map(|e| {
            let V::Arr(mut f) = e else {
                panic!("entry is not an array")
            };
            assert_eq!(f.len(), 6, "entry fields: {f:?}");
            assert!(
                matches!(f[1], V::Int(t) if t > 1_600_000_000),
                "timestamp: {:?}",
                f[1]
            );
            assert!(matches!(f[2], V::Int(d) if d >= 0), "duration: {:?}", f[2]);
            if let V::Int(id) = f[0] {
                f[0] = V::Int(id - min_id);
            }
            f[1] = V::Int(0);
            f[2] = V::Int(0);
            if let V::Str(a) = &f[4] {
                if a != "?:0" {
                    assert!(a.starts_with("127.0.0.1:"), "client address: {a}");
                    f[4] = V::Str("client".into());
                }
            }
            V::Arr(f)
        })
        .collect()
}

fn diff() -> Diff {
    let mut d = Diff::with_flags(
        &["--shards", "4", "--slowlog-log-slower-than", "0"],
        &["--slowlog-log-slower-than", "0"],
    );
    d.check(&["SLOWLOG", "RESET"]);
    d
}

#[track_caller]
fn check_log(d: &mut Diff, args: &[&str]) {
    let (x, y) = d.both(args);
    assert_eq!(masked(&x), masked(&y), "SLOWLOG differs on {args:?}");
}

#[test]
fn entries_match_redis() {
    let mut d = diff();
    let long = "a".repeat(200);
    let many: Vec<String> = std::iter::once("MSET".to_string())
        .chain((0..34).map(|i| format!("k{i}")))
        .collect();
    let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
    d.check(&["CLIENT", "SETNAME", "foo"]);
    d.check(&["SET", "k", &long]);
    d.check(&["MSET", "x", "1", "y", "2"]);
    d.check(&many);
    d.check(&["GET", "k"]);
    d.check(&["INCR", "k"]); // an error reply is still logged
    d.check(&["NOSUCH", "x"]); // never ran: not logged
    d.check(&["GET"]); // wrong arity: not logged
    d.check(&["MULTI"]);
    d.check(&["SET", "t", "1"]);
    d.check(&["INCR", "t"]);
    d.check(&["EXEC"]);
    d.check(&["EVAL", "redis.call('set', 'x', '1') return 1", "0"]);
    d.check(&["CONFIG", "SET", "requirepass", ""]);
    d.check(&["AUTH", "secret"]);
    d.both(&["HELLO", "2", "AUTH", "default", "pw"]); // version and id differ
    d.check(&["CLIENT", "SETNAME", "bar"]);
    d.check(&["SLOWLOG", "LEN"]);
    check_log(&mut d, &["SLOWLOG", "GET", "-1"]);
    check_log(&mut d, &["SLOWLOG", "GET"]);
    check_log(&mut d, &["SLOWLOG", "GET", "3"]);
    check_log(&mut d, &["SLOWLOG", "GET", "0"]);
}

#[test]
fn config_and_subcommands_match_redis() {
    let mut d = diff();
    d.check(&["SLOWLOG", "HELP"]);
    d.check(&["SLOWLOG", "GET", "-2"]);
    d.check(&["SLOWLOG", "GET", "x"]);
    d.check(&["SLOWLOG", "GET", "1", "2"]);
    d.check(&["SLOWLOG", "LEN", "x"]);
    d.check(&["SLOWLOG", "NOPE"]);
    d.check(&["SLOWLOG"]);
    d.check_unordered(&["CONFIG", "GET", "slowlog-*"]); // Redis lists them in hash order
    d.check(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    for i in 0..6 {
        d.check(&["SET", &format!("k{i}"), "v"]);
    }
    d.check(&["SLOWLOG", "LEN"]);
    check_log(&mut d, &["SLOWLOG", "GET", "-1"]);
    d.check(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    d.check(&["SLOWLOG", "RESET"]);
    d.check(&["SET", "a", "1"]);
    d.check(&["SLOWLOG", "LEN"]);
    d.check(&["CONFIG", "SET", "slowlog-log-slower-than", "-2"]);
    d.check(&["CONFIG", "SET", "slowlog-log-slower-than", "1000000000"]);
    d.check(&["SET", "a", "1"]);
    d.check(&["SLOWLOG", "LEN"]);
}

#[test]
fn turning_the_log_on_logs_that_config_set() {
    let mut d = Diff::with_flags(
        &["--shards", "4", "--slowlog-log-slower-than", "-1"],
        &["--slowlog-log-slower-than", "-1"],
    );
    d.check(&["CLIENT", "SETNAME", "n"]);
    d.check(&["SET", "a", "1"]);
    d.check(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    check_log(&mut d, &["SLOWLOG", "GET", "-1"]);
    d.check(&["SLOWLOG", "RESET"]);
    d.check(&["CONFIG", "SET", "slowlog-max-len", "0"]);
    d.check(&["PING"]);
    d.check(&["CONFIG", "SET", "slowlog-max-len", "5"]);
    d.check(&["ECHO", "x"]);
    check_log(&mut d, &["SLOWLOG", "GET", "-1"]);
}

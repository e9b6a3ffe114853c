//! Streams (XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XINFO STREAM/HELP),
//! differentially against redis-server: replies byte for byte with explicit ids, generated
//! ids (`*`) by shape, approximate trimming by the lengths it leaves; the stream type in
//! keyspace commands, scripts and COMMAND INFO. XREAD is in tests/streams_read.rs, followers
//! and the append-only log in tests/streams_effects.rs, seeded random operations in
//! tests/streams_random.rs, consumer groups in tests/stream_groups*.rs.
mod common;

use common::streams::{resp3, s};
use common::{array_items, Diff};

#[test]
fn xadd_ids_options_and_errors() {
    let mut d = Diff::new();
    d.check_all(&[
        &["XADD", "s", "0-0", "a", "b"],
        &["XADD", "s", "0", "a", "b"],
        &["EXISTS", "s"],
        &["XADD", "s", "1", "a", "b"],
        &["XADD", "s", "1", "a", "b"],
        &["XADD", "s", "1-*", "a", "b"],
        &["XADD", "s", "1-5", "a"],
        &["XADD", "s", "1-5", "a", "b", "c"],
        &["XADD", "s", "x", "a", "b"],
        &["XADD", "s", "1-x", "a", "b"],
        &["XADD", "s", "-1", "a", "b"],
        &["XADD", "s", "1-", "a", "b"],
        &["XADD", "s", "1-2-3", "a", "b"],
        &["XADD", "s", "+", "a", "b"],
        &["XADD", "s", "-", "a", "b"],
        &["XADD", "s", "18446744073709551616", "a", "b"],
        &["XADD", "s", " 2", "a", "b"],
        &["XADD", "s", "2-+5", "a", "b"],
        &["XADD", "s", "02-07", "a", "b"],
        &["XADD", "s", "1-*", "a", "b"],
        &["XADD", "s", "2-*", "a", "b"],
        &["XADD", "s", "3-*", "a", "b", "c", "d"],
        &["XADD", "s", "MAXLEN", "a", "*", "a", "b"],
        &["XADD", "s", "MAXLEN", "=", "-1", "*", "a", "b"],
        &["XADD", "s", "MAXLEN", "1", "LIMIT", "10", "*", "a", "b"],
        &["XADD", "s", "MINID", "~", "5", "LIMIT", "-1", "*", "a", "b"],
        &["XADD", "s", "MAXLEN", "~", "1", "LIMIT", "x", "*", "a", "b"],
        &["XADD", "s", "MAXLEN", "~", "1", "MINID", "4", "*", "a", "b"],
        &["XADD", "s", "MINID", "4", "MAXLEN", "1", "*", "a", "b"],
        &["XADD", "s", "LIMIT", "5", "*", "a", "b"],
        &["XADD", "s", "MINID", "(5", "*", "a", "b"],
        &["XADD", "s", "MAXLEN", "~", "1"],
        &["XADD", "s", "NOMKSTREAM"],
        &["XADD", "nokey", "NOMKSTREAM", "*", "a", "b"],
        &["XADD", "nokey", "NOMKSTREAM", "5-5", "a", "b"],
        &["EXISTS", "nokey"],
        &["XADD", "s", "NOMKSTREAM", "NOMKSTREAM", "4-1", "a", "b"],
        &["XADD", "s", "foo", "bar"],
        &["XLEN", "s"],
        &["XRANGE", "s", "-", "+"],
        // The last possible ids.
        &["XADD", "m", "5-18446744073709551615", "a", "b"],
        &["XADD", "m", "5-*", "a", "b"],
        &["XADD", "m", "4-*", "a", "b"],
        &[
            "XADD",
            "m",
            "18446744073709551615-18446744073709551615",
            "a",
            "b",
        ],
        &["XADD", "m", "*", "a", "b"],
        &["XADD", "m", "18446744073709551615-*", "a", "b"],
        &["XADD", "e", "0-*", "a", "b"],
        // Types.
        &["SET", "str", "x"],
        &["XADD", "str", "*", "a", "b"],
        &["XLEN", "str"],
        &["XLEN", "nokey"],
        &["TYPE", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["LPUSH", "s", "x"],
        &["GET", "s"],
        &["XADD", "s", "MAXLEN", "0", "9-9", "only", "trimmed"],
        &["XLEN", "s"],
        &["XINFO", "STREAM", "s"],
        &["EXISTS", "s"],
    ]);
}

#[test]
fn ranges_counts_and_exclusive_bounds() {
    let mut d = Diff::new();
    for i in 1..=12 {
        let id = format!("{}-{}", i / 3, i % 3);
        let v = i.to_string();
        d.check(&["XADD", "s", &id, "f", &v, "g", "x"]);
    }
    d.check(&["XADD", "s", "5-0", "other", "fields"]);
    for c in [
        &["XRANGE", "s", "-", "+"][..],
        &["XREVRANGE", "s", "+", "-"],
        &["XRANGE", "s", "1", "2"],
        &["XRANGE", "s", "1-1", "3-0"],
        &["XRANGE", "s", "(1-1", "(3-0"],
        &["XREVRANGE", "s", "(3-0", "(1-1"],
        &["XRANGE", "s", "(0-0", "+", "COUNT", "3"],
        &["XREVRANGE", "s", "+", "-", "COUNT", "2"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
        &["XRANGE", "s", "-", "+", "COUNT", "-1"],
        &["XREVRANGE", "s", "+", "-", "COUNT", "0"],
        &["XRANGE", "s", "-", "+", "COUNT", "1", "COUNT", "2"],
        &["XRANGE", "s", "-", "+", "COUNT"],
        &["XRANGE", "s", "-", "+", "COUNT", "x"],
        &["XRANGE", "s", "-", "+", "foo"],
        &["XRANGE", "s", "+", "-"],
        &["XRANGE", "s", "3", "1"],
        &["XRANGE", "s", "(-", "+"],
        &["XRANGE", "s", "(0-1", "(+"],
        &["XRANGE", "s", "(", "+"],
        &[
            "XRANGE",
            "s",
            "(18446744073709551615-18446744073709551615",
            "+",
        ],
        &["XRANGE", "s", "-", "(0-0"],
        &["XREVRANGE", "s", "+", "(0-0"],
        &["XRANGE", "s", "x", "+"],
        &["XREVRANGE", "s", "x", "y"],
        &["XRANGE", "nokey", "-", "+"],
        &["XRANGE", "nokey", "x", "+"],
        &["XRANGE", "s", "-"],
        &["XREVRANGE", "s"],
        &["SET", "str", "x"],
        &["XRANGE", "str", "-", "+", "COUNT", "0"],
        &["XRANGE", "str", "x", "+"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
        &["XRANGE", "s", "-", "+", "COUNT", "2"],
    ] {
        d.check(c);
    }
    resp3(&mut d);
    d.check(&["XRANGE", "s", "-", "+", "COUNT", "0"]);
    d.check(&["XREVRANGE", "s", "+", "-", "COUNT", "2"]);
}

#[test]
fn xdel_xtrim_and_xsetid() {
    let mut d = Diff::new();
    for i in 1..=30 {
        d.check(&["XADD", "s", &format!("{i}-1"), "a", &i.to_string()]);
    }
    d.check_all(&[
        &["XDEL", "s"],
        &["XDEL", "s", "1"],
        &["XDEL", "s", "1-1", "x"],
        &["XDEL", "s", "1-1", "1-1", "2-1", "99"],
        &["XDEL", "nokey", "x"],
        &["XDEL", "s", "30-1"],
        &["XLEN", "s"],
        &["XINFO", "STREAM", "s"],
        &["XTRIM", "s"],
        &["XTRIM", "s", "LIMIT", "5"],
        &["XTRIM", "s", "MAXLEN"],
        &["XTRIM", "s", "MAXLEN", "~"],
        &["XTRIM", "s", "MAXLEN", "~", "5", "foo"],
        &["XTRIM", "s", "MAXLEN", "x"],
        &["XTRIM", "s", "MAXLEN", "1", "LIMIT", "4"],
        &["XTRIM", "s", "MINID", "(5"],
        &["XTRIM", "s", "MINID", "-"],
        &["XTRIM", "s", "MINID", "5-*"],
        &["XTRIM", "s", "FOO", "1"],
        &["XTRIM", "nokey", "MAXLEN", "5"],
        &["XTRIM", "s", "MAXLEN", "~", "5"],
        &["XTRIM", "s", "MAXLEN", "=", "25"],
        &["XTRIM", "s", "MINID", "10"],
        &["XTRIM", "s", "MINID", "~", "20"],
        &["XTRIM", "s", "MAXLEN", "5"],
        &["XRANGE", "s", "-", "+"],
        &["XINFO", "STREAM", "s"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XINFO", "STREAM", "s"],
        &["EXISTS", "s"],
        // XSETID.
        &["XSETID", "s", "0-0"],
        &[
            "XSETID",
            "s",
            "0-0",
            "ENTRIESADDED",
            "0",
            "MAXDELETEDID",
            "0-0",
        ],
        &["XINFO", "STREAM", "s"],
        &[
            "XSETID",
            "s",
            "1-1",
            "ENTRIESADDED",
            "7",
            "MAXDELETEDID",
            "2-2",
        ],
        &[
            "XSETID",
            "s",
            "3-3",
            "ENTRIESADDED",
            "7",
            "MAXDELETEDID",
            "2-2",
        ],
        &["XINFO", "STREAM", "s"],
        &["XSETID", "nokey", "1-1"],
        &["XSETID", "s", "1"],
        &["XSETID", "s", "4", "ENTRIESADDED", "-1"],
        &["XSETID", "s", "4", "ENTRIESADDED", "x"],
        &["XSETID", "s", "4", "MAXDELETEDID", "x"],
        &["XSETID", "s", "4", "foo"],
        &["XSETID", "s", "4", "ENTRIESADDED"],
        &["XSETID", "s", "*"],
        &["XSETID", "s", "+"],
        &["XADD", "s", "6-0", "a", "b"],
        &["XSETID", "s", "5-9"],
        &["XSETID", "s", "6-0", "ENTRIESADDED", "0"],
        &["XSETID", "s", "6-0", "MAXDELETEDID", "6-1"],
        &["XSETID", "s", "6-1", "MAXDELETEDID", "6-1"],
        &["XADD", "s", "6-1", "a", "b"],
        &["XADD", "s", "6-*", "a", "b"],
        &["XINFO", "STREAM", "s"],
        &["SET", "str", "x"],
        &["XDEL", "str", "1"],
        &["XDEL", "str", "x"],
        &["XTRIM", "str", "MAXLEN", "1"],
        &["XTRIM", "str", "MAXLEN", "x"],
        &["XSETID", "str", "1"],
        &["XSETID", "str", "x"],
    ]);
}

/// Approximate trimming removes whole nodes, which start every 100 entries or when the
/// node's listpack would reach 4096 bytes: lengths after `~` must match Redis's for small,
/// integer-looking, mixed and large values, with and without deletions, and LIMIT.
#[test]
fn approximate_trimming_matches_redis_node_layout() {
    let mut d = Diff::new();
    let values = |i: usize, kind: usize| -> Vec<String> {
        match kind {
            0 => vec!["f".into(), i.to_string()],
            1 => vec!["field".into(), "v".repeat(i % 70)],
            2 => vec![
                "a".into(),
                "x".repeat(200 + i % 300),
                "b".into(),
                i.to_string(),
            ],
            3 if i.is_multiple_of(2) => vec!["a".into(), "1".into()],
            3 => vec![
                "other".into(),
                "y".repeat(i % 130),
                "c".into(),
                "-4097".into(),
            ],
            _ => vec!["big".into(), "z".repeat(1500 + i)],
        }
    };
    for kind in 0..5 {
        let key = format!("s{kind}");
        for i in 1..=400usize {
            let id = format!("{}-{}", 1000 + i * 7, i % 5);
            let mut args: Vec<String> = vec!["XADD".into(), key.clone()];
            if i % 50 == 0 {
                args.extend(["MAXLEN".into(), "~".into(), (i / 3).to_string()]);
            }
            args.push(id);
            args.extend(values(i, kind));
            let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
            d.check(&a);
            if i % 37 == 0 {
                let id = format!("{}-{}", 1000 + (i - 3) * 7, (i - 3) % 5);
                d.check(&["XDEL", &key, &id]);
            }
            if i % 50 == 25 {
                d.check(&["XLEN", &key]);
            }
        }
        d.check(&["XINFO", "STREAM", &key]);
        d.check(&["XTRIM", &key, "MAXLEN", "~", "150", "LIMIT", "60"]);
        d.check(&["XTRIM", &key, "MAXLEN", "~", "150", "LIMIT", "0"]);
        d.check(&["XTRIM", &key, "MINID", "~", "3000"]);
        d.check(&["XTRIM", &key, "MINID", "3100"]);
        d.check(&["XINFO", "STREAM", &key, "FULL", "COUNT", "3"]);
        d.check(&["XLEN", &key]);
    }
}

#[test]
fn generated_ids_by_shape() {
    let mut d = Diff::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut last = (0u64, 0u64);
    for _ in 0..50 {
        let r = d.a.cmd(&["XADD", "s", "*", "f", "v"]);
        let t = s(&r);
        let id = t.trim().rsplit('\n').next().unwrap().to_string();
        let (ms, seq) = id.split_once('-').expect("ms-seq");
        let (ms, seq): (u64, u64) = (ms.parse().unwrap(), seq.parse().unwrap());
        assert!(ms + 5000 >= now_ms && ms <= now_ms + 60_000, "{id}");
        assert!((ms, seq) > last, "{id} after {last:?}");
        last = (ms, seq);
    }
    // An id in the future makes `*` continue its sequence.
    d.check(&["XADD", "f", "99999999999999-5", "a", "b"]);
    d.check(&["XADD", "f", "*", "a", "b"]);
    d.check(&["XADD", "f", "99999999999999-*", "a", "b"]);
    d.check(&["XADD", "f", "99999999999999-18446744073709551615", "a", "b"]);
    d.check(&["XADD", "f", "*", "a", "b"]);
    d.check(&["XRANGE", "f", "-", "+"]);
    let n = d.a.cmd(&["XLEN", "s"]);
    assert_eq!(s(&n), ":50\r\n");
}

#[test]
fn xinfo_stream_and_help() {
    let mut d = Diff::new();
    for i in 1..=250u64 {
        // Ids spread over several bytes so the radix tree branches at different depths.
        let id = format!("{}-{}", i * i * 977, i % 3);
        d.check(&["XADD", "s", &id, "a", "b"]);
    }
    d.check(&["XADD", "one", "1-1", "a", "b"]);
    d.check_all(&[
        &["XINFO"],
        &["XINFO", "FOO"],
        &["XINFO", "STREAM"],
        &["XINFO", "STREAM", "nokey"],
        &["XINFO", "STREAM", "s"],
        &["XINFO", "STREAM", "one"],
        &["XINFO", "STREAM", "s", "FULL"],
        &["XINFO", "STREAM", "one", "FULL", "COUNT", "0"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "2"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "-1"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "x"],
        &["XINFO", "STREAM", "s", "FULL", "FOO"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "1", "COUNT", "2"],
        &["XINFO", "STREAM", "s", "FOO"],
        &["XINFO", "HELP"],
        &["XINFO", "HELP", "x"],
        &["SET", "str", "x"],
        &["XINFO", "STREAM", "str"],
        &["XDEL", "s", "977-1"],
        &["XTRIM", "s", "MAXLEN", "120"],
        &["XINFO", "STREAM", "s"],
    ]);
    resp3(&mut d);
    d.check(&["XINFO", "STREAM", "one"]);
    d.check(&["XINFO", "STREAM", "one", "FULL"]);
}

#[test]
fn stream_type_in_keyspace_commands_and_digest() {
    let mut d = Diff::with_flags(
        &["--shards", "4", "--enable-debug-command", "yes"],
        &["--enable-debug-command", "yes"],
    );
    d.check_all(&[
        &["XADD", "st", "1-1", "a", "b", "c", "d"],
        &["XADD", "st", "1-2", "a", "c"],
        &["XADD", "st2", "1-1", "a", "b"],
        &["XDEL", "st2", "1-1"],
        &["SET", "str", "x"],
        &["TYPE", "st"],
        &["TYPE", "st2"],
        &["OBJECT", "ENCODING", "st"],
        &["DEBUG", "DIGEST-VALUE", "st", "st2"],
        &["DEBUG", "DIGEST"],
        &["RENAME", "st", "st3"],
        &["XRANGE", "st3", "-", "+"],
        &["COPY", "st3", "st4"],
        &["XADD", "st4", "2-1", "x", "y"],
        &["XLEN", "st3"],
        &["XLEN", "st4"],
        &["DEBUG", "DIGEST"],
    ]);
    let keys = |r: &[u8]| {
        let outer = array_items(r).expect("scan reply");
        assert_eq!(s(&outer[0]), "$1\r\n0\r\n");
        let mut k = array_items(&outer[1]).expect("keys");
        k.sort();
        k
    };
    let (a, b) = d.both(&["SCAN", "0", "TYPE", "stream", "COUNT", "100"]);
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(keys(&a).len(), 3);
    let m = d.a.cmd(&["MEMORY", "USAGE", "st3"]);
    let n: i64 = s(&m).trim_start_matches(':').trim().parse().unwrap();
    assert!(n > 50 && n < 10_000, "MEMORY USAGE {n}");
}

#[test]
fn streams_from_scripts() {
    let mut d = Diff::new();
    d.check_all(&[
        &[
            "EVAL",
            "return redis.call('XADD', KEYS[1], '5-1', 'a', 'b')",
            "1",
            "s",
        ],
        &[
            "EVAL",
            "return redis.call('XRANGE', KEYS[1], '-', '+')",
            "1",
            "s",
        ],
        &["EVAL", "return redis.call('XLEN', KEYS[1])", "1", "s"],
        &[
            "EVAL",
            "return redis.pcall('XADD', KEYS[1], '1-1', 'a', 'b')",
            "1",
            "s",
        ],
        &[
            "EVAL",
            "return redis.call('XREAD', 'STREAMS', KEYS[1], '0')",
            "1",
            "s",
        ],
        &[
            "EVAL",
            "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')",
            "1",
            "s",
        ],
        &[
            "EVAL",
            "return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '0')",
            "1",
            "s",
        ],
        &[
            "EVAL_RO",
            "return redis.call('XADD', KEYS[1], '6-1', 'a', 'b')",
            "1",
            "s",
        ],
    ]);
    // `*` from a script: an id of the current time.
    let r = d.a.cmd(&[
        "EVAL",
        "return redis.call('XADD', KEYS[1], '*', 'a', 'b')",
        "1",
        "s",
    ]);
    assert!(s(&r).contains('-'), "{}", s(&r));
}

#[test]
fn stream_commands_in_command_info() {
    let mut d = Diff::new();
    for c in [
        "xadd",
        "xlen",
        "xrange",
        "xrevrange",
        "xdel",
        "xtrim",
        "xread",
        "xsetid",
        "xinfo",
    ] {
        d.check_command_info(c, 6);
    }
    // Consumer groups' commands: tests/stream_groups.rs.
}

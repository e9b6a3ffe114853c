//! Streams (XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD, XSETID, XINFO STREAM/HELP),
//! differentially against redis-server: replies byte for byte with explicit ids, generated
//! ids (`*`) by shape, approximate trimming by the lengths it leaves.
mod common;

use common::{array_items, Diff};

fn s(x: &[u8]) -> String {
    String::from_utf8_lossy(x).into_owned()
}

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

/// Switches both connections to RESP3 (the HELLO replies differ in the version only).
fn resp3(d: &mut Diff) {
    d.both(&["HELLO", "3"]);
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
fn xread_across_shards_and_protocols() {
    let mut d = Diff::new();
    let keys = common::keys_on_distinct_shards("rs", 3, 4);
    let (k1, k2, k3) = (&keys[0], &keys[1], &keys[2]);
    for i in 1..=5 {
        d.check(&["XADD", k1, &format!("{i}-1"), "a", &i.to_string()]);
        d.check(&["XADD", k2, &format!("{i}-2"), "b", &i.to_string()]);
    }
    d.check(&["XADD", "s", "1-1", "a", "b"]);
    d.check(&["XADD", "s", "2-1", "c", "d"]);
    d.check(&["XDEL", "s", "2-1"]);
    d.check(&["SET", "str", "x"]);
    for c in [
        &["XREAD", "STREAMS", k1, k2, k3, "0", "2-2", "0"][..],
        &["XREAD", "COUNT", "2", "STREAMS", k1, k2, "0", "0"],
        &["XREAD", "COUNT", "-5", "STREAMS", k1, "3"],
        &["XREAD", "STREAMS", k1, k2, "$", "$"],
        &["XREAD", "STREAMS", k3, "$"],
        &["XREAD", "STREAMS", "s", "1-1"],
        &["XREAD", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "s"],
        &["XREAD", "STREAMS", "s", ">"],
        &["XREAD", "STREAMS", "s", "x"],
        &["XREAD", "STREAMS", "s", k1, "0"],
        &["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "x", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "10", "STREAMS", "s", "0"],
        &["XREAD", "FOO", "STREAMS", "s", "0"],
        &["XREAD", "COUNT", "1"],
        &["XREAD", "COUNT", "1", "STREAMS"],
        &["XREAD", "GROUP", "a", "b", "STREAMS", "s", "0"],
        &["XREAD", "NOACK", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XREAD", "STREAMS", "s", "str", "9", "0"],
        &[
            "XREAD",
            "STREAMS",
            "s",
            "18446744073709551615-18446744073709551615",
        ],
        &[
            "COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0",
        ],
        &["MULTI"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "0"],
        &["EXEC"],
    ] {
        d.check(c);
    }
    resp3(&mut d);
    d.check(&["XREAD", "STREAMS", k1, k2, k3, "0", "3", "0"]);
    d.check(&["XREAD", "STREAMS", "s", "5"]);
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

// ---- effects: followers and the append-only log ----

fn node(extra: &[&str]) -> common::Proc {
    let mut flags = vec![
        "--shards",
        "4",
        "--enable-debug-command",
        "yes",
        "--metrics-port",
        "0",
    ];
    flags.extend_from_slice(extra);
    common::luagate(&flags)
}

/// What must survive of each stream: XINFO STREAM without the node layout (radix tree sizes
/// depend on how the entries were added), every entry, and the dataset digest.
fn streams_state(r: &mut common::Raw, keys: &[&str]) -> String {
    let mut out = common::digest(r);
    for k in keys {
        let info = r.cmd(&["XINFO", "STREAM", k]);
        let items = array_items(&info).unwrap_or_else(|| panic!("XINFO {k}: {}", s(&info)));
        for pair in items.chunks(2) {
            if !s(&pair[0]).contains("radix-tree") {
                out.push_str(&s(&pair[0]));
                out.push_str(&s(&pair[1]));
            }
        }
        out.push_str(&s(&r.cmd(&["XRANGE", k, "-", "+"])));
    }
    out
}

const STREAM_KEYS: &[&str] = &["gen", "approx", "minid", "emptied", "zero", "script"];

/// Writes whose effects differ from the commands: generated ids, approximate trims, and
/// streams whose state is more than their entries (emptied, ids set by XSETID).
fn stream_workload(r: &mut common::Raw, round: usize) {
    for i in 0..300 {
        let v = "v".repeat((i * 13 + round) % 90);
        r.cmd(&["XADD", "gen", "*", "f", &v]);
        r.cmd(&[
            "XADD",
            "approx",
            "MAXLEN",
            "~",
            "120",
            "*",
            "f",
            &v,
            "n",
            &i.to_string(),
        ]);
        let min = format!("{}", 1_000_000 + round * 1000 + i.saturating_sub(150));
        r.cmd(&[
            "XADD",
            "minid",
            "MINID",
            "~",
            &min,
            &format!("{}-*", 1_000_000 + round * 1000 + i),
            "a",
            &v,
        ]);
    }
    r.cmd(&["XDEL", "gen", "0-1"]);
    let first = r.cmd(&["XRANGE", "gen", "-", "+", "COUNT", "1"]);
    let id = array_items(&first)
        .and_then(|e| array_items(&e[0]))
        .map(|e| s(&e[0]));
    let id = id.expect("an entry");
    let id = id.rsplit('\n').nth(1).expect("id").trim().to_string();
    assert_eq!(r.cmd_str(&["XDEL", "gen", &id]), ":1\r\n");
    r.cmd(&["XTRIM", "gen", "MAXLEN", "~", "50"]);
    r.cmd(&["XADD", "emptied", "5-5", "a", "b"]);
    r.cmd(&["XADD", "emptied", "7-7", "a", "b"]);
    r.cmd(&["XDEL", "emptied", "7-7"]);
    r.cmd(&["XTRIM", "emptied", "MAXLEN", "0"]);
    r.cmd(&["XSETID", "emptied", "9-9", "ENTRIESADDED", "40"]);
    r.cmd(&["XADD", "zero", "MAXLEN", "0", "1-1", "a", "b"]);
    r.cmd(&["XSETID", "zero", "0-0", "ENTRIESADDED", "0"]);
    r.cmd(&[
        "EVAL",
        "for i = 1, 5 do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '1', '*', 'i', i) end return 1",
        "1",
        "script",
    ]);
}

#[test]
fn streams_reach_followers_by_snapshot_and_by_effects() {
    let l = node(&[]);
    let mut lr = l.raw();
    stream_workload(&mut lr, 0);
    // Before the follower exists: it gets these streams from the snapshot.
    let f = node(&["--shards", "2", "--replicaof", &l.addr()]);
    let mut fr = f.raw();
    common::wait_synced(&mut lr, &mut fr);
    assert_eq!(
        streams_state(&mut fr, STREAM_KEYS),
        streams_state(&mut lr, STREAM_KEYS)
    );
    // After: through the effect stream, which also serves a reader blocked on the follower.
    let mut reader = f.raw();
    send(
        &mut reader,
        &[
            "XREAD", "BLOCK", "20000", "COUNT", "1", "STREAMS", "gen", "$",
        ],
    );
    common::wait_blocked_clients(&mut fr, 1);
    stream_workload(&mut lr, 1);
    common::wait_synced(&mut lr, &mut fr);
    let served = read(&mut reader);
    assert!(
        served.starts_with("*1\r\n*2\r\n$3\r\ngen\r\n*1\r\n"),
        "{served}"
    );
    let state = streams_state(&mut lr, STREAM_KEYS);
    assert!(state.contains("last-generated-id\r\n$3\r\n9-9"), "{state}");
    assert_eq!(streams_state(&mut fr, STREAM_KEYS), state);
}

#[test]
fn streams_survive_the_log_and_its_rewrite() {
    let dir = std::env::temp_dir().join(format!("luagate-streams-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let d = dir.to_str().expect("utf-8 path");
    let flags = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d];
    let mut p = node(&flags);
    let mut r = p.raw();
    stream_workload(&mut r, 0);
    let state = streams_state(&mut r, STREAM_KEYS);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    // Replayed from the log's effects.
    let mut p = node(&flags);
    let mut r = p.raw();
    assert_eq!(streams_state(&mut r, STREAM_KEYS), state);
    // Rewritten into a snapshot, then replayed from it (the state digest covers the filler
    // key the rewrite needs, so it is read again).
    common::rewrite_log(&mut r, &dir);
    let state = streams_state(&mut r, STREAM_KEYS);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    let p = node(&flags);
    let mut r = p.raw();
    assert_eq!(streams_state(&mut r, STREAM_KEYS), state);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- XREAD BLOCK ----

fn send(c: &mut common::Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    c.send_cmd(&a);
}

fn read(c: &mut common::Raw) -> String {
    s(&c.read_reply().expect("reply"))
}

#[test]
fn xread_block_waits_for_new_entries() {
    let keys = common::keys_on_distinct_shards("bk", 2, 4);
    let (k1, k2) = (keys[0].as_str(), keys[1].as_str());
    let t = common::on_both(|p| {
        let mut log = Vec::new();
        let mut w = p.raw();
        w.cmd(&["XADD", "s", "1-1", "old", "entry"]);
        // `$`: only entries added after the call; an XADD to another key does not serve it.
        let mut a = p.raw();
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        common::wait_blocked_clients(&mut w, 1);
        log.push(w.cmd_str(&["XADD", "other", "1-1", "a", "b"]));
        log.push(w.cmd_str(&["XADD", "s", "2-1", "new", "entry"]));
        log.push(read(&mut a));
        // Two readers of one stream are both served by one XADD, one of them in RESP3.
        let mut b = p.raw();
        let mut c = p.raw();
        c.cmd(&["HELLO", "3"]);
        send(
            &mut b,
            &["XREAD", "BLOCK", "0", "COUNT", "5", "STREAMS", "s", "2-1"],
        );
        common::wait_blocked_clients(&mut w, 1);
        send(&mut c, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"]);
        common::wait_blocked_clients(&mut w, 2);
        log.push(w.cmd_str(&["XADD", "s", "3-1", "third", "x"]));
        log.push(read(&mut b));
        log.push(read(&mut c));
        // Keys on two shards; a missing key's `$` is 0-0.
        send(
            &mut a,
            &["XREAD", "BLOCK", "0", "STREAMS", k1, k2, "$", "$"],
        );
        common::wait_blocked_clients(&mut w, 1);
        log.push(w.cmd_str(&["XADD", k2, "7-7", "k", "2"]));
        log.push(read(&mut a));
        // Served at once when there is something already; a timeout answers a null array.
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "s", "2"]));
        log.push(a.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]));
        log.push(c.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "nokey", "$", "$"]));
        // Errors are answered, not waited on.
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "s", "x"]));
        w.cmd(&["SET", "str", "x"]);
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "str", "$"]));
        log.push(a.cmd_str(&["XREAD", "BLOCK", "-5", "STREAMS", "s", "$"]));
        log
    });
    assert_eq!(
        t[2],
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$3\r\nnew\r\n$5\r\nentry\r\n"
    );
    assert_eq!(t[9], "*-1\r\n");
    assert_eq!(t[10], "_\r\n");
}

// ---- seeded random operations ----

/// Random XADD/XDEL/XTRIM/XRANGE/XINFO sequences (explicit ids, values of every listpack
/// encoding size, exact and approximate trims with LIMIT) must answer as Redis does, node
/// layout (approximate trims, `radix-tree-keys`, `radix-tree-nodes`) included. The seed can
/// be changed with `STREAMS_SEED`.
#[test]
fn random_operations_match_redis() {
    use rand::{Rng, SeedableRng};
    let mut d = Diff::new();
    let seed = std::env::var("STREAMS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_57ea);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let keys = ["r1", "r2"];
    let mut last = [(0u64, 0u64); 2];
    let mut ids: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let value = |rng: &mut rand::rngs::StdRng| -> String {
        match rng.gen_range(0..10) {
            0 => rng.gen_range(0..128).to_string(),
            1 => rng.gen_range(-5000..5000).to_string(),
            2 => rng.gen_range(-9_000_000_000i64..9_000_000_000).to_string(),
            3 => "x".repeat(rng.gen_range(60..70)),
            4 => "y".repeat(rng.gen_range(120..140)),
            5 => "z".repeat(rng.gen_range(4090..4100)),
            6 => "w".repeat(rng.gen_range(500..1500)),
            _ => "v".repeat(rng.gen_range(0..20)),
        }
    };
    for step in 0..2500 {
        let k = rng.gen_range(0..2);
        let key = keys[k];
        let op = rng.gen_range(0..100);
        let mut args: Vec<String> = Vec::new();
        if op < 70 {
            let (ms, seq) = last[k];
            let (ms, seq) = match rng.gen_range(0..4) {
                0 => (ms, seq + 1),
                1 => (ms + rng.gen_range(1..3), rng.gen_range(0..3)),
                2 => (ms + rng.gen_range(1..100_000), 0),
                _ => (
                    ms + rng.gen_range(1..300) * 65_536,
                    rng.gen_range(0..70_000),
                ),
            };
            last[k] = (ms, seq);
            let id = format!("{ms}-{seq}");
            ids[k].push(id.clone());
            args.extend(["XADD".into(), key.into()]);
            if rng.gen_range(0..25) == 0 {
                let approx = rng.gen_bool(0.7);
                let how = if approx { "~" } else { "=" };
                if rng.gen_bool(0.5) {
                    args.extend([
                        "MAXLEN".into(),
                        how.into(),
                        rng.gen_range(0..400).to_string(),
                    ]);
                } else {
                    let at = ids[k][rng.gen_range(0..ids[k].len())].clone();
                    args.extend(["MINID".into(), how.into(), at]);
                }
                if approx && rng.gen_bool(0.3) {
                    args.extend(["LIMIT".into(), rng.gen_range(0..300).to_string()]);
                }
            }
            args.push(id);
            // The same fields most of the time (Redis then stores values only).
            let same = rng.gen_bool(0.7);
            let n = if same { 2 } else { rng.gen_range(1..4) };
            for i in 0..n {
                args.push(if same {
                    format!("f{i}")
                } else {
                    value(&mut rng)
                });
                args.push(value(&mut rng));
            }
        } else if op < 82 && !ids[k].is_empty() {
            args.extend(["XDEL".into(), key.into()]);
            for _ in 0..rng.gen_range(1..4) {
                args.push(ids[k][rng.gen_range(0..ids[k].len())].clone());
            }
        } else if op < 84 {
            let approx = rng.gen_bool(0.6);
            args.extend(["XTRIM".into(), key.into()]);
            let how = if approx { "~" } else { "=" };
            if rng.gen_bool(0.5) || ids[k].is_empty() {
                args.extend([
                    "MAXLEN".into(),
                    how.into(),
                    rng.gen_range(0..600).to_string(),
                ]);
            } else {
                let at = ids[k][rng.gen_range(0..ids[k].len())].clone();
                args.extend(["MINID".into(), how.into(), at]);
            }
            if approx && rng.gen_bool(0.3) {
                args.extend(["LIMIT".into(), rng.gen_range(0..300).to_string()]);
            }
        } else if op < 91 && !ids[k].is_empty() {
            let a = ids[k][rng.gen_range(0..ids[k].len())].clone();
            let b = ids[k][rng.gen_range(0..ids[k].len())].clone();
            let cmd = if rng.gen_bool(0.5) {
                "XRANGE"
            } else {
                "XREVRANGE"
            };
            args.extend([cmd.into(), key.into(), a, b, "COUNT".into(), "5".into()]);
        } else if op < 94 {
            args.extend(["XLEN".into(), key.into()]);
        } else {
            args.extend(["XINFO".into(), "STREAM".into(), key.into()]);
        }
        if args.is_empty() {
            continue;
        }
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        let (x, y) = d.both(&a);
        assert_eq!(s(&x), s(&y), "step {step}: {:?}", &a[..a.len().min(8)]);
    }
    for key in keys {
        d.check(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
    }
}

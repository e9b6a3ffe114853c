//! Hash commands, differentially against redis-server: replies byte for byte (or as unordered
//! collections where Redis's order is arbitrary), errors exactly, random replies by shape.
mod common;

use common::{array_items, reply_len, Diff};
use std::collections::{BTreeSet, HashSet};

/// The elements of an array, set or map reply (a map's keys and values alternate).
fn elements(r: &[u8]) -> Vec<Vec<u8>> {
    if r.first() == Some(&b'%') {
        let end = r.windows(2).position(|w| w == b"\r\n").expect("header");
        let n: usize = std::str::from_utf8(&r[1..end]).unwrap().parse().unwrap();
        let mut pos = end + 2;
        let mut out = Vec::new();
        for _ in 0..n * 2 {
            let l = reply_len(&r[pos..]).expect("element");
            out.push(r[pos..pos + l].to_vec());
            pos += l;
        }
        return out;
    }
    array_items(r).unwrap_or_else(|| panic!("not a collection: {}", String::from_utf8_lossy(r)))
}

fn pairs(r: &[u8]) -> BTreeSet<(Vec<u8>, Vec<u8>)> {
    let e = elements(r);
    assert_eq!(e.len() % 2, 0);
    e.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
}

/// The same field/value pairs (and the same reply type byte) on both servers.
#[track_caller]
fn check_pairs(d: &mut Diff, args: &[&str]) {
    let (x, y) = d.both(args);
    assert_eq!(x.first(), y.first(), "reply types differ on {args:?}");
    assert_eq!(pairs(&x), pairs(&y), "pairs differ on {args:?}");
}

/// A scan that both servers finish in one call: cursor 0 and the same items.
#[track_caller]
fn check_scan_whole(d: &mut Diff, args: &[&str], as_pairs: bool) {
    let (x, y) = d.both(args);
    let (ex, ey) = (elements(&x), elements(&y));
    assert_eq!(ex[0], b"$1\r\n0\r\n", "luagate cursor on {args:?}");
    assert_eq!(ey[0], b"$1\r\n0\r\n", "redis cursor on {args:?}");
    if as_pairs {
        assert_eq!(pairs(&ex[1]), pairs(&ey[1]), "items differ on {args:?}");
    } else {
        let mut a = elements(&ex[1]);
        let mut b = elements(&ey[1]);
        a.sort();
        b.sort();
        assert_eq!(a, b, "items differ on {args:?}");
    }
}

fn bulk_text(item: &[u8]) -> String {
    let s = String::from_utf8_lossy(item).into_owned();
    s.split("\r\n").nth(1).unwrap_or("").to_string()
}

#[test]
fn set_get_and_friends() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "h", "a", "1", "a", "3", "c", "x"],
        &["HGET", "h", "a"],
        &["HGET", "h", "nofield"],
        &["HGET", "nokey", "a"],
        &["HMGET", "h", "a", "nofield", "c"],
        &["HMGET", "nokey", "a", "b"],
        &["HMSET", "h", "d", "4", "e", "5"],
        &["HSETNX", "h", "a", "9"],
        &["HSETNX", "h", "f", "6"],
        &["HSETNX", "newh", "f", "6"],
        &["HLEN", "h"],
        &["HLEN", "nokey"],
        &["HEXISTS", "h", "a"],
        &["HEXISTS", "h", "zz"],
        &["HEXISTS", "nokey", "a"],
        &["HSTRLEN", "h", "c"],
        &["HSTRLEN", "h", "zz"],
        &["HSTRLEN", "nokey", "a"],
        &["HSET", "h", "", ""],
        &["HGET", "h", ""],
        &["HSTRLEN", "h", ""],
    ]);
    let long = "v".repeat(300);
    d.check(&["HSET", "h", "long", &long]);
    d.check(&["HGET", "h", "long"]);
    d.check(&["HSTRLEN", "h", "long"]);
    check_pairs(&mut d, &["HGETALL", "h"]);
    d.check_unordered(&["HKEYS", "h"]);
    d.check_unordered(&["HVALS", "h"]);
    d.check_all(&[
        &["HGETALL", "nokey"],
        &["HKEYS", "nokey"],
        &["HVALS", "nokey"],
        &["HDEL", "h", "a", "a", "zz", "b"],
        &["HDEL", "nokey", "a"],
        &["HLEN", "h"],
        // Deleting the last field deletes the key.
        &["HDEL", "newh", "f"],
        &["EXISTS", "newh"],
        &["HSET", "one", "f", "v"],
        &["HDEL", "one", "f", "g"],
        &["EXISTS", "one"],
    ]);
}

#[test]
fn arity_and_wrong_type() {
    let mut d = Diff::new();
    d.check(&["SET", "str", "x"]);
    for c in [
        &["HSET", "h"][..],
        &["HSET", "h", "a"],
        &["HSET", "h", "a", "1", "b"],
        &["HMSET", "h", "a", "1", "b"],
        &["HMSET", "h", "a"],
        &["HSETNX", "h", "a"],
        &["HSETNX", "h", "a", "1", "2"],
        &["HGET", "h"],
        &["HMGET", "h"],
        &["HGETALL"],
        &["HGETALL", "h", "x"],
        &["HDEL", "h"],
        &["HEXISTS", "h"],
        &["HLEN"],
        &["HKEYS", "h", "x"],
        &["HVALS"],
        &["HINCRBY", "h", "a"],
        &["HINCRBYFLOAT", "h", "a", "1", "2"],
        &["HSTRLEN", "h"],
        &["HRANDFIELD"],
        &["HSCAN", "h"],
        &["EXISTS", "h"],
    ] {
        d.check(c);
    }
    for c in [
        &["HSET", "str", "a", "1"][..],
        &["HMSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HGETALL", "str"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBY", "str", "a", "x"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "x"],
        &["HSTRLEN", "str", "a"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "0"],
        &["HRANDFIELD", "str", "x"],
        &["HRANDFIELD", "str", "1", "x"],
        &["HRANDFIELD", "str", "-4611686018427387904", "WITHVALUES"],
        &["HSCAN", "str", "0"],
        &["HSCAN", "str", "x"],
        &["HSCAN", "str", "0", "COUNT", "0"],
        &["GET", "str"],
    ] {
        d.check(c);
    }
}

#[test]
fn hincrby() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HINCRBY", "h", "a", "5"],
        &["HINCRBY", "h", "a", "-12"],
        &["HINCRBY", "h", "a", "x"],
        &["HINCRBY", "h", "a", "1.5"],
        &["HINCRBY", "h", "a", " 1"],
        &["HINCRBY", "h", "a", "9223372036854775807"],
        &["HINCRBY", "h", "n", "9223372036854775807"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBY", "h", "m", "-9223372036854775808"],
        &["HINCRBY", "h", "m", "-1"],
        &["HINCRBY", "h", "m", "0"],
        &["HINCRBY", "nokey", "f", "-5"],
        &["HINCRBY", "nokey2", "f", "x"],
        &["EXISTS", "nokey2"],
        &[
            "HSET",
            "h",
            "e",
            "",
            "sp",
            " 1",
            "big",
            "99999999999999999999",
            "z",
            "-0",
        ],
        &["HSET", "h", "lead", "01", "f", "1.0"],
        &["HINCRBY", "h", "e", "1"],
        &["HINCRBY", "h", "sp", "1"],
        &["HINCRBY", "h", "big", "1"],
        &["HINCRBY", "h", "z", "1"],
        &["HINCRBY", "h", "lead", "1"],
        &["HINCRBY", "h", "f", "1"],
        &["HGET", "h", "a"],
        &["HGET", "h", "n"],
    ]);
}

#[test]
fn hincrbyfloat_exact_digits() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HINCRBYFLOAT", "h", "a", "10.5"],
        &["HINCRBYFLOAT", "h", "a", "0.1"],
        &["HINCRBYFLOAT", "h", "b", "0.1"],
        &["HINCRBYFLOAT", "h", "b", "0.2"],
        &["HINCRBYFLOAT", "h", "c", "10000000000.1"],
        &["HINCRBYFLOAT", "h", "d", "1e300"],
        &["HINCRBYFLOAT", "h", "d", "-1e300"],
        &["HINCRBYFLOAT", "h", "e", "5.0e3"],
        &["HINCRBYFLOAT", "h", "e", "2.0e2"],
        &["HINCRBYFLOAT", "h", "f", "0.000003814697265625"],
        &["HINCRBYFLOAT", "h", "g", "0x1.8P1"],
        &["HINCRBYFLOAT", "h", "g", "0x.8"],
        &["HINCRBYFLOAT", "h", "i", "1."],
        &["HINCRBYFLOAT", "h", "i", ".5"],
        &["HINCRBYFLOAT", "h", "i", "+1.5"],
        &["HINCRBYFLOAT", "h", "j", "-0.0"],
        &["HINCRBYFLOAT", "h", "k", "123456789012345678901234567890"],
        &["HINCRBYFLOAT", "h", "l", "-1.99999999999999999999999"],
        &["HINCRBYFLOAT", "h", "m", "1.5e-4940"],
        &["HINCRBYFLOAT", "h", "m", "0x1p-16445"],
        &["HINCRBYFLOAT", "h", "n", "1.1897314953572317650e4932"],
        &["HINCRBYFLOAT", "h", "n", "1e4932"],
        &["HINCRBYFLOAT", "h", "o", "1E+2"],
        &["HINCRBYFLOAT", "h", "o", "1e-0"],
        // Refusals, each with its own message.
        &["HINCRBYFLOAT", "h", "x", "inf"],
        &["HINCRBYFLOAT", "h", "x", "-INFINITY"],
        &["HINCRBYFLOAT", "h", "x", "nan"],
        &["HINCRBYFLOAT", "h", "x", ""],
        &["HINCRBYFLOAT", "h", "x", " 1"],
        &["HINCRBYFLOAT", "h", "x", "1 "],
        &["HINCRBYFLOAT", "h", "x", "1e"],
        &["HINCRBYFLOAT", "h", "x", "0x"],
        &["HINCRBYFLOAT", "h", "x", "1e-5000"],
        &["HINCRBYFLOAT", "h", "x", "1e-4951"],
        &["HINCRBYFLOAT", "h", "x", "1e4933"],
        &["HINCRBYFLOAT", "h", "x", "abc"],
        &["HEXISTS", "h", "x"],
        &["HINCRBYFLOAT", "nokey", "x", "abc"],
        &["EXISTS", "nokey"],
        &[
            "HSET",
            "h",
            "s",
            "abc",
            "inf",
            "inf",
            "sp",
            " 1",
            "big",
            "99999999999999999999",
        ],
        &["HINCRBYFLOAT", "h", "s", "1"],
        &["HINCRBYFLOAT", "h", "inf", "1"],
        &["HINCRBYFLOAT", "h", "sp", "1"],
        &["HINCRBYFLOAT", "h", "big", "1"],
        &["HINCRBY", "h", "a", "1"],
    ]);
    check_pairs(&mut d, &["HGETALL", "h"]);
    // A deterministic sweep of decimal inputs, accumulated: every digit must agree.
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..400 {
        let r = next();
        let int = (r % 100_000) as i64 - 50_000;
        let frac = (r >> 20) % 1_000_000;
        let exp = ((r >> 40) % 30) as i64 - 15;
        let v = match i % 4 {
            0 => format!("{int}.{frac:06}"),
            1 => format!("{int}.{frac}e{exp}"),
            2 => format!("0.{frac}"),
            _ => format!("{}e{exp}", (r >> 8) % 1000),
        };
        let field = format!("f{}", i % 7);
        d.check(&["HINCRBYFLOAT", "sweep", &field, &v]);
    }
}

#[test]
fn hrandfield() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HRANDFIELD", "nokey"],
        &["HRANDFIELD", "nokey", "5"],
        &["HRANDFIELD", "nokey", "-5", "WITHVALUES"],
        &["HRANDFIELD", "nokey", "0"],
        &["HRANDFIELD", "nokey", "5", "withvalue"],
        &["HRANDFIELD", "nokey", "x"],
        &["HRANDFIELD", "nokey", "1", "2"],
        &["HRANDFIELD", "nokey", "x", "foo"],
        &["HRANDFIELD", "nokey", "1", "WITHVALUES", "extra"],
        &["HRANDFIELD", "nokey", "-9223372036854775808"],
        &["HRANDFIELD", "nokey", "-4611686018427387904", "withvalues"],
        &["HRANDFIELD", "nokey", "9223372036854775807", "withvalues"],
        &["HSET", "one", "f", "v"],
        &["HRANDFIELD", "one"],
        &["HRANDFIELD", "one", "1"],
        &["HRANDFIELD", "one", "-3"],
        &["HRANDFIELD", "one", "-3", "WITHVALUES"],
        &["HRANDFIELD", "one", "5", "withvalues"],
        &["HRANDFIELD", "one", "0", "withvalues"],
    ]);
    let mut args = vec!["HSET", "h"];
    let fields: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    let values: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
    for i in 0..50 {
        args.push(&fields[i]);
        args.push(&values[i]);
    }
    d.check(&args);
    // Whole-hash answers are the same set of fields.
    d.check_unordered(&["HRANDFIELD", "h", "50"]);
    d.check_unordered(&["HRANDFIELD", "h", "1000"]);
    check_pairs(&mut d, &["HRANDFIELD", "h", "60", "WITHVALUES"]);
    let mut c = d.lg.raw();
    for _ in 0..20 {
        let f = bulk_text(&c.cmd(&["HRANDFIELD", "h"]));
        assert!(fields.contains(&f), "{f}");
        // Positive counts: distinct fields.
        let r = elements(&c.cmd(&["HRANDFIELD", "h", "10"]));
        assert_eq!(r.len(), 10);
        assert_eq!(r.iter().collect::<HashSet<_>>().len(), 10);
        // Negative counts: exactly that many, repeats allowed, pairs consistent.
        let r = elements(&c.cmd(&["HRANDFIELD", "h", "-80", "WITHVALUES"]));
        assert_eq!(r.len(), 160);
        for p in r.chunks(2) {
            let (f, v) = (bulk_text(&p[0]), bulk_text(&p[1]));
            assert_eq!(f[1..], v[1..], "{f} {v}");
        }
    }
    // RESP3: WITHVALUES pairs are nested arrays.
    c.cmd(&["HELLO", "3"]);
    let r = c.cmd(&["HRANDFIELD", "one", "-2", "WITHVALUES"]);
    assert_eq!(
        r,
        b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    let r = c.cmd(&["HRANDFIELD", "one", "1", "WITHVALUES"]);
    assert_eq!(r, b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(c.cmd(&["HGETALL", "one"]), b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(c.cmd(&["HGETALL", "nokey"]), b"%0\r\n");
    assert_eq!(c.cmd(&["HMGET", "one", "zz"]), b"*1\r\n_\r\n");
}

#[test]
fn hscan_small_and_errors() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HSET", "h", "a", "1", "b", "2", "ab", "3"],
        &["HSCAN", "nokey", "0"],
        &["HSCAN", "nokey", "0", "COUNT", "0"],
        &["HSCAN", "nokey", "x"],
        &["HSCAN", "h", "x"],
        &["HSCAN", "h", " 1"],
        &["HSCAN", "h", "18446744073709551616"],
        &["HSCAN", "h", "-"],
        &["HSCAN", "h", "0", "COUNT", "0"],
        &["HSCAN", "h", "0", "COUNT", "-1"],
        &["HSCAN", "h", "0", "COUNT", "x"],
        &["HSCAN", "h", "0", "COUNT"],
        &["HSCAN", "h", "0", "MATCH"],
        &["HSCAN", "h", "0", "FOO"],
        &["HSCAN", "h", "0", "TYPE", "string"],
        &["HSCAN", "h", "0", "NOVALUES"],
        &["HSCAN", "h", "0", "MATCH", "a", "COUNT", "5", "NOVALUES"],
    ]);
    // Small hashes come back whole whatever the cursor (Redis's listpack behaviour).
    for args in [
        &["HSCAN", "h", "0"][..],
        &["HSCAN", "h", "5"],
        &["HSCAN", "h", "-1"],
        &["HSCAN", "h", ""],
        &["HSCAN", "h", "+0"],
        &["HSCAN", "h", "0", "COUNT", "1"],
        &["HSCAN", "h", "0", "MATCH", "a*"],
        &["HSCAN", "h", "0", "match", "*", "count", "100"],
        &["HSCAN", "h", "0", "MATCH", "zz"],
        &["HSCAN", "h", "0", "MATCH", "a", "MATCH", "b"],
    ] {
        check_scan_whole(&mut d, args, true);
    }
}

/// Scans `key` to the end on one connection, calling `between` after each call; returns every
/// field seen. Bounded in calls.
fn scan_all(
    c: &mut common::Raw,
    key: &str,
    count: &str,
    mut between: impl FnMut(&mut common::Raw, usize),
) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for call in 0..100_000 {
        let r = c.cmd(&["HSCAN", key, &cursor, "COUNT", count]);
        let e = elements(&r);
        cursor = bulk_text(&e[0]);
        let items = elements(&e[1]);
        for p in items.chunks(2) {
            let (f, v) = (bulk_text(&p[0]), bulk_text(&p[1]));
            assert_eq!(f[1..], v[1..], "value belongs to its field");
            seen.insert(f);
        }
        between(c, call);
        if cursor == "0" {
            return seen;
        }
    }
    panic!("scan did not finish");
}

#[test]
fn hscan_large_keeps_the_guarantee() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    for chunk in 0..10 {
        let mut args = vec!["HSET".to_string(), "big".to_string()];
        for i in chunk * 300..(chunk + 1) * 300 {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        assert_eq!(c.cmd(&a), b":300\r\n");
    }
    // A quiet scan returns each field, and in several steps.
    let mut calls = 0;
    let seen = scan_all(&mut c, "big", "10", |_, n| calls = n + 1);
    assert_eq!(seen.len(), 3000);
    assert!(calls > 1, "a large hash is scanned incrementally");
    // Fields present throughout are returned even while the hash grows and shrinks a lot.
    let seen = scan_all(&mut c, "big", "20", |c, call| {
        if call == 2 {
            for chunk in 0..20 {
                let mut args = vec!["HSET".to_string(), "big".to_string()];
                for i in 0..500 {
                    let n = 10_000 + chunk * 500 + i;
                    args.push(format!("x{n}"));
                    args.push(format!("x{n}"));
                }
                let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
                c.cmd(&a);
            }
        }
        if call == 6 {
            let mut args = vec!["HDEL".to_string(), "big".to_string()];
            args.extend((10_000..20_000).map(|n| format!("x{n}")));
            let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            assert_eq!(c.cmd(&a), b":10000\r\n");
        }
    });
    for i in 0..3000 {
        assert!(seen.contains(&format!("f{i}")), "missed f{i}");
    }
    // MATCH filters what a step returns; the union is still every matching field.
    let mut cursor = "0".to_string();
    let mut matched = HashSet::new();
    for _ in 0..10_000 {
        let r = c.cmd(&["HSCAN", "big", &cursor, "MATCH", "f1*", "COUNT", "50"]);
        let e = elements(&r);
        cursor = bulk_text(&e[0]);
        for p in elements(&e[1]).chunks(2) {
            matched.insert(bulk_text(&p[0]));
        }
        if cursor == "0" {
            break;
        }
    }
    let want: HashSet<String> = (0..3000)
        .map(|i| format!("f{i}"))
        .filter(|f| f.starts_with("f1"))
        .collect();
    assert_eq!(matched, want);
}

/// Small hashes (a listpack in Redis) answer in insertion order: updates keep a field's place,
/// deletes close the gap, re-added fields go last. Byte-for-byte, order included.
#[test]
fn small_hashes_keep_insertion_order() {
    let mut d = Diff::new();
    d.check_all(&[
        &["HSET", "o", "z", "1", "a", "2", "m", "3", "b", "4"],
        &["HGETALL", "o"],
        &["HDEL", "o", "a"],
        &["HSET", "o", "a", "5", "z", "9"],
        &["HINCRBY", "o", "n", "7"],
        &["HSETNX", "o", "c", "8"],
        &["HINCRBYFLOAT", "o", "m", "0.5"],
        &["HGETALL", "o"],
        &["HKEYS", "o"],
        &["HVALS", "o"],
        &["HSCAN", "o", "0"],
        &["HSCAN", "o", "0", "MATCH", "*", "COUNT", "1"],
        &["HMSET", "o", "b", "x", "q", "y"],
        &["HDEL", "o", "z", "q"],
        &["HGETALL", "o"],
    ]);
    // 300 fields: still a listpack in Redis 7.0 (hash-max-listpack-entries 512), so HSCAN
    // returns it whole, in order.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in (0..300).rev() {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    d.check(&a);
    d.check(&["HSCAN", "big", "0"]);
    d.check(&["HKEYS", "big"]);
}

/// A small hash with a long value is scanned step by step like a large one; growing it past
/// the small form mid-scan (src/keyspace/hash.rs) must not change which fields a cursor has
/// covered.
#[test]
fn hscan_across_the_small_to_large_change_keeps_the_guarantee() {
    let s = common::luagate_shards(1);
    let mut c = s.raw();
    // Over 64 bytes: Redis would not keep this hash as a listpack, so HSCAN goes by cursor.
    let pad = "p".repeat(70);
    for i in 0..30 {
        let (f, v) = (format!("f{i:02}{pad}"), format!("v{i:02}{pad}"));
        assert_eq!(c.cmd(&["HSET", "h", &f, &v]), b":1\r\n");
    }
    let mut calls = 0;
    let seen = scan_all(&mut c, "h", "3", |c, call| {
        calls = call + 1;
        if call == 1 {
            for i in 0..40 {
                c.cmd(&["HSET", "h", &format!("g{i}"), &format!("h{i}")]);
            }
        }
    });
    assert!(calls > 2, "scanned in steps");
    for i in 0..30 {
        assert!(seen.contains(&format!("f{i:02}{pad}")), "missed f{i:02}");
    }
}

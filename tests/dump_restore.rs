//! DUMP and RESTORE against redis-server 7.0: payloads move both ways and restore the same
//! values; DUMP bytes match Redis's where luagate claims it (no LZF on Redis's side); options,
//! errors and corrupt payloads answer as Redis does; RESTORE reaches followers.

mod common;
use common::{array_items, luagate, wait_synced, Diff, Raw};

/// The payload of a bulk reply (`$n\r\n…\r\n`); panics on anything else.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(
        reply[0],
        b'$',
        "not a bulk: {}",
        String::from_utf8_lossy(reply)
    );
    let nl = reply.iter().position(|&b| b == b'\n').expect("header");
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    reply[nl + 1..nl + 1 + n].to_vec()
}

fn restore(r: &mut Raw, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> Vec<u8> {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(opts.iter().map(|o| o.as_bytes()));
    r.send_cmd(&args);
    r.read_reply().expect("reply")
}

fn lines(script: &str) -> Vec<Vec<String>> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// Commands that build each kind of value at key `k` (words split on spaces).
fn cases() -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("str", "SET k hello".into()),
        ("int-small", "SET k -5".into()),
        ("int-16", "SET k 300".into()),
        ("int-32", "SET k 70000".into()),
        ("int-32-neg", "SET k -2147483648".into()),
        ("int-64", "SET k 1234567890123".into()),
        ("int-like", "SET k 007".into()),
        ("str-20", "SET k abcdefghijklmnopqrst".into()),
        (
            "str-21-incompressible",
            "SET k abcdefghijklmnopqrstu".into(),
        ),
        (
            "str-long-compressible",
            format!("SET k {}", "ab".repeat(300)),
        ),
        (
            "str-huge",
            format!("SET k {}", "xyz0123456789".repeat(2000)),
        ),
        (
            "list-small",
            "RPUSH k a 1 -3 300 70000 b 9999999999 -4096 4095 -4097".into(),
        ),
        ("hash-small", "HSET k f1 v1 f2 17 n -100".into()),
        ("set-intset", "SADD k 1 2 3 -7".into()),
        ("set-intset-64", "SADD k 1 9999999999".into()),
        ("set-intset-32", "SADD k 1 99999".into()),
        ("set-strings", "SADD k a b c".into()),
        ("zset-small", "ZADD k 1 a 2.5 b -3 c inf d 0.5 e".into()),
        ("zset-fraction", "ZADD k 1 a 0.1 b -1e300 c".into()),
    ];
    let big_list: Vec<String> = (0..3000)
        .map(|i| format!("e{}", i * 7919 % 100_000))
        .collect();
    v.push(("list-large", format!("RPUSH k {}", big_list.join(" "))));
    v.push((
        "list-long-elem",
        format!("RPUSH k x {} {}", "q".repeat(5000), "r".repeat(70)),
    ));
    let fields: Vec<String> = (0..300).map(|i| format!("f{i} v{}", i * 31)).collect();
    v.push(("hash-table", format!("HSET k {}", fields.join(" "))));
    v.push((
        "hash-long-value",
        format!("HSET k a b long {}", "z".repeat(100)),
    ));
    let ints: Vec<String> = (0..600).map(|i| (i * 3).to_string()).collect();
    v.push(("set-table-ints", format!("SADD k {}", ints.join(" "))));
    let zs: Vec<String> = (0..300).map(|i| format!("{}.25 m{i}", i % 17)).collect();
    v.push(("zset-skiplist", format!("ZADD k {}", zs.join(" "))));
    v.push((
        "zset-long-member",
        format!("ZADD k 1 a 2 {}", "m".repeat(80)),
    ));
    v.push((
        "stream-small",
        "XADD k 1-1 a 1 b 2;XADD k 1-2 a 3 b 4;XADD k 2-0 c x".into(),
    ));
    v.push((
        "stream-groups",
        "XADD k 1-1 f v;XADD k 2-1 f w;XADD k 3-1 g z;XDEL k 2-1;XGROUP CREATE k g1 0;\
         XREADGROUP GROUP g1 alice COUNT 2 STREAMS k >;XGROUP CREATE k g2 $;\
         XGROUP CREATECONSUMER k g2 bob;XACK k g1 1-1;XGROUP CREATE k g0 0 ENTRIESREAD 1;\
         XGROUP CREATE k g3 1-5"
            .into(),
    ));
    v.push(("stream-emptied", "XADD k 1-1 f v;XDEL k 1-1".into()));
    let many: Vec<String> = (1..=250)
        .map(|i| format!("XADD k {i}-{} f{} {i}", i % 3, i % 2))
        .collect();
    v.push(("stream-many", many.join(";")));
    v
}

/// The same reads on both servers (key `k`), compared; set members and hash pairs sorted.
fn compare_value(d: &mut Diff) {
    d.check(&["TYPE", "k"]);
    d.check(&["OBJECT", "ENCODING", "k"]);
    let t = d.a.cmd_str(&["TYPE", "k"]);
    match t.trim() {
        "+string" => {
            d.check(&["GET", "k"]);
        }
        "+list" => {
            d.check(&["LRANGE", "k", "0", "-1"]);
        }
        "+hash" => {
            d.check(&["HLEN", "k"]);
            d.check_unordered(&["HGETALL", "k"]);
        }
        "+set" => {
            d.check_unordered(&["SMEMBERS", "k"]);
        }
        "+zset" => {
            d.check(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]);
        }
        "+stream" => {
            d.check(&["XLEN", "k"]);
            d.check(&["XRANGE", "k", "-", "+"]);
            d.check(&["XINFO", "STREAM", "k"]);
            d.check(&["XINFO", "GROUPS", "k"]);
            d.check(&["XPENDING", "k", "g1"]);
            // The extended form without its idle times (they move with the clock).
            let args = ["XPENDING", "k", "g1", "-", "+", "10"];
            let (x, y) = d.both(&args);
            let strip = |r: &[u8]| -> Vec<Vec<Vec<u8>>> {
                array_items(r)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| {
                        let mut f = array_items(e).expect("entry");
                        f.remove(2);
                        f
                    })
                    .collect()
            };
            assert_eq!(strip(&x), strip(&y), "XPENDING");
            // The restored nodes take new entries as the source's do.
            d.check(&["XADD", "k", "999999-1", "f0", "new"]);
            d.check(&["XADD", "k", "999999-2", "other", "x"]);
            d.check(&["XRANGE", "k", "-", "+"]);
            d.check(&["XINFO", "STREAM", "k"]);
            d.check(&["XDEL", "k", "1-1", "999999-1"]);
            d.check(&["XINFO", "STREAM", "k"]);
        }
        other => panic!("unexpected type {other}"),
    }
}

/// Runs `cmds` (commands separated by `;`) on a fresh key `k`.
fn setup(r: &mut Raw, cmds: &str) {
    r.cmd(&["DEL", "k"]);
    for cmd in cmds.split(';') {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let rep = r.cmd(&words);
        assert!(rep[0] != b'-', "{cmd}: {}", String::from_utf8_lossy(&rep));
    }
}

#[test]
fn redis_payloads_restore_on_luagate() {
    let mut d = Diff::new();
    for (name, cmd) in cases() {
        setup(&mut d.b, &cmd);
        let payload = bulk(&d.b.cmd(&["DUMP", "k"]));
        d.a.cmd(&["DEL", "k"]);
        let rep = restore(&mut d.a, "k", "0", &payload, &[]);
        assert_eq!(rep, b"+OK\r\n", "{name}: {}", String::from_utf8_lossy(&rep));
        compare_value(&mut d);
    }
}

#[test]
fn luagate_payloads_restore_on_redis() {
    let mut d = Diff::new();
    for (name, cmd) in cases() {
        setup(&mut d.a, &cmd);
        let payload = bulk(&d.a.cmd(&["DUMP", "k"]));
        d.b.cmd(&["DEL", "k"]);
        let rep = restore(&mut d.b, "k", "0", &payload, &[]);
        assert_eq!(rep, b"+OK\r\n", "{name}: {}", String::from_utf8_lossy(&rep));
        compare_value(&mut d);
        // And back: luagate reads its own payload to the same value (both start again from
        // the payload, as the comparison may have written to the key).
        let back = restore(&mut d.a, "k", "0", &payload, &["REPLACE"]);
        assert_eq!(back, b"+OK\r\n", "{name}");
        let again = restore(&mut d.b, "k", "0", &payload, &["REPLACE"]);
        assert_eq!(again, b"+OK\r\n", "{name}");
        compare_value(&mut d);
    }
}

/// Where Redis does not compress (strings up to 20 bytes, integers, small encodings whose
/// LZF would not save space), DUMP's bytes are Redis's.
#[test]
fn dump_bytes_match_redis() {
    let mut d = Diff::new();
    let identical = [
        "str",
        "int-small",
        "int-16",
        "int-32",
        "int-32-neg",
        "int-64",
        "int-like",
        "str-20",
        "str-21-incompressible",
        "list-small",
        "hash-small",
        "set-intset",
        "set-intset-64",
        "set-intset-32",
        "zset-small",
    ];
    for (name, cmd) in cases() {
        if !identical.contains(&name) {
            continue;
        }
        setup(&mut d.a, &cmd);
        setup(&mut d.b, &cmd);
        d.check(&["DUMP", "k"]);
    }
    d.check(&["DUMP", "missing"]);
}

/// RESTORE with a binary payload on both servers; the replies must be the same bytes.
#[track_caller]
fn both(d: &mut Diff, args: (&str, &str, &[&str]), payload: &[u8]) {
    let x = restore(&mut d.a, args.0, args.1, payload, args.2);
    let y = restore(&mut d.b, args.0, args.1, payload, args.2);
    assert_eq!(
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y),
        "RESTORE {args:?} {payload:?}"
    );
}

#[test]
fn options_and_errors() {
    let mut d = Diff::new();
    setup(&mut d.b, "SET src value");
    let p = bulk(&d.b.cmd(&["DUMP", "src"]));
    both(&mut d, ("k1", "0", &[]), &p);
    both(&mut d, ("k1", "0", &[]), &p); // BUSYKEY
    both(&mut d, ("k1", "0", &["REPLACE"]), &p);
    both(&mut d, ("k1", "-1", &["REPLACE"]), &p);
    both(&mut d, ("k1", "abc", &["REPLACE"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "BOGUS"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "IDLETIME"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "IDLETIME", "-1"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "IDLETIME", "x"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "IDLETIME", "1000"]), &p);
    for (key, opts) in [("ra", &[][..]), ("ra", &[][..]), ("ra", &["REPLACE"][..])] {
        let mut args: Vec<&[u8]> = vec![b"RESTORE-ASKING", key.as_bytes(), b"0", &p];
        args.extend(opts.iter().map(|o| o.as_bytes()));
        d.a.send_cmd(&args);
        d.b.send_cmd(&args);
        assert_eq!(
            d.a.read_reply(),
            d.b.read_reply(),
            "RESTORE-ASKING {opts:?}"
        );
    }
    d.check(&["GET", "ra"]);
    both(&mut d, ("k1", "0", &["REPLACE", "FREQ", "256"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "FREQ", "-1"]), &p);
    both(&mut d, ("k1", "0", &["REPLACE", "FREQ", "5"]), &p);
    both(
        &mut d,
        ("k1", "0", &["REPLACE", "FREQ", "5", "IDLETIME", "3"]),
        &p,
    );
    both(
        &mut d,
        ("k1", "0", &["REPLACE", "IDLETIME", "3", "FREQ", "5"]),
        &p,
    );
    both(&mut d, ("k2", "0", &["BOGUS"]), &p); // options before BUSYKEY and TTL checks
    both(&mut d, ("k1", "-1", &[]), &p); // BUSYKEY before the TTL check
    both(&mut d, ("k3", "-1", &[]), b"garbage"); // TTL before the payload
    both(&mut d, ("k3", "0", &[]), b"garbage");
    both(&mut d, ("k3", "0", &[]), b"");
    // Every single flipped byte is refused by both (checksum, or version).
    for i in 0..p.len() {
        let mut bad = p.clone();
        bad[i] ^= 0x20;
        both(&mut d, ("k4", "0", &[]), &bad);
    }
    // A payload from a newer RDB version.
    let mut newer = p.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    both(&mut d, ("k4", "0", &[]), &newer);
    // A checksum that matches but a body that does not parse.
    // (Redis reads a value running past the body from the footer's bytes.)
    both(&mut d, ("k5", "0", &[]), &with_crc(&[0x00, 0x05, b'a'], 10));
    both(&mut d, ("k6", "0", &[]), &with_crc(&[0x00, 0x20, b'a'], 10));
    both(&mut d, ("k7", "0", &[]), &with_crc(&[0x63, 0x01, b'a'], 10));
    // An empty set, an empty list, a set with a member twice.
    both(&mut d, ("k8", "0", &[]), &with_crc(&[0x02, 0x00], 10));
    both(&mut d, ("k8", "0", &[]), &with_crc(&[0x12, 0x00], 10));
    both(
        &mut d,
        ("k8", "0", &[]),
        &with_crc(&[0x02, 0x02, 0x01, b'a', 0x01, b'a'], 10),
    );
    // An older version is accepted.
    both(
        &mut d,
        ("k9", "0", &[]),
        &with_crc(&[0x00, 0x02, b'o', b'k'], 9),
    );
    for k in ["k4", "k5", "k6", "k7", "k8", "k9"] {
        d.check(&["GET", k]);
    }
    d.check(&["GET", "k1"]);
    both(&mut d, ("k1", "0", &["REPLACE", "IDLETIME", "1000"]), &p);
    for (key, opts) in [("ra", &[][..]), ("ra", &[][..]), ("ra", &["REPLACE"][..])] {
        let mut args: Vec<&[u8]> = vec![b"RESTORE-ASKING", key.as_bytes(), b"0", &p];
        args.extend(opts.iter().map(|o| o.as_bytes()));
        d.a.send_cmd(&args);
        d.b.send_cmd(&args);
        assert_eq!(
            d.a.read_reply(),
            d.b.read_reply(),
            "RESTORE-ASKING {opts:?}"
        );
    }
    d.check(&["GET", "ra"]);
    idle_close(&mut d, "k1");
    d.check(&["DUMP"]);
    d.check(&["DUMP", "a", "b"]);
    d.check(&["RESTORE", "a", "0"]);
    d.check(&["SET", "e", "x"]);
    d.check(&["RESTORE", "e", "0", "x"]);
}

/// The RDB checksum (CRC-64/Jones, reflected) computed here independently of luagate.
fn with_crc(body: &[u8], version: u16) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    let mut crc: u64 = 0;
    for &b in &out {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x95AC_9329_AC4B_C9B5
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn ttls() {
    let mut d = Diff::new();
    setup(&mut d.b, "SET src v");
    let p = bulk(&d.b.cmd(&["DUMP", "src"]));
    for (key, ttl, opts) in [
        ("t1", "100000", &[][..]),
        ("t2", "4102444800000", &["ABSTTL"][..]),
        ("t3", "1", &["ABSTTL"][..]),
        ("t4", "0", &["ABSTTL"][..]),
    ] {
        let x = restore(&mut d.a, key, ttl, &p, opts);
        let y = restore(&mut d.b, key, ttl, &p, opts);
        assert_eq!(x, y, "{key}");
        d.check(&["EXISTS", key]);
        d.check(&["TTL", key]);
    }
    d.check(&["PEXPIRETIME", "t2"]);
    // An absolute TTL in the past over an existing key deletes it.
    d.check(&["SET", "t5", "x"]);
    let x = restore(&mut d.a, "t5", "1", &p, &["ABSTTL", "REPLACE"]);
    let y = restore(&mut d.b, "t5", "1", &p, &["ABSTTL", "REPLACE"]);
    assert_eq!(x, y);
    d.check(&["EXISTS", "t5"]);
}

#[test]
fn restore_reaches_followers() {
    let leader = luagate(&["--shards", "2"]);
    let follower = luagate(&["--replicaof", &leader.addr()]);
    let mut l = leader.raw();
    let mut f = follower.raw();
    for w in lines("RPUSH src a b 1 2\nHSET h x 1\n") {
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        l.cmd(&w);
    }
    let p = bulk(&l.cmd(&["DUMP", "src"]));
    assert_eq!(restore(&mut l, "dst", "100000", &p, &[]), b"+OK\r\n");
    assert_eq!(restore(&mut l, "h", "0", &p, &["REPLACE"]), b"+OK\r\n");
    wait_synced(&mut l, &mut f);
    for key in ["dst", "h"] {
        let lr = l.cmd(&["LRANGE", key, "0", "-1"]);
        assert_eq!(array_items(&lr).map(|v| v.len()), Some(4), "{key}");
        assert_eq!(lr, f.cmd(&["LRANGE", key, "0", "-1"]), "{key}");
    }
    // The follower got an absolute expiry, equal to the leader's.
    let le = l.cmd(&["PEXPIRETIME", "dst"]);
    assert_ne!(le, b":-1\r\n");
    assert_eq!(le, f.cmd(&["PEXPIRETIME", "dst"]));
    assert_eq!(f.cmd(&["PEXPIRETIME", "h"]), b":-1\r\n");
}

/// Under an LFU policy FREQ sets the counter and IDLETIME is ignored (and the other way round).
#[test]
fn freq_under_lfu() {
    let mut d = Diff::new();
    d.check(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    d.check(&["SET", "src", "v"]);
    let p = bulk(&d.b.cmd(&["DUMP", "src"]));
    both(&mut d, ("f1", "0", &["FREQ", "200"]), &p);
    both(&mut d, ("f2", "0", &["IDLETIME", "50"]), &p);
    d.check(&["OBJECT", "FREQ", "f1"]);
    d.check(&["OBJECT", "FREQ", "f2"]);
    d.check(&["OBJECT", "IDLETIME", "f1"]);
    d.check(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    both(&mut d, ("f3", "0", &["FREQ", "200"]), &p);
    idle_close(&mut d, "f3");
}

/// OBJECT IDLETIME of `key` on both servers, a second apart at most: idle times count whole
/// seconds, so a loaded machine may read them either side of a second boundary.
#[track_caller]
fn idle_close(d: &mut Diff, key: &str) {
    let (lg, redis) = d.both(&["OBJECT", "IDLETIME", key]);
    let n = |r: &[u8]| -> i64 {
        let s = String::from_utf8_lossy(r);
        s.trim()
            .trim_start_matches(':')
            .parse()
            .unwrap_or_else(|_| panic!("{s}"))
    };
    assert!((n(&lg) - n(&redis)).abs() <= 1, "{lg:?} {redis:?}");
}

/// DUMP and RESTORE inside MULTI and scripts, and their COMMAND INFO.
#[test]
fn in_transactions_and_scripts() {
    let mut d = Diff::new();
    d.check_lines(
        "
        RPUSH src a b c
        MULTI
        DUMP src
        EXEC
        EVAL \"return redis.call('RESTORE','dst',0,redis.call('DUMP',KEYS[1]))\" 1 src
        EVAL \"return redis.call('RESTORE','dst',0,redis.call('DUMP',KEYS[1]))\" 1 src
        LRANGE dst 0 -1
        COMMAND GETKEYS RESTORE k 0 x
        ",
    );
}

//! HyperLogLog against redis-server, byte for byte: the stored strings (GET) after PFADD
//! sequences of seeded random elements around and well past the sparse→dense promotion,
//! PFCOUNT (single keys with their cached cardinality, unions across luagate's shards),
//! PFMERGE of mixed encodings, PFDEBUG, `hll-sparse-max-bytes`, every error (corrupted and
//! foreign strings included), and a follower's copies after PFADD/PFCOUNT/PFMERGE.

mod common;
use common::*;

/// Sends a command with binary arguments to both servers and compares the replies.
#[track_caller]
fn check_bin(d: &mut Diff, args: &[&[u8]]) -> Vec<u8> {
    d.a.send_cmd(args);
    d.b.send_cmd(args);
    let x = d.a.read_reply().expect("luagate reply");
    let y = d.b.read_reply().expect("redis reply");
    assert_eq!(
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y),
        "luagate (left) and redis-server (right) differ on {:?}",
        args.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
    x
}

/// An element of 1..=24 bytes, sometimes binary, sometimes a short number (repeats).
fn element(rng: &mut Rng) -> Vec<u8> {
    match rng.next() % 4 {
        0 => (rng.next() % 1000).to_string().into_bytes(),
        1 => {
            let n = 1 + rng.next() % 24;
            (0..n).map(|_| rng.next() as u8).collect()
        }
        _ => format!("el:{}", rng.next() % 1_000_000_000).into_bytes(),
    }
}

/// Adds `n` seeded elements to `key` on both servers in PFADD calls of up to `batch`,
/// comparing every reply, and the stored bytes and the count after each call when `every` is
/// set.
fn add_random(d: &mut Diff, key: &str, seed: u64, n: usize, batch: usize, every: bool) {
    let mut rng = Rng(seed);
    let mut left = n;
    while left > 0 {
        let take = left.min(batch);
        left -= take;
        let elems: Vec<Vec<u8>> = (0..take).map(|_| element(&mut rng)).collect();
        let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
        args.extend(elems.iter().map(|e| e.as_slice()));
        check_bin(d, &args);
        if every {
            d.check(&["GET", key]);
            d.check(&["PFCOUNT", key]);
        }
    }
    d.check(&["GET", key]);
}

#[test]
fn pfadd_pfcount_and_errors_answer_as_redis() {
    let mut d = Diff::new();
    d.check_lines(
        "
        PFADD h
        GET h
        PFADD h
        PFCOUNT h
        PFADD h a b c
        GET h
        PFADD h a
        PFADD h c b
        PFCOUNT h
        GET h
        PFCOUNT nosuch
        PFCOUNT nosuch h
        EXISTS nosuch
        PFADD h2 x y z a
        PFCOUNT h h2
        PFCOUNT h2 h nosuch h
        GET h2
        TYPE h
        OBJECT ENCODING h
        PFDEBUG ENCODING h
        PFDEBUG DECODE h
        PFDEBUG GETREG nosuch
        PFDEBUG FOO h
        PFDEBUG FOO nosuch
        PFDEBUG decode h extra
        PFDEBUG
        PFADD
        PFCOUNT
        PFMERGE
        PFSELFTEST extra
        PFSELFTEST
        SET s hello
        PFADD s a
        PFCOUNT s
        PFCOUNT h s
        PFMERGE h s
        PFMERGE s h
        PFDEBUG ENCODING s
        RPUSH l a
        PFADD l a
        PFCOUNT l
        PFCOUNT h l
        PFMERGE l h
        PFMERGE h l
        PFDEBUG ENCODING l
        SET hyll HYLL
        PFADD hyll a
        PFDEBUG TODENSE h
        PFDEBUG TODENSE h
        PFDEBUG ENCODING h
        PFDEBUG DECODE h
        GET h
        PFADD h d e f
        PFCOUNT h
        GET h
        PFDEBUG GETREG h2
        PFDEBUG ENCODING h2
        GET h2
        ",
    );
    // Name, arity, flags and key positions agree; ACL categories too where luagate's coarse
    // categories are Redis's (PFDEBUG and PFSELFTEST lack @admin and @dangerous; key specs
    // lack Redis's finer flags, as for every command).
    for name in ["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"] {
        let n = if name.starts_with("pfd") || name.starts_with("pfs") {
            6
        } else {
            7
        };
        d.check_command_info(name, n);
    }
    // PFCOUNT may write (the cache), so read-only scripts may not call it, even on a valid cache.
    let ro = "return redis.call('pfcount', KEYS[1])";
    d.check(&["EVAL", ro, "1", "h"]);
    d.check(&["EVAL_RO", ro, "1", "h"]);
    d.check(&["EVAL", &format!("#!lua flags=no-writes\n{ro}"), "1", "h"]);
    d.check(&[
        "EVAL",
        "return redis.call('pfadd', KEYS[1], 'zz')",
        "1",
        "h",
    ]);
    d.check(&["EVAL", ro, "1", "h"]);
    d.check(&["GET", "h"]);
    d.check(&[
        "EVAL",
        "return redis.call('pfdebug', 'decode', KEYS[1])",
        "1",
        "h2",
    ]);
    d.check(&[
        "EVAL",
        "return redis.call('pfmerge', KEYS[1], KEYS[2])",
        "2",
        "h3",
        "h2",
    ]);
    d.check(&["GET", "h3"]);
    d.check(&["COMMAND", "GETKEYS", "PFMERGE", "a", "b", "c"]);
    d.check(&["COMMAND", "GETKEYS", "PFDEBUG", "GETREG", "k"]);
}

#[test]
fn random_sets_store_redis_bytes_across_promotion() {
    let mut d = Diff::new();
    // Element by element, then in batches; sizes below, around and far past promotion.
    for (i, (n, batch, every)) in [
        (10, 1, true),
        (500, 1, true),
        (500, 50, true),
        (1500, 100, true),
        (5000, 250, true),
        (50_000, 1000, true),
        (300_000, 5000, false),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("r{i}");
        add_random(&mut d, &key, 0x9e37_79b9 + i as u64, n, batch, every);
        d.check(&["PFDEBUG", "ENCODING", &key]);
        d.check(&["PFCOUNT", &key]);
        d.check(&["GET", &key]);
        // The cached value is answered as is; adding nothing new keeps it valid.
        d.check(&["PFCOUNT", &key]);
        d.check(&["PFADD", &key, "el:1"]);
        d.check(&["GET", &key]);
    }
    d.check(&["PFCOUNT", "r0", "r1", "r2", "r3", "r4", "r5"]);
    d.check(&["PFCOUNT", "r1", "r2"]);
    d.check(&["PFCOUNT", "r3", "r5", "nosuch"]);
    d.check(&["PFDEBUG", "DECODE", "r1"]);
    d.check(&["PFDEBUG", "GETREG", "r1"]);
    d.check(&["GET", "r1"]);
}

#[test]
fn pfmerge_mixes_encodings_as_redis() {
    let mut d = Diff::new();
    add_random(&mut d, "sa", 1, 40, 40, false);
    add_random(&mut d, "sb", 2, 300, 100, false);
    add_random(&mut d, "dn", 3, 8000, 1000, false);
    d.check_lines(
        "
        PFDEBUG ENCODING sa
        PFDEBUG ENCODING sb
        PFDEBUG ENCODING dn
        PFMERGE m1 sa
        GET m1
        PFMERGE m2 sa sb
        GET m2
        PFDEBUG ENCODING m2
        PFMERGE m3 sa dn
        GET m3
        PFDEBUG ENCODING m3
        PFMERGE sa sb
        GET sa
        PFCOUNT sa
        PFMERGE empty
        GET empty
        PFMERGE empty nosuch1 nosuch2
        GET empty
        PFMERGE dn sa
        GET dn
        PFMERGE sb dn
        GET sb
        PFCOUNT m1 m2 m3 sa sb dn
        SET ttl x
        DEL ttl
        PFADD ttl q
        EXPIRE ttl 1000
        PFMERGE ttl dn
        TTL ttl
        GET ttl
        ",
    );
    // Many sparse sources whose union outgrows the sparse limit.
    let mut keys = Vec::new();
    for i in 0..12 {
        let k = format!("part{i}");
        add_random(&mut d, &k, 100 + i, 150, 150, false);
        keys.push(k);
    }
    let mut args = vec!["PFMERGE", "union"];
    args.extend(keys.iter().map(String::as_str));
    d.check(&args);
    d.check(&["GET", "union"]);
    d.check(&["PFDEBUG", "ENCODING", "union"]);
    let mut args = vec!["PFCOUNT"];
    args.extend(keys.iter().map(String::as_str));
    d.check(&args);
}

#[test]
fn sparse_limit_follows_config() {
    let mut d = Diff::new();
    d.check_lines(
        "
        CONFIG GET hll-sparse-max-bytes
        CONFIG SET hll-sparse-max-bytes 1kb
        CONFIG GET hll-sparse-max-bytes
        CONFIG SET hll-sparse-max-bytes -1
        CONFIG SET hll-sparse-max-bytes 40
        ",
    );
    add_random(&mut d, "small", 7, 30, 1, true);
    d.check(&["PFDEBUG", "ENCODING", "small"]);
    d.check(&["CONFIG", "SET", "hll-sparse-max-bytes", "0"]);
    d.check(&["PFADD", "zero", "a"]);
    d.check(&["PFDEBUG", "ENCODING", "zero"]);
    d.check(&["CONFIG", "SET", "hll-sparse-max-bytes", "20000"]);
    add_random(&mut d, "big", 8, 6000, 200, true);
    d.check(&["PFDEBUG", "ENCODING", "big"]);
    d.check(&["PFCOUNT", "big"]);
}

/// A header: magic, encoding, three unused bytes, the cached cardinality.
fn header(enc: u8, card: u64) -> Vec<u8> {
    let mut v = b"HYLL".to_vec();
    v.push(enc);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&card.to_le_bytes());
    v
}

#[test]
fn foreign_and_corrupted_strings_get_redis_errors() {
    let mut d = Diff::new();
    let stale = 1u64 << 63;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short", b"HYLL\x01".to_vec()),
        ("magic", {
            let mut v = header(1, 0);
            v[0] = b'X';
            v.extend_from_slice(&[0x7f, 0xff]);
            v
        }),
        ("enc2", {
            let mut v = header(2, 0);
            v.extend_from_slice(&[0x7f, 0xff]);
            v
        }),
        ("denseshort", {
            let mut v = header(0, 0);
            v.extend_from_slice(&[0u8; 100]);
            v
        }),
        // Valid shape, cached value answered without looking at the registers.
        ("cached", {
            let mut v = header(1, 12345);
            v.extend_from_slice(&[0x7f, 0xff]);
            v
        }),
        // Sparse opcodes covering too few registers.
        ("few", {
            let mut v = header(1, stale);
            v.extend_from_slice(&[0x7f, 0xfe]);
            v
        }),
        // Too many registers.
        ("many", {
            let mut v = header(1, stale);
            v.extend_from_slice(&[0x7f, 0xff, 0x00]);
            v
        }),
        // A VAL run passing the last register.
        ("valpast", {
            let mut v = header(1, stale);
            v.extend_from_slice(&[0x7f, 0xfd, 0x83]);
            v
        }),
        // No opcodes at all.
        ("none", header(1, stale)),
        // Dense, stale cache, registers up to 63.
        ("dense63", {
            let mut v = header(0, stale);
            v.extend((0..12288).map(|i| (i * 37 % 256) as u8));
            v
        }),
        // Every register saturated, or at 51: the estimate is infinite, which Redis reports
        // (and caches) as llroundl's out-of-range value.
        ("sat", {
            let mut v = header(0, stale);
            v.extend_from_slice(&[0xff; 12288]);
            v
        }),
        ("all51", {
            let mut v = header(0, stale);
            // 51 = 0b110011 in every 6-bit register: the 24-bit pattern repeats every 3 bytes.
            let w: u32 = 51 | 51 << 6 | 51 << 12 | 51 << 18;
            for _ in 0..4096 {
                v.extend_from_slice(&w.to_le_bytes()[..3]);
            }
            v
        }),
        // Sparse with values up to 32 and a stale cache.
        ("valid", {
            let mut v = header(1, stale);
            v.extend_from_slice(&[0xff, 0x7f, 0xfa, 0x80, 0x00]);
            v
        }),
    ];
    for (key, bytes) in &cases {
        check_bin(&mut d, &[b"SET", key.as_bytes(), bytes]);
    }
    // A valid sparse string Redis would never write (ten unmerged VAL opcodes): an update
    // merges only the few opcodes after the changed one, as Redis does.
    let mut unmerged = header(1, stale);
    unmerged.extend_from_slice(&[0x80; 10]);
    unmerged.extend_from_slice(&[0x7f, 0xf5]);
    let mut reg0 = header(1, stale);
    reg0.extend_from_slice(&[0x84, 0x7f, 0xfe]);
    check_bin(&mut d, &[b"SET", b"unmerged", &unmerged]);
    check_bin(&mut d, &[b"SET", b"reg0", &reg0]);
    d.check_lines("PFCOUNT unmerged\nPFMERGE unmerged reg0\nGET unmerged\nPFDEBUG DECODE unmerged");
    for (key, _) in &cases {
        for cmd in [
            &["PFCOUNT", key][..],
            &["PFCOUNT", key, "nosuch"],
            &["PFDEBUG", "DECODE", key],
            &["PFDEBUG", "ENCODING", key],
            &["PFMERGE", "dst", key],
            &["GET", "dst"],
            &["PFMERGE", key, "nosuch"],
            &["GET", key],
            &["PFDEBUG", "TODENSE", key],
            &["PFADD", key, "a", "b", "c", "d"],
            &["PFCOUNT", key],
            &["GET", key],
        ] {
            d.check(cmd);
        }
    }
}

#[test]
fn followers_store_the_leaders_bytes() {
    let leader = luagate(&["--shards", "3"]);
    let follower = luagate(&["--shards", "2", "--replicaof", &leader.addr()]);
    let (mut l, mut f) = (leader.raw(), follower.raw());
    let mut rng = Rng(42);
    for round in 0..30 {
        let elems: Vec<Vec<u8>> = (0..200).map(|_| element(&mut rng)).collect();
        let key = format!("k{}", round % 3);
        let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
        args.extend(elems.iter().map(|e| e.as_slice()));
        l.send_cmd(&args);
        l.read_reply().expect("reply");
        if round % 4 == 0 {
            // Refreshes the cached cardinality: a write the follower must repeat.
            l.cmd(&["PFCOUNT", &key]);
        }
    }
    l.cmd(&["PFMERGE", "all", "k0", "k1", "k2"]);
    l.cmd(&["PFCOUNT", "all"]);
    l.cmd(&["PFADD", "small", "a", "b"]);
    l.cmd(&["PFCOUNT", "small"]);
    l.cmd(&["PFADD", "todense", "a"]);
    l.cmd(&["PFDEBUG", "TODENSE", "todense"]);
    wait_synced(&mut l, &mut f);
    // A follower answers PFCOUNT on a stale cache too, without upsetting its link.
    l.cmd(&["PFADD", "fresh", "a", "b", "c"]);
    wait_synced(&mut l, &mut f);
    assert_eq!(f.cmd(&["PFCOUNT", "fresh"]), b":3\r\n");
    l.cmd(&["PFADD", "fresh", "d"]);
    l.cmd(&["PFCOUNT", "fresh"]);
    wait_synced(&mut l, &mut f);
    for key in ["k0", "k1", "k2", "all", "small", "todense", "fresh"] {
        let want = l.cmd(&["GET", key]);
        assert!(want.len() > 20, "{key} missing on the leader");
        assert_eq!(f.cmd(&["GET", key]), want, "follower's {key} differs");
    }
}

#[test]
fn watch_sees_what_redis_signals() {
    let mut d = Diff::new();
    let mut others = (d.lg.raw(), d.reference.raw());
    d.check_lines("PFADD src a b c\nPFADD dst x\nPFCOUNT src\nPFADD sp q");
    // (watched key, command run by another client): PFMERGE signals only its destination,
    // PFDEBUG nothing, PFCOUNT its key when it refreshes the cache, PFADD when it changes.
    let cases: &[(&str, &[&str])] = &[
        ("src", &["PFMERGE", "dst", "src"]),
        ("dst", &["PFMERGE", "dst", "src"]),
        ("sp", &["PFDEBUG", "TODENSE", "sp"]),
        ("src", &["PFCOUNT", "src"]),
        ("dst", &["PFCOUNT", "dst"]),
        ("src", &["PFADD", "src", "a"]),
        ("src", &["PFADD", "src", "zz"]),
    ];
    for (watched, cmd) in cases {
        d.check(&["WATCH", watched]);
        let x = others.0.cmd(cmd);
        let y = others.1.cmd(cmd);
        assert_eq!(x, y, "{cmd:?}");
        d.check(&["MULTI"]);
        d.check(&["PING"]);
        d.check(&["EXEC"]);
    }
    // Even a read of the cached value leaves the string unshared ("raw"), as in Redis.
    let mut v = header(1, 7);
    v.extend_from_slice(&[0x7f, 0xff]);
    check_bin(&mut d, &[b"SET", b"emb", &v]);
    d.check_lines("OBJECT ENCODING emb\nPFCOUNT emb\nOBJECT ENCODING emb\nSET ex abc\nPFADD ttlk a\nEXPIRE ttlk 100\nPFADD ttlk b\nTTL ttlk",
    );
}

#[test]
fn the_append_only_log_restores_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("luagate-hll-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let flags = [
        "--shards",
        "2",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir.to_str().expect("utf-8 path"),
    ];
    let keys = ["small", "big", "merged", "bf"];
    let before: Vec<Vec<u8>> = {
        let p = luagate(&flags);
        let mut r = p.raw();
        let mut rng = Rng(5);
        for i in 0..20 {
            let elems: Vec<Vec<u8>> = (0..300).map(|_| element(&mut rng)).collect();
            let key = if i < 2 { "small" } else { "big" };
            let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
            args.extend(elems.iter().map(|e| e.as_slice()));
            r.send_cmd(&args);
            r.read_reply().expect("reply");
            if i % 3 == 0 {
                r.cmd(&["PFCOUNT", key]);
            }
        }
        r.cmd(&["PFMERGE", "merged", "small", "big"]);
        r.cmd(&["PFCOUNT", "merged"]);
        r.cmd(&[
            "BITFIELD", "bf", "SET", "i12", "#7", "-99", "INCRBY", "u3", "1", "5",
        ]);
        keys.iter().map(|k| r.cmd(&["GET", k])).collect()
    };
    let p = luagate(&flags);
    let mut r = p.raw();
    for (k, want) in keys.iter().zip(&before) {
        assert!(want.len() > 5, "{k} was not stored");
        assert_eq!(&r.cmd(&["GET", k]), want, "{k} after restart");
    }
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

//! BITFIELD and BITFIELD_RO against redis-server, byte for byte: GET/SET/INCRBY of every
//! width, `#N` offsets, OVERFLOW WRAP/SAT/FAIL and its scope, growth of the string, missing
//! keys (GET-only calls create nothing), RESP3 nulls, every error in Redis's order, seeded
//! random operation sequences compared with the stored bytes, and a follower's copy.

mod common;
use common::*;

#[test]
fn bitfield_answers_as_redis() {
    let mut d = Diff::new();
    d.check_lines("
        BITFIELD k
        EXISTS k
        BITFIELD k GET u8 0 GET i64 100 GET u63 3
        EXISTS k
        BITFIELD k OVERFLOW SAT
        EXISTS k
        BITFIELD k SET u8 0 255 GET u8 0 GET i8 0 GET u4 4 GET i4 4 GET u1 7
        GET k
        BITFIELD k SET i5 #3 -7 GET i5 #3 GET u5 15 SET u2 #100 3
        GET k
        STRLEN k
        BITFIELD k INCRBY u8 0 10 INCRBY u8 0 -300 INCRBY i8 8 127 INCRBY i8 8 1
        BITFIELD k OVERFLOW SAT INCRBY u8 0 1000 INCRBY u8 0 -1000 INCRBY i8 8 500 INCRBY i8 8 -500
        BITFIELD k OVERFLOW FAIL INCRBY u8 0 1000 GET u8 0 INCRBY i8 8 -500 OVERFLOW WRAP INCRBY u8 0 1000
        BITFIELD k OVERFLOW FAIL SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129 SET i8 0 -128
        BITFIELD k OVERFLOW SAT SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129
        BITFIELD k OVERFLOW WRAP SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129
        BITFIELD k overflow sat incrby U8 0 1
        BITFIELD k overflow sat incrby u8 0 1 get i8 0
        GET k
        BITFIELD n SET i64 0 -1 GET i64 0 GET u63 0 GET u63 1 INCRBY i64 0 1
        BITFIELD n SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -1
        BITFIELD n OVERFLOW SAT SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 9223372036854775807
        BITFIELD n OVERFLOW SAT SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 -9223372036854775808
        BITFIELD n OVERFLOW FAIL SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 1
        BITFIELD n OVERFLOW SAT SET u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -9223372036854775808
        BITFIELD n OVERFLOW WRAP SET u63 1 -1 INCRBY u63 1 5 INCRBY u63 1 -9223372036854775808
        BITFIELD n SET i1 0 1 SET i1 1 -1 SET u1 2 1 GET i1 0 GET u1 1 INCRBY i1 0 1 INCRBY u1 2 1
        GET n
        BITFIELD fail OVERFLOW FAIL INCRBY u8 100 300
        GET fail
        BITFIELD fail OVERFLOW FAIL SET u8 200 300
        STRLEN fail
        SET str hello
        BITFIELD str GET u8 0 GET u16 #1 GET i32 4 GET u8 39 GET u8 40 GET u8 10000
        BITFIELD str SET u8 #0 72 INCRBY u16 #2 1
        GET str
        SET num 1234
        BITFIELD num GET u32 0
        BITFIELD num SET u8 0 57
        GET num
        BITFIELD_RO str GET u8 0 GET i16 4
        BITFIELD_RO missing GET u8 0
        EXISTS missing
        BITFIELD_RO str
        BITFIELD_RO str SET u8 0 1
        BITFIELD_RO str GET u8 0 INCRBY u8 0 1
        BITFIELD_RO str OVERFLOW FAIL GET u8 0
        BITFIELD_RO missing SET u8 0 1
        EXISTS missing
        RPUSH list a
        BITFIELD list GET u8 0
        BITFIELD list SET u8 0 1
        BITFIELD list
        BITFIELD_RO list GET u8 0
        BITFIELD list FOO u8 0
        BITFIELD list GET u8
        BITFIELD list GET u64 0
        BITFIELD list SET u8 0
        BITFIELD k GET
        BITFIELD k SET u8 0
        BITFIELD k INCRBY u8 0
        BITFIELD k OVERFLOW
        BITFIELD k OVERFLOW BAD GET u8 0
        BITFIELD k GET u8 0 OVERFLOW BAD
        BITFIELD k GET u8 0 BAD
        BITFIELD k GET u64 0
        BITFIELD k GET i65 0
        BITFIELD k GET i0 0
        BITFIELD k GET u0 0
        BITFIELD k GET U8 0
        BITFIELD k GET 8 0
        BITFIELD k GET i 0
        BITFIELD k GET i08 0
        BITFIELD k GET i+8 0
        BITFIELD k GET u8 -1
        BITFIELD k GET u8 1.5
        BITFIELD k GET u8 #-1
        BITFIELD k GET u8 ##1
        BITFIELD k GET u8 #
        BITFIELD k GET u8 4294967296
        BITFIELD k GET u8 4294967295
        BITFIELD k GET u8 #536870911
        BITFIELD k GET u8 #536870912
        BITFIELD k GET u8 #1152921504606846976
        BITFIELD k SET u8 0 x
        BITFIELD k SET u8 0 9223372036854775808
        BITFIELD k INCRBY u8 0 1.0
        BITFIELD k GET u64 0 SET u8 x 1
        BITFIELD k SET u8 x 1 GET u64 0
        BITFIELD list GET u64 0
        BITFIELD list OVERFLOW BAD
        BITFIELD_RO list SET u8 0 1
        BITFIELD_RO k SET u8 0 x
        BITFIELD
        BITFIELD_RO
        ",
    );
    for name in ["bitfield", "bitfield_ro"] {
        // Name, arity, flags, key positions and ACL categories agree (key specs are coarse).
        d.check_command_info(name, 7);
    }
    // RESP3: a failed operation is a null.
    // From scripts: a failed operation is Lua false, back to a nil; BITFIELD_RO is allowed in
    // read-only scripts, BITFIELD is not.
    let bf = "return redis.call('bitfield', KEYS[1], 'overflow', 'fail', 'incrby', 'u2', 0, 9, 'get', 'u2', 0)";
    d.check(&["EVAL", bf, "1", "lua"]);
    d.check(&["EVAL_RO", bf, "1", "lua"]);
    d.check(&[
        "EVAL_RO",
        "return redis.call('bitfield_ro', KEYS[1], 'get', 'i8', 0)",
        "1",
        "lua",
    ]);
    d.check(&[
        "EVAL",
        "return redis.call('bitfield_ro', KEYS[1], 'set', 'i8', 0, 1)",
        "1",
        "lua",
    ]);
    d.both(&["HELLO", "3"]);
    d.check(&["EVAL", bf, "1", "lua"]);
    d.check(&[
        "BITFIELD", "r3", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "7", "GET", "u2", "0",
    ]);
}

/// A value near a power of two (the interesting edges), either sign.
fn value(rng: &mut Rng) -> String {
    let p = rng.below(65) as u32;
    let base = if p == 64 {
        i64::MAX
    } else {
        (1u64 << p.min(63)) as i64
    };
    let v = base.wrapping_add(rng.below(5) as i64 - 2);
    if rng.below(2) == 0 {
        v.to_string()
    } else {
        v.wrapping_neg().to_string()
    }
}

#[test]
fn random_operation_sequences_match_redis() {
    let mut d = Diff::new();
    let mut rng = Rng(0x5eed_b17f);
    for round in 0..400 {
        let key = format!("bf{}", round % 5);
        let mut args: Vec<String> = vec!["BITFIELD".into(), key.clone()];
        for _ in 0..1 + rng.below(5) {
            if rng.below(6) == 0 {
                args.push("OVERFLOW".into());
                args.push(["WRAP", "SAT", "FAIL"][rng.below(3) as usize].into());
            }
            let signed = rng.below(2) == 0;
            let bits = 1 + rng.below(if signed { 64 } else { 63 });
            let ty = format!("{}{bits}", if signed { 'i' } else { 'u' });
            let off = if rng.below(3) == 0 {
                format!("#{}", rng.below(8))
            } else {
                rng.below(200).to_string()
            };
            match rng.below(3) {
                0 => args.extend(["GET".into(), ty, off]),
                1 => args.extend(["SET".into(), ty, off, value(&mut rng)]),
                _ => args.extend(["INCRBY".into(), ty, off, value(&mut rng)]),
            }
        }
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        d.check(&words);
        if round % 10 == 0 {
            d.check(&["GET", &key]);
        }
    }
    for i in 0..5 {
        d.check(&["GET", &format!("bf{i}")]);
    }
}

#[test]
fn followers_apply_bitfield_writes() {
    let leader = luagate(&["--shards", "3"]);
    let follower = luagate(&["--shards", "2", "--replicaof", &leader.addr()]);
    let (mut l, mut f) = (leader.raw(), follower.raw());
    l.cmd(&[
        "BITFIELD", "a", "SET", "i16", "#3", "-300", "INCRBY", "u5", "2", "40",
    ]);
    // Every operation fails, but the string was created: Redis's replicas miss it, luagate
    // propagates the call so its followers have it too.
    l.cmd(&[
        "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u8", "64", "300",
    ]);
    l.cmd(&["BITFIELD", "c", "GET", "u8", "0"]);
    wait_synced(&mut l, &mut f);
    for key in ["a", "b"] {
        let want = l.cmd(&["GET", key]);
        assert!(want.starts_with(b"$"), "{key} missing on the leader");
        assert_eq!(f.cmd(&["GET", key]), want, "follower's {key} differs");
    }
    assert_eq!(f.cmd(&["EXISTS", "c"]), b":0\r\n");
    // A follower refuses BITFIELD (a write command) but serves BITFIELD_RO.
    assert!(f
        .cmd_str(&["BITFIELD", "a", "GET", "u8", "0"])
        .starts_with("-READONLY"));
    assert_eq!(
        f.cmd(&["BITFIELD_RO", "a", "GET", "i16", "#3"]),
        l.cmd(&["BITFIELD_RO", "a", "GET", "i16", "#3"])
    );
}

#[test]
fn watch_sees_only_real_changes() {
    let mut d = Diff::new();
    let mut others = (d.lg.raw(), d.reference.raw());
    d.check(&["SET", "c", "x"]);
    // (command by another client): Redis 7.0 signals only operations that grew the string or
    // changed a field's value.
    let cases: &[&[&str]] = &[
        &["BITFIELD", "c", "SET", "u8", "0", "120"],
        &["BITFIELD", "c", "SET", "u8", "0", "120"],
        &["BITFIELD", "c", "INCRBY", "u8", "0", "0"],
        &[
            "BITFIELD", "c", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000",
        ],
        &[
            "BITFIELD", "c", "OVERFLOW", "FAIL", "INCRBY", "u8", "100", "1000",
        ],
        &["BITFIELD", "c", "SET", "u8", "300", "0"],
        &[
            "BITFIELD", "c", "OVERFLOW", "SAT", "SET", "u8", "0", "255", "INCRBY", "u8", "0", "1",
        ],
        &["BITFIELD", "c", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1"],
        &["BITFIELD", "c", "GET", "u8", "0"],
        &["BITFIELD_RO", "c", "GET", "u8", "0"],
        &["BITFIELD", "c", "SET", "u8", "0", "x"],
    ];
    for cmd in cases {
        d.check(&["WATCH", "c"]);
        let x = others.0.cmd(cmd);
        let y = others.1.cmd(cmd);
        assert_eq!(x, y, "{cmd:?}");
        d.check(&["MULTI"]);
        d.check(&["PING"]);
        d.check(&["EXEC"]);
    }
    d.check(&["GET", "c"]);
}

//! Sorted set family: differential tests against the reference redis-server (replies compared
//! byte for byte), including errors, edge ranges, RESP3 shapes, cross-shard set algebra and
//! a seeded random command sequence.
mod common;

use common::Diff;

/// Runs each whitespace-separated command line through `check`.
fn run(d: &mut Diff, lines: &str) {
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let args: Vec<&str> = line.split_whitespace().collect();
        d.check(&args);
    }
}

/// Switches both connections to RESP3 (the HELLO replies themselves differ by design).
fn resp3(d: &mut Diff) {
    d.both(&["HELLO", "3"]);
}

/// Whether this build has the set family (plain sets are valid ZUNION/ZINTER sources).
fn sets_available(d: &mut Diff) -> bool {
    let r = d.a.cmd(&["SADD", "__probe_set", "x"]);
    d.a.cmd(&["DEL", "__probe_set"]);
    !r.starts_with(b"-ERR unknown command")
}

fn spread_keys(p: &str, n: usize) -> Vec<String> {
    common::keys_on_distinct_shards(p, n, 4)
}

/// Lex ranges over mixed scores: undefined by the docs, but for a small (listpack) set Redis
/// answers deterministically, by one walk over the set in score order (early exits when the
/// last member is below `min` or the first above `max`; an unchecked LIMIT offset skip).
#[test]
fn lex_ranges_on_mixed_scores_walk_like_redis() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z -1 m1 0 a 3 m0
         ZLEXCOUNT z [1 [a
         ZRANGE z [1 [a BYLEX
         ZADD w 0 a 1 z 2 b 3 c 4 y
         ZLEXCOUNT w [a [c
         ZRANGE w [a [c BYLEX
         ZRANGE w [a [c BYLEX LIMIT 1 5
         ZRANGE w [a [c BYLEX LIMIT 2 5
         ZRANGE w [a [c BYLEX LIMIT 2 1
         ZRANGE w [c [a BYLEX REV
         ZRANGE w [c [a BYLEX REV LIMIT 1 5
         ZRANGEBYLEX w (a + LIMIT 0 -1
         ZREVRANGEBYLEX w [y - LIMIT 1 2
         ZRANGE w - [b BYLEX
         ZRANGE w [b + BYLEX REV
         ZRANGESTORE d w [a [c BYLEX LIMIT 2 5
         ZRANGE d 0 -1 WITHSCORES
         ZREMRANGEBYLEX w [b [c
         ZREMRANGEBYLEX w [a [c
         ZRANGE w 0 -1 WITHSCORES",
    );
}

#[test]
fn zadd_options_scores_and_errors() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1.1 a 0.1 b 1e200 c inf d -inf e 1e17 f 0x10 g 1.5e-7 h
         ZRANGE z 0 -1 WITHSCORES
         ZSCORE z a
         ZSCORE z nope
         ZSCORE nokey a
         ZMSCORE z a nope c d e
         ZMSCORE nokey a b
         ZADD z
         ZADD z 1
         ZADD z 1 a 2
         ZADD z nan a
         ZADD z 1e400 a
         ZADD z 1e-400 a
         ZADD z abc a
         ZADD z xx nx 1 a
         ZADD z gt lt 1 a
         ZADD z gt nx 1 a
         ZADD z lt nx 1 a
         ZADD z incr 1 a 2 b
         ZADD z xx xx 5 a
         ZADD z nx 5 a 5 new
         ZADD z xx ch 7 a 7 nope
         ZADD z gt ch 0 a 100 b 3 brandnew
         ZADD z lt ch 0 a 100 b
         ZADD z ch 0 a 0 a
         ZADD z incr 2 a
         ZADD z incr gt -1 a
         ZADD z incr lt -1 a
         ZADD z incr nx 1 a
         ZADD z incr xx 1 nope
         ZADD z incr 0 a
         ZADD z incr -inf d
         ZADD z incr inf e
         ZADD z incr +inf d
         ZRANGE z 0 -1 WITHSCORES
         ZINCRBY z 1 a
         ZINCRBY z 0.1 b
         ZINCRBY z abc a
         ZINCRBY z 1 fresh
         ZINCRBY z -inf d
         ZINCRBY fresh 2.5 m
         ZINCRBY z 1
         ZCARD z
         ZCARD nokey
         SET str x
         ZADD str 1 a
         ZADD str abc a
         ZADD str xx 1 a
         ZINCRBY str 1 a
         ZSCORE str a
         ZMSCORE str a
         ZCARD str
         ZADD nokey xx 1 a
         EXISTS nokey
         ZADD nz -0 a
         ZSCORE nz a
         ZINCRBY nz2 -0 a
         ZSCORE nz2 a",
    );
    // -0 survives only in the large encoding.
    let long = "x".repeat(70);
    d.check(&["ZADD", "big", "-0", &long, "1", "a"]);
    d.check(&["ZSCORE", "big", &long]);
    d.check(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]);
}

#[test]
fn zrem_zcard_and_empty_keys() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1 a 2 b 3 c
         ZREM z a nope
         ZREM z a
         ZREM nokey a
         ZREM z b c b
         EXISTS z
         ZCARD z
         SET s x
         ZREM s a
         ZREM z",
    );
}

#[test]
fn zrange_all_forms() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1 a 2 b 2 bb 3 c 4 d 5 e -1 neg inf top -inf bottom
         ZRANGE z 0 -1
         ZRANGE z 0 -1 WITHSCORES
         ZRANGE z 2 4 withscores
         ZRANGE z -3 -1
         ZRANGE z -100 100
         ZRANGE z 5 2
         ZRANGE z 100 200
         ZRANGE z 0 -1 REV WITHSCORES
         ZRANGE z 1 3 REV
         ZRANGE z 0 -1 LIMIT 0 -1
         ZRANGE z 0 -1 LIMIT 1 2
         ZRANGE z (1 4 BYSCORE
         ZRANGE z 1 (4 BYSCORE WITHSCORES
         ZRANGE z (1 (4 BYSCORE
         ZRANGE z -inf +inf BYSCORE
         ZRANGE z -inf -inf BYSCORE WITHSCORES
         ZRANGE z +inf +inf BYSCORE WITHSCORES
         ZRANGE z (2 (2 BYSCORE
         ZRANGE z 2 2 BYSCORE
         ZRANGE z 4 1 BYSCORE
         ZRANGE z 4 1 BYSCORE REV
         ZRANGE z (4 1 BYSCORE REV WITHSCORES
         ZRANGE z +inf -inf BYSCORE REV LIMIT 1 3
         ZRANGE z -inf +inf BYSCORE LIMIT 2 3
         ZRANGE z -inf +inf BYSCORE LIMIT 2 0
         ZRANGE z -inf +inf BYSCORE LIMIT -1 3
         ZRANGE z -inf +inf BYSCORE LIMIT 3 -1
         ZRANGE z -inf +inf BYSCORE LIMIT 100 1
         ZRANGE z -inf +inf BYSCORE LIMIT 9 5
         ZRANGE z 0 -1 BYSCORE BYLEX
         ZRANGE z 0 -1 REV REV
         ZRANGE z 0 -1 LIMIT 1
         ZRANGE z 0 -1 LIMIT a 1
         ZRANGE z 0 -1 LIMIT 1 b
         ZRANGE z a b
         ZRANGE z 0 b
         ZRANGE z 0 -1 foo
         ZRANGE z a 1 BYSCORE
         ZRANGE z (a 1 BYSCORE
         ZRANGE z ((1 2 BYSCORE
         ZRANGE z 1 nan BYSCORE
         ZRANGE z 0x1 0x4 BYSCORE
         ZRANGE z 1e400 -1e400 BYSCORE REV
         ZRANGE z - + BYLEX WITHSCORES
         ZRANGE z - + BYLEX LIMIT 0 2 WITHSCORES
         ZRANGE z 0 -1 WITHSCORES BYLEX
         ZRANGE nokey 0 -1
         ZRANGE nokey a b
         ZRANGE nokey (1 2 BYSCORE
         ZRANGE nokey - + BYLEX
         ZREVRANGE z 0 2 WITHSCORES
         ZREVRANGE z 0 -1 REV
         ZREVRANGE z 0 -1 BYSCORE
         ZREVRANGE z 0 -1 LIMIT 0 1
         ZRANGEBYSCORE z 2 4 WITHSCORES
         ZRANGEBYSCORE z (2 +inf LIMIT 1 2 WITHSCORES
         ZRANGEBYSCORE z -inf +inf REV
         ZRANGEBYSCORE z -inf +inf BYSCORE
         ZREVRANGEBYSCORE z 4 2 WITHSCORES
         ZREVRANGEBYSCORE z +inf (2 LIMIT 1 2
         ZREVRANGEBYSCORE z 2 4
         SET str x
         ZRANGE str 0 -1
         ZRANGE str a b
         ZRANGE str 0 1 BYSCORE",
    );
    // Lex ranges on equal scores, the only case where they are defined.
    run(
        &mut d,
        "ZADD lx 0 a 0 b 0 c 0 d 0 e 0 f 0 ab 0 ba
         ZRANGE lx - + BYLEX
         ZRANGE lx [b (e BYLEX
         ZRANGE lx (b [e BYLEX
         ZRANGE lx [b [b BYLEX
         ZRANGE lx (b (b BYLEX
         ZRANGE lx [e [b BYLEX
         ZRANGE lx + - BYLEX REV
         ZRANGE lx [e (a BYLEX REV LIMIT 1 3
         ZRANGE lx - + BYLEX LIMIT 2 3
         ZRANGE lx - + BYLEX LIMIT -1 3
         ZRANGE lx + - BYLEX
         ZRANGE lx - - BYLEX
         ZRANGE lx [ + BYLEX
         ZRANGE lx ( + BYLEX
         ZRANGE lx a b BYLEX
         ZRANGE lx +a b BYLEX
         ZRANGEBYLEX lx [a [c
         ZRANGEBYLEX lx [a [c LIMIT 1 1
         ZRANGEBYLEX lx - + WITHSCORES
         ZRANGEBYLEX lx - + REV
         ZREVRANGEBYLEX lx + -
         ZREVRANGEBYLEX lx (d [a LIMIT 0 2
         ZRANGEBYLEX lx foo bar
         ZLEXCOUNT lx - +
         ZLEXCOUNT lx [b (e
         ZLEXCOUNT lx (b (b
         ZLEXCOUNT lx foo +
         ZLEXCOUNT nokey - +",
    );
    d.check(&["ZRANGEBYSCORE", "z", "", "3"]);
    d.check(&["ZRANGEBYSCORE", "z", "(", "3"]);
    d.check(&["ZRANGEBYSCORE", "z", " 1", "3"]);
    d.check(&["ZRANGEBYSCORE", "z", "1 ", "3"]);
    d.check(&["ZRANGEBYLEX", "lx", "", "+"]);
    resp3(&mut d);
    run(
        &mut d,
        "ZRANGE z 0 -1 WITHSCORES
         ZRANGE z 0 2
         ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 3
         ZRANGE nokey 0 -1 WITHSCORES",
    );
}

#[test]
fn zrangestore_and_counts() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD src 1 a 2 b 3 c 4 d 5 e
         ZRANGESTORE dst src 1 3
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src (1 4 BYSCORE REV
         ZRANGESTORE dst src 4 (1 BYSCORE REV LIMIT 1 1
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src - + BYLEX LIMIT 0 2
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src 0 -1 WITHSCORES
         ZRANGESTORE dst src 0 -1 LIMIT 0 1
         ZRANGESTORE dst src 10 20
         EXISTS dst
         ZRANGESTORE dst src 0 0
         ZRANGESTORE dst nokey 0 -1
         EXISTS dst
         ZRANGESTORE dst nokey 0 -1
         SET str x
         ZRANGESTORE str src 0 0
         ZRANGE str 0 -1
         ZRANGESTORE dst str 0 -1
         ZRANGESTORE dst src
         ZCOUNT src -inf +inf
         ZCOUNT src (1 3
         ZCOUNT src 3 1
         ZCOUNT src a 1
         ZCOUNT nokey 0 1
         ZCOUNT str 0 1
         ZRANK src a
         ZRANK src e
         ZRANK src nope
         ZRANK nokey a
         ZRANK str a
         ZRANK src a WITHSCORE
         ZREVRANK src a
         ZREVRANK src e
         ZREVRANK src nope",
    );
}

#[test]
fn zremrange_family() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h
         ZREMRANGEBYRANK z 0 0
         ZREMRANGEBYRANK z -2 -1
         ZREMRANGEBYRANK z 5 1
         ZREMRANGEBYRANK z 100 200
         ZREMRANGEBYRANK z a 1
         ZRANGE z 0 -1 WITHSCORES
         ZREMRANGEBYSCORE z (2 4
         ZREMRANGEBYSCORE z 10 1
         ZREMRANGEBYSCORE z x 1
         ZRANGE z 0 -1 WITHSCORES
         ZREMRANGEBYSCORE z -inf +inf
         EXISTS z
         ZADD l 0 a 0 b 0 c 0 d 0 e
         ZREMRANGEBYLEX l [b (d
         ZREMRANGEBYLEX l x +
         ZRANGE l 0 -1
         ZREMRANGEBYLEX l - +
         EXISTS l
         ZREMRANGEBYRANK nokey 0 -1
         ZREMRANGEBYSCORE nokey 0 1
         ZREMRANGEBYLEX nokey - +
         SET str x
         ZREMRANGEBYRANK str 0 1
         ZREMRANGEBYSCORE str 0 1
         ZREMRANGEBYLEX str - +
         ZADD r 1 a 2 b 3 c
         ZREMRANGEBYRANK r -100 100
         EXISTS r",
    );
}

#[test]
fn pops_and_blocking_pops_with_data() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h
         ZPOPMIN z
         ZPOPMAX z
         ZPOPMIN z 2
         ZPOPMAX z 0
         ZPOPMIN z -1
         ZPOPMIN z abc
         ZPOPMIN z 1 2
         ZPOPMIN nokey
         ZPOPMIN nokey 3
         ZPOPMIN nokey 0
         SET str x
         ZPOPMIN str
         ZPOPMIN str 0
         ZPOPMIN str -1
         ZMPOP 1 z MIN
         ZMPOP 1 z max COUNT 2
         ZMPOP 2 nokey z MIN COUNT 1
         ZMPOP 2 str z MIN
         ZMPOP 2 z str MIN
         ZMPOP 1 nokey MIN
         ZMPOP 0 z MIN
         ZMPOP -1 z MIN
         ZMPOP abc z MIN
         ZMPOP 2 z MIN
         ZMPOP 1 z FOO
         ZMPOP 1 z MIN COUNT
         ZMPOP 1 z MIN COUNT 0
         ZMPOP 1 z MIN COUNT abc
         ZMPOP 1 z MIN COUNT 1 COUNT 1
         ZMPOP 1 z MIN foo
         ZADD z 1 a 2 b 3 c 4 d 5 e
         ZPOPMAX z 100
         EXISTS z
         ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i
         BZPOPMIN z 0
         BZPOPMAX z 0.5
         BZPOPMIN nokey z 0
         BZPOPMIN str z 0
         BZPOPMIN z str 0
         BZPOPMIN z abc
         BZPOPMIN z -1
         BZPOPMIN z inf
         BZPOPMIN z nan
         BZPOPMIN z 1e400
         BZPOPMIN z 0x10
         BZPOPMIN z -0.0001
         BZMPOP 0 1 z MIN
         BZMPOP 0 2 nokey z MAX COUNT 10
         EXISTS z
         BZMPOP x 1 z MIN
         BZMPOP -1 1 z MIN
         BZMPOP 0 0 z MIN
         BZMPOP 0 abc z MIN
         BZMPOP 0 1 z FOO
         BZMPOP 0 1 z MIN COUNT 0
         BZMPOP 0 1 str MIN",
    );
    d.check(&["BZPOPMIN", "z", " 1"]);
    resp3(&mut d);
    run(
        &mut d,
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i
         ZPOPMIN z
         ZPOPMIN z 1
         ZPOPMAX z 2
         ZMPOP 1 z MIN COUNT 2
         BZPOPMAX z 0
         BZMPOP 0 1 z MIN
         ZPOPMIN nokey
         ZMPOP 1 nokey MIN",
    );
}

#[test]
fn zrandmember_shapes() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1 a 2 b 3 c 4 d 5 e
         ZRANDMEMBER nokey
         ZRANDMEMBER nokey 5
         ZRANDMEMBER nokey -5 WITHSCORES
         ZRANDMEMBER z 0
         ZRANDMEMBER z 0 WITHSCORES
         ZRANDMEMBER z 5 WITHSCORES
         ZRANDMEMBER z 100
         ZRANDMEMBER z 100 WITHSCORES
         ZRANDMEMBER z abc
         ZRANDMEMBER z 1 foo
         ZRANDMEMBER z 1 WITHSCORES foo
         ZRANDMEMBER z -9223372036854775808
         ZRANDMEMBER z 4611686018427387904 WITHSCORES
         SET str x
         ZRANDMEMBER str
         ZRANDMEMBER str 0",
    );
    // Random answers: check shape and membership only.
    let members = ["a", "b", "c", "d", "e"];
    for _ in 0..20 {
        let r = String::from_utf8(d.a.cmd(&["ZRANDMEMBER", "z"])).unwrap();
        assert!(members.iter().any(|m| r == format!("$1\r\n{m}\r\n")), "{r}");
        let items = common::array_items(&d.a.cmd(&["ZRANDMEMBER", "z", "3"])).unwrap();
        assert_eq!(items.len(), 3);
        let mut uniq = items.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 3, "distinct members");
        let items =
            common::array_items(&d.a.cmd(&["ZRANDMEMBER", "z", "-8", "WITHSCORES"])).unwrap();
        assert_eq!(items.len(), 16);
        for pair in items.chunks(2) {
            let m = String::from_utf8_lossy(&pair[0]).to_string();
            let s = String::from_utf8_lossy(&pair[1]).to_string();
            let i = members
                .iter()
                .position(|x| m == format!("$1\r\n{x}\r\n"))
                .unwrap();
            assert_eq!(s, format!("$1\r\n{}\r\n", i + 1));
        }
    }
}

#[test]
fn zscan_small_and_large() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z 1e17 a 2 b 3 c -0 d 1.5 e 5e18 f 4611686018427387904 g 0.1 h inf i
         ZSCAN z 0
         ZSCAN z 0 MATCH a*
         ZSCAN z 0 MATCH * COUNT 1
         ZSCAN z 7
         ZSCAN z -1
         ZSCAN z +5
         ZSCAN z abc
         ZSCAN z 18446744073709551616
         ZSCAN z 0 COUNT 0
         ZSCAN z 0 COUNT abc
         ZSCAN z 0 MATCH
         ZSCAN z 0 TYPE string
         ZSCAN z 0 NOVALUES
         ZSCAN nokey 0
         ZSCAN nokey abc
         SET str x
         ZSCAN str 0",
    );
    d.check(&["ZSCAN", "z", ""]);
    d.check(&["ZSCAN", "z", " 1"]);
    resp3(&mut d);
    run(
        &mut d,
        "ZSCAN z 0
         ZSCORE z a
         ZSCORE z i
         ZSCORE z nope
         ZMSCORE z a nope i
         ZINCRBY z 1 b
         ZADD z INCR -0.5 b
         ZADD z XX INCR 1 nope
         ZRANDMEMBER z 100 WITHSCORES
         ZRANDMEMBER z 100
         ZRANDMEMBER nokey",
    );
    d.both(&["HELLO", "2"]);
    // A large set: the cursor walk differs, the union of what it returns does not.
    for i in 0..300 {
        d.check(&["ZADD", "big", &format!("{i}.5"), &format!("m{i}")]);
    }
    d.check(&["ZADD", "big", "1e17", "huge"]);
    for (srv, name) in [(0, "luagate"), (1, "redis")] {
        let c = if srv == 0 { &mut d.a } else { &mut d.b };
        let mut cursor = "0".to_string();
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..10_000 {
            let r = c.cmd(&["ZSCAN", "big", &cursor, "COUNT", "20"]);
            let parts = common::array_items(&r).unwrap();
            cursor = String::from_utf8_lossy(&parts[0])
                .lines()
                .nth(1)
                .unwrap()
                .to_string();
            let items = common::array_items(&parts[1]).unwrap();
            for p in items.chunks(2) {
                seen.insert(p[0].clone(), p[1].clone());
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 301, "{name} saw every member");
        assert_eq!(
            seen[&b"$4\r\nhuge\r\n"[..]],
            b"$5\r\n1e+17\r\n".to_vec(),
            "{name}"
        );
    }
}

#[test]
fn set_algebra_options_and_errors() {
    let mut d = Diff::new();
    run(
        &mut d,
        "ZADD z1 1 a 2 b 3 c
         ZADD z2 10 b 20 c 30 d
         ZADD z3 0.1 a 0.2 b 0.3 c
         ZUNION 2 z1 z2
         ZUNION 2 z1 z2 WITHSCORES
         ZUNION 2 z1 z2 WEIGHTS 2 0.5 WITHSCORES
         ZUNION 2 z1 z2 AGGREGATE MIN WITHSCORES
         ZUNION 2 z1 z2 AGGREGATE max WITHSCORES
         ZUNION 3 z1 z2 z3 WITHSCORES
         ZUNION 3 z3 z1 z3 WEIGHTS 1 1 1 WITHSCORES
         ZUNION 2 z1 nokey WITHSCORES
         ZINTER 2 z1 z2 WITHSCORES
         ZINTER 2 z1 z2 WEIGHTS -1 1 AGGREGATE MAX WITHSCORES
         ZINTER 3 z1 z2 z3 WITHSCORES
         ZINTER 2 z1 nokey WITHSCORES
         ZINTER 2 z1 z1 WITHSCORES
         ZDIFF 2 z1 z2 WITHSCORES
         ZDIFF 1 z1 WITHSCORES
         ZDIFF 2 nokey z1
         ZDIFF 2 z1 nokey WITHSCORES
         ZINTERCARD 2 z1 z2
         ZINTERCARD 2 z1 z2 LIMIT 1
         ZINTERCARD 2 z1 z2 LIMIT 0
         ZINTERCARD 1 z1 LIMIT 1 LIMIT 0
         ZINTERCARD 2 z1 nokey
         ZUNIONSTORE dst 2 z1 z2 WEIGHTS 1 2
         ZRANGE dst 0 -1 WITHSCORES
         ZINTERSTORE dst 2 z1 z2 AGGREGATE MIN
         ZRANGE dst 0 -1 WITHSCORES
         ZDIFFSTORE dst 2 z2 z1
         ZRANGE dst 0 -1 WITHSCORES
         ZINTERSTORE dst 2 z1 nokey
         EXISTS dst
         ZINTERSTORE dst 2 z1 nokey
         SET str x
         ZUNIONSTORE str 1 z1
         ZRANGE str 0 -1
         ZUNION 2 z1 str
         ZUNION 2 z1 str WEIGHTS a
         ZUNION 0 z1
         ZUNION -1 z1
         ZUNION abc z1
         ZUNION 3 z1 z2
         ZUNION 2 nokey z1 blah
         ZUNION 1 z1 WEIGHTS
         ZUNION 1 z1 WEIGHTS a
         ZUNION 1 z1 WEIGHTS 1 2
         ZUNION 1 z1 WEIGHTS nan
         ZUNION 1 z1 AGGREGATE
         ZUNION 1 z1 AGGREGATE avg
         ZUNION 1 z1 WITHSCORES WITHSCORES
         ZDIFF 1 z1 WEIGHTS 1
         ZDIFF 1 z1 AGGREGATE SUM
         ZUNIONSTORE dst 1 z1 WITHSCORES
         ZUNIONSTORE dst 0 z1
         ZINTERSTORE dst 0 z1
         ZDIFFSTORE dst 0 z1
         ZINTER 0 z1
         ZDIFF 0 z1
         ZINTERCARD 0 z1
         ZINTERCARD abc z1
         ZINTERCARD 2 z1
         ZINTERCARD 1 z1 LIMIT -1
         ZINTERCARD 1 z1 LIMIT abc
         ZINTERCARD 1 z1 WITHSCORES
         ZINTERCARD 1 z1 WEIGHTS 1
         ZADD pinf 1 inf 1 x
         ZADD ninf 1 -inf 1 x
         ZUNION 2 pinf ninf WITHSCORES
         ZUNION 2 pinf pinf WEIGHTS 1 -1 WITHSCORES
         ZINTER 2 pinf pinf WEIGHTS 1 -1 WITHSCORES
         ZUNION 1 pinf WEIGHTS 0 WITHSCORES
         ZINTER 2 pinf ninf AGGREGATE MIN WITHSCORES",
    );
    if sets_available(&mut d) {
        // Plain sets are valid sources; their members score 1.
        run(
            &mut d,
            "SADD s1 a d x
             ZUNION 2 z1 s1 WITHSCORES
             ZUNION 2 z1 s1 WEIGHTS 1 inf WITHSCORES
             ZINTER 2 z1 s1 WITHSCORES
             ZINTER 2 s1 s1 WITHSCORES
             ZDIFF 2 z1 s1
             ZDIFF 2 s1 z1 WITHSCORES
             ZINTERCARD 2 z1 s1
             ZUNIONSTORE dst 2 s1 z1 AGGREGATE MAX
             ZRANGE dst 0 -1 WITHSCORES",
        );
    }
    // Summation order: sources are combined smallest first, so float results must match.
    run(
        &mut d,
        "ZADD f1 0.1 m 1 p 2 q
         ZADD f2 0.2 m
         ZADD f3 0.3 m 5 r
         ZUNION 3 f1 f2 f3 WITHSCORES
         ZUNION 3 f3 f2 f1 WITHSCORES
         ZINTER 3 f1 f3 f2 WITHSCORES
         ZUNION 3 f1 f2 f3 WEIGHTS 0.7 1.3 3.1 WITHSCORES",
    );
    resp3(&mut d);
    run(
        &mut d,
        "ZUNION 2 z1 z2 WITHSCORES
         ZINTER 2 z1 z2
         ZDIFF 2 z1 z2 WITHSCORES",
    );
}

#[test]
fn set_algebra_across_shards() {
    let mut d = Diff::new();
    let k = spread_keys("src", 4);
    let dst = spread_keys("dst", 4);
    let (a, b, c, s) = (&k[0], &k[1], &k[2], &k[3]);
    for (key, pairs) in [(a, "1 x 2 y 3 z"), (b, "4 y 5 z 6 w"), (c, "7 z 8 v")] {
        let mut args = vec!["ZADD", key.as_str()];
        args.extend(pairs.split(' '));
        d.check(&args);
    }
    let sets = sets_available(&mut d);
    let s = if sets {
        d.check(&["SADD", s, "z", "y", "q"]);
        s
    } else {
        // Without the set family yet, a fourth sorted set stands in for the plain set.
        d.check(&["ZADD", s, "1", "z", "1", "y", "1", "q"]);
        s
    };
    for target in &dst {
        let t = target.as_str();
        d.check(&[
            "ZUNIONSTORE",
            t,
            "4",
            a,
            b,
            c,
            s,
            "WEIGHTS",
            "1",
            "2",
            "3",
            "4",
        ]);
        d.check(&["ZRANGE", t, "0", "-1", "WITHSCORES"]);
        d.check(&["ZINTERSTORE", t, "3", a, b, s, "AGGREGATE", "MAX"]);
        d.check(&["ZRANGE", t, "0", "-1", "WITHSCORES"]);
        d.check(&["ZDIFFSTORE", t, "2", b, c]);
        d.check(&["ZRANGE", t, "0", "-1", "WITHSCORES"]);
        d.check(&["ZINTERSTORE", t, "2", a, "nokey"]);
        d.check(&["EXISTS", t]);
        d.check(&["ZRANGESTORE", t, a, "1", "-1"]);
        d.check(&["ZRANGE", t, "0", "-1", "WITHSCORES"]);
    }
    d.check(&["ZUNION", "3", a, b, c, "WITHSCORES"]);
    d.check(&["ZINTER", "2", a, b, "WITHSCORES"]);
    d.check(&["ZDIFF", "3", a, b, c]);
    d.check(&["ZINTERCARD", "3", a, b, s]);
    d.check(&["ZMPOP", "3", "nokey", c, a, "MAX", "COUNT", "5"]);
    d.check(&["BZPOPMIN", "nokey", b, a, "0"]);
    d.check(&["BZMPOP", "0", "2", c, a, "MIN"]);
}

//! The randomized differential test's command table, part two: sets and sorted sets, with
//! LCS, BITOP, the HyperLogLog commands, BITFIELD and HRANDFIELD among them where they were
//! added (an entry's place is part of what a seed draws: see `Gen::pick`). Same invariant as
//! table.rs: every entry is deterministic on both servers given the same prior commands.

use crate::gen::{cmd, cmd_with, gen, pairs, Gen, Generator, Order::*};

pub const SETS: &[Generator] = &[
    // ---- Sets: only deterministic replies; unordered ones compared as multisets.
    gen("SADD", 4, Exact, |g| {
        let k = g.key();
        let m: Vec<String> = (0..1 + g.below(3)).map(|_| g.member()).collect();
        cmd_with(&["SADD", &k], m)
    }),
    gen("SREM", 2, Exact, |g| {
        let k = g.key();
        let m: Vec<String> = (0..1 + g.below(2)).map(|_| g.member()).collect();
        cmd_with(&["SREM", &k], m)
    }),
    gen("SCARD", 2, Exact, |g| cmd(&["SCARD", &g.key()])),
    gen("SISMEMBER", 2, Exact, |g| {
        cmd(&["SISMEMBER", &g.key(), &g.member()])
    }),
    gen("SMISMEMBER", 1, Exact, |g| {
        let k = g.key();
        let m: Vec<String> = (0..1 + g.below(3)).map(|_| g.member()).collect();
        cmd_with(&["SMISMEMBER", &k], m)
    }),
    gen("SMEMBERS", 2, Unordered, |g| cmd(&["SMEMBERS", &g.key()])),
    gen("SINTER", 1, Unordered, |g| {
        cmd_with(&["SINTER"], g.keys(1, 3))
    }),
    gen("SUNION", 1, Unordered, |g| {
        cmd_with(&["SUNION"], g.keys(1, 3))
    }),
    gen("SDIFF", 1, Unordered, |g| {
        cmd_with(&["SDIFF"], g.keys(1, 3))
    }),
    gen("SINTERSTORE", 1, Exact, |g| {
        cmd_with(&["SINTERSTORE"], g.keys(2, 4))
    }),
    gen("SUNIONSTORE", 1, Exact, |g| {
        cmd_with(&["SUNIONSTORE"], g.keys(2, 4))
    }),
    gen("SDIFFSTORE", 1, Exact, |g| {
        cmd_with(&["SDIFFSTORE"], g.keys(2, 4))
    }),
    gen("LCS", 1, Exact, |g| {
        let mut rest = g.keys(2, 2);
        for _ in 0..g.below(3) {
            let opt = g.one(&["LEN", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "idx", "BAD"]);
            rest.push(opt.clone());
            if opt == "MINMATCHLEN" {
                rest.push(g.int(-1, 3));
            }
        }
        cmd_with(&["LCS"], rest)
    }),
    gen("BITOP", 2, Exact, |g| {
        let op = g.one(&["AND", "OR", "XOR", "NOT", "xor", "not", "NAND"]);
        cmd_with(&["BITOP", &op], g.keys(2, 4))
    }),
    gen("PFADD", 2, Exact, |g| {
        let (k, n) = (g.key(), g.below(4));
        cmd_with(&["PFADD", &k], (0..n).map(|_| g.val()).collect())
    }),
    gen("PFCOUNT", 2, Exact, |g| {
        cmd_with(&["PFCOUNT"], g.keys(1, 3))
    }),
    gen("PFMERGE", 1, Exact, |g| {
        cmd_with(&["PFMERGE"], g.keys(1, 3))
    }),
    gen("BITFIELD", 2, Exact, |g| {
        let name = g.one(&["BITFIELD", "BITFIELD", "BITFIELD_RO"]);
        let mut rest = vec![g.key()];
        for _ in 0..1 + g.below(3) {
            let op = g.one(&["GET", "SET", "INCRBY", "OVERFLOW"]);
            if op == "OVERFLOW" {
                rest.extend([op, g.one(&["WRAP", "SAT", "FAIL", "BAD"])]);
                continue;
            }
            let ty = g.one(&[
                "u1", "i5", "u8", "i8", "u16", "i32", "u63", "i64", "u64", "x",
            ]);
            let off = g.one(&["0", "3", "#1", "#2", "17", "100", "-1"]);
            rest.extend([op.clone(), ty, off]);
            if op != "GET" {
                rest.push(g.one(&["1", "-1", "127", "200", "-300", "9223372036854775807"]));
            }
        }
        cmd_with(&[&name], rest)
    }),
    gen("SINTERCARD", 1, Exact, |g| {
        let mut rest = g.numkeys(1, 3);
        if g.chance(2) {
            rest.push("LIMIT".to_string());
            rest.push(g.one(&["0", "1", "2", "-1", "x"]));
        }
        cmd_with(&["SINTERCARD"], rest)
    }),
    gen("SMOVE", 1, Exact, |g| {
        cmd(&["SMOVE", &g.key(), &g.key(), &g.member()])
    }),
    // A count at least the set's size takes or returns every member: deterministic.
    gen("SPOP-all", 1, Unordered, |g| {
        cmd(&["SPOP", &g.key(), "100"])
    }),
    gen("SRANDMEMBER-all", 1, Unordered, |g| {
        cmd(&["SRANDMEMBER", &g.key(), "100"])
    }),
    // The same for hashes and sorted sets; with values or scores the flat (RESP2) or nested
    // (RESP3) reply is still compared as a multiset of its elements.
    gen("HRANDFIELD-all", 1, Unordered, |g| {
        let k = g.key();
        let o = g.one(&["", "WITHVALUES"]);
        cmd_with(
            &["HRANDFIELD", &k, "100"],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    // ---- Sorted sets.
    gen("ZADD", 4, Exact, |g| {
        let k = g.key();
        let mut rest: Vec<String> = g
            .one(&[
                "", "", "", "NX", "XX", "GT", "LT", "CH", "GT CH", "NX GT", "INCR", "XX INCR",
            ])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        rest.extend(pairs(g, 3, |g| [g.score(), g.member()]));
        cmd_with(&["ZADD", &k], rest)
    }),
    gen("ZINCRBY", 2, Exact, |g| {
        cmd(&["ZINCRBY", &g.key(), &g.score(), &g.member()])
    }),
    gen("ZSCORE", 2, Exact, |g| {
        cmd(&["ZSCORE", &g.key(), &g.member()])
    }),
    gen("ZMSCORE", 1, Exact, |g| {
        let k = g.key();
        let m: Vec<String> = (0..1 + g.below(3)).map(|_| g.member()).collect();
        cmd_with(&["ZMSCORE", &k], m)
    }),
    gen("ZCARD", 2, Exact, |g| cmd(&["ZCARD", &g.key()])),
    gen("ZCOUNT", 1, Exact, |g| {
        cmd(&["ZCOUNT", &g.key(), &g.score_bound(), &g.score_bound()])
    }),
    gen("ZLEXCOUNT", 1, Exact, |g| {
        cmd(&["ZLEXCOUNT", &g.key(), &g.lex_bound(), &g.lex_bound()])
    }),
    gen("ZRANK", 1, Exact, |g| {
        cmd(&["ZRANK", &g.key(), &g.member()])
    }),
    gen("ZREVRANK", 1, Exact, |g| {
        cmd(&["ZREVRANK", &g.key(), &g.member()])
    }),
    gen("ZRANGE", 3, Exact, |g| {
        let k = g.key();
        let mut rest = Vec::new();
        match g.below(3) {
            0 => {
                rest.extend([g.index(), g.index()]);
            }
            1 => {
                rest.extend([g.score_bound(), g.score_bound(), "BYSCORE".to_string()]);
            }
            _ => {
                rest.extend([g.lex_bound(), g.lex_bound(), "BYLEX".to_string()]);
            }
        }
        if g.chance(3) {
            rest.push("REV".to_string());
        }
        if g.chance(3) {
            rest.extend(["LIMIT".to_string(), g.int(-1, 2), g.int(-1, 3)]);
        }
        if g.chance(2) {
            rest.push("WITHSCORES".to_string());
        }
        cmd_with(&["ZRANGE", &k], rest)
    }),
    gen("ZRANGEBYSCORE", 1, Exact, |g| {
        let (k, a, b) = (g.key(), g.score_bound(), g.score_bound());
        let o = g.one(&[
            "",
            "WITHSCORES",
            "LIMIT 1 2",
            "LIMIT 0 -1 WITHSCORES",
            "LIMIT x",
        ]);
        cmd_with(
            &["ZRANGEBYSCORE", &k, &a, &b],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("ZREVRANGEBYSCORE", 1, Exact, |g| {
        cmd(&[
            "ZREVRANGEBYSCORE",
            &g.key(),
            &g.score_bound(),
            &g.score_bound(),
            "WITHSCORES",
        ])
    }),
    gen("ZRANGEBYLEX", 1, Exact, |g| {
        cmd(&["ZRANGEBYLEX", &g.key(), &g.lex_bound(), &g.lex_bound()])
    }),
    gen("ZREVRANGE", 1, Exact, |g| {
        cmd(&["ZREVRANGE", &g.key(), &g.index(), &g.index(), "WITHSCORES"])
    }),
    gen("ZREM", 2, Exact, |g| {
        let k = g.key();
        let m: Vec<String> = (0..1 + g.below(2)).map(|_| g.member()).collect();
        cmd_with(&["ZREM", &k], m)
    }),
    gen("ZREMRANGEBYRANK", 1, Exact, |g| {
        cmd(&["ZREMRANGEBYRANK", &g.key(), &g.index(), &g.index()])
    }),
    gen("ZREMRANGEBYSCORE", 1, Exact, |g| {
        cmd(&[
            "ZREMRANGEBYSCORE",
            &g.key(),
            &g.score_bound(),
            &g.score_bound(),
        ])
    }),
    gen("ZREMRANGEBYLEX", 1, Exact, |g| {
        cmd(&["ZREMRANGEBYLEX", &g.key(), &g.lex_bound(), &g.lex_bound()])
    }),
    gen("ZPOPMIN", 1, Exact, |g| {
        let k = g.key();
        let c = g.one(&["", "1", "2", "0", "-1"]);
        cmd_with(
            &["ZPOPMIN", &k],
            c.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("ZPOPMAX", 1, Exact, |g| {
        let k = g.key();
        let c = g.one(&["", "1", "3"]);
        cmd_with(
            &["ZPOPMAX", &k],
            c.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("ZRANDMEMBER-all", 1, Unordered, |g| {
        let k = g.key();
        let o = g.one(&["", "WITHSCORES"]);
        cmd_with(
            &["ZRANDMEMBER", &k, "100"],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("ZMPOP", 1, Exact, |g| {
        let mut rest = g.numkeys(1, 3);
        rest.push(g.one(&["MIN", "MAX", "NONE"]));
        if g.chance(2) {
            rest.push("COUNT".to_string());
            rest.push(g.one(&["1", "3", "0"]));
        }
        cmd_with(&["ZMPOP"], rest)
    }),
    gen("ZUNIONSTORE", 1, Exact, |g| {
        let d = g.key();
        let mut rest = g.numkeys(1, 3);
        zset_op_options(g, &mut rest);
        cmd_with(&["ZUNIONSTORE", &d], rest)
    }),
    gen("ZINTERSTORE", 1, Exact, |g| {
        let d = g.key();
        let mut rest = g.numkeys(1, 3);
        zset_op_options(g, &mut rest);
        cmd_with(&["ZINTERSTORE", &d], rest)
    }),
    gen("ZDIFFSTORE", 1, Exact, |g| {
        let d = g.key();
        cmd_with(&["ZDIFFSTORE", &d], g.numkeys(1, 3))
    }),
    gen("ZUNION/ZINTER/ZDIFF", 2, Exact, |g| {
        let c = g.one(&["ZUNION", "ZINTER", "ZDIFF"]);
        let mut rest = g.numkeys(1, 3);
        if c != "ZDIFF" {
            zset_op_options(g, &mut rest);
        }
        if g.chance(2) {
            rest.push("WITHSCORES".to_string());
        }
        cmd_with(&[&c], rest)
    }),
    gen("ZINTERCARD", 1, Exact, |g| {
        let mut rest = g.numkeys(1, 3);
        if g.chance(2) {
            rest.extend(["LIMIT".to_string(), g.one(&["0", "1", "-1"])]);
        }
        cmd_with(&["ZINTERCARD"], rest)
    }),
    gen("ZRANGESTORE", 1, Exact, |g| {
        let (d, s) = (g.key(), g.key());
        let o = g.one(&[
            "0 -1",
            "1 2",
            "-inf +inf BYSCORE",
            "(1 5 BYSCORE LIMIT 0 1",
            "[a + BYLEX",
        ]);
        cmd_with(
            &["ZRANGESTORE", &d, &s],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
];

/// Optional WEIGHTS and AGGREGATE for ZUNION[STORE]/ZINTER[STORE].
fn zset_op_options(g: &mut Gen, rest: &mut Vec<String>) {
    if g.chance(3) {
        let n: usize = rest[0].parse().unwrap_or(1);
        rest.push("WEIGHTS".to_string());
        for _ in 0..n {
            rest.push(g.one(&["1", "2", "-1", "0.5", "inf"]));
        }
    }
    if g.chance(3) {
        rest.push("AGGREGATE".to_string());
        rest.push(g.one(&["SUM", "MIN", "MAX", "AVG"]));
    }
}

//! The command table of the randomized differential test: one line per command (a few span
//! more), weights are relative frequencies. Invariant: every entry is deterministic on both
//! servers given the same prior commands — see the exclusions at the end.

use crate::gen::{cmd, cmd_with, gen, seq, Gen, Generator, Order::*};

/// Absolute expiry times in seconds, far in the future (and one in the past, which deletes), so
/// GT/LT comparisons never depend on when a command ran.
fn abs_secs(g: &mut Gen) -> String {
    g.one(&[
        "9999999999",
        "9999999000",
        "8888888888",
        "9000000000",
        "1",
        "x",
    ])
}

/// An EXPIRE-family condition. Only used with absolute times for GT/LT (see `abs_secs`);
/// relative expiries get NX/XX only, since two relative expiries of the same length compare
/// by the millisecond they were set in.
fn expire_flag(g: &mut Gen, relative: bool) -> Vec<String> {
    let flags: &[&str] = if relative {
        &["", "", "NX", "XX", "NX XX", "BOGUS"]
    } else {
        &[
            "", "", "NX", "XX", "GT", "LT", "GT LT", "NX GT", "XX LT", "BOGUS",
        ]
    };
    g.one(flags)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn pairs(g: &mut Gen, max: usize, mut pair: impl FnMut(&mut Gen) -> [String; 2]) -> Vec<String> {
    let n = 1 + g.below(max);
    (0..n).flat_map(|_| pair(g)).collect()
}

/// Small deterministic scripts: `redis.call` on declared keys, `pcall` error tables, undeclared
/// keys (luagate re-runs the script with more shards), conversions and script errors.
const SCRIPTS: &[(&str, usize)] = &[
    ("return redis.call('GET', KEYS[1])", 1),
    ("return redis.call('SET', KEYS[1], ARGV[1])", 1),
    ("return redis.call('INCR', KEYS[1])", 1),
    ("return redis.pcall('INCR', KEYS[1])", 1),
    (
        "local r = redis.pcall('LPUSH', KEYS[1], ARGV[1]) \
         if type(r) == 'table' and r.err then return 'E:' .. r.err end return r",
        1,
    ),
    ("return redis.call('MGET', KEYS[1], KEYS[2])", 2),
    (
        "redis.call('DEL', KEYS[1]) return redis.call('EXISTS', KEYS[1], KEYS[2])",
        2,
    ),
    ("return redis.call('GET', 'k3')", 0),
    (
        "redis.call('SET', 'k5', ARGV[1]) return redis.call('GET', 'k5')",
        0,
    ),
    ("return redis.call('RPUSH', 'k6', ARGV[1])", 1),
    (
        "return {redis.call('TYPE', KEYS[1]).ok, redis.call('EXISTS', KEYS[1])}",
        1,
    ),
    (
        "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
        1,
    ),
    ("return redis.call('LRANGE', KEYS[1], 0, -1)", 1),
    ("return redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[1])", 1),
    ("return redis.call('SADD', KEYS[1], ARGV[1])", 1),
    ("return redis.call('HINCRBY', KEYS[1], 'f0', 1)", 1),
    ("return redis.call('LLEN', KEYS[1])", 1),
    ("return redis.pcall('HSET', KEYS[1], 'f1', ARGV[1])", 1),
    (
        "return tonumber(redis.call('GET', KEYS[1]) or '0') * 1.5",
        1,
    ),
    ("return redis.call('SET', KEYS[1])", 1),
    ("return redis.call('NOSUCH', KEYS[1])", 1),
    ("return redis.pcall('NOSUCH')", 0),
    ("return redis.error_reply('custom')", 0),
    (
        "return {err = 'tbl ' .. tostring(redis.call('EXISTS', KEYS[1]))}",
        1,
    ),
    (
        "return redis.status_reply(redis.call('TYPE', KEYS[1]).ok)",
        1,
    ),
    ("return {1, 2, nil, redis.call('EXISTS', KEYS[1])}", 1),
    (
        "local n = redis.call('SCARD', KEYS[1]) return {n, redis.call('ZCARD', KEYS[2])}",
        2,
    ),
    (
        "local v = redis.call('INCRBYFLOAT', KEYS[1], '0.5') \
         redis.call('RENAME', KEYS[1], KEYS[2]) return v",
        2,
    ),
    (
        "redis.call('COPY', KEYS[1], 'k7', 'REPLACE') return redis.call('TYPE', 'k7')",
        1,
    ),
    ("return redis.call('EXPIRE', KEYS[1], 5000)", 1),
];

pub const GENERATORS: &[Generator] = &[
    // ---- Strings.
    gen("GET", 6, Exact, |g| cmd(&["GET", &g.key()])),
    gen("SET", 6, Exact, |g| cmd(&["SET", &g.key(), &g.val()])),
    gen("SET+opts", 4, Exact, |g| {
        let (k, v) = (g.key(), g.val());
        cmd_with(&["SET", &k, &v], g.set_options(false))
    }),
    // Repeated options and bad expiry values: Redis validates an expiry after the scan (so
    // `EX 1 EX 2` is a syntax error, `EX -5 EXAT 1` too).
    gen("SET+bad-opts", 4, Exact, |g| {
        let (k, v) = (g.key(), g.val());
        cmd_with(&["SET", &k, &v], g.set_options(true))
    }),
    gen("SETNX", 2, Exact, |g| cmd(&["SETNX", &g.key(), &g.val()])),
    gen("SETEX", 1, Exact, |g| {
        let s = g.one(&["1000", "0", "-1", "x"]);
        cmd(&["SETEX", &g.key(), &s, &g.val()])
    }),
    gen("PSETEX", 1, Exact, |g| {
        let s = g.one(&["1000000", "0", "x"]);
        cmd(&["PSETEX", &g.key(), &s, &g.val()])
    }),
    gen("GETSET", 2, Exact, |g| cmd(&["GETSET", &g.key(), &g.val()])),
    gen("GETDEL", 2, Exact, |g| cmd(&["GETDEL", &g.key()])),
    gen("GETEX", 2, Exact, |g| {
        let k = g.key();
        let o = g.one(&[
            "",
            "PERSIST",
            "EX 1000",
            "PX 1000000",
            "EXAT 9999999999",
            "PXAT 9999999999000",
            "EX 0",
            "EX x",
            "EX",
            "PERSIST EX 10",
            "BOGUS",
        ]);
        cmd_with(
            &["GETEX", &k],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("APPEND", 3, Exact, |g| cmd(&["APPEND", &g.key(), &g.val()])),
    gen("STRLEN", 2, Exact, |g| cmd(&["STRLEN", &g.key()])),
    gen("INCR", 3, Exact, |g| cmd(&["INCR", &g.key()])),
    gen("DECR", 2, Exact, |g| cmd(&["DECR", &g.key()])),
    gen("INCRBY", 3, Exact, |g| cmd(&["INCRBY", &g.key(), &g.num()])),
    gen("DECRBY", 2, Exact, |g| cmd(&["DECRBY", &g.key(), &g.num()])),
    gen("INCRBYFLOAT", 3, Exact, |g| {
        cmd(&["INCRBYFLOAT", &g.key(), &g.float()])
    }),
    gen("SETRANGE", 2, Exact, |g| {
        let off = g.one(&["0", "1", "3", "10", "64", "-1", "x"]);
        cmd(&["SETRANGE", &g.key(), &off, &g.val()])
    }),
    gen("GETRANGE", 2, Exact, |g| {
        cmd(&["GETRANGE", &g.key(), &g.index(), &g.index()])
    }),
    gen("SUBSTR", 1, Exact, |g| {
        cmd(&["SUBSTR", &g.key(), &g.index(), &g.index()])
    }),
    gen("SETBIT", 2, Exact, |g| {
        let off = g.one(&[
            "0",
            "1",
            "7",
            "8",
            "15",
            "33",
            "100",
            "-1",
            "4294967296",
            "x",
        ]);
        let bit = g.one(&["0", "1", "1", "2"]);
        cmd(&["SETBIT", &g.key(), &off, &bit])
    }),
    gen("GETBIT", 2, Exact, |g| {
        let off = g.one(&["0", "1", "7", "8", "33", "100000", "-1"]);
        cmd(&["GETBIT", &g.key(), &off])
    }),
    gen("BITCOUNT", 2, Exact, |g| {
        let k = g.key();
        let mut rest = Vec::new();
        if !g.chance(3) {
            rest.push(g.index());
            rest.push(g.index());
            if g.chance(2) {
                rest.push(g.one(&["BYTE", "BIT", "bit", "WORD"]));
            }
        }
        cmd_with(&["BITCOUNT", &k], rest)
    }),
    gen("BITPOS", 2, Exact, |g| {
        let k = g.key();
        let mut rest = vec![g.one(&["0", "1", "1", "2"])];
        for _ in 0..g.below(3) {
            rest.push(g.index());
        }
        if rest.len() == 3 && g.chance(2) {
            rest.push(g.one(&["BYTE", "BIT", "x"]));
        }
        cmd_with(&["BITPOS", &k], rest)
    }),
    gen("MSET", 2, Exact, |g| {
        cmd_with(&["MSET"], pairs(g, 3, |g| [g.key(), g.val()]))
    }),
    gen("MSETNX", 2, Exact, |g| {
        cmd_with(&["MSETNX"], pairs(g, 3, |g| [g.key(), g.val()]))
    }),
    gen("MGET", 3, Exact, |g| cmd_with(&["MGET"], g.keys(1, 4))),
    // ---- Generic keys.
    gen("DEL", 3, Exact, |g| cmd_with(&["DEL"], g.keys(1, 4))),
    gen("UNLINK", 1, Exact, |g| cmd_with(&["UNLINK"], g.keys(1, 3))),
    gen("EXISTS", 3, Exact, |g| cmd_with(&["EXISTS"], g.keys(1, 4))),
    gen("TOUCH", 1, Exact, |g| cmd_with(&["TOUCH"], g.keys(1, 3))),
    gen("TYPE", 3, Exact, |g| cmd(&["TYPE", &g.key()])),
    gen("DBSIZE", 1, Exact, |_| cmd(&["DBSIZE"])),
    gen("KEYS", 1, Unordered, |g| {
        cmd(&[
            "KEYS",
            &g.one(&["*", "k*", "{t}*", "k[0-3]", "?1", "*a*", "nomatch"]),
        ])
    }),
    gen("EXPIRE", 2, Exact, |g| {
        let (k, s) = (g.key(), g.one(&["1000", "5000", "0", "-1", "x"]));
        cmd_with(&["EXPIRE", &k, &s], expire_flag(g, true))
    }),
    gen("PEXPIRE", 1, Exact, |g| {
        let (k, s) = (g.key(), g.one(&["3000000", "7000000", "x"]));
        cmd_with(&["PEXPIRE", &k, &s], expire_flag(g, true))
    }),
    gen("EXPIREAT", 3, Exact, |g| {
        let (k, t) = (g.key(), abs_secs(g));
        cmd_with(&["EXPIREAT", &k, &t], expire_flag(g, false))
    }),
    gen("PEXPIREAT", 2, Exact, |g| {
        let k = g.key();
        let t = abs_secs(g);
        let t = if t == "x" { t } else { format!("{t}123") };
        cmd_with(&["PEXPIREAT", &k, &t], expire_flag(g, false))
    }),
    gen("PERSIST", 2, Exact, |g| cmd(&["PERSIST", &g.key()])),
    gen("EXPIRETIME", 2, Close(2), |g| {
        cmd(&["EXPIRETIME", &g.key()])
    }),
    gen("PEXPIRETIME", 1, Close(2000), |g| {
        cmd(&["PEXPIRETIME", &g.key()])
    }),
    gen("TTL", 1, Close(2), |g| cmd(&["TTL", &g.key()])),
    gen("PTTL", 1, Close(2000), |g| cmd(&["PTTL", &g.key()])),
    gen("RENAME", 2, Exact, |g| cmd(&["RENAME", &g.key(), &g.key()])),
    gen("RENAMENX", 1, Exact, |g| {
        cmd(&["RENAMENX", &g.key(), &g.key()])
    }),
    gen("COPY", 2, Exact, |g| {
        let (s, d) = (g.key(), g.key());
        let o = g.one(&[
            "",
            "",
            "REPLACE",
            "DB 1",
            "DB 1 REPLACE",
            "DB 0",
            "DB x",
            "BOGUS",
        ]);
        cmd_with(
            &["COPY", &s, &d],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("MOVE", 1, Exact, |g| cmd(&["MOVE", &g.key(), &g.db()])),
    gen("SWAPDB", 1, Exact, |g| cmd(&["SWAPDB", &g.db(), &g.db()])),
    gen("FLUSHDB", 1, Exact, |_| cmd(&["FLUSHDB"])),
    // ---- Hashes.
    gen("HSET", 4, Exact, |g| {
        let k = g.key();
        cmd_with(&["HSET", &k], pairs(g, 3, |g| [g.field(), g.val()]))
    }),
    gen("HMSET", 1, Exact, |g| {
        let k = g.key();
        cmd_with(&["HMSET", &k], pairs(g, 2, |g| [g.field(), g.val()]))
    }),
    gen("HSETNX", 1, Exact, |g| {
        cmd(&["HSETNX", &g.key(), &g.field(), &g.val()])
    }),
    gen("HGET", 3, Exact, |g| cmd(&["HGET", &g.key(), &g.field()])),
    gen("HMGET", 2, Exact, |g| {
        let k = g.key();
        let f: Vec<String> = (0..1 + g.below(3)).map(|_| g.field()).collect();
        cmd_with(&["HMGET", &k], f)
    }),
    gen("HDEL", 2, Exact, |g| {
        let k = g.key();
        let f: Vec<String> = (0..1 + g.below(3)).map(|_| g.field()).collect();
        cmd_with(&["HDEL", &k], f)
    }),
    gen("HLEN", 1, Exact, |g| cmd(&["HLEN", &g.key()])),
    gen("HSTRLEN", 1, Exact, |g| {
        cmd(&["HSTRLEN", &g.key(), &g.field()])
    }),
    gen("HEXISTS", 1, Exact, |g| {
        cmd(&["HEXISTS", &g.key(), &g.field()])
    }),
    gen("HINCRBY", 2, Exact, |g| {
        cmd(&["HINCRBY", &g.key(), &g.field(), &g.num()])
    }),
    gen("HINCRBYFLOAT", 2, Exact, |g| {
        cmd(&["HINCRBYFLOAT", &g.key(), &g.field(), &g.float()])
    }),
    gen("HKEYS", 1, Unordered, |g| cmd(&["HKEYS", &g.key()])),
    gen("HVALS", 1, Unordered, |g| cmd(&["HVALS", &g.key()])),
    gen("HGETALL", 2, UnorderedPairs, |g| {
        cmd(&["HGETALL", &g.key()])
    }),
    // ---- Lists (non-blocking).
    gen("LPUSH", 3, Exact, |g| {
        let k = g.key();
        let e: Vec<String> = (0..1 + g.below(3)).map(|_| g.elem()).collect();
        cmd_with(&["LPUSH", &k], e)
    }),
    gen("RPUSH", 3, Exact, |g| {
        let k = g.key();
        let e: Vec<String> = (0..1 + g.below(3)).map(|_| g.elem()).collect();
        cmd_with(&["RPUSH", &k], e)
    }),
    gen("LPUSHX", 1, Exact, |g| {
        cmd(&["LPUSHX", &g.key(), &g.elem()])
    }),
    gen("RPUSHX", 1, Exact, |g| {
        cmd(&["RPUSHX", &g.key(), &g.elem()])
    }),
    gen("LPOP", 2, Exact, |g| {
        let k = g.key();
        let c = g.one(&["", "", "0", "1", "2", "10", "-1", "x"]);
        cmd_with(
            &["LPOP", &k],
            c.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("RPOP", 2, Exact, |g| {
        let k = g.key();
        let c = g.one(&["", "", "0", "2", "-1"]);
        cmd_with(
            &["RPOP", &k],
            c.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("LLEN", 2, Exact, |g| cmd(&["LLEN", &g.key()])),
    gen("LRANGE", 3, Exact, |g| {
        cmd(&["LRANGE", &g.key(), &g.index(), &g.index()])
    }),
    gen("LINDEX", 2, Exact, |g| {
        cmd(&["LINDEX", &g.key(), &g.index()])
    }),
    gen("LSET", 1, Exact, |g| {
        cmd(&["LSET", &g.key(), &g.index(), &g.elem()])
    }),
    gen("LINSERT", 1, Exact, |g| {
        let w = g.one(&["BEFORE", "AFTER", "after", "MIDDLE"]);
        cmd(&["LINSERT", &g.key(), &w, &g.elem(), &g.elem()])
    }),
    gen("LREM", 1, Exact, |g| {
        let c = g.one(&["0", "1", "-1", "2", "x"]);
        cmd(&["LREM", &g.key(), &c, &g.elem()])
    }),
    gen("LTRIM", 1, Exact, |g| {
        cmd(&["LTRIM", &g.key(), &g.index(), &g.index()])
    }),
    gen("LPOS", 2, Exact, |g| {
        let (k, e) = (g.key(), g.elem());
        let o = g.one(&[
            "",
            "RANK 1",
            "RANK -1",
            "RANK 2",
            "RANK 0",
            "COUNT 0",
            "COUNT 2",
            "MAXLEN 2",
            "RANK -2 COUNT 0",
            "COUNT -1",
            "BOGUS",
        ]);
        cmd_with(
            &["LPOS", &k, &e],
            o.split_whitespace().map(str::to_string).collect(),
        )
    }),
    gen("LMOVE", 2, Exact, |g| {
        let (s, d) = (g.key(), g.key());
        let (a, b) = (g.one(&["LEFT", "RIGHT", "UP"]), g.one(&["LEFT", "RIGHT"]));
        cmd(&["LMOVE", &s, &d, &a, &b])
    }),
    gen("RPOPLPUSH", 1, Exact, |g| {
        cmd(&["RPOPLPUSH", &g.key(), &g.key()])
    }),
    gen("LMPOP", 1, Exact, |g| {
        let mut rest = g.numkeys(1, 3);
        rest.push(g.one(&["LEFT", "RIGHT", "NONE"]));
        if g.chance(2) {
            rest.push("COUNT".to_string());
            rest.push(g.one(&["1", "3", "0", "x"]));
        }
        cmd_with(&["LMPOP"], rest)
    }),
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
    // ---- Transactions. Sequences: their commands' replies (QUEUED, EXEC's array) are exact.
    seq("MULTI..EXEC", 3, |g| {
        let mut out = vec![cmd(&["MULTI"])];
        for _ in 0..g.below(5) {
            out.push(if g.chance(15) {
                cmd(&["MULTI"])
            } else {
                g.plain_command()
            });
        }
        out.push(cmd(&[if g.chance(5) { "DISCARD" } else { "EXEC" }]));
        out
    }),
    // WATCH, then commands on the same connection (which may touch the watched keys and so
    // abort the transaction), then a transaction.
    seq("WATCH..EXEC", 2, |g| {
        let mut out = vec![cmd_with(&["WATCH"], g.keys(1, 2))];
        for _ in 0..g.below(3) {
            out.push(g.plain_command());
        }
        if g.chance(6) {
            out.push(cmd(&["UNWATCH"]));
        }
        out.push(cmd(&["MULTI"]));
        for _ in 0..1 + g.below(3) {
            out.push(g.plain_command());
        }
        out.push(cmd(&["EXEC"]));
        out
    }),
    gen("EXEC/DISCARD/UNWATCH", 1, Exact, |g| {
        cmd(&[&g.one(&["EXEC", "DISCARD", "UNWATCH"])])
    }),
    gen("WATCH", 1, Exact, |g| cmd_with(&["WATCH"], g.keys(1, 2))),
    // ---- Scripts.
    gen("EVAL", 5, Exact, |g| {
        let (body, n) = SCRIPTS[g.below(SCRIPTS.len())];
        let mut rest = vec![n.to_string()];
        rest.extend(g.keys(n, n));
        rest.push(g.val());
        cmd_with(&["EVAL", body], rest)
    }),
    gen("EVAL-bad-numkeys", 1, Exact, |g| {
        let n = g.one(&["3", "-1", "x"]);
        cmd(&["EVAL", "return 1", &n, &g.key()])
    }),
    // ---- Connection.
    gen("PING", 1, Exact, |g| {
        if g.chance(2) {
            cmd(&["PING"])
        } else {
            cmd(&["PING", &g.val()])
        }
    }),
    gen("ECHO", 1, Exact, |g| cmd(&["ECHO", &g.val()])),
    gen("SELECT", 1, Exact, |g| {
        cmd(&[
            "SELECT",
            &g.one(&["0", "0", "0", "1", "15", "16", "-1", "x", "2147483648"]),
        ])
    }),
    // Switches both connections between RESP2 and RESP3: every later reply is compared in the
    // chosen protocol. HELLO's own reply names the server, so only its shape is compared.
    gen("HELLO", 1, Kind, |g| {
        cmd(&["HELLO", &g.one(&["2", "3", "3"])])
    }),
    // Errors the dispatcher owns: wrong arity and unknown commands.
    gen("arity", 1, Exact, |g| {
        let c = g.one(&[
            "GET", "SET", "DEL", "EXISTS", "ECHO", "DBSIZE", "HSET", "ZADD", "LPOS", "PING",
        ]);
        match c.as_str() {
            "SET" | "HSET" | "ZADD" | "LPOS" => cmd(&[&c, &g.key()]),
            // PING's arity admits any number; it refuses more than one argument itself.
            "ECHO" | "DBSIZE" | "PING" => cmd(&[&c, &g.key(), &g.key()]),
            _ => cmd(&[&c]),
        }
    }),
    gen("unknown", 1, Exact, |g| {
        cmd(&["NOSUCHCMD", &g.key(), &g.val()])
    }),
    // Not generated, on purpose:
    // - SCAN/HSCAN/SSCAN/ZSCAN: cursors are implementation-specific (luagate's span shards).
    // - RANDOMKEY, HRANDFIELD/ZRANDMEMBER/SPOP/SRANDMEMBER with a small count: random replies.
    // - OBJECT ENCODING/FREQ/IDLETIME, MEMORY USAGE, DEBUG: encodings and sizes are an accepted
    //   deviation (e.g. after a collection shrinks).
    // - EXPIRE/PEXPIRE with GT/LT: relative expiries of equal length compare by the millisecond
    //   each was set in (see `expire_flag`).
    // - DUMP/RESTORE, OBJECT: not implemented by luagate. GEO, SORT and streams are in
    //   table_more.rs.
    // - Blocking commands: they would wait on an empty key.
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

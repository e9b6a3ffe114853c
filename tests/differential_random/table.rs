//! The command table of the randomized differential test, part one: strings, generic keys,
//! hashes and lists. One line per command (a few span more); weights are relative
//! frequencies. The other families are in table_sets.rs (sets and sorted sets),
//! table_session.rs (transactions, scripts, connection) and table_more.rs (GEO, SORT,
//! streams); `Gen::pick` walks the tables in that order. Invariant: every entry is
//! deterministic on both servers given the same prior commands — see the exclusions at the
//! end.

use crate::gen::{cmd, cmd_with, gen, pairs, Gen, Generator, Order::*};

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
    // Not generated, on purpose (in any of the tables):
    // - SCAN/HSCAN/SSCAN/ZSCAN: cursors are implementation-specific (luagate's span shards).
    // - RANDOMKEY, HRANDFIELD/ZRANDMEMBER/SPOP/SRANDMEMBER with a small count: random replies.
    // - OBJECT ENCODING/FREQ/IDLETIME, MEMORY USAGE, DEBUG: encodings and sizes are an accepted
    //   deviation (e.g. after a collection shrinks).
    // - EXPIRE/PEXPIRE with GT/LT: relative expiries of equal length compare by the millisecond
    //   each was set in (see `expire_flag`).
    // - DUMP/RESTORE, OBJECT: not implemented by luagate.
    // - Blocking commands: they would wait on an empty key.
];

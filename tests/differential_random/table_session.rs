//! The randomized differential test's command table, part three: transactions, scripts and
//! connection commands (PING, ECHO, SELECT, HELLO), and the dispatcher's own errors. Same
//! invariant as table.rs: every entry is deterministic on both servers given the same prior
//! commands.

use crate::gen::{cmd, cmd_with, gen, seq, Generator, Order::*};

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

pub const SESSION: &[Generator] = &[
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
];

//! MIGRATE: the same moves from luagate (4 shards, keys spread over them) and from a
//! reference redis-server, each into a fresh reference redis-server; the replies and what the
//! source and the target hold afterwards must match.
mod common;

use common::{redis_reference, Proc, Raw};

/// Sends a command and notes it with its reply.
fn say(log: &mut Vec<String>, r: &mut Raw, args: &[&str]) {
    let reply = r.cmd_str(args);
    log.push(format!("{args:?} -> {reply}"));
}

/// What a server holds for `keys` in the selected database: type, value and whether it has
/// a TTL (its exact value moves with time).
fn contents(log: &mut Vec<String>, r: &mut Raw, who: &str, keys: &[&str]) {
    for k in keys {
        let t = r.cmd_str(&["TYPE", k]);
        let v = match t.as_str() {
            "+string\r\n" => r.cmd_str(&["GET", k]),
            "+list\r\n" => r.cmd_str(&["LRANGE", k, "0", "-1"]),
            "+zset\r\n" => r.cmd_str(&["ZRANGE", k, "0", "-1", "WITHSCORES"]),
            "+hash\r\n" => r.cmd_str(&["HGETALL", k]),
            _ => String::new(),
        };
        let ttl = r.cmd_str(&["PTTL", k]);
        let ttl = if ttl.starts_with(":-") {
            ttl
        } else {
            "ttl".into()
        };
        log.push(format!("{who} {k}: {t} {v} {ttl}"));
    }
}

fn scenario(source: &Proc) -> Vec<String> {
    let target = redis_reference(&[]);
    let open = redis_reference(&[]);
    let mut log = Vec::new();
    let (mut s, mut t) = (source.raw(), target.raw());
    t.cmd(&["CONFIG", "SET", "requirepass", "pw"]);
    let tp = target.port.to_string();
    let op = open.port.to_string();
    let keys = ["a", "b", "l", "z", "h", "gone"];
    say(&mut log, &mut s, &["SET", "a", "1"]);
    say(&mut log, &mut s, &["SET", "b", "2", "PX", "100000"]);
    say(&mut log, &mut s, &["RPUSH", "l", "x", "y", "z"]);
    say(&mut log, &mut s, &["ZADD", "z", "1.5", "m", "2", "n"]);
    say(&mut log, &mut s, &["HSET", "h", "f", "v"]);
    for args in [
        // Errors before anything is sent.
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "BOGUS"][..],
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "AUTH"],
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "AUTH2", "u"],
        &["MIGRATE", "127.0.0.1", &tp, "a", "x", "1000"],
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "x"],
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "KEYS", "b"],
        &["MIGRATE", "127.0.0.1", &tp, "nosuch", "0", "1000"],
        &["MIGRATE", "127.0.0.1", &tp, "", "0", "1000", "KEYS"],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "1000",
            "KEYS",
            "nosuch",
            "gone",
        ],
        // The target refuses: no password, a wrong one, a database it lacks.
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000"],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "a",
            "0",
            "1000",
            "AUTH",
            "nope",
        ],
        &["MIGRATE", "127.0.0.1", &tp, "a", "16", "1000", "AUTH", "pw"],
        // Unreachable targets.
        &["MIGRATE", "127.0.0.1", "1", "a", "0", "1000"],
        &["MIGRATE", "no-such-host.invalid", &tp, "a", "0", "1000"],
        // Moves: one key, a copy, a copy onto an existing key, with and without REPLACE.
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "AUTH", "pw"],
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "1000", "AUTH", "pw"],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "b",
            "0",
            "0",
            "COPY",
            "AUTH2",
            "default",
            "pw",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "b",
            "0",
            "1000",
            "COPY",
            "AUTH",
            "pw",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "b",
            "0",
            "1000",
            "COPY",
            "REPLACE",
            "AUTH",
            "pw",
        ],
        // Several keys (on several shards here) into database 3; one already there.
        &[
            "MIGRATE",
            "127.0.0.1",
            &op,
            "",
            "3",
            "1000",
            "KEYS",
            "l",
            "z",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "1000",
            "AUTH",
            "pw",
            "KEYS",
            "h",
            "b",
            "l",
        ],
    ] {
        say(&mut log, &mut s, args);
    }
    contents(&mut log, &mut s, "source", &keys);
    contents(&mut log, &mut t, "target", &keys);
    let mut o = open.raw();
    o.cmd(&["SELECT", "3"]);
    contents(&mut log, &mut o, "open db3", &keys);
    log.iter()
        .map(|l| l.replace(&tp, "<T>").replace(&op, "<O>"))
        .collect()
}

#[test]
fn migrate_matches_redis() {
    common::on_both(scenario);
}

/// The keys MIGRATE names, for routing and COMMAND GETKEYS, as Redis finds them.
#[test]
fn migrate_keys_match_redis() {
    let mut d = common::Diff::new();
    d.check_all(&[
        &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "10"],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "KEYS", "a", "b",
        ],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "COPY", "AUTH", "keys",
            "KEYS", "a",
        ],
    ]);
}

//! Randomized differential test: seeded, reproducible sequences of commands run against luagate
//! (4 shards, so keys and multi-key commands cross shards) and a reference redis-server; every
//! reply must match byte for byte. The same sequences also run through a leader with the
//! append-only log and a chain of followers, whose data must end the same.
//!
//! How it works: a [`Gen`] (a tiny PRNG with helpers) draws commands from weighted command
//! tables, one per family of commands. Keys come from a small key space so commands collide
//! on the same keys and types: eight plain keys spread over the shards and three sharing a
//! hash tag (same slot). Commands go out in pipelines of 1–8, the same bytes to both
//! servers; replies are read and compared in order. On a mismatch the test panics with the
//! seed, the step, the command, both replies and the commands that led there.
//!
//! Adding a command is one line in its family's table (tests/differential_random/): strings,
//! keys, hashes and lists in table.rs ([`table::GENERATORS`]); sets and sorted sets in
//! table_sets.rs; transactions, scripts and connection commands in table_session.rs; GEO,
//! SORT and streams in table_more.rs:
//! ```text
//! gen("LPUSH", 3, Exact, |g| cmd(&["LPUSH", &g.key(), &g.val()])),
//! gen("SMEMBERS", 2, Unordered, |g| cmd(&["SMEMBERS", &g.key()])),
//! seq("MULTI..EXEC", 3, |g| vec![cmd(&["MULTI"]), g.plain_command(), cmd(&["EXEC"])]),
//! ```
//! Compare modes ([`Order`]): `Exact` bytes; `Unordered` arrays/sets as multisets (SMEMBERS,
//! KEYS); `UnorderedPairs` field/value pairs as multisets (HGETALL, RESP3 maps); `Close(n)`
//! integers within n (TTL, EXPIRETIME after a relative expiry); `Kind` the reply type only
//! (HELLO). A `seq` entry sends several commands, all compared exactly.
//! Stay deterministic: no short expiries (the servers' clocks differ by the pipeline's
//! latency), no commands whose replies are random (RANDOMKEY, SPOP with a small count), and no
//! server-specific replies (INFO, CLIENT ID). The exclusions are listed at table.rs's end.
//! At the end, every key's type, value and expiry must agree in every database used.
//!
//! Reproduce or explore: `LUAGATE_DIFF_SEED=1234 LUAGATE_DIFF_STEPS=20000 cargo test --test
//! differential_random` runs one chosen seed; without it, the fixed seeds in [`SEEDS`] run.
//! `LUAGATE_DIFF_LOG=/tmp/cmds.resp` also writes the raw commands sent, to replay by hand.
mod common;
#[path = "differential_random/gen.rs"]
mod gen;
#[path = "differential_random/table.rs"]
mod table;
#[path = "differential_random/table_more.rs"]
mod table_more;
#[path = "differential_random/table_session.rs"]
mod table_session;
#[path = "differential_random/table_sets.rs"]
mod table_sets;

use common::{array_items, encode_cmd, reply_len, Diff};
use gen::{Gen, Generator, Order, KEYS};

/// Seeds run by default: fixed, so CI is reproducible.
const SEEDS: &[u64] = &[1, 2, 3, 0x5eed_cafe, 7, 11];
/// Commands per seed by default.
const STEPS: usize = 8000;
/// Commands kept for the failure report.
const HISTORY: usize = 16;

fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An aggregate reply's elements (a map's keys and values alternate), if it is one.
fn items(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    if reply.first() != Some(&b'%') {
        return array_items(reply);
    }
    let line_end = reply.windows(2).position(|w| w == b"\r\n")?;
    let n: usize = std::str::from_utf8(&reply[1..line_end])
        .ok()?
        .parse()
        .ok()?;
    let mut pos = line_end + 2;
    let mut out = Vec::new();
    for _ in 0..2 * n {
        let l = reply_len(&reply[pos..])?;
        out.push(reply[pos..pos + l].to_vec());
        pos += l;
    }
    Some(out)
}

fn int_reply(r: &[u8]) -> Option<i64> {
    std::str::from_utf8(r.strip_prefix(b":")?.strip_suffix(b"\r\n")?)
        .ok()?
        .parse()
        .ok()
}

fn same(order: Order, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    if a.first() != b.first() {
        return false;
    }
    match order {
        Order::Exact => false,
        Order::Kind => a.first() != Some(&b'-'),
        Order::Close(tol) => match (int_reply(a), int_reply(b)) {
            (Some(x), Some(y)) => x >= 0 && y >= 0 && (x - y).abs() <= tol,
            _ => false,
        },
        Order::Unordered => match (items(a), items(b)) {
            (Some(mut x), Some(mut y)) => {
                x.sort();
                y.sort();
                x == y
            }
            _ => false,
        },
        Order::UnorderedPairs => match (items(a), items(b)) {
            (Some(x), Some(y)) => {
                let pairs = |v: Vec<Vec<u8>>| {
                    let mut p: Vec<Vec<u8>> = v.chunks(2).map(|c| c.concat()).collect();
                    p.sort();
                    p
                };
                x.len() == y.len() && pairs(x) == pairs(y)
            }
            _ => false,
        },
    }
}

/// Sends `args` to both servers; panics with `context` if the replies differ under `order`.
fn check(d: &mut Diff, order: Order, args: &[&str], context: &str) {
    let (x, y) = d.both(args);
    assert!(
        same(order, &x, &y),
        "end state differs on {args:?} ({context})\n  luagate: {:?}\n  redis:   {:?}",
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y),
    );
}

/// Runs `steps` generated entries with `seed` on a fresh pair of servers.
fn run_seed(seed: u64, steps: usize, log: Option<&std::ffi::OsStr>) {
    let mut d = Diff::new();
    let mut g = Gen::new(seed);
    let mut history: Vec<String> = Vec::new();
    let mut step = 0;
    let mut log = log.map(|p| std::fs::File::create(p).expect("creating the command log"));
    while step < steps {
        let batch = (1 + g.below(8)).min(steps - step);
        let mut cmds: Vec<(&'static Generator, Order, Vec<Vec<u8>>)> = Vec::new();
        for _ in 0..batch {
            let gen = g.pick();
            for (order, args) in gen.commands(&mut g) {
                cmds.push((gen, order, args));
            }
        }
        let mut bytes = Vec::new();
        for (_, _, args) in &cmds {
            let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
            bytes.extend(encode_cmd(&a));
        }
        if let Some(log) = log.as_mut() {
            use std::io::Write;
            let _ = log.write_all(&bytes);
        }
        d.a.send(&bytes);
        d.b.send(&bytes);
        for (gen, order, args) in &cmds {
            let lg = d.a.read_reply();
            let rs = d.b.read_reply();
            history.push(show(args));
            if history.len() > HISTORY {
                history.remove(0);
            }
            let ok = match (&lg, &rs) {
                (Some(x), Some(y)) => same(*order, x, y),
                _ => false,
            };
            if !ok {
                panic!(
                    "differential mismatch: seed {seed} entry {step}.. (generator {})\n  \
                     command: {}\n  luagate: {:?}\n  redis:   {:?}\n  last commands (oldest \
                     first):\n    {}\nreproduce: LUAGATE_DIFF_SEED={seed} \
                     LUAGATE_DIFF_STEPS={} cargo test --test differential_random",
                    gen.name,
                    show(args),
                    lg.as_deref().map(String::from_utf8_lossy),
                    rs.as_deref().map(String::from_utf8_lossy),
                    history.join("\n    "),
                    step + batch,
                );
            }
        }
        step += batch;
    }
    // The end states agree too, key by key and value by value, in every database the sequence
    // could select (in RESP2: a HELLO 3 may still be in force).
    d.both(&["HELLO", "2"]);
    for db in ["0", "1", "15"] {
        d.check(&["SELECT", db]);
        d.check(&["DBSIZE"]);
        for k in KEYS {
            let ctx = format!("seed {seed}, db {db}");
            let t = d.check(&["TYPE", k]);
            let read: &[&str] = match t.as_slice() {
                b"+string\r\n" => &["GET", k],
                b"+list\r\n" => &["LRANGE", k, "0", "-1"],
                b"+hash\r\n" => &["HGETALL", k],
                b"+set\r\n" => &["SMEMBERS", k],
                b"+zset\r\n" => &["ZRANGE", k, "0", "-1", "WITHSCORES"],
                _ => continue,
            };
            let order = match read[0] {
                "HGETALL" => Order::UnorderedPairs,
                "SMEMBERS" => Order::Unordered,
                _ => Order::Exact,
            };
            check(&mut d, order, read, &ctx);
            check(&mut d, Order::Close(2), &["EXPIRETIME", k], &ctx);
        }
    }
}

/// Reads a numeric knob and removes it from the environment: luagate reads every `LUAGATE_*`
/// variable as a configuration option and refuses to start on an unknown one.
fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok();
    std::env::remove_var(name);
    let v = v?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
fn random_sequences_match_redis() {
    // LUAGATE_DIFF_LOG=path writes the raw commands sent, for replaying by hand. Not a luagate
    // option: keep it out of the servers' environment.
    let log = std::env::var_os("LUAGATE_DIFF_LOG");
    std::env::remove_var("LUAGATE_DIFF_LOG");
    let steps = env_num("LUAGATE_DIFF_STEPS").map_or(STEPS, |n| n as usize);
    let seeds: Vec<u64> = match env_num("LUAGATE_DIFF_SEED") {
        Some(s) => vec![s],
        None => SEEDS.to_vec(),
    };
    for seed in seeds {
        eprintln!("differential_random: seed {seed}, {steps} steps");
        run_seed(seed, steps, log.as_deref());
    }
}

/// The same kind of sequences through the effect stream, with no reference server: a leader
/// with the append-only log, its follower and a follower of that follower (chained) end with
/// the same data, and so does the leader restarted from its log after kill -9.
#[test]
fn random_sequences_survive_the_log_and_the_followers() {
    let dir = common::scratch_dir("diff-log");
    let d = dir.to_str().expect("utf-8 path");
    let leader = |extra: &[&str]| {
        let mut args = vec!["--shards", "4", "--enable-debug-command", "yes"];
        args.extend(["--appendonly", "yes", "--appendfsync", "always", "--dir", d]);
        args.extend(extra);
        common::luagate(&args)
    };
    let follower = |of: &common::Proc, shards: &str| {
        common::luagate(&[
            "--shards",
            shards,
            "--enable-debug-command",
            "yes",
            "--replicaof",
            &of.addr(),
        ])
    };
    let mut a = leader(&[]);
    let b = follower(&a, "2");
    let c = follower(&b, "1");
    let mut w = a.raw();
    for seed in [5u64, 0xfeed] {
        let mut g = Gen::new(seed);
        for _ in 0..1500 {
            let mut bytes = Vec::new();
            let mut n = 0;
            for _ in 0..1 + g.below(8) {
                for (_, args) in g.pick().commands(&mut g) {
                    let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
                    bytes.extend(encode_cmd(&a));
                    n += 1;
                }
            }
            w.send(&bytes);
            for _ in 0..n {
                assert!(w.read_reply().is_some(), "seed {seed}: the leader hung up");
            }
        }
    }
    let (mut ra, mut rb, mut rc) = (a.raw(), b.raw(), c.raw());
    common::wait_synced(&mut ra, &mut rb);
    common::wait_synced(&mut rb, &mut rc);
    let want = common::digest(&mut ra);
    assert_eq!(common::digest(&mut rb), want, "the follower differs");
    assert_eq!(
        common::digest(&mut rc),
        want,
        "the chained follower differs"
    );
    drop((w, ra, rb, rc));
    a.child.kill().expect("kill -9");
    let _ = a.child.wait();
    drop(a);
    let a = leader(&[]);
    let mut ra = a.raw();
    assert_eq!(
        common::digest(&mut ra),
        want,
        "the log does not replay to the same data"
    );
    drop(ra);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generator_is_reproducible() {
    let a: Vec<u64> = {
        let mut g = Gen::new(42);
        (0..5).map(|_| g.next_u64()).collect()
    };
    let b: Vec<u64> = {
        let mut g = Gen::new(42);
        (0..5).map(|_| g.next_u64()).collect()
    };
    assert_eq!(a, b);
    // Pinned values: a change here would silently change what every seed means.
    assert_eq!(Gen::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
}

//! Randomized differential test: seeded, reproducible sequences of commands run against luagate
//! (4 shards, so keys and multi-key commands cross shards) and a reference redis-server; every
//! reply must match byte for byte.
//!
//! How it works: a [`Gen`] (a tiny PRNG with helpers) draws commands from [`GENERATORS`], a
//! weighted table. Keys come from a small key space so commands collide on the same keys and
//! types: eight plain keys spread over the shards and three sharing a hash tag (same slot).
//! Commands go out in pipelines of 1–8, the same bytes to both servers; replies are read and
//! compared in order. On a mismatch the test panics with the seed, the step, the command, both
//! replies and the commands that led there.
//!
//! Adding a command family is one line per command in [`GENERATORS`]:
//! ```text
//! gen("LPUSH", 3, Exact, |g| cmd(&["LPUSH", &g.key(), &g.val()])),
//! gen("SMEMBERS", 2, Unordered, |g| cmd(&["SMEMBERS", &g.key()])),
//! ```
//! `Unordered` compares array replies as multisets (SMEMBERS, KEYS, HGETALL-as-set …).
//! Stay deterministic: no short expiries (the servers' clocks differ by the pipeline's
//! latency), no commands whose replies are random (RANDOMKEY, SPOP without a seed) unless the
//! key holds at most one candidate, and no server-specific replies (INFO, CLIENT ID).
//!
//! Reproduce or explore: `LUAGATE_DIFF_SEED=1234 LUAGATE_DIFF_STEPS=20000 cargo test --test
//! differential_random` runs one chosen seed; without it, the fixed seeds in [`SEEDS`] run.
mod common;

use common::{array_items, encode_cmd, Diff};
use Order::*;

/// Seeds run by default: fixed, so CI is reproducible.
const SEEDS: &[u64] = &[1, 2, 3, 0x5eed_cafe];
/// Commands per seed by default.
const STEPS: usize = 3000;
/// Commands kept for the failure report.
const HISTORY: usize = 12;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)] // `Unordered` waits for the first family with unordered replies (sets).
enum Order {
    /// Replies must be identical bytes.
    Exact,
    /// An array reply's elements may come in any order.
    Unordered,
}

struct Generator {
    name: &'static str,
    weight: u32,
    order: Order,
    make: fn(&mut Gen) -> Vec<Vec<u8>>,
}

const fn gen(
    name: &'static str,
    weight: u32,
    order: Order,
    make: fn(&mut Gen) -> Vec<Vec<u8>>,
) -> Generator {
    Generator {
        name,
        weight,
        order,
        make,
    }
}

fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// The command table. One line per command; weights are relative frequencies.
const GENERATORS: &[Generator] = &[
    // Strings (exemplar family).
    gen("GET", 6, Exact, |g| cmd(&["GET", &g.key()])),
    gen("SET", 6, Exact, |g| cmd(&["SET", &g.key(), &g.val()])),
    gen("SET+opts", 4, Exact, |g| {
        let mut c = cmd(&["SET", &g.key(), &g.val()]);
        c.extend(g.set_options(false).into_iter().map(String::into_bytes));
        c
    }),
    // Repeated options and bad expiry values. Weight 0 until the strings family lands: the
    // skeleton SET validates an expiry while scanning options, Redis only after the scan (so
    // `EX 1 EX 2` is allowed there, `EX PX 5` is a syntax error, `EX -5 EXAT 1` too).
    gen("SET+bad-opts", 0, Exact, |g| {
        let mut c = cmd(&["SET", &g.key(), &g.val()]);
        c.extend(g.set_options(true).into_iter().map(String::into_bytes));
        c
    }),
    // Generic keys.
    gen("DEL", 3, Exact, |g| {
        let mut c = cmd(&["DEL"]);
        c.extend(g.keys(1, 4).into_iter().map(String::into_bytes));
        c
    }),
    gen("EXISTS", 3, Exact, |g| {
        let mut c = cmd(&["EXISTS"]);
        c.extend(g.keys(1, 4).into_iter().map(String::into_bytes));
        c
    }),
    gen("DBSIZE", 1, Exact, |_| cmd(&["DBSIZE"])),
    // Connection.
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
            ["0", "0", "0", "1", "15", "16", "-1", "x"][g.below(8)],
        ])
    }),
    // Errors the dispatcher owns: wrong arity and unknown commands.
    gen("arity", 1, Exact, |g| {
        let c = ["GET", "SET", "DEL", "EXISTS", "ECHO", "DBSIZE"][g.below(6)];
        match c {
            "SET" => cmd(&[c, &g.key()]),
            "ECHO" | "DBSIZE" => cmd(&[c, &g.key(), &g.key()]),
            _ => cmd(&[c]),
        }
    }),
    gen("unknown", 1, Exact, |g| {
        cmd(&["NOSUCHCMD", &g.key(), &g.val()])
    }),
];

/// A deterministic generator: splitmix64, so a seed means the same sequence on every platform
/// and every version of every crate.
struct Gen {
    state: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True one time in `n`.
    fn chance(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A key from the small shared key space.
    fn key(&mut self) -> String {
        const KEYS: &[&str] = &[
            "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "{t}a", "{t}b", "{t}c",
        ];
        KEYS[self.below(KEYS.len())].to_string()
    }

    /// Between `min` and `max` keys (repeats allowed, as clients send them).
    fn keys(&mut self, min: usize, max: usize) -> Vec<String> {
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| self.key()).collect()
    }

    /// A value: small integers (so counters and numeric parsing get exercised), words, the
    /// empty string, binary bytes and the occasional long value.
    fn val(&mut self) -> String {
        match self.below(8) {
            0 => (self.below(21) as i64 - 10).to_string(),
            1 => String::new(),
            2 => "x".repeat(1 + self.below(100)),
            3 => "with space\r\nand crlf".to_string(),
            4 => "3.5".to_string(),
            _ => format!("v{}", self.below(1000)),
        }
    }

    /// One to three SET options, never with an expiry short enough to lapse during the test.
    /// Well-formed: each option at most once, valid expiry values (contradictory pairs such as
    /// `NX XX` still occur; both servers must answer them the same). `hostile` adds repeats,
    /// bad numbers, missing values and unknown words.
    fn set_options(&mut self, hostile: bool) -> Vec<String> {
        const GOOD: &[&[&str]] = &[
            &["NX"],
            &["XX"],
            &["GET"],
            &["KEEPTTL"],
            &["EX", "1000"],
            &["PX", "1000000"],
            &["EXAT", "9999999999"],
            &["PXAT", "9999999999000"],
        ];
        const BAD: &[&[&str]] = &[
            &["EX", "0"],
            &["EX", "-5"],
            &["PX", "notanumber"],
            &["EX"],
            &["BOGUS"],
        ];
        let n = 1 + self.below(3);
        let mut picked: Vec<&[&str]> = Vec::new();
        while picked.len() < n {
            let o = if hostile && self.chance(2) {
                BAD[self.below(BAD.len())]
            } else {
                GOOD[self.below(GOOD.len())]
            };
            if hostile || !picked.contains(&o) {
                picked.push(o);
            }
        }
        picked
            .iter()
            .flat_map(|o| o.iter().map(|s| s.to_string()))
            .collect()
    }

    fn pick(&mut self) -> &'static Generator {
        let total: u32 = GENERATORS.iter().map(|g| g.weight).sum();
        let mut r = self.below(total as usize) as u32;
        for g in GENERATORS {
            if r < g.weight {
                return g;
            }
            r -= g.weight;
        }
        &GENERATORS[0]
    }
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn same(order: Order, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (order, array_items(a), array_items(b)) {
        (Unordered, Some(mut x), Some(mut y)) => {
            x.sort();
            y.sort();
            x == y
        }
        _ => false,
    }
}

/// Runs `steps` generated commands with `seed` on a fresh pair of servers.
fn run_seed(seed: u64, steps: usize) {
    let mut d = Diff::new();
    let mut g = Gen::new(seed);
    let mut history: Vec<String> = Vec::new();
    let mut step = 0;
    while step < steps {
        let batch = (1 + g.below(8)).min(steps - step);
        let cmds: Vec<(&'static Generator, Vec<Vec<u8>>)> = (0..batch)
            .map(|_| {
                let gen = g.pick();
                (gen, (gen.make)(&mut g))
            })
            .collect();
        let mut bytes = Vec::new();
        for (_, args) in &cmds {
            let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
            bytes.extend(encode_cmd(&a));
        }
        d.a.send(&bytes);
        d.b.send(&bytes);
        for (i, (gen, args)) in cmds.iter().enumerate() {
            let lg = d.a.read_reply();
            let rs = d.b.read_reply();
            history.push(show(args));
            if history.len() > HISTORY {
                history.remove(0);
            }
            let ok = match (&lg, &rs) {
                (Some(x), Some(y)) => same(gen.order, x, y),
                _ => false,
            };
            if !ok {
                panic!(
                    "differential mismatch: seed {seed} step {} (generator {})\n  command: {}\n  \
                     luagate: {:?}\n  redis:   {:?}\n  last commands (oldest first):\n    {}\n\
                     reproduce: LUAGATE_DIFF_SEED={seed} LUAGATE_DIFF_STEPS={} cargo test \
                     --test differential_random",
                    step + i,
                    gen.name,
                    show(args),
                    lg.as_deref().map(String::from_utf8_lossy),
                    rs.as_deref().map(String::from_utf8_lossy),
                    history.join("\n    "),
                    step + i + 1,
                );
            }
        }
        step += batch;
    }
    // The end states agree too, key by key, in every database the sequence could select.
    for db in ["0", "1", "15"] {
        d.check(&["SELECT", db]);
        d.check(&["DBSIZE"]);
        for k in [
            "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "{t}a", "{t}b", "{t}c",
        ] {
            d.check(&["EXISTS", k]);
        }
    }
}

fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
fn random_sequences_match_redis() {
    let steps = env_num("LUAGATE_DIFF_STEPS").map_or(STEPS, |n| n as usize);
    let seeds: Vec<u64> = match env_num("LUAGATE_DIFF_SEED") {
        Some(s) => vec![s],
        None => SEEDS.to_vec(),
    };
    for seed in seeds {
        eprintln!("differential_random: seed {seed}, {steps} steps");
        run_seed(seed, steps);
    }
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

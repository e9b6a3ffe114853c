//! The generator machinery: a seeded PRNG ([`Gen`]) with helpers that draw arguments from small
//! domains (so commands collide on the same keys, fields and members), and the [`Generator`]
//! entry type of the command table. Invariant: a seed fully determines the command sequence.

use crate::table::GENERATORS;
use crate::table_more::MORE;
use crate::table_session::SESSION;
use crate::table_sets::SETS;

/// The command tables in the order [`Gen::pick`] walks them. A seed draws by position, so
/// moving an entry (or a table) changes the sequence every seed produces.
static TABLES: [&[Generator]; 4] = [GENERATORS, SETS, SESSION, MORE];

/// How a reply is compared between the two servers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Order {
    /// Replies must be identical bytes.
    Exact,
    /// An array or set reply's elements may come in any order (SMEMBERS, KEYS …).
    Unordered,
    /// A flat field/value array or a map whose pairs may come in any order (HGETALL).
    UnorderedPairs,
    /// Integer replies may differ by at most this much when both are non-negative (TTL, PTTL,
    /// EXPIRETIME after a relative expiry: the servers' clocks read at slightly different
    /// moments). Negative replies (-1 no expiry, -2 no key) must match exactly.
    Close(i64),
    /// Only the reply's type byte must match (HELLO: server name, version and client id are
    /// server-specific).
    Kind,
}

/// What a generator produces: one command, or a fixed sequence (MULTI … EXEC).
pub enum Make {
    One(fn(&mut Gen) -> Vec<Vec<u8>>),
    Seq(fn(&mut Gen) -> Vec<Vec<Vec<u8>>>),
}

pub struct Generator {
    pub name: &'static str,
    pub weight: u32,
    pub order: Order,
    pub make: Make,
}

impl Generator {
    /// The commands this generator sends, each with the order its reply is compared in
    /// (sequence members are always compared exactly).
    pub fn commands(&self, g: &mut Gen) -> Vec<(Order, Vec<Vec<u8>>)> {
        match self.make {
            Make::One(f) => vec![(self.order, f(g))],
            Make::Seq(f) => f(g).into_iter().map(|c| (Order::Exact, c)).collect(),
        }
    }
}

pub const fn gen(
    name: &'static str,
    weight: u32,
    order: Order,
    make: fn(&mut Gen) -> Vec<Vec<u8>>,
) -> Generator {
    Generator {
        name,
        weight,
        order,
        make: Make::One(make),
    }
}

pub const fn seq(
    name: &'static str,
    weight: u32,
    make: fn(&mut Gen) -> Vec<Vec<Vec<u8>>>,
) -> Generator {
    Generator {
        name,
        weight,
        order: Order::Exact,
        make: Make::Seq(make),
    }
}

pub fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// `head` followed by `rest`.
pub fn cmd_with(head: &[&str], rest: Vec<String>) -> Vec<Vec<u8>> {
    let mut c = cmd(head);
    c.extend(rest.into_iter().map(String::into_bytes));
    c
}

/// One to `max` pairs drawn by `pair`, flattened (MSET's keys and values, HSET's fields and
/// values, ZADD's scores and members).
pub fn pairs(
    g: &mut Gen,
    max: usize,
    mut pair: impl FnMut(&mut Gen) -> [String; 2],
) -> Vec<String> {
    let n = 1 + g.below(max);
    (0..n).flat_map(|_| pair(g)).collect()
}

/// The shared key space: eight keys spread over the shards and three sharing a hash tag.
pub const KEYS: &[&str] = &[
    "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "{t}a", "{t}b", "{t}c",
];

/// A deterministic generator: splitmix64, so a seed means the same sequence on every platform
/// and every version of every crate.
pub struct Gen {
    state: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True one time in `n`.
    pub fn chance(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn one(&mut self, items: &[&str]) -> String {
        items[self.below(items.len())].to_string()
    }

    /// An integer in `lo..=hi`, as text.
    pub fn int(&mut self, lo: i64, hi: i64) -> String {
        (lo + self.below((hi - lo + 1) as usize) as i64).to_string()
    }

    /// A key from the small shared key space.
    pub fn key(&mut self) -> String {
        self.one(KEYS)
    }

    /// Between `min` and `max` keys (repeats allowed, as clients send them).
    pub fn keys(&mut self, min: usize, max: usize) -> Vec<String> {
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| self.key()).collect()
    }

    /// `numkeys` followed by that many keys; sometimes a wrong count (errors must match).
    pub fn numkeys(&mut self, min: usize, max: usize) -> Vec<String> {
        let keys = self.keys(min, max);
        let n = match self.below(12) {
            0 => "0".to_string(),
            1 => (keys.len() + 1).to_string(),
            2 => "x".to_string(),
            _ => keys.len().to_string(),
        };
        let mut v = vec![n];
        v.extend(keys);
        v
    }

    /// A value: small integers (so counters and numeric parsing get exercised), words, the
    /// empty string, binary bytes and the occasional long value.
    pub fn val(&mut self) -> String {
        match self.below(8) {
            0 => (self.below(21) as i64 - 10).to_string(),
            1 => String::new(),
            2 => "x".repeat(1 + self.below(100)),
            3 => "with space\r\nand crlf".to_string(),
            4 => "3.5".to_string(),
            _ => format!("v{}", self.below(1000)),
        }
    }

    /// An integer argument: mostly small, sometimes at or past the i64 edges or not a number.
    pub fn num(&mut self) -> String {
        match self.below(12) {
            0 => "9223372036854775807".to_string(),
            1 => "-9223372036854775808".to_string(),
            2 => self.one(&["x", "1.5", " 1", "", "99999999999999999999"]),
            _ => self.int(-10, 10),
        }
    }

    /// A float argument, including exponents, infinities and junk.
    pub fn float(&mut self) -> String {
        self.one(&[
            "1",
            "-1",
            "1.5",
            "-0.25",
            "0.1",
            "1e3",
            "3.0e-2",
            "0",
            "-0",
            "10.50",
            "inf",
            "-inf",
            "x",
            "1e400",
            "5e-324",
            "1.7976931348623157e308",
        ])
    }

    /// A hash field.
    pub fn field(&mut self) -> String {
        self.one(&["f0", "f1", "f2", "f3", "1", "f4"])
    }

    /// A set or sorted-set member: words and integers (so integer-set encodings occur).
    pub fn member(&mut self) -> String {
        self.one(&["m0", "m1", "m2", "m3", "1", "2", "-3", "100", "a", "b"])
    }

    /// A list element.
    pub fn elem(&mut self) -> String {
        self.one(&["a", "b", "c", "1", "2", "", "xyz"])
    }

    /// A sorted-set score.
    pub fn score(&mut self) -> String {
        match self.below(14) {
            0 => "+inf".to_string(),
            1 => "-inf".to_string(),
            2 => "1.5".to_string(),
            3 => "-0.5".to_string(),
            4 => "nan".to_string(),
            5 => "1e2".to_string(),
            _ => self.int(-3, 5),
        }
    }

    /// A score range bound.
    pub fn score_bound(&mut self) -> String {
        self.one(&[
            "-inf", "+inf", "0", "1", "(1", "2.5", "(3", "5", "-1", "x", "(", "inf",
        ])
    }

    /// A lexicographic range bound.
    pub fn lex_bound(&mut self) -> String {
        self.one(&["-", "+", "[a", "(b", "[m1", "(m2", "[1", "x", "[", "(m0"])
    }

    /// A list or range index.
    pub fn index(&mut self) -> String {
        match self.below(10) {
            0 => "-100".to_string(),
            1 => "100".to_string(),
            2 => "x".to_string(),
            _ => self.int(-4, 4),
        }
    }

    /// A database number for MOVE / COPY DB: valid, the current one, out of range or junk.
    pub fn db(&mut self) -> String {
        self.one(&["0", "1", "1", "15", "16", "-1", "x"])
    }

    /// One to three SET options, never with an expiry short enough to lapse during the test.
    /// Well-formed: each option at most once, valid expiry values (contradictory pairs such as
    /// `NX XX` still occur; both servers must answer them the same). `hostile` adds repeats,
    /// bad numbers, missing values and unknown words.
    pub fn set_options(&mut self, hostile: bool) -> Vec<String> {
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

    pub fn pick(&mut self) -> &'static Generator {
        let all = || TABLES.iter().flat_map(|t| t.iter());
        let total: u32 = all().map(|g| g.weight).sum();
        let mut r = self.below(total as usize) as u32;
        for g in all() {
            if r < g.weight {
                return g;
            }
            r -= g.weight;
        }
        &GENERATORS[0]
    }

    /// A single command fit for a transaction body: compared exactly (its reply ends up nested
    /// in EXEC's array, where only exact comparison works) and not itself a sequence. Scripts
    /// are included: EXEC runs them in their place.
    pub fn plain_command(&mut self) -> Vec<Vec<u8>> {
        loop {
            let g = self.pick();
            if let (Order::Exact, Make::One(f)) = (g.order, &g.make) {
                return f(self);
            }
        }
    }
}

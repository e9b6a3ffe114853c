//! Seeded random command sequences on one sorted set (plus a same-score companion for lex
//! commands), every reply compared byte for byte with the reference redis-server. Bounded in
//! steps and time.
mod common;

use common::Diff;

/// A tiny deterministic generator so the sequence is reproducible without extra crates.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn random_small_set() {
    sequence(0x5eed_2024, 40, 2500);
}

/// Grows past 128 members, so the reference switches encodings mid-run.
#[test]
fn random_large_set() {
    sequence(0xfeed_0007, 300, 3000);
}

fn sequence(seed: u64, members: u64, steps: usize) {
    let mut d = Diff::new();
    let mut g = Lcg(seed);
    let scores = [
        "0", "1", "-1", "2.5", "0.1", "1e3", "-inf", "inf", "3", "7", "-0", "0.2",
    ];
    let bounds = ["-inf", "+inf", "0", "(0", "1", "(2.5", "3", "(7", "-1"];
    let lex = ["-", "+", "[m1", "(m1", "[m5", "(m3", "[m", "(m9"];
    let opts = [
        "", "NX", "XX", "GT", "LT", "CH", "XX CH", "GT CH", "LT CH", "NX CH",
    ];
    let started = std::time::Instant::now();
    let mut max_card = 0;
    if members > 128 {
        // Start past the compact-encoding limit; the sequence then shrinks and regrows it.
        let mut c = vec!["ZADD".to_string(), "k".to_string()];
        for i in 0..members / 2 + 10 {
            c.push(format!("{}.25", i % 17));
            c.push(format!("m{}", i * 2));
        }
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        d.check(&args);
        d.check(&["ZSCORE", "k", "m0"]);
    }
    for step in 0..steps {
        if started.elapsed() > std::time::Duration::from_secs(120) {
            break;
        }
        let m = |g: &mut Lcg| format!("m{}", g.next(members));
        let sc = |g: &mut Lcg| scores[g.next(scores.len() as u64) as usize].to_string();
        let bd = |g: &mut Lcg| bounds[g.next(bounds.len() as u64) as usize].to_string();
        let lx = |g: &mut Lcg| lex[g.next(lex.len() as u64) as usize].to_string();
        let int = |g: &mut Lcg| (g.next(50) as i64 - 25).to_string();
        let cmd: Vec<String> = match g.next(20) {
            0..=3 => {
                let mut c = vec!["ZADD".to_string(), "k".to_string()];
                c.extend(
                    opts[g.next(opts.len() as u64) as usize]
                        .split_whitespace()
                        .map(String::from),
                );
                for _ in 0..=g.next(4) {
                    c.push(sc(&mut g));
                    c.push(m(&mut g));
                }
                c
            }
            4 => vec!["ZINCRBY".into(), "k".into(), sc(&mut g), m(&mut g)],
            5 => vec![
                "ZADD".into(),
                "k".into(),
                "INCR".into(),
                sc(&mut g),
                m(&mut g),
            ],
            6 => vec!["ZREM".into(), "k".into(), m(&mut g), m(&mut g)],
            7 => {
                let mut c = vec!["ZRANGE".into(), "k".into(), int(&mut g), int(&mut g)];
                if g.next(2) == 0 {
                    c.push("REV".into());
                }
                if g.next(2) == 0 {
                    c.push("WITHSCORES".into());
                }
                c
            }
            8 => {
                let rev = g.next(2) == 0;
                let mut c = vec!["ZRANGE".into(), "k".into(), bd(&mut g), bd(&mut g)];
                c.push("BYSCORE".into());
                if rev {
                    c.push("REV".into());
                }
                if g.next(2) == 0 {
                    c.extend(["LIMIT".into(), g.next(6).to_string(), int(&mut g)]);
                }
                c.push("WITHSCORES".into());
                c
            }
            9 => vec!["ZRANK".into(), "k".into(), m(&mut g)],
            10 => vec!["ZREVRANK".into(), "k".into(), m(&mut g)],
            11 => vec!["ZCOUNT".into(), "k".into(), bd(&mut g), bd(&mut g)],
            12 => vec!["ZSCORE".into(), "k".into(), m(&mut g)],
            13 => {
                // Lex commands on a companion key whose scores are all equal.
                let mut c = vec![
                    [
                        "ZRANGEBYLEX",
                        "ZREVRANGEBYLEX",
                        "ZLEXCOUNT",
                        "ZREMRANGEBYLEX",
                    ][g.next(4) as usize]
                        .to_string(),
                    "l".into(),
                    lx(&mut g),
                    lx(&mut g),
                ];
                if c[0].ends_with("RANGEBYLEX") && c[0] != "ZREMRANGEBYLEX" && g.next(2) == 0 {
                    c.extend(["LIMIT".into(), g.next(4).to_string(), int(&mut g)]);
                }
                c
            }
            14 => vec!["ZADD".into(), "l".into(), "0".into(), m(&mut g)],
            15 => match g.next(3) {
                0 => vec![
                    "ZREMRANGEBYSCORE".into(),
                    "k".into(),
                    bd(&mut g),
                    bd(&mut g),
                ],
                1 => vec![
                    "ZREMRANGEBYRANK".into(),
                    "k".into(),
                    int(&mut g),
                    int(&mut g),
                ],
                _ => vec!["ZPOPMIN".into(), "k".into(), g.next(3).to_string()],
            },
            16 => vec!["ZPOPMAX".into(), "k".into()],
            17 => {
                let op = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][g.next(3) as usize];
                let mut c = vec![
                    op.to_string(),
                    "u".into(),
                    "2".into(),
                    "k".into(),
                    "l".into(),
                ];
                if op != "ZDIFFSTORE" {
                    c.extend(["WEIGHTS".into(), sc(&mut g), sc(&mut g)]);
                    c.extend([
                        "AGGREGATE".into(),
                        ["SUM", "MIN", "MAX"][g.next(3) as usize].into(),
                    ]);
                }
                c
            }
            18 => match g.next(3) {
                0 => vec![
                    "ZRANGE".into(),
                    "u".into(),
                    "0".into(),
                    "-1".into(),
                    "WITHSCORES".into(),
                ],
                1 => vec![
                    "ZRANDMEMBER".into(),
                    "k".into(),
                    "1000".into(),
                    "WITHSCORES".into(),
                ],
                _ => vec![
                    "ZRANGESTORE".into(),
                    "u".into(),
                    "k".into(),
                    bd(&mut g),
                    bd(&mut g),
                    "BYSCORE".into(),
                ],
            },
            _ => vec!["ZMSCORE".into(), "k".into(), m(&mut g), m(&mut g)],
        };
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (x, y) = d.both(&args);
        assert_eq!(
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(&y),
            "step {step}: {args:?}"
        );
        if step % 100 == 0 {
            d.check(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]);
            let card = d.check(&["ZCARD", "k"]);
            let n: usize = String::from_utf8_lossy(&card[1..card.len() - 2])
                .parse()
                .unwrap_or(0);
            max_card = max_card.max(n);
        }
    }
    d.check(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]);
    d.check(&["ZRANGE", "l", "0", "-1", "WITHSCORES"]);
    if members > 128 {
        assert!(
            max_card > 128,
            "the large run must cross the compact-encoding limit"
        );
    }
}

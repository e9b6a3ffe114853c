//! Seeded random stream operations (XADD with explicit ids and trims, XDEL, XTRIM, XRANGE,
//! XREVRANGE, XLEN, XINFO STREAM) checked step by step against redis-server, node layout
//! included.
mod common;

use common::streams::s;
use common::Diff;

/// Random XADD/XDEL/XTRIM/XRANGE/XINFO sequences (explicit ids, values of every listpack
/// encoding size, exact and approximate trims with LIMIT) must answer as Redis does, node
/// layout (approximate trims, `radix-tree-keys`, `radix-tree-nodes`) included. The seed can
/// be changed with `STREAMS_SEED`.
#[test]
fn random_operations_match_redis() {
    use rand::{Rng, SeedableRng};
    let mut d = Diff::new();
    let seed = std::env::var("STREAMS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_57ea);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let keys = ["r1", "r2"];
    let mut last = [(0u64, 0u64); 2];
    let mut ids: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let value = |rng: &mut rand::rngs::StdRng| -> String {
        match rng.gen_range(0..10) {
            0 => rng.gen_range(0..128).to_string(),
            1 => rng.gen_range(-5000..5000).to_string(),
            2 => rng.gen_range(-9_000_000_000i64..9_000_000_000).to_string(),
            3 => "x".repeat(rng.gen_range(60..70)),
            4 => "y".repeat(rng.gen_range(120..140)),
            5 => "z".repeat(rng.gen_range(4090..4100)),
            6 => "w".repeat(rng.gen_range(500..1500)),
            _ => "v".repeat(rng.gen_range(0..20)),
        }
    };
    for step in 0..2500 {
        let k = rng.gen_range(0..2);
        let key = keys[k];
        let op = rng.gen_range(0..100);
        let mut args: Vec<String> = Vec::new();
        if op < 70 {
            let (ms, seq) = last[k];
            let (ms, seq) = match rng.gen_range(0..4) {
                0 => (ms, seq + 1),
                1 => (ms + rng.gen_range(1..3), rng.gen_range(0..3)),
                2 => (ms + rng.gen_range(1..100_000), 0),
                _ => (
                    ms + rng.gen_range(1..300) * 65_536,
                    rng.gen_range(0..70_000),
                ),
            };
            last[k] = (ms, seq);
            let id = format!("{ms}-{seq}");
            ids[k].push(id.clone());
            args.extend(["XADD".into(), key.into()]);
            if rng.gen_range(0..25) == 0 {
                let approx = rng.gen_bool(0.7);
                let how = if approx { "~" } else { "=" };
                if rng.gen_bool(0.5) {
                    args.extend([
                        "MAXLEN".into(),
                        how.into(),
                        rng.gen_range(0..400).to_string(),
                    ]);
                } else {
                    let at = ids[k][rng.gen_range(0..ids[k].len())].clone();
                    args.extend(["MINID".into(), how.into(), at]);
                }
                if approx && rng.gen_bool(0.3) {
                    args.extend(["LIMIT".into(), rng.gen_range(0..300).to_string()]);
                }
            }
            args.push(id);
            // The same fields most of the time (Redis then stores values only).
            let same = rng.gen_bool(0.7);
            let n = if same { 2 } else { rng.gen_range(1..4) };
            for i in 0..n {
                args.push(if same {
                    format!("f{i}")
                } else {
                    value(&mut rng)
                });
                args.push(value(&mut rng));
            }
        } else if op < 82 && !ids[k].is_empty() {
            args.extend(["XDEL".into(), key.into()]);
            for _ in 0..rng.gen_range(1..4) {
                args.push(ids[k][rng.gen_range(0..ids[k].len())].clone());
            }
        } else if op < 84 {
            let approx = rng.gen_bool(0.6);
            args.extend(["XTRIM".into(), key.into()]);
            let how = if approx { "~" } else { "=" };
            if rng.gen_bool(0.5) || ids[k].is_empty() {
                args.extend([
                    "MAXLEN".into(),
                    how.into(),
                    rng.gen_range(0..600).to_string(),
                ]);
            } else {
                let at = ids[k][rng.gen_range(0..ids[k].len())].clone();
                args.extend(["MINID".into(), how.into(), at]);
            }
            if approx && rng.gen_bool(0.3) {
                args.extend(["LIMIT".into(), rng.gen_range(0..300).to_string()]);
            }
        } else if op < 91 && !ids[k].is_empty() {
            let a = ids[k][rng.gen_range(0..ids[k].len())].clone();
            let b = ids[k][rng.gen_range(0..ids[k].len())].clone();
            let cmd = if rng.gen_bool(0.5) {
                "XRANGE"
            } else {
                "XREVRANGE"
            };
            args.extend([cmd.into(), key.into(), a, b, "COUNT".into(), "5".into()]);
        } else if op < 94 {
            args.extend(["XLEN".into(), key.into()]);
        } else {
            args.extend(["XINFO".into(), "STREAM".into(), key.into()]);
        }
        if args.is_empty() {
            continue;
        }
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        let (x, y) = d.both(&a);
        assert_eq!(s(&x), s(&y), "step {step}: {:?}", &a[..a.len().min(8)]);
    }
    for key in keys {
        d.check(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
    }
}

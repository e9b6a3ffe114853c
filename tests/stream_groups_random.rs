//! Seeded random consumer group operations interleaved with XADD, XDEL and XTRIM: checked
//! after every step against redis-server (clock-stamped numbers masked), and run on a leader
//! whose followers, attached at the start and midway, must end with its groups. The seed can
//! be changed with `GROUPS_SEED`.
mod common;

use common::streams::{check_masked, mask, mask_with, node, s, without_layout};
use common::Diff;

/// One random group operation on `key` (see `random_group_operations_match_redis`); `next`
/// is the ms of the last id added.
fn random_op(rng: &mut rand::rngs::StdRng, key: &str, step: usize, next: &mut u64) -> Vec<String> {
    use rand::Rng;
    let consumers = ["a", "b", "c"];
    let g = ["g1", "g2"][rng.gen_range(0..2)];
    let c = consumers[rng.gen_range(0..3)];
    let id = |rng: &mut rand::rngs::StdRng, next: u64| format!("{}-1", rng.gen_range(0..next + 2));
    match rng.gen_range(0..100) {
        0..=29 => {
            *next += rng.gen_range(1..4);
            vec![
                "XADD".into(),
                key.into(),
                format!("{}-1", *next),
                "f".into(),
                step.to_string(),
            ]
        }
        30..=34 => vec!["XDEL".into(), key.into(), id(rng, *next)],
        35..=36 => vec![
            "XTRIM".into(),
            key.into(),
            "MAXLEN".into(),
            rng.gen_range(0..20).to_string(),
        ],
        37..=54 => {
            let mut a: Vec<String> = vec!["XREADGROUP".into(), "GROUP".into(), g.into(), c.into()];
            if rng.gen_bool(0.5) {
                a.extend(["COUNT".into(), rng.gen_range(1..4).to_string()]);
            }
            if rng.gen_range(0..6) == 0 {
                a.push("NOACK".into());
            }
            a.extend(["STREAMS".into(), key.into()]);
            a.push(if rng.gen_range(0..4) == 0 {
                id(rng, *next)
            } else {
                ">".into()
            });
            a
        }
        55..=67 => {
            let mut a: Vec<String> = vec!["XACK".into(), key.into(), g.into()];
            for _ in 0..rng.gen_range(1..4) {
                a.push(id(rng, *next));
            }
            a
        }
        68..=77 => {
            let mut a: Vec<String> =
                vec!["XCLAIM".into(), key.into(), g.into(), c.into(), "0".into()];
            for _ in 0..rng.gen_range(1..3) {
                a.push(id(rng, *next));
            }
            a.extend(["TIME".into(), rng.gen_range(1..1000).to_string()]);
            if rng.gen_bool(0.3) {
                a.extend(["RETRYCOUNT".into(), rng.gen_range(0..5).to_string()]);
            }
            if rng.gen_bool(0.3) {
                a.push("FORCE".into());
            }
            if rng.gen_bool(0.3) {
                a.push("JUSTID".into());
            }
            if rng.gen_bool(0.2) {
                a.extend(["LASTID".into(), id(rng, *next)]);
            }
            a
        }
        78..=84 => {
            let mut a: Vec<String> = vec![
                "XAUTOCLAIM".into(),
                key.into(),
                g.into(),
                c.into(),
                "0".into(),
                id(rng, *next),
                "COUNT".into(),
                rng.gen_range(1..4).to_string(),
            ];
            if rng.gen_bool(0.3) {
                a.push("JUSTID".into());
            }
            a
        }
        85..=88 => {
            let mut a: Vec<String> = vec!["XGROUP".into(), "SETID".into(), key.into(), g.into()];
            a.push(if rng.gen_bool(0.3) {
                "$".into()
            } else {
                id(rng, *next)
            });
            if rng.gen_bool(0.3) {
                a.extend(["ENTRIESREAD".into(), rng.gen_range(-1..10).to_string()]);
            }
            a
        }
        89..=90 => vec![
            "XGROUP".into(),
            "DELCONSUMER".into(),
            key.into(),
            g.into(),
            c.into(),
        ],
        91..=92 => vec![
            "XGROUP".into(),
            "CREATECONSUMER".into(),
            key.into(),
            g.into(),
            c.into(),
        ],
        93..=95 => vec!["XINFO".into(), "GROUPS".into(), key.into()],
        96..=97 => vec!["XPENDING".into(), key.into(), g.into()],
        _ => vec!["XINFO".into(), "STREAM".into(), key.into(), "FULL".into()],
    }
}

/// Random group operations (reads new and old, NOACK, acknowledgements, claims with fixed
/// times, autoclaims, ids set back and forth, consumers made and removed) interleaved with
/// XADD, XDEL and XTRIM, checked after every step against redis-server: read counters and
/// lag through deletions and trims, pending lists and delivery counts. The seed can be changed
/// with `GROUPS_SEED`.
#[test]
fn random_group_operations_match_redis() {
    use rand::SeedableRng;
    let mut d = Diff::new();
    let seed = std::env::var("GROUPS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6a0a_5eed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let key = "rg";
    let mut next = 1u64;
    d.check(&["XADD", key, "1-1", "f", "v"]);
    for g in ["g1", "g2"] {
        d.check(&["XGROUP", "CREATE", key, g, "0"]);
    }
    for step in 0..1500 {
        let args = random_op(&mut rng, key, step, &mut next);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (x, y) = d.both(&a);
        assert_eq!(mask(&x), mask(&y), "step {step} (seed {seed}): {a:?}");
        if step % 50 == 0 {
            for g in ["g1", "g2"] {
                check_masked(&mut d, &["XPENDING", key, g, "-", "+", "1000"]);
            }
            check_masked(&mut d, &["XINFO", "GROUPS", key]);
        }
    }
    check_masked(&mut d, &["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
}

/// The same random operations on a leader: a follower attached from the start (effects
/// only) and one attached midway (a snapshot, then effects) end with the leader's groups,
/// delivery times and counts included.
#[test]
fn random_group_operations_reach_followers() {
    use rand::SeedableRng;
    let seed = std::env::var("GROUPS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6a0a_5eed_u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let l = node(&[]);
    let mut lr = l.raw();
    let early = node(&["--shards", "2", "--replicaof", &l.addr()]);
    let mut er = early.raw();
    common::wait_synced(&mut lr, &mut er);
    let key = "rg";
    let mut next = 1u64;
    lr.cmd(&["XADD", key, "1-1", "f", "v"]);
    for g in ["g1", "g2"] {
        lr.cmd(&["XGROUP", "CREATE", key, g, "0"]);
    }
    let mut late = None;
    for step in 0..1500 {
        if step == 750 {
            late = Some(node(&["--shards", "3", "--replicaof", &l.addr()]));
        }
        let args = random_op(&mut rng, key, step, &mut next);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        lr.cmd(&a);
    }
    let state = |r: &mut common::Raw| {
        // Delivery times are the leader's, exactly; seen times are when a node applied.
        let full = r.cmd(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
        let mut out = without_layout(mask_with(&full, false));
        out.push_str(&s(&r.cmd(&["XINFO", "GROUPS", key])));
        out
    };
    common::wait_synced(&mut lr, &mut er);
    let want = state(&mut lr);
    assert!(want.contains("pel-count"), "{want}");
    assert_eq!(
        state(&mut er),
        want,
        "follower attached at the start (seed {seed})"
    );
    let late = late.expect("late follower");
    let mut tr = late.raw();
    common::wait_synced(&mut lr, &mut tr);
    assert_eq!(
        state(&mut tr),
        want,
        "follower attached midway (seed {seed})"
    );
}

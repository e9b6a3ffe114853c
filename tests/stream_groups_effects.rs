//! Stream consumer groups through followers and the append-only log: followers (by snapshot
//! and by effects) and a restart from the log and from its rewrite must rebuild groups,
//! consumers and pending lists exactly, delivery times included.
mod common;

use common::streams::{mask_with, node, s, without_layout};

const KEYS: &[&str] = &["gs1", "gs2", "gs3"];

/// Every group's state: XINFO STREAM FULL (delivery times and counts, last ids, read
/// counters, consumers and their pending lists) with seen times masked, XINFO GROUPS,
/// XPENDING's summary and the entries.
fn groups_state(r: &mut common::Raw) -> String {
    let mut out = String::new();
    for k in KEYS {
        let full = r.cmd(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"]);
        assert!(full.starts_with(b"*"), "{k}: {}", s(&full));
        out.push_str(&without_layout(mask_with(&full, false)));
        out.push_str(&s(&r.cmd(&["XINFO", "GROUPS", k])));
        out.push_str(&s(&r.cmd(&["XPENDING", k, "g1"])));
        out.push_str(&s(&r.cmd(&["XRANGE", k, "-", "+"])));
    }
    out
}

/// Reads, acknowledgements, claims (some of entries deleted since), history reads, NOACK
/// reads, consumers made and removed, ids set: every way groups change.
fn groups_workload(r: &mut common::Raw, round: usize) {
    let base = 1000 * (round + 1);
    for k in KEYS {
        for i in 0..20 {
            let id = format!("{}-{}", base + i, 1);
            r.cmd(&["XADD", k, &id, "f", &i.to_string()]);
        }
        if round == 0 {
            assert_eq!(r.cmd_str(&["XGROUP", "CREATE", k, "g1", "0"]), "+OK\r\n");
            r.cmd(&["XGROUP", "CREATE", k, "g2", "$", "ENTRIESREAD", "3"]);
        }
        for reader in [
            &["alice", "COUNT", "5"][..],
            &["bob", "COUNT", "5"],
            &["carol", "NOACK", "COUNT", "3"],
        ] {
            let mut args = vec!["XREADGROUP", "GROUP", "g1"];
            args.extend_from_slice(reader);
            args.extend(["STREAMS", k, ">"]);
            r.cmd(&args);
        }
        r.cmd(&["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", k, "0"]);
        r.cmd(&[
            "XACK",
            k,
            "g1",
            &format!("{base}-1"),
            &format!("{}-1", base + 6),
        ]);
        r.cmd(&[
            "XDEL",
            k,
            &format!("{}-1", base + 2),
            &format!("{}-1", base + 7),
        ]);
        r.cmd(&[
            "XCLAIM",
            k,
            "g1",
            "dave",
            "0",
            &format!("{}-1", base + 7),
            &format!("{}-1", base + 8),
        ]);
        r.cmd(&[
            "XCLAIM",
            k,
            "g1",
            "erin",
            "0",
            &format!("{}-1", base + 3),
            "TIME",
            "12345",
            "RETRYCOUNT",
            "9",
        ]);
        r.cmd(&["XAUTOCLAIM", k, "g1", "frank", "0", "0", "COUNT", "2"]);
        r.cmd(&["XREADGROUP", "GROUP", "g2", "zed", "STREAMS", k, ">"]);
        r.cmd(&["XGROUP", "CREATECONSUMER", k, "g2", "idle"]);
        r.cmd(&["XGROUP", "DELCONSUMER", k, "g1", "bob"]);
        r.cmd(&["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", k, ">"]);
        r.cmd(&["XADD", k, &format!("{}-1", base + 50), "late", "x"]);
        r.cmd(&["XGROUP", "SETID", k, "g2", "0"]);
        r.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g2",
            "yan",
            "COUNT",
            "2",
            "STREAMS",
            k,
            ">",
        ]);
    }
    // The oldest entries trimmed away while still pending (rebuilt by a snapshot too).
    r.cmd(&["XTRIM", "gs3", "MINID", &format!("{}-1", base + 4)]);
    r.cmd(&[
        "EVAL",
        "return redis.call('XREADGROUP','GROUP','g1','sam','STREAMS',KEYS[1],'0')",
        "1",
        "gs1",
    ]);
}

#[test]
fn groups_reach_followers_by_snapshot_and_by_effects() {
    let l = node(&[]);
    let mut lr = l.raw();
    groups_workload(&mut lr, 0);
    let state = groups_state(&mut lr);
    assert!(state.contains("alice"), "{state}");
    // Before the follower exists: it gets the groups from the snapshot.
    let f = node(&["--shards", "2", "--replicaof", &l.addr()]);
    let mut fr = f.raw();
    common::wait_synced(&mut lr, &mut fr);
    assert_eq!(groups_state(&mut fr), groups_state(&mut lr));
    // After: through the effects.
    groups_workload(&mut lr, 1);
    common::wait_synced(&mut lr, &mut fr);
    let state = groups_state(&mut lr);
    assert!(state.contains("12345"), "{state}");
    assert_eq!(groups_state(&mut fr), state);
}

#[test]
fn groups_survive_the_log_and_its_rewrite() {
    common::streams::survives_log_and_rewrite(
        "groups-aof",
        |r| {
            groups_workload(r, 0);
            groups_workload(r, 1);
        },
        groups_state,
    );
}

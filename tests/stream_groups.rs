//! Stream consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO
//! GROUPS/CONSUMERS/STREAM FULL), differentially against redis-server. Idle times, seen
//! times and delivery times stamped with the clock differ between two servers, so those
//! replies are compared with such numbers masked; deliveries given a TIME are compared whole.
//! Then: followers (by snapshot and by effects) and the append-only log must rebuild groups,
//! consumers and pending lists exactly, delivery times included.
mod common;

use common::{array_items, Diff};

fn s(x: &[u8]) -> String {
    String::from_utf8_lossy(x).into_owned()
}

/// A RESP reply with clock-dependent numbers masked: the integer after an `idle` or
/// `seen-time` field, and any integer that reads as a unix time in milliseconds (> 10^12).
fn mask(reply: &[u8]) -> String {
    mask_with(reply, true)
}

/// The integer after an `idle` or `seen-time` field masked, and, if `times`, any integer
/// that reads as a unix time in milliseconds (> 10^12).
fn mask_with(reply: &[u8], times: bool) -> String {
    let text = s(reply);
    let mut out = Vec::new();
    let mut after_field = false;
    for line in text.split("\r\n") {
        let masked = match line.strip_prefix(':') {
            Some(n) if after_field => {
                let _ = n;
                ":?".to_string()
            }
            Some(n) if times && n.parse::<i64>().is_ok_and(|v| v > 1_000_000_000_000) => {
                ":T".to_string()
            }
            _ => line.to_string(),
        };
        after_field = line == "idle" || line == "seen-time";
        out.push(masked);
    }
    out.join("\r\n")
}

/// XPENDING's extended form with each entry's idle time (its third element) masked.
fn mask_pending(reply: &[u8]) -> String {
    let Some(items) = array_items(reply) else {
        return s(reply);
    };
    let mut out = format!("*{}\r\n", items.len());
    for it in items {
        match array_items(&it) {
            Some(mut e) if e.len() == 4 => {
                e[2] = b":?\r\n".to_vec();
                out.push_str(&format!("*4\r\n{}", s(&e.concat())));
            }
            _ => out.push_str(&s(&it)),
        }
    }
    out
}

/// `text` with the node layout masked (`radix-tree-keys`, `radix-tree-nodes`): a stream
/// rebuilt from a snapshot is laid out afresh (README, Known gaps).
fn without_layout(text: String) -> String {
    let mut out = Vec::new();
    let mut after = false;
    for line in text.split("\r\n") {
        out.push(if after && line.starts_with(':') {
            ":L"
        } else {
            line
        });
        after = line == "radix-tree-keys" || line == "radix-tree-nodes";
    }
    out.join("\r\n")
}

#[track_caller]
fn check_masked(d: &mut Diff, args: &[&str]) -> String {
    let (x, y) = d.both(args);
    let (x, y) = if is_xpending_extended(args) {
        (mask_pending(&x), mask_pending(&y))
    } else {
        (mask(&x), mask(&y))
    };
    assert_eq!(
        x, y,
        "luagate (left) and redis-server (right) differ on {args:?}"
    );
    x
}

fn is_xpending_extended(args: &[&str]) -> bool {
    args[0].eq_ignore_ascii_case("XPENDING") && args.len() > 3
}

/// `check_masked` for each line (words split on spaces).
#[track_caller]
fn check_masked_lines(d: &mut Diff, script: &str) {
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        check_masked(d, &words);
    }
}

#[test]
fn xgroup_subcommands_and_errors() {
    let mut d = Diff::new();
    d.check_lines(
        "
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XGROUP CREATE nokey g 0
        XGROUP CREATE s g 0
        XGROUP CREATE s g 0
        XGROUP CREATE s g2 bad
        XGROUP CREATE s g3 0 ENTRIESREAD -2
        XGROUP CREATE s g3 0 ENTRIESREAD x
        XGROUP CREATE s g3 0 foo
        XGROUP CREATE s g3 $ MKSTREAM ENTRIESREAD 5
        XGROUP CREATE new g4 $ MKSTREAM
        XGROUP CREATE new2 g4 bad MKSTREAM
        EXISTS new2
        XGROUP CREATE s
        XGROUP DESTROY s nog
        XGROUP DESTROY nokey g
        XGROUP CREATECONSUMER s nog c
        XGROUP DELCONSUMER s nog c
        XGROUP SETID s nog 0
        XGROUP SETID nokey g 0
        XGROUP SETID s g 0 foo
        XGROUP SETID s g 0 ENTRIESREAD 3 x
        XGROUP SETID s g 0 ENTRIESREAD -3
        XGROUP SETID s g bad
        XGROUP foo
        XGROUP HELP
        XGROUP CREATECONSUMER s g c1
        XGROUP CREATECONSUMER s g c1
        XGROUP CREATECONSUMER s g c0
        XINFO GROUPS s
        XINFO GROUPS new
        XINFO GROUPS nokey
        XINFO GROUPS
        XINFO CONSUMERS s
        XINFO CONSUMERS s nog
        XINFO STREAM s
        XGROUP SETID s g $ ENTRIESREAD 3
        XINFO GROUPS s
        XGROUP SETID s g 1-1 ENTRIESREAD -1
        XINFO GROUPS s
        XGROUP DELCONSUMER s g zz
        XGROUP DELCONSUMER s g c1
        XGROUP DESTROY s g3
        XGROUP DESTROY s g3
        XINFO GROUPS s
        SET str x
        XGROUP CREATE str g 0
        XGROUP CREATE str g 0 MKSTREAM
        XINFO GROUPS str
        XINFO CONSUMERS str g
        ",
    );
    d.check(&[
        "COMMAND",
        "GETKEYS",
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "a",
        "b",
        ">",
        ">",
    ]);
    d.check(&[
        "COMMAND",
        "GETKEYS",
        "XREADGROUP",
        "GROUP",
        "streams",
        "c",
        "STREAMS",
        "a",
        ">",
    ]);
    d.check(&["COMMAND", "GETKEYS", "XINFO", "CONSUMERS", "k", "g"]);
    d.check(&["COMMAND", "GETKEYS", "XGROUP", "CREATE", "k", "g", "$"]);
    // Name, arity, flags and legacy key positions (key specs and ACL categories are not
    // modelled, as for the other stream commands).
    for c in [
        "xgroup",
        "xgroup|create",
        "xgroup|setid",
        "xgroup|destroy",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xreadgroup",
        "xack",
        "xpending",
        "xclaim",
        "xautoclaim",
        "xinfo|groups",
        "xinfo|consumers",
    ] {
        d.check_command_info(c, 6);
    }
    check_masked_lines(&mut d, "XINFO CONSUMERS s g");
}

#[test]
fn xreadgroup_xack_and_xpending() {
    let mut d = Diff::new();
    d.check_lines(
        "
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XGROUP CREATE s g 0
        XGROUP CREATE other g $ MKSTREAM
        XREADGROUP GROUP nog c STREAMS s >
        XREADGROUP GROUP g c STREAMS nokey >
        XREADGROUP GROUP g c STREAMS s
        XREADGROUP COUNT 1 NOACK STREAMS s >
        XREADGROUP GROUP g c STREAMS s $
        XREADGROUP GROUP g c STREAMS s x
        XREADGROUP GROUP g c STREAMS s other >
        XREADGROUP GROUP g c COUNT x STREAMS s >
        XREADGROUP GROUP g c BLOCK -1 STREAMS s >
        XREADGROUP GROUP g c FOO STREAMS s >
        XREAD GROUP g c STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c2 NOACK COUNT 1 STREAMS s >
        XREADGROUP GROUP g c1 STREAMS s 0
        XREADGROUP GROUP g c1 STREAMS s 1-1
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s other > >
        XREADGROUP GROUP g c1 STREAMS s other > >
        XREADGROUP GROUP g c1 STREAMS s other > 0
        XINFO GROUPS s
        XPENDING s g
        XPENDING s g x
        XPENDING s g - + x
        XPENDING s g IDLE 10 - +
        XPENDING s g - + 0
        XPENDING s g + - 10
        XPENDING s nog
        XPENDING nokey g
        XPENDING other g
        XDEL s 1-1
        XREADGROUP GROUP g c1 STREAMS s 0
        XINFO GROUPS s
        XACK s g 3-1 9-9
        XACK s g 3-1
        XACK nokey g bad
        XACK s nog bad
        XACK s g bad
        XACK s g 1-1 bad
        XPENDING s g
        XADD s 5-1 e 5
        XDEL s 5-1
        XINFO GROUPS s
        XREADGROUP GROUP g c1 STREAMS s >
        XINFO GROUPS s
        XGROUP SETID s g 0
        XREADGROUP GROUP g c3 STREAMS s >
        XPENDING s g
        XINFO GROUPS s
        XINFO STREAM s
        SET str x
        XREADGROUP GROUP g c STREAMS str >
        XPENDING str g
        ",
    );
    check_masked_lines(
        &mut d,
        "
        XPENDING s g - + 10
        XPENDING s g - + 10 c3
        XPENDING s g (2-1 + 10
        XPENDING s g - (4-1 1
        XPENDING s g IDLE 0 - + 10 c1
        XPENDING s g IDLE 100000 - + 10
        XPENDING s g - + 10 nobody
        XINFO CONSUMERS s g
        XINFO STREAM s FULL
        ",
    );
    // RESP3: a map of streams; a deleted pending entry's fields are a null.
    d.both(&["HELLO", "3"]);
    d.check_lines(
        "
        XREADGROUP GROUP g c3 STREAMS s 0
        XREADGROUP GROUP g c3 STREAMS s >
        XINFO GROUPS s
        XPENDING s g
        ",
    );
}

#[test]
fn xclaim_and_xautoclaim() {
    let mut d = Diff::new();
    d.check_lines(
        "
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XADD s 5-1 e 5
        XGROUP CREATE s g 0 ENTRIESREAD 0
        XREADGROUP GROUP g c1 STREAMS s >
        XCLAIM s nog c 0 1-1
        XCLAIM nokey g c 0 1-1
        XCLAIM s g c x 1-1
        XCLAIM s g c 0 bad
        XCLAIM s g c 0 1-1 foo
        XCLAIM s g c 0 1-1 IDLE x
        XCLAIM s g c 0 1-1 TIME x
        XCLAIM s g c 0 1-1 RETRYCOUNT x
        XCLAIM s g c 0 1-1 LASTID x
        XCLAIM s g c -5 1-1 TIME 1000 JUSTID
        XCLAIM s g c2 0 1-1 2-1 TIME 1000 RETRYCOUNT 7
        XCLAIM s g c3 100000000 1-1 2-1 3-1
        XCLAIM s g c3 0 3-1 TIME 5000 JUSTID
        XCLAIM s g c3 0 1-1 2-1 IDLE 100000000000000 RETRYCOUNT 8
        XDEL s 2-1
        XCLAIM s g c4 0 2-1
        XPENDING s g
        XCLAIM s g c4 0 9-9 FORCE
        XCLAIM s g c4 0 4-1 FORCE JUSTID TIME 3000 LASTID 9-9
        XINFO GROUPS s
        XCLAIM s g c4 0 5-1 FORCE JUSTID TIME 3000 RETRYCOUNT 2
        XCLAIM s g c4 0 5-1 LASTID 10-1
        XAUTOCLAIM s nog c 0 0
        XAUTOCLAIM nokey g c 0 0
        XAUTOCLAIM s g c x 0
        XAUTOCLAIM s g c 0 x
        XAUTOCLAIM s g c 0 0 COUNT 0
        XAUTOCLAIM s g c 0 0 COUNT x
        XAUTOCLAIM s g c 0 0 foo
        XAUTOCLAIM s g c5 0 0 COUNT 1 JUSTID
        XAUTOCLAIM s g c5 0 0 COUNT 2
        XDEL s 3-1
        XAUTOCLAIM s g c6 0 0 COUNT 2 JUSTID
        XAUTOCLAIM s g c6 0 0 COUNT 100
        XAUTOCLAIM s g c6 100000000 0
        XAUTOCLAIM s g c6 0 (4-1
        XAUTOCLAIM s g c6 0 + COUNT 1
        XPENDING s g
        XADD s 6-1 f 6
        XINFO GROUPS s
        ",
    );
    check_masked_lines(
        &mut d,
        "
        XPENDING s g - + 10
        XINFO CONSUMERS s g
        XINFO STREAM s FULL
        XINFO STREAM s FULL COUNT 1
        ",
    );
}

#[test]
fn xreadgroup_block_and_scripts() {
    let mut d = Diff::new();
    d.check(&["XGROUP", "CREATE", "bs", "g", "$", "MKSTREAM"]);
    for (script, keys) in [
        (
            "return redis.call('XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS','bs','>')",
            "0",
        ),
        ("return redis.call('XADD',KEYS[1],'1-1','a','1')", "1"),
        (
            "return redis.call('XREADGROUP','GROUP','g','c','COUNT','1','STREAMS',KEYS[1],'>')",
            "1",
        ),
        ("return redis.call('XACK',KEYS[1],'g','1-1')", "1"),
        (
            "return redis.call('XCLAIM',KEYS[1],'g','c','0','1-1','FORCE','JUSTID','TIME','77')",
            "1",
        ),
        (
            "return redis.call('XGROUP','CREATECONSUMER',KEYS[1],'g','c9')",
            "1",
        ),
        (
            "return redis.call('XREADGROUP','GROUP','g','c','STREAMS',KEYS[1],'0')",
            "1",
        ),
    ] {
        let args: Vec<&str> = if keys == "0" {
            vec!["EVAL", script, "0"]
        } else {
            vec!["EVAL", script, "1", "bs"]
        };
        d.check(&args);
    }
    d.check(&[
        "EVAL_RO",
        "return redis.call('XPENDING',KEYS[1],'g')",
        "1",
        "bs",
    ]);
    d.check(&[
        "EVAL_RO",
        "return redis.call('XREADGROUP','GROUP','g','c','STREAMS',KEYS[1],'>')",
        "1",
        "bs",
    ]);
    d.check_lines(
        "
        MULTI
        XREADGROUP GROUP g c BLOCK 0 STREAMS bs >
        XADD bs 2-1 b 2
        XREADGROUP GROUP g c BLOCK 0 STREAMS bs >
        EXEC
        XREADGROUP GROUP g c BLOCK 10 STREAMS bs >
        XREADGROUP GROUP g c BLOCK 0 STREAMS bs 0
        ",
    );
    // A blocked reader is served by the next XADD; one whose timeout passes gets a null.
    for p in [d.lg.port, d.reference.port] {
        let mut w = common::Raw::connect(p);
        let mut r = common::Raw::connect(p);
        let a: Vec<&[u8]> = [
            "XREADGROUP",
            "GROUP",
            "g",
            "c7",
            "BLOCK",
            "5000",
            "STREAMS",
            "bs",
            ">",
        ]
        .iter()
        .map(|x| x.as_bytes())
        .collect();
        r.send_cmd(&a);
        common::wait_blocked_clients(&mut w, 1);
        assert_eq!(w.cmd_str(&["XADD", "bs", "3-1", "c", "3"]), "$3\r\n3-1\r\n");
        assert_eq!(
            s(&r.read_reply().expect("served")),
            "*1\r\n*2\r\n$2\r\nbs\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n",
            "port {p}"
        );
        assert_eq!(
            r.cmd_str(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c7",
                "BLOCK",
                "30",
                "STREAMS",
                "bs",
                ">"
            ]),
            "*-1\r\n"
        );
        // The group or the stream going ends the wait with Redis's errors.
        for (gone, err) in [
            (
                ["XGROUP", "DESTROY", "gone", "g"],
                "-NOGROUP the consumer group this client was blocked on no longer exists\r\n",
            ),
            (
                ["DEL", "gone", "", ""],
                "-UNBLOCKED the stream key no longer exists\r\n",
            ),
        ] {
            w.cmd(&["XGROUP", "CREATE", "gone", "g", "$", "MKSTREAM"]);
            let a: Vec<&[u8]> = [
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "5000",
                "STREAMS",
                "gone",
                ">",
            ]
            .iter()
            .map(|x| x.as_bytes())
            .collect();
            r.send_cmd(&a);
            common::wait_blocked_clients(&mut w, 1);
            let n = if gone[0] == "DEL" { 2 } else { 4 };
            w.cmd(&gone[..n]);
            w.cmd(&["XADD", "gone", "1-1", "a", "1"]);
            assert_eq!(s(&r.read_reply().expect("ended")), err, "port {p}");
            w.cmd(&["DEL", "gone"]);
        }
    }
    check_masked_lines(&mut d, "XPENDING bs g - + 10\nXINFO CONSUMERS bs g");
}

// ---- effects: followers and the append-only log ----

fn node(extra: &[&str]) -> common::Proc {
    let mut flags = vec!["--shards", "4", "--metrics-port", "0"];
    flags.extend_from_slice(extra);
    common::luagate(&flags)
}

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
        r.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            k,
            ">",
        ]);
        r.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "5",
            "STREAMS",
            k,
            ">",
        ]);
        r.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g1",
            "carol",
            "NOACK",
            "COUNT",
            "3",
            "STREAMS",
            k,
            ">",
        ]);
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
    let dir = std::env::temp_dir().join(format!("luagate-groups-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let d = dir.to_str().expect("utf-8 path");
    let flags = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d];
    let mut p = node(&flags);
    let mut r = p.raw();
    groups_workload(&mut r, 0);
    groups_workload(&mut r, 1);
    let state = groups_state(&mut r);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    // Replayed from the log's effects.
    let mut p = node(&flags);
    let mut r = p.raw();
    assert_eq!(groups_state(&mut r), state);
    // Rewritten into a snapshot, then replayed from it.
    common::rewrite_log(&mut r, &dir);
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    let p = node(&flags);
    let mut r = p.raw();
    assert_eq!(groups_state(&mut r), state);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- seeded random operations ----

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

/// As in Redis 7.0, group changes do not modify the stream for WATCH; only XGROUP CREATE's
/// MKSTREAM (which makes the key) does.
#[test]
fn group_changes_leave_watch_alone() {
    let mut d = Diff::new();
    d.check_lines(
        "
        XADD w 1-1 a 1
        XADD w 2-1 a 2
        XGROUP CREATE w g 0
        ",
    );
    let ops: &[&[&str]] = &[
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "w",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "w", "0"],
        &["XACK", "w", "g", "1-1"],
        &["XCLAIM", "w", "g", "c2", "0", "1-1", "FORCE"],
        &["XAUTOCLAIM", "w", "g", "c3", "0", "0"],
        &["XGROUP", "SETID", "w", "g", "0"],
        &["XGROUP", "CREATECONSUMER", "w", "g", "c4"],
        &["XGROUP", "DELCONSUMER", "w", "g", "c4"],
        &["XGROUP", "CREATE", "w", "g2", "$"],
        &["XGROUP", "DESTROY", "w", "g2"],
        &["XGROUP", "CREATE", "made", "g", "$", "MKSTREAM"],
    ];
    for op in ops {
        let watched = if op[2] == "made" { "made" } else { "w" };
        let mut out = Vec::new();
        for p in [d.lg.port, d.reference.port] {
            let mut watcher = common::Raw::connect(p);
            let mut other = common::Raw::connect(p);
            watcher.cmd(&["WATCH", watched]);
            other.cmd(op);
            watcher.cmd(&["MULTI"]);
            watcher.cmd(&["PING"]);
            out.push(watcher.cmd_str(&["EXEC"]));
        }
        assert_eq!(out[0], out[1], "EXEC after {op:?}: luagate, redis-server");
    }
    assert_eq!(
        d.a.cmd_str(&["EXISTS", "made"]),
        ":1\r\n",
        "the last case made its key"
    );
}

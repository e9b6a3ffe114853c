//! Stream consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO
//! GROUPS/CONSUMERS/STREAM FULL), differentially against redis-server. Idle times, seen
//! times and delivery times stamped with the clock differ between two servers, so those
//! replies are compared with such numbers masked; deliveries given a TIME are compared whole.
//! Also: blocked and scripted group reads, and WATCH across group changes. Followers and the
//! append-only log are in tests/stream_groups_effects.rs, seeded random operations in
//! tests/stream_groups_random.rs.
mod common;

use common::streams::{check_masked_lines, s};
use common::Diff;

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

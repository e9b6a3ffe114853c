//! XREAD, differentially against redis-server: several streams across shards, COUNT, `$`,
//! argument errors, wrong types, inside MULTI and in RESP3; then XREAD BLOCK, run on luagate
//! and on redis-server with the same transcript: readers served by an XADD to their stream
//! (two readers by one XADD; one reader of keys on two shards), served at once, timed out, or
//! answered an error.
mod common;

use common::streams::{read, resp3, send};
use common::Diff;

#[test]
fn xread_across_shards_and_protocols() {
    let mut d = Diff::new();
    let keys = common::keys_on_distinct_shards("rs", 3, 4);
    let (k1, k2, k3) = (&keys[0], &keys[1], &keys[2]);
    for i in 1..=5 {
        d.check(&["XADD", k1, &format!("{i}-1"), "a", &i.to_string()]);
        d.check(&["XADD", k2, &format!("{i}-2"), "b", &i.to_string()]);
    }
    d.check(&["XADD", "s", "1-1", "a", "b"]);
    d.check(&["XADD", "s", "2-1", "c", "d"]);
    d.check(&["XDEL", "s", "2-1"]);
    d.check(&["SET", "str", "x"]);
    for c in [
        &["XREAD", "STREAMS", k1, k2, k3, "0", "2-2", "0"][..],
        &["XREAD", "COUNT", "2", "STREAMS", k1, k2, "0", "0"],
        &["XREAD", "COUNT", "-5", "STREAMS", k1, "3"],
        &["XREAD", "STREAMS", k1, k2, "$", "$"],
        &["XREAD", "STREAMS", k3, "$"],
        &["XREAD", "STREAMS", "s", "1-1"],
        &["XREAD", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "s"],
        &["XREAD", "STREAMS", "s", ">"],
        &["XREAD", "STREAMS", "s", "x"],
        &["XREAD", "STREAMS", "s", k1, "0"],
        &["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "x", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "10", "STREAMS", "s", "0"],
        &["XREAD", "FOO", "STREAMS", "s", "0"],
        &["XREAD", "COUNT", "1"],
        &["XREAD", "COUNT", "1", "STREAMS"],
        &["XREAD", "GROUP", "a", "b", "STREAMS", "s", "0"],
        &["XREAD", "NOACK", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XREAD", "STREAMS", "s", "str", "9", "0"],
        &[
            "XREAD",
            "STREAMS",
            "s",
            "18446744073709551615-18446744073709551615",
        ],
        &[
            "COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0",
        ],
        &["MULTI"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "0"],
        &["EXEC"],
    ] {
        d.check(c);
    }
    resp3(&mut d);
    d.check(&["XREAD", "STREAMS", k1, k2, k3, "0", "3", "0"]);
    d.check(&["XREAD", "STREAMS", "s", "5"]);
}

#[test]
fn xread_block_waits_for_new_entries() {
    let keys = common::keys_on_distinct_shards("bk", 2, 4);
    let (k1, k2) = (keys[0].as_str(), keys[1].as_str());
    let t = common::on_both(|p| {
        let mut log = Vec::new();
        let mut w = p.raw();
        w.cmd(&["XADD", "s", "1-1", "old", "entry"]);
        // `$`: only entries added after the call; an XADD to another key does not serve it.
        let mut a = p.raw();
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        common::wait_blocked_clients(&mut w, 1);
        log.push(w.cmd_str(&["XADD", "other", "1-1", "a", "b"]));
        log.push(w.cmd_str(&["XADD", "s", "2-1", "new", "entry"]));
        log.push(read(&mut a));
        // Two readers of one stream are both served by one XADD, one of them in RESP3.
        let mut b = p.raw();
        let mut c = p.raw();
        c.cmd(&["HELLO", "3"]);
        send(
            &mut b,
            &["XREAD", "BLOCK", "0", "COUNT", "5", "STREAMS", "s", "2-1"],
        );
        common::wait_blocked_clients(&mut w, 1);
        send(&mut c, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"]);
        common::wait_blocked_clients(&mut w, 2);
        log.push(w.cmd_str(&["XADD", "s", "3-1", "third", "x"]));
        log.push(read(&mut b));
        log.push(read(&mut c));
        // Keys on two shards; a missing key's `$` is 0-0.
        send(
            &mut a,
            &["XREAD", "BLOCK", "0", "STREAMS", k1, k2, "$", "$"],
        );
        common::wait_blocked_clients(&mut w, 1);
        log.push(w.cmd_str(&["XADD", k2, "7-7", "k", "2"]));
        log.push(read(&mut a));
        // Served at once when there is something already; a timeout answers a null array.
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "s", "2"]));
        log.push(a.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]));
        log.push(c.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "nokey", "$", "$"]));
        // Errors are answered, not waited on.
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "s", "x"]));
        w.cmd(&["SET", "str", "x"]);
        log.push(a.cmd_str(&["XREAD", "BLOCK", "0", "STREAMS", "str", "$"]));
        log.push(a.cmd_str(&["XREAD", "BLOCK", "-5", "STREAMS", "s", "$"]));
        log
    });
    assert_eq!(
        t[2],
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$3\r\nnew\r\n$5\r\nentry\r\n"
    );
    assert_eq!(t[9], "*-1\r\n");
    assert_eq!(t[10], "_\r\n");
}

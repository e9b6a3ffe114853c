//! Streams through followers and the append-only log: writes whose effects differ from the
//! commands (generated ids, approximate trims, emptied streams, ids set by XSETID) must reach
//! a follower by snapshot and by effects, serving a reader blocked on the follower, and
//! survive a restart from the log and from its rewrite: entries, XINFO STREAM and the
//! dataset digest alike.
mod common;

use common::array_items;
use common::streams::{node, read, s, send};

/// What must survive of each stream: XINFO STREAM without the node layout (radix tree sizes
/// depend on how the entries were added), every entry, and the dataset digest.
fn streams_state(r: &mut common::Raw, keys: &[&str]) -> String {
    let mut out = common::digest(r);
    for k in keys {
        let info = r.cmd(&["XINFO", "STREAM", k]);
        let items = array_items(&info).unwrap_or_else(|| panic!("XINFO {k}: {}", s(&info)));
        for pair in items.chunks(2) {
            if !s(&pair[0]).contains("radix-tree") {
                out.push_str(&s(&pair[0]));
                out.push_str(&s(&pair[1]));
            }
        }
        out.push_str(&s(&r.cmd(&["XRANGE", k, "-", "+"])));
    }
    out
}

const STREAM_KEYS: &[&str] = &["gen", "approx", "minid", "emptied", "zero", "script"];

/// Writes whose effects differ from the commands: generated ids, approximate trims, and
/// streams whose state is more than their entries (emptied, ids set by XSETID).
fn stream_workload(r: &mut common::Raw, round: usize) {
    for i in 0..300 {
        let v = "v".repeat((i * 13 + round) % 90);
        r.cmd(&["XADD", "gen", "*", "f", &v]);
        r.cmd(&[
            "XADD",
            "approx",
            "MAXLEN",
            "~",
            "120",
            "*",
            "f",
            &v,
            "n",
            &i.to_string(),
        ]);
        let min = format!("{}", 1_000_000 + round * 1000 + i.saturating_sub(150));
        r.cmd(&[
            "XADD",
            "minid",
            "MINID",
            "~",
            &min,
            &format!("{}-*", 1_000_000 + round * 1000 + i),
            "a",
            &v,
        ]);
    }
    r.cmd(&["XDEL", "gen", "0-1"]);
    let first = r.cmd(&["XRANGE", "gen", "-", "+", "COUNT", "1"]);
    let id = array_items(&first)
        .and_then(|e| array_items(&e[0]))
        .map(|e| s(&e[0]));
    let id = id.expect("an entry");
    let id = id.rsplit('\n').nth(1).expect("id").trim().to_string();
    assert_eq!(r.cmd_str(&["XDEL", "gen", &id]), ":1\r\n");
    r.cmd(&["XTRIM", "gen", "MAXLEN", "~", "50"]);
    r.cmd(&["XADD", "emptied", "5-5", "a", "b"]);
    r.cmd(&["XADD", "emptied", "7-7", "a", "b"]);
    r.cmd(&["XDEL", "emptied", "7-7"]);
    r.cmd(&["XTRIM", "emptied", "MAXLEN", "0"]);
    r.cmd(&["XSETID", "emptied", "9-9", "ENTRIESADDED", "40"]);
    r.cmd(&["XADD", "zero", "MAXLEN", "0", "1-1", "a", "b"]);
    r.cmd(&["XSETID", "zero", "0-0", "ENTRIESADDED", "0"]);
    r.cmd(&[
        "EVAL",
        "for i = 1, 5 do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '1', '*', 'i', i) end return 1",
        "1",
        "script",
    ]);
}

#[test]
fn streams_reach_followers_by_snapshot_and_by_effects() {
    let l = node(&[]);
    let mut lr = l.raw();
    stream_workload(&mut lr, 0);
    // Before the follower exists: it gets these streams from the snapshot.
    let f = node(&["--shards", "2", "--replicaof", &l.addr()]);
    let mut fr = f.raw();
    common::wait_synced(&mut lr, &mut fr);
    assert_eq!(
        streams_state(&mut fr, STREAM_KEYS),
        streams_state(&mut lr, STREAM_KEYS)
    );
    // After: through the effect stream, which also serves a reader blocked on the follower.
    let mut reader = f.raw();
    send(
        &mut reader,
        &[
            "XREAD", "BLOCK", "20000", "COUNT", "1", "STREAMS", "gen", "$",
        ],
    );
    common::wait_blocked_clients(&mut fr, 1);
    stream_workload(&mut lr, 1);
    common::wait_synced(&mut lr, &mut fr);
    let served = read(&mut reader);
    assert!(
        served.starts_with("*1\r\n*2\r\n$3\r\ngen\r\n*1\r\n"),
        "{served}"
    );
    let state = streams_state(&mut lr, STREAM_KEYS);
    assert!(state.contains("last-generated-id\r\n$3\r\n9-9"), "{state}");
    assert_eq!(streams_state(&mut fr, STREAM_KEYS), state);
}

#[test]
fn streams_survive_the_log_and_its_rewrite() {
    common::streams::survives_log_and_rewrite(
        "streams-aof",
        |r| stream_workload(r, 0),
        |r| streams_state(r, STREAM_KEYS),
    );
}

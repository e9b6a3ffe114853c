//! FAILOVER: the coordinated hand-over from a leader to its follower, against a pair of
//! reference redis-servers running the same scenario: argument and state errors, a hand-over
//! to a named follower, writes held while the follower catches up (then released by ABORT),
//! the timeout without FORCE, FORCE handing over to a follower that had stalled, and a target
//! that dies mid-hand-over.
mod common;

use common::transcript::{same_on_both, say, signal, wait_for, Kind};
use common::{info_field, luagate, redis_reference, Proc, Raw};
use std::time::Duration;

/// A leader and one follower of it, the follower in sync.
fn pair(kind: Kind) -> (Proc, Proc) {
    let (leader, follower) = match kind {
        Kind::Luagate => {
            let l = luagate(&[]);
            let f = luagate(&["--replicaof", &l.addr()]);
            (l, f)
        }
        Kind::Redis => {
            let l = redis_reference(&["--repl-diskless-sync-delay", "0"]);
            let f = redis_reference(&[
                "--repl-diskless-sync-delay",
                "0",
                "--replicaof",
                &format!("127.0.0.1 {}", l.port),
            ]);
            (l, f)
        }
    };
    let mut r = leader.raw();
    wait_for(&mut r, "the follower to come online", |r| {
        info_field(r, "slave0").is_some_and(|s| s.contains("state=online"))
    });
    (leader, follower)
}

fn role(r: &mut Raw) -> String {
    info_field(r, "role").unwrap_or_default()
}

fn state(r: &mut Raw) -> String {
    info_field(r, "master_failover_state").unwrap_or_default()
}

/// The scenario, as a transcript of replies and observed states.
fn scenario(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let (a, b) = pair(kind);
    let (mut ra, mut rb) = (a.raw(), b.raw());
    let b_port = b.port.to_string();
    let a_port = a.port.to_string();
    // Errors that depend on the pair.
    say(&mut log, &mut ra, &["FAILOVER", "TO", "127.0.0.1", "1"]);
    say(
        &mut log,
        &mut ra,
        &["FAILOVER", "TO", "127.0.0.1", &b_port, "FORCE"],
    );
    say(&mut log, &mut ra, &["FAILOVER", "FORCE", "TIMEOUT", "10"]);
    say(&mut log, &mut ra, &["FAILOVER", "ABORT"]);
    say(&mut log, &mut rb, &["FAILOVER"]);
    say(
        &mut log,
        &mut rb,
        &["PSYNC", "not-my-leaders-id", "1", "FAILOVER"],
    );

    // 1. A hand-over to the named follower: the roles swap, the data stays, writes on the
    //    old leader are refused, and the new leader's writes reach it.
    say(&mut log, &mut ra, &["SET", "a", "1"]);
    say(
        &mut log,
        &mut ra,
        &["FAILOVER", "TO", "127.0.0.1", &b_port, "TIMEOUT", "10000"],
    );
    wait_for(
        &mut rb,
        &format!("the follower to lead ({kind:?}, after {log:?})"),
        |r| role(r) == "master",
    );
    wait_for(
        &mut ra,
        &format!("the old leader to follow ({kind:?}, after {log:?})"),
        |r| role(r) == "slave" && state(r) == "no-failover",
    );
    wait_for(
        &mut rb,
        &format!("the old leader to sync ({kind:?}, after {log:?})"),
        |r| info_field(r, "slave0").is_some_and(|s| s.contains("state=online")),
    );
    say(&mut log, &mut rb, &["GET", "a"]);
    say(&mut log, &mut ra, &["SET", "x", "1"]);
    say(&mut log, &mut ra, &["FAILOVER"]);
    say(&mut log, &mut rb, &["SET", "b", "2"]);
    wait_for(
        &mut ra,
        &format!("the write to arrive ({kind:?}, after {log:?})"),
        |r| r.cmd_str(&["GET", "b"]) == "$1\r\n2\r\n",
    );

    // 2. B leads, A follows. A stalls: FAILOVER waits for it, holding writes; ABORT lets
    //    the held write through.
    signal(&a, "-STOP");
    say(&mut log, &mut rb, &["SET", "c", "3"]);
    say(&mut log, &mut rb, &["FAILOVER", "TIMEOUT", "60000"]);
    log.push(format!("state {}", state(&mut rb)));
    let mut writer = b.raw();
    writer
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    writer.send_cmd(&[b"SET", b"held", b"1"]);
    log.push(format!(
        "held write answered: {}",
        writer.read_reply().is_some()
    ));
    say(&mut log, &mut rb, &["GET", "c"]);
    say(&mut log, &mut rb, &["FAILOVER", "TIMEOUT", "100"]);
    say(&mut log, &mut rb, &["FAILOVER", "ABORT"]);
    writer
        .stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let released = writer
        .read_reply()
        .map(|r| String::from_utf8_lossy(&r).into_owned());
    log.push(format!("held write after ABORT: {released:?}"));
    wait_for(
        &mut rb,
        &format!("the abort ({kind:?}, after {log:?})"),
        |r| state(r) == "no-failover",
    );
    log.push(format!("role {}", role(&mut rb)));

    // 3. The timeout without FORCE gives up; with FORCE it hands over to the stalled
    //    follower, which takes over once it runs again.
    say(&mut log, &mut rb, &["FAILOVER", "TIMEOUT", "200"]);
    wait_for(
        &mut rb,
        &format!("the timeout ({kind:?}, after {log:?})"),
        |r| state(r) == "no-failover",
    );
    log.push(format!("role {}", role(&mut rb)));
    say(&mut log, &mut rb, &["SET", "d", "4"]);
    say(
        &mut log,
        &mut rb,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &a_port,
            "TIMEOUT",
            "200",
            "FORCE",
        ],
    );
    wait_for(
        &mut rb,
        &format!("the forced hand-over ({kind:?}, after {log:?})"),
        |r| state(r) == "failover-in-progress",
    );
    log.push(format!("role {}", role(&mut rb)));
    signal(&a, "-CONT");
    wait_for(
        &mut ra,
        &format!("the stalled follower to lead ({kind:?}, after {log:?})"),
        |r| role(r) == "master",
    );
    wait_for(
        &mut rb,
        &format!("the hand-over to end ({kind:?}, after {log:?})"),
        |r| role(r) == "slave" && state(r) == "no-failover",
    );
    // Whether the stalled follower had read the writes made while it was stopped before it
    // took over is a race (in Redis too); either way the two end up with the same data.
    wait_for(
        &mut ra,
        &format!("the old leader to sync ({kind:?}, after {log:?})"),
        |r| info_field(r, "slave0").is_some_and(|s| s.contains("state=online")),
    );
    let keys = ["a", "b", "c", "d", "held"];
    let mut mget = vec!["MGET"];
    mget.extend(keys);
    wait_for(
        &mut rb,
        &format!("the same data on both ({kind:?}, after {log:?})"),
        |rb| ra.cmd_str(&mget) == rb.cmd_str(&mget),
    );
    say(&mut log, &mut ra, &["MGET", "a", "b", "c"]);

    // 4. A target that dies mid-hand-over: the leader keeps asking it (still demoted, writes
    //    held) until FAILOVER ABORT makes it lead again.
    signal(&b, "-STOP");
    say(
        &mut log,
        &mut ra,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &b_port,
            "TIMEOUT",
            "100",
            "FORCE",
        ],
    );
    wait_for(
        &mut ra,
        &format!("the hand-over to start ({kind:?}, after {log:?})"),
        |r| state(r) == "failover-in-progress",
    );
    signal(&b, "-KILL");
    std::thread::sleep(Duration::from_millis(700));
    log.push(format!(
        "after the target died: {} {}",
        role(&mut ra),
        state(&mut ra)
    ));
    say(&mut log, &mut ra, &["FAILOVER", "ABORT"]);
    wait_for(
        &mut ra,
        &format!("the abort ({kind:?}, after {log:?})"),
        |r| state(r) == "no-failover" && role(r) == "master",
    );
    say(&mut log, &mut ra, &["SET", "e", "5"]);
    // The servers' ports differ between the runs.
    log.iter()
        .map(|l| l.replace(&a_port, "<A>").replace(&b_port, "<B>"))
        .collect()
}

#[test]
fn failover_matches_redis() {
    same_on_both(scenario);
}

/// FAILOVER's argument errors, on a lone server, as Redis answers them.
#[test]
fn failover_argument_errors_match_redis() {
    let mut d = common::Diff::new();
    d.check_all(&[
        &["FAILOVER", "x"],
        &["FAILOVER", "ABORT"],
        &["FAILOVER", "TO", "127.0.0.1"],
        &["FAILOVER", "TO", "h", "x"],
        &["FAILOVER", "TIMEOUT", "0"],
        &["FAILOVER", "TIMEOUT", "-1"],
        &["FAILOVER", "TIMEOUT", "x"],
        &["FAILOVER", "TIMEOUT", "5", "TIMEOUT", "6"],
        &["FAILOVER", "ABORT", "TIMEOUT", "5"],
        &["FAILOVER", "TO", "127.0.0.1", "1", "ABORT"],
        &["FAILOVER", "FORCE"],
        &["FAILOVER", "TIMEOUT", "100"],
        &["FAILOVER"],
    ]);
}

//! `min-replicas-to-write` and `min-replicas-max-lag`: a leader short of followers that
//! acknowledged recently refuses writes with -NOREPLICAS (plain commands, writes inside
//! scripts, flagged scripts and functions that may write, transactions), serves reads, and
//! writes again once a follower is back; and the order of the refusals a flagged script or
//! function that may write meets (maxmemory, a read-only follower, too few followers, *_RO);
//! run on luagate and on redis-server and compared.

mod common;

use common::transcript::{same_on_both, say, server, signal, wait_for, Kind};
use common::{info_field, Raw};

fn good(r: &mut Raw) -> String {
    info_field(r, "min_slaves_good_slaves").unwrap_or_default()
}

fn writes_and_reads(log: &mut Vec<String>, r: &mut Raw) {
    for args in [
        &["SET", "a", "1"][..],
        &["GET", "a"],
        &["EVAL", "return redis.call('SET', 'a', '2')", "0"],
        &["EVAL", "return redis.pcall('SET', 'a', '3')", "0"],
        &["EVAL", "return redis.call('GET', 'a')", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        &["FCALL", "w", "0"],
        &["FCALL", "r", "0"],
        &["MULTI"],
        &["INCR", "n"],
        &["EXEC"],
    ] {
        say(log, r, args);
    }
}

const LIBRARY: &str = "#!lua name=lib\n\
    redis.register_function('w', function() return redis.call('INCR', 'f') end)\n\
    redis.register_function{function_name='r', callback=function() return 1 end, flags={'no-writes'}}";

fn scenario(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let a = server(kind, None, &[]);
    let mut ra = a.raw();
    say(&mut log, &mut ra, &["FUNCTION", "LOAD", LIBRARY]);
    say(
        &mut log,
        &mut ra,
        &["CONFIG", "SET", "min-replicas-to-write", "1"],
    );
    // Followers acknowledge every second: 3 s keeps a loaded machine from flapping.
    say(
        &mut log,
        &mut ra,
        &["CONFIG", "SET", "min-slaves-max-lag", "3"],
    );
    say(
        &mut log,
        &mut ra,
        &["CONFIG", "GET", "min-replicas-max-lag"],
    );
    log.push(format!("good followers: {}", good(&mut ra)));
    writes_and_reads(&mut log, &mut ra);
    // A follower that acknowledges: writes go through.
    let b = server(kind, Some(&a), &[]);
    wait_for(&mut ra, "a good follower", |r| good(r) == "1");
    writes_and_reads(&mut log, &mut ra);
    // Stopped, it stops acknowledging: after max-lag the leader refuses writes again.
    signal(&b, "-STOP");
    wait_for(&mut ra, "the follower to lag", |r| good(r) == "0");
    say(&mut log, &mut ra, &["SET", "a", "lagging"]);
    signal(&b, "-CONT");
    wait_for(&mut ra, "the follower to acknowledge again", |r| {
        good(r) == "1"
    });
    say(&mut log, &mut ra, &["SET", "a", "back"]);
    // Either setting at 0 turns the check off.
    say(
        &mut log,
        &mut ra,
        &["CONFIG", "SET", "min-replicas-max-lag", "0"],
    );
    log.push(format!(
        "good followers shown: {:?}",
        info_field(&mut ra, "min_slaves_good_slaves")
    ));
    drop(b);
    say(&mut log, &mut ra, &["SET", "a", "unchecked"]);
    log
}

#[test]
fn too_few_good_followers_refuse_writes_as_redis_does() {
    same_on_both(scenario);
}

/// Flagged scripts and functions that may write are refused before they run, in Redis's
/// order: maxmemory, then a read-only follower or too few good followers, then an *_RO
/// command; `no-writes` ones run.
fn refusal_order(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let a = server(kind, None, &[]);
    let mut ra = a.raw();
    say(&mut log, &mut ra, &["FUNCTION", "LOAD", LIBRARY]);
    let b = server(kind, Some(&a), &[]);
    let mut rb = b.raw();
    common::wait_synced(&mut ra, &mut rb);
    let calls: &[&[&str]] = &[
        &["FCALL", "w", "0"],
        &["FCALL_RO", "w", "0"],
        &["FCALL", "r", "0"],
        &["FCALL_RO", "r", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
    ];
    log.push("on the follower".into());
    for args in calls {
        say(&mut log, &mut rb, args);
    }
    log.push("on the leader, short of followers".into());
    say(
        &mut log,
        &mut ra,
        &["CONFIG", "SET", "min-replicas-to-write", "2"],
    );
    for args in calls {
        say(&mut log, &mut ra, args);
    }
    log.push("on the leader, over maxmemory".into());
    say(&mut log, &mut ra, &["CONFIG", "SET", "maxmemory", "1"]);
    for args in calls {
        say(&mut log, &mut ra, args);
    }
    say(&mut log, &mut ra, &["CONFIG", "SET", "maxmemory", "0"]);
    log
}

#[test]
fn scripts_that_may_write_are_refused_in_redis_order() {
    same_on_both(refusal_order);
}

/// An EXEC whose queue holds writes is refused as a write: aborted when the leader is short of
/// good followers by then, or has become a follower.
fn exec_scenario(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let a = server(kind, None, &[]);
    let (mut tx, mut admin) = (a.raw(), a.raw());
    for (queued, change) in [
        (
            &["SET", "x", "1"][..],
            &["CONFIG", "SET", "min-replicas-to-write", "1"][..],
        ),
        (&["GET", "x"], &["CONFIG", "GET", "min-replicas-to-write"]),
        (
            &["INCR", "y"],
            &["CONFIG", "SET", "min-replicas-to-write", "0"],
        ),
        (&["SET", "x", "2"], &["REPLICAOF", "127.0.0.1", "1"]),
    ] {
        say(&mut log, &mut tx, &["MULTI"]);
        say(&mut log, &mut tx, queued);
        say(&mut log, &mut admin, change);
        say(&mut log, &mut tx, &["EXEC"]);
    }
    say(&mut log, &mut admin, &["REPLICAOF", "NO", "ONE"]);
    log
}

#[test]
fn exec_of_queued_writes_is_refused_as_a_write_as_redis_does() {
    same_on_both(exec_scenario);
}

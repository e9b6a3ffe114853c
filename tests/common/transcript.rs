//! Scenarios that run on luagate and on reference redis-servers and are compared as
//! transcripts: what was sent, what came back, and what was observed.

use super::Raw;
use std::time::{Duration, Instant};

/// Which server a scenario runs on.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Luagate,
    Redis,
}

/// Runs `scenario` on luagate, then on redis-server; the transcripts must be equal.
#[track_caller]
pub fn same_on_both(scenario: impl Fn(Kind) -> Vec<String>) {
    let ours = scenario(Kind::Luagate);
    let theirs = scenario(Kind::Redis);
    assert_eq!(
        ours, theirs,
        "luagate (left) and redis-server (right) differ"
    );
}

/// Sends a command and notes it with its reply.
pub fn say(log: &mut Vec<String>, r: &mut Raw, args: &[&str]) {
    let reply = r.cmd_str(args);
    log.push(format!("{args:?} -> {reply}"));
}

/// Polls `cond` every 20 ms for at most 30 s.
#[track_caller]
pub fn wait_for(r: &mut Raw, what: &str, mut cond: impl FnMut(&mut Raw) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond(r) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

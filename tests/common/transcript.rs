//! Scenarios that run on luagate and on reference redis-servers and are compared as
//! transcripts: what was sent, what came back, and what was observed.

use super::{luagate, redis_reference, Proc, Raw};
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

/// A server of `kind` with `extra` settings; with `leader`, a follower of it. Keepalive PINGs
/// are rare, so that an idle leader's offset stays where a test read it (a PING would make a
/// later PSYNC of it a full one), and DEBUG is allowed (DIGEST).
pub fn server(kind: Kind, leader: Option<&Proc>, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = ["--repl-ping-replica-period", "60"]
        .iter()
        .chain(&["--enable-debug-command", "yes"])
        .map(|s| s.to_string())
        .collect();
    if let Kind::Redis = kind {
        args.extend(["--repl-diskless-sync-delay".to_string(), "0".to_string()]);
    }
    if let Some(l) = leader {
        args.push("--replicaof".to_string());
        args.push(match kind {
            Kind::Luagate => l.addr(),
            Kind::Redis => format!("127.0.0.1 {}", l.port),
        });
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match kind {
        Kind::Luagate => luagate(&args),
        Kind::Redis => redis_reference(&args),
    }
}

/// Stops or resumes a server process (SIGSTOP / SIGCONT): a follower that cannot acknowledge.
/// A stop is waited for: the signal lands asynchronously, and a thread still running could
/// apply and acknowledge one more write first.
pub fn signal(p: &Proc, sig: &str) {
    let pid = p.child.id();
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig}");
    if sig != "-STOP" {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stopped = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the process's threads")
            .flatten()
            .all(|t| {
                std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| {
                    // The state follows the command name's closing parenthesis.
                    s.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('T'))
                })
            });
        if stopped {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
}

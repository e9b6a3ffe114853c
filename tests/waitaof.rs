//! WAITAOF (Redis 7.2): a leader with its own append-only log, one follower with a log and
//! one without. Only logs count: the local one, and followers that report their fsynced
//! offset (`REPLCONF ACK … FACK …`). Inside a transaction WAITAOF and WAIT answer at once.
mod common;

use common::{info_field, luagate, Diff, Proc, Raw};
use std::time::{Duration, Instant};

fn follower(of: &Proc, extra: &[&str]) -> Proc {
    let addr = of.addr();
    let mut args = vec!["--replicaof", addr.as_str()];
    args.extend_from_slice(extra);
    luagate(&args)
}

fn wait_online(r: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let online = (0..n)
            .filter(|i| {
                info_field(r, &format!("slave{i}")).is_some_and(|s| s.contains("state=online"))
            })
            .count();
        if online == n {
            return;
        }
        assert!(Instant::now() < deadline, "followers did not come online");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn waitaof_counts_the_logs_that_hold_the_writes() {
    let leader = luagate(&["--appendonly", "yes"]);
    let _logged = follower(&leader, &["--appendonly", "yes"]);
    let plain = follower(&leader, &[]);
    let mut r = leader.raw();
    wait_online(&mut r, 2);
    assert_eq!(r.cmd_str(&["SET", "a", "1"]), "+OK\r\n");
    // Both logs fsync within about a second (everysec).
    assert_eq!(
        r.cmd_str(&["WAITAOF", "1", "1", "20000"]),
        "*2\r\n:1\r\n:1\r\n"
    );
    // The follower without a log never counts: the timeout answers what was reached.
    let started = Instant::now();
    assert_eq!(
        r.cmd_str(&["WAITAOF", "1", "2", "300"]),
        "*2\r\n:1\r\n:1\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A transaction cannot block: it answers what holds at once.
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "b", "2"]);
    r.cmd(&["WAITAOF", "1", "2", "0"]);
    let exec = r.cmd_str(&["EXEC"]);
    assert!(exec.starts_with("*2\r\n+OK\r\n*2\r\n:"), "{exec}");
    for (args, err) in [
        (
            &["WAITAOF", "2", "0", "0"][..],
            "-ERR value is out of range, value must between 0 and 1\r\n",
        ),
        (
            &["WAITAOF", "0", "-1", "0"],
            "-ERR value is out of range, must be positive\r\n",
        ),
        (&["WAITAOF", "0", "0", "-1"], "-ERR timeout is negative\r\n"),
        (
            &["WAITAOF", "x", "0", "0"],
            "-ERR value is not an integer or out of range\r\n",
        ),
    ] {
        assert_eq!(r.cmd_str(args), err, "{args:?}");
    }
    let mut f = plain.raw();
    assert_eq!(
        f.cmd_str(&["WAITAOF", "0", "0", "0"]),
        "-ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.\r\n"
    );
}

#[test]
fn waitaof_without_a_log() {
    let lone = luagate(&[]);
    let mut r = lone.raw();
    assert_eq!(
        r.cmd_str(&["WAITAOF", "1", "0", "0"]),
        "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n"
    );
    assert_eq!(r.cmd_str(&["WAITAOF", "0", "0", "0"]), "*2\r\n:0\r\n:0\r\n");
}

/// WAIT inside MULTI answers at once (it would otherwise wait forever here), as Redis does.
#[test]
fn wait_in_a_transaction_answers_at_once() {
    let mut d = Diff::new();
    d.check_all(&[
        &["MULTI"],
        &["SET", "k", "v"],
        &["WAIT", "1", "0"],
        &["EXEC"],
    ]);
}

//! Replication histories (Redis's PSYNC2): a promoted follower continues the history it
//! followed, so the old leader's other followers and the old leader itself resynchronize
//! partially; FAILOVER's demoted leader continues through the new one and its followers through
//! it; followers serve followers of their own (chained), at their leader's offsets, and refuse
//! them while they have no link; a follower and a leader restarted cleanly resume their
//! history. Each scenario runs on luagate and on reference redis-servers and the transcripts
//! must match; the chained stream and a follower's log are checked in detail on luagate.

mod common;

use common::proxy::Proxy;
use common::transcript::{same_on_both, say, server, wait_for, Kind};
use common::{digest, info_field, luagate, wait_synced, Proc, Raw};
use std::time::{Duration, Instant};

/// A server; with `of`, a follower of it (`transcript::server`, no other settings).
fn node(kind: Kind, of: Option<&Proc>) -> Proc {
    server(kind, of, &[])
}

/// A field of INFO stats.
fn stat(r: &mut Raw, field: &str) -> String {
    let text = r.cmd_str(&["INFO", "stats"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn offset(r: &mut Raw) -> u64 {
    info_field(r, "master_repl_offset")
        .and_then(|o| o.parse().ok())
        .expect("master_repl_offset")
}

fn writes(log: &mut Vec<String>, r: &mut Raw) {
    for args in [
        &["SET", "a", "1"][..],
        &["SELECT", "2"],
        &["SET", "b", "2"],
        &["RPUSH", "l", "x", "y"],
        &["SELECT", "0"],
        &["INCR", "n"],
    ] {
        say(log, r, args);
    }
}

/// A leading B and C, which have A's first writes.
fn trio(kind: Kind, log: &mut Vec<String>) -> ([Proc; 3], [Raw; 3]) {
    let a = node(kind, None);
    let b = node(kind, Some(&a));
    let c = node(kind, Some(&a));
    let (mut ra, mut rb, mut rc) = (a.raw(), b.raw(), c.raw());
    writes(log, &mut ra);
    wait_synced(&mut ra, &mut rb);
    wait_synced(&mut ra, &mut rc);
    ([a, b, c], [ra, rb, rc])
}

/// A leads B and C; B is promoted; C, then A, follow B.
fn promotion(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let ([_a, b, _c], [mut ra, mut rb, mut rc]) = trio(kind, &mut log);
    let a_id = info_field(&mut ra, "master_replid").expect("replid");
    let a_off = offset(&mut ra);
    say(&mut log, &mut rb, &["REPLICAOF", "NO", "ONE"]);
    let b_id = info_field(&mut rb, "master_replid").expect("replid");
    log.push(format!(
        "B's replid is new: {}, its replid2 is A's: {}, second_repl_offset is A's offset + 1: {}",
        b_id != a_id,
        info_field(&mut rb, "master_replid2").as_deref() == Some(&a_id),
        info_field(&mut rb, "second_repl_offset") == Some((a_off + 1).to_string()),
    ));
    say(&mut log, &mut rb, &["SET", "x", "1"]);
    let b_port = b.port.to_string();
    say(&mut log, &mut rc, &["REPLICAOF", "127.0.0.1", &b_port]);
    wait_synced(&mut rb, &mut rc);
    say(&mut log, &mut rc, &["GET", "x"]);
    log.push(format!(
        "C has B's data: {}",
        digest(&mut rc) == digest(&mut rb)
    ));
    log.push(format!(
        "C's replid is B's: {}",
        info_field(&mut rc, "master_replid") == Some(b_id.clone())
    ));
    // The old leader follows too: its own history is the one B continues.
    say(&mut log, &mut ra, &["REPLICAOF", "127.0.0.1", &b_port]);
    wait_synced(&mut rb, &mut ra);
    say(&mut log, &mut ra, &["GET", "x"]);
    log.push(format!(
        "A has B's data: {}",
        digest(&mut ra) == digest(&mut rb)
    ));
    for f in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
        log.push(format!("B {f}: {}", stat(&mut rb, f)));
    }
    say(&mut log, &mut rb, &["CONFIG", "RESETSTAT"]);
    log.push(format!(
        "B sync_partial_ok: {}",
        stat(&mut rb, "sync_partial_ok")
    ));
    log.into_iter().map(|l| l.replace(&b_port, "<B>")).collect()
}

#[test]
fn promotion_continues_the_history_as_redis_does() {
    same_on_both(promotion);
}

/// A leads B and C; FAILOVER hands over to B; A continues through B, C through A.
fn failover(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let ([_a, b, _c], [mut ra, mut rb, mut rc]) = trio(kind, &mut log);
    let b_port = b.port.to_string();
    say(&mut log, &mut ra, &["FAILOVER", "TO", "127.0.0.1", &b_port]);
    wait_for(&mut ra, "A to follow B", |r| {
        info_field(r, "role").as_deref() == Some("slave")
            && info_field(r, "master_link_status").as_deref() == Some("up")
            && info_field(r, "master_failover_state").as_deref() == Some("no-failover")
    });
    wait_for(&mut rc, "C to be linked again", |r| {
        info_field(r, "master_link_status").as_deref() == Some("up")
    });
    say(&mut log, &mut rb, &["SET", "x", "after"]);
    wait_synced(&mut rb, &mut ra);
    wait_synced(&mut ra, &mut rc);
    say(&mut log, &mut rc, &["GET", "x"]);
    log.push(format!(
        "C's master_repl_offset is B's: {}",
        offset(&mut rc) == offset(&mut rb)
    ));
    log.push(format!(
        "data alike: {}",
        digest(&mut rc) == digest(&mut rb) && digest(&mut ra) == digest(&mut rb)
    ));
    // No node needed a full sync after the first ones; A's hand-over PSYNC was partial.
    log.push(format!("B sync_full: {}", stat(&mut rb, "sync_full")));
    log.push(format!(
        "B sync_partial_ok: {}",
        stat(&mut rb, "sync_partial_ok")
    ));
    log.push(format!("A sync_full: {}", stat(&mut ra, "sync_full")));
    log.push(format!(
        "A served C partially: {}",
        stat(&mut ra, "sync_partial_ok") != "0"
    ));
    log.into_iter().map(|l| l.replace(&b_port, "<B>")).collect()
}

#[test]
fn failover_continues_through_the_demoted_leader_as_redis_does() {
    same_on_both(failover);
}

#[test]
fn a_follower_without_its_leader_refuses_followers_as_redis_does() {
    let dead = common::free_port().to_string();
    let mut replies = Vec::new();
    for kind in [Kind::Luagate, Kind::Redis] {
        let p = node(kind, None);
        let mut r = p.raw();
        r.cmd(&["REPLICAOF", "127.0.0.1", &dead]);
        let psync = r.cmd_str(&["PSYNC", "?", "-1"]);
        let mut r = p.raw();
        let sync = r.cmd_str(&["SYNC"]);
        replies.push((psync, sync));
    }
    assert_eq!(replies[0], replies[1]);
    assert!(
        replies[0].0.starts_with("-NOMASTERLINK "),
        "{:?}",
        replies[0]
    );
}

/// A → B → C: C's stream is A's, byte for byte, at A's offsets; a full sync from B lands C in
/// the database A's stream is in, though A does not select it again.
#[test]
fn chained_followers_mirror_the_leaders_stream() {
    let a = node(Kind::Luagate, None);
    let b = node(Kind::Luagate, Some(&a));
    let (mut ra, mut rb) = (a.raw(), b.raw());
    ra.cmd(&["SELECT", "5"]);
    ra.cmd(&["SET", "k1", "v1"]);
    wait_synced(&mut ra, &mut rb);
    // C reaches B through a proxy, so the test can break their link.
    let proxy = Proxy::new(b.port);
    let c = luagate(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        &format!("127.0.0.1:{}", proxy.port),
    ]);
    let mut rc = c.raw();
    wait_synced(&mut rb, &mut rc);
    // A's connection is still in database 5: its stream does not select it again.
    ra.cmd(&["SET", "k2", "v2"]);
    ra.cmd(&["EVAL", "redis.call('SET', 'k3', 'v3') return 1", "0"]);
    ra.cmd(&["MULTI"]);
    ra.cmd(&["INCR", "n"]);
    ra.cmd(&["SELECT", "7"]);
    ra.cmd(&["SET", "k4", "v4"]);
    ra.cmd(&["EXEC"]);
    wait_synced(&mut ra, &mut rb);
    wait_synced(&mut rb, &mut rc);
    rc.cmd(&["SELECT", "5"]);
    for (k, v) in [("k1", "v1"), ("k2", "v2"), ("k3", "v3"), ("n", "1")] {
        assert_eq!(
            rc.cmd_str(&["GET", k]),
            format!("${}\r\n{v}\r\n", v.len()),
            "{k}"
        );
    }
    rc.cmd(&["SELECT", "7"]);
    assert_eq!(rc.cmd_str(&["GET", "k4"]), "$2\r\nv4\r\n");
    assert_eq!(rc.cmd_str(&["DBSIZE"]), ":1\r\n");
    assert_eq!(digest(&mut rc), digest(&mut ra));
    // One history, one set of offsets, down the chain.
    let a_id = info_field(&mut ra, "master_replid");
    assert_eq!(info_field(&mut rb, "master_replid"), a_id);
    assert_eq!(info_field(&mut rc, "master_replid"), a_id);
    assert_eq!(offset(&mut rc), offset(&mut ra));
    // A broken link between B and C resumes partially from B's backlog.
    assert_eq!(stat(&mut rb, "sync_full"), "1");
    proxy.cut();
    ra.cmd(&["SET", "k5", "v5"]);
    wait_synced(&mut ra, &mut rb);
    wait_synced(&mut rb, &mut rc);
    assert_eq!(stat(&mut rb, "sync_full"), "1");
    assert_eq!(stat(&mut rb, "sync_partial_ok"), "1");
    assert_eq!(digest(&mut rc), digest(&mut ra));
    // Followers refuse writes down the chain.
    assert!(rc.cmd_str(&["SET", "w", "1"]).starts_with("-READONLY"));
}

/// A follower's log holds its leader's stream (and its own script loads) so that, restarted
/// on its own, it has exactly the data it followed, in the right databases.
#[test]
fn a_followers_log_restores_what_it_followed() {
    let a = node(Kind::Luagate, None);
    let dir = common::scratch_dir("histlog");
    let d = dir.to_str().expect("utf-8 path");
    let follower = |of: Option<&Proc>| {
        let mut args = vec![
            "--dir",
            d,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--enable-debug-command",
            "yes",
        ];
        let addr = of.map(|l| l.addr());
        if let Some(addr) = &addr {
            args.extend(["--replicaof", addr]);
        }
        luagate(&args)
    };
    let b = follower(Some(&a));
    let (mut ra, mut rb) = (a.raw(), b.raw());
    ra.cmd(&["SELECT", "3"]);
    ra.cmd(&["SET", "x", "1"]);
    wait_synced(&mut ra, &mut rb);
    // The follower's own publication (a script body) goes to its log between A's units.
    assert!(rb.cmd_str(&["SCRIPT", "LOAD", "return 7"]).starts_with('$'));
    ra.cmd(&["SET", "y", "2"]);
    ra.cmd(&["HSET", "h", "f", "v"]);
    wait_synced(&mut ra, &mut rb);
    let want = digest(&mut ra);
    drop(rb);
    drop(b);
    let b = follower(None);
    let mut rb = b.raw();
    let deadline = Instant::now() + Duration::from_secs(20);
    while rb.cmd_str(&["PING"]) != "+PONG\r\n" {
        assert!(
            Instant::now() < deadline,
            "the restarted follower did not load"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rb.cmd_str(&["DBSIZE"]), ":0\r\n");
    rb.cmd(&["SELECT", "3"]);
    assert_eq!(
        rb.cmd_str(&["MGET", "x", "y"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(rb.cmd_str(&["HGET", "h", "f"]), "$1\r\nv\r\n");
    assert_eq!(digest(&mut rb), want);
    drop(rb);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server on `port` (a free one if `None`) keeping its files in `dir`, which outlives it.
fn start_at(kind: Kind, port: Option<u16>, dir: &std::path::Path, extra: &[&str]) -> Proc {
    let port = port.unwrap_or_else(common::free_port).to_string();
    let dir_s = dir.to_str().expect("utf-8 path");
    let mut args = vec![
        "--port",
        &port,
        "--dir",
        dir_s,
        "--repl-ping-replica-period",
        "60",
        "--enable-debug-command",
        "yes",
    ];
    args.extend(extra);
    match kind {
        Kind::Luagate => {
            let mut p = luagate(&args);
            // Its own scratch directory goes; `dir` stays for the restart.
            if let Some(d) = p.dir.take() {
                let _ = std::fs::remove_dir_all(d);
            }
            p
        }
        Kind::Redis => {
            let bin = common::redis_server_path().expect("redis-server");
            args.extend(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
            args.extend(["--repl-diskless-sync-delay", "0"]);
            let child = std::process::Command::new(bin)
                .args(&args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server");
            let p = Proc {
                child,
                port: port.parse().expect("port"),
                dir: None,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(p.addr()).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            p
        }
    }
}

/// SHUTDOWN SAVE, and waits until the process is gone.
fn shut_down(mut p: Proc) {
    let mut r = p.raw();
    r.send(b"SHUTDOWN SAVE\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the server did not shut down");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn leader_addr(kind: Kind, port: u16) -> String {
    match kind {
        Kind::Luagate => format!("127.0.0.1:{port}"),
        Kind::Redis => format!("127.0.0.1 {port}"),
    }
}

/// A follower, then its leader, shut down with SHUTDOWN SAVE and started again on the same
/// files: each resumes where it was and the follower resynchronizes partially both times.
fn restarts(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let (dl, df) = (common::scratch_dir("hist-l"), common::scratch_dir("hist-f"));
    let l = start_at(kind, None, &dl, &[]);
    let lport = l.port;
    let up = leader_addr(kind, lport);
    let f = start_at(kind, None, &df, &["--replicaof", &up]);
    let fport = f.port;
    let (mut ra, mut rf) = (l.raw(), f.raw());
    writes(&mut log, &mut ra);
    wait_synced(&mut ra, &mut rf);
    drop(rf);
    shut_down(f);
    say(&mut log, &mut ra, &["SET", "while-away", "1"]);
    let f = start_at(kind, Some(fport), &df, &["--replicaof", &up]);
    let mut rf = f.raw();
    wait_synced(&mut ra, &mut rf);
    say(&mut log, &mut rf, &["GET", "while-away"]);
    for field in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
        log.push(format!("leader {field}: {}", stat(&mut ra, field)));
    }
    let old_id = info_field(&mut ra, "master_replid").expect("replid");
    let old_offset = offset(&mut ra);
    drop(ra);
    shut_down(l);
    let l = start_at(kind, Some(lport), &dl, &[]);
    let mut ra = l.raw();
    wait_synced(&mut ra, &mut rf);
    for field in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
        log.push(format!(
            "restarted leader {field}: {}",
            stat(&mut ra, field)
        ));
    }
    log.push(format!(
        // Redis's shutdown adds a REPLCONF GETACK to the stream; luagate's adds nothing.
        "new replid: {}, replid2 the old one: {}, second_repl_offset past the old offset: {}",
        info_field(&mut ra, "master_replid").as_deref() != Some(&old_id),
        info_field(&mut ra, "master_replid2").as_deref() == Some(&old_id),
        info_field(&mut ra, "second_repl_offset")
            .and_then(|o| o.parse::<u64>().ok())
            .is_some_and(|o| o > old_offset),
    ));
    say(&mut log, &mut ra, &["SET", "after", "2"]);
    wait_synced(&mut ra, &mut rf);
    say(&mut log, &mut rf, &["GET", "after"]);
    log.push(format!(
        "data alike: {}",
        digest(&mut ra) == digest(&mut rf)
    ));
    drop((ra, rf, l, f));
    let _ = std::fs::remove_dir_all(&dl);
    let _ = std::fs::remove_dir_all(&df);
    log
}

#[test]
fn clean_restarts_resume_the_history_as_redis_does() {
    same_on_both(restarts);
}

/// With the append-only log instead of a snapshot (Redis 7.0 resyncs in full there): the log,
/// closed at a clean exit, is where the follower resumes; after kill -9 it resyncs in full.
#[test]
fn a_follower_with_a_log_resumes_after_a_clean_exit_only() {
    let df = common::scratch_dir("hist-aof");
    let l = node(Kind::Luagate, None);
    let mut ra = l.raw();
    let log_args = ["--appendonly", "yes", "--replicaof"];
    let up = l.addr();
    let follower = |port: Option<u16>| {
        let mut args = log_args.to_vec();
        args.push(&up);
        start_at(Kind::Luagate, port, &df, &args)
    };
    let f = follower(None);
    let fport = f.port;
    let mut rf = f.raw();
    ra.cmd(&["SELECT", "4"]);
    ra.cmd(&["SET", "a", "1"]);
    wait_synced(&mut ra, &mut rf);
    drop(rf);
    shut_down(f);
    ra.cmd(&["SET", "b", "2"]); // still database 4: the stream does not select it again
    let f = follower(Some(fport));
    let mut rf = f.raw();
    wait_synced(&mut ra, &mut rf);
    assert_eq!(stat(&mut ra, "sync_full"), "1");
    assert_eq!(stat(&mut ra, "sync_partial_ok"), "1");
    rf.cmd(&["SELECT", "4"]);
    assert_eq!(
        rf.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(digest(&mut rf), digest(&mut ra));
    // kill -9 leaves no history: the next start resyncs in full.
    drop(rf);
    drop(f);
    let f = follower(Some(fport));
    let mut rf = f.raw();
    wait_synced(&mut ra, &mut rf);
    assert_eq!(stat(&mut ra, "sync_full"), "2");
    assert_eq!(digest(&mut rf), digest(&mut ra));
    drop((rf, f));
    let _ = std::fs::remove_dir_all(&df);
}

/// CLIENT KILL TYPE replica on a leader and TYPE master on a follower drop the replication
/// link, which comes back with a partial resync; where there is no such link, nothing is
/// killed.
fn kills(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let a = node(kind, None);
    let b = node(kind, Some(&a));
    let (mut ra, mut rb) = (a.raw(), b.raw());
    // Written once the follower is in sync, so that they reach it down the stream.
    wait_synced(&mut ra, &mut rb);
    writes(&mut log, &mut ra);
    wait_synced(&mut ra, &mut rb);
    // The links are listed as clients: flags S on the leader, M on the follower.
    for (who, r, kind) in [("A", &mut ra, "replica"), ("B", &mut rb, "master")] {
        let list = r.cmd_str(&["CLIENT", "LIST", "TYPE", kind]);
        let fields: Vec<&str> = list
            .split_whitespace()
            .filter(|f| {
                ["flags=", "cmd=", "user=", "db="]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .collect();
        log.push(format!("{who} CLIENT LIST TYPE {kind}: {fields:?}"));
        let clients = r.cmd_str(&["INFO", "clients"]);
        let connected = clients
            .lines()
            .find(|l| l.starts_with("connected_clients:"));
        log.push(format!("{who} {connected:?}"));
    }
    say(&mut log, &mut ra, &["CLIENT", "KILL", "TYPE", "replica"]);
    say(&mut log, &mut ra, &["SET", "x", "1"]);
    wait_synced(&mut ra, &mut rb);
    say(&mut log, &mut rb, &["GET", "x"]);
    say(&mut log, &mut rb, &["CLIENT", "KILL", "TYPE", "master"]);
    say(&mut log, &mut ra, &["SET", "y", "2"]);
    wait_synced(&mut ra, &mut rb);
    say(&mut log, &mut rb, &["GET", "y"]);
    for field in ["sync_full", "sync_partial_ok"] {
        log.push(format!("A {field}: {}", stat(&mut ra, field)));
    }
    say(&mut log, &mut ra, &["CLIENT", "KILL", "TYPE", "master"]);
    say(&mut log, &mut rb, &["CLIENT", "KILL", "TYPE", "slave"]);
    say(
        &mut log,
        &mut ra,
        &["CLIENT", "KILL", "TYPE", "replica", "ID", "99999"],
    );
    log
}

#[test]
fn client_kill_drops_replication_links_as_redis_does() {
    same_on_both(kills);
}

/// REPLCONF ACK and GETACK are never answered (a follower's acknowledgement; from a client it
/// means nothing), and PSYNC's offset must be an integer, as in Redis.
#[test]
fn replconf_ack_gets_no_reply_and_psync_offsets_are_integers_as_in_redis() {
    let mut d = common::Diff::new();
    for args in [
        &["REPLCONF", "ACK", "1"][..],
        &["REPLCONF", "GETACK", "*"],
        &["REPLCONF", "capa", "eof", "ack", "5"],
    ] {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        let mut bytes = common::encode_cmd(&a);
        bytes.extend(common::encode_cmd(&[b"PING"]));
        d.a.send(&bytes);
        d.b.send(&bytes);
        let (x, y) = (d.a.read_reply(), d.b.read_reply());
        assert_eq!(x, y, "{args:?}");
        assert_eq!(x.as_deref(), Some(&b"+PONG\r\n"[..]), "{args:?}");
    }
    d.check(&["PSYNC", "?", "x"]);
    d.check(&["REPLCONF", "nosuch", "1"]);
    d.check(&["SYNC", "x"]);
}

/// A PSYNC naming a history the leader does not have gets a full sync and counts in
/// `sync_partial_err`; `PSYNC ? -1` (asking for a full sync) does not.
fn refused_partial(kind: Kind) -> Vec<String> {
    let mut log = Vec::new();
    let a = node(kind, None);
    let mut ra = a.raw();
    say(&mut log, &mut ra, &["SET", "k", "v"]);
    for (replid, offset) in [
        ("?", "-1"),
        ("0123456789abcdef0123456789abcdef01234567", "5"),
    ] {
        let mut link = a.raw();
        link.send_cmd(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()]);
        let first = link.read_reply().unwrap_or_default();
        log.push(format!(
            "PSYNC {replid} {offset}: full sync {}",
            first.starts_with(b"+FULLRESYNC ")
        ));
        drop(link);
        for f in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
            log.push(format!("{f}: {}", stat(&mut ra, f)));
        }
    }
    log
}

#[test]
fn refused_partial_resyncs_are_counted_as_redis_does() {
    same_on_both(refused_partial);
}

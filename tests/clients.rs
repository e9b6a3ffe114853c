//! CLIENT and COMMAND, and the argument errors of the connection-level commands: against the
//! reference redis-server where the replies are deterministic, and by shape where they name
//! clients, addresses or times.
mod common;

use common::Diff;
use std::time::{Duration, Instant};

/// CLIENT LIST's `cmd=` names each client's last connection-level command (`NULL` before
/// any), subcommands as `container|sub`.
#[test]
fn client_list_names_the_last_command() {
    let s = common::luagate_shards(2);
    let mut a = s.raw();
    let mut b = s.raw();
    let me = |list: &str, id: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    let a_id = a.cmd_str(&["CLIENT", "ID"]);
    let a_id = a_id.trim_start_matches(':').trim().to_string();
    let list = b.cmd_str(&["CLIENT", "LIST"]);
    assert!(me(&list, &a_id).contains(" cmd=client|id "), "{list}");
    a.cmd(&["ECHO", "x"]);
    let list = b.cmd_str(&["CLIENT", "LIST"]);
    assert!(me(&list, &a_id).contains(" cmd=echo "), "{list}");
    // Shard commands count too, as in Redis.
    a.cmd(&["INCR", "n"]);
    let list = b.cmd_str(&["CLIENT", "LIST"]);
    assert!(me(&list, &a_id).contains(" cmd=incr "), "{list}");
    assert!(list.contains(" cmd=client|list "), "{list}");
    let _fresh = s.raw();
    // The new connection is registered once accepted: bounded wait.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut list = b.cmd_str(&["CLIENT", "LIST"]);
    while !list.contains(" cmd=NULL ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        list = b.cmd_str(&["CLIENT", "LIST"]);
    }
    assert!(list.contains(" cmd=NULL "), "{list}");
}

/// `timeout`: a client idle for longer is closed, as Redis closes it; one that keeps talking
/// is not. The setting is read per read, so it applies from a client's next request on.
#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = common::luagate_shards(1);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    let mut idle = s.raw();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let mut busy = s.raw();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(idle.is_closed(), "the idle client was closed");
    assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
}

/// CLIENT LIST's `idle=` counts whole seconds since the client's last request (on a clock the
/// shard timer advances every 100 ms, as Redis reads a clock cached per event-loop turn).
#[test]
fn client_list_idle_counts_seconds_since_the_last_request() {
    let s = common::luagate_shards(1);
    let mut quiet = s.raw();
    assert_eq!(quiet.cmd(&["CLIENT", "SETNAME", "quiet"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(2300));
    let mut c = s.raw();
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "asking"]), b"+OK\r\n");
    let list = c.cmd_str(&["CLIENT", "LIST"]);
    let idle = |name: &str| -> u64 {
        let line = list
            .lines()
            .find(|l| l.contains(&format!(" name={name} ")))
            .unwrap_or_else(|| panic!("no {name} in {list}"));
        let v = line
            .split(" idle=")
            .nth(1)
            .and_then(|r| r.split(' ').next());
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert!((2..=3).contains(&idle("quiet")), "{list}");
    assert_eq!(idle("asking"), 0, "{list}");
}

/// CLIENT KILL closes a client that is idle, waiting for its next request: the kill wakes the
/// connection (it does not wait for the client to speak).
#[test]
fn client_kill_closes_an_idle_client_at_once() {
    let s = common::luagate_shards(2);
    let mut idle = s.raw();
    let id = idle.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    let start = Instant::now();
    assert!(
        idle.is_closed(),
        "the killed client's connection was closed"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// CLIENT SETINFO, as Redis 7.2 answers it (client libraries send it on connect when the
/// server reports 7.2): the attributes show at the end of CLIENT LIST / INFO lines.
#[test]
fn client_setinfo_sets_what_client_list_shows() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    let info = c.cmd_str(&["CLIENT", "INFO"]);
    assert!(
        info.trim_end().ends_with(" resp=2 lib-name= lib-ver="),
        "{info}"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"]),
        b"+OK\r\n"
    );
    let info = c.cmd_str(&["CLIENT", "INFO"]);
    assert!(
        info.trim_end()
            .ends_with(" lib-name=redis-py lib-ver=5.0.1"),
        "{info}"
    );
    let list = c.cmd_str(&["CLIENT", "LIST"]);
    assert!(
        list.contains(" lib-name=redis-py lib-ver=5.0.1\n"),
        "{list}"
    );
    // An empty value clears the attribute.
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "lib-ver", ""]), b"+OK\r\n");
    let info = c.cmd_str(&["CLIENT", "INFO"]);
    assert!(info.trim_end().ends_with(" lib-ver="), "{info}");
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "Lib-Ver", "1\n2"]),
        b"-ERR Lib-Ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "color", "red"]),
        b"-ERR Unrecognized option 'color'\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-name"]),
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    let info = c.cmd_str(&["CLIENT", "INFO"]);
    assert!(info.contains(" lib-name=redis-py "), "{info}");
}

/// Argument errors of the connection-level commands, on the connection, queued in MULTI and
/// from a script: PING refuses more than one argument (its arity admits any number), SELECT
/// reads a C int before it checks the database count, WAIT names its timeout.
#[test]
fn connection_command_argument_errors_match_redis() {
    let mut d = Diff::new();
    let cmds: &[&[&str]] = &[
        &["PING", "a", "b"],
        &["PING", "a", "b", "c"],
        &["SELECT", "2147483648"],
        &["SELECT", "-2147483649"],
        &["SELECT", "16"],
        &["SELECT", "x"],
        &["WAIT", "0", "x"],
        &["WAIT", "0", "1.5"],
        &["WAIT", "x", "0"],
        &["WAIT", "0", "-1"],
        &["MULTI"],
        &["SELECT", "2147483648"],
        &["PING", "a", "b"],
        &["EXEC"],
        &["EVAL", "return redis.pcall('select', 2147483648)", "0"],
        &["EVAL", "return redis.pcall('select', 16)", "0"],
        &["PING"],
    ];
    d.check_all(cmds);
}

/// COMMAND INFO of an unknown name is a null bulk; COMMAND GETKEYS reports what Redis's key
/// extraction finds (a bad numkeys drops every key: an empty array for the scripts, an error
/// for the others); COMMAND LIST checks its FILTERBY syntax and lists subcommands too.
#[test]
fn command_introspection_matches_redis() {
    let mut d = Diff::new();
    let cmds: &[&[&str]] = &[
        &["COMMAND", "INFO", "nosuch"],
        &["COMMAND", "INFO", "get|x"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "0"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "1"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "x"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "1", "a"],
        &["COMMAND", "GETKEYS", "FCALL_RO", "f", "0", "a"],
        &["COMMAND", "GETKEYS", "SINTERCARD", "5", "a"],
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "5", "a"],
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "0", "a"],
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "1", "a"],
        &["COMMAND", "GETKEYS", "CONFIG", "GET", "x"],
        &["COMMAND", "GETKEYS", "GET"],
        &["COMMAND", "GETKEYS", "PING", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET"],
        &["COMMAND", "GETKEYSANDFLAGS", "nosuch", "a"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "EVAL", "return 1", "0"],
        &["COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "0", "a"],
        &["COMMAND", "HELP"],
        &["COMMAND", "HELP", "x"],
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN"],
        &["COMMAND", "LIST", "FILTERBY", "BOGUS", "x"],
        &[
            "COMMAND", "LIST", "FILTERBY", "PATTERN", "x", "FILTERBY", "PATTERN", "y",
        ],
        &["COMMAND", "LIST", "BOGUS"],
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcat"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "GET"],
    ];
    d.check_all(cmds);
    d.check_unordered(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"]);
    d.check_unordered(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "z*store"]);
    // The same keys as Redis finds, each with the one flag COMMAND INFO's key spec shows here
    // (Redis's finer flags, such as `OW update` for SET, are not kept).
    for (args, keys) in [
        (&["MSET", "a", "1", "b", "2"][..], &["a", "b"][..]),
        (&["LMOVE", "s", "d", "LEFT", "RIGHT"], &["s", "d"]),
        (&["MGET", "x", "y", "z"], &["x", "y", "z"]),
    ] {
        let mut cmd = vec!["COMMAND", "GETKEYS"];
        cmd.extend_from_slice(args);
        let (lg, redis) = d.both(&cmd);
        assert_eq!(lg, redis, "{cmd:?}");
        cmd[1] = "GETKEYSANDFLAGS";
        let flag = if args[0] == "MGET" { "RO" } else { "RW" };
        let expected: String = keys
            .iter()
            .map(|k| format!("*2\r\n${}\r\n{k}\r\n*1\r\n+{flag}\r\n", k.len()))
            .collect();
        let (lg, _) = d.both(&cmd);
        assert_eq!(
            String::from_utf8_lossy(&lg),
            format!("*{}\r\n{expected}", keys.len()),
            "{cmd:?}"
        );
    }
}

/// CLIENT UNBLOCK ends another client's blocking command as a timeout or with `-UNBLOCKED`
/// (answering 1, or 0 when the client is not blocked), CLIENT LIST shows a blocked client
/// (`b`) and NO-EVICT (`e`), and the tracking introspection of a client that does not track:
/// as redis-server answers, RESP2 and RESP3.
#[test]
fn client_unblock_no_evict_and_tracking_info_match_redis() {
    let mut d = Diff::new();
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        for args in [
            &["CLIENT", "TRACKINGINFO"][..],
            &["CLIENT", "TRACKINGINFO", "x"],
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "NO-EVICT", "on"],
            &["CLIENT", "NO-EVICT", "maybe"],
            &["CLIENT", "NO-EVICT"],
            &["CLIENT", "UNBLOCK", "abc"],
            &["CLIENT", "UNBLOCK", "999999"],
            &["CLIENT", "UNBLOCK", "-1"],
            &["CLIENT", "UNBLOCK", "5", "foo"],
            &["CLIENT", "UNBLOCK", "5", "error", "x"],
            &["CLIENT", "UNBLOCK", "abc", "x", "y"],
            &["CLIENT", "NO-EVICT", "OFF"],
        ] {
            d.check(args);
        }
    }
    d.check(&["CONFIG", "RESETSTAT"]);

    // One transcript per server: client ids differ, so each side names its own.
    let scenario = |p: &common::Proc| -> Vec<String> {
        let mut admin = p.raw();
        let mut a = p.raw();
        let id = a.cmd_str(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim().to_string();
        let flags = |admin: &mut common::Raw| -> String {
            let list = admin.cmd_str(&["CLIENT", "LIST", "ID", &id]);
            let f = list
                .split(' ')
                .find(|f| f.starts_with("flags="))
                .unwrap_or("");
            f.to_string()
        };
        let mut log = vec![flags(&mut admin)];
        a.cmd(&["MULTI"]);
        log.push(flags(&mut admin));
        a.cmd(&["DISCARD"]);
        a.cmd(&["CLIENT", "NO-EVICT", "ON"]);
        log.push(flags(&mut admin));
        for (block, how) in [
            (&["BLPOP", "q", "0"][..], "ERROR"),
            (&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"], "TIMEOUT"),
            (&["BZPOPMIN", "z", "0"], ""),
        ] {
            let args: Vec<&[u8]> = block.iter().map(|s| s.as_bytes()).collect();
            a.send_cmd(&args);
            common::wait_blocked_clients(&mut admin, 1);
            log.push(flags(&mut admin));
            let mut unblock = vec!["CLIENT", "UNBLOCK", &id];
            if !how.is_empty() {
                unblock.push(how);
            }
            log.push(admin.cmd_str(&unblock));
            log.push(
                a.read_reply()
                    .map(|r| String::from_utf8_lossy(&r).into_owned())
                    .unwrap_or_default(),
            );
            log.push(admin.cmd_str(&unblock));
            log.push(flags(&mut admin));
        }
        a.cmd(&["CLIENT", "NO-EVICT", "OFF"]);
        log.push(flags(&mut admin));
        let errors = admin.cmd_str(&["INFO", "errorstats"]);
        log.extend(
            errors
                .lines()
                .filter(|l| l.starts_with("errorstat_"))
                .map(str::to_string),
        );
        log
    };
    let ours = scenario(&d.lg);
    let theirs = scenario(&d.reference);
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(&"flags=eb".to_string()) || ours.contains(&"flags=be".to_string()),
        "{ours:?}"
    );
}

/// CLIENT REPLY OFF / SKIP / ON over pipelines: which replies (errors included) the client is
/// sent, byte for byte as redis-server sends them.
#[test]
fn client_reply_off_skip_on_match_redis() {
    let d = Diff::new();
    let cmds: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "k", "1"],
        &["GET", "k"],
        &["BADCMD"],
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "k"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "k"],
        &["INCR", "k"],
        &["CLIENT", "REPLY", "bad"],
        &["CLIENT", "REPLY"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PING", "skipped"],
        &["PING", "shown"],
        &["CLIENT", "REPLY", "OFF"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PING", "off"],
        &["MGET", "k", "a", "b"],
        &["CLIENT", "REPLY", "ON"],
        // Inside MULTI: EXEC's array counts the OFF, whose reply (and all after) is dropped.
        &["MULTI"],
        &["CLIENT", "REPLY", "OFF"],
        &["EXEC"],
        &["PING", "off again"],
        &["CLIENT", "REPLY", "ON"],
        &["PING", "end"],
    ];
    let pipe: Vec<u8> = cmds
        .iter()
        .flat_map(|c| {
            let a: Vec<&[u8]> = c.iter().map(|s| s.as_bytes()).collect();
            common::encode_cmd(&a)
        })
        .collect();
    let transcript = |p: &common::Proc| -> Vec<String> {
        let mut c = p.raw();
        c.send(&pipe);
        let mut got = Vec::new();
        loop {
            let r = String::from_utf8_lossy(&c.read_reply().expect("reply")).into_owned();
            let end = r == "$3\r\nend\r\n";
            got.push(r);
            if end || got.len() > cmds.len() {
                return got;
            }
        }
    };
    let ours = transcript(&d.lg);
    assert_eq!(ours, transcript(&d.reference));
    assert_eq!(ours.len(), 12, "{ours:?}");
}

/// CLIENT PAUSE WRITE holds writes (a queued write's MULTI and EXEC too) but not reads until
/// CLIENT UNPAUSE; PAUSE ALL holds every command until its deadline; argument errors and a
/// timeout past the clock's range (no pause at all) as redis-server answers them. The same
/// scenario runs on both servers and their transcripts must match.
#[test]
fn client_pause_holds_commands_as_redis_does() {
    let mut d = Diff::new();
    for args in [
        &["CLIENT", "PAUSE", "abc"][..],
        &["CLIENT", "PAUSE", "10", "foo"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "write", "extra"],
        &["CLIENT", "PAUSE", "9223372036854775807"],
        &["PING"],
        &["CLIENT", "UNPAUSE", "x"],
    ] {
        d.check(args);
    }
    let scenario = |p: &common::Proc| -> Vec<String> {
        let (mut a, mut b, mut c) = (p.raw(), p.raw(), p.raw());
        c.cmd(&["SET", "gone", "v", "PX", "300"]);
        let set_at = Instant::now();
        let mut log = vec![a.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"])];
        b.send_cmd(&[b"SET", b"k", b"v"]);
        // The held client counts as blocked (INFO, CLIENT LIST's b flag).
        common::wait_blocked_clients(&mut c, 1);
        let list = c.cmd_str(&["CLIENT", "LIST"]);
        let held: Vec<&str> = list
            .lines()
            .filter(|l| l.contains("cmd=set "))
            .filter_map(|l| l.split(' ').find(|f| f.starts_with("flags=")))
            .collect();
        log.push(held.join(","));
        // A key that expires during the pause reads as missing but stays (DBSIZE counts it).
        while set_at.elapsed() < Duration::from_millis(450) {
            std::thread::sleep(Duration::from_millis(20));
        }
        log.push(c.cmd_str(&["GET", "gone"]));
        log.push(c.cmd_str(&["DBSIZE"]));
        // Reads go on, and see that the SET has not run.
        log.push(c.cmd_str(&["GET", "k"]));
        log.push(c.cmd_str(&["MULTI"]));
        log.push(c.cmd_str(&["GET", "k"]));
        log.push(c.cmd_str(&["EXEC"]));
        log.push(c.cmd_str(&["CLIENT", "UNPAUSE"]));
        log.push(String::from_utf8_lossy(&b.read_reply().expect("held SET")).into_owned());
        common::wait_blocked_clients(&mut c, 0);
        log.push(c.cmd_str(&["GET", "gone"]));
        log.push(c.cmd_str(&["GET", "k"]));
        // A transaction with a write: its EXEC waits.
        log.push(a.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]));
        log.push(b.cmd_str(&["MULTI"]));
        log.push(b.cmd_str(&["GET", "k"]));
        b.send_cmd(&[b"INCR", b"n"]);
        log.push(c.cmd_str(&["GET", "n"]));
        log.push(c.cmd_str(&["CLIENT", "UNPAUSE"]));
        log.push(String::from_utf8_lossy(&b.read_reply().expect("held INCR")).into_owned());
        log.push(b.cmd_str(&["EXEC"]));
        // ALL: even a read waits for the deadline (not measured beyond a lower bound).
        let t = Instant::now();
        log.push(a.cmd_str(&["CLIENT", "PAUSE", "300", "ALL"]));
        log.push(b.cmd_str(&["GET", "k"]));
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "a read ran during PAUSE ALL"
        );
        log.push(c.cmd_str(&["GET", "n"]));
        // Once the pause is over, keys expire in the background again.
        log.push(c.cmd_str(&["SET", "e", "v", "PX", "50"]));
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.cmd_str(&["DBSIZE"]) != ":2\r\n" {
            assert!(
                Instant::now() < deadline,
                "no active expiry after the pause"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        log
    };
    let ours = scenario(&d.lg);
    assert_eq!(ours, scenario(&d.reference));
}

/// CLIENT KILL's filters and their errors, as redis-server answers them (the connection
/// asking is skipped by default, so nothing else is there to kill).
#[test]
fn client_kill_filters_match_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["CLIENT", "KILL", "USER", "nobody"],
        &["CLIENT", "KILL", "USER", "Default"],
        &["CLIENT", "KILL", "USER", "default"],
        &["CLIENT", "KILL", "USER", "default", "TYPE", "bogus"],
        &["CLIENT", "KILL", "TYPE", "bogus", "USER", "nobody"],
        &["CLIENT", "KILL", "TYPE", "normal"],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "x"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
        &["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "SKIPME", "maybe"],
        &["CLIENT", "KILL", "MAXAGE", "0"],
        &["CLIENT", "KILL", "ID"],
    ]);
}

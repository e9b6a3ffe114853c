//! MONITOR against redis-server: the same commands (plain, pipelined, in MULTI, from scripts,
//! blocking, admin, rejected, with secrets) give the same monitor lines once timestamps and
//! client addresses are masked, and a monitoring client behaves as Redis's (no keyspace
//! access, RESET leaves the mode, CLIENT LIST's `O` flag, MONITOR inside MULTI refused).

mod common;
use common::*;

/// A monitor line with its timestamp and client address masked (`lua` kept).
fn masked(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line).into_owned();
    let Some(rest) = text.strip_prefix('+') else {
        return text;
    };
    let Some((_, rest)) = rest.split_once(" [") else {
        return text;
    };
    let Some((who, args)) = rest.split_once("] ") else {
        return text;
    };
    let (db, addr) = who.split_once(' ').unwrap_or((who, ""));
    let addr = if addr == "lua" { "lua" } else { "client" };
    format!("[{db} {addr}] {args}")
}

/// Runs `cmds` on a fresh connection to `port`, while a monitor watches, and returns the
/// masked lines the monitor saw up to the closing marker.
fn watch(port: u16, cmds: &[&[&str]]) -> Vec<String> {
    let mut monitor = Raw::connect(port);
    assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut c = Raw::connect(port);
    for cmd in cmds {
        c.cmd(cmd);
    }
    c.cmd(&["ECHO", "end-of-test"]);
    let mut lines = Vec::new();
    for _ in 0..1000 {
        let line = monitor.read_reply().expect("a monitor line");
        let m = masked(&line);
        if m.ends_with("\"ECHO\" \"end-of-test\"\r\n") {
            return lines;
        }
        lines.push(m);
    }
    panic!("no end marker in 1000 lines: {lines:?}");
}

#[test]
fn monitor_lines_are_redis_s() {
    let lg = luagate(&["--shards", "4"]);
    let reference = redis_reference(&[]);
    let cmds: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["GET", "nosuchkey"],
        &["MSET", "k1", "x\"y", "k2", "a\x01\n\\"],
        &[
            "EVAL",
            "redis.call('set','b','x') return redis.call('get', KEYS[1])",
            "1",
            "a",
        ],
        &["FCALL", "nosuch", "0"],
        &["CONFIG", "GET", "maxmemory"],
        &["DEBUG", "SLEEP", "0"],
        &["AUTH", "secret"],
        &["HELLO", "2", "AUTH", "default", "pw"],
        &["NOSUCHCOMMAND", "x"],
        &["GET"],
        &["MULTI"],
        &["SET", "c", "1"],
        &["INCR", "c"],
        &["EXEC"],
        &["SELECT", "2"],
        &["SET", "d", "in db 2"],
        &["SELECT", "0"],
        &["PING"],
        &["CLIENT", "SETNAME", "watched"],
        &["BLPOP", "q", "0.05"],
        &["LPUSH", "q", "v"],
        &["BLPOP", "q", "0.05"],
        &["PUBLISH", "ch", "m"],
        &["XADD", "s", "1-1", "f", "v"],
        &["XREAD", "COUNT", "5", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "10", "STREAMS", "s", "$"],
    ];
    let want = watch(reference.port, cmds);
    let got = watch(lg.port, cmds);
    assert!(want.len() > 15, "{want:?}");
    assert_eq!(got, want);
}

#[test]
fn a_monitor_is_a_client_apart() {
    let mut d = Diff::new();
    d.check_all(&[&["MULTI"], &["MONITOR"], &["EXEC"], &["MONITOR"]]);
    // No keyspace access (rejected commands are not monitored either).
    d.check_all(&[
        &["GET", "a"],
        &["EVAL", "return 1", "0"],
        &["SET", "a", "1"],
    ]);
    // A second MONITOR has no reply at all; ECHO's reply, then its own line.
    for (r, port) in [(&mut d.a, 0), (&mut d.b, 1)] {
        let _ = port;
        r.send(b"MONITOR\r\nECHO x\r\n");
    }
    let (x, y) = (d.a.read_reply().unwrap(), d.b.read_reply().unwrap());
    assert_eq!(
        (x.as_slice(), y.as_slice()),
        (&b"$1\r\nx\r\n"[..], &b"$1\r\nx\r\n"[..])
    );
    let (x, y) = (d.a.read_reply().unwrap(), d.b.read_reply().unwrap());
    assert_eq!(masked(&x), masked(&y));
    assert!(masked(&x).contains("\"ECHO\" \"x\""), "{}", masked(&x));
    // CLIENT LIST's O flag.
    let flags = |r: &[u8]| {
        let r = String::from_utf8_lossy(r).into_owned();
        r.split(' ')
            .find(|f| f.starts_with("flags="))
            .map(String::from)
    };
    let (x, y) = d.both(&["CLIENT", "INFO"]);
    assert_eq!(flags(&x), Some("flags=O".to_string()));
    assert_eq!(flags(&x), flags(&y));
    let (x, y) = (d.a.read_reply().unwrap(), d.b.read_reply().unwrap());
    assert_eq!(masked(&x), masked(&y));
    // RESET leaves monitor mode.
    d.check_all(&[&["RESET"], &["SET", "a", "after"], &["GET", "a"]]);
}

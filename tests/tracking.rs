//! Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO) against the
//! reference redis-server: every reply, error and invalidation frame compared byte for byte,
//! RESP2 (redirect to a subscribed client) and RESP3 (pushes). NO-TOUCH, which the 7.0
//! reference lacks, is checked against Redis 7.2's documented behaviour on luagate alone.
mod common;

use common::{Diff, Proc, Raw};
use std::time::{Duration, Instant};

/// Sends PING and returns the frames that came before its reply: the invalidations queued for
/// this connection by then (a write's are queued before the writer gets its reply).
fn pushes(r: &mut Raw) -> Vec<String> {
    r.send_cmd(&[b"PING"]);
    let mut got = Vec::new();
    for _ in 0..200 {
        let f = String::from_utf8_lossy(&r.read_reply().expect("a frame")).into_owned();
        // RESP2/RESP3 PONG, or a RESP2 subscriber's.
        if f == "+PONG\r\n" || f == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
            return got;
        }
        got.push(f);
    }
    panic!("no PONG after 200 frames: {got:?}");
}

fn id_of(r: &mut Raw) -> String {
    let s = r.cmd_str(&["CLIENT", "ID"]);
    s.trim_start_matches(':').trim_end().to_string()
}

/// Replaces a client id in a frame by a name, so transcripts of both servers compare.
fn named(frame: String, id: &str, name: &str) -> String {
    frame
        .replace(&format!(":{id}\r\n"), &format!(":{name}\r\n"))
        .replace(&format!("redir={id} "), &format!("redir={name} "))
}

/// The `flags=` and `redir=` fields of CLIENT INFO.
fn info_flags(r: &mut Raw) -> String {
    let s = r.cmd_str(&["CLIENT", "INFO"]);
    s.split_whitespace()
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .map(|f| format!("{f} "))
        .collect()
}

fn resp3(p: &Proc) -> Raw {
    let mut r = p.raw();
    r.cmd(&["HELLO", "3"]);
    r
}

#[test]
fn option_errors_and_trackinginfo_match_redis() {
    let mut d = Diff::new();
    let check_both_protocols = |d: &mut Diff| {
        d.check_lines(
            "
            CLIENT GETREDIR
            CLIENT TRACKINGINFO
            CLIENT TRACKING
            CLIENT TRACKING maybe
            CLIENT TRACKING maybe foo
            CLIENT TRACKING on foo
            CLIENT TRACKING on REDIRECT
            CLIENT TRACKING on PREFIX
            CLIENT TRACKING on REDIRECT x
            CLIENT TRACKING on REDIRECT 0
            CLIENT TRACKING on REDIRECT -1
            CLIENT TRACKING on REDIRECT 99999
            CLIENT TRACKING off REDIRECT 99999
            CLIENT TRACKING on PREFIX a
            CLIENT TRACKING on BCAST OPTIN
            CLIENT TRACKING on BCAST OPTOUT
            CLIENT TRACKING on OPTIN OPTOUT
            CLIENT TRACKING on OPTIN OPTOUT BCAST
            CLIENT TRACKING on BCAST PREFIX a PREFIX ab
            CLIENT TRACKING on BCAST PREFIX ab PREFIX a
            CLIENT TRACKING on BCAST PREFIX a PREFIX a
            CLIENT CACHING yes
            CLIENT CACHING no
            CLIENT CACHING maybe
            CLIENT CACHING
            CLIENT CACHING yes x
            CLIENT TRACKING on
            CLIENT GETREDIR
            CLIENT TRACKINGINFO
            CLIENT CACHING yes
            CLIENT CACHING maybe
            CLIENT TRACKING on BCAST
            CLIENT TRACKING on OPTIN
            CLIENT CACHING no
            CLIENT CACHING yes
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTOUT
            CLIENT TRACKING on NOLOOP
            CLIENT TRACKINGINFO
            CLIENT TRACKING off optout
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTOUT NOLOOP
            CLIENT CACHING yes
            CLIENT CACHING no
            CLIENT TRACKINGINFO
            GET somekey
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTIN
            CLIENT TRACKING off
            CLIENT TRACKING on BCAST PREFIX x NOLOOP
            CLIENT TRACKINGINFO
            CLIENT TRACKING on BCAST PREFIX xy
            CLIENT TRACKING on BCAST PREFIX x
            CLIENT TRACKING on BCAST PREFIX q PREFIX qq
            CLIENT TRACKING on BCAST PREFIX y
            CLIENT TRACKINGINFO
            CLIENT TRACKING on BCAST PREFIX
            CLIENT TRACKING on BCAST
            CLIENT TRACKINGINFO
            CLIENT TRACKING on
            CLIENT TRACKING on OPTIN
            CLIENT GETREDIR
            CLIENT TRACKING off
            CLIENT TRACKINGINFO
            CLIENT GETREDIR
            ",
        );
    };
    check_both_protocols(&mut d);
    d.both(&["HELLO", "3"]);
    check_both_protocols(&mut d);
    // A redirect to itself is allowed; twice is not.
    for c in [&mut d.a, &mut d.b] {
        let id = id_of(c);
        let twice = c.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &id, "REDIRECT", &id]);
        assert_eq!(
            twice,
            "-ERR A client can only redirect to a single other client\r\n"
        );
        assert_eq!(
            c.cmd_str(&["CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP", "REDIRECT", &id]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd_str(&["CLIENT", "GETREDIR"]), format!(":{id}\r\n"));
    }
}

#[test]
fn default_mode_invalidates_each_read_key_once_across_shards_transactions_and_scripts() {
    let keys = common::keys_on_distinct_shards("tk", 3, 4);
    let (k1, k2, k3) = (keys[0].as_str(), keys[1].as_str(), keys[2].as_str());
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = resp3(p);
        let mut b = p.raw();
        b.cmd(&["MSET", k1, "1", k2, "2", k3, "3"]);
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on"]));
        log.push(a.cmd_str(&["MGET", k1, k2, k3]));
        // Another client's write: one invalidation per key, in the command's order.
        log.push(b.cmd_str(&["MSET", k3, "x", k1, "y"]));
        log.extend(pushes(&mut a));
        // Forgotten once sent: a second write says nothing.
        log.push(b.cmd_str(&["SET", k1, "z"]));
        log.extend(pushes(&mut a));
        // The client's own write: the reply, then the invalidation.
        log.push(a.cmd_str(&["GET", k1]));
        a.send_cmd(&[b"SET", k1.as_bytes(), b"w"]);
        log.push(String::from_utf8_lossy(&a.read_reply().unwrap()).into_owned());
        log.extend(pushes(&mut a));
        // Pipelined: its own write's invalidation comes right after that write's reply, and
        // the read after it tracks the key again.
        let mut pipe = Vec::new();
        for c in [
            &["GET", k1][..],
            &["SET", k1, "p"],
            &["GET", k1],
            &["GET", k2],
        ] {
            let args: Vec<&[u8]> = c.iter().map(|s| s.as_bytes()).collect();
            pipe.extend(common::encode_cmd(&args));
        }
        a.send(&pipe);
        for _ in 0..5 {
            log.push(String::from_utf8_lossy(&a.read_reply().unwrap()).into_owned());
        }
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["SET", k1, "q"]));
        log.extend(pushes(&mut a));
        // SWAPDB invalidates nothing (Redis 7.0).
        log.push(a.cmd_str(&["GET", k1]));
        log.push(b.cmd_str(&["SWAPDB", "0", "1"]));
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["SWAPDB", "0", "1"]));
        // A transaction that writes tracked keys on two shards.
        log.push(a.cmd_str(&["GET", k1]));
        log.push(b.cmd_str(&["MULTI"]));
        log.push(b.cmd_str(&["INCR", k2]));
        log.push(b.cmd_str(&["APPEND", k1, "!"]));
        log.push(b.cmd_str(&["EXEC"]));
        log.extend(pushes(&mut a));
        // A script's writes, and a script's reads tracked for its caller.
        log.push(a.cmd_str(&["EVAL", "return redis.call('GET', KEYS[1])", "1", k3]));
        log.push(b.cmd_str(&[
            "EVAL",
            "redis.call('SET', KEYS[1], 'v') return redis.call('DEL', KEYS[2])",
            "2",
            k3,
            k2,
        ]));
        log.extend(pushes(&mut a));
        // Reads of other types, and a write that does not change the key still counts as one
        // only when Redis signals it (a failed command does not).
        log.push(a.cmd_str(&["HGET", "h", "f"]));
        log.push(a.cmd_str(&["LRANGE", "l", "0", "-1"]));
        log.push(b.cmd_str(&["HSET", "h", "f", "v"]));
        log.push(b.cmd_str(&["INCR", "h"]));
        log.push(b.cmd_str(&["RPUSH", "l", "x"]));
        log.extend(pushes(&mut a));
        // A flush: one null invalidation, and the table is forgotten.
        log.push(a.cmd_str(&["GET", k1]));
        log.push(b.cmd_str(&["FLUSHALL"]));
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["SET", k1, "after"]));
        log.extend(pushes(&mut a));
        log.push(a.cmd_str(&["GET", k2]));
        log.push(a.cmd_str(&["FLUSHDB"]));
        log.extend(pushes(&mut a));
        log
    });
}

#[test]
fn a_tracked_key_that_expires_is_invalidated() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = resp3(p);
        let mut b = p.raw();
        b.cmd(&["SET", "lazy", "v", "PX", "50"]);
        b.cmd(&["SET", "active", "v", "PX", "50"]);
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on"]));
        log.push(a.cmd_str(&["GET", "lazy"]));
        log.push(a.cmd_str(&["GET", "active"]));
        std::thread::sleep(Duration::from_millis(120));
        // Read by another client after its expiry (or found by active expiry first): the
        // tracking client hears of each key once either way.
        log.push(b.cmd_str(&["GET", "lazy"]));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut heard = Vec::new();
        while heard.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "expiries not invalidated: {heard:?}"
            );
            b.cmd(&["EXISTS", "active"]);
            heard.extend(pushes(&mut a));
            std::thread::sleep(Duration::from_millis(10));
        }
        heard.sort();
        log.extend(heard);
        log
    });
}

#[test]
fn redirect_to_a_resp2_subscriber_and_a_broken_redirect() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = p.raw();
        let mut r = p.raw();
        let mut b = p.raw();
        let rid = id_of(&mut r);
        let n = |f: String| named(f, &rid, "R");
        log.push(r.cmd_str(&["SUBSCRIBE", "__redis__:invalidate"]));
        log.push(n(a.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid])));
        log.push(n(a.cmd_str(&["CLIENT", "GETREDIR"])));
        log.push(n(a.cmd_str(&["CLIENT", "TRACKINGINFO"])));
        log.push(n(info_flags(&mut a)));
        log.push(a.cmd_str(&["GET", "k1"]));
        log.push(a.cmd_str(&["GET", "k2"]));
        log.push(b.cmd_str(&["SET", "k1", "x"]));
        log.extend(pushes(&mut r));
        // The tracking client's own write goes to the redirect too; nothing comes to it.
        log.push(a.cmd_str(&["SET", "k2", "y"]));
        log.extend(pushes(&mut r));
        log.extend(pushes(&mut a));
        // Flush: null, spelt in the tracking client's protocol.
        log.push(a.cmd_str(&["GET", "k1"]));
        log.push(b.cmd_str(&["FLUSHALL"]));
        log.extend(pushes(&mut r));
        // A RESP3 redirect target gets pushes, subscribed or not.
        let mut r3 = resp3(p);
        let r3id = id_of(&mut r3);
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &r3id]));
        log.push(a.cmd_str(&["GET", "k3"]));
        log.push(b.cmd_str(&["SET", "k3", "x"]));
        log.extend(pushes(&mut r3));
        log.push(b.cmd_str(&["FLUSHDB"]));
        log.extend(pushes(&mut r3));
        // The redirect goes away: a RESP2 client only gets the R flag; a RESP3 one a push.
        log.push(n(a.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid])));
        log.push(a.cmd_str(&["GET", "k4"]));
        drop(r);
        wait_clients(&mut b, 3);
        log.push(b.cmd_str(&["SET", "k4", "x"]));
        log.extend(pushes(&mut a).into_iter().map(n));
        log.push(n(info_flags(&mut a)));
        log.push(n(a.cmd_str(&["CLIENT", "TRACKINGINFO"])));
        a.cmd(&["HELLO", "3"]);
        log.push(a.cmd_str(&["GET", "k4"]));
        log.push(b.cmd_str(&["SET", "k4", "y"]));
        log.extend(pushes(&mut a).into_iter().map(n));
        log.push(n(a.cmd_str(&["CLIENT", "TRACKINGINFO"])));
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "off"]));
        log.push(n(info_flags(&mut a)));
        log
    });
}

/// Waits (bounded) until the server counts `n` connected clients.
fn wait_clients(c: &mut Raw, n: usize) {
    let want = format!("connected_clients:{n}\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.cmd_str(&["INFO", "clients"]).contains(&want) {
        assert!(Instant::now() < deadline, "never {n} clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bcast_sends_the_keys_under_each_prefix_together_and_noloop_spares_own_writes() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = resp3(p);
        let mut b = p.raw();
        log.push(a.cmd_str(&[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "y",
        ]));
        log.push(info_flags(&mut a));
        // Nothing read, still told: keys under a prefix, sorted, one push per prefix.
        log.push(b.cmd_str(&["MSET", "xb", "1", "xa", "2", "y1", "1", "z", "1"]));
        log.extend(pushes(&mut a));
        // A transaction is one batch; the same key twice is sent once.
        log.push(b.cmd_str(&["MULTI"]));
        log.push(b.cmd_str(&["SET", "xc", "1"]));
        log.push(b.cmd_str(&["SET", "xa", "1"]));
        log.push(b.cmd_str(&["INCR", "xc"]));
        log.push(b.cmd_str(&["EXEC"]));
        log.extend(pushes(&mut a));
        // Its own writes come back without NOLOOP.
        log.push(a.cmd_str(&["SET", "x1", "v"]));
        log.extend(pushes(&mut a));
        // NOLOOP: own writes are dropped, others' kept.
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "off"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log.push(a.cmd_str(&["MSET", "m1", "1", "m2", "2"]));
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["SET", "m1", "3"]));
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["FLUSHALL"]));
        log.extend(pushes(&mut a));
        let info = a.cmd_str(&["INFO", "stats"]);
        log.push(
            info.lines()
                .filter(|l| l.starts_with("tracking_total_prefixes"))
                .collect(),
        );
        log
    });
}

#[test]
fn optin_optout_caching_and_noloop_in_default_mode() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = resp3(p);
        let mut b = p.raw();
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on", "OPTIN"]));
        log.push(a.cmd_str(&["GET", "k1"]));
        log.push(a.cmd_str(&["CLIENT", "CACHING", "yes"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log.push(a.cmd_str(&["GET", "k2"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log.push(a.cmd_str(&["GET", "k3"]));
        // CACHING covers a whole transaction.
        log.push(a.cmd_str(&["CLIENT", "CACHING", "yes"]));
        log.push(a.cmd_str(&["MULTI"]));
        log.push(a.cmd_str(&["GET", "k4"]));
        log.push(a.cmd_str(&["GET", "k5"]));
        log.push(a.cmd_str(&["EXEC"]));
        log.push(b.cmd_str(&[
            "MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5",
        ]));
        log.extend(pushes(&mut a));
        // Pipelined: CACHING applies to the command right after it only.
        let mut pipe = Vec::new();
        for c in [
            &["CLIENT", "CACHING", "yes"][..],
            &["GET", "p1"],
            &["GET", "p2"],
        ] {
            let args: Vec<&[u8]> = c.iter().map(|s| s.as_bytes()).collect();
            pipe.extend(common::encode_cmd(&args));
        }
        a.send(&pipe);
        for _ in 0..3 {
            log.push(String::from_utf8_lossy(&a.read_reply().unwrap()).into_owned());
        }
        log.push(b.cmd_str(&["MSET", "p1", "1", "p2", "2"]));
        log.extend(pushes(&mut a));
        // OPTOUT: tracked unless CACHING NO came just before.
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "off"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on", "OPTOUT"]));
        log.push(a.cmd_str(&["CLIENT", "CACHING", "no"]));
        log.push(a.cmd_str(&["GET", "o1"]));
        log.push(a.cmd_str(&["GET", "o2"]));
        log.push(b.cmd_str(&["MSET", "o1", "1", "o2", "2"]));
        log.extend(pushes(&mut a));
        // NOLOOP: own writes are not reported, others' are.
        log.push(a.cmd_str(&["CLIENT", "TRACKING", "on", "NOLOOP"]));
        log.push(a.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log.push(a.cmd_str(&["MGET", "n1", "n2"]));
        log.push(a.cmd_str(&["SET", "n1", "x"]));
        log.extend(pushes(&mut a));
        log.push(b.cmd_str(&["SET", "n2", "x"]));
        log.extend(pushes(&mut a));
        log
    });
}

#[test]
fn info_counts_tracking_clients_keys_items_and_prefixes_as_redis() {
    common::on_both(|p| {
        let mut a = resp3(p);
        let mut c = resp3(p);
        let mut bc = resp3(p);
        let mut b = p.raw();
        a.cmd(&["CLIENT", "TRACKING", "on"]);
        c.cmd(&["CLIENT", "TRACKING", "on"]);
        bc.cmd(&[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b",
        ]);
        a.cmd(&["MGET", "k1", "k2", "k3"]);
        c.cmd(&["MGET", "k2", "k4"]);
        let fields = |b: &mut Raw| -> Vec<String> {
            let mut out = Vec::new();
            for section in ["clients", "stats"] {
                let s = b.cmd_str(&["INFO", section]);
                out.extend(
                    s.lines()
                        .filter(|l| l.starts_with("tracking_"))
                        .map(str::to_string),
                );
            }
            out
        };
        let mut log = fields(&mut b);
        b.cmd(&["SET", "k2", "x"]);
        log.extend(fields(&mut b));
        drop(bc);
        wait_clients(&mut b, 3);
        log.extend(fields(&mut b));
        b.cmd(&["FLUSHALL"]);
        log.extend(fields(&mut b));
        log
    });
}

#[test]
fn client_list_flags_and_help_match_redis() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut a = p.raw();
        log.push(info_flags(&mut a));
        a.cmd(&["CLIENT", "TRACKING", "on", "BCAST"]);
        log.push(info_flags(&mut a));
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        a.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]);
        log.push(info_flags(&mut a));
        a.cmd(&["RESET"]);
        log.push(info_flags(&mut a));
        log.push(a.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log
    });
}

#[test]
fn tracking_table_max_keys_bounds_the_table_and_invalidates_what_it_drops() {
    let d = Diff::new();
    let mut a = d.lg.raw();
    let mut b = d.reference.raw();
    for c in [&mut a, &mut b] {
        assert_eq!(
            c.cmd_str(&["CONFIG", "GET", "tracking-table-max-keys"]),
            "*2\r\n$23\r\ntracking-table-max-keys\r\n$7\r\n1000000\r\n"
        );
        assert_eq!(
            c.cmd_str(&["CONFIG", "SET", "tracking-table-max-keys", "-1"])
                .get(..4),
            Some("-ERR")
        );
    }
    let p = &d.lg;
    let mut a = resp3(p);
    let mut b = p.raw();
    assert_eq!(
        b.cmd_str(&["CONFIG", "SET", "tracking-table-max-keys", "2"]),
        "+OK\r\n"
    );
    a.cmd(&["CLIENT", "TRACKING", "on"]);
    a.cmd(&["GET", "m1"]);
    a.cmd(&["GET", "m2"]);
    a.cmd(&["GET", "m3"]);
    let dropped = pushes(&mut a);
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        dropped[0].starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nm"),
        "{dropped:?}"
    );
    let info = b.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("tracking_total_keys:2\r\n"), "{info}");
    // 0: no limit.
    b.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    for i in 0..10 {
        a.cmd(&["GET", &format!("n{i}")]);
    }
    assert!(pushes(&mut a).is_empty());
    let info = b.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("tracking_total_keys:12\r\n"), "{info}");
}

#[test]
fn no_touch_leaves_access_time_alone_except_for_touch() {
    // Redis 7.2's CLIENT NO-TOUCH (the 7.0 reference has none): under an LFU policy a new
    // key's counter (5) always climbs on its first access, so one read shows.
    let p = common::luagate_shards(2);
    let mut c = p.raw();
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["SET", "t", "v"]);
    assert_eq!(c.cmd_str(&["OBJECT", "FREQ", "k"]), ":5\r\n");
    assert_eq!(
        c.cmd_str(&["CLIENT", "NO-TOUCH", "maybe"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(c.cmd_str(&["CLIENT", "NO-TOUCH", "on"]), "+OK\r\n");
    assert_eq!(info_flags(&mut c), "flags=T redir=-1 ");
    c.cmd(&["GET", "k"]);
    c.cmd(&["MGET", "k", "t"]);
    c.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"]);
    assert_eq!(c.cmd_str(&["OBJECT", "FREQ", "k"]), ":5\r\n");
    // TOUCH still touches, pipelined among reads that do not.
    let mut pipe = Vec::new();
    for cmd in [&["GET", "t"][..], &["TOUCH", "t"], &["GET", "t"]] {
        let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        pipe.extend(common::encode_cmd(&args));
    }
    c.send(&pipe);
    for _ in 0..3 {
        c.read_reply().unwrap();
    }
    assert_eq!(c.cmd_str(&["OBJECT", "FREQ", "t"]), ":6\r\n");
    // Another client still touches.
    let mut other = p.raw();
    other.cmd(&["GET", "k"]);
    assert_eq!(c.cmd_str(&["OBJECT", "FREQ", "k"]), ":6\r\n");
    assert_eq!(c.cmd_str(&["CLIENT", "NO-TOUCH", "off"]), "+OK\r\n");
    assert_eq!(info_flags(&mut c), "flags=N redir=-1 ");
    // RESET turns it off too.
    c.cmd(&["CLIENT", "NO-TOUCH", "on"]);
    c.cmd(&["RESET"]);
    assert_eq!(info_flags(&mut c), "flags=N redir=-1 ");
}

#[test]
fn a_follower_invalidates_its_tracking_clients_for_the_leaders_writes() {
    let leader = common::luagate_shards(2);
    let follower = common::luagate(&["--shards", "2", "--replicaof", &leader.addr()]);
    let mut l = leader.raw();
    let mut f = follower.raw();
    l.cmd(&["SET", "k", "1"]);
    common::wait_synced(&mut l, &mut f);
    let mut a = resp3(&follower);
    assert_eq!(a.cmd_str(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    assert_eq!(a.cmd_str(&["GET", "k"]), "$1\r\n1\r\n");
    l.cmd(&["SET", "k", "2"]);
    common::wait_synced(&mut l, &mut f);
    assert_eq!(
        pushes(&mut a),
        [">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"]
    );
    a.cmd(&["GET", "k"]);
    l.cmd(&["FLUSHALL"]);
    common::wait_synced(&mut l, &mut f);
    assert_eq!(pushes(&mut a), [">2\r\n$10\r\ninvalidate\r\n_\r\n"]);
}

#[test]
fn keys_evicted_under_maxmemory_are_invalidated() {
    let p = common::luagate_shards(2);
    let mut a = resp3(&p);
    let mut b = p.raw();
    let tracked: Vec<String> = (0..100).map(|i| format!("tracked:{i}")).collect();
    for k in &tracked {
        b.cmd(&["SET", k, "v"]);
    }
    a.cmd(&["CLIENT", "TRACKING", "on"]);
    for k in &tracked {
        a.cmd(&["GET", k]);
    }
    let info = b.cmd_str(&["INFO", "memory"]);
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    let limit = (used + 4 * 1024 * 1024).to_string();
    b.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    b.cmd(&["CONFIG", "SET", "maxmemory", &limit]);
    let value = "v".repeat(1000);
    for i in 0..20_000 {
        assert_eq!(b.cmd_str(&["SET", &format!("fill:{i}"), &value]), "+OK\r\n");
    }
    let gone: Vec<&String> = tracked
        .iter()
        .filter(|k| b.cmd_str(&["EXISTS", k]) == ":0\r\n")
        .collect();
    assert!(!gone.is_empty(), "no tracked key was evicted");
    let heard = pushes(&mut a);
    for k in gone {
        let frame = format!(">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{k}\r\n", k.len());
        assert!(
            heard.contains(&frame),
            "{k} evicted without an invalidation"
        );
    }
}

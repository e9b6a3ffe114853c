//! Blocking list commands with several clients. Each scenario runs against luagate (4 shards)
//! and the reference redis-server and the replies every client saw must be identical; most
//! also assert the expected replies outright. Pauses only order the clients (a client must be
//! blocked before another pushes); nothing asserts how fast anything is.
mod common;

use common::{Proc, Raw};
use std::time::Duration;

/// Long enough for a command sent on one connection to have been processed (and blocked).
const SETTLE: Duration = Duration::from_millis(150);

/// For the negative checks only (nothing may happen): gives a wrong wake-up time to show.
fn settle() {
    std::thread::sleep(SETTLE);
}

fn wait_blocked(p: &Proc, n: usize) {
    common::wait_blocked_clients(&mut p.raw(), n);
}

fn s(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// Sends a command without waiting for its reply.
fn send(c: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    c.send_cmd(&a);
}

fn read(c: &mut Raw) -> String {
    s(c.read_reply().expect("reply"))
}

fn keys_on_distinct_shards(n: usize) -> Vec<String> {
    common::keys_on_distinct_shards("key", n, 4)
}

#[test]
fn push_wakes_each_blocking_command() {
    let t = common::on_both(|p| {
        let mut log = Vec::new();
        let cases: &[(&[&str], &[&str])] = &[
            (&["BLPOP", "k", "0"], &["RPUSH", "k", "a", "b"]),
            (&["BRPOP", "k2", "k3", "5"], &["LPUSH", "k3", "x"]),
            (
                &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"],
                &["RPUSH", "src", "1", "2"],
            ),
            (&["BRPOPLPUSH", "src2", "dst", "0"], &["RPUSH", "src2", "3"]),
            (
                &["BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "3"],
                &["RPUSH", "m2", "p", "q"],
            ),
        ];
        for (block, push) in cases {
            let mut a = p.raw();
            let mut b = p.raw();
            send(&mut a, block);
            wait_blocked(p, 1);
            log.push(b.cmd_str(push));
            log.push(read(&mut a));
        }
        let mut c = p.raw();
        for k in ["k", "src", "dst", "src2", "m2"] {
            log.push(c.cmd_str(&["LRANGE", k, "0", "-1"]));
        }
        log
    });
    assert_eq!(t[1], "*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    assert_eq!(t[3], "*2\r\n$2\r\nk3\r\n$1\r\nx\r\n");
    assert_eq!(t[5], "$1\r\n2\r\n");
    assert_eq!(t[7], "$1\r\n3\r\n");
    assert_eq!(t[9], "*2\r\n$2\r\nm2\r\n*2\r\n$1\r\nq\r\n$1\r\np\r\n");
}

#[test]
fn timeouts_give_each_commands_null_reply() {
    let t = common::on_both(|p| {
        let mut c = p.raw();
        let mut log = Vec::new();
        for resp in ["2", "3"] {
            c.cmd(&["HELLO", resp]);
            log.push(c.cmd_str(&["BLPOP", "nokey", "0.1"]));
            log.push(c.cmd_str(&["BRPOP", "nokey", "other", "0.05"]));
            log.push(c.cmd_str(&["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.1"]));
            log.push(c.cmd_str(&["BRPOPLPUSH", "nokey", "d", "0.0001"]));
            log.push(c.cmd_str(&["BLMPOP", "0.1", "1", "nokey", "LEFT"]));
            log.push(c.cmd_str(&["EXISTS", "d"]));
        }
        log
    });
    assert_eq!(
        &t[..6],
        &["*-1\r\n", "*-1\r\n", "*-1\r\n", "*-1\r\n", "*-1\r\n", ":0\r\n"]
    );
    assert_eq!(&t[6..11], &["_\r\n", "_\r\n", "_\r\n", "_\r\n", "_\r\n"]);
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let t = common::on_both(|p| {
        let mut clients: Vec<Raw> = (0..5).map(|_| p.raw()).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            send(c, &["BLPOP", "q", "0"]);
            wait_blocked(p, i + 1);
        }
        let mut pusher = p.raw();
        let mut log = vec![pusher.cmd_str(&["RPUSH", "q", "a", "b", "c"])];
        // The three oldest get one element each, in order; the younger ones still wait.
        for c in clients.iter_mut().take(3) {
            log.push(read(c));
        }
        log.push(pusher.cmd_str(&["RPUSH", "q", "d"]));
        log.push(read(&mut clients[3]));
        log.push(pusher.cmd_str(&["LPUSH", "q", "e"]));
        log.push(read(&mut clients[4]));
        log.push(pusher.cmd_str(&["EXISTS", "q"]));
        log
    });
    assert_eq!(t[1], "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(t[2], "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert_eq!(t[3], "*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
    assert_eq!(t[5], "*2\r\n$1\r\nq\r\n$1\r\nd\r\n");
}

#[test]
fn one_push_at_a_time_goes_to_the_oldest() {
    common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut pusher = p.raw();
        send(&mut a, &["BRPOP", "q", "0"]);
        wait_blocked(p, 1);
        send(&mut b, &["BRPOP", "other", "q", "0"]);
        wait_blocked(p, 2);
        let mut log = vec![pusher.cmd_str(&["LPUSH", "q", "first"])];
        log.push(read(&mut a));
        log.push(pusher.cmd_str(&["LPUSH", "q", "second"]));
        log.push(read(&mut b));
        log
    });
}

#[test]
fn a_younger_client_on_another_key_is_not_held_back() {
    common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut pusher = p.raw();
        send(&mut a, &["BLPOP", "k1", "0"]);
        wait_blocked(p, 1);
        send(&mut b, &["BLPOP", "k1", "k2", "0"]);
        wait_blocked(p, 2);
        let mut log = vec![pusher.cmd_str(&["RPUSH", "k2", "x"])];
        log.push(read(&mut b));
        log.push(pusher.cmd_str(&["RPUSH", "k1", "y"]));
        log.push(read(&mut a));
        log
    });
}

/// Two keys filled back to back: the older client takes the key it waits on even if the
/// younger one (waiting on both) retries first.
#[test]
fn an_older_client_keeps_its_key_when_both_fill() {
    let k = keys_on_distinct_shards(2);
    common::on_both(|p| {
        let mut log = Vec::new();
        for round in 0..3 {
            let mut a = p.raw();
            let mut b = p.raw();
            let mut pusher = p.raw();
            send(&mut a, &["BLPOP", &k[0], "0"]);
            wait_blocked(p, 1);
            if round % 2 == 0 {
                send(&mut b, &["BLPOP", &k[0], &k[1], "0"]);
            } else {
                send(
                    &mut b,
                    &["BLMPOP", "0", "2", &k[0], &k[1], "LEFT", "COUNT", "2"],
                );
            }
            wait_blocked(p, 2);
            let mut batch = common::encode_cmd(&[b"RPUSH", k[0].as_bytes(), b"first"]);
            batch.extend(common::encode_cmd(&[b"RPUSH", k[1].as_bytes(), b"second"]));
            pusher.send(&batch);
            log.push(read(&mut pusher));
            log.push(read(&mut pusher));
            log.push(read(&mut a));
            log.push(read(&mut b));
        }
        log
    });
}

#[test]
fn cross_shard_blmove_and_multi_shard_blpop() {
    let k = keys_on_distinct_shards(4);
    let t = common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut log = Vec::new();
        send(&mut a, &["BLMOVE", &k[0], &k[1], "LEFT", "RIGHT", "0"]);
        wait_blocked(p, 1);
        log.push(b.cmd_str(&["RPUSH", &k[0], "moved"]));
        log.push(read(&mut a));
        log.push(b.cmd_str(&["LRANGE", &k[1], "0", "-1"]));
        log.push(b.cmd_str(&["EXISTS", &k[0]]));
        send(&mut a, &["BLPOP", &k[0], &k[2], &k[3], "0"]);
        wait_blocked(p, 1);
        log.push(b.cmd_str(&["RPUSH", &k[3], "last"]));
        log.push(read(&mut a));
        send(
            &mut a,
            &[
                "BLMPOP", "0", "3", &k[0], &k[2], &k[3], "LEFT", "COUNT", "5",
            ],
        );
        wait_blocked(p, 1);
        log.push(b.cmd_str(&["RPUSH", &k[2], "u", "v"]));
        log.push(read(&mut a));
        log
    });
    assert_eq!(t[1], "$5\r\nmoved\r\n");
    assert_eq!(
        t[5],
        format!("*2\r\n${}\r\n{}\r\n$4\r\nlast\r\n", k[3].len(), k[3])
    );
}

#[test]
fn a_blocked_client_does_not_stop_others() {
    let k = keys_on_distinct_shards(4);
    common::on_both(|p| {
        let mut blocked = p.raw();
        let mut other = p.raw();
        send(&mut blocked, &["BLPOP", &k[0], "0"]);
        wait_blocked(p, 1);
        let mut log = Vec::new();
        for key in &k {
            log.push(other.cmd_str(&["SET", &format!("{key}s"), "v"]));
            log.push(other.cmd_str(&["RPUSH", &format!("{key}l"), "v"]));
            log.push(other.cmd_str(&["LLEN", key]));
        }
        log.push(other.cmd_str(&["PING"]));
        log.push(other.cmd_str(&["BLPOP", &k[1], "0.05"]));
        log.push(other.cmd_str(&["RPUSH", &k[0], "go"]));
        log.push(read(&mut blocked));
        log
    });
}

#[test]
fn replies_before_a_blocking_command_are_not_held_back() {
    common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut batch = common::encode_cmd(&[b"PING"]);
        batch.extend(common::encode_cmd(&[b"RPUSH", b"x", b"1"]));
        batch.extend(common::encode_cmd(&[b"BLPOP", b"k", b"0"]));
        a.send(&batch);
        // These arrive while BLPOP still waits (it waits forever until the push below).
        let mut log = vec![read(&mut a), read(&mut a)];
        log.push(b.cmd_str(&["RPUSH", "k", "v"]));
        log.push(read(&mut a));
        log
    });
}

#[test]
fn a_client_that_leaves_while_blocked_takes_nothing() {
    common::on_both(|p| {
        let mut log = Vec::new();
        {
            let mut gone = p.raw();
            send(&mut gone, &["BLPOP", "k", "0"]);
            wait_blocked(p, 1);
        }
        wait_blocked(p, 0);
        let mut c = p.raw();
        let id = c.cmd_str(&["CLIENT", "ID"]);
        let _ = id;
        let mut killed = p.raw();
        let kid = killed.cmd_str(&["CLIENT", "ID"]);
        let kid = kid.trim_start_matches(':').trim().to_string();
        send(&mut killed, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
        wait_blocked(p, 1);
        log.push(c.cmd_str(&["CLIENT", "KILL", "ID", &kid]));
        assert!(killed.is_closed());
        log.push(c.cmd_str(&["RPUSH", "k", "v"]));
        settle();
        log.push(c.cmd_str(&["LRANGE", "k", "0", "-1"]));
        log.push(c.cmd_str(&["EXISTS", "d"]));
        log
    });
}

#[test]
fn type_changes_while_blocked() {
    common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut log = Vec::new();
        // A key turned into a string is skipped; the client stays blocked (Redis 7.0).
        send(&mut a, &["BLPOP", "k1", "k2", "0"]);
        wait_blocked(p, 1);
        log.push(b.cmd_str(&["SET", "k1", "str"]));
        settle();
        log.push(b.cmd_str(&["RPUSH", "k2", "x"]));
        log.push(read(&mut a));
        // BLMOVE whose destination became a string reports WRONGTYPE and moves nothing.
        send(&mut a, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]);
        wait_blocked(p, 1);
        log.push(b.cmd_str(&["SET", "dst", "str"]));
        log.push(b.cmd_str(&["RPUSH", "src", "y"]));
        log.push(read(&mut a));
        log.push(b.cmd_str(&["LRANGE", "src", "0", "-1"]));
        log
    });
}

/// `BLPOP q 0` from `elements.len()` clients, then one RPUSH per element from another client,
/// each after the previous one's reply. Returns the replies the blocked clients got, sorted,
/// and the pushing client.
fn block_then_push_one_by_one(p: &Proc, elements: &[String]) -> (Vec<String>, Raw) {
    let mut clients: Vec<Raw> = elements.iter().map(|_| p.raw()).collect();
    for c in clients.iter_mut() {
        send(c, &["BLPOP", "q", "0"]);
    }
    wait_blocked(p, clients.len());
    let mut pusher = p.raw();
    for e in elements {
        pusher.cmd(&["RPUSH", "q", e]);
    }
    let mut got: Vec<String> = clients.iter_mut().map(read).collect();
    got.sort();
    (got, pusher)
}

#[test]
fn many_waiters_each_get_exactly_one_element() {
    const N: usize = 12;
    let t = common::on_both(|p| {
        let elements: Vec<String> = (0..N).map(|i| format!("e{i:02}")).collect();
        let (mut got, mut pusher) = block_then_push_one_by_one(p, &elements);
        got.push(pusher.cmd_str(&["EXISTS", "q"]));
        got
    });
    assert_eq!(t.len(), N + 1);
    assert_eq!(t[N], ":0\r\n");
}

#[test]
fn waiting_is_per_database() {
    common::on_both(|p| {
        let mut a = p.raw();
        let mut b = p.raw();
        let mut log = vec![a.cmd_str(&["SELECT", "1"])];
        send(&mut a, &["BLPOP", "k", "0"]);
        wait_blocked(p, 1);
        // A push to the same name in database 0 is not for the waiter in database 1.
        log.push(b.cmd_str(&["RPUSH", "k", "db0"]));
        log.push(b.cmd_str(&["SELECT", "1"]));
        log.push(b.cmd_str(&["RPUSH", "k", "db1"]));
        log.push(read(&mut a));
        log.push(b.cmd_str(&["SELECT", "0"]));
        log.push(b.cmd_str(&["LRANGE", "k", "0", "-1"]));
        log
    });
}

/// The sorted-set blocking pops plug into the same machinery as the list ones.
#[test]
fn bzpopmin_and_bzmpop_wake_on_zadd() {
    let s = common::luagate_shards(4);
    let mut waiter = s.raw();
    let mut pusher = s.raw();
    waiter.send_cmd(&[b"BZPOPMIN", b"zq", b"5"]);
    wait_blocked(&s, 1);
    assert_eq!(pusher.cmd(&["ZADD", "zq", "2", "b", "1", "a"]), b":2\r\n");
    assert_eq!(
        waiter.read_reply().unwrap(),
        b"*3\r\n$2\r\nzq\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    waiter.send_cmd(&[b"BZMPOP", b"5", b"2", b"zx", b"zq", b"MAX"]);
    assert_eq!(
        waiter.read_reply().unwrap(),
        b"*2\r\n$2\r\nzq\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(waiter.cmd(&["BZPOPMAX", "zq", "0.1"]), b"*-1\r\n");
}

/// A client blocked on a key is served right after the command that fills it, before the next
/// command of anyone: a pop pipelined behind the push finds the list already served. Inside
/// MULTI the transaction's own pops go first (clients are served when EXEC ends), and a
/// blocked client in another database or protocol is served as itself.
#[test]
fn blocked_clients_are_served_before_the_next_command() {
    let t = common::on_both(|p| {
        let mut a = p.raw();
        send(&mut a, &["BLPOP", "k", "0"]);
        wait_blocked(p, 1);
        let mut b = p.raw();
        // One write: push, then pop on the same connection.
        b.send(b"*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nx\r\n*2\r\n$4\r\nLPOP\r\n$1\r\nk\r\n");
        let mut log = vec![read(&mut b), read(&mut b), read(&mut a)];
        // A transaction: its own LPOP takes an element first, the blocked client the next.
        let mut c = p.raw();
        assert!(c.cmd_str(&["HELLO", "3"]).starts_with('%'));
        c.cmd_str(&["SELECT", "2"]);
        send(&mut c, &["BRPOP", "m", "0"]);
        wait_blocked(p, 1);
        let mut d = p.raw();
        d.cmd_str(&["SELECT", "2"]);
        log.push(d.cmd_str(&["MULTI"]));
        log.push(d.cmd_str(&["RPUSH", "m", "1", "2", "3"]));
        log.push(d.cmd_str(&["RPOP", "m"]));
        log.push(d.cmd_str(&["EXEC"]));
        log.push(read(&mut c));
        log.push(d.cmd_str(&["LRANGE", "m", "0", "-1"]));
        log
    });
    assert_eq!(t[0], ":1\r\n");
    assert_eq!(
        t[1], "$-1\r\n",
        "the pipelined LPOP found the element already served"
    );
    assert_eq!(t[2], "*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    assert_eq!(
        t[7], "*2\r\n$1\r\nm\r\n$1\r\n2\r\n",
        "RESP3 client served as itself"
    );
}

/// Timeouts read as Redis reads them, for every blocking command alike: hex floats are
/// accepted and sub-millisecond timeouts round up (they do not mean "forever").
#[test]
fn timeouts_are_parsed_alike_by_every_blocking_command() {
    common::on_both(|p| {
        let mut c = p.raw();
        let mut log = Vec::new();
        for cmd in ["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"] {
            for t in ["0.0001", "0x1p-6", " 1", "1e5000", "inf", "-1"] {
                log.push(c.cmd_str(&[cmd, "nokey", t]));
            }
        }
        log.push(c.cmd_str(&["BLMPOP", "0x1p-6", "1", "nokey", "LEFT"]));
        log.push(c.cmd_str(&["BZMPOP", "0.0001", "1", "nokey", "MIN"]));
        log
    });
}

/// Many clients woken at once by one push each retry in units of their own, which can queue
/// behind the next push's unit that serves them first. Such a stale retry once popped a second
/// element for an already served client, and the first one, waiting to be delivered, was lost
/// (about one run in forty of `many_waiters_each_get_exactly_one_element` under load). Every
/// element must reach exactly one client, in every round.
#[test]
fn no_element_is_lost_when_woken_clients_retry_behind_later_pushes() {
    const N: usize = 24;
    const ROUNDS: usize = 6;
    let s = common::luagate_shards(4);
    for round in 0..ROUNDS {
        let elements: Vec<String> = (0..N).map(|i| format!("r{round}e{i:02}")).collect();
        let (got, mut pusher) = block_then_push_one_by_one(&s, &elements);
        let expected: Vec<String> = elements
            .iter()
            .map(|e| format!("*2\r\n$1\r\nq\r\n${}\r\n{e}\r\n", e.len()))
            .collect();
        assert_eq!(got, expected, "round {round}");
        assert_eq!(pusher.cmd_str(&["LLEN", "q"]), ":0\r\n");
    }
}

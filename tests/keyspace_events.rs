//! Keyspace notifications against redis-server 7.0: the same commands on both, the messages a
//! `PSUBSCRIBE __key*__:*` connection receives compared in order, byte for byte.

mod common;
use common::{Diff, Raw};
use std::time::Duration;

/// Marker published after each case: the pattern matches it, so it ends the case's messages.
const MARK: &str = "__keymark__:end";

struct Events {
    d: Diff,
    sa: Raw,
    sb: Raw,
}

fn psubscribe(r: &mut Raw) {
    let reply = r.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    assert!(String::from_utf8_lossy(&reply).contains("psubscribe"));
}

/// The messages up to the marker, as lines `channel payload`; bounded.
fn drain(r: &mut Raw) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let m = r.read_reply().expect("subscriber closed or timed out");
        let items = common::array_items(&m).expect("a pmessage");
        let s: Vec<String> = items
            .iter()
            .map(|i| {
                let t = String::from_utf8_lossy(i).into_owned();
                t.split("\r\n").nth(1).unwrap_or("").to_string()
            })
            .collect();
        if s[2] == MARK {
            return out;
        }
        out.push(format!("{} {}", s[2], s[3]));
    }
    panic!("no end marker within 10000 messages");
}

impl Events {
    fn new(flags: &str) -> Events {
        Events::with(Diff::new(), flags)
    }

    fn with(mut d: Diff, flags: &str) -> Events {
        d.check(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        let mut sa = d.lg.raw();
        let mut sb = d.reference.raw();
        psubscribe(&mut sa);
        psubscribe(&mut sb);
        Events { d, sa, sb }
    }

    /// Publishes the marker on both and returns (luagate, redis) events up to it.
    fn collect(&mut self) -> (Vec<String>, Vec<String>) {
        self.d.a.cmd(&["PUBLISH", MARK, "x"]);
        self.d.b.cmd(&["PUBLISH", MARK, "x"]);
        (drain(&mut self.sa), drain(&mut self.sb))
    }

    /// Runs `script` (one command per line) on both, replies compared, then compares the events;
    /// returns them. `expect_some`: redis must have published something (no vacuous case).
    #[track_caller]
    fn case(&mut self, script: &str, expect_some: bool) -> Vec<String> {
        self.d.check_lines(script);
        let (x, y) = self.collect();
        if x != y {
            let at = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
            panic!(
                "events differ from #{at} (luagate left, redis right) for:\n{script}\n{:?}\n{:?}",
                &x[at.saturating_sub(2)..],
                &y[at.saturating_sub(2)..]
            );
        }
        assert_eq!(
            !y.is_empty(),
            expect_some,
            "redis events for:\n{script}: {y:?}"
        );
        y
    }
}

#[test]
fn config_flags_parse_and_canonical_form() {
    let mut d = Diff::new();
    for f in [
        "KEA",
        "Ex",
        "A",
        "Ag",
        "KA",
        "gsm",
        "n",
        "K$",
        "AKE",
        "",
        "AnKE",
        "Km",
        "lshzxetdKE",
        "g$lshzxetdnKEm",
        "EEE",
    ] {
        d.check(&["CONFIG", "SET", "notify-keyspace-events", f]);
        d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    }
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEq"]);
    d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
}

#[test]
fn strings_and_keys() {
    let mut e = Events::new("KEA");
    let y = e.case(
        "SET s1 v
         SET s1 v2 EX 100
         SET s1 v3 PX 100000 GET
         SETEX s2 100 v
         PSETEX s3 100000 v
         SETNX s4 v
         SETNX s4 v
         GETSET s4 w
         MSET m1 a m2 b
         MSETNX m3 a m4 b
         APPEND s5 abc
         SETRANGE s5 1 zz
         INCR n1
         INCRBY n1 5
         DECR n1
         DECRBY n1 2
         INCRBYFLOAT n2 1.5
         GETDEL s5
         GETDEL s5
         GETEX s4 EX 100
         GETEX s4 PERSIST
         SETBIT b1 3 1
         PFADD h1 a b
         PFADD h1 a",
        true,
    );
    assert!(y.contains(&"__keyevent@0__:incrby n1".to_string()));
    e.case(
        "SET k1 v
         SET k2 v
         SET k3 v
         DEL k1 nosuch k2
         UNLINK k3 nosuch
         SET k4 v
         EXPIRE k4 100
         PEXPIRE k4 100000
         PERSIST k4
         PERSIST k4
         EXPIREAT k4 4000000000
         PEXPIRE k4 -1
         SET k5 v
         RENAME k5 k6
         SET k7 v
         RENAMENX k6 k7
         RENAMENX k6 k8",
        true,
    );
    // No events for failed or no-op commands.
    e.case(
        "DEL nosuch
         EXPIRE nosuch 10
         GET nosuch
         SADD s1 x
         INCR s1",
        false,
    );
}

#[test]
fn lists_hashes_sets_zsets() {
    let mut e = Events::new("KEA");
    e.case(
        "RPUSH l1 a b c d e
         LPUSH l1 z
         LPUSHX l1 y
         RPUSHX l1 x
         LPUSHX nosuch y
         LINSERT l1 BEFORE a q
         LSET l1 0 w
         LPOP l1
         RPOP l1 2
         LREM l1 1 q
         LTRIM l1 0 1
         RPOPLPUSH l1 l2
         LMOVE l1 l2 LEFT RIGHT
         LMOVE l2 l2 RIGHT LEFT
         LTRIM l2 5 10
         RPUSH l3 a
         LPOP l3",
        true,
    );
    e.case(
        "HSET h1 a 1 b 2
         HMSET h1 c 3
         HSETNX h1 a 9
         HSETNX h1 d 4
         HINCRBY h1 a 5
         HINCRBYFLOAT h1 b 1.5
         HDEL h1 a nosuch
         HDEL h1 b c d",
        true,
    );
    e.case(
        "SADD s1 a b c
         SADD s1 a
         SREM s1 a nosuch
         SMOVE s1 s2 b
         SMOVE s1 s2 c
         SADD s3 x y
         SADD s4 y z
         SINTERSTORE {t}d1 s3 s4
         SUNIONSTORE d2 s3 s4
         SDIFFSTORE d3 s3 s3
         SREM s2 b
         SPOP s2
         SPOP s2
         SADD s6 a
         SPOP s6 5",
        true,
    );
    e.case(
        "ZADD z1 1 a 2 b 3 c 4 d 5 e
         ZADD z1 INCR 5 a
         ZINCRBY z1 1 b
         ZREM z1 a nosuch
         ZREMRANGEBYSCORE z1 0 2
         ZREMRANGEBYRANK z1 0 0
         ZADD z2 0 a 0 b 0 c
         ZREMRANGEBYLEX z2 [a [a
         ZPOPMIN z2
         ZPOPMAX z2
         ZADD z3 1 x
         ZUNIONSTORE d4 2 z1 z3
         ZINTERSTORE d5 2 z1 z3
         ZDIFFSTORE d6 1 z3
         ZRANGESTORE d7 z3 0 -1
         ZRANGESTORE d7 z3 5 6",
        true,
    );
    e.case(
        "XADD x1 1-1 f v
         XADD x1 2-1 f v
         XDEL x1 1-1
         XDEL x1 9-9
         XSETID x1 5-5",
        true,
    );
}

#[test]
fn pops_geo_sort_bits_copy_move_streams() {
    let mut e = Events::new("KEA");
    e.case(
        "RPUSH l a b c
         BLPOP nosuch l 0
         BRPOP l 0
         LMPOP 2 x l RIGHT COUNT 5
         RPUSH l a b
         LMPOP 1 l LEFT
         BLMPOP 0 1 l RIGHT COUNT 1
         ZADD z 1 a 2 b 3 c 4 d
         BZPOPMIN z 0
         BZPOPMAX nosuch z 0
         ZMPOP 1 z MAX
         BZMPOP 0 1 z MIN COUNT 9",
        true,
    );
    e.case(
        "GEOADD g 13.36 38.11 p1 15.08 37.5 p2
         GEOADD g 13.36 38.11 p1
         GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km
         GEOSEARCHSTORE gs g FROMLONLAT 0 0 BYRADIUS 1 km
         GEOSEARCHSTORE gs g FROMLONLAT 0 0 BYRADIUS 1 km
         GEORADIUS g 15 37 200 km STORE gr
         GEORADIUSBYMEMBER g p1 200 km STOREDIST grd
         RPUSH sl 3 1 2
         SORT sl STORE sd
         SORT nosuch STORE sd
         SORT nosuch STORE sd
         SET b1 a
         BITOP NOT b2 b1
         BITOP AND b3 nosuch
         BITFIELD bf SET u8 0 1
         BITFIELD bf INCRBY u8 0 1 GET u8 0
         BITFIELD bf GET u8 0
         COPY b1 b4
         COPY b1 b4
         COPY b1 b4 REPLACE
         COPY b1 b5 DB 2
         MOVE b4 1
         MOVE b4 1
         PFADD h1 a
         PFMERGE h2 h1
         SET a 1
         RENAME a a",
        true,
    );
    e.case(
        "XADD s1 1-1 a 1
         XADD s1 2-1 a 1
         XADD s1 MAXLEN 1 3-1 a 1
         XADD s1 MAXLEN 5 4-1 a 1
         XADD s1 NOMKSTREAM MAXLEN 5 5-1 a 1
         XADD nos NOMKSTREAM 5-1 a 1
         XADD s9 MAXLEN 0 1-1 a 1
         XTRIM s1 MAXLEN 1
         XTRIM s1 MAXLEN 1
         XGROUP CREATE s1 g1 0
         XGROUP CREATE s2 g1 $ MKSTREAM
         XGROUP CREATECONSUMER s1 g1 c1
         XGROUP CREATECONSUMER s1 g1 c1
         XADD s1 6-1 a 1
         XREADGROUP GROUP g1 c2 COUNT 1 STREAMS s1 >
         XREADGROUP GROUP g1 c2 COUNT 1 STREAMS s1 >
         XREADGROUP GROUP g1 c5 COUNT 1 STREAMS s1 0
         XACK s1 g1 5-1
         XCLAIM s1 g1 c3 0 6-1
         XCLAIM s1 g1 c3 0 6-1
         XAUTOCLAIM s1 g1 c4 0 0
         XGROUP SETID s1 g1 0
         XGROUP DELCONSUMER s1 g1 c1
         XGROUP DELCONSUMER s1 g1 nosuch
         XGROUP DESTROY s1 g1
         XGROUP DESTROY s1 g1
         XDEL s1 5-1
         XSETID s1 9-9
         DEL s1",
        true,
    );
}

#[test]
fn blocked_clients() {
    let mut e = Events::new("KEA");
    // A client blocked on a list is served by a push: push's event, then the pop's.
    let mut ba = e.d.lg.raw();
    let mut bb = e.d.reference.raw();
    ba.send_cmd(&[b"BLMOVE", b"{bl}", b"{bl}2", b"LEFT", b"RIGHT", b"0"]);
    bb.send_cmd(&[b"BLMOVE", b"{bl}", b"{bl}2", b"LEFT", b"RIGHT", b"0"]);
    common::wait_blocked_clients(&mut e.d.a, 1);
    common::wait_blocked_clients(&mut e.d.b, 1);
    e.case("RPUSH {bl} a", true);
    assert_eq!(ba.read_reply(), bb.read_reply());
}

#[test]
fn no_op_and_edge_writes() {
    let mut e = Events::new("KEA");
    e.case(
        "SET k2 v
         SET k2 w KEEPTTL
         SET k3 v XX GET
         RPUSH l a b
         LTRIM l 0 -1
         LINSERT l BEFORE zz q
         LREM l 0 zz
         ZADD z 5 a
         ZADD z GT 1 a
         ZADD z NX 1 a
         HINCRBY h f 1
         HSET h f 1
         HSETNX h f 2
         SADD s a
         SMOVE s s a
         SMOVE s s2 nosuch
         EXPIRE k2 100 NX
         EXPIRE k2 100 NX
         APPEND k2 x
         INCRBYFLOAT k2x 0
         GETEX k2 EXAT 1
         SET k4 v
         EXPIRE k4 0",
        true,
    );
}

#[test]
fn flag_classes_filter() {
    let script = "SET a 1
         EXPIRE a 100
         RPUSH l a
         HSET h f v
         SADD s m
         ZADD z 1 m
         DEL a l h s z
         GET nosuch
         GET a";
    for flags in [
        "K$", "E$", "Kg", "El", "Ks", "Eh", "Kz", "KEA", "Em", "Km", "KEn", "KA", "A", "", "KEx",
    ] {
        let mut e = Events::new(flags);
        let some = (flags.contains('K') || flags.contains('E'))
            && !flags.trim_start_matches(['K', 'E']).is_empty()
            && flags != "KEx";
        e.case(script, some);
    }
}

#[test]
fn expiry_lazy_and_active() {
    let dbg = ["--enable-debug-command", "yes"];
    let d = Diff::with_flags(&["--shards", "4", dbg[0], dbg[1]], &dbg);
    let mut e = Events::with(d, "KEA");
    // Active expiry off first, so it cannot take the keys before the lazy case reads them
    // (it did once on a loaded machine, between the keys' expiry and the switch).
    e.case(
        "DEBUG SET-ACTIVE-EXPIRE 0
         SET e1 v PX 1
         SET e2 v PX 1
         SET e3 v PX 1",
        true,
    );
    std::thread::sleep(Duration::from_millis(20));
    // Lazy expiry: a read finds them gone; a write over one publishes `expired` first.
    e.case(
        "GET e1
         SET e2 w",
        true,
    );
    // Active expiry: bounded wait for the cycle to delete e3.
    e.d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    for _ in 0..100 {
        let a = e.d.a.cmd(&["DBSIZE"]);
        let b = e.d.b.cmd(&["DBSIZE"]);
        if a == b":1\r\n" && b == b":1\r\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (x, y) = e.collect();
    assert_eq!(x, y);
    assert_eq!(
        y,
        vec![
            "__keyspace@0__:e3 expired".to_string(),
            "__keyevent@0__:expired e3".to_string()
        ]
    );
}

/// A key that expires where no command looks it up (EXEC's check of a watched key, a blocked
/// client's retry) is only checked there, as in Redis: it expires, publishing `expired`, when
/// a command next looks it up (before, a retry deleted it silently).
#[test]
fn expiry_outside_commands() {
    let dbg = ["--enable-debug-command", "yes"];
    let d = Diff::with_flags(&["--shards", "4", dbg[0], dbg[1]], &dbg);
    let mut e = Events::with(d, "KEA");
    e.case(
        "DEBUG SET-ACTIVE-EXPIRE 0
         SET w v PX 50
         WATCH w",
        true,
    );
    std::thread::sleep(Duration::from_millis(120));
    e.case(
        "MULTI
         SET other 1
         EXEC
         GET w
         EXISTS w",
        true,
    );
    // A blocked client's retry looks at every key it waits on; one that expired meanwhile is
    // left for the next lookup, and not handed to the retried command.
    let mut ba = e.d.lg.raw();
    let mut bb = e.d.reference.raw();
    ba.send_cmd(&[b"BLPOP", b"{b}1", b"{b}2", b"0"]);
    bb.send_cmd(&[b"BLPOP", b"{b}1", b"{b}2", b"0"]);
    common::wait_blocked_clients(&mut e.d.a, 1);
    common::wait_blocked_clients(&mut e.d.b, 1);
    e.case("SET {b}1 str PX 50", true);
    std::thread::sleep(Duration::from_millis(120));
    e.case(
        "RPUSH {b}2 x
         GET {b}1",
        true,
    );
    assert_eq!(ba.read_reply(), bb.read_reply());
}

#[test]
fn new_and_keymiss() {
    for flags in ["KEn", "KEAn"] {
        new_events(flags);
    }
    keymiss();
}

fn new_events(flags: &str) {
    let mut e = Events::new(flags);
    e.case(
        "SET a 1
         SET a 2
         RPUSH l x
         SADD s m
         MSET m1 1 m2 2 m1 3
         SET ra 1
         RENAME ra rb
         SET rc 1
         RENAME rb rc
         COPY rc rd
         COPY rc rd REPLACE
         COPY rc rd DB 2
         MOVE rd 1
         SADD s1 x
         SINTERSTORE s2 s1 s1
         RPUSH l 1
         LMOVE l l2 LEFT RIGHT
         INCR n
         HSET h f v
         SETBIT bt 1 1
         PFADD p a
         XADD x 1-1 a b
         GEOADD g 1 1 m
         ZADD z 1 m
         BITOP NOT bt2 bt",
        true,
    );
}

fn keymiss() {
    let mut e = Events::new("KEm");
    e.case(
        "GET nosuch
         LRANGE nosuch 0 -1
         HGET nosuch f
         SET a 1
         GET a
         MGET a n1 a n2 n1
         EXISTS n1 a
         TYPE n3
         STRLEN n4
         LPOP n5
         TTL q3
         OBJECT ENCODING q7
         HEXISTS q9 f
         SUNION q1 a q2
         SADD st x
         SUNION q1 st q2
         LRANGE q1
         ZSCORE q12 m
         XLEN q16
         PFCOUNT q15
         SINTERSTORE d1 q1 q2
         SUNIONSTORE d2 q3
         ZUNIONSTORE d3 1 q4
         SORT q5 STORE d4
         COPY q6 d5
         BITOP AND d6 q7 q8
         PFMERGE d7 q9
         GEOSEARCHSTORE d8 q10 FROMMEMBER m BYRADIUS 1 km
         RPOPLPUSH q11 d9
         SMOVE q12 d10 m
         ZRANGESTORE d11 q13 0 1
         LMOVE q14 d12 LEFT LEFT
         PFCOUNT q15 q16
         INCR q17
         GETEX q18
         GETDEL q19
         LPOP q20
         SET q21 v GET
         SET q21 x GET
         GETSET q22 v
         LCS q23 q24
         BITFIELD q25 GET u8 0
         BITFIELD q26 SET u8 0 1
         BITFIELD_RO q27 GET u8 0
         XREAD STREAMS q28 0
         XREAD COUNT 1 STREAMS q29 q30 0 0
         XINFO STREAM q31
         MEMORY USAGE q32",
        true,
    );
}

#[test]
fn databases_transactions_scripts() {
    let mut e = Events::new("KEA");
    e.case(
        "SELECT 3
         SET a 1
         SELECT 0
         FLUSHDB
         SET b 1
         FLUSHALL",
        true,
    );
    e.case(
        "MULTI
         SET a 1
         INCR a
         LPUSH l x
         EXEC",
        true,
    );
    // A script touching keys on several shards (luagate runs it, may abandon and re-run it).
    e.case(
        "EVAL redis.call('set',KEYS[1],'1');redis.call('set',KEYS[2],'2');redis.call('del',KEYS[1]) 2 sk1 sk2
         EVAL redis.call('incr','undeclared1');redis.call('incr','undeclared2');return(1) 0",
        true,
    );
}

#[test]
fn resp3_subscriber() {
    let mut d = Diff::new();
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sa = d.lg.raw();
    let mut sb = d.reference.raw();
    for s in [&mut sa, &mut sb] {
        s.cmd(&["HELLO", "3"]);
    }
    let (x, y) = (
        sa.cmd(&["SUBSCRIBE", "__keyspace@0__:k"]),
        sb.cmd(&["SUBSCRIBE", "__keyspace@0__:k"]),
    );
    assert_eq!(x, y);
    d.check(&["SET", "k", "v"]);
    let (x, y) = (sa.read_reply().unwrap(), sb.read_reply().unwrap());
    assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
    assert!(String::from_utf8_lossy(&y).starts_with('>'));
}

#[test]
fn follower_publishes_applied_writes() {
    let leader = common::luagate(&["--shards", "4"]);
    let follower = common::luagate(&["--shards", "4", "--replicaof", &leader.addr()]);
    let mut l = leader.raw();
    let mut f = follower.raw();
    common::wait_synced(&mut l, &mut f);
    f.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = follower.raw();
    psubscribe(&mut sub);
    l.cmd(&["SET", "a", "1"]);
    l.cmd(&["RPUSH", "lst", "x"]);
    l.cmd(&["DEL", "a"]);
    l.cmd(&["SET", "ex", "v", "PX", "50"]);
    l.cmd(&["LMOVE", "lst", "lst2", "LEFT", "RIGHT"]);
    common::wait_synced(&mut l, &mut f);
    // The follower hides the expired key and publishes nothing until the leader's DEL.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(f.cmd(&["GET", "ex"]), b"$-1\r\n");
    common::wait_synced(&mut l, &mut f);
    l.cmd(&["GET", "ex"]);
    common::wait_synced(&mut l, &mut f);
    f.cmd(&["PUBLISH", MARK, "x"]);
    assert_eq!(
        drain(&mut sub),
        vec![
            "__keyspace@0__:a set",
            "__keyevent@0__:set a",
            "__keyspace@0__:lst rpush",
            "__keyevent@0__:rpush lst",
            "__keyspace@0__:a del",
            "__keyevent@0__:del a",
            "__keyspace@0__:ex set",
            "__keyevent@0__:set ex",
            "__keyspace@0__:ex expire",
            "__keyevent@0__:expire ex",
            "__keyspace@0__:lst2 rpush",
            "__keyevent@0__:rpush lst2",
            "__keyspace@0__:lst lpop",
            "__keyevent@0__:lpop lst",
            "__keyspace@0__:lst del",
            "__keyevent@0__:del lst",
            "__keyspace@0__:ex del",
            "__keyevent@0__:del ex",
        ]
    );
}

/// Eviction under `maxmemory` publishes `evicted` for each key it drops (which keys go is the
/// sampler's choice, so luagate is checked against its own INFO, not against redis-server).
#[test]
fn evictions_publish_evicted() {
    let lg = common::luagate(&["--shards", "2"]);
    let mut c = lg.raw();
    let info = c.cmd_str(&["INFO", "memory"]);
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    let mut sub = lg.raw();
    psubscribe(&mut sub);
    c.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        &(used + 2 * 1024 * 1024).to_string(),
    ]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    let value = "v".repeat(1000);
    for i in 0..6_000 {
        assert_eq!(c.cmd(&["SET", &format!("key:{i}"), &value]), b"+OK\r\n");
    }
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    let stats = c.cmd_str(&["INFO", "stats"]);
    let evicted: usize = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("evicted_keys");
    assert!(evicted > 0);
    c.cmd(&["PUBLISH", MARK, "x"]);
    let events = drain(&mut sub);
    assert_eq!(events.len(), evicted);
    for e in &events {
        let key = e.strip_prefix("__keyevent@0__:evicted ").expect(e);
        assert_eq!(c.cmd(&["EXISTS", key]), b":0\r\n");
    }
}

/// In cluster mode events stay on the node that made them, as in Redis Cluster: another node's
/// subscriber hears PUBLISH over the bus but no keyspace event.
#[test]
fn cluster_events_are_local() {
    let (nodes, _ports) = common::three_cluster_nodes();
    let mut c: Vec<Raw> = nodes.iter().map(common::Proc::raw).collect();
    let mut subs: Vec<Raw> = nodes.iter().map(common::Proc::raw).collect();
    for (conn, sub) in c.iter_mut().zip(subs.iter_mut()) {
        conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        psubscribe(sub);
    }
    // Wait (bounded) until node 0's bus link to node 1 carries messages.
    let mut warm = nodes[1].raw();
    warm.cmd(&["SUBSCRIBE", "warm"]);
    warm.stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let linked = (0..100).any(|_| {
        c[0].cmd(&["PUBLISH", "warm", "x"]);
        warm.read_reply().is_some()
    });
    assert!(linked, "node 0's bus never reached node 1");
    // "b" hashes to slot 3300, served by node 0.
    assert_eq!(c[0].cmd(&["SET", "b", "1"]), b"+OK\r\n");
    c[0].cmd(&["PUBLISH", MARK, "x"]);
    assert_eq!(
        drain(&mut subs[0]),
        vec!["__keyspace@0__:b set", "__keyevent@0__:set b"]
    );
    assert_eq!(drain(&mut subs[1]), Vec::<String>::new());
}

/// RESTORE publishes `restore`; an already expired RESTORE … REPLACE publishes the `del` of
/// the key it replaced, and one that replaced nothing publishes nothing.
#[test]
fn restore_events() {
    let mut e = Events::new("KEA");
    e.case("SET src hello\nSET old x", true);
    let dump = e.d.b.cmd(&["DUMP", "src"]);
    let payload = dump
        .splitn(2, |&b| b == b'\n')
        .nth(1)
        .map(|p| p[..p.len() - 2].to_vec())
        .expect("a bulk reply");
    let restores: [&[&[u8]]; 4] = [
        &[b"RESTORE", b"r1", b"0", &payload],
        &[b"RESTORE", b"r1", b"0", &payload, b"REPLACE"],
        &[b"RESTORE", b"old", b"1", &payload, b"ABSTTL", b"REPLACE"],
        &[b"RESTORE", b"r2", b"1", &payload, b"ABSTTL"],
    ];
    for args in restores {
        e.d.a.send_cmd(args);
        e.d.b.send_cmd(args);
        assert_eq!(e.d.a.read_reply(), e.d.b.read_reply());
    }
    let (x, y) = e.collect();
    assert_eq!(x, y);
    assert!(y.iter().any(|m| m.contains("restore")), "{y:?}");
}

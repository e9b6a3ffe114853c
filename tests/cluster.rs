//! Cluster mode, as Redis Cluster behaves:
//! - a lone luagate node answers CLUSTER, CROSSSLOT, the scripts' slot rules and the
//!   cluster-mode refusals byte for byte as a lone redis-server 7.0 cluster node;
//! - three luagate nodes (two primaries, one replica) redirect with -MOVED, serve the
//!   replica's reads after READONLY, keep scripts to their node's slots and agree on the
//!   topology; redis-rs's cluster client reads and writes keys spread over them.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// A differential pair: luagate in cluster mode (4 shards) and a redis-server cluster node
/// serving every slot, once the reference reports `cluster_state:ok`.
fn cluster_pair() -> Diff {
    let mut d = Diff::with_flags(
        &["--shards", "4", "--cluster-enabled", "yes"],
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ],
    );
    assert_eq!(
        d.b.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        b"+OK\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d
        .b
        .cmd_str(&["CLUSTER", "INFO"])
        .contains("cluster_state:ok")
    {
        assert!(
            Instant::now() < deadline,
            "reference cluster never became ok"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

/// `reply` with luagate's node id, host and port replaced by the reference's, so the shapes
/// of CLUSTER SLOTS / NODES / SHARDS can be compared (a lone Redis node leaves its ip empty
/// until it meets another; luagate names the address it listens on).
fn as_reference(reply: &[u8], lg: (&str, u16), reference: (&str, u16)) -> String {
    without_bulk_header(reply)
        .replace(lg.0, reference.0)
        .replace("$9\r\n127.0.0.1\r\n", "$0\r\n\r\n")
        .replace("127.0.0.1:", ":")
        .replace(&lg.1.to_string(), &reference.1.to_string())
        .replace(
            &(lg.1 as u32 + 10000).to_string(),
            &(reference.1 as u32 + 10000).to_string(),
        )
}

/// A bulk string reply's text (its length is no use once ids and hosts are replaced);
/// any other reply whole.
fn without_bulk_header(reply: &[u8]) -> String {
    match reply.first() {
        Some(b'$') => bulk_text(reply),
        _ => String::from_utf8_lossy(reply).into_owned(),
    }
}

fn bulk_text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply);
    s.split_once("\r\n")
        .map(|(_, t)| t.to_string())
        .unwrap_or_default()
}

#[test]
fn a_lone_node_answers_as_a_redis_cluster_node() {
    let mut d = cluster_pair();
    let lg_id = bulk_text(&d.a.cmd(&["CLUSTER", "MYID"]));
    let ref_id = bulk_text(&d.b.cmd(&["CLUSTER", "MYID"]));
    let (lg_id, ref_id) = (lg_id.trim(), ref_id.trim());
    assert_eq!(lg_id.len(), 40);
    let (lg_port, ref_port) = (d.lg.port, d.reference.port);
    for cmd in [
        &["CLUSTER", "SLOTS"][..],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "REPLICAS", "<id>"],
    ] {
        let lg_args: Vec<&str> = cmd
            .iter()
            .map(|a| if *a == "<id>" { lg_id } else { a })
            .collect();
        let ref_args: Vec<&str> = cmd
            .iter()
            .map(|a| if *a == "<id>" { ref_id } else { a })
            .collect();
        let (x, y) = (d.a.cmd(&lg_args), d.b.cmd(&ref_args));
        assert_eq!(
            as_reference(&x, (lg_id, lg_port), (ref_id, ref_port)),
            without_bulk_header(&y),
            "{cmd:?}"
        );
    }
    let report = ["CLUSTER", "COUNT-FAILURE-REPORTS"];
    assert_eq!(
        d.a.cmd(&[report[0], report[1], lg_id]),
        d.b.cmd(&[report[0], report[1], ref_id])
    );
    d.check_all(&[
        &["CLUSTER", "INFO"],
        &["INFO", "cluster"],
        &["CLUSTER", "LINKS"],
        &["CLUSTER", "KEYSLOT", "foo"],
        &["CLUSTER", "KEYSLOT", "{user1000}.following"],
        &["CLUSTER", "KEYSLOT", "{}a"],
        &["CLUSTER", "KEYSLOT"],
        &["CLUSTER", "COUNTKEYSINSLOT", "99999"],
        &["CLUSTER", "COUNTKEYSINSLOT", "abc"],
        &["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "1", "x"],
        &["CLUSTER", "GETKEYSINSLOT", "20000", "1"],
        &["CLUSTER", "REPLICAS", "nosuchnode"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "nosuchnode"],
        &["CLUSTER", "FOO"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
        &["READONLY", "x"],
        &["SELECT", "1"],
        &["SELECT", "x"],
        &["SELECT", "0"],
        &["EVAL", "return redis.call('SELECT', 1)", "0"],
        &["EVAL", "return redis.pcall('SELECT', 'x')", "0"],
        &["MULTI"],
        &["SELECT", "1"],
        &["EXEC"],
        &["REPLICAOF", "NO", "ONE"],
        // Keys across slots, whatever the command (and whichever shards they are on).
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "b"],
        &["DEL", "a", "b"],
        &["EXISTS", "a", "b"],
        &["RENAME", "a", "b"],
        &["SMOVE", "a", "b", "m"],
        &["BLPOP", "a", "b", "0.01"],
        &["WATCH", "a", "b"],
        &["SPUBLISH", "a", "hello"],
        &["EVAL", "return 1", "2", "a", "b"],
        &["MSET", "{a}x", "1", "{a}y", "2", "{a}z", "3"],
        &["MGET", "{a}x", "{a}y"],
        &["RENAME", "{a}z", "{a}w"],
        &["CLUSTER", "COUNTKEYSINSLOT", "15495"],
        &["CLUSTER", "COUNTKEYSINSLOT", "0"],
        &["MOVE", "{a}x", "1"],
        &["SWAPDB", "0", "1"],
        &["COPY", "{a}x", "{a}c", "DB", "1"],
        &["COPY", "{a}x", "{a}c", "DB", "0"],
        &["COPY", "{a}x", "c", "DB", "1"],
        // A transaction must keep to one slot: a queued command across slots fails it, and
        // keys of several slots over the queue fail EXEC itself (no EXECABORT).
        &["MULTI"],
        &["SET", "{a}x", "5"],
        &["MSET", "a", "1", "b", "2"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "b", "1"],
        &["SET", "c", "1"],
        &["EXEC"],
        &["EXEC"],
        &["MULTI"],
        &["INCR", "{a}x"],
        &["GET", "{a}y"],
        &["EXEC"],
    ]);
    // CLIENT LIST's `r` flag, before `e`; RESET leaves READONLY.
    for cmds in [
        &[&["READONLY"][..], &["CLIENT", "NO-EVICT", "on"]][..],
        &[&["READWRITE"][..]],
        &[&["READONLY"][..], &["RESET"]],
    ] {
        for c in cmds {
            d.check(c);
        }
        let (x, y) = d.both(&["CLIENT", "INFO"]);
        let flags = |r: &[u8]| {
            let r = String::from_utf8_lossy(r).into_owned();
            r.split(' ')
                .find(|f| f.starts_with("flags="))
                .map(String::from)
        };
        assert_eq!(flags(&x), flags(&y), "after {cmds:?}");
    }
    d.check_unordered(&["CLUSTER", "GETKEYSINSLOT", "15495", "10"]);
    d.check(&["CLUSTER", "GETKEYSINSLOT", "15495", "0"]);
    // Scripts: declared keys route the call; a flagged script keeps to one slot unless it says
    // allow-cross-slot-keys; an unflagged one may cross slots of this node; one call's keys
    // must share a slot whatever the flags.
    let get_b_then_c = "redis.call('get','b') return redis.call('get','c')";
    for (body, keys) in [
        (format!("#!lua\n{get_b_then_c}"), &["0"][..]),
        (format!("#!lua\n{get_b_then_c}"), &["1", "b"][..]),
        (
            format!("#!lua flags=allow-cross-slot-keys\n{get_b_then_c}"),
            &["0"][..],
        ),
        (get_b_then_c.to_string(), &["0"][..]),
        (get_b_then_c.to_string(), &["1", "b"][..]),
        ("return redis.call('mget','b','c')".to_string(), &["0"][..]),
        (
            "#!lua flags=allow-cross-slot-keys\nreturn redis.call('mget','b','c')".to_string(),
            &["0"][..],
        ),
        ("return redis.pcall('mget','b','c')".to_string(), &["0"][..]),
        ("#!lua flags=no-cluster\nreturn 1".to_string(), &["0"][..]),
        (
            "#!lua flags=no-cluster,no-writes\nreturn 1".to_string(),
            &["0"][..],
        ),
    ] {
        let mut args = vec!["EVAL", body.as_str()];
        args.extend_from_slice(keys);
        d.check(&args);
        args[0] = "EVAL_RO";
        d.check(&args);
    }
    let lib = "#!lua name=cl\n\
        redis.register_function{function_name='nc', callback=function() return 1 end, flags={'no-cluster'}}\n\
        redis.register_function('two', function(k) redis.call('set', k[1], 1) return redis.call('get', 'c') end)\n\
        redis.register_function{function_name='cross', callback=function(k) redis.call('set', k[1], 1) return redis.call('get', 'c') end, flags={'allow-cross-slot-keys'}}";
    d.check_all(&[
        &["FUNCTION", "LOAD", lib],
        &["FCALL", "nc", "0"],
        &["FCALL", "two", "1", "b"],
        &["FCALL", "cross", "1", "b"],
        &["FCALL", "two", "2", "b", "c"],
    ]);
    // RESP3: CLUSTER INFO is a verbatim string, the slots' node metadata an empty map.
    d.both(&["HELLO", "3"]);
    d.check(&["CLUSTER", "INFO"]);
    let (x, y) = d.both(&["CLUSTER", "SLOTS"]);
    assert_eq!(
        as_reference(&x, (lg_id, lg_port), (ref_id, ref_port)),
        without_bulk_header(&y)
    );
    d.check(&["CLUSTER", "KEYSLOT", "foo"]);
}

fn moved(slot: u16, port: u16) -> Vec<u8> {
    format!("-MOVED {slot} 127.0.0.1:{port}\r\n").into_bytes()
}

#[test]
fn three_nodes_redirect_and_a_replica_serves_readonly_clients() {
    let (nodes, ports) = three_cluster_nodes();
    let mut c: Vec<Raw> = nodes.iter().map(Proc::raw).collect();
    // Every node describes the same cluster.
    let slots = c[0].cmd(&["CLUSTER", "SLOTS"]);
    assert_eq!(c[1].cmd(&["CLUSTER", "SLOTS"]), slots);
    assert_eq!(c[2].cmd(&["CLUSTER", "SLOTS"]), slots);
    let text = String::from_utf8_lossy(&slots);
    for p in &ports {
        assert!(text.contains(&format!(":{p}\r\n")), "{text}");
    }
    let nodes_text = c[2].cmd_str(&["CLUSTER", "NODES"]);
    assert!(
        nodes_text.contains(&format!(
            "127.0.0.1:{}@{} myself,slave ",
            ports[2],
            ports[2] as u32 + 10000
        )),
        "{nodes_text}"
    );
    assert!(c[0]
        .cmd_str(&["CLUSTER", "INFO"])
        .contains("cluster_known_nodes:3\r\ncluster_size:2\r\n"));
    // "b" is in slot 3300 (node 0), "a" in 15495 (node 1).
    assert_eq!(c[1].cmd(&["SET", "b", "1"]), moved(3300, ports[0]));
    assert_eq!(c[0].cmd(&["SET", "a", "1"]), moved(15495, ports[1]));
    assert_eq!(c[0].cmd(&["SET", "b", "1"]), b"+OK\r\n");
    assert_eq!(c[1].cmd(&["SET", "a", "2"]), b"+OK\r\n");
    assert_eq!(
        c[0].cmd(&["MSET", "{a}x", "1", "{a}y", "2"]),
        moved(15495, ports[1])
    );
    // A script reaches only its node's slots.
    assert_eq!(
        String::from_utf8_lossy(&c[0].cmd(&["EVAL", "return redis.call('get','a')", "0"])),
        "-ERR Script attempted to access a non local key in a cluster node script: eaeaa27fd219f13108fd9dea9f5ef7513173e803, on @user_script:1.\r\n"
    );
    assert_eq!(
        c[0].cmd(&["EVAL", "return redis.call('get',KEYS[1])", "1", "a"]),
        moved(15495, ports[1])
    );
    // The replica redirects to its primary unless the client sent READONLY; then it serves
    // reads of its primary's slots (writes and other primaries' slots still redirect).
    assert_eq!(c[2].cmd(&["GET", "b"]), moved(3300, ports[0]));
    assert_eq!(c[2].cmd(&["READONLY"]), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while c[2].cmd(&["GET", "b"]) != b"$1\r\n1\r\n" {
        assert!(Instant::now() < deadline, "the replica never got b");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        c[2].cmd(&["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "b"]),
        b"$1\r\n1\r\n"
    );
    assert_eq!(c[2].cmd(&["SET", "b", "2"]), moved(3300, ports[0]));
    assert_eq!(c[2].cmd(&["GET", "a"]), moved(15495, ports[1]));
    assert_eq!(c[2].cmd(&["READWRITE"]), b"+OK\r\n");
    assert_eq!(c[2].cmd(&["GET", "b"]), moved(3300, ports[0]));
}

#[test]
fn a_cluster_client_spreads_keys_over_the_nodes() {
    let (nodes, ports) = three_cluster_nodes();
    let client = redis::cluster::ClusterClient::new(vec![nodes[0].url()]).expect("cluster client");
    let mut conn = client.get_connection().expect("cluster connection");
    let n = 300;
    for i in 0..n {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut conn)
            .expect("SET through the cluster client");
    }
    for i in (0..n).step_by(7) {
        let v: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut conn)
            .expect("GET");
        assert_eq!(v, i);
    }
    let _: () = redis::cmd("MSET")
        .arg("{tag}a")
        .arg(1)
        .arg("{tag}b")
        .arg(2)
        .query(&mut conn)
        .expect("MSET of one slot");
    let v: Vec<i64> = redis::cmd("MGET")
        .arg("{tag}a")
        .arg("{tag}b")
        .query(&mut conn)
        .expect("MGET of one slot");
    assert_eq!(v, vec![1, 2]);
    let n_inc: i64 = redis::cmd("EVAL")
        .arg("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        .arg(1)
        .arg("{tag}counter")
        .arg(5)
        .query(&mut conn)
        .expect("EVAL through the cluster client");
    assert_eq!(n_inc, 5);
    // Each key landed on the primary serving its slot: node 0 holds exactly the keys of slots
    // 0-8191, node 1 the others (and the counter).
    let mut on_first = 0;
    for i in 0..n {
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(format!("key:{i}"))
            .query(&mut nodes[0].client())
            .expect("KEYSLOT");
        if slot <= 8191 {
            on_first += 1;
        }
    }
    let size = |p: &Proc| -> i64 { redis::cmd("DBSIZE").query(&mut p.client()).expect("DBSIZE") };
    let counter_slot_first = {
        let s: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg("{tag}counter")
            .query(&mut nodes[0].client())
            .unwrap();
        s <= 8191
    };
    // "{tag}" keys: the counter and the two MSET ones, all in one slot.
    let tagged = 3;
    assert_eq!(
        size(&nodes[0]),
        on_first + tagged * i64::from(counter_slot_first)
    );
    assert_eq!(
        size(&nodes[1]),
        n - on_first + tagged * i64::from(!counter_slot_first)
    );
    assert!(
        on_first > 0 && on_first < n,
        "the keys should spread over both primaries"
    );
    let _ = ports;
}

/// Reads Pub/Sub messages from `sub` until one carries `payload` (bounded).
fn wait_message(sub: &mut Raw, payload: &str) -> Vec<u8> {
    for _ in 0..200 {
        let m = sub.read_reply().expect("a message");
        if String::from_utf8_lossy(&m).contains(payload) {
            return m;
        }
    }
    panic!("no message with {payload}");
}

#[test]
fn pubsub_messages_reach_the_other_nodes() {
    let (nodes, _ports) = three_cluster_nodes();
    // A subscriber on every node, to a channel and to a shard channel of node 0's slots
    // ("b" is in slot 3300).
    let mut subs: Vec<Raw> = nodes.iter().map(Proc::raw).collect();
    for s in subs.iter_mut() {
        s.send_cmd(&[b"SUBSCRIBE", b"news"]);
        s.read_reply().expect("subscribed");
    }
    // The replica serves shard channels of its primary's slots without READONLY.
    for k in [0, 2] {
        subs[k].send_cmd(&[b"SSUBSCRIBE", b"b"]);
        let r = subs[k].read_reply().expect("ssubscribed");
        assert!(String::from_utf8_lossy(&r).contains("ssubscribe"), "{r:?}");
    }
    // The links between nodes come up in the background: publish until every subscriber has
    // heard one (PUBLISH counts this node's subscribers only, as Redis Cluster does).
    let mut p = nodes[1].raw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let short = Some(std::time::Duration::from_millis(100));
    for s in subs.iter_mut() {
        s.stream.set_read_timeout(short).unwrap();
    }
    let mut heard = [false; 3];
    let mut n = 0;
    while heard.contains(&false) {
        n += 1;
        assert_eq!(
            p.cmd(&["PUBLISH", "news", &format!("hello-{n}")]),
            b":1\r\n"
        );
        for (k, s) in subs.iter_mut().enumerate() {
            while let Some(m) = s.read_reply() {
                assert!(String::from_utf8_lossy(&m).contains("hello-"), "{m:?}");
                heard[k] = true;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every node heard: {heard:?}"
        );
    }
    for s in subs.iter_mut() {
        s.stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
    }
    // Once the links are up, every node hears each message.
    assert_eq!(p.cmd(&["PUBLISH", "news", "final"]), b":1\r\n");
    for s in subs.iter_mut() {
        wait_message(s, "final");
    }
    // SPUBLISH is routed to the channel's slot (node 0) and reaches that shard's nodes: the
    // primary's and its replica's subscribers, not the other primary's.
    let r = String::from_utf8_lossy(&p.cmd(&["SPUBLISH", "b", "x"])).into_owned();
    assert!(r.starts_with("-MOVED 3300 "), "{r}");
    let mut p0 = nodes[0].raw();
    subs[2]
        .stream
        .set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let mut n = 0;
    loop {
        n += 1;
        assert_eq!(p0.cmd(&["SPUBLISH", "b", &format!("s-{n}")]), b":1\r\n");
        wait_message(&mut subs[0], &format!("s-{n}"));
        if let Some(m) = subs[2].read_reply() {
            assert!(String::from_utf8_lossy(&m).contains("smessage"), "{m:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replica never heard SPUBLISH"
        );
    }
    subs[2]
        .stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    assert_eq!(p0.cmd(&["PUBLISH", "news", "end"]), b":1\r\n");
    for _ in 0..200 {
        let m = String::from_utf8_lossy(&subs[1].read_reply().expect("a message")).into_owned();
        assert!(!m.contains("smessage"), "node 1 heard a shard message: {m}");
        if m.contains("end") {
            return;
        }
    }
    panic!("node 1 never heard the last PUBLISH");
}

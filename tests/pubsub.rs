//! Pub/Sub against the reference redis-server, frame for frame (RESP2 and RESP3), plus what a
//! differential test cannot show: many concurrent publishers, and the slow-subscriber limit.
mod common;

use common::{array_items, Diff, Raw};
use std::io::Read;
use std::time::{Duration, Instant};

/// One client on each server: the same commands go to both and every frame is compared.
struct Both {
    lg: Raw,
    rf: Raw,
}

impl Both {
    fn new(d: &Diff) -> Both {
        Both {
            lg: d.lg.raw(),
            rf: d.reference.raw(),
        }
    }

    fn send(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.lg.send_cmd(&a);
        self.rf.send_cmd(&a);
    }

    /// The next frame from each (a reply or a message), asserted identical.
    #[track_caller]
    fn next(&mut self) -> Vec<u8> {
        let x = self.lg.read_reply().expect("luagate frame");
        let y = self.rf.read_reply().expect("redis frame");
        assert_eq!(
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(&y),
            "luagate (left) and redis-server (right) differ"
        );
        x
    }

    /// Sends a command and compares the `n` frames it produces.
    #[track_caller]
    fn check_n(&mut self, args: &[&str], n: usize) {
        self.send(args);
        for _ in 0..n {
            self.next();
        }
    }

    #[track_caller]
    fn check(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        self.next()
    }

    /// The next `n` frames from each, compared as a multiset (Redis walks its patterns in an
    /// order of its own).
    #[track_caller]
    fn next_unordered(&mut self, n: usize) {
        let mut x: Vec<Vec<u8>> = (0..n).map(|_| self.lg.read_reply().unwrap()).collect();
        let mut y: Vec<Vec<u8>> = (0..n).map(|_| self.rf.read_reply().unwrap()).collect();
        x.sort();
        y.sort();
        assert_eq!(x, y, "frames differ");
    }

    /// A reply that is one array whose elements may come in any order.
    #[track_caller]
    fn check_array_unordered(&mut self, args: &[&str]) {
        self.send(args);
        let x = self.lg.read_reply().unwrap();
        let y = self.rf.read_reply().unwrap();
        let (mut p, mut q) = (array_items(&x).unwrap(), array_items(&y).unwrap());
        p.sort();
        q.sort();
        assert_eq!(p, q, "{args:?}: {x:?} vs {y:?}");
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn subscriptions_messages_and_unsubscriptions_match_redis_in_resp2() {
    let d = Diff::new();
    let mut sub = Both::new(&d);
    let mut publ = Both::new(&d);
    sub.check_n(&["SUBSCRIBE", "ch1", "ch2"], 2);
    sub.check_n(&["PSUBSCRIBE", "h*", "h*"], 2);
    sub.check(&["SSUBSCRIBE", "sc"]);
    // The counts: channels and patterns together; shard channels on their own.
    sub.check(&["SSUBSCRIBE", "sc2"]);
    publ.check(&["PUBLISH", "ch1", "m1"]);
    sub.next();
    publ.check(&["PUBLISH", "nobody", "m"]);
    publ.check(&["PUBLISH", "hello", "pm"]);
    sub.next();
    publ.check(&["SPUBLISH", "sc", "sm"]);
    sub.next();
    // A channel and a pattern matching it: two deliveries, counted twice.
    sub.check(&["SUBSCRIBE", "hi"]);
    publ.check(&["PUBLISH", "hi", "both"]);
    sub.next();
    sub.next();
    // SPUBLISH reaches only shard subscribers, PUBLISH only the others.
    publ.check(&["SPUBLISH", "ch1", "x"]);
    publ.check(&["PUBLISH", "sc", "x"]);
    // An empty channel name: `*` does not match it (Redis's matcher, unlike KEYS).
    sub.check(&["SUBSCRIBE", ""]);
    publ.check(&["PUBLISH", "", "to the empty channel"]);
    sub.next();
    publ.check_array_unordered(&["PUBSUB", "CHANNELS", "*"]);
    sub.check(&["PSUBSCRIBE", "*"]);
    publ.check(&["PUBLISH", "", "x"]);
    sub.next();
    publ.check(&["PUBSUB", "CHANNELS", ""]);
    publ.check(&["PUBSUB", "NUMSUB", ""]);
    sub.check(&["UNSUBSCRIBE", ""]);
    sub.check(&["PUNSUBSCRIBE", "*"]);
    // Binary and empty payloads.
    publ.check(&["PUBLISH", "ch2", ""]);
    sub.next();
    publ.check(&["PUBLISH", "ch2", "a\r\nb\0c"]);
    sub.next();
    // Subscribed mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET.
    for c in [
        &["GET", "x"][..],
        &["SET", "x", "1"],
        &["CLIENT", "LIST"],
        &["CLIENT", "INFO"],
        &["HELLO", "3"],
        &["SELECT", "1"],
        &["MULTI"],
        &["EXEC"],
        &["ECHO", "x"],
        &["PUBLISH", "ch1", "x"],
        &["PUBSUB", "NUMPAT"],
        &["EVAL", "return 1", "0"],
    ] {
        sub.check(c);
    }
    sub.check(&["PING"]);
    sub.check(&["PING", "hi"]);
    sub.check(&["PING", "a", "b"]);
    sub.check(&["NOSUCHCOMMAND"]);
    sub.check(&["SUBSCRIBE"]);
    // Unsubscribing: named (subscribed or not), then from all.
    sub.check_n(&["UNSUBSCRIBE", "ch1", "nope"], 2);
    sub.check(&["PUNSUBSCRIBE", "zz"]);
    // (From all: one left, since Redis's order among several is its hash table's.)
    sub.check(&["UNSUBSCRIBE", "hi"]);
    sub.check(&["UNSUBSCRIBE"]);
    sub.check(&["UNSUBSCRIBE"]);
    sub.check(&["PUNSUBSCRIBE"]);
    // Still subscribed to shard channels: still in subscribed mode.
    sub.check(&["GET", "x"]);
    sub.check(&["SUNSUBSCRIBE", "sc2"]);
    sub.check(&["SUNSUBSCRIBE"]);
    sub.check(&["SUNSUBSCRIBE"]);
    // Out of subscribed mode.
    sub.check(&["GET", "x"]);
    sub.check(&["PING"]);
    sub.check_n(&["UNSUBSCRIBE", "a", "b"], 2);
    sub.check(&["PUNSUBSCRIBE"]);
    publ.check(&["PUBLISH", "ch1", "gone"]);
    // A shard subscription alone is subscribed mode too.
    sub.check(&["SSUBSCRIBE", "s"]);
    sub.check(&["UNSUBSCRIBE"]);
    sub.check(&["GET", "x"]);
    sub.check(&["QUIT"]);
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_any_command() {
    let d = Diff::new();
    let mut sub = Both::new(&d);
    let mut publ = Both::new(&d);
    // HELLO's reply names the server version (luagate reports 7.2): compare from here on.
    sub.send(&["HELLO", "3"]);
    sub.lg.read_reply().unwrap();
    sub.rf.read_reply().unwrap();
    sub.check(&["SUBSCRIBE", "c"]);
    sub.check(&["PSUBSCRIBE", "c*"]);
    sub.check(&["SSUBSCRIBE", "c"]);
    sub.check(&["GET", "x"]);
    sub.check(&["PING"]);
    sub.check(&["PING", "x"]);
    sub.check(&["SET", "k", "v"]);
    // Publishing to itself: the pushes come before the PUBLISH reply.
    sub.check_n(&["PUBLISH", "c", "hello"], 3);
    sub.check_n(&["SPUBLISH", "c", "sh"], 2);
    // So do a script's and a function's.
    sub.check_n(
        &["EVAL", "return redis.call('publish', 'c', 'lua')", "0"],
        3,
    );
    sub.check(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('pub', function(k, a) return redis.call('publish', a[1], a[2]) end)",
    ]);
    sub.check_n(&["FCALL", "pub", "0", "c", "fn"], 3);
    // From another connection.
    publ.check(&["PUBLISH", "c", "other"]);
    sub.next();
    sub.next();
    publ.check(&["PUBLISH", "cx", "pattern only"]);
    sub.next();
    sub.check_n(&["UNSUBSCRIBE", "c", "d"], 2);
    sub.check(&["PUNSUBSCRIBE"]);
    sub.check(&["SUNSUBSCRIBE"]);
    // Subscribed to nothing: a null channel (`_` in RESP3).
    sub.check(&["UNSUBSCRIBE"]);
    sub.check(&["SUNSUBSCRIBE"]);
    // Back to RESP2 while subscribed: subscribed mode applies again.
    sub.check(&["SUBSCRIBE", "c"]);
    sub.send(&["HELLO", "2"]);
    sub.lg.read_reply().unwrap();
    sub.rf.read_reply().unwrap();
    sub.check(&["GET", "x"]);
    sub.check(&["PING"]);
    publ.check(&["PUBLISH", "c", "resp2 again"]);
    sub.next();
    sub.check(&["RESET"]);
    sub.check(&["GET", "x"]);
}

#[test]
fn pubsub_introspection_and_info_match_redis() {
    let d = Diff::new();
    let mut c = Both::new(&d);
    let mut x = Both::new(&d);
    let mut y = Both::new(&d);
    c.check(&["PUBSUB", "CHANNELS"]);
    c.check(&["PUBSUB", "NUMPAT"]);
    c.check(&["PUBSUB", "NUMSUB"]);
    c.check(&["PUBSUB", "SHARDNUMSUB"]);
    x.check_n(&["SUBSCRIBE", "news.a", "news.b", "other"], 3);
    y.check_n(&["SUBSCRIBE", "news.a"], 1);
    x.check_n(&["PSUBSCRIBE", "news.*", "n*"], 2);
    y.check_n(&["PSUBSCRIBE", "news.*"], 1);
    y.check_n(&["SSUBSCRIBE", "s1", "s2"], 2);
    x.check_n(&["SSUBSCRIBE", "s1"], 1);
    c.check(&["PUBSUB", "NUMSUB", "news.a", "news.b", "news.*", "none"]);
    c.check(&["PUBSUB", "NUMPAT"]);
    c.check_array_unordered(&["PUBSUB", "CHANNELS"]);
    c.check_array_unordered(&["PUBSUB", "CHANNELS", "news.*"]);
    c.check(&["PUBSUB", "CHANNELS", "oth?r"]);
    c.check(&["PUBSUB", "CHANNELS", "NEWS.*"]);
    c.check_array_unordered(&["PUBSUB", "SHARDCHANNELS"]);
    c.check(&["PUBSUB", "SHARDCHANNELS", "*2"]);
    c.check(&["PUBSUB", "SHARDNUMSUB", "s1", "s2", "news.a"]);
    // Each subscription of a pattern or channel counts as a receiver.
    c.check(&["PUBLISH", "news.a", "m"]);
    x.next_unordered(3);
    y.next_unordered(2);
    c.check(&["SPUBLISH", "s1", "m"]);
    x.next();
    y.next();
    c.check(&["PUBSUB", "HELP"]);
    for bad in [
        &["PUBSUB"][..],
        &["PUBSUB", "NOPE"],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["PUBSUB", "ShardChannels", "a", "b"],
        &["PUBSUB", "NUMPAT", "x"],
        &["PUBSUB", "HELP", "x"],
        &["PUBLISH", "a"],
        &["SPUBLISH", "a", "b", "c"],
        &["SSUBSCRIBE"],
        &["PSUBSCRIBE"],
        &["COMMAND", "GETKEYS", "SPUBLISH", "a", "b"],
        &["COMMAND", "GETKEYS", "SSUBSCRIBE", "a"],
        &["COMMAND", "GETKEYS", "PUBLISH", "a", "b"],
    ] {
        c.check(bad);
    }
    for name in [
        "publish",
        "spublish",
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "ssubscribe",
        "sunsubscribe",
        "pubsub|channels",
        "pubsub|numpat",
        "pubsub|numsub",
        "pubsub|shardchannels",
        "pubsub|shardnumsub",
        "pubsub|help",
    ] {
        c.check(&["COMMAND", "INFO", name]);
    }
    // INFO's counts (the rest of INFO stats differs between the two servers).
    let fields = |r: &mut Raw| -> Vec<String> {
        let text = s(&r.cmd(&["INFO", "stats"]));
        text.lines()
            .filter(|l| l.starts_with("pubsub"))
            .map(str::to_string)
            .collect()
    };
    let lg = fields(&mut c.lg);
    assert_eq!(lg, fields(&mut c.rf));
    assert_eq!(
        lg,
        [
            "pubsub_channels:3",
            "pubsub_patterns:2",
            "pubsubshard_channels:2"
        ]
    );
    // RESP3: the same shapes (arrays, not maps or sets).
    for r in [&mut c.lg, &mut c.rf] {
        r.cmd(&["HELLO", "3"]);
    }
    c.check(&["PUBSUB", "NUMSUB", "news.a"]);
    c.check(&["PUBSUB", "CHANNELS", "o*"]);
    c.check(&["PUBSUB", "SHARDNUMSUB", "s2"]);
    // A connection that goes away leaves nothing behind; RESET neither.
    x.check(&["RESET"]);
    drop(y);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let f = fields(&mut c.lg);
        if f == [
            "pubsub_channels:0",
            "pubsub_patterns:0",
            "pubsubshard_channels:0",
        ] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscriptions left behind: {f:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    c.lg.cmd(&["HELLO", "2"]);
    assert_eq!(
        s(&c.lg.cmd(&["PUBSUB", "NUMSUB", "news.a", "s1"])),
        "*4\r\n$6\r\nnews.a\r\n:0\r\n$2\r\ns1\r\n:0\r\n"
    );
    assert_eq!(s(&c.lg.cmd(&["PUBSUB", "NUMPAT"])), ":0\r\n");
}

#[test]
fn scripts_and_functions_publish_but_cannot_subscribe() {
    let d = Diff::new();
    let mut c = Both::new(&d);
    let mut sub = Both::new(&d);
    sub.check(&["SUBSCRIBE", "sc"]);
    sub.check(&["SSUBSCRIBE", "sc"]);
    c.check(&["EVAL", "return redis.call('publish', 'sc', 'fromlua')", "0"]);
    sub.next();
    c.check(&["EVAL", "return redis.call('spublish', 'sc', 'shard')", "0"]);
    sub.next();
    c.check(&[
        "EVAL",
        "return {redis.call('publish', 'sc', 'a'), redis.call('publish', 'none', 'b')}",
        "0",
    ]);
    sub.next();
    for cmd in [
        "subscribe', 'sc",
        "ssubscribe', 'sc",
        "psubscribe', 'x",
        "unsubscribe",
        "punsubscribe",
        "sunsubscribe",
    ] {
        c.check(&["EVAL", &format!("return redis.call('{cmd}')"), "0"]);
        c.check(&["EVAL", &format!("return redis.pcall('{cmd}')"), "0"]);
    }
    c.check(&["EVAL", "return redis.call('pubsub', 'numsub', 'sc')", "0"]);
    c.check(&[
        "EVAL",
        "return redis.call('pubsub', 'shardnumsub', 'sc')",
        "0",
    ]);
    c.check(&["EVAL", "return redis.call('pubsub', 'channels')", "0"]);
    c.check(&["EVAL", "return redis.pcall('pubsub', 'numpat')", "0"]);
    c.check(&["EVAL", "return redis.pcall('pubsub', 'help')", "0"]);
    c.check(&["EVAL", "return redis.call('publish', 'sc')", "0"]);
    // PUBLISH may replicate: a read-only script may not call it.
    c.check(&[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('publish', 'sc', 'ro')",
        "0",
    ]);
    c.check(&["EVAL_RO", "return redis.call('publish', 'sc', 'ro')", "0"]);
    c.check(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\n\
         redis.register_function('pub', function(k, a) return redis.call('publish', a[1], a[2]) end)\n\
         redis.register_function{function_name='pubro', callback=function(k, a) return redis.call('publish', a[1], a[2]) end, flags={'no-writes'}}",
    ]);
    c.check(&["FCALL", "pub", "0", "sc", "from a function"]);
    sub.next();
    c.check(&["FCALL_RO", "pubro", "0", "sc", "ro"]);
    // Nothing else reached the subscriber: the next frame is this PING's.
    sub.check(&["PING", "end"]);
}

#[test]
fn subscribe_and_publish_inside_multi_answer_as_redis_7_0() {
    let d = Diff::new();
    let mut c = Both::new(&d);
    let mut other = Both::new(&d);
    other.check(&["SUBSCRIBE", "m1"]);
    c.check(&["MULTI"]);
    c.check(&["SUBSCRIBE", "m1", "m2"]);
    c.check(&["PUBLISH", "m1", "x"]);
    c.check(&["SSUBSCRIBE", "s1"]);
    c.check(&["PSUBSCRIBE", "p*"]);
    // Redis 7.0 writes one confirmation per channel, so EXEC's array holds more frames than
    // its count; the message to itself sits inside the array; SSUBSCRIBE is refused.
    c.check(&["EXEC"]);
    c.next();
    c.next();
    other.next();
    c.check(&["GET", "x"]);
    c.check(&["MULTI"]);
    c.check(&["EXEC"]);
    c.check(&["RESET"]);
    // RESP3: a message published to itself in the transaction is inside the array too.
    for r in [&mut c.lg, &mut c.rf] {
        r.cmd(&["HELLO", "3"]);
    }
    c.check(&["SUBSCRIBE", "q"]);
    c.check(&["MULTI"]);
    c.check(&["PUBLISH", "q", "inmulti"]);
    c.check(&["PING"]);
    c.check(&["EXEC"]);
    c.next();
    c.check(&["MULTI"]);
    c.check(&["UNSUBSCRIBE"]);
    c.check(&["PUBSUB", "NUMSUB", "q"]);
    c.check(&["EXEC"]);
    c.check(&["GET", "x"]);
}

#[test]
fn client_list_shows_subscriptions() {
    let lg = common::luagate(&[]);
    let mut a = lg.raw();
    let mut b = lg.raw();
    a.cmd(&["HELLO", "3"]);
    a.cmd(&["SUBSCRIBE", "x", "y"]);
    a.read_reply();
    a.cmd(&["PSUBSCRIBE", "p*"]);
    a.cmd(&["SSUBSCRIBE", "s"]);
    let info = s(&a.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.contains(" flags=P db=0 sub=2 psub=1 ssub=1 "),
        "{info}"
    );
    let id_a = s(&a.cmd(&["CLIENT", "ID"]));
    let id_a = id_a.trim_start_matches(':').trim();
    let id_b = s(&b.cmd(&["CLIENT", "ID"]));
    let id_b = id_b.trim_start_matches(':').trim();
    let pubsub = s(&b.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]));
    assert!(pubsub.contains(&format!("id={id_a} ")), "{pubsub}");
    assert!(!pubsub.contains(&format!("id={id_b} ")), "{pubsub}");
    let normal = s(&b.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    assert!(!normal.contains(&format!("id={id_a} ")), "{normal}");
    assert!(normal.contains(&format!("id={id_b} ")), "{normal}");
    a.cmd(&["UNSUBSCRIBE"]);
    a.read_reply();
    a.cmd(&["PUNSUBSCRIBE"]);
    let info = s(&a.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.contains(" flags=P db=0 sub=0 psub=0 ssub=1 "),
        "{info}"
    );
    a.cmd(&["SUNSUBSCRIBE"]);
    let info = s(&a.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.contains(" flags=N db=0 sub=0 psub=0 ssub=0 "),
        "{info}"
    );
    // CLIENT KILL TYPE pubsub closes subscribers only.
    a.cmd(&["SUBSCRIBE", "x"]);
    assert_eq!(s(&b.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"])), ":1\r\n");
    assert!(a.is_closed());
    assert_eq!(s(&b.cmd(&["PING"])), "+PONG\r\n");
}

/// Several publishers on their own connections, at once; subscribers by channel, by pattern
/// and both, one of them RESP3 and pipelining its own commands meanwhile: every subscriber
/// gets every message exactly once, each publisher's in order, and pushes never split a reply.
#[test]
fn concurrent_publishers_reach_every_subscriber_once_and_in_order() {
    const PUBLISHERS: usize = 4;
    const MESSAGES: usize = 300;
    let lg = common::luagate(&["--shards", "4"]);
    let mut by_channel = lg.raw();
    by_channel.cmd(&["SUBSCRIBE", "feed"]);
    let mut by_pattern = lg.raw();
    by_pattern.cmd(&["PSUBSCRIBE", "fe?d"]);
    let mut resp3 = lg.raw();
    resp3.cmd(&["HELLO", "3"]);
    resp3.cmd(&["SUBSCRIBE", "feed"]);
    resp3.cmd(&["PSUBSCRIBE", "f*"]);
    let start = std::sync::Arc::new(std::sync::Barrier::new(PUBLISHERS + 1));
    let port = lg.port;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let start = start.clone();
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                start.wait();
                for i in 0..MESSAGES {
                    let r = c.cmd(&["PUBLISH", "feed", &format!("{p}:{i}")]);
                    // Three subscriptions by channel or pattern, and the RESP3 client's two.
                    assert_eq!(s(&r), ":4\r\n", "publisher {p} message {i}");
                }
            })
        })
        .collect();
    start.wait();
    // Meanwhile the RESP3 subscriber runs commands whose replies must stay whole.
    let payload = "e".repeat(1000);
    const ECHOES: usize = 50;
    let mut pipeline = Vec::new();
    for _ in 0..ECHOES {
        pipeline.extend(common::encode_cmd(&[b"ECHO", payload.as_bytes()]));
    }
    resp3.send(&pipeline);
    for p in publishers {
        p.join().expect("publisher");
    }

    // Reads the `n` messages a subscriber must get and checks them; for the RESP3 client also
    // the echo replies, interleaved with pushes only between frames.
    let check = |r: &mut Raw, name: &str, n: usize, echoes: usize| {
        let mut next = vec![[0usize; 2]; PUBLISHERS];
        let mut echoed = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        for _ in 0..n + echoes {
            assert!(Instant::now() < deadline, "{name}: too slow");
            let f = r.read_reply().unwrap_or_else(|| panic!("{name}: closed"));
            if f.starts_with(b"$") {
                assert_eq!(f, format!("$1000\r\n{payload}\r\n").as_bytes(), "{name}");
                echoed += 1;
                continue;
            }
            let items = array_items(&[b"*", &f[1..]].concat()).expect("a message");
            let (slot, body) = match &items[0][..] {
                b"$7\r\nmessage\r\n" => (0, &items[2]),
                b"$8\r\npmessage\r\n" => (1, &items[3]),
                other => panic!("{name}: unexpected frame {}", s(other)),
            };
            let body = s(body);
            let text = body.split("\r\n").nth(1).unwrap();
            let (p, i) = text.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            assert_eq!(
                i, next[p][slot],
                "{name}: publisher {p} out of order or repeated"
            );
            next[p][slot] += 1;
        }
        assert_eq!(echoed, echoes, "{name}: echo replies");
        next
    };
    let got = check(&mut by_channel, "by channel", PUBLISHERS * MESSAGES, 0);
    assert!(got.iter().all(|n| n[0] == MESSAGES && n[1] == 0), "{got:?}");
    let got = check(&mut by_pattern, "by pattern", PUBLISHERS * MESSAGES, 0);
    assert!(got.iter().all(|n| n[0] == 0 && n[1] == MESSAGES), "{got:?}");
    let got = check(&mut resp3, "resp3", 2 * PUBLISHERS * MESSAGES, ECHOES);
    assert!(got.iter().all(|n| n == &[MESSAGES, MESSAGES]), "{got:?}");
    // Nothing more than that was sent.
    for r in [&mut by_channel, &mut by_pattern] {
        assert_eq!(
            s(&r.cmd(&["PING", "done"])),
            "*2\r\n$4\r\npong\r\n$4\r\ndone\r\n"
        );
    }
    assert_eq!(s(&resp3.cmd(&["PING", "done"])), "$4\r\ndone\r\n");
}

/// A subscriber that stops reading is closed once its queued output passes 32 MB (Redis's
/// `client-output-buffer-limit pubsub` hard limit), and publishers stop counting it.
#[test]
fn a_subscriber_that_stops_reading_is_closed_at_the_output_limit() {
    let lg = common::luagate(&[]);
    let mut slow = lg.raw();
    assert_eq!(
        s(&slow.cmd(&["SUBSCRIBE", "big"])),
        "*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n"
    );
    let mut fine = lg.raw();
    fine.cmd(&["SUBSCRIBE", "big"]);
    let mut publ = lg.raw();
    let payload = "x".repeat(1024 * 1024);
    // The well-behaved subscriber reads on its own thread and acknowledges each message; the
    // publisher waits for that, so only the slow subscriber's output piles up.
    let (ack, acked) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        while let Some(f) = fine.read_reply() {
            if f.starts_with(b"*3\r\n$7\r\nmessage") {
                n += 1;
                if ack.send(n).is_err() || n == 80 {
                    break;
                }
            }
        }
        (n, fine)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut dropped_at = None;
    for i in 0..80 {
        assert!(Instant::now() < deadline, "publishing took too long");
        let r = s(&publ.cmd(&["PUBLISH", "big", &payload]));
        if r == ":1\r\n" && dropped_at.is_none() {
            dropped_at = Some(i);
        }
        assert!(r == ":2\r\n" || r == ":1\r\n", "message {i}: {r}");
        assert_eq!(
            acked.recv_timeout(Duration::from_secs(20)),
            Ok(i + 1),
            "the reading subscriber lost message {i}"
        );
    }
    let dropped_at = dropped_at.expect("the slow subscriber was never dropped");
    // 32 MB of 1 MB messages, give or take what the socket buffers took.
    assert!(
        (25..=70).contains(&dropped_at),
        "dropped after {dropped_at} MB"
    );
    let (n, _fine) = reader.join().expect("reader");
    assert_eq!(n, 80);
    // The slow client's socket ends (after whatever was written before the limit).
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let mut total = 0usize;
    loop {
        assert!(Instant::now() < deadline, "slow subscriber was not closed");
        match slow.stream.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("slow subscriber: {e} after {total} bytes"),
        }
    }
    assert!(total < 70 * 1024 * 1024, "{total}");
    assert_eq!(
        s(&publ.cmd(&["PUBSUB", "NUMSUB", "big"])),
        "*2\r\n$3\r\nbig\r\n:1\r\n"
    );
}

/// A script that publishes and then reaches a key on a shard its unit does not hold is run
/// again on more shards; the message must still go out once (it is sent only once the unit
/// holds every shard, when the run can no longer be abandoned).
#[test]
fn a_script_run_again_on_more_shards_publishes_once() {
    let s = common::luagate_shards(4);
    let far = [common::key_on(1, 4, "pk"), common::key_on(2, 4, "pk")];
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let mut c = s.raw();
    let body = "redis.call('PUBLISH', 'ch', ARGV[1]) redis.call('SET', ARGV[2], 'x') \
                return redis.call('PUBLISH', 'ch', 'second')";
    for (i, key) in far.iter().enumerate() {
        let msg = format!("first{i}");
        // numkeys 0: the unit starts on shard 0 only.
        assert_eq!(c.cmd_str(&["EVAL", body, "0", &msg, key]), ":1\r\n");
        for m in [msg.as_str(), "second"] {
            let want = format!("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{m}\r\n", m.len());
            assert_eq!(s_of(sub.read_reply()), want);
        }
        // Anything sent twice would be queued before this reply.
        assert_eq!(
            s_of(sub.cmd(&["PING"]).into()),
            "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        );
    }
}

fn s_of(b: Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(&b.unwrap_or_default()).into_owned()
}

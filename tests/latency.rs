//! LATENCY and INFO latencystats against the reference server.
//!
//! Replies that do not depend on timing (help, errors, arity, configuration, empty reports)
//! are compared byte for byte, in RESP2 and RESP3. Recorded events come from a deterministic
//! trigger, `DEBUG SLEEP 0.1` with `latency-monitor-threshold 50` (Redis records it as a
//! `command` event; the threshold is high so that no other command of a test, even on a
//! loaded machine, becomes an event too); their replies are compared with every digit masked,
//! since times and durations differ. Histograms are compared on what is exact (`calls`, the map shapes) and
//! checked for what must hold (bucket labels from Redis's set, cumulative counts ending at
//! `calls`), and a blocking command counts once however it ends. Nothing asserts on how long
//! anything took.

mod common;

use common::resp::{value, V};
use common::{Diff, Raw};

/// The reply with every digit replaced by `9`: timings and times differ between servers,
/// shapes must not.
fn masked(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

/// Both servers with DEBUG allowed (for DEBUG SLEEP).
fn diff() -> Diff {
    Diff::with_flags(
        &["--shards", "4", "--enable-debug-command", "yes"],
        &["--enable-debug-command", "yes"],
    )
}

/// Switches both connections to RESP3 (HELLO's reply differs: server name, version, id).
fn resp3(d: &mut Diff) {
    let (x, y) = d.both(&["HELLO", "3"]);
    assert!(x.starts_with(b"%") && y.starts_with(b"%"));
}

const REPLIES_WITHOUT_TIMING: &[&[&str]] = &[
    &["LATENCY", "HELP"],
    &["LATENCY"],
    &["LATENCY", "NOPE"],
    &["LATENCY", "LATEST", "x"],
    &["LATENCY", "HISTORY"],
    &["LATENCY", "HISTORY", "a", "b"],
    &["LATENCY", "GRAPH"],
    &["LATENCY", "GRAPH", "a", "b"],
    &["LATENCY", "DOCTOR", "x"],
    &["LATENCY", "HELP", "x"],
    &["LATENCY", "RESET"],
    &["LATENCY", "RESET", "command", "nosuch"],
    &["LATENCY", "LATEST"],
    &["LATENCY", "HISTORY", "command"],
    &["LATENCY", "GRAPH", "command"],
    &["LATENCY", "GRAPH", "nosuch"],
    &["LATENCY", "DOCTOR"],
    &["LATENCY", "HISTOGRAM", "nosuch", "config|nosuch", "config|"],
];

#[test]
fn subcommands_and_errors_match_redis() {
    let mut d = diff();
    d.check_all(REPLIES_WITHOUT_TIMING);
    // The monitor on, nothing recorded yet: the doctor says so.
    d.check(&["CONFIG", "SET", "latency-monitor-threshold", "1000"]);
    d.check(&["LATENCY", "DOCTOR"]);
    resp3(&mut d);
    d.check_all(REPLIES_WITHOUT_TIMING);
}

#[test]
fn configuration_matches_redis() {
    let mut d = diff();
    d.check_unordered(&["CONFIG", "GET", "latency*"]);
    for (name, v) in [
        ("latency-monitor-threshold", "-1"),
        ("latency-monitor-threshold", "abc"),
        ("latency-monitor-threshold", "99999999999999999999"),
        ("latency-monitor-threshold", "25"),
        ("latency-tracking", "maybe"),
        ("latency-tracking", "no"),
        ("latency-tracking", "YES"),
        ("latency-tracking-info-percentiles", "-1"),
        ("latency-tracking-info-percentiles", "101"),
        ("latency-tracking-info-percentiles", "100.0001"),
        ("latency-tracking-info-percentiles", "abc"),
        ("latency-tracking-info-percentiles", "50 abc"),
        ("latency-tracking-info-percentiles", " 50  99 "),
        ("latency-tracking-info-percentiles", "nan"),
        (
            "latency-tracking-info-percentiles",
            "1e2 0x10 12.5 99.999 0",
        ),
        ("latency-tracking-info-percentiles", ""),
        ("latency-tracking-info-percentiles", "50 99 99.9"),
    ] {
        d.check(&["CONFIG", "SET", name, v]);
        d.check(&["CONFIG", "GET", name]);
    }
}

#[test]
fn configuration_flags_at_start() {
    let lg = common::luagate(&[
        "--latency-monitor-threshold",
        "7",
        "--latency-tracking",
        "no",
        "--latency-tracking-info-percentiles",
        "12.5 100",
    ]);
    let mut r = lg.raw();
    let got = r.cmd_str(&["CONFIG", "GET", "latency*"]);
    for want in ["\r\n7\r\n", "\r\nno\r\n", "\r\n12.5 100\r\n"] {
        assert!(got.contains(want), "{want:?} not in {got:?}");
    }
}

/// The monitor's threshold (ms) and a DEBUG SLEEP (s) well above it.
const THRESHOLD: &str = "50";
const SLEEP: &str = "0.1";

#[test]
fn debug_sleep_is_a_command_event_on_both() {
    let mut d = diff();
    d.check(&["CONFIG", "SET", "latency-monitor-threshold", THRESHOLD]);
    d.check(&["DEBUG", "SLEEP", SLEEP]);
    // Same shapes, digits aside, in RESP2 and then RESP3.
    for round in 0..2 {
        if round == 1 {
            resp3(&mut d);
        }
        for cmd in [
            &["LATENCY", "LATEST"][..],
            &["LATENCY", "HISTORY", "command"],
            &["LATENCY", "GRAPH", "command"],
            &["LATENCY", "DOCTOR"],
        ] {
            let (x, y) = d.both(cmd);
            // The doctor's advice is luagate's own wording: compare the figures part.
            let (x, y) = if cmd[1] == "DOCTOR" {
                (doctor_figures(&x), doctor_figures(&y))
            } else {
                (masked(&x), masked(&y))
            };
            assert_eq!(x, y, "{cmd:?} differs (luagate left)");
        }
    }
    // The values themselves: one `command` event at or above the threshold.
    let latest = value(&d.a.cmd(&["LATENCY", "LATEST"]));
    let V::Arr(events) = latest else {
        panic!("LATEST: {latest:?}")
    };
    assert_eq!(events.len(), 1);
    let V::Arr(e) = &events[0] else {
        panic!("event: {:?}", events[0])
    };
    assert_eq!(e[0], V::Str("command".into()));
    assert!(
        matches!(e[1], V::Int(t) if t > 1_600_000_000),
        "time {:?}",
        e[1]
    );
    assert!(matches!(e[2], V::Int(ms) if ms >= 50), "latest {:?}", e[2]);
    assert_eq!(e[2], e[3], "one sample: latest is the all-time high");
    // History and graph are found by exact name only, RESET by any case (as in Redis).
    d.check(&["LATENCY", "HISTORY", "COMMAND"]);
    d.check(&["LATENCY", "GRAPH", "COMMAND"]);
    d.check(&["LATENCY", "RESET", "COMMAND", "command"]);
    d.check(&["LATENCY", "LATEST"]);
    d.check(&["LATENCY", "RESET"]);
    // Inside a transaction: the sleep and EXEC are `command` events of the same second.
    d.check_all(&[&["MULTI"], &["DEBUG", "SLEEP", SLEEP], &["EXEC"]]);
    let (x, y) = d.both(&["LATENCY", "LATEST"]);
    assert_eq!(masked(&x), masked(&y));
    d.check(&["LATENCY", "RESET"]);
    // A sleep below the threshold is not an event.
    d.check(&["CONFIG", "SET", "latency-monitor-threshold", "10000"]);
    d.check(&["DEBUG", "SLEEP", "0"]);
    d.check(&["LATENCY", "LATEST"]);
    d.check(&["LATENCY", "DOCTOR"]);
}

/// The doctor's first paragraph (the greeting and one line per event), digits masked.
fn doctor_figures(reply: &[u8]) -> String {
    let text = masked(reply);
    let cut = text.find("\n\nI have").unwrap_or(text.len());
    // The length header counts the whole report; drop it with the advice.
    let start = text.find("Dave").unwrap_or(0);
    text[start..cut].to_string()
}

#[test]
fn reset_counts_events() {
    let mut d = diff();
    d.check(&["CONFIG", "SET", "latency-monitor-threshold", THRESHOLD]);
    d.check(&["DEBUG", "SLEEP", SLEEP]);
    d.check(&["LATENCY", "RESET", "nosuch"]);
    d.check(&["LATENCY", "RESET"]);
    d.check(&["LATENCY", "RESET"]);
    d.check(&["DEBUG", "SLEEP", SLEEP]);
    d.check(&["LATENCY", "RESET", "command", "command"]);
    d.check(&["LATENCY", "HISTORY", "command"]);
}

/// Bucket labels LATENCY HISTOGRAM can show: the highest microsecond of the slots at
/// 1024 ns × 2^k, as redis-server 7.0 prints them (1, 2, 4, 8, 16, 33, 66, 132, …).
fn bucket_labels() -> Vec<i64> {
    (0..20)
        .map(|k| {
            let level: i64 = 1024 << k;
            // Width of a slot at this level: values of n bits share 2^(n-8).
            let bits = 64 - level.leading_zeros() as i64;
            let width = 1i64 << (bits - 8).max(0);
            (level + width - 1) / 1000
        })
        .chain(std::iter::once(1_073_741))
        .collect()
}

/// `(calls, [(label, cumulative)])` of one command in a LATENCY HISTOGRAM reply.
fn histogram_of(reply: &V, name: &str) -> Option<(i64, Vec<(i64, i64)>)> {
    let pairs: Vec<(V, V)> = match reply {
        V::Map(m) => m.clone(),
        V::Arr(a) => a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        other => panic!("histogram reply: {other:?}"),
    };
    let (_, body) = pairs.into_iter().find(|(k, _)| *k == V::Str(name.into()))?;
    let fields: Vec<(V, V)> = match body {
        V::Map(m) => m,
        V::Arr(a) => a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(fields.len(), 2, "{name}: {fields:?}");
    assert_eq!(fields[0].0, V::Str("calls".into()));
    assert_eq!(fields[1].0, V::Str("histogram_usec".into()));
    let V::Int(calls) = fields[0].1 else {
        panic!("calls: {:?}", fields[0].1)
    };
    let buckets: Vec<(i64, i64)> = match &fields[1].1 {
        V::Map(m) => m.clone(),
        V::Arr(a) => a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        other => panic!("histogram_usec: {other:?}"),
    }
    .into_iter()
    .map(|(k, v)| match (k, v) {
        (V::Int(k), V::Int(v)) => (k, v),
        kv => panic!("bucket {kv:?}"),
    })
    .collect();
    Some((calls, buckets))
}

/// Checks what must hold of any histogram of `calls` calls.
#[track_caller]
fn well_formed(calls: i64, buckets: &[(i64, i64)]) {
    let labels = bucket_labels();
    assert!(!buckets.is_empty());
    for w in buckets.windows(2) {
        assert!(
            w[0].0 < w[1].0 && w[0].1 < w[1].1,
            "not cumulative: {buckets:?}"
        );
    }
    for (label, _) in buckets {
        assert!(
            labels.contains(label),
            "label {label} not Redis's: {buckets:?}"
        );
    }
    assert_eq!(buckets.last().map(|b| b.1), Some(calls), "{buckets:?}");
}

#[test]
fn histogram_counts_calls_like_redis() {
    let mut d = diff();
    d.check(&["CONFIG", "RESETSTAT"]);
    // Keys on several shards: luagate sums every shard's histogram.
    for i in 0..7 {
        d.check(&["SET", &format!("k{i}"), "v"]);
    }
    for i in 0..4 {
        d.check(&["GET", &format!("k{i}")]);
    }
    d.check(&["INCR", "k0"]); // an error reply is a call too
    d.check(&["GET"]); // refused for its arity: not a call
    d.check(&["MULTI"]);
    d.check(&["SET", "t", "1"]);
    d.check(&["EXEC"]);
    d.check(&["EVAL", "redis.call('set', 'x', '1') return 1", "0"]);
    for round in 0..2 {
        if round == 1 {
            resp3(&mut d);
        }
        let args = [
            "LATENCY",
            "HISTOGRAM",
            "set",
            "GET",
            "get",
            "incr",
            "exec",
            "eval",
            "nosuch",
            "hset",
        ];
        let (x, y) = d.both(&args);
        let (x, y) = (value(&x), value(&y));
        for (name, calls) in [
            ("set", 9),
            ("get", 4),
            ("incr", 1),
            ("exec", 1),
            ("eval", 1),
        ] {
            let (lc, lb) = histogram_of(&x, name).unwrap_or_else(|| panic!("{name} missing"));
            let (rc, rb) = histogram_of(&y, name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((lc, rc), (calls, calls), "{name}");
            well_formed(lc, &lb);
            well_formed(rc, &rb);
        }
        // Same names, in the same order, with `get` twice; no `hset` (never called).
        let names = |v: &V| -> Vec<V> {
            match v {
                V::Map(m) => m.iter().map(|p| p.0.clone()).collect(),
                V::Arr(a) => a.iter().step_by(2).cloned().collect(),
                _ => Vec::new(),
            }
        };
        assert_eq!(names(&x), names(&y));
        assert_eq!(names(&x).len(), 6);
    }
    // A container names its subcommands that have calls.
    d.check(&["CONFIG", "GET", "maxmemory"]);
    let (x, y) = d.both(&["LATENCY", "HISTOGRAM", "config"]);
    let names = |v: V| -> Vec<String> {
        let V::Map(m) = v else { panic!("{v:?}") };
        let mut n: Vec<String> = m
            .into_iter()
            .map(|(k, _)| match k {
                V::Str(s) => s,
                k => panic!("{k:?}"),
            })
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(value(&x)), names(value(&y)));
    assert_eq!(names(value(&x)), ["config|get", "config|resetstat"]);
    // Without names: every command with calls (Redis lists them in its hash order).
    let (x, y) = d.both(&["LATENCY", "HISTOGRAM"]);
    assert_eq!(names(value(&x)), names(value(&y)));
    // Turning tracking off stops counting, but the histograms stay readable.
    d.check(&["CONFIG", "SET", "latency-tracking", "no"]);
    d.check(&["SET", "k0", "v"]);
    let (x, y) = d.both(&["LATENCY", "HISTOGRAM", "set"]);
    assert_eq!(histogram_of(&value(&x), "set").map(|h| h.0), Some(9));
    assert_eq!(histogram_of(&value(&y), "set").map(|h| h.0), Some(9));
    d.check(&["CONFIG", "SET", "latency-tracking", "yes"]);
    // CONFIG RESETSTAT forgets them.
    d.check(&["CONFIG", "RESETSTAT"]);
    d.check(&["LATENCY", "HISTOGRAM", "set", "get"]);
}

/// INFO latencystats' lines: `latency_percentiles_usec_<cmd>` → its value.
fn latencystats(r: &mut Raw) -> Vec<(String, String)> {
    let text = r.cmd_str(&["INFO", "latencystats"]);
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('$'));
    assert_eq!(lines.next(), Some("# Latencystats"), "{text:?}");
    lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("field");
            let cmd = k
                .strip_prefix("latency_percentiles_usec_")
                .unwrap_or_else(|| panic!("field {k}"));
            (cmd.to_string(), v.to_string())
        })
        .collect()
}

/// `p50=1.003,p99=…` with each value written with three decimals.
#[track_caller]
fn percentiles_well_formed(v: &str, labels: &[&str]) {
    let parts: Vec<&str> = if v.is_empty() {
        Vec::new()
    } else {
        v.split(',').collect()
    };
    assert_eq!(parts.len(), labels.len(), "{v}");
    for (p, label) in parts.iter().zip(labels) {
        let (l, n) = p.split_once('=').expect("p=value");
        assert_eq!(l, format!("p{label}"));
        let (int, frac) = n.split_once('.').expect("decimals");
        assert!(int.parse::<u64>().is_ok() && frac.len() == 3, "{n}");
    }
}

#[test]
fn info_latencystats_like_redis() {
    let mut d = diff();
    d.check(&["CONFIG", "RESETSTAT"]);
    for i in 0..5 {
        d.check(&["SET", &format!("k{i}"), "v"]);
        d.check(&["GET", &format!("k{i}")]);
    }
    // Not in INFO / INFO default; in INFO all and everything, after errorstats.
    for args in [
        &["INFO"][..],
        &["INFO", "default"],
        &["INFO", "all"],
        &["INFO", "everything"],
    ] {
        let (x, y) = d.both(args);
        let has = |b: &[u8]| String::from_utf8_lossy(b).contains("# Latencystats");
        assert_eq!(has(&x), has(&y), "{args:?}");
    }
    let (ours, theirs) = (latencystats(&mut d.a), latencystats(&mut d.b));
    let names = |v: &[(String, String)]| {
        let mut n: Vec<String> = v.iter().map(|p| p.0.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&ours), names(&theirs));
    for (_, v) in ours.iter().chain(&theirs) {
        percentiles_well_formed(v, &["50", "99", "99.9"]);
    }
    d.check(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 12.5 100",
    ]);
    for (_, v) in latencystats(&mut d.a).iter().chain(&latencystats(&mut d.b)) {
        percentiles_well_formed(v, &["0", "12.5", "100"]);
    }
    d.check(&["CONFIG", "SET", "latency-tracking-info-percentiles", ""]);
    let (ours, theirs) = (latencystats(&mut d.a), latencystats(&mut d.b));
    assert_eq!(names(&ours), names(&theirs));
    assert!(ours.iter().all(|(_, v)| v.is_empty()), "{ours:?}");
    // Tracking off: only the title.
    d.check(&["CONFIG", "SET", "latency-tracking", "no"]);
    d.check(&["INFO", "latencystats"]);
    d.check(&["CONFIG", "SET", "latency-tracking", "yes"]);
    d.check(&["CONFIG", "RESETSTAT"]);
    let (ours, theirs) = (latencystats(&mut d.a), latencystats(&mut d.b));
    // RESETSTAT is counted after it ran; only CONFIG RESETSTAT and the INFO before are left.
    assert_eq!(names(&ours), names(&theirs));
}

#[test]
fn one_call_percentiles_are_exact() {
    // A command whose calls all take under a microsecond on both servers is rare on a noisy
    // machine, so compare the arithmetic instead: every value must be a slot's highest value
    // in Redis's layout, i.e. end in the digits that layout produces for its slot width.
    let mut d = diff();
    d.check(&["CONFIG", "RESETSTAT"]);
    d.check(&["PING"]);
    for (_, v) in latencystats(&mut d.a) {
        for p in v.split(',') {
            let n: f64 = p.split_once('=').expect("p=v").1.parse().expect("number");
            let ns = (n * 1000.0).round() as u64;
            // Highest value of a slot: one less than a multiple of the slot width.
            let bits = 64 - ns.leading_zeros() as u64;
            let width = 1u64 << bits.saturating_sub(8);
            assert_eq!((ns + 1) % width, 0, "{p}: {ns} ns is not a slot's top");
        }
    }
}

/// `calls` and `failed_calls` of `cmd` in INFO commandstats, and its LATENCY HISTOGRAM calls.
fn counted(r: &mut Raw, cmd: &str) -> String {
    let stats = r.cmd_str(&["INFO", "commandstats"]);
    let line = stats
        .lines()
        .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
        .unwrap_or_default();
    let field = |name: &str| {
        line.split([':', ','])
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or("-")
            .to_string()
    };
    let hist = histogram_of(&value(&r.cmd(&["LATENCY", "HISTOGRAM", cmd])), cmd).map(|h| h.0);
    format!(
        "{cmd}: calls={} failed_calls={} histogram={hist:?}",
        field("calls"),
        field("failed_calls")
    )
}

/// A blocking command is one call however it ends, as Redis 7.0.15 counts it: served at once
/// or after waiting, timed out (outside the latency histogram), or ended by CLIENT UNBLOCK
/// (TIMEOUT or ERROR: a failed call, in the histogram); the attempts that found nothing to
/// serve are not calls.
#[test]
fn blocking_commands_are_counted_once_like_redis() {
    common::on_both(|p| {
        let mut log = Vec::new();
        let mut r = p.raw();
        let mut w = p.raw();
        let id = String::from_utf8_lossy(&w.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim()
            .to_string();
        r.cmd(&["CONFIG", "RESETSTAT"]);
        // Timed out.
        log.push(r.cmd_str(&["BLPOP", "q", "0.05"]));
        log.push(counted(&mut r, "blpop"));
        // Served after waiting (woken by a push).
        w.send_cmd(&[b"BLPOP", b"q2", b"5"]);
        common::wait_blocked_clients(&mut r, 1);
        r.cmd(&["RPUSH", "q2", "a"]);
        log.push(String::from_utf8_lossy(&w.read_reply().expect("reply")).into_owned());
        log.push(counted(&mut r, "blpop"));
        // Served at once.
        r.cmd(&["RPUSH", "q3", "x"]);
        log.push(r.cmd_str(&["BLPOP", "q3", "1"]));
        log.push(counted(&mut r, "blpop"));
        // Ended by CLIENT UNBLOCK, both ways.
        for how in ["ERROR", "TIMEOUT"] {
            w.send_cmd(&[b"BLPOP", b"q", b"5"]);
            common::wait_blocked_clients(&mut r, 1);
            log.push(r.cmd_str(&["CLIENT", "UNBLOCK", &id, how]));
            log.push(String::from_utf8_lossy(&w.read_reply().expect("reply")).into_owned());
            log.push(counted(&mut r, "blpop"));
        }
        // Other families: a sorted-set pop and a stream read that time out.
        log.push(r.cmd_str(&["BZPOPMIN", "z", "0.05"]));
        log.push(counted(&mut r, "bzpopmin"));
        log.push(r.cmd_str(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]));
        log.push(counted(&mut r, "xread"));
        log
    });
}

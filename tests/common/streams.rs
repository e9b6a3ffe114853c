//! Helpers of the stream tests (tests/streams*.rs, tests/stream_groups*.rs): replies as text,
//! a blocked reader's send and read, the luagate those tests restart and follow, and the
//! masking of what the clock stamps (idle, seen and delivery times) and of the node layout.
#![allow(dead_code)]

use super::{array_items, Diff, Proc, Raw};

/// A reply as text.
pub fn s(x: &[u8]) -> String {
    String::from_utf8_lossy(x).into_owned()
}

/// Switches both connections to RESP3 (the HELLO replies differ in the version only).
pub fn resp3(d: &mut Diff) {
    d.both(&["HELLO", "3"]);
}

/// Sends a command without waiting for its reply (a reader about to block).
pub fn send(c: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    c.send_cmd(&a);
}

/// The next reply, as text.
pub fn read(c: &mut Raw) -> String {
    s(&c.read_reply().expect("reply"))
}

/// The leaders, followers and restarted nodes of the stream tests: `luagate_debug`.
pub fn node(extra: &[&str]) -> Proc {
    super::luagate_debug(extra)
}

/// A workload on a luagate with the append-only log, killed (-9) and started again twice:
/// `state` after replaying the log's effects, and after a rewrite into a snapshot, must be
/// what it was before each kill.
pub fn survives_log_and_rewrite(
    tag: &str,
    workload: impl Fn(&mut Raw),
    state: impl Fn(&mut Raw) -> String,
) {
    let dir = super::scratch_dir(tag);
    let d = dir.to_str().expect("utf-8 path");
    let flags = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d];
    let restart = |mut p: Proc| {
        p.child.kill().expect("kill -9");
        let _ = p.child.wait();
        drop(p);
        node(&flags)
    };
    let p = node(&flags);
    let mut r = p.raw();
    workload(&mut r);
    let before = state(&mut r);
    // Replayed from the log's effects.
    let p = restart(p);
    let mut r = p.raw();
    assert_eq!(state(&mut r), before);
    // Rewritten into a snapshot, then replayed from it (read again: the rewrite adds a
    // filler key, which a digest of the dataset covers).
    super::rewrite_log(&mut r, &dir);
    let before = state(&mut r);
    let p = restart(p);
    let mut r = p.raw();
    assert_eq!(state(&mut r), before);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A RESP reply with clock-dependent numbers masked: the integer after an `idle` or
/// `seen-time` field, and any integer that reads as a unix time in milliseconds (> 10^12).
pub fn mask(reply: &[u8]) -> String {
    mask_with(reply, true)
}

/// The integer after an `idle` or `seen-time` field masked, and, if `times`, any integer
/// that reads as a unix time in milliseconds (> 10^12).
pub fn mask_with(reply: &[u8], times: bool) -> String {
    let text = s(reply);
    let mut out = Vec::new();
    let mut after_field = false;
    for line in text.split("\r\n") {
        let masked = match line.strip_prefix(':') {
            Some(n) if after_field => {
                let _ = n;
                ":?".to_string()
            }
            Some(n) if times && n.parse::<i64>().is_ok_and(|v| v > 1_000_000_000_000) => {
                ":T".to_string()
            }
            _ => line.to_string(),
        };
        after_field = line == "idle" || line == "seen-time";
        out.push(masked);
    }
    out.join("\r\n")
}

/// XPENDING's extended form with each entry's idle time (its third element) masked.
pub fn mask_pending(reply: &[u8]) -> String {
    let Some(items) = array_items(reply) else {
        return s(reply);
    };
    let mut out = format!("*{}\r\n", items.len());
    for it in items {
        match array_items(&it) {
            Some(mut e) if e.len() == 4 => {
                e[2] = b":?\r\n".to_vec();
                out.push_str(&format!("*4\r\n{}", s(&e.concat())));
            }
            _ => out.push_str(&s(&it)),
        }
    }
    out
}

/// `text` with the node layout masked (`radix-tree-keys`, `radix-tree-nodes`): a stream
/// rebuilt from a snapshot is laid out afresh (README, Known gaps).
pub fn without_layout(text: String) -> String {
    let mut out = Vec::new();
    let mut after = false;
    for line in text.split("\r\n") {
        out.push(if after && line.starts_with(':') {
            ":L"
        } else {
            line
        });
        after = line == "radix-tree-keys" || line == "radix-tree-nodes";
    }
    out.join("\r\n")
}

/// Runs `args` on both servers and asserts the replies are the same once masked (`mask`, or
/// `mask_pending` for XPENDING's extended form); returns luagate's, masked.
#[track_caller]
pub fn check_masked(d: &mut Diff, args: &[&str]) -> String {
    let (x, y) = d.both(args);
    let (x, y) = if is_xpending_extended(args) {
        (mask_pending(&x), mask_pending(&y))
    } else {
        (mask(&x), mask(&y))
    };
    assert_eq!(
        x, y,
        "luagate (left) and redis-server (right) differ on {args:?}"
    );
    x
}

fn is_xpending_extended(args: &[&str]) -> bool {
    args[0].eq_ignore_ascii_case("XPENDING") && args.len() > 3
}

/// `check_masked` for each line (words split on spaces).
#[track_caller]
pub fn check_masked_lines(d: &mut Diff, script: &str) {
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        check_masked(d, &words);
    }
}

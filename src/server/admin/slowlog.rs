//! The slow log: SLOWLOG GET / LEN / RESET / HELP and the log they read.
//!
//! Invariants: an entry is pushed only after its command ran (so its duration is the
//! execution time, and the client name is the one it had then); entries are kept newest
//! first and never more than `slowlog-max-len`; ids only grow (RESET keeps the counter, as
//! Redis does). The threshold lives in an atomic so the per-command check costs one load;
//! `Server::update_config` keeps it in step with the configuration.

use super::super::connection::Conn;
use crate::commands::{is, parse_i64};
use crate::config::Config;
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Most arguments an entry keeps (the last kept slot says how many more there were).
const MAX_ARGC: usize = 32;
/// Longest argument an entry keeps, in bytes.
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    unix_secs: u64,
    usec: u64,
    args: Vec<Bytes>,
    addr: String,
    name: String,
}

pub struct SlowLog {
    /// Microseconds; negative disables the log.
    threshold_us: AtomicI64,
    max_len: AtomicU64,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

/// Who ran a logged command.
pub struct Caller {
    pub addr: String,
    pub name: String,
}

impl SlowLog {
    pub fn new(cfg: &Config) -> SlowLog {
        let log = SlowLog {
            threshold_us: AtomicI64::new(-1),
            max_len: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        };
        log.configure(cfg);
        log
    }

    /// Takes the threshold and length from `cfg`, dropping entries past the new length.
    pub fn configure(&self, cfg: &Config) {
        self.threshold_us
            .store(cfg.slowlog_log_slower_than, Relaxed);
        self.max_len.store(cfg.slowlog_max_len, Relaxed);
        if let Ok(mut e) = self.entries.lock() {
            e.truncate(cfg.slowlog_max_len as usize);
        }
    }

    /// Whether any command could be logged now (a negative threshold or a zero length turns
    /// the log off), so callers can skip keeping a command's arguments for it.
    pub fn enabled(&self) -> bool {
        self.threshold_us.load(Relaxed) >= 0 && self.max_len.load(Relaxed) > 0
    }

    /// Whether a command that took `usec` belongs in the log.
    #[inline]
    pub fn is_slow(&self, usec: u64) -> bool {
        let t = self.threshold_us.load(Relaxed);
        t >= 0 && usec >= t as u64 && self.max_len.load(Relaxed) > 0
    }

    /// Records a command that [`is_slow`](Self::is_slow) accepted; `caller` is asked only now,
    /// since finding the client's name and address costs a lock.
    pub fn push(&self, args: &[Bytes], usec: u64, caller: impl FnOnce() -> Caller) {
        let Caller { addr, name } = caller();
        let args = entry_args(args);
        tracing::info!(
            target: "luagate::slowlog",
            command = %String::from_utf8_lossy(&args[0]),
            duration_us = usec,
            client = %addr,
            "slow command"
        );
        let id = self.next_id.fetch_add(1, Relaxed);
        let entry = Entry {
            id,
            unix_secs: crate::clock::unix_ms() / 1000,
            usec,
            args,
            addr,
            name,
        };
        let max = self.max_len.load(Relaxed) as usize;
        if let Ok(mut e) = self.entries.lock() {
            e.push_front(entry);
            e.truncate(max);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }

    /// The newest `count` entries (all when `None`), as SLOWLOG GET replies them.
    fn get(&self, count: Option<usize>) -> Reply {
        let Ok(entries) = self.entries.lock() else {
            return Reply::Array(Vec::new());
        };
        let n = count.unwrap_or(entries.len()).min(entries.len());
        Reply::Array(
            entries
                .iter()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.unix_secs as i64),
                        Reply::Int(e.usec as i64),
                        Reply::Array(e.args.iter().map(|a| Reply::Bulk(a.clone())).collect()),
                        Reply::bulk_str(&e.addr),
                        Reply::bulk_str(&e.name),
                    ])
                })
                .collect(),
        )
    }
}

/// The arguments an entry keeps: secrets redacted, at most [`MAX_ARGC`] of them and each at
/// most [`MAX_STRING`] bytes, with a note of what was cut.
fn entry_args(args: &[Bytes]) -> Vec<Bytes> {
    let redacted = redacted_positions(args);
    let keep = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(keep);
    for (i, a) in args.iter().enumerate().take(keep) {
        if keep < args.len() && i == keep - 1 {
            let more = args.len() - keep + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if redacted.contains(&i) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Positions of passwords: AUTH's arguments, HELLO's AUTH pair, CONFIG SET's secret values.
fn redacted_positions(args: &[Bytes]) -> Vec<usize> {
    let mut out = Vec::new();
    let Some(name) = args.first() else { return out };
    if is(name, "AUTH") {
        out.extend(1..args.len());
    } else if is(name, "HELLO") {
        if let Some(p) = args.iter().position(|a| is(a, "AUTH")) {
            out.extend([p + 1, p + 2]);
        }
    } else if is(name, "CONFIG") && args.get(1).is_some_and(|a| is(a, "SET")) {
        let mut i = 2;
        while i + 1 < args.len() {
            if is(&args[i], "requirepass") || is(&args[i], "masterauth") {
                out.push(i + 1);
            }
            i += 2;
        }
    }
    out
}

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub fn command(conn: &Conn, sub: &str, args: &[Bytes]) -> Result<Reply, CommandError> {
    let log = &conn.server.slowlog;
    match sub {
        "slowlog|get" => {
            if args.len() > 3 {
                return Err(CommandError::err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                    String::from_utf8_lossy(&args[1])
                )));
            }
            let count = match args.get(2) {
                None => Some(10),
                Some(a) => match parse_i64(a) {
                    Some(-1) => None,
                    Some(n) if n >= 0 => Some(n as usize),
                    _ => {
                        return Err(CommandError::err(
                            "ERR count should be greater than or equal to -1",
                        ))
                    }
                },
            };
            Ok(log.get(count))
        }
        "slowlog|len" => Ok(Reply::Int(log.len() as i64)),
        "slowlog|reset" => {
            log.reset();
            Ok(Reply::ok())
        }
        _ => Ok(Reply::help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn truncation_and_redaction() {
        let long = "a".repeat(200);
        let got = entry_args(&b(&["set", "k", &long]));
        assert_eq!(got[2], format!("{}... (72 more bytes)", "a".repeat(128)));
        let many: Vec<String> = (0..35).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        let got = entry_args(&b(&many));
        assert_eq!(got.len(), 32);
        assert_eq!(got[31], "... (4 more arguments)");
        assert_eq!(got[30], "30");
        let got = entry_args(&b(&["config", "set", "requirepass", "pw", "timeout", "3"]));
        assert_eq!(got[3], "(redacted)");
        assert_eq!(got[5], "3");
        let got = entry_args(&b(&["hello", "3", "auth", "u", "p"]));
        assert_eq!(
            &got[3..],
            &[Bytes::from("(redacted)"), Bytes::from("(redacted)")]
        );
    }
}

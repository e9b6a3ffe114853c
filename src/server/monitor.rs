//! MONITOR: a line per command the server runs, sent to every monitoring client, as Redis
//! writes them (`+1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"`, `[0 lua]` for a
//! script's calls).
//!
//! Invariant: while nobody monitors, a command pays one relaxed atomic load here and nothing
//! else. Lines are fed where a command runs (`commands::call_from` for shard commands, the
//! connection for its own commands and, before they run, for scripts and blocking commands),
//! so they come in the order commands ran; commands Redis keeps out (admin, `skip_monitor`
//! ones after they ran, rejected ones, a blocked client's retries) are kept out here too.

use super::Server;
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tokio::sync::mpsc;

/// Who ran a command.
#[derive(Clone, Copy)]
pub enum Source {
    /// A client, by id.
    Client(u64),
    /// A script's `redis.call`.
    Lua,
}

#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: Mutex<Vec<(u64, mpsc::UnboundedSender<Bytes>)>>,
}

impl Monitors {
    /// Whether anyone monitors: the one check every command pays.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    /// Makes client `id` a monitor; its lines arrive on the returned queue.
    pub fn add(&self, id: u64) -> mpsc::UnboundedReceiver<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut list = self.list.lock();
        list.push((id, tx));
        self.count.store(list.len(), Relaxed);
        rx
    }

    pub fn remove(&self, id: u64) {
        let mut list = self.list.lock();
        list.retain(|(m, _)| *m != id);
        self.count.store(list.len(), Relaxed);
    }

    /// Sends the line for `args`, run in database `db` by `source`, to every monitor.
    pub fn feed(&self, server: &Server, db: usize, source: Source, args: &[Bytes]) {
        let who = match source {
            Source::Lua => "lua".to_string(),
            Source::Client(id) => match server.clients.get(id) {
                Some(c) => c.addr.to_string(),
                // The leader's stream and the log replay run as no client: Redis shows no
                // line for the log either.
                None => return,
            },
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line =
            format!("+{}.{:06} [{db} {who}]", now.as_secs(), now.subsec_micros()).into_bytes();
        for (i, a) in args.iter().enumerate() {
            line.push(b' ');
            if redacted(args, i) {
                line.extend_from_slice(b"\"(redacted)\"");
            } else {
                quote(a, &mut line);
            }
        }
        line.extend_from_slice(b"\r\n");
        let line = Bytes::from(line);
        let mut list = self.list.lock();
        list.retain(|(_, tx)| tx.send(line.clone()).is_ok());
        self.count.store(list.len(), Relaxed);
    }
}

/// Whether argument `i` is a secret Redis shows as `(redacted)`: AUTH's arguments, and the
/// two after HELLO's AUTH.
fn redacted(args: &[Bytes], i: usize) -> bool {
    let name = &args[0];
    if name.eq_ignore_ascii_case(b"auth") {
        return i > 0;
    }
    if !name.eq_ignore_ascii_case(b"hello") {
        return false;
    }
    // HELLO's options as HELLO reads them: AUTH user pass, SETNAME name.
    let mut j = 2;
    while j < args.len() {
        if args[j].eq_ignore_ascii_case(b"auth") && j + 2 < args.len() {
            if i == j + 1 || i == j + 2 {
                return true;
            }
            j += 3;
        } else if args[j].eq_ignore_ascii_case(b"setname") && j + 1 < args.len() {
            j += 2;
        } else {
            break;
        }
    }
    false
}

/// `"…"` with C-style escapes, as Redis quotes a monitored argument.
fn quote(a: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in a {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_redacts_as_redis() {
        let mut out = Vec::new();
        quote(b"a\x01\n\"\\\x07\x08\t\r\xff", &mut out);
        assert_eq!(out, b"\"a\\x01\\n\\\"\\\\\\a\\b\\t\\r\\xff\"");
        let args: Vec<Bytes> = ["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let hidden: Vec<bool> = (0..args.len()).map(|i| redacted(&args, i)).collect();
        assert_eq!(hidden, [false, false, false, true, true, false, false]);
        let args: Vec<Bytes> = ["auth", "pw"].iter().map(|s| Bytes::from(*s)).collect();
        assert!(redacted(&args, 1) && !redacted(&args, 0));
    }
}

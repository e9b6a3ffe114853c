//! A luagate with its metrics listener, for the tests of the HTTP side (tests/operable.rs,
//! tests/deploy_files.rs). Include with `#[path = "common/node.rs"] mod node;` next to
//! `mod common;`.
#![allow(dead_code)]

use crate::common::Proc;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A luagate with its metrics listener, started on free ports.
pub struct Node {
    pub proc: Proc,
    pub metrics: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts luagate with `extra` flags and `env`, the metrics listener on a free port; reads
/// both listening lines from stdout. Retries when the picked metrics port was taken meanwhile.
/// The server runs in a fresh working directory, so its default data directory (`.`) holds
/// nothing a previous run, or anything else in the checkout, left behind; a `dir` given by a
/// test (flag, environment or config file) still wins.
pub fn start(extra: &[&str], env: &[(&str, &str)]) -> Node {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let cwd = std::env::temp_dir().join(format!(
        "luagate-node-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&cwd).expect("test working dir");
    for _ in 0..5 {
        let metrics = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_luagate"));
        cmd.current_dir(&cwd);
        cmd.args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--metrics-port",
            &metrics.to_string(),
        ])
        .args(extra)
        .envs(env.iter().copied())
        .env("LUAGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawning luagate");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut port, mut got_metrics) = (None, false);
        for _ in 0..2 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let p = crate::common::listening_port(&line);
            if line.starts_with("luagate metrics listening on") {
                got_metrics = p == Some(metrics);
            } else if line.starts_with("luagate listening on") {
                port = p;
            }
        }
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        match port {
            Some(port) if got_metrics => {
                return Node {
                    proc: Proc {
                        child,
                        port,
                        dir: Some(cwd),
                    },
                    metrics,
                }
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("luagate did not start with a metrics listener");
}

/// One HTTP request; (status, body). `None` if the port is closed.
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

pub fn scrape(node: &Node) -> String {
    let (status, body) = http(node.metrics, "GET", "/metrics").expect("scrape");
    assert_eq!(status, 200);
    body
}

/// Polls `f` until it is true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

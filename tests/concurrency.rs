//! Many clients running transactions over keys on different shards at once: no deadlock (every
//! run is bounded in time), no torn read (readers' MULTI … EXEC snapshots always satisfy the
//! workload's invariant), no lost update (WATCH-based read-modify-write keeps totals exact).
//!
//! A workload is a set of plain functions over raw connections, so new command families can
//! add their own (e.g. INCRBY transfers, list rotations) by writing a `Workload` and calling
//! [`run`].
mod common;

use common::{array_items, Raw, Rng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whole-run limit: a deadlock shows up as this failing (or as a 20 s read timeout).
const DEADLINE: Duration = Duration::from_secs(90);

struct Workload {
    /// Creates the initial data.
    setup: fn(&mut Raw, &[String]),
    /// One write attempt; returns whether it committed (a failed WATCH is retried).
    write: fn(&mut Raw, &[String], &mut Rng) -> bool,
    /// One read; `Err` describes a violated invariant.
    read: fn(&mut Raw, &[String]) -> Result<(), String>,
    /// Checks the data once everything has stopped.
    check: fn(&mut Raw, &[String]) -> Result<(), String>,
}

/// `count` keys named `<prefix>:<i>`, spread so that every shard of a 4-shard server owns
/// some of them.
fn spread_keys(prefix: &str, count: usize) -> Vec<String> {
    let mut by_shard: Vec<Vec<String>> = vec![Vec::new(); 4];
    for i in 0..10_000 {
        let k = format!("{prefix}:{i}");
        let shard = luagate::slot::key_slot(k.as_bytes()).get() as usize / 4096;
        by_shard[shard].push(k);
    }
    (0..count).map(|i| by_shard[i % 4][i / 4].clone()).collect()
}

/// Runs `writers` writer threads doing `steps` committed writes each and `readers` reader
/// threads reading until the writers finish, against a fresh luagate with `shards` shards.
fn run(
    w: Workload,
    keys: Vec<String>,
    shards: usize,
    writers: usize,
    readers: usize,
    steps: usize,
) {
    let server = common::luagate_shards(shards);
    let start = Instant::now();
    (w.setup)(&mut server.raw(), &keys);
    let keys = Arc::new(keys);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let port = server.port;
    let mut handles = Vec::new();
    for id in 0..writers {
        let keys = keys.clone();
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut c = Raw::connect(port);
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) * 0x1234_5678_9ABC));
            let mut committed = 0;
            while committed < steps {
                if start.elapsed() > DEADLINE {
                    return Err(format!("writer {id} ran out of time at {committed}"));
                }
                if (w.write)(&mut c, &keys, &mut rng) {
                    committed += 1;
                }
            }
            Ok(())
        }));
    }
    let mut reader_handles = Vec::new();
    for id in 0..readers {
        let (keys, done, reads) = (keys.clone(), done.clone(), reads.clone());
        reader_handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut c = Raw::connect(port);
            while !done.load(Ordering::Relaxed) {
                if start.elapsed() > DEADLINE {
                    return Err(format!("reader {id} ran out of time"));
                }
                (w.read)(&mut c, &keys).map_err(|e| format!("reader {id}: {e}"))?;
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let mut errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a writer panicked".into()),
        }
    }
    done.store(true, Ordering::Relaxed);
    for h in reader_handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a reader panicked".into()),
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(reads.load(Ordering::Relaxed) > 0 || readers == 0);
    (w.check)(&mut server.raw(), &keys).expect("final state");
    // The server is still responsive.
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

fn cmd(c: &mut Raw, args: &[&str]) -> Vec<u8> {
    c.cmd(args)
}

/// An integer from a bulk reply (`$-1` counts as 0).
fn bulk_int(r: &[u8]) -> Result<i64, String> {
    let s = String::from_utf8_lossy(r);
    if s == "$-1\r\n" {
        return Ok(0);
    }
    s.split("\r\n")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("not an integer bulk: {s:?}"))
}

/// Reads every key in one transaction; `None` if EXEC did not return an array.
fn snapshot(c: &mut Raw, keys: &[String]) -> Result<Vec<Vec<u8>>, String> {
    if cmd(c, &["MULTI"]) != b"+OK\r\n" {
        return Err("MULTI failed".into());
    }
    for k in keys {
        let q = cmd(c, &["GET", k]);
        if q != b"+QUEUED\r\n" {
            return Err(format!("GET not queued: {:?}", String::from_utf8_lossy(&q)));
        }
    }
    let r = cmd(c, &["EXEC"]);
    array_items(&r).ok_or_else(|| format!("EXEC: {:?}", String::from_utf8_lossy(&r)))
}

const ACCOUNTS: usize = 8;
const BALANCE: i64 = 1000;

/// Transfers between accounts on different shards with WATCH + MULTI/EXEC; the total never
/// changes, in any snapshot or at the end.
fn transfers() -> Workload {
    Workload {
        setup: |c, keys| {
            for k in keys {
                cmd(c, &["SET", k, &BALANCE.to_string()]);
            }
        },
        write: |c, keys, rng| {
            let a = rng.below(keys.len() as u64) as usize;
            let b = (a + 1 + rng.below(keys.len() as u64 - 1) as usize) % keys.len();
            let amount = rng.below(50) as i64;
            let (ka, kb) = (&keys[a], &keys[b]);
            cmd(c, &["WATCH", ka, kb]);
            let (va, vb) = match (
                bulk_int(&cmd(c, &["GET", ka])),
                bulk_int(&cmd(c, &["GET", kb])),
            ) {
                (Ok(x), Ok(y)) => (x, y),
                _ => {
                    cmd(c, &["UNWATCH"]);
                    return false;
                }
            };
            cmd(c, &["MULTI"]);
            cmd(c, &["SET", ka, &(va - amount).to_string()]);
            cmd(c, &["SET", kb, &(vb + amount).to_string()]);
            let r = cmd(c, &["EXEC"]);
            r.starts_with(b"*2\r\n")
        },
        read: |c, keys| {
            let items = snapshot(c, keys)?;
            let mut sum = 0;
            for i in &items {
                sum += bulk_int(i)?;
            }
            if sum != BALANCE * keys.len() as i64 {
                return Err(format!("torn read: sum {sum}"));
            }
            Ok(())
        },
        check: |c, keys| {
            let mut sum = 0;
            for k in keys {
                sum += bulk_int(&cmd(c, &["GET", k]))?;
            }
            if sum != BALANCE * keys.len() as i64 {
                return Err(format!("lost update: final sum {sum}"));
            }
            Ok(())
        },
    }
}

/// Writers stamp every key with one tag in a transaction; readers must never see two tags.
fn version_tags() -> Workload {
    Workload {
        setup: |c, keys| {
            for k in keys {
                cmd(c, &["SET", k, "v0"]);
            }
        },
        write: |c, keys, rng| {
            let tag = format!("v{}", rng.below(1_000_000));
            cmd(c, &["MULTI"]);
            for k in keys {
                cmd(c, &["SET", k, &tag]);
            }
            cmd(c, &["DEL", "scratch"]);
            cmd(c, &["EXEC"]).starts_with(format!("*{}\r\n", keys.len() + 1).as_bytes())
        },
        read: |c, keys| {
            let items = snapshot(c, keys)?;
            if items.windows(2).any(|w| w[0] != w[1]) {
                let shown: Vec<_> = items
                    .iter()
                    .map(|i| String::from_utf8_lossy(i).into_owned())
                    .collect();
                return Err(format!("torn read: {shown:?}"));
            }
            Ok(())
        },
        check: |c, keys| {
            let first = cmd(c, &["GET", &keys[0]]);
            for k in keys {
                if cmd(c, &["GET", k]) != first {
                    return Err("keys disagree at the end".into());
                }
            }
            Ok(())
        },
    }
}

#[test]
fn transfers_across_shards_keep_the_total() {
    run(transfers(), spread_keys("acct", ACCOUNTS), 4, 8, 8, 120);
}

#[test]
fn tagged_writes_are_never_seen_half_done() {
    run(version_tags(), spread_keys("tag", 12), 4, 8, 8, 80);
}

/// A pipeline's writes on two shards are seen in the order they were sent, even when the first
/// shard is held by a long script and a reader of both shards is already queued there: the
/// reader must never see the second write without the first.
#[test]
fn a_pipeline_across_shards_is_seen_in_order_behind_a_held_shard() {
    let s = common::luagate(&["--shards", "2", "--io-workers", "2"]);
    let map = luagate::slot::SlotMap::new(2);
    let on = |shard: usize, prefix: &str| {
        (0..10_000)
            .map(|i| format!("{prefix}{i}"))
            .find(|k| map.shard_of_key(k.as_bytes()).index() == shard)
            .expect("a key on the shard")
    };
    let (data, flag) = (on(0, "data"), on(1, "flag"));
    // Every client connected and served once before the script occupies an I/O worker.
    let (mut holder, mut reader, mut writer) = (s.raw(), s.raw(), s.raw());
    for c in [&mut holder, &mut reader, &mut writer] {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    // Holds shard 0 for a while (well below the busy threshold).
    let spin = "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
                while true do t = redis.call('TIME') \
                if t[1] * 1000000 + t[2] - start > 400000 then break end end return 1";
    let a: Vec<&[u8]> = vec![b"EVAL", spin.as_bytes(), b"1", data.as_bytes()];
    holder.send(&common::encode_cmd(&a));
    std::thread::sleep(Duration::from_millis(80));
    // Queued on shard 0 behind the script; it will read both shards in one unit.
    let a: Vec<&[u8]> = vec![b"MGET", data.as_bytes(), flag.as_bytes()];
    reader.send(&common::encode_cmd(&a));
    std::thread::sleep(Duration::from_millis(80));
    let mut pipe = common::encode_cmd(&[b"SET", data.as_bytes(), b"x"]);
    pipe.extend(common::encode_cmd(&[b"SET", flag.as_bytes(), b"ready"]));
    writer.send(&pipe);
    let seen = reader.read_reply().expect("MGET reply");
    assert_ne!(
        seen,
        b"*2\r\n$-1\r\n$5\r\nready\r\n".to_vec(),
        "the flag was visible without the data"
    );
    assert_eq!(writer.read_reply().expect("reply"), b"+OK\r\n");
    assert_eq!(writer.read_reply().expect("reply"), b"+OK\r\n");
    assert_eq!(holder.read_reply().expect("script reply"), b":1\r\n");
}

//! Per-shard statistics, read by anyone (INFO, /metrics) without stopping the shard.
//!
//! Invariant: a shard's command statistics are written only by whoever holds the shard (its
//! thread or an I/O thread running a unit inline), one writer at a time, so they are added to
//! with a plain load and store rather than a locked read-modify-write: the shard's lock orders
//! the writers. `conn_stats` (commands run on connections) has many writers and adds
//! atomically. Counters only grow; CONFIG RESETSTAT moves a base up to them (see [`Counter`]).

use super::histogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Upper bounds (seconds) of the command latency histogram buckets; the last bucket is +Inf.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
    1.0, 5.0,
];

/// `LATENCY_BUCKETS` in whole microseconds (all exact), so recording a call compares integers.
const LATENCY_BUCKETS_USEC: [u64; LATENCY_BUCKETS.len()] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000, 1_000_000, 5_000_000,
];

/// A statistic that only grows; what it reports is its growth since the last reset. A reset
/// moves the base up to the current value, so it never races a writer into a lost update.
#[derive(Default)]
pub struct Counter {
    raw: AtomicU64,
    base: AtomicU64,
}

impl Counter {
    /// Adds `n`, for the only writer of this counter at this moment (see the module invariant).
    #[inline]
    pub fn add_exclusive(&self, n: u64) {
        self.raw
            .store(self.raw.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Adds `n`, among concurrent writers.
    #[inline]
    pub fn add(&self, n: u64) {
        self.raw.fetch_add(n, Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.raw
            .load(Relaxed)
            .saturating_sub(self.base.load(Relaxed))
    }

    pub fn reset(&self) {
        self.base.store(self.raw.load(Relaxed), Relaxed);
    }
}

#[derive(Default)]
pub struct CmdStat {
    pub calls: Counter,
    pub usec: Counter,
    pub failed: Counter,
    pub rejected: Counter,
    /// Non-cumulative counts per latency bucket (`LATENCY_BUCKETS`, then +Inf).
    pub buckets: [Counter; LATENCY_BUCKETS.len() + 1],
    /// Redis's per-command latency histogram (`latency-tracking`), allocated on first use.
    pub hist: Histogram,
}

pub struct ShardStats {
    pub cmds: Vec<CmdStat>,
    pub queue_depth: AtomicU64,
    /// Keys and keys with an expiry per database, refreshed by the shard's cron.
    pub keys: Vec<AtomicU64>,
    pub expiring: Vec<AtomicU64>,
    /// Microseconds this shard spent in scripts past the busy threshold.
    pub busy_usec: AtomicU64,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats::new(0)
    }
}

impl ShardStats {
    /// Statistics for a shard with `databases` databases (0 for connection-side counters).
    pub fn new(databases: usize) -> ShardStats {
        let n = crate::commands::command_count();
        ShardStats {
            cmds: (0..n).map(|_| CmdStat::default()).collect(),
            queue_depth: AtomicU64::new(0),
            keys: (0..databases).map(|_| AtomicU64::new(0)).collect(),
            expiring: (0..databases).map(|_| AtomicU64::new(0)).collect(),
            busy_usec: AtomicU64::new(0),
        }
    }

    /// Records a call, for a writer among many (`conn_stats`); `track` adds it to the
    /// command's latency histogram (`latency-tracking yes`).
    pub fn record(&self, id: u16, usec: u64, failures: u32, track: bool) {
        if let Some(s) = self.cmds.get(id as usize) {
            Self::add_call(s, usec, failures, Counter::add);
            if track {
                s.hist.record(usec);
            }
        }
    }

    /// Records a call on a shard's statistics, by the holder of the shard. Always inlined:
    /// it is on every command's path (callgrind: ~14 instructions per call when it is not).
    #[inline(always)]
    pub fn record_held(&self, id: u16, usec: u64, failures: u32, track: bool) {
        if let Some(s) = self.cmds.get(id as usize) {
            Self::add_call(s, usec, failures, Counter::add_exclusive);
            if track {
                s.hist.record_exclusive(usec);
            }
        }
    }

    #[inline]
    fn record_with(&self, id: u16, usec: u64, failures: u32, add: impl Fn(&Counter, u64)) {
        if let Some(s) = self.cmds.get(id as usize) {
            Self::add_call(s, usec, failures, add);
        }
    }

    #[inline]
    fn add_call(s: &CmdStat, usec: u64, failures: u32, add: impl Fn(&Counter, u64)) {
        add(&s.calls, 1);
        add(&s.usec, usec);
        if failures > 0 {
            add(&s.failed, u64::from(failures));
        }
        let b = LATENCY_BUCKETS_USEC
            .iter()
            .position(|&ub| usec <= ub)
            .unwrap_or(LATENCY_BUCKETS.len());
        add(&s.buckets[b], 1);
    }

    /// A call refused before it ran (arity, NOAUTH, BUSY, not allowed in MULTI …).
    pub fn reject(&self, id: u16) {
        if let Some(s) = self.cmds.get(id as usize) {
            s.rejected.add(1);
        }
    }

    /// Takes back a [`record`](Self::record) (a script run that is abandoned and re-run).
    pub fn unrecord(&self, id: u16, usec: u64, failures: u32) {
        self.record_with(id, usec, failures, |c, n| c.add(n.wrapping_neg()));
        if let Some(s) = self.cmds.get(id as usize) {
            s.hist.unrecord(usec);
        }
    }

    /// Takes back a [`record_held`](Self::record_held), by the holder of the shard.
    pub fn unrecord_held(&self, id: u16, usec: u64, failures: u32) {
        self.record_with(id, usec, failures, |c, n| c.add_exclusive(n.wrapping_neg()));
        if let Some(s) = self.cmds.get(id as usize) {
            s.hist.unrecord(usec);
        }
    }

    /// Takes back a [`reject`](Self::reject).
    pub fn unreject(&self, id: u16) {
        if let Some(s) = self.cmds.get(id as usize) {
            s.rejected.add(1u64.wrapping_neg());
        }
    }

    /// Resets the counters (not the histograms: see [`clear_histograms`](Self::clear_histograms)).
    pub fn reset(&self) {
        for s in &self.cmds {
            for c in [&s.calls, &s.usec, &s.failed, &s.rejected] {
                c.reset();
            }
            for b in &s.buckets {
                b.reset();
            }
        }
    }

    /// Zeroes the latency histograms: by the shard's holder for a shard's statistics (their
    /// writes are plain stores), by anyone for `conn_stats`.
    pub fn clear_histograms(&self) {
        for s in &self.cmds {
            s.hist.clear();
        }
    }
}

/// Most distinct error codes tracked (as Redis): past this, new codes are not counted apart.
const MAX_ERROR_CODES: usize = 128;

/// The code an error line counts under: Redis looks for the space ending it in the first 32
/// bytes of `-CODE …` and counts `ERR` when there is none.
fn error_code(line: &str) -> &str {
    let line = line.strip_prefix('-').unwrap_or(line);
    let window = &line.as_bytes()[..line.len().min(31)];
    match window.iter().position(|&b| b == b' ') {
        Some(i) => &line[..i],
        None => "ERR",
    }
}

/// Error replies by code (INFO errorstats, `total_error_replies`). Errors are the slow path, so
/// a short mutex is enough; the total is an atomic for cheap reads.
#[derive(Default)]
pub struct ErrorStats {
    codes: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
}

impl ErrorStats {
    /// Counts one error reply; `line` is the full error line (`ERR …`, `WRONGTYPE …`).
    pub fn record(&self, line: &str) {
        self.total.fetch_add(1, Relaxed);
        let code = error_code(line);
        if let Ok(mut m) = self.codes.lock() {
            if let Some(n) = m.get_mut(code) {
                *n += 1;
            } else if m.len() < MAX_ERROR_CODES {
                m.insert(code.to_string(), 1);
            }
        }
    }

    /// Takes back a [`record`](Self::record) of the same line; a code counted nowhere else
    /// leaves INFO, as if it had never been counted.
    pub fn unrecord(&self, line: &str) {
        self.total.fetch_sub(1, Relaxed);
        let code = error_code(line);
        if let Ok(mut m) = self.codes.lock() {
            if let Some(n) = m.get_mut(code) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(code);
                }
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }

    /// `(code, count)` in code order.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.codes
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    pub fn reset(&self) {
        self.total.store(0, Relaxed);
        if let Ok(mut m) = self.codes.lock() {
            m.clear();
        }
    }
}

//! Per-shard statistics: written only by the shard's own thread (relaxed atomics on lines no
//! other writer touches), read by anyone (INFO, /metrics) without stopping the shard.

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

#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    /// Non-cumulative counts per latency bucket (`LATENCY_BUCKETS`, then +Inf).
    pub buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
}

pub struct ShardStats {
    pub cmds: Vec<CmdStat>,
    pub units: AtomicU64,
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
            units: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            keys: (0..databases).map(|_| AtomicU64::new(0)).collect(),
            expiring: (0..databases).map(|_| AtomicU64::new(0)).collect(),
            busy_usec: AtomicU64::new(0),
        }
    }

    pub fn record(&self, id: u16, usec: u64, failed: bool) {
        if let Some(s) = self.cmds.get(id as usize) {
            s.calls.fetch_add(1, Relaxed);
            s.usec.fetch_add(usec, Relaxed);
            if failed {
                s.failed.fetch_add(1, Relaxed);
            }
            let b = LATENCY_BUCKETS_USEC
                .iter()
                .position(|&ub| usec <= ub)
                .unwrap_or(LATENCY_BUCKETS.len());
            s.buckets[b].fetch_add(1, Relaxed);
        }
    }

    /// A call refused before it ran (arity, NOAUTH, BUSY, not allowed in MULTI …).
    pub fn reject(&self, id: u16) {
        if let Some(s) = self.cmds.get(id as usize) {
            s.rejected.fetch_add(1, Relaxed);
        }
    }

    pub fn reset(&self) {
        for s in &self.cmds {
            s.calls.store(0, Relaxed);
            s.usec.store(0, Relaxed);
            s.failed.store(0, Relaxed);
            s.rejected.store(0, Relaxed);
            for b in &s.buckets {
                b.store(0, Relaxed);
            }
        }
    }
}

/// Most distinct error codes tracked (as Redis): past this, new codes are not counted apart.
const MAX_ERROR_CODES: usize = 128;

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
        let code = line.split(' ').next().unwrap_or("ERR");
        let code = code.strip_prefix('-').unwrap_or(code);
        if let Ok(mut m) = self.codes.lock() {
            if let Some(n) = m.get_mut(code) {
                *n += 1;
            } else if m.len() < MAX_ERROR_CODES {
                m.insert(code.to_string(), 1);
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

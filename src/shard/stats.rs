//! Per-shard statistics: written only by the shard's own thread (relaxed atomics on lines no
//! other writer touches), read by anyone (INFO, /metrics) without stopping the shard.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
}

pub struct ShardStats {
    pub cmds: Vec<CmdStat>,
    pub units: AtomicU64,
    pub queue_depth: AtomicU64,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats::new()
    }
}

impl ShardStats {
    pub fn new() -> ShardStats {
        let n = crate::commands::command_count();
        ShardStats {
            cmds: (0..n).map(|_| CmdStat::default()).collect(),
            units: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
        }
    }

    pub fn record(&self, id: u16, usec: u64, failed: bool) {
        if let Some(s) = self.cmds.get(id as usize) {
            s.calls.fetch_add(1, Relaxed);
            s.usec.fetch_add(usec, Relaxed);
            if failed {
                s.failed.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn reset(&self) {
        for s in &self.cmds {
            s.calls.store(0, Relaxed);
            s.usec.store(0, Relaxed);
            s.failed.store(0, Relaxed);
            s.rejected.store(0, Relaxed);
        }
    }
}

//! The latency monitor's store: for each event, the worst latency of each second it was seen
//! past `latency-monitor-threshold`, the last [`SERIES_LEN`] such seconds, and the worst ever.
//!
//! Invariants: nothing is recorded while the threshold is 0 (off), and callers skip their
//! clock reads then too ([`Monitor::start`]); a series holds at most one sample per second
//! (a later, worse latency in the same second replaces the sample's value) and never more than
//! [`SERIES_LEN`], oldest overwritten first; event names are the fixed set in [`EVENTS`].
//! Recording is the rare path (something already took a millisecond or more), so one mutex
//! guards every series.

use crate::config::Config;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

/// Samples kept per event, as Redis keeps.
pub const SERIES_LEN: usize = 160;

/// The events luagate records, and what each one times.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "command",
        "a command that is not flagged fast (commands::account, connection commands)",
    ),
    ("fast-command", "a command flagged fast (O(1) or O(log N))"),
    (
        "expire-cycle",
        "one shard's active expiry pass (shard/cron.rs)",
    ),
    (
        "eviction-cycle",
        "one eviction pass under maxmemory (shard/evict.rs)",
    ),
    ("eviction-del", "deleting one evicted key"),
    ("aof-write", "one write(2) of the append-only log"),
    (
        "aof-fsync-always",
        "the fsync after each write with appendfsync always",
    ),
    (
        "aof-rename",
        "a rewrite's swap: last units, fsync and rename over the log",
    ),
];

/// One second's worst latency; `unix_secs == 0` marks an empty slot.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Sample {
    pub unix_secs: u64,
    pub ms: u64,
}

/// One event's samples, a ring of [`SERIES_LEN`].
#[derive(Clone)]
pub struct Series {
    /// Where the next new second goes.
    next: usize,
    /// Worst latency ever recorded (until a reset).
    pub max: u64,
    samples: [Sample; SERIES_LEN],
}

impl Series {
    fn new() -> Series {
        Series {
            next: 0,
            max: 0,
            samples: [Sample::default(); SERIES_LEN],
        }
    }

    fn add(&mut self, unix_secs: u64, ms: u64) {
        self.max = self.max.max(ms);
        let last = &mut self.samples[(self.next + SERIES_LEN - 1) % SERIES_LEN];
        if last.unix_secs == unix_secs {
            last.ms = last.ms.max(ms);
            return;
        }
        self.samples[self.next] = Sample { unix_secs, ms };
        self.next = (self.next + 1) % SERIES_LEN;
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..SERIES_LEN)
            .map(move |i| self.samples[(self.next + i) % SERIES_LEN])
            .filter(|s| s.unix_secs != 0)
    }

    /// A series of `(unix_secs, ms)` samples (tests).
    #[cfg(test)]
    pub fn from_points(points: &[(u64, u64)]) -> Series {
        let mut s = Series::new();
        for &(t, ms) in points {
            s.add(t, ms);
        }
        s
    }

    /// The newest sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.next + SERIES_LEN - 1) % SERIES_LEN]
    }
}

pub struct Monitor {
    /// Milliseconds; 0 is off.
    threshold_ms: AtomicU64,
    /// Series in the order their events were first seen.
    events: Mutex<Vec<(&'static str, Series)>>,
}

impl Monitor {
    pub fn new(cfg: &Config) -> Monitor {
        let m = Monitor {
            threshold_ms: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
        };
        m.configure(cfg);
        m
    }

    pub fn configure(&self, cfg: &Config) {
        self.threshold_ms
            .store(cfg.latency_monitor_threshold, Relaxed);
    }

    /// The threshold in milliseconds; 0 when the monitor is off.
    #[inline]
    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Relaxed)
    }

    /// The start of something to time, when the monitor is on (no clock read when it is off).
    #[inline]
    pub fn start(&self) -> Option<Instant> {
        (self.threshold_ms() > 0).then(Instant::now)
    }

    /// Records `event` if what began at `started` took at least the threshold.
    #[inline]
    pub fn end(&self, event: &'static str, started: Option<Instant>) {
        if let Some(t) = started {
            self.add_if_needed(event, t.elapsed().as_millis() as u64);
        }
    }

    /// Records `event` with `ms` milliseconds if that reaches the threshold.
    #[inline]
    pub fn add_if_needed(&self, event: &'static str, ms: u64) {
        let t = self.threshold_ms();
        if t > 0 && ms >= t {
            self.add(event, ms);
        }
    }

    /// A command that took `usec`: `fast-command` if it is flagged fast, else `command`.
    pub fn command(&self, fast: bool, usec: u64) {
        let event = if fast { "fast-command" } else { "command" };
        self.add_if_needed(event, usec / 1000);
    }

    fn add(&self, event: &'static str, ms: u64) {
        debug_assert!(
            EVENTS.iter().any(|(e, _)| *e == event),
            "undocumented event {event}"
        );
        let now = crate::clock::unix_ms() / 1000;
        let Ok(mut events) = self.events.lock() else {
            return;
        };
        match events.iter_mut().find(|(e, _)| *e == event) {
            Some((_, s)) => s.add(now, ms),
            None => {
                let mut s = Series::new();
                s.add(now, ms);
                events.push((event, s));
            }
        }
    }

    /// A copy of every series.
    pub fn snapshot(&self) -> Vec<(&'static str, Series)> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// A copy of the series of the event named `name` (names are matched exactly).
    pub fn get(&self, name: &[u8]) -> Option<(&'static str, Series)> {
        let events = self.events.lock().ok()?;
        events
            .iter()
            .find(|(e, _)| e.as_bytes() == name)
            .map(|(e, s)| (*e, s.clone()))
    }

    /// Drops the named events' series (all when `names` is empty); returns how many went.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let Ok(mut events) = self.events.lock() else {
            return 0;
        };
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            if let Some(i) = events.iter().position(|(e, _)| e.as_bytes() == *name) {
                events.remove(i);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_and_a_ring() {
        let mut s = Series::new();
        s.add(100, 5);
        s.add(100, 3);
        s.add(100, 9);
        assert_eq!(
            s.samples().collect::<Vec<_>>(),
            [Sample {
                unix_secs: 100,
                ms: 9
            }]
        );
        for t in 101..101 + SERIES_LEN as u64 {
            s.add(t, t);
        }
        let all: Vec<_> = s.samples().collect();
        assert_eq!(all.len(), SERIES_LEN);
        assert_eq!(all[0].unix_secs, 101);
        assert_eq!(s.latest().unix_secs, 100 + SERIES_LEN as u64);
        assert_eq!(s.max, 100 + SERIES_LEN as u64);
    }
}

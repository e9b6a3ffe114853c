//! Wall-clock time for the data path, read from the monotonic clock.
//!
//! Invariant: [`unix_ms_at`]`(t)` is the system clock at `t`, as of the last [`resync`] (each
//! shard's timer calls it every 100 ms): it follows a step of the system clock within a tick,
//! and a unit that has read `Instant::now()` for its timings gets the milliseconds its keys
//! expire by without a second clock read.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// System-clock microseconds minus monotonic microseconds since [`epoch`]; `i64::MIN` until
/// the first [`resync`].
static OFFSET_US: AtomicI64 = AtomicI64::new(i64::MIN);

/// Monotonic milliseconds since [`epoch`] at the last [`resync`] (see [`coarse_ms`]).
static COARSE_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn mono_us(t: Instant) -> i64 {
    t.saturating_duration_since(epoch()).as_micros() as i64
}

/// Measures the system clock against the monotonic one again.
pub fn resync() {
    let mono = mono_us(Instant::now());
    COARSE_MS.fetch_max((mono / 1000) as u64, Relaxed);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    OFFSET_US.store(wall - mono, Relaxed);
}

/// Unix time in milliseconds at `t`.
pub fn unix_ms_at(t: Instant) -> u64 {
    let mut offset = OFFSET_US.load(Relaxed);
    if offset == i64::MIN {
        resync();
        offset = OFFSET_US.load(Relaxed);
    }
    ((mono_us(t) + offset).max(0) / 1000) as u64
}

/// Monotonic milliseconds as of the last tick, up to 100 ms behind: for client idle times,
/// which Redis too reads from a clock cached per event-loop turn.
pub fn coarse_ms() -> u64 {
    COARSE_MS.load(Relaxed)
}

/// Unix time in milliseconds now.
pub fn unix_ms() -> u64 {
    unix_ms_at(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_clock() {
        let wall = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        let before = wall();
        let ours = unix_ms();
        let after = wall();
        assert!(
            before <= ours + 1 && ours <= after + 1,
            "{before} {ours} {after}"
        );
        let t = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(unix_ms() >= unix_ms_at(t) + 20);
    }
}

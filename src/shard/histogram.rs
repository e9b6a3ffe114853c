//! Per-command latency histograms, laid out as Redis 7.0 lays out its own, so that INFO
//! latencystats and LATENCY HISTOGRAM report Redis's exact numbers.
//!
//! Redis keeps one HdrHistogram per command: values in nanoseconds (a call's whole microseconds
//! times 1000), clamped to 1 ns ..= 1 s, two significant figures. Such a histogram is an array
//! of 3072 counts: 23 power-of-two buckets of 128 linear sub-buckets each (the first bucket
//! 256), so a value's slot is a shift and a leading-zero count away. Percentiles report a
//! slot's highest (or, for p0, lowest) value; the cumulative distribution is read at the slots
//! of 1024 ns × 2^k and labelled with those slots' highest value in microseconds (1, 2, 4, 8,
//! 16, 33, 66, 132 …). We keep the same slots, so any set of calls yields Redis's figures.
//! The `hdrhistogram` crate was the alternative; its percentile and iteration rules are the
//! Java library's, not the C one's Redis embeds, and would need this arithmetic anyway to
//! match, so the few lines below are the smaller thing to keep right.
//!
//! Invariants: a [`Histogram`]'s counts are allocated on its first record (most commands are
//! never called; 24 KiB each); a shard's histograms have one writer at a time, the shard's
//! holder, who also clears them (CONFIG RESETSTAT runs a unit over every shard), so writes are
//! a plain load and store; `conn_stats`' histograms have many writers and add atomically.
//! Readers sum the shards' counts into [`Counts`] without stopping anyone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

/// log2 of half the sub-buckets per bucket (two significant figures: 2 × 10² needs 8 bits).
const HALF_MAG: u32 = 7;
const HALF: usize = 1 << HALF_MAG;
/// Bits of a value below which every value has its own slot.
const SUB_BITS: u32 = HALF_MAG + 1;
/// Buckets needed to reach 1 s in nanoseconds (256 × 2^22 > 10^9).
const BUCKETS: usize = 23;
/// Number of slots.
pub const LEN: usize = (BUCKETS + 1) * HALF;
/// Largest value recorded, in nanoseconds; longer calls count here.
const MAX_NS: u64 = 1_000_000_000;

/// The slot of a value in nanoseconds (1 ..= `MAX_NS`).
#[inline]
const fn slot(ns: u64) -> usize {
    let bucket = 64 - (ns | ((1 << SUB_BITS) - 1)).leading_zeros() - SUB_BITS;
    let sub = (ns >> bucket) as usize;
    ((bucket as usize + 1) << HALF_MAG) + sub - HALF
}

/// Calls shorter than this many microseconds (nearly all of them) find their slot in
/// [`SMALL`]: a compare and a load on the data path instead of the arithmetic.
const SMALL_LEN: usize = 256;

/// The slots of 0 ..< `SMALL_LEN` microseconds.
static SMALL: [u16; SMALL_LEN] = {
    let mut t = [0u16; SMALL_LEN];
    let mut u = 0;
    while u < SMALL_LEN {
        t[u] = slot_of_usec_slow(u as u64) as u16;
        u += 1;
    }
    t
};

/// The slot of a call that took `usec` microseconds.
#[inline]
fn slot_of_usec(usec: u64) -> usize {
    match SMALL.get(usec as usize) {
        Some(&s) => s as usize,
        None => slot_of_usec_slow(usec),
    }
}

const fn slot_of_usec_slow(usec: u64) -> usize {
    // 0 µs counts as the smallest value, 1 ns, as Redis clamps it; a second or more as 1 s.
    let ns = if usec == 0 {
        1
    } else if usec >= MAX_NS / 1000 {
        MAX_NS
    } else {
        usec * 1000
    };
    slot(ns)
}

/// The lowest value of slot `i`, and the width of its range.
fn slot_range(i: usize) -> (u64, u64) {
    let bucket = (i >> HALF_MAG) as i64 - 1;
    let (bucket, sub) = if bucket < 0 {
        (0, i & (HALF - 1))
    } else {
        (bucket as u32, (i & (HALF - 1)) + HALF)
    };
    ((sub as u64) << bucket, 1 << bucket)
}

fn lowest(i: usize) -> u64 {
    slot_range(i).0
}

fn highest(i: usize) -> u64 {
    let (low, width) = slot_range(i);
    low + width - 1
}

/// One command's latency counts, allocated on first use.
#[derive(Default)]
pub struct Histogram {
    counts: OnceLock<Box<[AtomicU64; LEN]>>,
}

impl Histogram {
    #[inline]
    fn counts(&self) -> &[AtomicU64; LEN] {
        self.counts
            .get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))))
    }

    /// Counts a call of `usec` microseconds, for the only writer at this moment.
    #[inline]
    pub fn record_exclusive(&self, usec: u64) {
        let c = &self.counts()[slot_of_usec(usec)];
        c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Counts a call of `usec` microseconds, among concurrent writers.
    pub fn record(&self, usec: u64) {
        self.counts()[slot_of_usec(usec)].fetch_add(1, Relaxed);
    }

    /// Takes back a record of `usec` (a script run that is abandoned and re-run). Saturates at
    /// zero: a reset may have come in between.
    pub fn unrecord(&self, usec: u64) {
        if let Some(counts) = self.counts.get() {
            let _ = counts[slot_of_usec(usec)]
                .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
        }
    }

    /// Zeroes the counts (CONFIG RESETSTAT), by the writer or among atomic writers.
    pub fn clear(&self) {
        if let Some(counts) = self.counts.get() {
            for c in counts.iter() {
                c.store(0, Relaxed);
            }
        }
    }

    /// Adds these counts into `into`, allocating it on the first non-empty histogram.
    pub fn add_to(&self, into: &mut Option<Counts>) {
        if let Some(counts) = self.counts.get() {
            let out = into.get_or_insert_with(Counts::default);
            for (o, c) in out.counts.iter_mut().zip(counts.iter()) {
                *o += c.load(Relaxed);
            }
        }
    }
}

/// A snapshot of counts (one command, summed over shards), to report from.
pub struct Counts {
    counts: Vec<u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            counts: vec![0; LEN],
        }
    }
}

impl Counts {
    /// Counts a call of `usec` microseconds (tests).
    #[cfg(test)]
    pub fn add(&mut self, usec: u64) {
        self.counts[slot_of_usec(usec)] += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at `percentile` (0 ..= 100) in nanoseconds, as HdrHistogram reports it: the
    /// highest value of the slot where the cumulative count reaches the rounded share of the
    /// total (the lowest, for 0).
    pub fn percentile_ns(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let total = self.total();
        let want = (((p / 100.0) * total as f64) + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        let mut at = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= want {
                at = i;
                break;
            }
        }
        // Every value of a slot is equivalent: report the slot's top (its bottom for p0).
        if percentile == 0.0 {
            lowest(at)
        } else {
            highest(at)
        }
    }

    /// LATENCY HISTOGRAM's cumulative distribution: `(microseconds, calls up to there)` at the
    /// slots of 1024 ns × 2^k, only where the count grew. This walks the slots as HdrHistogram's
    /// logarithmic iterator does (first step 1024, base 2), including its last step when the
    /// slots run out before the next power of two (calls of a second or more).
    pub fn distribution(&self) -> Vec<(u64, u64)> {
        let total = self.total();
        let mut out = Vec::new();
        // The iterator's state: the slot it stands on (-1 before the first), that slot's lowest
        // and highest values, the count up to it, and the next level with its slot's lowest value.
        let mut idx: i64 = -1;
        let (mut value, mut high, mut cumulative) = (0u64, 0u64, 0u64);
        let mut level = 1024u64;
        let mut level_low = lowest(slot(level));
        let mut previous = 0u64;
        loop {
            let peek_past_level = idx < LEN as i64 && lowest((idx + 1) as usize) > level_low;
            if cumulative >= total && !peek_past_level {
                break;
            }
            loop {
                if value >= level_low {
                    level *= 2;
                    level_low = lowest(slot(level));
                    break;
                }
                idx += 1;
                if idx >= LEN as i64 {
                    break;
                }
                let i = idx as usize;
                cumulative += self.counts[i];
                value = lowest(i);
                high = highest(i);
            }
            if cumulative > previous {
                out.push((high / 1000, cumulative));
            }
            previous = cumulative;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(usecs: &[u64]) -> Counts {
        let mut c = Counts::default();
        for &u in usecs {
            c.add(u);
        }
        c
    }

    #[test]
    fn slots_match_redis_figures() {
        // Figures read from redis-server 7.0.15 (INFO latencystats, LATENCY HISTOGRAM).
        let one = counts(&[1]);
        assert_eq!(one.percentile_ns(50.0), 1003);
        assert_eq!(one.percentile_ns(0.0), 1000);
        let three = counts(&[3]);
        assert_eq!(three.percentile_ns(0.0), 2992);
        assert_eq!(three.percentile_ns(99.9), 3007);
        assert_eq!(counts(&[13]).percentile_ns(50.0), 13055);
        assert_eq!(counts(&[67]).percentile_ns(50.0), 67071);
        assert_eq!(counts(&[68]).percentile_ns(0.0), 67584);
        assert_eq!(one.distribution(), vec![(1, 1)]);
        assert_eq!(counts(&[120]).distribution(), vec![(132, 1)]);
        assert_eq!(counts(&[1, 3, 3]).distribution(), vec![(1, 1), (4, 3)]);
    }

    #[test]
    fn distribution_levels_and_tail() {
        let c = counts(&[0, 2, 33, 1_000_000, 5_000_000]);
        let d = c.distribution();
        assert_eq!(d.first(), Some(&(1, 1)));
        assert_eq!(d[1], (2, 2));
        assert_eq!(d[2], (33, 3));
        // Calls of a second or more count at 1 s, reported past the last power of two.
        assert_eq!(d.last(), Some(&(1_073_741, 5)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        assert_eq!(Counts::default().distribution(), vec![]);
    }

    #[test]
    fn percentiles_round_like_hdr() {
        let c = counts(&[1, 1, 1, 10]);
        assert_eq!(c.percentile_ns(50.0), 1003);
        assert_eq!(c.percentile_ns(99.0), 10047);
        assert_eq!(c.percentile_ns(100.0), 10047);
        // 62.5% of 4 rounds to 3 calls, still the first slot.
        assert_eq!(c.percentile_ns(62.5), 1003);
    }
}

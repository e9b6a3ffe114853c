//! LATENCY DOCTOR: a human report on the latency monitor's events, shaped as Redis 7.0's: the
//! "disabled" and "no spikes" messages when there is nothing to say, otherwise one numbered
//! line of figures per event (spikes, average, mean deviation, period, worst ever) and a list
//! of advice that depends on which events occurred and on the configuration. The advice is
//! luagate's own wording, about luagate's own causes.
//!
//! Invariant: the report is computed from a snapshot of the series and the configuration; it
//! changes nothing.

use super::monitor::Series;
use crate::config::Config;

const DISABLED: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
const NO_SPIKES: &str = "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n";

/// Figures of one event's samples.
struct Figures {
    spikes: u64,
    avg: u64,
    mean_dev: u64,
    /// Seconds per spike: from the oldest sample to now (at least 1), over the spikes.
    period: f64,
}

fn figures(series: &Series, now_secs: u64) -> Figures {
    let ms: Vec<u64> = series.samples().map(|s| s.ms).collect();
    let oldest = series
        .samples()
        .map(|s| s.unix_secs)
        .min()
        .unwrap_or(now_secs);
    let spikes = ms.len() as u64;
    let n = spikes.max(1);
    let avg = ms.iter().sum::<u64>() / n;
    let mean_dev = ms.iter().map(|&m| m.abs_diff(avg)).sum::<u64>() / n;
    let span = now_secs.saturating_sub(oldest).max(1);
    Figures {
        spikes,
        avg,
        mean_dev,
        period: span as f64 / n as f64,
    }
}

pub fn report(events: &[(&'static str, Series)], cfg: &Config, now_secs: u64) -> String {
    if events.is_empty() {
        return if cfg.latency_monitor_threshold == 0 {
            DISABLED.into()
        } else {
            NO_SPIKES.into()
        };
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, series)) in events.iter().enumerate() {
        let f = figures(series, now_secs);
        out.push_str(&format!(
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            f.spikes,
            f.avg,
            f.mean_dev,
            f.period,
            series.max
        ));
    }
    let advice = advice(events, cfg);
    if advice.is_empty() {
        out.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please ask for help, providing this report with your request.\n");
    } else {
        out.push_str("\nI have a few advices for you:\n\n");
        for a in advice {
            out.push_str("- ");
            out.push_str(&a);
            out.push('\n');
        }
    }
    out
}

/// What to look at, given which events occurred.
fn advice(events: &[(&'static str, Series)], cfg: &Config) -> Vec<String> {
    let seen = |name: &str| events.iter().any(|(e, _)| *e == name);
    let commands = seen("command") || seen("fast-command");
    let mut out = Vec::new();
    if commands {
        let threshold_us = cfg.latency_monitor_threshold.saturating_mul(1000);
        if cfg.slowlog_log_slower_than < 0 || cfg.slowlog_max_len == 0 {
            out.push(format!(
                "The slow log is disabled: enable it to see which commands are slow, e.g. 'CONFIG SET slowlog-log-slower-than {threshold_us}'."
            ));
        } else if cfg.slowlog_log_slower_than as u64 > threshold_us {
            out.push(format!(
                "Your slow log only records commands slower than the latency monitor's threshold: use 'CONFIG SET slowlog-log-slower-than {threshold_us}' to see the commands behind these spikes."
            ));
        }
        out.push("Check the slow log (SLOWLOG GET) for the commands that were slow; commands over large collections (KEYS, SMEMBERS, LRANGE 0 -1, SORT, long scripts) block their shard while they run.".into());
    }
    if seen("fast-command") {
        out.push("Commands flagged fast (O(1) and O(log N)) were slow: the process was probably starved of CPU or memory (other busy processes, swapping, a throttled container). Check the machine rather than the commands.".into());
    }
    if seen("command") || seen("expire-cycle") || seen("eviction-del") {
        out.push("Deleting, expiring or evicting large objects blocks the shard that holds them. If you often delete, expire or evict very large keys, split them into several smaller ones.".into());
    }
    if seen("expire-cycle") {
        out.push("Active expiry passes were slow: many keys expiring at the same moment are removed in bursts of up to 10 ms per shard and tick. Spread the expiry times of keys set together.".into());
    }
    if seen("eviction-cycle") {
        out.push("Eviction passes under maxmemory were slow: writes wait while keys are evicted to make room. Raise maxmemory, lower the write rate, or keep values smaller.".into());
    }
    if events.iter().any(|(e, _)| e.starts_with("aof-")) {
        out.push(format!(
            "Writes or fsyncs of the append-only log were slow (appendfsync is '{}'): check the disk's latency and other processes writing to it; 'appendfsync everysec' moves fsync off the path of writes.",
            cfg.appendfsync
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_as_redis_reports_them() {
        // redis-server 7.0.15: samples of 20 and 30 ms a second apart, read at once:
        // "2 latency spikes (average 25ms, mean deviation 5ms, period 0.50 sec)".
        let s = Series::from_points(&[(1000, 20), (1001, 30)]);
        let f = figures(&s, 1001);
        assert_eq!((f.spikes, f.avg, f.mean_dev), (2, 25, 5));
        assert_eq!(format!("{:.2}", f.period), "0.50");
        let one = figures(&Series::from_points(&[(1000, 20)]), 1000);
        assert_eq!(format!("{:.2}", one.period), "1.00");
    }

    #[test]
    fn empty_reports() {
        let mut cfg = Config::default();
        assert_eq!(report(&[], &cfg, 0), DISABLED);
        cfg.latency_monitor_threshold = 1;
        assert_eq!(report(&[], &cfg, 0), NO_SPIKES);
    }
}

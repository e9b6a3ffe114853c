//! INFO latencystats: each called command's latency percentiles
//! (`latency-tracking-info-percentiles`), from the per-command histograms.
//!
//! Invariant: reads the histograms without stopping any shard; lists only commands with
//! calls, in the command table's order, and nothing while `latency-tracking` is off (as Redis
//! prints only the section's title then).

use super::Section;
use crate::commands;
use crate::server::admin::latency::command_counts;
use crate::server::Server;
use std::fmt::Write;

pub(super) fn section(server: &Server) -> Section {
    let mut s = Section::new("Latencystats");
    if !server.latency_tracking() {
        return s;
    }
    let percentiles =
        crate::config::parse_percentiles(&server.config().latency_tracking_info_percentiles)
            .unwrap_or_default();
    for c in commands::all_commands() {
        let Some(counts) = command_counts(server, c.id) else {
            continue;
        };
        let mut v = String::new();
        for (i, &p) in percentiles.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            let usec = counts.percentile_ns(p) as f64 / 1000.0;
            let _ = write!(v, "{sep}p{}={usec:.3}", crate::config::percentile_text(p));
        }
        s.f(
            &format!("latency_percentiles_usec_{}", commands::full_name(c.id)),
            v,
        );
    }
    s
}

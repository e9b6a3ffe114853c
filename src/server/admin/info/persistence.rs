//! INFO persistence: snapshot and log state, and load progress while loading.
//!
//! Invariant: reads only atomics (`Server::persist`, the log's shared state), never the data,
//! so it answers without waiting for any shard.

use super::Section;
use crate::server::Server;

pub(super) fn section(server: &Server) -> Section {
    use std::sync::atomic::Ordering::Relaxed;
    let p = &server.persist;
    let now_ms = crate::clock::unix_ms();
    let loading = p.progress.loading.load(Relaxed);
    let saving = p.saving.load(Relaxed);
    let aof = server.aof.get();
    let rewriting = aof.is_some_and(|a| a.is_rewriting());
    let elapsed = |start: u64| (now_ms.saturating_sub(start) / 1000) as i64;
    let mut s = Section::new("Persistence");
    s.f("loading", loading as u8)
        .f("async_loading", 0)
        .f("current_cow_peak", 0)
        .f("current_cow_size", 0)
        .f("current_cow_size_age", 0)
        .f("current_fork_perc", "0.00")
        .f("current_save_keys_processed", 0)
        .f("current_save_keys_total", 0)
        .f(
            "rdb_changes_since_last_save",
            crate::persistence::changes_since_save(server),
        )
        .f("rdb_bgsave_in_progress", saving as u8)
        .f("rdb_last_save_time", crate::persistence::lastsave(server))
        .f(
            "rdb_last_bgsave_status",
            if p.last_save_ok.load(Relaxed) {
                "ok"
            } else {
                "err"
            },
        )
        .f("rdb_last_bgsave_time_sec", p.last_bgsave_secs.load(Relaxed))
        .f(
            "rdb_current_bgsave_time_sec",
            if saving {
                elapsed(p.bgsave_started_ms.load(Relaxed))
            } else {
                -1
            },
        )
        .f("rdb_saves", p.saves.load(Relaxed))
        .f("rdb_last_cow_size", 0)
        .f("rdb_last_load_keys_expired", 0)
        .f(
            "rdb_last_load_keys_loaded",
            p.progress.keys_loaded.load(Relaxed),
        )
        .f("aof_enabled", aof.is_some() as u8)
        .f("aof_rewrite_in_progress", rewriting as u8)
        .f(
            "aof_rewrite_scheduled",
            p.rewrite_scheduled.load(Relaxed) as u8,
        )
        .f(
            "aof_last_rewrite_time_sec",
            p.last_rewrite_secs.load(Relaxed),
        )
        .f(
            "aof_current_rewrite_time_sec",
            if rewriting {
                elapsed(p.rewrite_started_ms.load(Relaxed))
            } else {
                -1
            },
        )
        .f(
            "aof_last_bgrewrite_status",
            if p.rewrite_failed.load(Relaxed) {
                "err"
            } else {
                "ok"
            },
        )
        .f("aof_rewrites", p.rewrites.load(Relaxed))
        .f("aof_rewrites_consecutive_failures", 0)
        .f("aof_last_write_status", "ok")
        .f("aof_last_cow_size", 0)
        .f("module_fork_in_progress", 0)
        .f("module_fork_last_cow_size", 0);
    if let Some(a) = aof {
        s.f("aof_current_size", a.size())
            .f("aof_base_size", a.base_size())
            .f("aof_pending_rewrite", 0)
            .f("aof_buffer_length", 0)
            .f("aof_pending_bio_fsync", 0)
            .f("aof_delayed_fsync", 0);
    }
    if loading {
        let g = &p.progress;
        let start = g.start_unix.load(Relaxed);
        let total = g.total_bytes.load(Relaxed);
        let loaded = g.loaded_bytes.load(Relaxed);
        let perc = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let spent = (now_ms / 1000).saturating_sub(start);
        let eta = if loaded > 0 {
            (spent as f64 * (total - loaded.min(total)) as f64 / loaded as f64) as i64
        } else {
            1
        };
        s.f("loading_start_time", start)
            .f("loading_total_bytes", total)
            .f("loading_rdb_used_mem", 0)
            .f("loading_loaded_bytes", loaded)
            .f("loading_loaded_perc", format!("{perc:.2}"))
            .f("loading_eta_seconds", eta);
    }
    s
}

//! A shard's background work: the gauges other threads read, and bounded active expiry.
//!
//! Invariant: background work runs only while its shard is held, and never makes anyone wait
//! for the shard. The shard thread's timer only *tries* the shard; when a unit holds it, the
//! work is marked due and the unit's holder runs it as the unit ends. Waiting instead would
//! make inline runners step aside (they yield to a waiting shard thread) and queue every unit
//! behind the timer for a thread hand-off each: on one core, hundreds of context switches a
//! second under steady load.

use super::ShardState;
use crate::commands::Effect;
use crate::server::Server;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Longest active-expiry pass per tick, so a sea of expiring keys never stalls the shard.
const EXPIRE_BUDGET: Duration = Duration::from_millis(10);

/// The shard thread's timer: runs the work now if shard `id` is free, else marks it due.
pub(super) fn tick(server: &Server, id: usize) {
    let handle = &server.shards[id];
    match handle.state.try_lock() {
        Some(mut state) => run(server, id, &mut state),
        None => handle.cron_due.store(true, Relaxed),
    }
}

/// Called by whoever holds shard `id` with its data in place, as a unit ends: runs the work if
/// the timer found the shard held. One relaxed load when it is not due.
#[inline]
pub(super) fn run_if_due(server: &Server, id: usize, state: &mut ShardState) {
    let due = &server.shards[id].cron_due;
    if due.load(Relaxed) && due.swap(false, Relaxed) {
        run(server, id, state);
    }
}

fn run(server: &Server, id: usize, state: &mut ShardState) {
    let handle = &server.shards[id];
    let Some(data) = state.data.as_mut() else {
        return;
    };
    let stats = &handle.stats;
    for (i, db) in data.dbs.iter().enumerate() {
        stats.keys[i].store(db.len() as u64, Relaxed);
        stats.expiring[i].store(db.expires.len() as u64, Relaxed);
    }
    stats.queue_depth.store(handle.tx.len() as u64, Relaxed);
    // CLIENT PAUSE holds the dataset still, as Redis pauses expiry (keys are still found
    // expired when read).
    if !server.active_expire.load(Relaxed) || server.pause.is_on() {
        return;
    }
    let start = Instant::now();
    let now = crate::clock::unix_ms();
    // Expired keys a tracking client read are invalidated (below); never NO-TOUCH here.
    data.set_db_bits(server.tracking.active(), false);
    let cursors = &mut state.local.expire_cursor;
    for (i, db) in data.dbs.iter_mut().enumerate() {
        if db.expires.is_empty() || db.passive_expiry {
            continue;
        }
        db.now = now;
        while start.elapsed() < EXPIRE_BUDGET {
            let before = db.expires.len();
            cursors[i] = db.active_expire(cursors[i], 64);
            let removed = before - db.expires.len();
            // Keep going only while a good share of what we sample has expired.
            if cursors[i] == 0 || removed < 16 {
                break;
            }
        }
        if !db.expired.is_empty() {
            let keys: Vec<_> = db.expired.drain(..).collect();
            let nflags = server.notify_flags();
            if nflags != 0 {
                for k in &keys {
                    let e = crate::commands::notify::KeyEvent {
                        db: i as u16,
                        class: crate::commands::notify::EXPIRED,
                        name: "expired",
                        key: k.to_bytes(),
                    };
                    crate::commands::notify::publish(server, nflags, &e);
                }
            }
            if server.effects_wanted() {
                let effects = keys
                    .into_iter()
                    .map(|k| Effect::expiry_del(i as u16, k.to_bytes()))
                    .collect();
                // Published while the shard is held, like a unit's effects.
                server.publish_effects(effects);
            }
        }
    }
    // The pass already read the clock to keep its budget; the monitor adds one more read,
    // only when it is on.
    if server.latency.threshold_ms() > 0 {
        let ms = start.elapsed().as_millis() as u64;
        server.latency.add_if_needed("expire-cycle", ms);
    }
    // Expired keys that tracking clients read are invalidated now, as Redis's active expiry
    // signals them.
    if data.dbs.iter().any(|db| !db.modified.is_empty()) {
        let mut held = [&mut **data];
        crate::server::tracking::hooks::end_of_unit(server, &mut held, 0);
    }
}

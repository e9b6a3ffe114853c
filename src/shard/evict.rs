//! Eviction under `maxmemory`: the keys a write makes room by deleting, chosen as Redis
//! chooses them, by sampling (`maxmemory-samples` keys per database, the best of them goes):
//! the longest idle (`*-lru`), the least frequently used (`*-lfu`), the nearest expiry
//! (`volatile-ttl`) or any (`*-random`), among all keys or only those with an expiry
//! (`volatile-*`).
//!
//! Invariant: an eviction is an ordinary deletion of the unit that holds every shard: it
//! becomes a DEL effect (followers and the log drop the same keys), wakes WATCH, and counts in
//! INFO `evicted_keys`. A pass stops once used memory is back under the target (`maxmemory`
//! less 1/32nd; passes start at 1/64th below, so a command's own allocations cannot tip it
//! over and writes share passes), when nothing is left to evict, or after `MAX_PER_PASS` keys
//! (the next write continues).

use crate::commands::{Ctx, Effect};
use bytes::Bytes;
use rand::Rng;
use std::sync::atomic::Ordering::Relaxed;

/// Most keys one pass deletes.
const MAX_PER_PASS: usize = 4096;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// The policy named by `maxmemory-policy`.
    pub fn from_name(name: &str) -> Option<Policy> {
        Some(match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Deletes keys under `policy` while the allocator reports more than `target` bytes in use.
/// Needs every shard. Returns how many keys went.
pub fn evict(ctx: &mut Ctx<'_>, policy: Policy, target: u64, samples: usize) -> usize {
    if policy == Policy::NoEviction || !ctx.holds_all() {
        return 0;
    }
    let monitor = ctx.server.latency.clone();
    let cycle = monitor.start();
    let mut evicted = 0;
    while crate::allocator::used() > target && evicted < MAX_PER_PASS {
        let Some((shard, db, key)) = pick(ctx, policy, samples) else {
            break;
        };
        let Some(data) = ctx.held[shard].as_deref_mut() else {
            break;
        };
        let d = &mut data.dbs[db];
        let del = monitor.start();
        let removed = d.remove(&key);
        monitor.end("eviction-del", del);
        if removed.is_none() {
            continue; // expired meanwhile: its DEL is the expiry's
        }
        d.signal(&key);
        evicted += 1;
        let nflags = ctx.server.notify_flags();
        if nflags != 0 {
            let e = crate::commands::notify::KeyEvent {
                db: db as u16,
                class: crate::commands::notify::EVICTED,
                name: "evicted",
                key: Bytes::copy_from_slice(&key),
            };
            crate::commands::notify::publish(ctx.server, nflags, &e);
        }
        if let Some(e) = ctx.effects.as_deref_mut() {
            e.push(Effect {
                db: db as u16,
                args: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(&key)],
            });
        }
    }
    ctx.server.evicted_keys.fetch_add(evicted as u64, Relaxed);
    monitor.end("eviction-cycle", cycle);
    evicted
}

/// The key to evict next: the best of `samples` random keys from every non-empty database of
/// every shard (for random policies, one random key of one random database).
fn pick(ctx: &mut Ctx<'_>, policy: Policy, samples: usize) -> Option<(usize, usize, Vec<u8>)> {
    let rng = &mut ctx.local.rng;
    let volatile = policy.volatile();
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for (s, data) in ctx.held.iter().enumerate() {
        let Some(data) = data.as_deref() else {
            continue;
        };
        for (d, db) in data.dbs.iter().enumerate() {
            let n = if volatile {
                db.expires.len()
            } else {
                db.keys.len()
            };
            if n > 0 {
                candidates.push((s, d));
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
        let (s, d) = candidates[rng.gen_range(0..candidates.len())];
        let db = &ctx.held[s].as_deref()?.dbs[d];
        let key = if volatile {
            db.expires.random(rng)?.0.as_bytes().to_vec()
        } else {
            db.keys.random(rng)?.0.as_bytes().to_vec()
        };
        return Some((s, d, key));
    }
    // Higher is evicted first: idle seconds (LRU), 255 less the access counter (LFU), or the
    // negated expiry time (TTL).
    let mut best: Option<(i64, usize, usize, Vec<u8>)> = None;
    let lfu = matches!(policy, Policy::AllKeysLfu | Policy::VolatileLfu);
    for &(s, d) in &candidates {
        let db = &ctx.held[s].as_deref()?.dbs[d];
        let rank = |meta: u32| -> i64 {
            match db.lfu.filter(|_| lfu) {
                Some(l) => 255 - l.decayed(meta) as i64,
                None => crate::keyspace::idle_secs(db.clock, meta) as i64,
            }
        };
        for _ in 0..samples {
            let (key, score) = if volatile {
                let (k, &at) = db.expires.random(rng)?;
                let score = match policy {
                    Policy::VolatileTtl => -(at as i64),
                    _ => db
                        .keys
                        .get_key_value(k.as_bytes())
                        .map_or(0, |(key, _)| rank(key.meta())),
                };
                (k.as_bytes(), score)
            } else {
                let (k, _) = db.keys.random(rng)?;
                (k.as_bytes(), rank(k.meta()))
            };
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, s, d, key.to_vec()));
            }
        }
    }
    best.map(|(_, s, d, k)| (s, d, k))
}

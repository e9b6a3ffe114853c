//! The script registry: sha1 → body and flags, one immutable snapshot shared by every shard.
//!
//! Invariants:
//! - Readers (EVALSHA, the shard VMs) never lock: they load the current snapshot (arc-swap).
//!   Writers (a new EVAL body, SCRIPT LOAD, SCRIPT FLUSH, eviction) serialize on one mutex,
//!   copy the map, change it and publish the copy.
//! - Only scripts whose shebang parsed and whose body compiled are inserted.
//! - Scripts first seen through EVAL are evictable: past `EVAL_CACHE_MAX` of them, the least
//!   recently used is dropped (as Redis 7.4 does). Scripts from SCRIPT LOAD are never evicted;
//!   loading an EVAL-origin script makes it permanent.
//! - `generation` changes on SCRIPT FLUSH, so a VM knows to drop everything it compiled.

use super::flags::ScriptFlags;
use arc_swap::ArcSwap;
use bytes::Bytes;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Most EVAL-origin scripts kept at once.
pub const EVAL_CACHE_MAX: usize = 500;

/// A sha1 in lowercase hex.
pub type Sha = [u8; 40];

/// The lowercase hex sha1 of `body`.
pub fn sha1_hex(body: &[u8]) -> Sha {
    let digest = Sha1::digest(body);
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// `text` as a registry key if it can be one (40 bytes; any case).
pub fn sha_key(text: &[u8]) -> Option<Sha> {
    let mut out = [0u8; 40];
    if text.len() != 40 {
        return None;
    }
    for (o, c) in out.iter_mut().zip(text) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

/// Shards a script has been seen to need beyond its declared keys' shards; only grows.
pub struct Footprint {
    words: Box<[AtomicU64]>,
}

impl Footprint {
    pub fn new(shards: usize) -> Footprint {
        Footprint {
            words: (0..shards.div_ceil(64).max(1))
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    pub fn add(&self, shard: usize) {
        if let Some(w) = self.words.get(shard / 64) {
            w.fetch_or(1 << (shard % 64), Relaxed);
        }
    }

    /// Whether every remembered shard is `shard` (or none is remembered).
    pub fn only(&self, shard: usize) -> bool {
        self.words.iter().enumerate().all(|(i, w)| {
            let bits = w.load(Relaxed);
            let own = if shard / 64 == i {
                1u64 << (shard % 64)
            } else {
                0
            };
            bits & !own == 0
        })
    }

    /// Adds every remembered shard to `out` (unsorted, may repeat).
    pub fn extend_into(&self, out: &mut Vec<usize>) {
        for (i, w) in self.words.iter().enumerate() {
            let mut bits = w.load(Relaxed);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                out.push(i * 64 + b);
                bits &= bits - 1;
            }
        }
    }
}

pub struct Script {
    pub sha: Sha,
    pub body: Bytes,
    pub flags: ScriptFlags,
    /// Came through SCRIPT LOAD (never evicted).
    loaded: AtomicBool,
    /// LRU clock value of the last use.
    last_used: AtomicU64,
    pub footprint: Footprint,
}

impl Script {
    pub fn sha_str(&self) -> &str {
        std::str::from_utf8(&self.sha).unwrap_or("")
    }

    fn is_loaded(&self) -> bool {
        self.loaded.load(Relaxed)
    }
}

#[derive(Default)]
struct Snapshot {
    scripts: HashMap<Sha, Arc<Script>, foldhash::fast::RandomState>,
    eval_count: usize,
    eval_bytes: usize,
    generation: u64,
}

/// Cache statistics for INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistryStats {
    pub number_of_cached_scripts: usize,
    pub used_memory_scripts_eval: usize,
    pub evicted_scripts: u64,
}

pub struct Registry {
    snap: ArcSwap<Snapshot>,
    /// The snapshot's generation, readable without loading the snapshot (every run asks).
    generation: AtomicU64,
    write: Mutex<()>,
    clock: AtomicU64,
    evicted: AtomicU64,
    shards: usize,
}

/// Approximate per-script bookkeeping bytes counted in `used_memory_scripts_eval`.
const SCRIPT_OVERHEAD: usize = 96;

impl Registry {
    pub fn new(shards: usize) -> Registry {
        Registry {
            snap: ArcSwap::from_pointee(Snapshot::default()),
            generation: AtomicU64::new(0),
            write: Mutex::new(()),
            clock: AtomicU64::new(1),
            evicted: AtomicU64::new(0),
            shards,
        }
    }

    fn touch(&self, s: &Script) {
        // The script used last already holds the newest stamp: calling it again changes no
        // order, so a hot script costs no locked add on a line every shard shares.
        if s.last_used.load(Relaxed) + 1 == self.clock.load(Relaxed) {
            return;
        }
        s.last_used.store(self.clock.fetch_add(1, Relaxed), Relaxed);
    }

    /// Looks a script up and marks it used.
    pub fn get(&self, sha: &Sha) -> Option<Arc<Script>> {
        let s = self.snap.load().scripts.get(sha).cloned()?;
        self.touch(&s);
        Some(s)
    }

    /// `f` of a script, if there is one, without taking a reference to it or marking it used
    /// (for a look before the call that will run it, which marks it).
    pub fn peek<R>(&self, sha: &Sha, f: impl FnOnce(&Script) -> R) -> Option<R> {
        self.snap.load().scripts.get(sha).map(|s| f(s))
    }

    pub fn exists(&self, sha: &Sha) -> bool {
        self.snap.load().scripts.contains_key(sha)
    }

    /// Current SCRIPT FLUSH generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Number of scripts (the VMs use it to prune what they compiled).
    pub fn len(&self) -> usize {
        self.snap.load().scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> RegistryStats {
        let s = self.snap.load();
        RegistryStats {
            number_of_cached_scripts: s.scripts.len(),
            used_memory_scripts_eval: s.eval_bytes,
            evicted_scripts: self.evicted.load(Relaxed),
        }
    }

    /// Adds a compiled script (from EVAL when `load` is false, SCRIPT LOAD when true) and
    /// returns the registered entry (an existing one if the body was already known).
    pub fn insert(&self, sha: Sha, body: Bytes, flags: ScriptFlags, load: bool) -> Arc<Script> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let cur = self.snap.load();
        if let Some(s) = cur.scripts.get(&sha) {
            self.touch(s);
            if load && !s.is_loaded() {
                s.loaded.store(true, Relaxed);
                let mut next = clone_snapshot(&cur);
                next.eval_count -= 1;
                next.eval_bytes = next.eval_bytes.saturating_sub(eval_size(s));
                self.snap.store(Arc::new(next));
            }
            return s.clone();
        }
        let script = Arc::new(Script {
            sha,
            body,
            flags,
            loaded: AtomicBool::new(load),
            last_used: AtomicU64::new(0),
            footprint: Footprint::new(self.shards),
        });
        // A new script always takes a stamp (its 0 could pass for the newest in `touch`).
        script
            .last_used
            .store(self.clock.fetch_add(1, Relaxed), Relaxed);
        let mut next = clone_snapshot(&cur);
        if !load {
            while next.eval_count >= EVAL_CACHE_MAX {
                let victim = next
                    .scripts
                    .values()
                    .filter(|s| !s.is_loaded())
                    .min_by_key(|s| s.last_used.load(Relaxed))
                    .map(|s| s.sha);
                let Some(v) = victim else { break };
                if let Some(old) = next.scripts.remove(&v) {
                    next.eval_count -= 1;
                    next.eval_bytes = next.eval_bytes.saturating_sub(eval_size(&old));
                    self.evicted.fetch_add(1, Relaxed);
                }
            }
            next.eval_count += 1;
            next.eval_bytes += eval_size(&script);
        }
        next.scripts.insert(sha, script.clone());
        self.snap.store(Arc::new(next));
        script
    }

    /// Every registered script (snapshots carry their bodies).
    pub fn all(&self) -> Vec<Arc<Script>> {
        self.snap.load().scripts.values().cloned().collect()
    }

    /// SCRIPT FLUSH: forgets every script.
    pub fn flush(&self) {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.snap.load().generation + 1;
        self.snap.store(Arc::new(Snapshot {
            generation,
            ..Snapshot::default()
        }));
        self.generation.store(generation, Relaxed);
    }
}

fn eval_size(s: &Script) -> usize {
    s.body.len() + SCRIPT_OVERHEAD
}

fn clone_snapshot(s: &Snapshot) -> Snapshot {
    Snapshot {
        scripts: s.scripts.clone(),
        eval_count: s.eval_count,
        eval_bytes: s.eval_bytes,
        generation: s.generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(r: &Registry, body: &str, load: bool) -> Sha {
        let sha = sha1_hex(body.as_bytes());
        r.insert(
            sha,
            Bytes::from(body.to_string()),
            ScriptFlags::default(),
            load,
        );
        sha
    }

    #[test]
    fn sha_of_return_1() {
        assert_eq!(
            &sha1_hex(b"return 1"),
            b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        assert!(sha_key(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB").is_some());
        assert!(sha_key(b"abc").is_none());
    }

    #[test]
    fn using_the_newest_script_again_keeps_the_lru_order() {
        let r = Registry::new(1);
        let s: Vec<Sha> = (0..EVAL_CACHE_MAX)
            .map(|i| add(&r, &format!("return {i}"), false))
            .collect();
        let last = s[EVAL_CACHE_MAX - 1];
        for _ in 0..3 {
            assert!(r.get(&last).is_some()); // already the newest: no new stamp
        }
        assert!(r.get(&s[1]).is_some());
        assert!(r.get(&s[1]).is_some());
        add(&r, "return 'a'", false);
        assert!(!r.exists(&s[0]));
        add(&r, "return 'b'", false);
        assert!(!r.exists(&s[2]));
        assert!(r.exists(&s[1]) && r.exists(&last));
    }

    #[test]
    fn lru_evicts_eval_scripts_only() {
        let r = Registry::new(4);
        let loaded = add(&r, "return 'loaded'", true);
        let first: Vec<Sha> = (0..EVAL_CACHE_MAX)
            .map(|i| add(&r, &format!("return {i}"), false))
            .collect();
        // Touch the oldest so the second-oldest goes first.
        assert!(r.get(&first[0]).is_some());
        add(&r, "return 'new'", false);
        assert!(r.exists(&first[0]));
        assert!(!r.exists(&first[1]));
        assert!(r.exists(&loaded));
        assert_eq!(r.stats().evicted_scripts, 1);
        assert_eq!(r.stats().number_of_cached_scripts, EVAL_CACHE_MAX + 1);
        // Loading an EVAL script makes it permanent and frees an LRU place.
        r.insert(
            first[2],
            Bytes::from_static(b"return 2"),
            ScriptFlags::default(),
            true,
        );
        for i in 0..10 {
            add(&r, &format!("return 'more{i}'"), false);
        }
        assert!(r.exists(&first[2]));
        r.flush();
        assert!(!r.exists(&loaded));
        assert_eq!(r.generation(), 1);
    }

    #[test]
    fn footprint_bits() {
        let f = Footprint::new(70);
        f.add(3);
        f.add(66);
        f.add(3);
        let mut v = Vec::new();
        f.extend_into(&mut v);
        assert_eq!(v, vec![3, 66]);
    }
}

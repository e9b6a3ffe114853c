//! The data one shard owns: databases of keys and values, expiry, key watchers.
//!
//! Architecture Invariant: no tokio, no Lua, no I/O here. A `Db` is plain data touched by
//! exactly one thread at a time (whichever holds its shard).

mod dict;
pub mod glob;
mod hash;
mod key;
mod set;
mod str;
pub mod stream;
mod thin;
pub mod zset;

pub use dict::Dict;
pub use hash::Hash;
pub use key::Key;
pub use str::Str;
pub use stream::Stream;
pub use zset::ZSet;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub type Hasher = foldhash::fast::RandomState;

/// The hash HSCAN and SSCAN order elements by: one process-wide seed, so it depends only on the
/// element's bytes and a cursor stays meaningful when a collection changes form between calls.
pub fn scan_hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    use std::sync::OnceLock;
    static STATE: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    STATE
        .get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
        .hash_one(bytes)
}

/// An iterator over a collection kept in one of two forms (a small vector or a larger map).
#[derive(Clone)]
pub enum FormIter<S, B> {
    Small(S),
    Big(B),
}

impl<T, S: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for FormIter<S, B> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            FormIter::Small(i) => i.next(),
            FormIter::Big(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            FormIter::Small(i) => i.size_hint(),
            FormIter::Big(i) => i.size_hint(),
        }
    }
}

impl<T, S: ExactSizeIterator<Item = T>, B: ExactSizeIterator<Item = T>> ExactSizeIterator
    for FormIter<S, B>
{
}
pub type List = VecDeque<Str>;
pub type Set = set::Set;

#[derive(Clone, Debug)]
pub enum Value {
    Str(Str),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Whether a container is empty (Redis never keeps an empty container key).
    pub fn is_empty_container(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            // Redis keeps an empty stream (its last id still matters).
            Value::Stream(_) => false,
        }
    }
}

/// A key's value and last access, copied out (a script's undo log keeps these).
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Last access, in seconds of the server clock, low 24 bits (OBJECT IDLETIME).
    pub atime: u32,
}

/// A key's value and last access, in place.
pub struct EntryRef<'a> {
    pub value: &'a Value,
    pub atime: u32,
}

impl EntryRef<'_> {
    pub fn to_entry(&self) -> Entry {
        Entry {
            value: self.value.clone(),
            atime: self.atime,
        }
    }
}

/// The access clock keeps 24 bits, as Redis's LRU clock does (wraps after 194 days).
pub const CLOCK_MASK: u32 = 0xFF_FFFF;

/// Seconds since `atime` at `clock`, across the 24-bit wrap.
pub fn idle_secs(clock: u32, atime: u32) -> u32 {
    clock.wrapping_sub(atime) & CLOCK_MASK
}

/// The access counter of an LFU maxmemory policy, as Redis keeps it in a key's 24 access
/// bits: the minute of the last decrement (16 bits) and a logarithmic counter (8 bits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lfu {
    /// Unix time in minutes, modulo 2^16.
    pub minutes: u16,
    /// `lfu-log-factor`: the larger, the slower the counter climbs.
    pub log_factor: u32,
    /// `lfu-decay-time`: minutes per decrement of an untouched counter (0: never).
    pub decay_time: u32,
}

/// A new key's counter, so it is not evicted before it had a chance to be used.
pub const LFU_INIT: u32 = 5;

impl Lfu {
    /// A new key's access bits.
    pub fn fresh(&self) -> u32 {
        (self.minutes as u32) << 8 | LFU_INIT
    }

    /// The counter of `meta` after its decay (what OBJECT FREQ shows).
    pub fn decayed(&self, meta: u32) -> u32 {
        let (last, counter) = ((meta >> 8) & 0xFFFF, meta & 0xFF);
        let now = self.minutes as u32;
        let elapsed = if now >= last {
            now - last
        } else {
            65535 - last + now
        };
        let periods = elapsed.checked_div(self.decay_time).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// The access bits after one more access: decayed, then incremented with a probability
    /// that falls as the counter grows.
    pub fn accessed(&self, meta: u32, rng: &mut u64) -> u32 {
        let mut counter = self.decayed(meta);
        if counter < 255 {
            // xorshift64: the counter needs a coin, not a good generator.
            if *rng == 0 {
                *rng = 0x9E37_79B9_7F4A_7C15;
            }
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            let r = (*rng >> 11) as f64 / (1u64 << 53) as f64;
            let base = counter.saturating_sub(LFU_INIT) as f64;
            if r < 1.0 / (base * self.log_factor as f64 + 1.0) {
                counter += 1;
            }
        }
        (self.minutes as u32) << 8 | counter
    }
}

/// Something waiting on a key: a WATCH flag set on modification, or a blocked client woken
/// when the key may have become servable.
#[derive(Clone)]
pub enum Waiter {
    Watch(Arc<AtomicBool>),
    Block(Arc<tokio::sync::Notify>),
}

/// One logical database on one shard.
#[derive(Default)]
pub struct Db {
    /// Key → value; each key's owner word is its last access (`clock`, 24 bits).
    pub keys: Dict<Value, Key>,
    /// Absolute expiry in unix milliseconds, for keys that have one.
    pub expires: Dict<u64>,
    /// Keys with waiters; empty on the fast path.
    pub waiters: hashbrown::HashMap<Str, Vec<Waiter>, Hasher>,
    /// Keys deleted by lazy or active expiry since the shard last drained them (they become
    /// DEL effects for followers).
    pub expired: Vec<Key>,
    /// Keys whose blocked clients were signalled in the current unit: the unit serves them
    /// before it ends (src/server/blocking.rs, `serve_ready`), as Redis serves blocked clients
    /// right after the command that made their key ready.
    pub ready: Vec<Str>,
    /// Followers do not delete expired keys themselves; they hide them until the leader's DEL.
    pub passive_expiry: bool,
    /// Set for a unit that runs during CLIENT PAUSE: expired keys are hidden and kept, as
    /// Redis keeps the dataset still while paused.
    pub paused: bool,
    /// Current time (unix ms) and clock (seconds), set by the shard before each unit so every
    /// command of a unit (a script, a transaction) sees one time.
    pub now: u64,
    pub clock: u32,
    /// Set for a unit under an LFU maxmemory policy: accesses count in the keys' access bits
    /// instead of stamping the clock there.
    pub lfu: Option<Lfu>,
    /// The coin of LFU increments.
    lfu_rng: u64,
    /// Set for a unit while some client tracks keys (client-side caching): `signal` then
    /// records each modified key in `modified`, and `flush` sets `flushed`, for the shard's
    /// tracking table to turn into invalidations (src/server/tracking/). Off, it costs
    /// `signal` one branch.
    pub track_writes: bool,
    /// Keys signalled as modified since the tracking hook last drained them.
    pub modified: Vec<Str>,
    /// The database was emptied (FLUSHDB, FLUSHALL) since the tracking hook last looked.
    pub flushed: bool,
    /// Set for a unit of a CLIENT NO-TOUCH client: reads leave keys' access bits alone.
    pub no_touch: bool,
    /// INFO stats counters (`keyspace_hits`, `keyspace_misses`, `expired_keys`), read and
    /// reset by a unit holding the shard.
    pub stat_hits: u64,
    pub stat_misses: u64,
    pub stat_expired: u64,
}

impl Db {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` has an expiry in the past. Does not delete it.
    pub fn is_expired(&self, key: &[u8]) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        matches!(self.expires.get(key), Some(&at) if at <= self.now)
    }

    /// Deletes `key` if it has expired; true if it did (or would, on a follower). The check
    /// of a database without expiries stays inline in every lookup.
    #[inline]
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        self.expire_if_due(key)
    }

    #[inline(never)]
    fn expire_if_due(&mut self, key: &[u8]) -> bool {
        if !self.is_expired(key) {
            return false;
        }
        if !self.passive_expiry && !self.paused {
            if let Some((k, _)) = self.keys.remove(key) {
                self.expires.remove(key);
                self.stat_expired += 1;
                self.signal(&k);
                self.expired.push(k);
            }
        }
        true
    }

    /// Looks a key up for reading, applying lazy expiry and touching its access time.
    /// Counts a keyspace hit or miss (reads only, as Redis's `lookupKeyRead`).
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(key) {
            self.stat_misses += 1;
            return None;
        }
        let clock = self.clock & CLOCK_MASK;
        let no_touch = self.no_touch;
        let (lfu, rng) = (self.lfu, &mut self.lfu_rng);
        match self.keys.get_kv_mut(key) {
            Some((k, v)) => {
                self.stat_hits += 1;
                if !no_touch {
                    touch(k, clock, lfu, rng);
                }
                Some(&*v)
            }
            None => {
                self.stat_misses += 1;
                None
            }
        }
    }

    /// Looks a key up for writing, applying lazy expiry and touching its access time.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        let clock = self.clock & CLOCK_MASK;
        let no_touch = self.no_touch;
        let (lfu, rng) = (self.lfu, &mut self.lfu_rng);
        self.keys.get_kv_mut(key).map(|(k, v)| {
            if !no_touch {
                touch(k, clock, lfu, rng);
            }
            v
        })
    }

    /// Looks a key up without touching its access time (OBJECT, TYPE-like peeks).
    pub fn peek(&mut self, key: &[u8]) -> Option<EntryRef<'_>> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.keys.get_key_value(key).map(|(k, v)| EntryRef {
            value: v,
            atime: k.meta(),
        })
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.keys.contains_key(key)
    }

    /// Sets `key` to `value`, dropping any expiry (SET semantics without KEEPTTL).
    pub fn set(&mut self, key: &[u8], value: Value) {
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        self.set_keep_ttl(key, value);
    }

    /// Sets `key` to `value`, keeping its expiry if it has one.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        let clock = self.clock & CLOCK_MASK;
        let no_touch = self.no_touch;
        let (lfu, rng) = (self.lfu, &mut self.lfu_rng);
        match self.keys.get_kv_mut(key) {
            Some((k, v)) => {
                if !no_touch {
                    touch(k, clock, lfu, rng);
                }
                *v = value;
            }
            None => {
                let meta = lfu.map_or(clock, |l| l.fresh());
                self.keys.insert(Key::with_meta(key, meta), value);
            }
        }
    }

    /// Sets a key's access bits (RESTORE's IDLETIME and FREQ); false if the key is absent.
    pub fn set_meta(&mut self, key: &[u8], meta: u32) -> bool {
        match self.keys.get_kv_mut(key) {
            Some((k, _)) => {
                k.set_meta(meta & CLOCK_MASK);
                true
            }
            None => false,
        }
    }

    /// Puts back a key exactly as it was (a script's undo): value and access time.
    pub fn restore_entry(&mut self, key: &[u8], e: Entry) {
        self.keys.insert(Key::with_meta(key, e.atime), e.value);
    }

    /// Removes `key` (and its expiry). Expired keys count as absent.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        let (_, v) = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(v)
    }

    /// Removes `key` if its container value became empty. Call after popping or deleting members.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if matches!(self.keys.get(key), Some(v) if v.is_empty_container()) {
            self.keys.remove(key);
            self.expires.remove(key);
        }
    }

    /// Absolute expiry of a live key, if any.
    pub fn expire_at(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Sets an absolute expiry on an existing key. An expiry in the past deletes the key
    /// (as Redis does) and returns false.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        if at_ms <= self.now && !self.passive_expiry {
            self.remove(key);
            return false;
        }
        if self.keys.contains_key(key) {
            self.expires.insert(Str::new(key), at_ms);
            true
        } else {
            false
        }
    }

    /// Drops the expiry of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    pub fn flush(&mut self) {
        self.keys.clear();
        self.expires.clear();
        if self.track_writes {
            self.flushed = true;
        }
        self.signal_all();
    }

    /// Deletes up to `budget` expired keys, sampling the expiry table from `cursor`.
    /// Returns the next cursor.
    pub fn active_expire(&mut self, cursor: u64, budget: usize) -> u64 {
        let now = self.now;
        let mut dead = Vec::new();
        let next = self.expires.scan(cursor, budget, |k, &at| {
            if at <= now {
                dead.push(k.clone());
            }
        });
        for k in dead {
            self.expire_if_needed(&k);
        }
        next
    }

    /// Registers a waiter on `key`.
    pub fn add_waiter(&mut self, key: &[u8], w: Waiter) {
        self.waiters.entry(Str::new(key)).or_default().push(w);
    }

    /// Tells everything waiting on `key` that it changed: WATCH flags are set, blocked clients
    /// are woken to retry. Waiters whose owner has gone are dropped.
    pub fn signal(&mut self, key: &[u8]) {
        if self.track_writes {
            self.modified.push(Str::new(key));
        }
        if self.waiters.is_empty() {
            return;
        }
        if let Some(ws) = self.waiters.remove(key) {
            let mut blocked = false;
            for w in ws {
                match w {
                    Waiter::Watch(f) => f.store(true, Ordering::Release),
                    Waiter::Block(n) => {
                        blocked = true;
                        // Also woken directly: a client the unit cannot serve retries itself.
                        n.notify_one();
                    }
                }
            }
            if blocked {
                self.ready.push(Str::new(key));
            }
        }
    }

    /// Signals every waiter (FLUSHDB, SWAPDB).
    pub fn signal_all(&mut self) {
        for (_, ws) in self.waiters.drain() {
            for w in ws {
                match w {
                    Waiter::Watch(f) => f.store(true, Ordering::Release),
                    Waiter::Block(n) => n.notify_one(),
                }
            }
        }
    }
}

/// Records an access; skips the store when nothing changes (most reads in one second).
#[inline]
fn touch(k: &mut Key, clock: u32, lfu: Option<Lfu>, rng: &mut u64) {
    match lfu {
        None => {
            if k.meta() != clock {
                k.set_meta(clock);
            }
        }
        Some(l) => touch_lfu(k, l, rng),
    }
}

/// An access under an LFU policy (kept out of line: the common path stamps the clock).
#[cold]
#[inline(never)]
fn touch_lfu(k: &mut Key, l: Lfu, rng: &mut u64) {
    let meta = l.accessed(k.meta(), rng);
    k.set_meta(meta);
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn entry_is_compact() {
        // The keyspace's per-key cost: a key (16 bytes) and an entry per table slot. `Value`
        // keeps its tag in `Str`'s niche, so it is no bigger than a `Str`.
        assert_eq!(std::mem::size_of::<super::Str>(), 16);
        assert_eq!(std::mem::size_of::<super::Value>(), 16);
        assert_eq!(std::mem::size_of::<super::Key>(), 24);
        assert_eq!(std::mem::size_of::<(super::Key, super::Value)>(), 40);
    }
}

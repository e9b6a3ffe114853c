//! Client-side caching (CLIENT TRACKING): who tracks, in which mode, and how invalidations
//! reach them.
//!
//! Three parts, one job each:
//! - this module, the registry (`Server::tracking`): the tracking clients and their options,
//!   the BCAST prefixes with the keys modified under them since they were last sent, and the
//!   INFO counters. Any thread reads it; a client's own CLIENT TRACKING changes its entry.
//! - `table.rs`, each shard's table of keys read in default mode (key → client ids), kept in
//!   the shard's data so only the unit holding the shard touches it (no lock on the data path).
//! - `hooks.rs`, what a unit does: remember the keys a tracking client read, and turn the keys
//!   its commands signalled as modified (`Db::modified`, `Db::flushed`) into invalidations.
//!
//! Invalidations travel like Pub/Sub messages: queued on the receiving connection's
//! `ClientInfo` (`push.rs`), which writes them between whole replies.
//!
//! Invariant: `active()` is true exactly while some client has tracking on; units set
//! `Db::track_writes` from it, so with nobody tracking a write pays one branch in `Db::signal`
//! and a command one relaxed load. A client is listed under a prefix exactly while its entry
//! here is in BCAST mode with that prefix.

pub mod cmds;
pub mod hooks;
pub mod push;
pub mod table;

pub use push::{Keys, Push};
pub use table::KeyTable;

use super::client::ClientInfo;
use super::Server;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The options of CLIENT TRACKING ON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// The client invalidations go to (0: this one).
    pub redirect: u64,
}

/// One tracking client, as senders see it. Replaced whole when its options change.
pub struct Tracker {
    pub info: Arc<ClientInfo>,
    pub opts: Options,
    /// BCAST prefixes, sorted (the empty prefix matches every key).
    pub prefixes: Vec<Bytes>,
}

/// A BCAST prefix: its clients and the keys modified under it since they were last sent,
/// each with the client that modified it (0: none, or several), for NOLOOP.
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    pending: BTreeMap<Bytes, u64>,
}

/// The registry (`Server::tracking`).
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on (INFO `tracking_clients`).
    on: AtomicUsize,
    clients: RwLock<BTreeMap<u64, Arc<Tracker>>>,
    prefixes: Mutex<BTreeMap<Bytes, Prefix>>,
    /// Number of prefixes (INFO `tracking_total_prefixes`); 0 skips the BCAST path.
    prefix_count: AtomicUsize,
    /// Some prefix has keys to send.
    pending: AtomicBool,
    /// Keys in all shards' tables and (key, client) pairs (INFO `tracking_total_keys`,
    /// `tracking_total_items`).
    keys: AtomicI64,
    items: AtomicI64,
}

impl Tracking {
    /// Whether any client tracks (the data path's one check).
    #[inline]
    pub fn active(&self) -> bool {
        self.on.load(Relaxed) > 0
    }

    pub fn get(&self, id: u64) -> Option<Arc<Tracker>> {
        self.clients.read().get(&id).cloned()
    }

    pub fn clients(&self) -> usize {
        self.on.load(Relaxed)
    }

    pub fn total_keys(&self) -> i64 {
        self.keys.load(Relaxed).max(0)
    }

    pub fn total_items(&self) -> i64 {
        self.items.load(Relaxed).max(0)
    }

    pub fn total_prefixes(&self) -> usize {
        self.prefix_count.load(Relaxed)
    }

    /// Counts keys and items added to (positive) or removed from (negative) a shard's table.
    pub(crate) fn count(&self, keys: i64, items: i64) {
        if keys != 0 {
            self.keys.fetch_add(keys, Relaxed);
        }
        if items != 0 {
            self.items.fetch_add(items, Relaxed);
        }
    }

    /// Turns tracking on for `t.info.id` (or changes its options), registering its prefixes.
    pub fn enable(&self, t: Tracker) -> Arc<Tracker> {
        let id = t.info.id;
        let t = Arc::new(t);
        if t.opts.bcast {
            let mut map = self.prefixes.lock();
            for p in &t.prefixes {
                map.entry(p.clone()).or_default().clients.insert(id);
            }
            self.prefix_count.store(map.len(), Relaxed);
        }
        if self.clients.write().insert(id, t.clone()).is_none() {
            self.on.fetch_add(1, Relaxed);
        }
        t
    }

    /// Turns tracking off for client `id` (CLIENT TRACKING OFF, RESET, disconnect).
    pub fn disable(&self, id: u64) {
        let Some(t) = self.clients.write().remove(&id) else {
            return;
        };
        self.on.fetch_sub(1, Relaxed);
        if !t.prefixes.is_empty() {
            let mut map = self.prefixes.lock();
            for p in &t.prefixes {
                if let Some(entry) = map.get_mut(p) {
                    entry.clients.remove(&id);
                    if entry.clients.is_empty() {
                        map.remove(p);
                    }
                }
            }
            self.prefix_count.store(map.len(), Relaxed);
        }
    }

    /// Sends one invalidation for tracker `t`: to it, or to the client it redirects to; a
    /// redirect to a client that has gone marks `t` broken and, in RESP3, tells it so.
    pub fn send(&self, server: &Server, t: &Tracker, keys: Keys) {
        if t.opts.redirect == 0 {
            t.info.push(Push::Invalidate {
                keys,
                redirected: false,
            });
            return;
        }
        match server.clients.get(t.opts.redirect) {
            Some(target) => target.push(Push::Invalidate {
                keys,
                redirected: true,
            }),
            None => {
                t.info.set_tracking_broken();
                if t.info.resp.load(Relaxed) >= 3 {
                    t.info.push(Push::RedirBroken(t.opts.redirect));
                }
            }
        }
    }

    /// The keyspace was flushed: every tracking client, whatever its mode, is told to drop
    /// everything (a null invalidation); the flushing client's own goes to `own` if given.
    pub fn send_flush(&self, server: &Server, writer: u64, mut own: Option<&mut Vec<Push>>) {
        let all: Vec<Arc<Tracker>> = self.clients.read().values().cloned().collect();
        for t in all {
            let keys = Keys::All {
                resp: t.info.resp.load(Relaxed),
            };
            match own.as_deref_mut() {
                Some(own) if t.info.id == writer && t.opts.redirect == 0 => {
                    own.push(Push::Invalidate {
                        keys,
                        redirected: false,
                    })
                }
                _ => self.send(server, &t, keys),
            }
        }
    }

    /// Notes `key`, modified by client `writer` (0: no client), for the BCAST prefixes it
    /// matches; they are sent when the unit ends (`send_broadcasts`).
    pub fn note_broadcast(&self, key: &[u8], writer: u64) {
        if self.prefix_count.load(Relaxed) == 0 {
            return;
        }
        let mut map = self.prefixes.lock();
        let mut any = false;
        for (p, entry) in map.iter_mut() {
            if !key.starts_with(p) {
                continue;
            }
            any = true;
            match entry.pending.get_mut(key) {
                Some(w) if *w != writer => *w = 0,
                Some(_) => {}
                None => {
                    entry.pending.insert(Bytes::copy_from_slice(key), writer);
                }
            }
        }
        if any {
            self.pending.store(true, Relaxed);
        }
    }

    /// Sends what the BCAST prefixes collected: per prefix (in order), per client, one
    /// invalidation with the prefix's keys in order, less those the client modified itself
    /// under NOLOOP, as Redis sends them once per event-loop turn.
    pub fn send_broadcasts(&self, server: &Server) {
        if !self.pending.swap(false, Relaxed) {
            return;
        }
        let mut out: Vec<(Arc<Tracker>, Vec<Bytes>)> = Vec::new();
        {
            // Lock order: prefixes, then clients (as `enable`).
            let mut map = self.prefixes.lock();
            for entry in map.values_mut() {
                if entry.pending.is_empty() {
                    continue;
                }
                let pending = std::mem::take(&mut entry.pending);
                for id in &entry.clients {
                    let Some(t) = self.get(*id) else { continue };
                    let keys: Vec<Bytes> = pending
                        .iter()
                        .filter(|(_, &w)| !(t.opts.noloop && w == t.info.id))
                        .map(|(k, _)| k.clone())
                        .collect();
                    out.push((t, keys));
                }
            }
        }
        for (t, keys) in out {
            if !keys.is_empty() {
                self.send(server, &t, Keys::Some(keys));
            }
        }
    }
}

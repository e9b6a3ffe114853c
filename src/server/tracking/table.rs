//! One shard's tracking table: for each key of the shard's slots that a tracking client read
//! (default mode), the ids of the clients that may hold it in their cache.
//!
//! Invariant: the table lives in the shard's `ShardData`, so only the unit holding the shard
//! reads or changes it, and it needs no lock. A key is listed here once with at least one id;
//! entries go when the key is invalidated (modified, flushed, or evicted from the table), never
//! when a client stops tracking: as in Redis, a stale id is skipped when its invalidation is
//! sent. Key names are shared by every database of the shard, as Redis's table ignores the
//! database.

use bytes::Bytes;
use std::collections::HashMap;

#[derive(Default)]
pub struct KeyTable {
    keys: HashMap<Bytes, Vec<u64>, foldhash::fast::RandomState>,
}

/// What `remember` added: (a new key, a new client for the key).
pub struct Added {
    pub key: bool,
    pub item: bool,
}

impl KeyTable {
    /// Notes that client `id` read `key`.
    pub fn remember(&mut self, key: &[u8], id: u64) -> Added {
        if let Some(ids) = self.keys.get_mut(key) {
            if ids.contains(&id) {
                return Added {
                    key: false,
                    item: false,
                };
            }
            ids.push(id);
            return Added {
                key: false,
                item: true,
            };
        }
        self.keys.insert(Bytes::copy_from_slice(key), vec![id]);
        Added {
            key: true,
            item: true,
        }
    }

    /// Forgets `key`, returning the clients that read it.
    pub fn take(&mut self, key: &[u8]) -> Option<Vec<u64>> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys.remove(key)
    }

    /// Forgets some key (the tables are over `tracking-table-max-keys`).
    pub fn evict_one(&mut self) -> Option<(Bytes, Vec<u64>)> {
        let victim = self.keys.keys().next()?.clone();
        let ids = self.keys.remove(&victim)?;
        Some((victim, ids))
    }

    /// Forgets every key; returns (keys, items) forgotten.
    pub fn clear(&mut self) -> (usize, usize) {
        let items = self.keys.values().map(Vec::len).sum();
        let keys = self.keys.len();
        self.keys.clear();
        (keys, items)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_remembered_once_per_client_and_forgotten_when_taken() {
        let mut t = KeyTable::default();
        assert!(t.remember(b"k", 1).key);
        let again = t.remember(b"k", 1);
        assert!(!again.key && !again.item);
        let other = t.remember(b"k", 2);
        assert!(!other.key && other.item);
        assert_eq!(t.take(b"k"), Some(vec![1, 2]));
        assert_eq!(t.take(b"k"), None);
        t.remember(b"a", 1);
        t.remember(b"b", 1);
        let (k, _) = t.evict_one().unwrap();
        assert!(&k[..] == b"a" || &k[..] == b"b");
        assert_eq!(t.clear(), (1, 1));
        assert!(t.is_empty());
    }
}

//! The stream value: entries (an id and field/value pairs) in strictly increasing id order,
//! kept in nodes shaped like Redis 7.0's macro nodes so that approximate trimming (`~`) removes
//! what Redis would remove.
//!
//! Invariant: ids increase strictly across the whole stream (node after node, entry after
//! entry) and every id is at most `last_id`; `len` counts the live (not deleted) entries. A
//! node is keyed by its first entry's id (Redis's master id) and keeps its deleted entries (as a
//! listpack does) until the node itself goes; `bytes` is the size Redis's listpack for that
//! node would have, which is what decides when a new node starts (with the entry count).
//!
//! What is modelled of Redis's node layout: the master entry (live and deleted counts, the
//! first entry's fields), each entry's flags, id deltas, fields unless they equal the master
//! fields, values and its element count, each as a listpack element (integers encoded as
//! integers, strings that read as integers too). The thresholds are Redis's defaults
//! (`stream-node-max-entries 100`, `stream-node-max-bytes 4096`).

use super::Str;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;

/// Redis's default `stream-node-max-entries`.
pub const NODE_MAX_ENTRIES: usize = 100;
/// Redis's default `stream-node-max-bytes`.
pub const NODE_MAX_BYTES: usize = 4096;

/// A stream entry id, `ms-seq`; ordered by `ms`, then `seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id in order, or `None` after `MAX`.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The previous id in order, or `None` before `MIN`.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry: its id and its fields and values, interleaved (`f1 v1 f2 v2 …`).
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: StreamId,
    pub fields: Box<[Str]>,
    /// Deleted entries stay in their node (their content dropped) until the node goes.
    deleted: bool,
}

#[derive(Clone, Debug)]
struct Node {
    /// The first entry's field names (Redis's master entry).
    master_fields: Box<[Str]>,
    entries: Vec<Entry>,
    live: usize,
    /// The size of Redis's listpack for this node.
    bytes: usize,
}

impl Node {
    fn deleted(&self) -> usize {
        self.entries.len() - self.live
    }

    /// Changes the live and deleted counts, keeping `bytes` right for their encodings.
    fn set_counts(&mut self, live: usize, deleted: usize) {
        self.bytes = self.bytes + int_size(live as i64) + int_size(deleted as i64)
            - int_size(self.live as i64)
            - int_size(self.deleted() as i64);
        self.live = live;
    }

    fn last_id(&self) -> StreamId {
        self.entries.last().map(|e| e.id).unwrap_or_default()
    }
}

/// How a trim decides what goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries with ids below this one.
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    len: u64,
    /// The last id added (or set by XSETID); new ids must be above it.
    pub last_id: StreamId,
    /// The highest id deleted by XDEL (XINFO's `max-deleted-entry-id`).
    pub max_deleted_id: StreamId,
    /// Entries ever added (XINFO's `entries-added`).
    pub entries_added: u64,
    /// Consumer groups by name (byte order, as Redis's radix tree lists them).
    pub groups: BTreeMap<Bytes, ConsumerGroup>,
}

/// A consumer group: where it has read to, and what it delivered but was not acknowledged.
///
/// Invariant: every id in a consumer's `pel` is in the group's `pel` naming that consumer, and
/// every entry of the group's `pel` is in its consumer's `pel`.
#[derive(Clone, Debug, Default)]
pub struct ConsumerGroup {
    /// The last id delivered by `>` (or set by XGROUP SETID / XCLAIM LASTID).
    pub last_id: StreamId,
    /// Entries the group has read, counted from the stream's first ever entry; `None` when it
    /// cannot be known (Redis's -1).
    pub entries_read: Option<u64>,
    /// Pending (delivered, unacknowledged) entries by id.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name.
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// One pending entry of a group.
#[derive(Clone, Debug)]
pub struct Pending {
    pub consumer: Bytes,
    /// Unix milliseconds of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix milliseconds the consumer was last seen (created, read, claimed).
    pub seen_time: u64,
    /// The ids pending for this consumer.
    pub pel: std::collections::BTreeSet<StreamId>,
}

impl ConsumerGroup {
    /// The consumer `name`, created (seen `now`) if missing; true if it was created.
    pub fn consumer(&mut self, name: &Bytes, now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.clone())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: Default::default(),
            });
        (c, created)
    }

    /// Removes `id` from the group's and its consumer's pending lists; true if it was there.
    pub fn unpend(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `id` pending for `consumer` (which must exist), moving it from another consumer.
    pub fn pend(&mut self, id: StreamId, consumer: &Bytes, delivery_time: u64, count: u64) {
        if let Some(old) = self.pel.get(&id).map(|p| p.consumer.clone()) {
            if old != consumer {
                if let Some(c) = self.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
            }
        }
        self.pel.insert(
            id,
            Pending {
                consumer: consumer.clone(),
                delivery_time,
                delivery_count: count,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// The size of a listpack integer element (encoding and back-length byte).
fn int_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..=4095).contains(&v) {
        3
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        4
    } else if (-8_388_608..=8_388_607).contains(&v) {
        5
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        6
    } else {
        10
    }
}

/// The size of a listpack element holding `s` (stored as an integer when it reads as one).
fn str_size(s: &[u8]) -> usize {
    if let Some(v) = crate::commands::parse_i64(s) {
        return int_size(v);
    }
    let n = s.len();
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    let back = if enc <= 127 {
        1
    } else if enc < 16383 {
        2
    } else if enc < 2_097_151 {
        3
    } else if enc < 268_435_455 {
        4
    } else {
        5
    };
    enc + back
}

impl Stream {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes' keys (their first entries' ids), ascending.
    pub fn node_keys(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.nodes.keys().copied()
    }

    /// What each node owns in memory here (its entry vector, their field vectors and string
    /// bytes, its master fields), node by node (MEMORY USAGE samples these).
    pub fn node_memory(&self) -> impl Iterator<Item = usize> + '_ {
        const STR: usize = std::mem::size_of::<Str>();
        let strs = |f: &[Str]| f.len() * STR + f.iter().map(|s| s.heap_size()).sum::<usize>();
        self.nodes.values().map(move |n| {
            n.entries.capacity() * std::mem::size_of::<Entry>()
                + n.entries.iter().map(|e| strs(&e.fields)).sum::<usize>()
                + strs(&n.master_fields)
        })
    }

    /// What the consumer groups own here, roughly: each group, pending entry and consumer
    /// with its tree slot and name, and each consumer's pending id (MEMORY USAGE).
    pub fn groups_memory(&self) -> usize {
        const SLOT: usize = 48;
        let pending = std::mem::size_of::<(StreamId, Pending)>() + SLOT;
        let consumer = std::mem::size_of::<Consumer>() + SLOT;
        let id = std::mem::size_of::<StreamId>() + SLOT / 2;
        self.groups
            .iter()
            .map(|(name, g)| {
                std::mem::size_of::<ConsumerGroup>()
                    + SLOT
                    + name.len()
                    + g.pel.len() * pending
                    + g.consumers
                        .iter()
                        .map(|(n, c)| consumer + n.len() + c.pel.len() * id)
                        .sum::<usize>()
            })
            .sum()
    }

    /// Total bytes of the nodes' listpacks (for MEMORY USAGE).
    pub fn node_bytes(&self) -> usize {
        self.nodes.values().map(|n| n.bytes).sum()
    }

    /// Appends an entry; `id` must be above `last_id` and `fields` hold pairs.
    pub fn append(&mut self, id: StreamId, fields: Box<[Str]>) {
        debug_assert!(id > self.last_id && fields.len().is_multiple_of(2));
        let payload: usize = fields.iter().map(|s| s.len()).sum();
        let tail_fits = self.nodes.values().next_back().is_some_and(|n| {
            n.bytes + payload < NODE_MAX_BYTES && n.entries.len() < NODE_MAX_ENTRIES
        });
        if !tail_fits {
            let master_fields: Box<[Str]> = fields.iter().step_by(2).cloned().collect();
            let bytes = 7
                + int_size(0)
                + int_size(0)
                + int_size(master_fields.len() as i64)
                + master_fields.iter().map(|f| str_size(f)).sum::<usize>()
                + int_size(0);
            self.nodes.insert(
                id,
                Node {
                    master_fields,
                    entries: Vec::new(),
                    live: 0,
                    bytes,
                },
            );
        }
        let (&master, node) = self.nodes.iter_mut().next_back().expect("a tail node");
        let pairs = fields.len() / 2;
        let same = node.master_fields.len() == pairs
            && node
                .master_fields
                .iter()
                .zip(fields.iter().step_by(2))
                .all(|(a, b)| a == b);
        let mut size = int_size(if same { 2 } else { 0 })
            + int_size(id.ms.wrapping_sub(master.ms) as i64)
            + int_size(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            size += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| str_size(v))
                .sum::<usize>();
            size += int_size(pairs as i64 + 3);
        } else {
            size += int_size(pairs as i64);
            size += fields.iter().map(|f| str_size(f)).sum::<usize>();
            size += int_size(2 * pairs as i64 + 4);
        }
        let deleted = node.deleted();
        node.set_counts(node.live + 1, deleted);
        node.bytes += size;
        node.entries.push(Entry {
            id,
            fields,
            deleted: false,
        });
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Live entries with ids in `lo..=hi`, in order (reversible).
    pub fn range(&self, lo: StreamId, hi: StreamId) -> impl DoubleEndedIterator<Item = &Entry> {
        // The node that may hold `lo` starts at or before it.
        let from = self
            .nodes
            .range(..=lo)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(StreamId::MIN);
        let nodes = if lo <= hi {
            Some(self.nodes.range(from..=hi))
        } else {
            None
        };
        nodes
            .into_iter()
            .flatten()
            .flat_map(|(_, n)| n.entries.iter())
            .filter(move |e| !e.deleted && e.id >= lo && e.id <= hi)
    }

    /// Every live entry, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    pub fn first_entry(&self) -> Option<&Entry> {
        self.iter().next()
    }

    pub fn last_entry(&self) -> Option<&Entry> {
        self.iter().next_back()
    }

    /// The first live entry's id, or 0-0 when empty (XINFO's `recorded-first-entry-id`).
    pub fn first_id(&self) -> StreamId {
        self.first_entry().map(|e| e.id).unwrap_or_default()
    }

    /// Whether a live entry has this id.
    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The live entry with this id.
    pub fn get(&self, id: StreamId) -> Option<&Entry> {
        self.range(id, id).next()
    }

    /// Whether an entry deleted by XDEL may lie at or after `from` (Redis's
    /// `streamRangeHasTombstones` with no end): not when the highest deleted id is below the
    /// first live entry.
    pub fn has_tombstones_from(&self, from: StreamId) -> bool {
        self.len != 0
            && self.max_deleted_id != StreamId::MIN
            && self.first_id() <= self.max_deleted_id
            && from <= self.max_deleted_id
    }

    /// The logical position (entries added before it, plus one) of `id`, when it can be
    /// known: Redis's `streamEstimateDistanceFromFirstEverEntry`.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted_id == StreamId::MIN || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added.saturating_sub(self.len));
            } else if id == first {
                return Some(self.entries_added.saturating_sub(self.len) + 1);
            }
        }
        None
    }

    /// A group's lag (entries added it has not read), when it can be known; negative when
    /// the group was told (ENTRIESREAD) it read more than was added, as in Redis.
    pub fn group_lag(&self, g: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read {
            if !self.has_tombstones_from(g.last_id) {
                return Some(self.entries_added as i64 - read as i64);
            }
        }
        self.estimate_entries_read(g.last_id)
            .map(|read| self.entries_added as i64 - read as i64)
    }

    /// Deletes the entry `id`; true if it was there. The node goes with its last live entry.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Ok(i) = node.entries.binary_search_by(|e| e.id.cmp(&id)) else {
            return false;
        };
        if node.entries[i].deleted {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            let (live, deleted) = (node.live - 1, node.deleted() + 1);
            node.set_counts(live, deleted);
            let e = &mut node.entries[i];
            e.deleted = true;
            e.fields = Box::default();
        }
        self.len -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims from the oldest entries, as Redis does: whole nodes while they can go entirely;
    /// then, unless `approx`, entries inside the next node. `limit` (0: none) caps the entries
    /// removed, counted a whole node at a time. Returns how many entries went.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = how {
                if self.len <= max {
                    break;
                }
            }
            let node = first.get_mut();
            let live = node.live as u64;
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len - live >= max,
                Trim::MinId(min) => node.last_id() < min,
            };
            if whole {
                first.remove();
                self.len -= live;
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            let mut gone = 0usize;
            for e in node.entries.iter_mut() {
                let stop = match how {
                    Trim::MaxLen(max) => self.len <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    e.deleted = true;
                    e.fields = Box::default();
                    gone += 1;
                    self.len -= 1;
                }
            }
            let (live, deleted) = (node.live - gone, node.deleted() + gone);
            node.set_counts(live, deleted);
            removed += gone as u64;
            break;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Box<[Str]> {
        pairs
            .iter()
            .flat_map(|(f, v)| [Str::new(f.as_bytes()), Str::new(v.as_bytes())])
            .collect()
    }

    #[test]
    fn nodes_hold_at_most_100_entries_and_approximate_trims_take_whole_nodes() {
        let mut s = Stream::default();
        for i in 1..=250 {
            s.append(StreamId::new(i, 0), fields(&[("a", "1")]));
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id(), StreamId::new(131, 0));
        assert!(s.delete(StreamId::new(131, 0)));
        assert!(!s.delete(StreamId::new(131, 0)));
        assert_eq!(s.max_deleted_id, StreamId::new(131, 0));
        assert_eq!(
            s.iter().next_back().map(|e| e.id),
            Some(StreamId::new(250, 0))
        );
        assert_eq!(
            s.range(StreamId::new(140, 0), StreamId::new(141, 5))
                .count(),
            2
        );
    }

    #[test]
    fn pending_entries_move_between_consumers_and_lag_follows_deletions() {
        let mut s = Stream::default();
        for i in 1..=5 {
            s.append(StreamId::new(i, 0), fields(&[("a", "1")]));
        }
        let mut g = ConsumerGroup {
            entries_read: Some(2),
            last_id: StreamId::new(2, 0),
            ..Default::default()
        };
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        assert!(g.consumer(&a, 7).1);
        assert!(!g.consumer(&a, 8).1);
        g.consumer(&b, 9);
        g.pend(StreamId::new(1, 0), &a, 10, 1);
        g.pend(StreamId::new(1, 0), &b, 11, 3);
        assert!(g.consumers[&a].pel.is_empty());
        assert_eq!(g.consumers[&b].pel.len(), 1);
        assert_eq!(g.pel[&StreamId::new(1, 0)].delivery_count, 3);
        assert_eq!(s.group_lag(&g), Some(3));
        // A deletion after the group's position hides its counter; one before it does not.
        s.delete(StreamId::new(4, 0));
        assert_eq!(s.group_lag(&g), None);
        assert!(g.unpend(StreamId::new(1, 0)));
        assert!(!g.unpend(StreamId::new(1, 0)));
        assert!(g.consumers[&b].pel.is_empty());
        let mut t = Stream::default();
        for i in 1..=5 {
            t.append(StreamId::new(i, 0), fields(&[("a", "1")]));
        }
        t.delete(StreamId::new(1, 0));
        assert_eq!(t.group_lag(&g), Some(3));
        assert_eq!(t.estimate_entries_read(StreamId::new(5, 0)), Some(5));
        assert_eq!(t.estimate_entries_read(StreamId::new(9, 0)), None);
    }

    #[test]
    fn large_values_start_nodes_by_bytes() {
        let mut s = Stream::default();
        let big = "x".repeat(1000);
        for i in 1..=10 {
            s.append(StreamId::new(i, 0), fields(&[("f", &big)]));
        }
        // About four 1000-byte values fit under 4096 bytes.
        assert!(s.node_count() >= 3, "{}", s.node_count());
    }
}

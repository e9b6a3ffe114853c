//! An indexable skiplist of `(score, member)` pairs kept in an index arena.
//!
//! Invariants:
//! - Level-0 links visit every live node in ascending `(score, member)` order (scores compared
//!   with `<`, ties broken by member bytes); `prev` links are the exact reverse of level 0.
//! - `links[i].span` is the number of level-0 steps from a node to `links[i].next`; for a link
//!   with no next node it is the number of nodes after this one. Summing spans along any search
//!   path therefore yields 1-based positions, which makes rank, select and range counts O(log n).
//! - Slot 0 is the header (it holds no element); freed slots are recycled through `free` and the
//!   arena is compacted when most of it is free, so memory follows the live size.
//!
//! Nodes refer to each other by `u32` index, so the structure is plain owned data (no `unsafe`,
//! no reference counting) and clones with one `Vec` copy.

use super::super::str::Str;
use std::cmp::Ordering;

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// Enough levels for 4^32 elements at p = 1/4.
const MAX_LEVEL: usize = 32;

#[derive(Clone, Copy, Debug)]
struct Link {
    next: u32,
    span: u32,
}

/// One cache line exactly (64 bytes, 64-aligned in the arena): a search step reads a node's
/// score, member and links, and a node straddling two lines would cost two misses per step on
/// a large set (it did: 72 bytes before the back link moved into `Links`' padding).
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Node {
    score: f64,
    member: Str,
    /// Empty for a free slot.
    links: Links,
}

/// Links stored inline (a lookup steps mostly through low levels, and 15 nodes in 16 have at
/// most two: no second cache miss per step for those).
const INLINE_LINKS: usize = 2;

/// A node's links: its forward ones, level 0 first (the low ones in the node, the rest boxed),
/// and its level-0 predecessor.
#[derive(Clone, Debug)]
struct Links {
    len: u8,
    /// The level-0 predecessor; `NIL` for the first node.
    prev: u32,
    low: [Link; INLINE_LINKS],
    high: Box<[Link]>,
}

impl Links {
    fn new(levels: usize, prev: u32) -> Links {
        let empty = Link { next: NIL, span: 0 };
        Links {
            len: levels as u8,
            prev,
            low: [empty; INLINE_LINKS],
            high: vec![empty; levels.saturating_sub(INLINE_LINKS)].into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn get(&self, i: usize) -> Link {
        if i < INLINE_LINKS {
            self.low[i]
        } else {
            self.high[i - INLINE_LINKS]
        }
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> &mut Link {
        if i < INLINE_LINKS {
            &mut self.low[i]
        } else {
            &mut self.high[i - INLINE_LINKS]
        }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Link> {
        let low = self.len().min(INLINE_LINKS);
        self.low[..low].iter_mut().chain(self.high.iter_mut())
    }
}

/// A node handle, valid until the next mutation.
pub type NodeId = u32;

#[derive(Clone, Debug)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
    rng: u64,
}

/// Orders elements as the sorted set does: by score, then by member bytes.
fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut z = NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    // splitmix64 finaliser: distinct lists get unrelated level sequences.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

impl SkipList {
    pub fn new() -> SkipList {
        let head = Node {
            score: 0.0,
            member: Str::new(b""),
            links: Links::new(MAX_LEVEL, NIL),
        };
        SkipList {
            nodes: vec![head],
            free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            rng: seed(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Level for a new node: each extra level with probability 1/4.
    fn random_level(&mut self) -> usize {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (1 + (r.trailing_zeros() as usize) / 2).min(MAX_LEVEL)
    }

    fn link(&self, node: u32, i: usize) -> Link {
        self.nodes[node as usize].links.get(i)
    }

    fn link_mut(&mut self, node: u32, i: usize) -> &mut Link {
        self.nodes[node as usize].links.get_mut(i)
    }

    /// The search path to the boundary of `before`: for each level, the last node for which
    /// `before` holds (or the header) and its 1-based position.
    fn path(&self, before: impl Fn(f64, &[u8]) -> bool) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        let mut pos = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !before(n.score, &n.member) {
                    break;
                }
                pos += l.span;
                x = l.next;
            }
            update[i] = x;
            rank[i] = pos;
        }
        (update, rank)
    }

    /// Inserts an element known to be absent.
    pub fn insert(&mut self, score: f64, member: Str) {
        let (mut update, mut rank) =
            self.path(|s, m| cmp_elem(s, m, score, &member) == Ordering::Less);
        let lvl = self.random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                update[i] = HEAD;
                rank[i] = 0;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = lvl;
        }
        let node = Node {
            score,
            member,
            links: Links::new(lvl, if update[0] == HEAD { NIL } else { update[0] }),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let up = self.link(update[i], i);
            let before_new = rank[0] - rank[i];
            *self.link_mut(id, i) = Link {
                next: up.next,
                span: up.span - before_new,
            };
            *self.link_mut(update[i], i) = Link {
                next: id,
                span: before_new + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.link_mut(u, i).span += 1;
        }
        let next = self.link(id, 0).next;
        if next == NIL {
            self.tail = id;
        } else {
            self.nodes[next as usize].links.prev = id;
        }
        self.len += 1;
    }

    /// Removes the element `(score, member)`; false if it is not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.path(|s, m| cmp_elem(s, m, score, member) == Ordering::Less);
        let id = self.link(update[0], 0).next;
        if id == NIL {
            return false;
        }
        let n = &self.nodes[id as usize];
        if n.score != score || &*n.member != member {
            return false;
        }
        self.unlink(&update, id);
        true
    }

    /// Changes a present member's score from `old` to `new`: in place when its neighbours keep
    /// it in order (one traversal), else unlinked with the same traversal's path and inserted
    /// anew, as Redis's `zslUpdateScore`. Returns false (changing nothing) if absent.
    pub fn update_score(&mut self, old: f64, member: &[u8], new: f64) -> bool {
        let (update, _) = self.path(|s, m| cmp_elem(s, m, old, member) == Ordering::Less);
        let id = self.link(update[0], 0).next;
        if id == NIL {
            return false;
        }
        let n = &self.nodes[id as usize];
        if n.score != old || &*n.member != member {
            return false;
        }
        let prev = n.links.prev;
        let next = self.link(id, 0).next;
        let after_prev = prev == NIL || {
            let p = &self.nodes[prev as usize];
            cmp_elem(p.score, &p.member, new, member) == Ordering::Less
        };
        let before_next = next == NIL || {
            let x = &self.nodes[next as usize];
            cmp_elem(new, member, x.score, &x.member) == Ordering::Less
        };
        if after_prev && before_next {
            self.nodes[id as usize].score = new;
            return true;
        }
        let kept = std::mem::replace(&mut self.nodes[id as usize].member, Str::new(b""));
        self.unlink(&update, id);
        self.insert(new, kept);
        true
    }

    /// Unlinks node `id`, whose predecessors per level are `update`, and frees its slot.
    fn unlink(&mut self, update: &[u32; MAX_LEVEL], id: u32) {
        let node_level = self.nodes[id as usize].links.len();
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if i < node_level && self.link(u, i).next == id {
                let own = self.link(id, i);
                let l = self.link_mut(u, i);
                l.span += own.span;
                l.span -= 1;
                l.next = own.next;
            } else {
                self.link_mut(u, i).span -= 1;
            }
        }
        let next = self.link(id, 0).next;
        let prev = self.nodes[id as usize].links.prev;
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].links.prev = prev;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.nodes[id as usize] = Node {
            score: 0.0,
            member: Str::new(b""),
            links: Links::new(0, NIL),
        };
        self.free.push(id);
        self.len -= 1;
        if self.nodes.len() > 64 && self.free.len() * 2 > self.nodes.len() {
            self.compact();
        }
    }

    /// Renumbers live nodes densely and drops the free slots.
    fn compact(&mut self) {
        let mut map = vec![NIL; self.nodes.len()];
        let mut next_id = 0u32;
        for (i, n) in self.nodes.iter().enumerate() {
            if i == 0 || !n.links.is_empty() {
                map[i] = next_id;
                next_id += 1;
            }
        }
        let old = std::mem::take(&mut self.nodes);
        let remap = |x: u32| if x == NIL { NIL } else { map[x as usize] };
        self.nodes = old
            .into_iter()
            .enumerate()
            .filter(|(i, n)| *i == 0 || !n.links.is_empty())
            .map(|(_, mut n)| {
                n.links.prev = remap(n.links.prev);
                for l in n.links.iter_mut() {
                    l.next = remap(l.next);
                }
                n
            })
            .collect();
        self.tail = remap(self.tail);
        self.free.clear();
    }

    /// How many elements satisfy `before`, which must hold for a prefix of the order (true for
    /// the first k elements, false for the rest).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let (_, rank) = self.path(before);
        rank[0] as usize
    }

    /// The 0-based rank of `(score, member)`, if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let (update, rank) = self.path(|s, m| cmp_elem(s, m, score, member) == Ordering::Less);
        let id = self.link(update[0], 0).next;
        if id == NIL {
            return None;
        }
        let n = &self.nodes[id as usize];
        (n.score == score && &*n.member == member).then_some(rank[0] as usize)
    }

    /// The node at 0-based `rank`.
    pub fn at(&self, rank: usize) -> Option<NodeId> {
        if rank >= self.len {
            return None;
        }
        let target = rank as u32 + 1;
        let mut x = HEAD;
        let mut pos = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || pos + l.span > target {
                    break;
                }
                pos += l.span;
                x = l.next;
            }
            if pos == target {
                return Some(x);
            }
        }
        None
    }

    pub fn first(&self) -> Option<NodeId> {
        let n = self.link(HEAD, 0).next;
        (n != NIL).then_some(n)
    }

    pub fn last(&self) -> Option<NodeId> {
        (self.tail != NIL).then_some(self.tail)
    }

    pub fn next(&self, id: NodeId) -> Option<NodeId> {
        let n = self.link(id, 0).next;
        (n != NIL).then_some(n)
    }

    pub fn prev(&self, id: NodeId) -> Option<NodeId> {
        let p = self.nodes[id as usize].links.prev;
        (p != NIL).then_some(p)
    }

    pub fn get(&self, id: NodeId) -> (&Str, f64) {
        let n = &self.nodes[id as usize];
        (&n.member, n.score)
    }

    /// Checks every invariant (tests only): order, back links, spans and the length.
    #[cfg(test)]
    pub fn check(&self) {
        let mut order = Vec::new();
        let mut x = self.link(HEAD, 0).next;
        let mut prev = NIL;
        while x != NIL {
            assert_eq!(self.nodes[x as usize].links.prev, prev);
            order.push(x);
            prev = x;
            x = self.link(x, 0).next;
        }
        assert_eq!(self.tail, prev);
        assert_eq!(order.len(), self.len);
        let mut pos_of = std::collections::HashMap::new();
        pos_of.insert(HEAD, 0u32);
        for (i, &id) in order.iter().enumerate() {
            pos_of.insert(id, i as u32 + 1);
        }
        for w in order.windows(2) {
            let (a, b) = (self.get(w[0]), self.get(w[1]));
            assert_eq!(cmp_elem(a.1, a.0, b.1, b.0), Ordering::Less);
        }
        for (&id, &pos) in &pos_of {
            let n = &self.nodes[id as usize];
            let lv = if id == HEAD {
                self.level
            } else {
                n.links.len()
            };
            for i in 0..lv {
                let l = n.links.get(i);
                if l.next == NIL {
                    assert_eq!(l.span as usize, self.len - pos as usize, "nil span");
                } else {
                    assert_eq!(l.span, pos_of[&l.next] - pos, "span");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Node>(), 64);
        assert_eq!(std::mem::align_of::<Node>(), 64);
    }

    #[test]
    fn insert_rank_select_remove() {
        let mut l = SkipList::new();
        for i in (0..200).rev() {
            l.insert(i as f64, Str::from_i64(i));
        }
        l.check();
        for i in 0..200 {
            assert_eq!(
                l.rank(i as f64, Str::from_i64(i).as_bytes()),
                Some(i as usize)
            );
            let id = l.at(i as usize).unwrap();
            assert_eq!(l.get(id).1, i as f64);
        }
        assert_eq!(l.count_before(|s, _| s < 50.0), 50);
        for i in 0..150 {
            assert!(l.remove(i as f64, Str::from_i64(i).as_bytes()));
            assert!(!l.remove(i as f64, Str::from_i64(i).as_bytes()));
        }
        l.check();
        assert_eq!(l.len(), 50);
        assert!(l.nodes.len() < 200, "compacted");
        assert_eq!(l.get(l.first().unwrap()).1, 150.0);
        assert_eq!(l.get(l.last().unwrap()).1, 199.0);
    }

    /// Score updates, in place and moving, against an ordered model; every invariant checked.
    #[test]
    fn update_score_keeps_order_ranks_and_spans() {
        use std::collections::BTreeMap;
        let mut l = SkipList::new();
        let mut scores: BTreeMap<i64, f64> = BTreeMap::new();
        let mut x: u64 = 0x2545_F491;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for m in 0..300i64 {
            let s = (next() % 50) as f64;
            l.insert(s, Str::from_i64(m));
            scores.insert(m, s);
        }
        for round in 0..3000 {
            let m = (next() % 300) as i64;
            let old = scores[&m];
            // Small steps often keep the position (in place); big ones move the node.
            let new = if round % 2 == 0 {
                old + (next() % 3) as f64 * 0.25
            } else {
                (next() % 60) as f64 - 5.0
            };
            assert!(l.update_score(old, Str::from_i64(m).as_bytes(), new));
            scores.insert(m, new);
            if round % 100 == 0 {
                l.check();
            }
        }
        l.check();
        assert!(!l.update_score(12345.0, b"nobody", 1.0));
        let mut want: Vec<(f64, Vec<u8>)> = scores
            .iter()
            .map(|(m, s)| (*s, Str::from_i64(*m).as_bytes().to_vec()))
            .collect();
        want.sort_by(|a, b| cmp_elem(a.0, &a.1, b.0, &b.1));
        for (rank, (s, m)) in want.iter().enumerate() {
            assert_eq!(l.rank(*s, m), Some(rank));
        }
    }
}

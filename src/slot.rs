//! Hash slots: the one place that maps a key to a slot and a slot to a shard.
//!
//! Architecture Invariant: nothing else in the crate computes a slot. `Slot` values are only made
//! by [`key_slot`], and `ShardId`s are only handed out by [`SlotMap`], so a shard index always
//! names a shard that exists.

/// Number of hash slots, as in Redis Cluster.
pub const SLOTS: usize = 16384;

/// A hash slot in `0..16384`. Only [`key_slot`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u16);

impl Slot {
    pub fn get(self) -> u16 {
        self.0
    }

    /// The slot numbered `n`, if it is one (`CLUSTER COUNTKEYSINSLOT n`, a topology's ranges).
    pub fn from_number(n: i64) -> Option<Slot> {
        (0..SLOTS as i64).contains(&n).then_some(Slot(n as u16))
    }
}

/// The part of `key` that is hashed: the content of the first `{...}` if it is non-empty,
/// otherwise the whole key (Redis Cluster's hash tag rule).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// `crc16_xmodem(hash tag or key) mod 16384`.
pub fn key_slot(key: &[u8]) -> Slot {
    let crc = crc16::State::<crc16::XMODEM>::calculate(hash_tag(key));
    Slot(crc & (SLOTS as u16 - 1))
}

/// The one slot every key matching a glob `pattern` is in, if there is one: the slot of its
/// first non-empty `{tag}` when that comes before any wildcard or escape, or of the whole
/// pattern when it has no wildcard (Redis Cluster's rule for SORT's BY/GET patterns).
pub fn pattern_slot(pattern: &[u8]) -> Option<Slot> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' => match open {
                Some(o) if i == o + 1 => {
                    open = None;
                    empty_tag = true;
                }
                Some(o) => {
                    let crc = crc16::State::<crc16::XMODEM>::calculate(&pattern[o + 1..i]);
                    return Some(Slot(crc & (SLOTS as u16 - 1)));
                }
                None => {}
            },
            _ => {}
        }
    }
    let crc = crc16::State::<crc16::XMODEM>::calculate(pattern);
    Some(Slot(crc & (SLOTS as u16 - 1)))
}

/// Index of a shard thread. Only a [`SlotMap`] hands these out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(u16);

impl ShardId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Assignment of every slot to a shard: contiguous, nearly equal ranges, so that
/// `CLUSTER SLOTS` can describe ownership as a few ranges.
#[derive(Clone, Debug)]
pub struct SlotMap {
    owner: Box<[u16; SLOTS]>,
    shards: u16,
}

impl SlotMap {
    pub fn new(shards: usize) -> SlotMap {
        let shards = shards.clamp(1, 1024) as u16;
        let mut owner = Box::new([0u16; SLOTS]);
        for (slot, o) in owner.iter_mut().enumerate() {
            *o = (slot * shards as usize / SLOTS) as u16;
        }
        SlotMap { owner, shards }
    }

    pub fn shard_count(&self) -> usize {
        self.shards as usize
    }

    pub fn shard_of_slot(&self, slot: Slot) -> ShardId {
        ShardId(self.owner[slot.0 as usize])
    }

    pub fn shard_of_key(&self, key: &[u8]) -> ShardId {
        // One shard owns every slot: skip the CRC (it was ~6% of a pipelined GET).
        if self.shards == 1 {
            return ShardId(0);
        }
        self.shard_of_slot(key_slot(key))
    }

    /// Every shard, in ascending order.
    pub fn all(&self) -> impl Iterator<Item = ShardId> {
        (0..self.shards).map(ShardId)
    }

    /// The shard with index `i`, if it exists.
    pub fn shard(&self, i: usize) -> Option<ShardId> {
        (i < self.shards as usize).then_some(ShardId(i as u16))
    }

    /// Contiguous slot ranges `(first, last, shard)` in slot order.
    pub fn ranges(&self) -> Vec<(u16, u16, ShardId)> {
        let mut out: Vec<(u16, u16, ShardId)> = Vec::new();
        for (slot, &o) in self.owner.iter().enumerate() {
            match out.last_mut() {
                Some(last) if last.2 .0 == o => last.1 = slot as u16,
                _ => out.push((slot as u16, slot as u16, ShardId(o))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"123456789").get(), 0x31C3 & 0x3FFF);
        assert_eq!(key_slot(b"foo").get(), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
    }

    #[test]
    fn slot_map_covers_all() {
        for n in [1, 2, 3, 7, 16] {
            let m = SlotMap::new(n);
            let r = m.ranges();
            assert_eq!(r.len(), n);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[n - 1].1 as usize, SLOTS - 1);
        }
    }
}

//! `Key`: a key as the keyspace table stores it, with a 24-bit word for its owner (the access
//! clock for OBJECT IDLETIME, 24 bits as Redis's LRU clock).
//!
//! Invariant: 24 bytes, byte-aligned, so a table slot (`Key` + a 16-byte `Value`) is 40 bytes.
//! Keys up to 20 bytes live inline (`len` is their length); a longer key is a leaked
//! `Box<[u8]>` whose pointer and length sit, unaligned, in `data` (`len == HEAP`), owned by
//! this `Key` alone and freed by its drop. Inline keys cover the usual `prefix:id` shapes
//! (redis-benchmark's are 16 and 20 bytes), so a lookup compares them without leaving the
//! table (a pointer per key costs a cache miss per lookup: measured ~15% on pipelined SET).

use bytes::Bytes;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

const INLINE: usize = 20;
const HEAP: u8 = u8::MAX;
const PTR: usize = std::mem::size_of::<usize>();

#[repr(C)]
pub struct Key {
    len: u8,
    data: [u8; INLINE],
    meta: [u8; 3],
}

// SAFETY: a heap key's bytes are owned by this `Key` alone (like a `Box<[u8]>`, which is `Send`
// and `Sync`); they are only read through `&self` and freed through `&mut self`/drop.
unsafe impl Send for Key {}
// SAFETY: as above: `&Key` gives only shared reads of the bytes.
unsafe impl Sync for Key {}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        Key::with_meta(b, 0)
    }

    /// A key whose owner word is `meta` (only its low 24 bits are kept).
    pub fn with_meta(b: &[u8], meta: u32) -> Key {
        let mut k = Key {
            len: 0,
            data: [0; INLINE],
            meta: [0; 3],
        };
        k.set_meta(meta);
        if b.len() <= INLINE {
            k.len = b.len() as u8;
            k.data[..b.len()].copy_from_slice(b);
        } else {
            let raw = Box::into_raw(Box::<[u8]>::from(b)) as *mut u8;
            k.len = HEAP;
            k.data[..PTR].copy_from_slice(&(raw as usize).to_ne_bytes());
            k.data[PTR..2 * PTR].copy_from_slice(&b.len().to_ne_bytes());
        }
        k
    }

    fn heap_parts(&self) -> (*mut u8, usize) {
        let mut p = [0u8; PTR];
        let mut l = [0u8; PTR];
        p.copy_from_slice(&self.data[..PTR]);
        l.copy_from_slice(&self.data[PTR..2 * PTR]);
        (usize::from_ne_bytes(p) as *mut u8, usize::from_ne_bytes(l))
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.len != HEAP {
            &self.data[..self.len as usize]
        } else {
            let (ptr, len) = self.heap_parts();
            // SAFETY: `ptr`/`len` come from the `Box<[u8]>` leaked in `with_meta`, freed only
            // by `drop`; the borrow of `self` keeps it alive.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned beyond the 24 bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        if self.len == HEAP {
            self.len()
        } else {
            0
        }
    }

    /// The owner's 24-bit word.
    #[inline]
    pub fn meta(&self) -> u32 {
        u32::from_le_bytes([self.meta[0], self.meta[1], self.meta[2], 0])
    }

    #[inline]
    pub fn set_meta(&mut self, v: u32) {
        let b = v.to_le_bytes();
        self.meta = [b[0], b[1], b[2]];
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.len == HEAP {
            let (ptr, len) = self.heap_parts();
            // SAFETY: the `Box<[u8]>` leaked in `with_meta` with this pointer and length; drop
            // runs once, so it is freed once.
            unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len))) }
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        Key::with_meta(self.as_bytes(), self.meta())
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trips() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert_eq!(std::mem::align_of::<Key>(), 1);
        for n in [0, 1, 15, 16, 19, 20, 21, 22, 64, 1000, 1 << 20] {
            let b: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
            let mut k = Key::with_meta(&b, 0xABCDEF);
            assert_eq!(k.as_bytes(), &b[..], "length {n}");
            assert_eq!(k.meta(), 0xABCDEF);
            k.set_meta(0x1_234567);
            assert_eq!(k.meta(), 0x234567, "24 bits kept");
            assert_eq!(k.as_bytes(), &b[..], "meta leaves the bytes alone");
            let c = k.clone();
            drop(k);
            assert_eq!(c.as_bytes(), &b[..]);
            assert_eq!(c.heap_size(), if n > INLINE { n } else { 0 });
        }
    }
}

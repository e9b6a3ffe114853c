//! `Str`: the byte string stored in the keyspace (keys, string values, members, fields).
//!
//! Invariant: at most 24 bytes on the stack. Strings up to 22 bytes live inline (no heap
//! allocation: the common small key or value costs nothing extra); longer ones are shared
//! (`Arc<[u8]>`, handed to replies without copying) or, once appended to, growable.

use bytes::Bytes;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum Str {
    Inline {
        len: u8,
        data: [u8; INLINE],
    },
    Shared(Arc<[u8]>),
    /// Made by APPEND/SETRANGE so repeated appends are amortized O(1).
    Growable(Box<Vec<u8>>),
}

impl Str {
    pub fn new(b: &[u8]) -> Str {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Str::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            Str::Shared(Arc::from(b))
        }
    }

    pub fn from_i64(i: i64) -> Str {
        Str::new(itoa::Buffer::new().format(i).as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Str::Inline { len, data } => &data[..*len as usize],
            Str::Shared(a) => a,
            Str::Growable(v) => v,
        }
    }

    /// A `Bytes` view for a reply: zero-copy for shared strings, a small copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Str::Shared(a) if a.len() > 64 => Bytes::from_owner(ArcBytes(a.clone())),
            _ => Bytes::copy_from_slice(self.as_bytes()),
        }
    }

    /// Mutable access to the bytes, converting to the growable form.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Growable(_)) {
            *self = Str::Growable(Box::new(self.as_bytes().to_vec()));
        }
        match self {
            Str::Growable(v) => v,
            _ => unreachable!("converted above"),
        }
    }

    /// Heap bytes this string owns beyond its inline size (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Inline { .. } => 0,
            Str::Shared(a) => a.len() + 16,
            Str::Growable(v) => v.capacity() + 24,
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct ArcBytes(Arc<[u8]>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Str {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Str {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Str {
    fn eq(&self, o: &Str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}
impl Eq for Str {}

impl PartialOrd for Str {
    fn partial_cmp(&self, o: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Str {
    fn cmp(&self, o: &Str) -> std::cmp::Ordering {
        self.as_bytes().cmp(o.as_bytes())
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        Str::new(b)
    }
}

impl From<&Bytes> for Str {
    fn from(b: &Bytes) -> Str {
        Str::new(b)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_forms() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        let s = Str::new(b"hello");
        assert!(matches!(s, Str::Inline { .. }));
        let long = Str::new(&[7u8; 100]);
        assert!(matches!(long, Str::Shared(_)));
        assert_eq!(long.to_bytes().len(), 100);
        let mut g = Str::new(b"ab");
        g.make_mut().extend_from_slice(b"cd");
        assert_eq!(&*g, b"abcd");
    }
}

//! `Str`: the byte string stored in the keyspace (keys, string values, members, fields).
//!
//! Invariant: 16 bytes on the stack, with a niche left for `Value`'s tag (so `Value` is 16
//! bytes too and a keyspace slot is key 16 + entry 24). Strings up to 15 bytes live inline (no
//! heap allocation: the common small key or value costs nothing extra); longer ones are shared
//! (`ThinBytes`, handed to replies without copying) or, once appended to, growable. The form
//! also carries what OBJECT ENCODING needs: a growable string is "raw", a `never_int` one is
//! never "int".

use super::thin::ThinBytes;
use bytes::Bytes;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

const INLINE: usize = 15;

/// An inline length, 0..=15: the 240 byte values it cannot take are the niche that holds the
/// tags of `Repr`'s other forms and of `Value`.
#[derive(Clone, Copy)]
#[repr(u8)]
#[rustfmt::skip]
enum Len { L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13, L14, L15 }

impl Len {
    /// `n` must be at most `INLINE` (callers check; anything else is a bug).
    fn new(n: usize) -> Len {
        const ALL: [Len; INLINE + 1] = [
            Len::L0,
            Len::L1,
            Len::L2,
            Len::L3,
            Len::L4,
            Len::L5,
            Len::L6,
            Len::L7,
            Len::L8,
            Len::L9,
            Len::L10,
            Len::L11,
            Len::L12,
            Len::L13,
            Len::L14,
            Len::L15,
        ];
        ALL[n]
    }
}

#[derive(Clone)]
enum Repr {
    Inline {
        len: Len,
        data: [u8; INLINE],
    },
    /// Longer than `INLINE`, made by `Str::new`.
    Shared(ThinBytes),
    /// Text Redis stores as a plain string, never as an integer (INCRBYFLOAT results).
    NeverInt(ThinBytes),
    /// Made by APPEND/SETRANGE/SETBIT so repeated appends are amortized O(1). Boxed: a `Vec`
    /// is 24 bytes, a box of one is a thin pointer that fits the 16-byte `Str`.
    #[allow(clippy::box_collection)]
    Growable(Box<Vec<u8>>),
}

#[derive(Clone)]
pub struct Str(Repr);

impl Str {
    #[inline]
    pub fn new(b: &[u8]) -> Str {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Str(Repr::Inline {
                len: Len::new(b.len()),
                data,
            })
        } else {
            Str(Repr::Shared(ThinBytes::new(b)))
        }
    }

    /// A string OBJECT ENCODING never reports as "int", whatever its text.
    pub fn never_int(b: &[u8]) -> Str {
        Str(Repr::NeverInt(ThinBytes::new(b)))
    }

    /// A string in the growable form (OBJECT ENCODING "raw"), taking `v` as is.
    pub fn growable(v: Vec<u8>) -> Str {
        Str(Repr::Growable(Box::new(v)))
    }

    pub fn from_i64(i: i64) -> Str {
        Str::new(itoa::Buffer::new().format(i).as_bytes())
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Shared(a) | Repr::NeverInt(a) => a.as_bytes(),
            Repr::Growable(v) => v,
        }
    }

    /// A `Bytes` view for a reply: zero-copy for long shared strings, a small copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Shared(a) | Repr::NeverInt(a) if a.as_bytes().len() > 64 => {
                Bytes::from_owner(Owner(a.clone()))
            }
            _ => Bytes::copy_from_slice(self.as_bytes()),
        }
    }

    /// Mutable access to the bytes, converting to the growable form.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self.0, Repr::Growable(_)) {
            self.0 = Repr::Growable(Box::new(self.as_bytes().to_vec()));
        }
        match &mut self.0 {
            Repr::Growable(v) => v,
            _ => unreachable!("converted above"),
        }
    }

    /// Whether this is the growable form (OBJECT ENCODING reports it as "raw").
    pub fn is_growable(&self) -> bool {
        matches!(self.0, Repr::Growable(_))
    }

    /// Whether OBJECT ENCODING may report this string as "int" (if its text is one).
    pub fn may_be_int(&self) -> bool {
        matches!(self.0, Repr::Inline { .. } | Repr::Shared(_))
    }

    /// Heap bytes this string owns beyond its inline size (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Shared(a) | Repr::NeverInt(a) => a.as_bytes().len() + 16,
            Repr::Growable(v) => v.capacity() + 24,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps a shared string alive for as long as a reply's `Bytes` points into it.
struct Owner(ThinBytes);
impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
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

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Str>(), 16);
        assert_eq!(std::mem::size_of::<Option<Str>>(), 16);
    }

    #[test]
    fn forms_by_length() {
        for n in [0usize, 1, 14, 15, 16, 17, 22, 23, 64, 65, 1000, 1 << 20] {
            let src = pattern(n);
            let s = Str::new(&src);
            assert_eq!(s.as_bytes(), &src[..], "len {n}");
            assert_eq!(s.len(), n);
            assert_eq!(s.is_empty(), n == 0);
            assert_eq!(matches!(s.0, Repr::Inline { .. }), n <= INLINE, "len {n}");
            assert_eq!(s.heap_size() == 0, n <= INLINE);
            assert!(s.may_be_int() && !s.is_growable());
            assert_eq!(&s.to_bytes()[..], &src[..]);
            let c = s.clone();
            drop(s);
            assert_eq!(c.as_bytes(), &src[..]);
            assert_eq!(c, Str::from(&src[..]));
        }
    }

    #[test]
    fn replies_outlive_the_string() {
        let s = Str::new(&pattern(100));
        let b = s.to_bytes();
        let c = s.clone();
        drop(s);
        assert_eq!(&b[..], &pattern(100)[..]);
        drop(c);
        // The reply alone keeps the bytes alive now.
        assert_eq!(&b[..], &pattern(100)[..]);
        let b2 = b.clone();
        drop(b);
        assert_eq!(b2.len(), 100);
    }

    #[test]
    fn growth_from_every_form() {
        for n in [0usize, 15, 16, 100] {
            let src = pattern(n);
            for mut s in [
                Str::new(&src),
                Str::never_int(&src),
                Str::growable(src.clone()),
            ] {
                let keep = s.clone();
                s.make_mut().extend_from_slice(b"tail");
                assert!(s.is_growable() && !s.may_be_int());
                let mut want = src.clone();
                want.extend_from_slice(b"tail");
                assert_eq!(s.as_bytes(), &want[..]);
                // A clone taken before the append still sees the old bytes.
                assert_eq!(keep.as_bytes(), &src[..]);
                // SETRANGE-like: grow past the end, then overwrite inside.
                let v = s.make_mut();
                v.resize(n + 40, 0);
                v[..2.min(n)].copy_from_slice(&b"zz"[..2.min(n)]);
                assert_eq!(s.len(), n + 40);
            }
        }
    }

    #[test]
    fn never_int_form() {
        let s = Str::never_int(b"3");
        assert!(!s.may_be_int() && !s.is_growable());
        assert_eq!(s.as_bytes(), b"3");
        assert_eq!(s, Str::new(b"3"));
        let long = Str::never_int(&pattern(200));
        assert_eq!(&long.clone().to_bytes()[..], &pattern(200)[..]);
    }

    #[test]
    fn ordering_and_hash_follow_bytes() {
        use std::collections::HashSet;
        let a = Str::new(&pattern(15));
        let b = Str::new(&pattern(16));
        assert!(a < b);
        let set: HashSet<Str> = [a.clone(), b.clone(), Str::growable(pattern(15))]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&pattern(16)[..]));
    }
}

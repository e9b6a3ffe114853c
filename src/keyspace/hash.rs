//! `Hash`: a hash value's fields and values, in insertion order.
//!
//! Invariants:
//! - Up to `SMALL` fields live in one vector searched linearly, Redis's listpack in spirit:
//!   one allocation and no hashing, where a hash table costs three allocations and a few
//!   hundred bytes even for one field. Past `SMALL` the fields move, in order, to an
//!   `IndexMap`, and stay there (as Redis never converts a hash table back to a listpack).
//! - Iteration is insertion order in both forms; `insert` of a present field replaces its value
//!   in place; `shift_remove` keeps the others' order, `swap_remove` moves the last field into
//!   the gap.
//! - HSCAN orders by `keyspace::scan_hash`, which depends only on the field's bytes, so a
//!   cursor stays meaningful when the form changes between calls.

use super::str::Str;
use super::Hasher;

/// Most fields kept in the vector form.
const SMALL: usize = 32;

#[derive(Clone, Debug, Default)]
pub struct Hash(Repr);

/// 24 bytes: the map is boxed so that the common small form does not pay for its size (a
/// `Hash` lives in its own block behind `Value::Hash`; it was 64 bytes with the map inline).
#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<(Str, Str)>),
    Big(Box<indexmap::IndexMap<Str, Str, Hasher>>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Big(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn position(v: &[(Str, Str)], field: &[u8]) -> Option<usize> {
        v.iter().position(|(f, _)| f.as_bytes() == field)
    }

    pub fn get(&self, field: &[u8]) -> Option<&Str> {
        match &self.0 {
            Repr::Small(v) => Self::position(v, field).map(|i| &v[i].1),
            Repr::Big(m) => m.get(field),
        }
    }

    pub fn contains_key(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; returns the value it replaces, if any.
    pub fn insert(&mut self, field: Str, value: Str) -> Option<Str> {
        match &mut self.0 {
            Repr::Small(v) => {
                if let Some(i) = Self::position(v, field.as_bytes()) {
                    return Some(std::mem::replace(&mut v[i].1, value));
                }
                if v.len() < SMALL {
                    v.push((field, value));
                    return None;
                }
                let mut m =
                    indexmap::IndexMap::with_capacity_and_hasher(SMALL * 2, Hasher::default());
                m.extend(v.drain(..));
                m.insert(field, value);
                self.0 = Repr::Big(Box::new(m));
                None
            }
            Repr::Big(m) => m.insert(field, value),
        }
    }

    /// Makes room for `additional` more fields. The vector form grows to fit exactly (a
    /// small hash is usually written once and read many times, and every slot is 32 bytes).
    pub fn reserve(&mut self, additional: usize) {
        match &mut self.0 {
            Repr::Small(v) if v.len() + additional <= SMALL => v.reserve_exact(additional),
            Repr::Small(_) => {}
            Repr::Big(m) => m.reserve(additional),
        }
    }

    /// Removes `field`, keeping the order of the others.
    pub fn shift_remove(&mut self, field: &[u8]) -> Option<Str> {
        match &mut self.0 {
            Repr::Small(v) => Self::position(v, field).map(|i| v.remove(i).1),
            Repr::Big(m) => m.shift_remove(field),
        }
    }

    /// Removes `field`, moving the last field into its place (O(1) in the map form).
    pub fn swap_remove(&mut self, field: &[u8]) -> Option<Str> {
        match &mut self.0 {
            Repr::Small(v) => Self::position(v, field).map(|i| v.swap_remove(i).1),
            Repr::Big(m) => m.swap_remove(field),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter().map(|(f, v)| (f, v))),
            Repr::Big(m) => Iter::Big(m.iter()),
        }
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Str> + Clone {
        self.iter().map(|(f, _)| f)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Str> + Clone {
        self.iter().map(|(_, v)| v)
    }

    /// Bytes of the hash's own storage (not counting long strings' heap blocks), for MEMORY
    /// USAGE: the vector's slots, or the map's entries (field, value, cached hash) and index.
    pub fn storage_bytes(&self) -> usize {
        const PAIR: usize = std::mem::size_of::<(Str, Str)>();
        match &self.0 {
            Repr::Small(v) => v.capacity() * PAIR,
            Repr::Big(m) => m.capacity() * (PAIR + 8 + std::mem::size_of::<usize>() + 1),
        }
    }
}

impl<'a> IntoIterator for &'a Hash {
    type Item = (&'a Str, &'a Str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Fields and values in order.
pub type Iter<'a> = super::FormIter<
    std::iter::Map<std::slice::Iter<'a, (Str, Str)>, fn(&'a (Str, Str)) -> (&'a Str, &'a Str)>,
    indexmap::map::Iter<'a, Str, Str>,
>;

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Str {
        Str::new(x.as_bytes())
    }

    fn fields(h: &Hash) -> Vec<String> {
        h.keys()
            .map(|f| String::from_utf8_lossy(f.as_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn both_forms_keep_insertion_order_through_growth_and_removal() {
        let mut h = Hash::default();
        for i in 0..SMALL {
            assert_eq!(h.insert(s(&format!("f{i}")), s("v")), None);
        }
        assert!(matches!(h.0, Repr::Small(_)));
        assert_eq!(h.insert(s("f3"), s("new")).unwrap().as_bytes(), b"v");
        assert_eq!(h.shift_remove(b"f0").unwrap().as_bytes(), b"v");
        assert_eq!(h.insert(s("f0"), s("again")), None);
        let small_order = fields(&h);
        assert_eq!(small_order.last().unwrap(), "f0");
        // One more field converts to the map form, same order, same values.
        assert_eq!(h.insert(s("extra"), s("x")), None);
        assert!(matches!(h.0, Repr::Big(_)));
        let mut expected = small_order;
        expected.push("extra".into());
        assert_eq!(fields(&h), expected);
        assert_eq!(h.get(b"f3").unwrap().as_bytes(), b"new");
        assert_eq!(h.len(), SMALL + 1);
        assert_eq!(h.shift_remove(b"f1").unwrap().as_bytes(), b"v");
        expected.retain(|f| f != "f1");
        assert_eq!(fields(&h), expected);
        assert!(h.swap_remove(b"nope").is_none());
        assert!(!h.contains_key(b"f1"));
    }

    #[test]
    fn a_hash_is_one_vector_wide() {
        assert_eq!(std::mem::size_of::<Hash>(), 24);
    }

    #[test]
    fn swap_remove_moves_the_last_field_into_the_gap() {
        let mut h = Hash::default();
        for f in ["a", "b", "c", "d"] {
            h.insert(s(f), s("v"));
        }
        h.swap_remove(b"b");
        assert_eq!(fields(&h), ["a", "d", "c"]);
        assert_eq!(h.iter().len(), 3);
    }
}

//! `Set`: a set value's members.
//!
//! Invariants:
//! - Up to `SMALL` members live in one vector searched linearly (Redis keeps small sets as an
//!   intset or listpack for the same reason): one allocation and no hashing, where a hash set
//!   costs a table and control bytes even for one member. Past `SMALL` the members move to a
//!   hash set and stay there, as Redis never converts a set back.
//! - No order is promised: SMEMBERS and friends sort small all-integer sets themselves, as
//!   Redis's intset lists them (`commands::sets::intset_order`).
//! - SSCAN orders by `keyspace::scan_hash`, which depends only on the member's bytes, so a
//!   cursor stays meaningful when the form changes between calls.

use super::str::Str;
use super::Hasher;

/// Most members kept in the vector form.
const SMALL: usize = 64;

type Big = hashbrown::HashSet<Str, Hasher>;

#[derive(Clone, Debug, Default)]
pub struct Set(Repr);

/// 24 bytes: the hash set is boxed so that the common small form does not pay for its size.
#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<Str>),
    Big(Box<Big>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Big(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            Repr::Small(v) => v.iter().any(|m| m.as_bytes() == member),
            Repr::Big(s) => s.contains(member),
        }
    }

    /// Adds `member`; false if it was there already.
    pub fn insert(&mut self, member: Str) -> bool {
        match &mut self.0 {
            Repr::Small(v) => {
                if v.contains(&member) {
                    return false;
                }
                if v.len() < SMALL {
                    v.push(member);
                    return true;
                }
                let mut s = Big::with_capacity_and_hasher(SMALL * 2, Hasher::default());
                s.extend(v.drain(..));
                s.insert(member);
                self.0 = Repr::Big(Box::new(s));
                true
            }
            Repr::Big(s) => s.insert(member),
        }
    }

    /// Makes room for `additional` more members in the vector form (exactly: a new set is
    /// sized to its first members); the hash form grows as it must.
    pub fn reserve(&mut self, additional: usize) {
        match &mut self.0 {
            Repr::Small(v) if v.len() + additional <= SMALL => v.reserve_exact(additional),
            Repr::Small(_) => {}
            Repr::Big(s) => s.reserve(additional),
        }
    }

    /// Removes `member`; false if it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Small(v) => match v.iter().position(|m| m.as_bytes() == member) {
                Some(i) => {
                    v.swap_remove(i);
                    true
                }
                None => false,
            },
            Repr::Big(s) => s.remove(member),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Str) -> bool) {
        match &mut self.0 {
            Repr::Small(v) => v.retain(|m| keep(m)),
            Repr::Big(s) => s.retain(|m| keep(m)),
        }
    }

    /// Empties the set, handing back its members.
    pub fn take_all(&mut self) -> Vec<Str> {
        match std::mem::take(&mut self.0) {
            Repr::Small(v) => v,
            Repr::Big(s) => s.into_iter().collect(),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter()),
            Repr::Big(s) => Iter::Big(s.iter()),
        }
    }

    /// Bytes of the set's own storage (not counting long members' heap blocks), for MEMORY
    /// USAGE: the vector's slots, or the table's slots and control bytes.
    pub fn storage_bytes(&self) -> usize {
        const STR: usize = std::mem::size_of::<Str>();
        match &self.0 {
            Repr::Small(v) => v.capacity() * STR,
            Repr::Big(s) => s.capacity() * (STR + 1),
        }
    }
}

impl Extend<Str> for Set {
    fn extend<I: IntoIterator<Item = Str>>(&mut self, members: I) {
        for m in members {
            self.insert(m);
        }
    }
}

impl FromIterator<Str> for Set {
    fn from_iter<I: IntoIterator<Item = Str>>(members: I) -> Set {
        let mut s = Set::default();
        s.extend(members);
        s
    }
}

impl<'a> IntoIterator for &'a Set {
    type Item = &'a Str;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The members, in no promised order.
pub type Iter<'a> = super::FormIter<std::slice::Iter<'a, Str>, hashbrown::hash_set::Iter<'a, Str>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Str {
        Str::new(x.as_bytes())
    }

    #[test]
    fn small_then_big_keeps_every_member_once() {
        let mut set = Set::default();
        for round in 0..2 {
            for i in 0..200 {
                assert_eq!(set.insert(s(&i.to_string())), round == 0, "{i}");
                assert_eq!(set.len(), if round == 0 { i + 1 } else { 200 });
            }
        }
        assert!(matches!(set.0, Repr::Big(_)));
        assert!((0..200).all(|i| set.contains(i.to_string().as_bytes())));
        assert!(!set.contains(b"200"));
        assert_eq!(set.iter().count(), 200);
        assert!(set.remove(b"7") && !set.remove(b"7"));
        set.retain(|m| m.as_bytes().len() == 1);
        assert_eq!(set.len(), 9);
    }

    #[test]
    fn small_form_removes_and_retains() {
        let mut set: Set = ["a", "b", "c", "b"].into_iter().map(s).collect();
        assert_eq!(set.len(), 3);
        assert!(matches!(set.0, Repr::Small(_)));
        assert!(set.remove(b"a") && !set.remove(b"a"));
        set.retain(|m| m.as_bytes() != b"c");
        let left: Vec<&[u8]> = set.iter().map(|m| m.as_bytes()).collect();
        assert_eq!(left, vec![&b"b"[..]]);
        assert!(std::mem::size_of::<Set>() <= 24);
    }
}

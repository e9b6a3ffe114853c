//! DEBUG DIGEST and DIGEST-VALUE: a SHA1-based fingerprint of the data.
//!
//! Invariant: the dataset digest depends only on the data, never on how keys are spread over
//! shards or stored: each key's digest is folded in by XOR of its SHA1 (order-independent), and
//! inside a value, unordered collections (sets, hashes, sorted sets) are XOR-combined per element while
//! lists are mixed in order. Databases are mixed in index order, and an empty dataset is all
//! zeros. The construction follows Redis's published one, so equal data gives the same
//! digest on Redis and on luagate with any shard count.

use crate::keyspace::{Db, Value};
use crate::protocol::format_double;
use sha1::{Digest, Sha1};

pub type D = [u8; 20];

/// `d ^= sha1(data)`.
fn xor_in(d: &mut D, data: &[u8]) {
    let h = Sha1::digest(data);
    for (a, b) in d.iter_mut().zip(h.iter()) {
        *a ^= b;
    }
}

/// `d = sha1(d ^ sha1(data))`: order-dependent mixing.
fn mix_in(d: &mut D, data: &[u8]) {
    xor_in(d, data);
    let h = Sha1::digest(&d[..]);
    d.copy_from_slice(&h);
}

fn xor_digest(d: &mut D, other: &D) {
    for (a, b) in d.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// Redis's type numbers, part of the digest.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// The digest of one value (and whether it has an expiry), without its key: DIGEST-VALUE.
pub fn value_digest(v: &Value, has_expire: bool) -> D {
    let mut d = [0u8; 20];
    add_value(&mut d, v, has_expire);
    d
}

/// XOR of the digests of every key of one database (on one shard). Logically expired keys
/// that are still stored count, as in Redis (DEBUG DIGEST expires nothing).
pub fn db_digest(db: &Db) -> D {
    let mut out = [0u8; 20];
    for (k, e) in db.keys.iter() {
        let mut d = [0u8; 20];
        mix_in(&mut d, k.as_bytes());
        add_value(&mut d, e, db.expires.get(k.as_bytes()).is_some());
        xor_in(&mut out, &d);
    }
    out
}

/// Folds a value into `d`: its type, then its content (lists in order, other collections
/// element by element through XOR), then the expiry marker.
fn add_value(d: &mut D, v: &Value, has_expire: bool) {
    mix_in(d, &type_code(v).to_be_bytes());
    match v {
        Value::Str(s) => mix_in(d, s.as_bytes()),
        Value::List(l) => {
            for e in l.iter() {
                mix_in(d, e.as_bytes());
            }
        }
        Value::Set(s) => {
            for e in s.iter() {
                xor_in(d, e.as_bytes());
            }
        }
        Value::ZSet(z) => {
            for (member, score) in z.iter() {
                let mut e = [0u8; 20];
                mix_in(&mut e, member.as_bytes());
                mix_in(&mut e, format_double(score).as_bytes());
                xor_in(d, &e);
            }
        }
        Value::Hash(h) => {
            for (field, val) in h.iter() {
                let mut e = [0u8; 20];
                mix_in(&mut e, field.as_bytes());
                mix_in(&mut e, val.as_bytes());
                xor_in(d, &e);
            }
        }
        Value::Stream(st) => {
            // Entries in order: the id as `ms.seq`, then each field and value.
            for e in st.iter() {
                mix_in(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                for f in e.fields.iter() {
                    mix_in(d, f.as_bytes());
                }
            }
        }
    }
    if has_expire {
        xor_in(d, b"!!expire!!");
    }
}

/// Combines per-database XORs (already summed over shards) into the dataset digest.
/// `per_db[i]` is `None` for an empty database.
pub fn dataset_digest(per_db: &[Option<D>]) -> D {
    let mut out = [0u8; 20];
    for (i, x) in per_db.iter().enumerate() {
        if let Some(x) = x {
            mix_in(&mut out, &(i as u32).to_be_bytes());
            xor_digest(&mut out, x);
        }
    }
    out
}

pub fn hex(d: &D) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Hash, List, Set, Str};

    /// Expected values are what Redis 7.0 answers to DEBUG DIGEST-VALUE for the same data.
    #[test]
    fn value_digests_match_redis() {
        let s = |x: &str| Str::new(x.as_bytes());
        let list: List = ["a", "b", "c"].iter().map(|x| s(x)).collect();
        assert_eq!(
            hex(&value_digest(&Value::List(Box::new(list)), false)),
            "8bf72d812571eea9b927f3c11beb0c4165a6ff89"
        );
        let mut set = Set::default();
        set.insert(s("2"));
        set.insert(s("1"));
        assert_eq!(
            hex(&value_digest(&Value::Set(Box::new(set)), false)),
            "5d9842e5bd79f833c83b3535ec4a6836aba6d1fd"
        );
        let mut hash = Hash::default();
        hash.insert(s("a"), s("b"));
        assert_eq!(
            hex(&value_digest(&Value::Hash(Box::new(hash)), false)),
            "e74b6918422998016f954e98a1a8c89a0e1e4a25"
        );
        assert_eq!(
            hex(&value_digest(&Value::Str(s("1")), false)),
            "b4fc66738120fba0b5aa500ab5c2bf89cea1c5da"
        );
    }

    #[test]
    fn empty_dataset_is_zeros() {
        assert_eq!(hex(&dataset_digest(&[None, None])), "0".repeat(40));
    }
}

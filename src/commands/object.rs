//! Introspection of one key: OBJECT (ENCODING, REFCOUNT, IDLETIME, FREQ, HELP) and MEMORY
//! USAGE (the rest of MEMORY is in `memory.rs`).
//!
//! Invariant: nothing here touches a key's access time, and encodings are derived from the
//! current value with Redis 7.0's default thresholds (a string's form records how it was
//! made: growable = edited in place = `raw`; shared and short = a non-integer plain string).

use super::flags::*;
use super::keys::peek_value;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

pub const COMMANDS: &[Command] = &[
    Command::new("object", -2, 0, Group::Generic, container).subs(&[
        Command::new(
            "encoding",
            3,
            READONLY | NONDETERMINISTIC,
            Group::Generic,
            encoding,
        )
        .keys(2, 2, 1),
        Command::new("freq", 3, READONLY | NONDETERMINISTIC, Group::Generic, freq).keys(2, 2, 1),
        Command::new(
            "idletime",
            3,
            READONLY | NONDETERMINISTIC,
            Group::Generic,
            idletime,
        )
        .keys(2, 2, 1),
        Command::new(
            "refcount",
            3,
            READONLY | NONDETERMINISTIC,
            Group::Generic,
            refcount,
        )
        .keys(2, 2, 1),
        Command::new("help", 2, LOADING | STALE, Group::Generic, object_help),
    ]),
];

/// Redis 7.0 defaults: `hash-max-listpack-entries` 512 (as the reference build reports),
/// `hash-max-listpack-value` 64, `zset-max-listpack-entries` 128, `zset-max-listpack-value`
/// 64, `set-max-intset-entries` 512.
const HASH_MAX_ENTRIES: usize = 512;
const HASH_MAX_VALUE: usize = 64;
const SET_MAX_INTSET: usize = 512;
/// Strings up to this length are allocated with their object header (`embstr`).
const EMBSTR_MAX: usize = 44;
/// Redis shares the integer objects 0..10000; their refcount reads as `INT_MAX`.
const SHARED_INTEGERS: i64 = 10000;

/// Never runs: the dispatcher resolves OBJECT/MEMORY to a subcommand or reports it unknown.
pub(super) fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Err(CommandError::err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(args.get(1).map_or(&b""[..], |a| &a[..])),
        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
    )))
}

/// The integer a string holds if Redis would store it as an `int` object.
fn int_value(s: &Str) -> Option<i64> {
    if s.may_be_int() && s.len() <= 20 {
        parse_i64(s)
    } else {
        None
    }
}

pub fn string_encoding(s: &Str) -> &'static str {
    if s.is_growable() {
        "raw"
    } else if int_value(s).is_some() {
        "int"
    } else if s.len() <= EMBSTR_MAX {
        "embstr"
    } else {
        "raw"
    }
}

/// Whether Redis 7.0 would keep `h` as a listpack (ordered; HSCAN returns it whole).
pub fn hash_is_listpack(h: &crate::keyspace::Hash) -> bool {
    h.len() <= HASH_MAX_ENTRIES
        && h.iter()
            .all(|(f, v)| f.len() <= HASH_MAX_VALUE && v.len() <= HASH_MAX_VALUE)
}

/// The encoding Redis 7.0 would report for `v`.
pub fn encoding_of(v: &Value) -> &'static str {
    match v {
        Value::Str(s) => string_encoding(s),
        // 7.0 keeps every list as a quicklist (listpack lists came in 7.2).
        Value::List(_) => "quicklist",
        Value::Hash(h) => {
            if hash_is_listpack(h) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(s) => {
            if s.len() <= SET_MAX_INTSET && s.iter().all(|m| parse_i64(m).is_some()) {
                "intset"
            } else {
                "hashtable"
            }
        }
        // The sorted set tracks Redis's one-way listpack → skiplist conversion itself.
        Value::ZSet(z) => z.encoding(),
        Value::Stream(_) => "stream",
    }
}

fn encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(match peek_value(ctx, &args[2])? {
        Some(v) => Reply::bulk(encoding_of(v).as_bytes()),
        None => Reply::Nil,
    })
}

fn refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(match peek_value(ctx, &args[2])? {
        Some(Value::Str(s)) if int_value(s).is_some_and(|i| (0..SHARED_INTEGERS).contains(&i)) => {
            Reply::Int(i32::MAX as i64)
        }
        Some(_) => Reply::Int(1),
        None => Reply::Nil,
    })
}

/// Under an LFU policy the access bits hold a counter, not a time (and the other way round).
fn idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db(&args[2])?;
    let (clock, lfu) = (db.clock, db.lfu);
    match (db.peek(&args[2]), lfu) {
        (None, _) => Ok(Reply::Nil),
        (Some(_), Some(_)) => Err(CommandError::err(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that \
             when switching between policies at runtime LRU and LFU data will take some time \
             to adjust.",
        )),
        (Some(e), None) => Ok(Reply::Int(crate::keyspace::idle_secs(clock, e.atime) as i64)),
    }
}

fn freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db(&args[2])?;
    let lfu = db.lfu;
    match (db.peek(&args[2]), lfu) {
        (None, _) => Ok(Reply::Nil),
        (Some(e), Some(l)) => Ok(Reply::Int(l.decayed(e.atime) as i64)),
        (Some(_), None) => Err(CommandError::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust.",
        )),
    }
}

fn object_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::help(&[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]))
}

/// Sums `cost` over up to `samples` items (all if 0) and scales to `len` items.
fn sampled<I: Iterator>(
    it: I,
    len: usize,
    samples: usize,
    cost: impl Fn(I::Item) -> usize,
) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let sum: usize = it.take(take).map(cost).sum();
    sum / take * len
}

/// An estimate of the memory `v` uses, sampling at most `samples` elements (0 = all).
fn value_usage(v: &Value, samples: usize) -> usize {
    const BOX: usize = 16;
    const STR: usize = std::mem::size_of::<Str>();
    match v {
        Value::Str(s) => s.heap_size(),
        Value::List(l) => {
            BOX + l.capacity() * STR + sampled(l.iter(), l.len(), samples, |s| s.heap_size())
        }
        Value::Hash(h) => {
            BOX + h.storage_bytes()
                + sampled(h.iter(), h.len(), samples, |(f, v)| {
                    f.heap_size() + v.heap_size()
                })
        }
        Value::Set(s) => {
            BOX + s.storage_bytes() + sampled(s.iter(), s.len(), samples, |m| m.heap_size())
        }
        Value::ZSet(z) => {
            BOX + z.len() * 96
                + sampled(z.iter().map(|(m, _)| m), z.len(), samples, |m| {
                    2 * m.heap_size()
                })
        }
        // The stream itself, a tree slot per node, and what the (sampled) nodes own.
        Value::Stream(s) => {
            BOX + std::mem::size_of::<crate::keyspace::Stream>()
                + 64 * s.node_count()
                + sampled(s.node_memory(), s.node_count(), samples, |n| n)
                + s.groups_memory()
        }
    }
}

pub(super) fn usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut samples: usize = 5;
    let mut a = ArgCursor::new(args, 3);
    while let Some(opt) = a.next() {
        if is(opt, "SAMPLES") && a.remaining() > 0 {
            let n = a.next_i64()?;
            if n < 0 {
                return Err(CommandError::Syntax);
            }
            samples = n.min(usize::MAX as i64) as usize;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = &args[2];
    Ok(match peek_value(ctx, key)? {
        Some(v) => {
            // The table slot (key and value, control byte), a long key's own bytes, and what
            // the value owns.
            let slot = std::mem::size_of::<(crate::keyspace::Key, crate::keyspace::Value)>() + 1;
            let key_cost = crate::keyspace::Key::new(key).heap_size();
            Reply::Int((slot + key_cost + value_usage(v, samples)) as i64)
        }
        None => Reply::Nil,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Hash, List, Set, ZSet};

    fn s(b: &str) -> Str {
        Str::new(b.as_bytes())
    }

    #[test]
    fn string_forms() {
        assert_eq!(string_encoding(&s("123")), "int");
        assert_eq!(string_encoding(&s("-9223372036854775808")), "int");
        assert_eq!(string_encoding(&s("12345678901234567890")), "embstr");
        assert_eq!(string_encoding(&s("-0")), "embstr");
        assert_eq!(string_encoding(&s(&"x".repeat(44))), "embstr");
        assert_eq!(string_encoding(&s(&"x".repeat(45))), "raw");
        assert_eq!(string_encoding(&Str::never_int(b"1")), "embstr");
        assert_eq!(string_encoding(&Str::growable(b"1".to_vec())), "raw");
    }

    #[test]
    fn container_thresholds() {
        let mut h = Hash::default();
        for i in 0..HASH_MAX_ENTRIES {
            h.insert(Str::from_i64(i as i64), s("v"));
        }
        assert_eq!(encoding_of(&Value::Hash(Box::new(h.clone()))), "listpack");
        h.insert(s("one more"), s("v"));
        assert_eq!(encoding_of(&Value::Hash(Box::new(h))), "hashtable");
        let mut h = Hash::default();
        h.insert(s("f"), s(&"v".repeat(65)));
        assert_eq!(encoding_of(&Value::Hash(Box::new(h))), "hashtable");

        let mut set = Set::default();
        set.insert(s("1"));
        set.insert(s("-5"));
        assert_eq!(encoding_of(&Value::Set(Box::new(set.clone()))), "intset");
        set.insert(s("01"));
        assert_eq!(encoding_of(&Value::Set(Box::new(set))), "hashtable");

        let mut z = ZSet::default();
        z.insert(b"a", 1.0);
        assert_eq!(encoding_of(&Value::ZSet(Box::new(z.clone()))), "listpack");
        z.insert("m".repeat(65).as_bytes(), 1.0);
        assert_eq!(encoding_of(&Value::ZSet(Box::new(z))), "skiplist");

        let l: List = [s("a")].into_iter().collect();
        assert_eq!(encoding_of(&Value::List(Box::new(l))), "quicklist");
    }
}

//! Command metadata: the static tables and their lookup.

use super::Ctx;
use crate::error::CmdResult;
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

pub type ShardFn = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult<Reply>;

/// Command flags, named after Redis's (`COMMAND INFO` prints them).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    /// Redis's `may_replicate` (PUBLISH, EVAL …): refused in read-only scripts like a write.
    /// Redis 7.0's COMMAND INFO does not list it, so `NAMES` leaves it out.
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const MOVABLE_KEYS: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    /// Needs every shard (KEYS, SCAN, DBSIZE, FLUSHALL, RANDOMKEY …).
    pub const KEYSPACE: u32 = 1 << 17;
    pub const NONDETERMINISTIC: u32 = 1 << 18;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// The documentation group (COMMAND DOCS `group`, and the ACL category derived from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    List,
    Set,
    SortedSet,
    Hash,
    Transactions,
    Connection,
    Server,
    Scripting,
    Cluster,
    Bitmap,
    PubSub,
    Geo,
    Stream,
    HyperLogLog,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::Transactions => "transactions",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Scripting => "scripting",
            Group::Cluster => "cluster",
            Group::Bitmap => "bitmap",
            Group::PubSub => "pubsub",
            Group::Geo => "geo",
            Group::Stream => "stream",
            Group::HyperLogLog => "hyperloglog",
        }
    }
}

/// Where the keys of a command are.
#[derive(Clone, Copy)]
pub enum Keys {
    None,
    /// `first..=last` (negative `last` counts from the end) every `step` arguments.
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// A count at argument `at`, then that many keys starting at `at + 1` (EVAL, ZUNIONSTORE's
    /// sources, …), plus optionally one fixed key at `extra` (ZUNIONSTORE's destination).
    Numkeys {
        at: usize,
        extra: Option<usize>,
    },
    /// Anything else (SORT's STORE, XREAD's STREAMS, MIGRATE): the function finds them.
    Custom(fn(&[Bytes]) -> Vec<usize>),
    /// Arguments at `first..=last` that COMMAND INFO describes with a `not_key` key spec
    /// (SPUBLISH's and SSUBSCRIBE's shard channels: they hash to a slot in a cluster) but that
    /// are no keys: nothing routes by them and COMMAND GETKEYS finds none.
    NotKey {
        first: i32,
        last: i32,
    },
}

#[derive(Clone, Copy)]
pub enum Run {
    /// Runs on the shard(s) owning its keys (every shard for `KEYSPACE` commands).
    Shard(ShardFn),
    /// Answered by the connection layer (`server::connection`), by name.
    Conn,
}

pub struct Command {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: exact if positive, a minimum if negative (the name counts).
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    pub run: Run,
    pub group: Group,
    pub subcommands: &'static [Command],
    /// Says when a call needs every shard although it names only some keys (SORT with BY/GET
    /// patterns reads keys its data names).
    pub wide: Option<fn(&[Bytes]) -> bool>,
}

impl Command {
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        group: Group,
        f: ShardFn,
    ) -> Command {
        Command {
            name,
            arity,
            flags,
            keys: Keys::None,
            run: Run::Shard(f),
            group,
            subcommands: &[],
            wide: None,
        }
    }

    pub const fn conn(name: &'static str, arity: i32, flags: u32, group: Group) -> Command {
        Command {
            name,
            arity,
            flags,
            keys: Keys::None,
            run: Run::Conn,
            group,
            subcommands: &[],
            wide: None,
        }
    }

    /// Keys at `first..=last` every `step` (use `last = -1` for "to the end").
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Command {
        self.keys = Keys::Range { first, last, step };
        self
    }

    /// Channel arguments at `first..=last` described as a `not_key` key spec.
    pub const fn not_keys(mut self, first: i32, last: i32) -> Command {
        self.keys = Keys::NotKey { first, last };
        self
    }

    pub const fn numkeys(mut self, at: usize, extra: Option<usize>) -> Command {
        self.keys = Keys::Numkeys { at, extra };
        self.flags |= flags::MOVABLE_KEYS;
        self
    }

    pub const fn custom_keys(mut self, f: fn(&[Bytes]) -> Vec<usize>) -> Command {
        self.keys = Keys::Custom(f);
        self.flags |= flags::MOVABLE_KEYS;
        self
    }

    pub const fn subs(mut self, subs: &'static [Command]) -> Command {
        self.subcommands = subs;
        self
    }

    /// Every shard for calls `f` picks (see `wide`).
    pub const fn wide(mut self, f: fn(&[Bytes]) -> bool) -> Command {
        self.wide = Some(f);
        self
    }

    /// Whether this call needs every shard: keyspace-wide commands, and `wide` ones it picks.
    #[inline]
    pub fn needs_all_shards(&self, args: &[Bytes]) -> bool {
        self.has(flags::KEYSPACE) || self.wide.is_some_and(|f| f(args))
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Writes, or may send something down the effect stream (PUBLISH, EVAL, FCALL): what Redis
    /// refuses in read-only scripts and holds under CLIENT PAUSE WRITE.
    pub fn may_write(&self) -> bool {
        self.has(flags::WRITE | flags::MAY_REPLICATE)
    }

    /// The positions of this command's keys in `args`. Out-of-range counts yield no keys; the
    /// command itself reports the error when it runs.
    pub fn key_indices(&self, args: &[Bytes]) -> KeyIter {
        match self.keys {
            Keys::None | Keys::NotKey { .. } => KeyIter::range(0, 0, 1),
            Keys::Range { first, last, step } => {
                let n = args.len() as i32;
                let last = if last < 0 { n + last } else { last.min(n - 1) };
                KeyIter::range(
                    first as usize,
                    (last + 1).max(first) as usize,
                    step.max(1) as usize,
                )
            }
            Keys::Numkeys { at, extra } => {
                let count = args
                    .get(at)
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse::<i64>().ok())
                    .filter(|&c| c >= 0 && (at + 1 + c as usize) <= args.len())
                    .unwrap_or(0) as usize;
                let mut v: Vec<usize> = extra.into_iter().filter(|&e| e < args.len()).collect();
                v.extend(at + 1..at + 1 + count);
                KeyIter::list(v)
            }
            Keys::Custom(f) => KeyIter::list(f(args)),
        }
    }

    /// The positions a cluster routes by: the keys, and SPUBLISH's and SSUBSCRIBE's shard
    /// channels (which are no keys).
    pub fn slot_indices(&self, args: &[Bytes]) -> KeyIter {
        match self.keys {
            Keys::NotKey { first, last } => {
                let n = args.len() as i32;
                let last = if last < 0 { n + last } else { last.min(n - 1) };
                KeyIter::range(first as usize, (last + 1).max(first) as usize, 1)
            }
            _ => self.key_indices(args),
        }
    }

    /// `(first, last, step)` as COMMAND INFO reports them.
    pub fn legacy_key_spec(&self) -> (i64, i64, i64) {
        match self.keys {
            Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
            Keys::NotKey { first, last } => (first as i64, last as i64, 1),
            _ => (0, 0, 0),
        }
    }
}

/// Key positions without allocating in the common (range) case.
pub enum KeyIter {
    Range(std::iter::StepBy<std::ops::Range<usize>>),
    List(std::vec::IntoIter<usize>),
}

impl KeyIter {
    fn range(from: usize, to: usize, step: usize) -> KeyIter {
        KeyIter::Range((from..to).step_by(step))
    }
    fn list(v: Vec<usize>) -> KeyIter {
        KeyIter::List(v.into_iter())
    }
}

impl Iterator for KeyIter {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            KeyIter::Range(r) => r.next(),
            KeyIter::List(l) => l.next(),
        }
    }
}

/// A command resolved from the table, with a dense id for per-command statistics.
#[derive(Clone, Copy)]
pub struct CmdRef {
    pub id: u16,
    pub cmd: &'static Command,
}

/// Subcommand lookups: a fast (not DoS-hardened) hash is fine for a fixed set of keys that
/// clients cannot add to.
type SubMap = HashMap<(&'static str, &'static [u8]), CmdRef, foldhash::fast::FixedState>;

/// Top-level commands bucketed by name length and first letter: a lookup compares the name,
/// in any case, with the one or few commands of its bucket, with no lowering copy and no
/// hashing (those were most of a pipelined GET's lookup cost).
struct ByName {
    buckets: Vec<Vec<CmdRef>>,
}

impl ByName {
    const LENGTHS: usize = 32;

    fn new() -> ByName {
        ByName {
            buckets: vec![Vec::new(); Self::LENGTHS * 32],
        }
    }

    fn bucket(name: &[u8]) -> Option<usize> {
        let first = *name.first()?;
        Some(name.len().min(Self::LENGTHS - 1) * 32 + (first & 31) as usize)
    }

    fn insert(&mut self, c: CmdRef) {
        let name = c.cmd.name.as_bytes();
        debug_assert!(name.iter().all(|b| !b.is_ascii_uppercase()));
        if let Some(b) = Self::bucket(name) {
            self.buckets[b].push(c);
        }
    }

    fn get(&self, name: &[u8]) -> Option<CmdRef> {
        self.buckets
            .get(Self::bucket(name)?)?
            .iter()
            .find(|c| c.cmd.name.as_bytes().eq_ignore_ascii_case(name))
            .copied()
    }
}

struct Registry {
    by_name: ByName,
    subs: SubMap,
    all: Vec<CmdRef>,
    /// Full names (`config|get` for subcommands), indexed by id.
    full_names: Vec<String>,
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut r = Registry {
            by_name: ByName::new(),
            subs: SubMap::default(),
            all: Vec::new(),
            full_names: Vec::new(),
        };
        for fam in super::families() {
            for cmd in fam {
                let id = r.all.len() as u16;
                let c = CmdRef { id, cmd };
                r.all.push(c);
                r.full_names.push(cmd.name.to_string());
                r.by_name.insert(c);
                for sub in cmd.subcommands {
                    let id = r.all.len() as u16;
                    let s = CmdRef { id, cmd: sub };
                    r.all.push(s);
                    r.full_names.push(format!("{}|{}", cmd.name, sub.name));
                    r.subs.insert((cmd.name, sub.name.as_bytes()), s);
                }
            }
        }
        r
    })
}

/// `name` in lower case (names are ASCII: anything else simply matches nothing).
fn lower<'a>(name: &[u8], buf: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

/// Finds a top-level command by name, in any case.
pub fn find(name: &[u8]) -> Option<CmdRef> {
    registry().by_name.get(name)
}

/// Finds a subcommand of a container command.
pub fn find_sub(top: CmdRef, name: &[u8]) -> Option<CmdRef> {
    let mut buf = [0u8; 64];
    let n = lower(name, &mut buf)?;
    registry().subs.get(&(top.cmd.name, n)).copied()
}

/// Every command and subcommand, ids in order.
pub fn all_commands() -> &'static [CmdRef] {
    &registry().all
}

/// Number of ids handed out (the size of per-command statistic arrays).
pub fn command_count() -> usize {
    registry().all.len()
}

/// `name` or `container|sub`.
pub fn full_name(id: u16) -> &'static str {
    &registry().full_names[id as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case_and_nothing_else_is() {
        let mut n = 0;
        for fam in super::super::families() {
            for cmd in fam {
                let lower = cmd.name.as_bytes();
                let upper = cmd.name.to_ascii_uppercase();
                let mixed: Vec<u8> = lower
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        if i % 2 == 0 {
                            b.to_ascii_uppercase()
                        } else {
                            *b
                        }
                    })
                    .collect();
                for name in [lower, upper.as_bytes(), &mixed] {
                    let found = find(name).map(|c| c.cmd.name);
                    assert_eq!(found, Some(cmd.name), "{:?}", String::from_utf8_lossy(name));
                }
                n += 1;
            }
        }
        assert!(n > 150, "{n} commands");
        for name in [&b""[..], b"ge", b"gett", b"get ", b"\0et", b"g\xc3\xa9t"] {
            assert!(find(name).is_none(), "{name:?}");
        }
        let long = vec![b'a'; 100];
        assert!(find(&long).is_none());
    }
}

//! Sorted set commands (the Z* family and BZPOPMIN/BZPOPMAX/BZMPOP).
//!
//! Invariant: a sorted set key exists only while it has members: every command that removes
//! members deletes the key when the set becomes empty, and no command creates an empty one.
//! Replies match Redis 7.0 byte for byte in RESP2 and RESP3 (scores are `Reply::Double`).

pub(crate) mod num;
mod pop;
mod range;
pub(crate) mod read;
mod setops;
mod write;

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value, ZSet};

/// Blocking timeout validation (seconds → ms) with Redis's errors, for the blocking layer.
pub use pop::timeout_arg;
/// GEOADD is a ZADD of encoded positions (`geo`).
pub(crate) use write::zadd;

const G: Group = Group::SortedSet;

pub const COMMANDS: &[Command] = &[
    Command::new("zadd", -4, WRITE | DENYOOM | FAST, G, write::zadd).keys(1, 1, 1),
    Command::new("zincrby", 4, WRITE | DENYOOM | FAST, G, write::zincrby).keys(1, 1, 1),
    Command::new("zrem", -3, WRITE | FAST, G, write::zrem).keys(1, 1, 1),
    Command::new("zremrangebyscore", 4, WRITE, G, range::zremrangebyscore).keys(1, 1, 1),
    Command::new("zremrangebyrank", 4, WRITE, G, range::zremrangebyrank).keys(1, 1, 1),
    Command::new("zremrangebylex", 4, WRITE, G, range::zremrangebylex).keys(1, 1, 1),
    Command::new("zunionstore", -4, WRITE | DENYOOM, G, setops::zunionstore).numkeys(2, Some(1)),
    Command::new("zinterstore", -4, WRITE | DENYOOM, G, setops::zinterstore).numkeys(2, Some(1)),
    Command::new("zdiffstore", -4, WRITE | DENYOOM, G, setops::zdiffstore).numkeys(2, Some(1)),
    Command::new("zunion", -3, READONLY, G, setops::zunion).numkeys(1, None),
    Command::new("zinter", -3, READONLY, G, setops::zinter).numkeys(1, None),
    Command::new("zdiff", -3, READONLY, G, setops::zdiff).numkeys(1, None),
    Command::new("zintercard", -3, READONLY, G, setops::zintercard).numkeys(1, None),
    Command::new("zrange", -4, READONLY, G, range::zrange).keys(1, 1, 1),
    Command::new("zrangestore", -5, WRITE | DENYOOM, G, range::zrangestore).keys(1, 2, 1),
    Command::new("zrangebyscore", -4, READONLY, G, range::zrangebyscore).keys(1, 1, 1),
    Command::new("zrevrangebyscore", -4, READONLY, G, range::zrevrangebyscore).keys(1, 1, 1),
    Command::new("zrangebylex", -4, READONLY, G, range::zrangebylex).keys(1, 1, 1),
    Command::new("zrevrangebylex", -4, READONLY, G, range::zrevrangebylex).keys(1, 1, 1),
    Command::new("zrevrange", -4, READONLY, G, range::zrevrange).keys(1, 1, 1),
    Command::new("zcount", 4, READONLY | FAST, G, read::zcount).keys(1, 1, 1),
    Command::new("zlexcount", 4, READONLY | FAST, G, read::zlexcount).keys(1, 1, 1),
    Command::new("zcard", 2, READONLY | FAST, G, read::zcard).keys(1, 1, 1),
    Command::new("zscore", 3, READONLY | FAST, G, read::zscore).keys(1, 1, 1),
    Command::new("zmscore", -3, READONLY | FAST, G, read::zmscore).keys(1, 1, 1),
    Command::new("zrank", 3, READONLY | FAST, G, read::zrank).keys(1, 1, 1),
    Command::new("zrevrank", 3, READONLY | FAST, G, read::zrevrank).keys(1, 1, 1),
    Command::new("zpopmin", -2, WRITE | FAST, G, pop::zpopmin).keys(1, 1, 1),
    Command::new("zpopmax", -2, WRITE | FAST, G, pop::zpopmax).keys(1, 1, 1),
    Command::new(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        G,
        pop::bzpopmin,
    )
    .keys(1, -2, 1),
    Command::new(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        G,
        pop::bzpopmax,
    )
    .keys(1, -2, 1),
    Command::new("zmpop", -4, WRITE, G, pop::zmpop).numkeys(1, None),
    Command::new("bzmpop", -5, WRITE | BLOCKING, G, pop::bzmpop).numkeys(2, None),
    Command::new(
        "zrandmember",
        -2,
        READONLY | NONDETERMINISTIC,
        G,
        read::zrandmember,
    )
    .keys(1, 1, 1),
    Command::new("zscan", -3, READONLY | NONDETERMINISTIC, G, read::zscan).keys(1, 1, 1),
];

/// The sorted set at `key` for reading: `Ok(None)` if missing, WRONGTYPE if another type.
pub fn get_zset<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a ZSet>> {
    match ctx.db(key)?.get(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The sorted set at `key` for writing: `Ok(None)` if missing, WRONGTYPE if another type.
pub fn get_zset_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> CmdResult<Option<&'a mut ZSet>> {
    match ctx.db(key)?.get_mut(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Deletes `key` if its sorted set was emptied.
fn drop_if_empty(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult<()> {
    ctx.db(key)?.remove_if_empty(key);
    Ok(())
}

/// Stores `z` at `dst` (replacing any value and expiry) or, if it is empty, deletes `dst`.
/// Returns the stored size and marks the change as Redis does (one dirty either way, none for
/// deleting a key that was not there).
fn store(ctx: &mut Ctx<'_>, dst: &[u8], z: ZSet) -> CmdResult<Reply> {
    let n = z.len();
    let db = ctx.db(dst)?;
    if n > 0 {
        db.set(dst, Value::ZSet(Box::new(z)));
        ctx.dirty(1);
    } else if db.remove(dst).is_some() {
        ctx.dirty(1);
    }
    Ok(Reply::Int(n as i64))
}

/// Appends one element to a reply: the member, then (WITHSCORES) its score, paired in an
/// inner array for RESP3 as Redis does.
fn push_elem(out: &mut Vec<Reply>, resp: u8, withscores: bool, member: &Str, score: f64) {
    if !withscores {
        out.push(Reply::Bulk(member.to_bytes()));
    } else if resp >= 3 {
        out.push(Reply::Array(vec![
            Reply::Bulk(member.to_bytes()),
            Reply::Double(score),
        ]));
    } else {
        out.push(Reply::Bulk(member.to_bytes()));
        out.push(Reply::Double(score));
    }
}

/// `ZREM key member…`, the deterministic record of members taken out of a set.
fn zrem_effect(ctx: &mut Ctx<'_>, key: &Bytes, members: Vec<Bytes>) {
    if members.is_empty() || !ctx.wants_effects() {
        return;
    }
    let mut args = Vec::with_capacity(members.len() + 2);
    args.push(Bytes::from_static(b"ZREM"));
    args.push(key.clone());
    args.extend(members);
    ctx.propagate(args);
}

/// A score interval `[min, max]`, either end possibly exclusive.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    /// Parses `min max` (`(` marks an open end); `ERR min or max is not a float`.
    pub fn parse(min: &[u8], max: &[u8]) -> CmdResult<ScoreRange> {
        let bound = |b: &[u8]| match b.first() {
            Some(b'(') => num::range_f64(&b[1..]).map(|v| (v, true)),
            _ => num::range_f64(b).map(|v| (v, false)),
        };
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                minex,
                max,
                maxex,
            }),
            _ => Err(CommandError::err("ERR min or max is not a float")),
        }
    }

    /// The ascending ranks `start..end` of the elements inside the range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let r = *self;
        let start = z.count_before(|s, _| if r.minex { s <= r.min } else { s < r.min });
        let end = z.count_before(|s, _| if r.maxex { s < r.max } else { s <= r.max });
        (start, end.max(start))
    }
}

/// One end of a lexicographic range.
#[derive(Clone, Debug)]
enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

/// A member interval for the *BYLEX commands (meaningful when all scores are equal).
#[derive(Clone, Debug)]
pub struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    /// Parses `min max`; `ERR min or max not valid string range item`.
    pub fn parse(min: &Bytes, max: &Bytes) -> CmdResult<LexRange> {
        fn item(b: &Bytes) -> Option<LexBound> {
            // A lone `+`/`-` (C string semantics: a NUL right after counts as the end).
            let lone = b.len() == 1 || b.get(1) == Some(&0);
            match b.first()? {
                b'+' if lone => Some(LexBound::Max),
                b'-' if lone => Some(LexBound::Min),
                b'(' => Some(LexBound::Excl(b.slice(1..))),
                b'[' => Some(LexBound::Incl(b.slice(1..))),
                _ => None,
            }
        }
        match (item(min), item(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(CommandError::err(
                "ERR min or max not valid string range item",
            )),
        }
    }

    /// The ascending ranks `start..end` of the elements inside the range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_before(|_, m| !self.gte_min(m));
        let end = z.count_before(|_, m| self.lte_max(m));
        (start, end.max(start))
    }

    /// Whether `m` is at or above the lower end.
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(x) => m >= &x[..],
            LexBound::Excl(x) => m > &x[..],
        }
    }

    /// Whether `m` is at or below the upper end.
    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m <= &x[..],
            LexBound::Excl(x) => m < &x[..],
        }
    }

    /// How many elements the range counts (ZLEXCOUNT) or deletes (ZREMRANGEBYLEX).
    pub fn count(&self, z: &ZSet) -> usize {
        if z.is_listpack() {
            return self.listpack_walk(z, false, 0, -1).len();
        }
        let (a, b) = self.ranks(z);
        b - a
    }

    /// The elements Redis's listpack code selects, in reply order. With all scores equal
    /// the members are sorted and this is [`LexRange::ranks`]'s interval; with mixed scores
    /// it is not, and Redis's answer is this exact walk: give up unless the last member is
    /// above `min` and the first below `max`; start at the first member (from the top with
    /// `rev`) past the near end, give up if it is beyond the far end; skip `offset` members
    /// unchecked; then take members while they are within the far end. (Redis's skiplist walk
    /// starts where its random levels lead; large sets keep the binary search.)
    pub fn listpack_walk(&self, z: &ZSet, rev: bool, offset: i64, limit: i64) -> Vec<(Str, f64)> {
        let all: Vec<(&Str, f64)> = z.iter().collect();
        let (Some(first), Some(last)) = (all.first(), all.last()) else {
            return Vec::new();
        };
        if !self.gte_min(last.0) || !self.lte_max(first.0) {
            return Vec::new();
        }
        let start = if rev {
            all.iter().rposition(|(m, _)| self.lte_max(m))
        } else {
            all.iter().position(|(m, _)| self.gte_min(m))
        };
        let Some(start) = start else {
            return Vec::new();
        };
        let far_end = |m: &[u8]| {
            if rev {
                self.gte_min(m)
            } else {
                self.lte_max(m)
            }
        };
        if !far_end(all[start].0) {
            return Vec::new();
        }
        // A negative offset skips past the end, as Redis's `while (offset--)` does.
        let Ok(offset) = usize::try_from(offset) else {
            return Vec::new();
        };
        let walk: Box<dyn Iterator<Item = &(&Str, f64)>> = if rev {
            Box::new(all[..=start].iter().rev().skip(offset))
        } else {
            Box::new(all[start..].iter().skip(offset))
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        walk.take_while(|(m, _)| far_end(m))
            .take(limit)
            .map(|(m, s)| ((*m).clone(), *s))
            .collect()
    }
}

/// How the blocking sorted-set pops wait (`server::blocking` drives them).
pub static BLOCK_SPECS: [(&str, crate::server::blocking::BlockSpec); 3] = [
    ("bzpopmin", bzpop_spec()),
    ("bzpopmax", bzpop_spec()),
    (
        "bzmpop",
        crate::server::blocking::BlockSpec {
            parse: bzmpop_timeout,
            sources: crate::server::blocking::sources_numkeys_at2,
            narrow: crate::server::blocking::narrow_numkeys_at2,
            kind: "zset",
            not_served: Reply::NilArray,
            timed_out: Reply::NilArray,
            gone: None,
        },
    ),
];

const fn bzpop_spec() -> crate::server::blocking::BlockSpec {
    crate::server::blocking::BlockSpec {
        parse: bzpop_timeout,
        sources: crate::server::blocking::sources_before_timeout,
        narrow: crate::server::blocking::narrow_before_timeout,
        kind: "zset",
        not_served: Reply::NilArray,
        timed_out: Reply::NilArray,
        gone: None,
    }
}

fn bzpop_timeout(args: &[Bytes]) -> CmdResult<u64> {
    timeout_arg(&args[args.len() - 1])
}

/// BZMPOP's other arguments are checked by the command itself on its first attempt.
fn bzmpop_timeout(args: &[Bytes]) -> CmdResult<u64> {
    timeout_arg(&args[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keyspace::Db;
    use crate::shard::{ShardData, ShardLocal};
    use rand::SeedableRng;

    /// Runs `cmds` in one unit on a single-shard context collecting effects; returns each
    /// reply (RESP2 text) and the effects as command lines.
    fn run_unit(cmds: &[&str]) -> (Vec<String>, Vec<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let cfg = Config {
            port: 0,
            shards: 1,
            ..Config::default()
        };
        let (running, _listener) = rt.block_on(crate::server::start(cfg)).expect("start");
        let server = running.server.clone();
        let mut held = vec![Some(Box::new(ShardData {
            id: 0,
            dbs: (0..16).map(|_| Db::default()).collect(),
            tracked: Default::default(),
            db_bits: 0,
        }))];
        let mut local = ShardLocal {
            id: 0,
            rng: rand::rngs::SmallRng::seed_from_u64(1),
            now: 0,
            script_vm: None,
            inbox: crossbeam_channel::unbounded().1,
            expire_cursor: vec![0; 16],
            own_pushes: Vec::new(),
        };
        let mut effects = Vec::new();
        let mut replies = Vec::new();
        {
            let mut ctx = Ctx {
                held: &mut held,
                server: &server,
                home: 0,
                local: &mut local,
                db: 0,
                resp: 2,
                client_id: 1,
                effects: Some(&mut effects),
                dirty: 0,
                custom_effect: false,
                in_script: false,
                in_multi: false,
                routed: None,
                events: None,
                unit_flags: 0,
                own_id: 1,
            };
            for line in cmds {
                let args: Vec<Bytes> = line
                    .split_whitespace()
                    .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                    .collect();
                let cmd = lookup(&args).expect("known command");
                let r = call(&mut ctx, cmd, &args);
                replies.push(String::from_utf8_lossy(&r.to_bytes(2)).into_owned());
            }
        }
        drop(server);
        running.join();
        let effects = effects
            .iter()
            .map(|e| {
                e.args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        (replies, effects)
    }

    #[test]
    fn pops_record_zrem_and_reads_record_nothing() {
        let (replies, effects) = run_unit(&[
            "ZADD z 1 a 2 b 3 c 4 d 5 e",
            "ZADD z XX 1 nope",
            "ZRANGE z 0 -1",
            "ZRANDMEMBER z 2",
            "ZPOPMIN z 2",
            "ZPOPMAX z",
            "ZMPOP 2 none z MAX COUNT 1",
            "BZPOPMIN none z 0",
            "BZMPOP 0 1 z MIN",
            "BZPOPMIN z 0",
            "ZREM z nope",
            "ZINCRBY y 2 m",
            "ZUNIONSTORE u 1 y",
        ]);
        assert_eq!(
            replies[8], "*-1\r\n",
            "empty blocking pop answers the null array"
        );
        assert_eq!(replies[9], "*-1\r\n");
        assert_eq!(
            effects,
            vec![
                "ZADD z 1 a 2 b 3 c 4 d 5 e",
                "ZREM z a b",
                "ZREM z e",
                "ZREM z d",
                "ZREM z c",
                "ZINCRBY y 2 m",
                "ZUNIONSTORE u 1 y",
            ]
        );
    }
}

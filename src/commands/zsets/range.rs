//! Range reads and deletes: ZRANGE (RANK/BYSCORE/BYLEX, REV, LIMIT, WITHSCORES) and its
//! legacy spellings, ZRANGESTORE, ZREMRANGEBYRANK/SCORE/LEX.
//!
//! Invariant: every range is resolved to an ascending rank interval with two O(log n)
//! descents, then walked along the level-0 links, so a range costs O(log n + returned). The
//! exception: lex ranges on listpack-sized sets are walked as Redis walks its listpack
//! ([`LexRange::listpack_walk`]), which differs when scores are mixed.
//! Options are parsed and checked in Redis's order before the key is looked up.

use super::*;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Auto, None)
}

pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 2, Some(&args[1]), Kind::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, 1, None, Kind::Lex, Some(true))
}

enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The shared body: `src` is the index of the source key; `kind`/`rev` are fixed by the
/// legacy commands and open (`Auto`/`None`) for ZRANGE and ZRANGESTORE.
fn range_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    src: usize,
    store: Option<&Bytes>,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> CmdResult<Reply> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && is(a, "WITHSCORES") {
            withscores = true;
        } else if is(a, "LIMIT") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "REV") {
            rev = Some(true);
        } else if kind == Kind::Auto && is(a, "BYLEX") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(a, "BYSCORE") {
            kind = Kind::Score;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(CommandError::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(CommandError::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&args[src + 1], &args[src + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let bounds = match kind {
        Kind::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        Kind::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
        _ => Bounds::Rank(int_arg(lo)?, int_arg(hi)?),
    };
    let resp = ctx.resp;
    let items = match get_zset(ctx, &args[src])? {
        None => Vec::new(),
        Some(z) => select(z, &bounds, rev, offset, limit),
    };
    if let Some(dst) = store {
        // Redis sizes the destination from a rank range's known length up front.
        let big = matches!(bounds, Bounds::Rank(..))
            && items.len() > crate::keyspace::zset::LISTPACK_MAX_ENTRIES;
        let mut out = if big { ZSet::skiplist() } else { ZSet::new() };
        for (m, s) in &items {
            out.insert(m, *s);
        }
        return super::store(ctx, dst, out);
    }
    let mut out = Vec::with_capacity(items.len() * if withscores { 2 } else { 1 });
    for (m, s) in &items {
        push_elem(&mut out, resp, withscores, m, *s);
    }
    Ok(Reply::Array(out))
}

/// The elements a range selects, in reply order.
fn select(z: &ZSet, bounds: &Bounds, rev: bool, offset: i64, limit: i64) -> Vec<(Str, f64)> {
    let (a, b) = match bounds {
        Bounds::Rank(start, end) => match rank_span(z.len(), *start, *end) {
            Some((s, e)) if rev => {
                let len = z.len();
                return take(z.iter_rev_from(len - 1 - s), e - s + 1);
            }
            Some((s, e)) => return take(z.iter_from(s), e - s + 1),
            None => return Vec::new(),
        },
        Bounds::Score(r) => r.ranks(z),
        Bounds::Lex(r) if z.is_listpack() => return r.listpack_walk(z, rev, offset, limit),
        Bounds::Lex(r) => r.ranks(z),
    };
    if offset < 0 {
        return Vec::new();
    }
    let avail = (b - a).saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
    let n = if limit < 0 {
        avail
    } else {
        avail.min(usize::try_from(limit).unwrap_or(usize::MAX))
    };
    if n == 0 {
        return Vec::new();
    }
    let offset = offset as usize;
    if rev {
        take(z.iter_rev_from(b - 1 - offset), n)
    } else {
        take(z.iter_from(a + offset), n)
    }
}

fn take<'a>(it: impl Iterator<Item = (&'a Str, f64)>, n: usize) -> Vec<(Str, f64)> {
    it.take(n).map(|(m, s)| (m.clone(), s)).collect()
}

/// Redis's clamping of `start..=end` rank arguments (negative counts from the end); `None`
/// when nothing is selected.
fn rank_span(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    end = end.min(len - 1);
    Some((start as usize, end as usize))
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let bounds = Bounds::Rank(int_arg(&args[2])?, int_arg(&args[3])?);
    remrange(ctx, &args[1], bounds)
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let bounds = Bounds::Score(ScoreRange::parse(&args[2], &args[3])?);
    remrange(ctx, &args[1], bounds)
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let bounds = Bounds::Lex(LexRange::parse(&args[2], &args[3])?);
    remrange(ctx, &args[1], bounds)
}

fn remrange(ctx: &mut Ctx<'_>, key: &[u8], bounds: Bounds) -> CmdResult<Reply> {
    let Some(z) = get_zset_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let doomed = select(z, &bounds, false, 0, -1);
    for (m, _) in &doomed {
        z.remove(m);
    }
    drop_if_empty(ctx, key)?;
    ctx.dirty(doomed.len() as u64);
    Ok(Reply::Int(doomed.len() as i64))
}

//! Set algebra over sorted sets (and plain sets, whose members score 1): ZUNION ZINTER ZDIFF,
//! their STORE forms, and ZINTERCARD.
//!
//! Invariant: floating-point results equal Redis's bit for bit, because inputs are combined
//! in Redis's order (sources by ascending cardinality, stably; per element, source by source),
//! with its conventions (`weight * score` and `inf + -inf` that are NaN count as 0).

use super::*;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

impl Agg {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Agg::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            // NaN operands compare false and so leave the accumulator as it is.
            Agg::Min => {
                if v < *acc {
                    *acc = v;
                }
            }
            Agg::Max => {
                if v > *acc {
                    *acc = v;
                }
            }
        }
    }
}

struct Src {
    key: Bytes,
    len: usize,
    weight: f64,
}

pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 2, Op::Union, false, "zunionstore")
}

pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 2, Op::Inter, false, "zinterstore")
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 2, Op::Diff, false, "zdiffstore")
}

pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 1, Op::Union, false, "zunion")
}

pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 1, Op::Inter, false, "zinter")
}

pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 1, Op::Diff, false, "zdiff")
}

pub fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    setop(ctx, args, 1, Op::Inter, true, "zintercard")
}

/// The cardinality of a sorted set or set source; WRONGTYPE for anything else.
fn source_len(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult<usize> {
    match ctx.db(key)?.get(key) {
        None => Ok(0),
        Some(Value::ZSet(z)) => Ok(z.len()),
        Some(Value::Set(s)) => Ok(s.len()),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Visits every `(member, score)` of a source.
fn for_each(ctx: &mut Ctx<'_>, key: &[u8], mut f: impl FnMut(&Str, f64)) -> CmdResult<()> {
    match ctx.db(key)?.get(key) {
        Some(Value::ZSet(z)) => z.iter().for_each(|(m, s)| f(m, s)),
        Some(Value::Set(s)) => s.iter().for_each(|m| f(m, 1.0)),
        _ => {}
    }
    Ok(())
}

/// Looks each candidate up in a source, calling `f` with its score or `None` if absent.
fn probe(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    items: &mut [(Str, f64, bool)],
    mut f: impl FnMut(&mut (Str, f64, bool), Option<f64>),
) -> CmdResult<()> {
    let v = ctx.db(key)?.get(key);
    for it in items.iter_mut().filter(|it| it.2) {
        let found = match v {
            Some(Value::ZSet(z)) => z.score(&it.0),
            Some(Value::Set(s)) => s.contains(&it.0[..]).then_some(1.0),
            _ => None,
        };
        f(it, found);
    }
    Ok(())
}

fn setop(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    at: usize,
    op: Op,
    card_only: bool,
    name: &str,
) -> CmdResult<Reply> {
    let dst = (at == 2).then(|| &args[1]);
    let numkeys = int_arg(&args[at])?;
    if numkeys < 1 {
        return Err(CommandError::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as u64 > (args.len() - at - 1) as u64 {
        return Err(CommandError::Syntax);
    }
    let keys = &args[at + 1..at + 1 + numkeys as usize];
    let mut srcs = Vec::with_capacity(keys.len());
    for k in keys {
        srcs.push(Src {
            key: k.clone(),
            len: source_len(ctx, k)?,
            weight: 1.0,
        });
    }
    let (mut agg, mut withscores, mut limit) = (Agg::Sum, false, 0usize);
    let mut j = at + 1 + keys.len();
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != Op::Diff && !card_only && remaining > srcs.len() && is(a, "WEIGHTS") {
            for (i, s) in srcs.iter_mut().enumerate() {
                s.weight = num::strict_f64(&args[j + 1 + i])
                    .ok_or_else(|| CommandError::err("ERR weight value is not a float"))?;
            }
            j += 1 + srcs.len();
        } else if op != Op::Diff && !card_only && remaining >= 2 && is(a, "AGGREGATE") {
            let w = &args[j + 1];
            agg = if is(w, "SUM") {
                Agg::Sum
            } else if is(w, "MIN") {
                Agg::Min
            } else if is(w, "MAX") {
                Agg::Max
            } else {
                return Err(CommandError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "WITHSCORES") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "LIMIT") {
            limit = match parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CommandError::err("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut result = match op {
        Op::Union => union(ctx, &mut srcs, agg)?,
        Op::Inter => inter(ctx, &mut srcs, agg)?,
        Op::Diff => diff(ctx, &srcs)?,
    };
    if card_only {
        let n = result.len();
        return Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64));
    }
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    if let Some(dst) = dst {
        let compact = result.len() <= crate::keyspace::zset::LISTPACK_MAX_ENTRIES
            && result
                .iter()
                .all(|(m, _)| m.len() <= crate::keyspace::zset::LISTPACK_MAX_VALUE);
        let mut z = if compact {
            ZSet::new()
        } else {
            ZSet::skiplist()
        };
        for (m, s) in &result {
            z.insert(m, *s);
        }
        return store(ctx, dst, z);
    }
    let resp = ctx.resp;
    let mut out = Vec::with_capacity(result.len() * if withscores { 2 } else { 1 });
    for (m, s) in &result {
        push_elem(&mut out, resp, withscores, m, *s);
    }
    Ok(Reply::Array(out))
}

fn weighted(weight: f64, score: f64) -> f64 {
    let v = weight * score;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn union(ctx: &mut Ctx<'_>, srcs: &mut [Src], agg: Agg) -> CmdResult<Vec<(Str, f64)>> {
    srcs.sort_by_key(|s| s.len);
    let mut acc: hashbrown::HashMap<Str, f64> = hashbrown::HashMap::new();
    for s in srcs.iter().filter(|s| s.len > 0) {
        let w = s.weight;
        for_each(ctx, &s.key, |m, score| {
            let v = weighted(w, score);
            match acc.get_mut(&m[..]) {
                Some(cur) => agg.apply(cur, v),
                None => {
                    acc.insert(m.clone(), v);
                }
            }
        })?;
    }
    Ok(acc.into_iter().collect())
}

fn inter(ctx: &mut Ctx<'_>, srcs: &mut [Src], agg: Agg) -> CmdResult<Vec<(Str, f64)>> {
    srcs.sort_by_key(|s| s.len);
    if srcs[0].len == 0 {
        return Ok(Vec::new());
    }
    let w0 = srcs[0].weight;
    let mut items: Vec<(Str, f64, bool)> = Vec::with_capacity(srcs[0].len);
    for_each(ctx, &srcs[0].key, |m, s| {
        items.push((m.clone(), weighted(w0, s), true))
    })?;
    for s in &srcs[1..] {
        let w = s.weight;
        probe(ctx, &s.key, &mut items, |it, found| match found {
            Some(v) => agg.apply(&mut it.1, v * w),
            None => it.2 = false,
        })?;
    }
    Ok(items
        .into_iter()
        .filter(|it| it.2)
        .map(|(m, s, _)| (m, s))
        .collect())
}

fn diff(ctx: &mut Ctx<'_>, srcs: &[Src]) -> CmdResult<Vec<(Str, f64)>> {
    if srcs[0].len == 0 {
        return Ok(Vec::new());
    }
    let mut items: Vec<(Str, f64, bool)> = Vec::with_capacity(srcs[0].len);
    for_each(ctx, &srcs[0].key, |m, s| items.push((m.clone(), s, true)))?;
    for s in srcs[1..].iter().filter(|s| s.len > 0) {
        probe(ctx, &s.key, &mut items, |it, found| {
            if found.is_some() {
                it.2 = false;
            }
        })?;
    }
    Ok(items
        .into_iter()
        .filter(|it| it.2)
        .map(|(m, s, _)| (m, s))
        .collect())
}

//! Point reads and counts: ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK, plus the
//! sampling reads ZRANDMEMBER and ZSCAN.
//!
//! Invariant: nothing here modifies the keyspace (lazy expiry aside).

use super::*;
use crate::keyspace::glob::glob_match;
use rand::Rng;

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(
        match get_zset(ctx, &args[1])?.and_then(|z| z.score(&args[2])) {
            Some(s) => Reply::Double(s),
            None => Reply::Nil,
        },
    )
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let z = get_zset(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Reply::Double(s),
                None => Reply::Nil,
            })
            .collect(),
    ))
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        get_zset(ctx, &args[1])?.map_or(0, |z| z.len()) as i64
    ))
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ScoreRange::parse(&args[2], &args[3])?;
    Ok(Reply::Int(get_zset(ctx, &args[1])?.map_or(0, |z| {
        let (a, b) = range.ranks(z);
        b - a
    }) as i64))
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = LexRange::parse(&args[2], &args[3])?;
    Ok(Reply::Int(
        get_zset(ctx, &args[1])?.map_or(0, |z| range.count(z)) as i64,
    ))
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rank(ctx, args, true)
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult<Reply> {
    let Some(z) = get_zset(ctx, &args[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(match z.rank(&args[2]) {
        Some(r) if rev => Reply::Int((z.len() - 1 - r) as i64),
        Some(r) => Reply::Int(r as i64),
        None => Reply::Nil,
    })
}

/// Largest reply ZRANDMEMBER builds for a negative count (a deliberate, documented deviation).
const MAX_REPEATED_DRAWS: usize = 10_000_000;

pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    if args.len() == 2 {
        let Some(len) = get_zset(ctx, key)?.map(|z| z.len()) else {
            return Ok(Reply::Nil);
        };
        let r = ctx.local.rng.gen_range(0..len.max(1));
        let z = get_zset(ctx, key)?;
        return Ok(z
            .and_then(|z| z.at(r))
            .map_or(Reply::Nil, |(m, _)| Reply::Bulk(m.to_bytes())));
    }
    let count = match parse_i64(&args[2]) {
        Some(i64::MIN) => {
            return Err(CommandError::err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ))
        }
        Some(c) => c,
        None => return Err(CommandError::NotInteger),
    };
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "WITHSCORES") => true,
        _ => return Err(CommandError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::err("ERR value is out of range"));
    }
    let resp = ctx.resp;
    let Some(len) = get_zset(ctx, key)?.map(|z| z.len()) else {
        return Ok(Reply::Array(vec![]));
    };
    let n = count.unsigned_abs() as usize;
    if count < 0 && n > MAX_REPEATED_DRAWS {
        // Redis would try to stream this many replies; refuse rather than exhaust memory.
        return Err(CommandError::err("ERR value is out of range"));
    }
    let rng = &mut ctx.local.rng;
    // Ranks to answer, or `None` for the whole set (Redis's answer to a count of at least the
    // size).
    let picks: Option<Vec<usize>> = if count == 0 {
        Some(Vec::new())
    } else if count < 0 || n == 1 {
        // With repetitions: independent uniform draws, in draw order.
        Some((0..n).map(|_| rng.gen_range(0..len)).collect())
    } else if n >= len {
        None
    } else {
        // Distinct ranks: a partial Fisher-Yates shuffle over a sparse index map.
        let mut moved: hashbrown::HashMap<usize, usize> = hashbrown::HashMap::new();
        Some(
            (0..n)
                .map(|i| {
                    let j = rng.gen_range(i..len);
                    let vj = *moved.get(&j).unwrap_or(&j);
                    let vi = *moved.get(&i).unwrap_or(&i);
                    moved.insert(j, vi);
                    vj
                })
                .collect(),
        )
    };
    let Some(z) = get_zset(ctx, key)? else {
        return Ok(Reply::Array(vec![]));
    };
    let mut out = Vec::new();
    match picks {
        None => {
            // Redis walks its set from the tail here, so the whole set comes back descending.
            for (m, s) in z.iter_rev() {
                push_elem(&mut out, resp, withscores, m, s);
            }
        }
        Some(ranks) => {
            for r in ranks {
                if let Some((m, s)) = z.at(r) {
                    push_elem(&mut out, resp, withscores, m, s);
                }
            }
        }
    }
    Ok(Reply::Array(out))
}

pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let cursor =
        num::scan_cursor(&args[2]).ok_or_else(|| CommandError::err("ERR invalid cursor"))?;
    let empty = || Reply::Array(vec![Reply::bulk_str("0"), Reply::Array(vec![])]);
    let Some(z) = get_zset(ctx, &args[1])? else {
        return Ok(empty());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i;
        if is(&args[i], "COUNT") && more >= 2 {
            let c = int_arg(&args[i + 1])?;
            if c < 1 {
                return Err(CommandError::Syntax);
            }
            count = c as usize;
            i += 2;
        } else if is(&args[i], "MATCH") && more >= 2 {
            pattern = Some(&args[i + 1][..]).filter(|p| *p != b"*");
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let keep = |m: &[u8]| pattern.is_none_or(|p| glob_match(p, m, false));
    let mut items = Vec::new();
    let next = if z.is_listpack() {
        // The compact encoding is answered whole, in order, scores in its stored text form.
        for (m, s) in z.iter() {
            if keep(m) {
                items.push(Reply::Bulk(m.to_bytes()));
                items.push(Reply::bulk_str(&listpack_score(s)));
            }
        }
        0
    } else {
        z.scan(cursor, count, |m, s| {
            if keep(m) {
                items.push(Reply::Bulk(m.to_bytes()));
                items.push(Reply::bulk_str(&crate::protocol::format_double(s)));
            }
        })
    };
    Ok(Reply::Array(vec![
        Reply::bulk_str(&next.to_string()),
        Reply::Array(items),
    ]))
}

/// A score as the compact encoding stores it: integral values within ±2^62 as integers,
/// anything else as `%.17g`.
pub(crate) fn listpack_score(s: f64) -> String {
    if s.is_finite() && s.fract() == 0.0 && s.abs() <= (i64::MAX / 2) as f64 {
        (s as i64).to_string()
    } else {
        crate::protocol::format_double(s)
    }
}

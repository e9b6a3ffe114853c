//! Taking elements off lists: LPOP, RPOP, LMOVE, RPOPLPUSH, LMPOP, and their blocking forms
//! (which here only serve or report that they could not; see the family's top comment).
//!
//! Invariant: a served blocking pop records the effect of what it did (BLPOP → LPOP key, BLMOVE
//! → LMOVE …), so followers and the log never see a blocking command.

use super::*;

/// Pops up to `n` elements from `end` of the list at `key`, deleting the key if it empties.
/// `Ok(None)` if there is no list there.
fn pop_n(db: &mut Db, key: &[u8], end: End, n: usize) -> CmdResult<Option<Vec<Str>>> {
    let Some(list) = write(db, key)? else {
        return Ok(None);
    };
    let n = n.min(list.len());
    let items = match end {
        End::Left => list.drain(..n).collect(),
        End::Right => {
            let mut v: Vec<Str> = list.drain(list.len() - n..).collect();
            v.reverse();
            v
        }
    };
    db.remove_if_empty(key);
    Ok(Some(items))
}

fn bulks(items: Vec<Str>) -> Reply {
    Reply::Array(items.iter().map(|s| Reply::Bulk(s.to_bytes())).collect())
}

fn pop_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult<Reply> {
    if args.len() > 3 {
        return Err(CommandError::WrongArity(
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase(),
        ));
    }
    let key = &args[1];
    let count = match args.get(2) {
        None => None,
        Some(c) => Some(
            parse_i64(c)
                .filter(|&c| c >= 0)
                .ok_or_else(|| CommandError::err("ERR value is out of range, must be positive"))?,
        ),
    };
    let db = ctx.db(key)?;
    if read(db, key)?.is_none() {
        return Ok(match count {
            Some(_) => Reply::NilArray,
            None => Reply::Nil,
        });
    }
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let items = pop_n(db, key, end, n)?.unwrap_or_default();
    ctx.dirty(items.len() as u64);
    Ok(match count {
        Some(_) => bulks(items),
        None => items
            .into_iter()
            .next()
            .map_or(Reply::Nil, |s| Reply::Bulk(s.to_bytes())),
    })
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop_cmd(ctx, args, End::Left)
}

pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop_cmd(ctx, args, End::Right)
}

/// Moves one element from `from` of `src` to `to` of `dst`; `None` if `src` has no list.
/// The destination's type is checked before anything moves.
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> CmdResult<Option<Bytes>> {
    if read(ctx.db(src)?, src)?.is_none() {
        return Ok(None);
    }
    if src != dst {
        read(ctx.db(dst)?, dst)?;
    }
    let db = ctx.db(src)?;
    let Some(list) = write(db, src)? else {
        return Ok(None);
    };
    let item = match from {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    };
    let Some(item) = item else {
        return Ok(None);
    };
    let out = item.to_bytes();
    if src == dst {
        // Rotating one list: the key never goes empty, so it keeps its expiry.
        match to {
            End::Left => list.push_front(item),
            End::Right => list.push_back(item),
        }
    } else {
        db.remove_if_empty(src);
        push_items(ctx.db(dst)?, dst, std::slice::from_ref(&out), to, false)?;
    }
    ctx.dirty(1);
    Ok(Some(out))
}

pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let from = End::parse(&args[3])?;
    let to = End::parse(&args[4])?;
    Ok(move_one(ctx, &args[1], &args[2], from, to)?.map_or(Reply::Nil, Reply::Bulk))
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(move_one(ctx, &args[1], &args[2], End::Right, End::Left)?.map_or(Reply::Nil, Reply::Bulk))
}

/// LMPOP/BLMPOP arguments after the numkeys position.
struct Mpop {
    keys: std::ops::Range<usize>,
    end: End,
    count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` starting at `at`, as Redis does.
fn parse_mpop(args: &[Bytes], at: usize) -> CmdResult<Mpop> {
    let numkeys = parse_i64(&args[at])
        .filter(|&n| n > 0)
        .ok_or_else(|| CommandError::err("ERR numkeys should be greater than 0"))?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
        .filter(|&w| w < args.len())
        .ok_or(CommandError::Syntax)?;
    let end = End::parse(&args[where_at])?;
    let mut count = None;
    let mut a = ArgCursor::new(args, where_at + 1);
    while let Some(opt) = a.next() {
        if count.is_none() && is(opt, "COUNT") && !a.is_done() {
            let c = a.required()?;
            count = Some(
                parse_i64(c)
                    .filter(|&c| c > 0)
                    .ok_or_else(|| CommandError::err("ERR count should be greater than 0"))?,
            );
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Mpop {
        keys: at + 1..where_at,
        end,
        count: count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX)),
    })
}

/// Pops from the first non-empty list among the parsed keys; records `LPOP/RPOP key n`.
fn mpop(ctx: &mut Ctx<'_>, args: &[Bytes], m: Mpop) -> CmdResult<Reply> {
    for key in &args[m.keys] {
        let Some(items) = pop_n(ctx.db(key)?, key, m.end, m.count)? else {
            continue;
        };
        // Only the key popped from is touched (dispatch leaves the other keys alone).
        ctx.db(key)?.signal(key);
        ctx.dirty(items.len() as u64);
        if ctx.wants_effects() {
            ctx.propagate(vec![
                Bytes::from_static(m.end.pop_name()),
                key.clone(),
                Bytes::from(items.len().to_string()),
            ]);
        }
        return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), bulks(items)]));
    }
    Ok(Reply::NilArray)
}

pub fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let m = parse_mpop(args, 1)?;
    mpop(ctx, args, m)
}

// ---- blocking forms: serve now or return the timeout reply ----

pub fn parse_bpop(args: &[Bytes]) -> CmdResult<u64> {
    blocking::parse_timeout(&args[args.len() - 1])
}

pub fn parse_blmove(args: &[Bytes]) -> CmdResult<u64> {
    End::parse(&args[3])?;
    End::parse(&args[4])?;
    blocking::parse_timeout(&args[5])
}

pub fn parse_brpoplpush(args: &[Bytes]) -> CmdResult<u64> {
    blocking::parse_timeout(&args[3])
}

/// BLMPOP checks its keys and options before its timeout.
pub fn parse_blmpop(args: &[Bytes]) -> CmdResult<u64> {
    parse_mpop(args, 2)?;
    blocking::parse_timeout(&args[1])
}

fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult<Reply> {
    parse_bpop(args)?;
    for key in &args[1..args.len() - 1] {
        let Some(items) = pop_n(ctx.db(key)?, key, end, 1)? else {
            continue;
        };
        let Some(item) = items.into_iter().next() else {
            continue;
        };
        // Only the key popped from is touched (dispatch leaves the other keys alone).
        ctx.db(key)?.signal(key);
        ctx.dirty(1);
        if ctx.wants_effects() {
            ctx.propagate(vec![Bytes::from_static(end.pop_name()), key.clone()]);
        }
        return Ok(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Bulk(item.to_bytes()),
        ]));
    }
    Ok(Reply::NilArray)
}

pub fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bpop(ctx, args, End::Left)
}

pub fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bpop(ctx, args, End::Right)
}

fn bmove(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    from: End,
    to: End,
    effect: Vec<Bytes>,
) -> CmdResult<Reply> {
    let Some(item) = move_one(ctx, &args[1], &args[2], from, to)? else {
        return Ok(Reply::Nil);
    };
    if ctx.wants_effects() {
        ctx.propagate(effect);
    }
    Ok(Reply::Bulk(item))
}

pub fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    parse_blmove(args)?;
    let from = End::parse(&args[3])?;
    let to = End::parse(&args[4])?;
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        args[1].clone(),
        args[2].clone(),
        Bytes::from_static(from.word()),
        Bytes::from_static(to.word()),
    ];
    bmove(ctx, args, from, to, effect)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    parse_brpoplpush(args)?;
    let effect = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        args[1].clone(),
        args[2].clone(),
    ];
    bmove(ctx, args, End::Right, End::Left, effect)
}

pub fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let m = parse_mpop(args, 2)?;
    blocking::parse_timeout(&args[1])?;
    mpop(ctx, args, m)
}

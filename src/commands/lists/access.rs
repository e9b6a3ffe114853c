//! Reading and editing lists in place: LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS.
//!
//! Invariant: a list emptied by an edit (LREM, LTRIM) is deleted in the same command.

use super::*;

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let start = int_arg(&args[2])?;
    let stop = int_arg(&args[3])?;
    let Some(list) = read(ctx.db(key)?, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = match resolve_range(start, stop, list.len()) {
        None => Vec::new(),
        Some((a, b)) => list
            .range(a..=b)
            .map(|s| Reply::Bulk(s.to_bytes()))
            .collect(),
    };
    Ok(Reply::Array(items))
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let Some(list) = read(ctx.db(key)?, key)? else {
        return Ok(Reply::Nil);
    };
    let index = int_arg(&args[2])?;
    Ok(match resolve_index(index, list.len()) {
        Some(i) => Reply::Bulk(list[i].to_bytes()),
        None => Reply::Nil,
    })
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let Some(list) = write(ctx.db(key)?, key)? else {
        return Err(CommandError::NoSuchKey);
    };
    let index = int_arg(&args[2])?;
    let i = resolve_index(index, list.len()).ok_or(CommandError::IndexOutOfRange)?;
    list[i] = Str::new(&args[3]);
    ctx.dirty(1);
    Ok(Reply::ok())
}

pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let after = if is(&args[2], "AFTER") {
        true
    } else if is(&args[2], "BEFORE") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let Some(list) = write(ctx.db(key)?, key)? else {
        return Ok(Reply::Int(0));
    };
    let pivot: &[u8] = &args[3];
    let Some(pos) = list.iter().position(|e| e.as_bytes() == pivot) else {
        return Ok(Reply::Int(-1));
    };
    list.insert(if after { pos + 1 } else { pos }, Str::new(&args[4]));
    let len = list.len();
    ctx.dirty(1);
    Ok(Reply::Int(len as i64))
}

pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let count = int_arg(&args[2])?;
    let db = ctx.db(key)?;
    let Some(list) = write(db, key)? else {
        return Ok(Reply::Int(0));
    };
    let target: &[u8] = &args[3];
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let matching = |i: &usize| list[*i].as_bytes() == target;
    // Positions to remove, ascending; found from the end when `count` is negative.
    let mut gone: Vec<usize> = if count >= 0 {
        (0..list.len()).filter(matching).take(limit).collect()
    } else {
        (0..list.len()).rev().filter(matching).take(limit).collect()
    };
    if count < 0 {
        gone.reverse();
    }
    let removed = gone.len();
    let (mut i, mut next) = (0usize, 0usize);
    list.retain(|_| {
        let keep = gone.get(next) != Some(&i);
        if !keep {
            next += 1;
        }
        i += 1;
        keep
    });
    db.remove_if_empty(key);
    ctx.dirty(removed as u64);
    Ok(Reply::Int(removed as i64))
}

pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let start = int_arg(&args[2])?;
    let stop = int_arg(&args[3])?;
    let db = ctx.db(key)?;
    let Some(list) = write(db, key)? else {
        return Ok(Reply::ok());
    };
    let len = list.len();
    let removed = match resolve_range(start, stop, len) {
        None => {
            list.clear();
            len
        }
        Some((a, b)) => {
            list.truncate(b + 1);
            list.drain(..a);
            len - list.len()
        }
    };
    db.remove_if_empty(key);
    // Redis touches the list even when nothing was trimmed (a WATCH on it fails), though
    // only a real trim counts as a write.
    db.signal(key);
    ctx.dirty(removed as u64);
    Ok(Reply::ok())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let target: &[u8] = &args[2];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut a = ArgCursor::new(args, 3);
    while let Some(opt) = a.next() {
        if a.is_done() {
            return Err(CommandError::Syntax);
        }
        if is(opt, "RANK") {
            rank = a.next_i64()?;
            if rank == 0 {
                return Err(CommandError::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "COUNT") {
            let c = a.next_i64()?;
            if c < 0 {
                return Err(CommandError::err("ERR COUNT can't be negative"));
            }
            count = Some(c);
        } else if is(opt, "MAXLEN") {
            maxlen = a.next_i64()?;
            if maxlen < 0 {
                return Err(CommandError::err("ERR MAXLEN can't be negative"));
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(list) = read(ctx.db(key)?, key)? else {
        return Ok(match count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        });
    };
    let len = list.len();
    let from_tail = rank < 0;
    // Redis negates a negative rank in place; i64::MIN stays negative there, which makes every
    // match count from the first one on. `skip` reproduces that.
    let skip = if rank == i64::MIN {
        0
    } else {
        usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX)
    };
    let want = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
    };
    let scan = if maxlen == 0 {
        len
    } else {
        len.min(usize::try_from(maxlen).unwrap_or(usize::MAX))
    };
    let mut matches = 0usize;
    let mut found = Vec::new();
    for step in 0..scan {
        let i = if from_tail { len - 1 - step } else { step };
        if list[i].as_bytes() == target {
            matches += 1;
            if matches > skip {
                found.push(i as i64);
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found.into_iter().map(Reply::Int).collect()),
        None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
    })
}

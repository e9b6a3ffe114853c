//! XACK, XPENDING, XCLAIM and XAUTOCLAIM: the pending entries lists, acknowledged, listed
//! and moved between consumers.

use super::*;

// ---- XACK ----

pub(super) fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[1], &args[2]);
    let db = ctx.db(key)?;
    if !get_stream(db, key)?.is_some_and(|s| s.groups.contains_key(name)) {
        return Ok(Reply::Int(0));
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_id(a, 0, IdForm::Strict).map(|(id, _)| id))
        .collect::<CmdResult<Vec<_>>>()?;
    let Some(g) = get_stream_mut(db, key)?.and_then(|s| s.groups.get_mut(name)) else {
        return Ok(Reply::Int(0));
    };
    let acked = ids.into_iter().filter(|&id| g.unpend(id)).count();
    if acked > 0 {
        ctx.dirty(acked as u64);
    }
    Ok(Reply::Int(acked as i64))
}

// ---- XPENDING ----

pub(super) fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[1], &args[2]);
    let mut extended = None;
    if args.len() > 3 {
        let mut i = 3;
        let mut min_idle = 0i64;
        if is(&args[i], "IDLE") && args.len() > i + 1 {
            min_idle = int_arg(&args[i + 1])?;
            i += 2;
        }
        if args.len() < i + 3 {
            return Err(CommandError::Syntax);
        }
        let (mut start, ex) = parse_bound(&args[i], 0)?;
        if ex {
            start = start
                .next()
                .ok_or_else(|| CommandError::err("ERR invalid start ID for the interval"))?;
        }
        let (mut end, ex) = parse_bound(&args[i + 1], u64::MAX)?;
        if ex {
            end = end
                .prev()
                .ok_or_else(|| CommandError::err("ERR invalid end ID for the interval"))?;
        }
        let count = int_arg(&args[i + 2])?.max(0) as usize;
        let consumer = args.get(i + 3);
        extended = Some((min_idle, start, end, count, consumer));
    }
    let now = ctx.now();
    let g = get_stream(ctx.db(key)?, key)?
        .and_then(|s| s.groups.get(name))
        .ok_or_else(|| no_key_or_group(key, name))?;
    let Some((min_idle, start, end, count, consumer)) = extended else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = g.pel.keys().next().copied().unwrap_or_default();
        let last = g.pel.keys().next_back().copied().unwrap_or_default();
        let per = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    bulk(n),
                    Reply::Bulk(Bytes::from(c.pel.len().to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(per),
        ]));
    };
    if start > end || count == 0 {
        return Ok(Reply::Array(vec![]));
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        None => Box::new(g.pel.range(start..=end).map(|(id, _)| *id)),
        Some(c) => match g.consumers.get(c) {
            Some(c) => Box::new(c.pel.range(start..=end).copied()),
            None => return Ok(Reply::Array(vec![])),
        },
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= count {
            break;
        }
        let Some(p) = g.pel.get(&id) else { continue };
        let idle = now.saturating_sub(p.delivery_time);
        if min_idle > 0 && (idle as i64) < min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            id_reply(id),
            bulk(&p.consumer),
            Reply::Int(idle as i64),
            Reply::Int(p.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

// ---- XCLAIM ----

pub(super) fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name, cname) = (&args[1], &args[2], &args[3]);
    let now = ctx.now();
    let has_group = get_stream(ctx.db(key)?, key)?.map(|s| s.groups.contains_key(name));
    let min_idle = parse_i64(&args[4])
        .ok_or_else(|| CommandError::err("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(&args[j], 0, IdForm::Strict) {
            Ok((id, _)) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut time: Option<i64> = None;
    let mut retrycount: Option<i64> = None;
    let mut lastid = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j];
        let num = |a: &Bytes, what: &str| {
            parse_i64(a).ok_or_else(|| {
                CommandError::err(format!("ERR Invalid {what} option argument for XCLAIM"))
            })
        };
        if is(o, "FORCE") {
            force = true;
        } else if is(o, "JUSTID") {
            justid = true;
        } else if is(o, "IDLE") && more > 0 {
            j += 1;
            time = Some((now as i64).saturating_sub(num(&args[j], "IDLE")?));
        } else if is(o, "TIME") && more > 0 {
            j += 1;
            time = Some(num(&args[j], "TIME")?);
        } else if is(o, "RETRYCOUNT") && more > 0 {
            j += 1;
            retrycount = Some(num(&args[j], "RETRYCOUNT")?);
        } else if is(o, "LASTID") && more > 0 {
            j += 1;
            lastid = parse_id(&args[j], 0, IdForm::Strict)?.0;
        } else {
            return Err(CommandError::err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(o)
            )));
        }
        j += 1;
    }
    let delivery_time = match time {
        Some(t) if t >= 0 && (t as u64) <= now => t as u64,
        _ => now,
    };
    if has_group != Some(true) {
        return Err(no_key_or_group(key, name));
    }
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or_else(|| no_key_or_group(key, name))?;
    let mut g = s
        .groups
        .remove(name)
        .ok_or_else(|| no_key_or_group(key, name))?;
    let mut effects = Vec::new();
    let mut dirty = 0u64;
    let mut lastid_changed = false;
    if lastid > g.last_id {
        g.last_id = lastid;
        lastid_changed = true;
    }
    let mut out = Vec::new();
    for id in ids {
        let pending = g.pel.get(&id).cloned();
        let Some(e) = s.get(id) else {
            if pending.is_some() {
                // The entry is gone: the claim drops it, and a follower's XCLAIM does too.
                effects.push(claim_effect(key, name, &g, id));
                g.unpend(id);
                dirty += 1;
                lastid_changed = false;
            }
            continue;
        };
        let count = match &pending {
            Some(p) => {
                if min_idle > 0 && (now.saturating_sub(p.delivery_time) as i64) < min_idle {
                    continue;
                }
                p.delivery_count
            }
            // A pending entry made by FORCE starts as delivered once (Redis's new NACK).
            None if force => 1,
            None => continue,
        };
        let (c, _) = g.consumer(cname, now);
        c.seen_time = now;
        let count = match retrycount {
            Some(n) if n >= 0 => n as u64,
            _ if justid => count,
            _ => count + 1,
        };
        g.pend(id, cname, delivery_time, count);
        out.push(if justid { id_reply(id) } else { entry_reply(e) });
        effects.push(claim_effect(key, name, &g, id));
        dirty += 1;
        lastid_changed = false;
    }
    if lastid_changed {
        effects.push(setid_effect(key, name, &g));
        dirty += 1;
    }
    s.groups.insert(name.clone(), g);
    finish(ctx, effects, dirty);
    Ok(Reply::Array(out))
}

// ---- XAUTOCLAIM ----

pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name, cname) = (&args[1], &args[2], &args[3]);
    let now = ctx.now();
    let has_group = get_stream(ctx.db(key)?, key)?.map(|s| s.groups.contains_key(name));
    let min_idle = parse_i64(&args[4])
        .ok_or_else(|| CommandError::err("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let (start, ex) = parse_bound(&args[5], 0)?;
    let start = if ex {
        start
            .next()
            .ok_or_else(|| CommandError::err("ERR invalid start ID for the interval"))?
    } else {
        start
    };
    let mut count = 100usize;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "COUNT") && more > 0 {
            j += 1;
            let n =
                parse_i64(&args[j]).ok_or_else(|| CommandError::err("ERR COUNT must be > 0"))?;
            // Redis bounds COUNT so its deleted-ids buffer (16 bytes an id) fits a long.
            if !(1..=i64::MAX / 16).contains(&n) {
                return Err(CommandError::err("ERR COUNT must be > 0"));
            }
            count = n as usize;
        } else if is(&args[j], "JUSTID") {
            justid = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    if has_group != Some(true) {
        return Err(no_key_or_group(key, name));
    }
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or_else(|| no_key_or_group(key, name))?;
    let mut g = s
        .groups
        .remove(name)
        .ok_or_else(|| no_key_or_group(key, name))?;
    let mut attempts = count.saturating_mul(10);
    let mut effects = Vec::new();
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut dirty = 0u64;
    let mut cursor = start;
    let mut next = StreamId::MIN;
    loop {
        let Some((&id, p)) = g.pel.range(cursor..).next() else {
            next = StreamId::MIN;
            break;
        };
        if attempts == 0 || count == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        cursor = match id.next() {
            Some(n) => n,
            None => StreamId::MAX,
        };
        let last = id == StreamId::MAX;
        let Some(e) = s.get(id) else {
            effects.push(claim_effect(key, name, &g, id));
            g.unpend(id);
            deleted.push(id_reply(id));
            dirty += 1;
            count -= 1;
            if last {
                break;
            }
            continue;
        };
        if min_idle > 0 && (now.saturating_sub(p.delivery_time) as i64) < min_idle {
            if last {
                break;
            }
            continue;
        }
        let n = p.delivery_count + u64::from(!justid);
        let (c, _) = g.consumer(cname, now);
        c.seen_time = now;
        g.pend(id, cname, now, n);
        claimed.push(if justid { id_reply(id) } else { entry_reply(e) });
        effects.push(claim_effect(key, name, &g, id));
        dirty += 1;
        count -= 1;
        if last {
            break;
        }
    }
    s.groups.insert(name.clone(), g);
    finish(ctx, effects, dirty);
    Ok(Reply::Array(vec![
        id_reply(next),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}

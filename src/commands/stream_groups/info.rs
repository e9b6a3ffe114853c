//! XINFO GROUPS, XINFO CONSUMERS and the groups of XINFO STREAM FULL.

use super::*;

// ---- XINFO GROUPS / CONSUMERS / STREAM FULL ----

pub(in crate::commands) fn xinfo_groups(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[2];
    let s = get_stream(ctx.db(key)?, key)?.ok_or(CommandError::NoSuchKey)?;
    let out = s
        .groups
        .iter()
        .map(|(n, g)| {
            Reply::Map(vec![
                (b("name"), bulk(n)),
                (b("consumers"), Reply::Int(g.consumers.len() as i64)),
                (b("pending"), Reply::Int(g.pel.len() as i64)),
                (b("last-delivered-id"), id_reply(g.last_id)),
                (b("entries-read"), opt_int(g.entries_read)),
                (b("lag"), opt_int(s.group_lag(g))),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

pub(in crate::commands) fn xinfo_consumers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, name) = (&args[2], &args[3]);
    let now = ctx.now();
    let s = get_stream(ctx.db(key)?, key)?.ok_or(CommandError::NoSuchKey)?;
    let g = s
        .groups
        .get(name)
        .ok_or_else(|| no_group_for_key(key, name))?;
    let out = g
        .consumers
        .iter()
        .map(|(n, c)| {
            Reply::Map(vec![
                (b("name"), bulk(n)),
                (b("pending"), Reply::Int(c.pel.len() as i64)),
                (
                    b("idle"),
                    Reply::Int(now.saturating_sub(c.seen_time) as i64),
                ),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

/// XINFO STREAM FULL's `groups`: each group with at most `n` of its pending entries and of
/// each consumer's.
pub(in crate::commands) fn full_groups(s: &Stream, n: usize) -> Reply {
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pel
                .iter()
                .take(n)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        bulk(&p.consumer),
                        Reply::Int(p.delivery_time as i64),
                        Reply::Int(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cn, c)| {
                    let pending = c
                        .pel
                        .iter()
                        .take(n)
                        .filter_map(|id| g.pel.get(id).map(|p| (id, p)))
                        .map(|(id, p)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(p.delivery_time as i64),
                                Reply::Int(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        (b("name"), bulk(cn)),
                        (b("seen-time"), Reply::Int(c.seen_time as i64)),
                        (b("pel-count"), Reply::Int(c.pel.len() as i64)),
                        (b("pending"), Reply::Array(pending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (b("name"), bulk(name)),
                (b("last-delivered-id"), id_reply(g.last_id)),
                (b("entries-read"), opt_int(g.entries_read)),
                (b("lag"), opt_int(s.group_lag(g))),
                (b("pel-count"), Reply::Int(g.pel.len() as i64)),
                (b("pending"), Reply::Array(pending)),
                (b("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    Reply::Array(groups)
}

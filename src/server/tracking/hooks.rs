//! What a unit does for client-side caching, while it holds its shards: remember the keys a
//! tracking client read, and invalidate the keys its commands modified.
//!
//! Invariant: every function here runs only while the shards it is given are held, and is
//! reached only when `Tracking::active()` (or a unit found `Db::track_writes` set), so a
//! server nobody tracks on never gets here. A modified key is invalidated after the command
//! that modified it and before that command's own reads are remembered, so a read that
//! expired a key keeps tracking the key it then found missing, as in Redis.

use super::Push;
use crate::commands::{flags, CmdRef, Ctx, Group};
use crate::server::Server;
use crate::shard::ShardData;
use bytes::Bytes;

/// A unit's reads are remembered for its client (`Requester::flags`).
pub const TRACK_READS: u8 = 1;
/// The unit's client is in CLIENT NO-TOUCH mode (and the command is not TOUCH).
pub const NO_TOUCH: u8 = 2;

/// After one command of a unit, with tracking active: invalidations for what it modified, then
/// its keys remembered if it was a read of a client that tracks this one.
pub fn after_call(ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes]) {
    let server = ctx.server;
    if ctx.held.iter().flatten().any(|d| has_modified(d)) {
        let mut held: Vec<&mut ShardData> = ctx
            .held
            .iter_mut()
            .filter_map(|d| d.as_deref_mut())
            .collect();
        // Its own invalidations go inline after its reply when the writer is the unit's client.
        let own = (ctx.own_id == ctx.client_id).then_some(&mut ctx.local.own_pushes);
        invalidate_modified(server, &mut held, ctx.client_id, args, own);
    }
    // Redis remembers the keys of read-only commands (not Pub/Sub's shard channels); the
    // script commands run as connection commands and never reach here, their calls do.
    if ctx.unit_flags & TRACK_READS != 0
        && cmd.cmd.has(flags::READONLY)
        && cmd.cmd.group != Group::PubSub
    {
        remember(ctx, cmd, args);
    }
}

/// Notes that the unit's client read the command's keys.
fn remember(ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes]) {
    let server = ctx.server;
    let id = ctx.client_id;
    let max = server.tracking_max_keys();
    for i in cmd.cmd.key_indices(args) {
        let key = &args[i];
        let shard = server.slots.shard_of_key(key).index();
        let Some(data) = ctx.held.get_mut(shard).and_then(|d| d.as_deref_mut()) else {
            continue;
        };
        let added = data.tracked.remember(key, id);
        server.tracking.count(added.key as i64, added.item as i64);
        if max > 0 && server.tracking.total_keys() as u64 > max {
            evict_over_limit(server, data, max);
        }
    }
}

/// `tracking-table-max-keys`: while the tables hold more keys than allowed, this shard (the
/// only one the unit may touch for sure) forgets keys, possibly the one just read, and tells
/// their clients, as Redis invalidates the keys it drops from a full table.
fn evict_over_limit(server: &Server, data: &mut ShardData, max: u64) {
    while server.tracking.total_keys() as u64 > max {
        let Some((key, ids)) = data.tracked.evict_one() else {
            return;
        };
        server.tracking.count(-1, -(ids.len() as i64));
        send_to_readers(server, &key, ids, 0, None);
    }
}

/// Turns the keys the held shards' databases signalled as modified (and their flushes) into
/// invalidations, in the order of the command's arguments where they appear there; BCAST
/// prefixes collect them for the end of the unit. `writer` is the client that ran the
/// command (0: none), whom NOLOOP spares.
pub fn invalidate_modified(
    server: &Server,
    held: &mut [&mut ShardData],
    writer: u64,
    args: &[Bytes],
    mut own: Option<&mut Vec<Push>>,
) {
    let mut flushed = false;
    let mut modified: Vec<(usize, crate::keyspace::Str)> = Vec::new();
    for (s, d) in held.iter_mut().enumerate() {
        for db in &mut d.dbs {
            if db.flushed {
                db.flushed = false;
                flushed = true;
            }
            if !db.modified.is_empty() {
                modified.extend(db.modified.drain(..).map(|k| (s, k)));
            }
        }
    }
    if flushed {
        // Redis forgets its whole table on any flush and sends every tracking client a null.
        for d in held.iter_mut() {
            let (keys, items) = d.tracked.clear();
            server.tracking.count(-(keys as i64), -(items as i64));
        }
        server
            .tracking
            .send_flush(server, writer, own.as_deref_mut());
    }
    if modified.is_empty() {
        return;
    }
    if modified.len() > 1 && !args.is_empty() {
        modified.sort_by_key(|(_, k)| {
            args.iter()
                .skip(1)
                .position(|a| a[..] == k[..])
                .unwrap_or(usize::MAX)
        });
    }
    for (s, key) in modified {
        if let Some(ids) = held[s].tracked.take(&key) {
            server.tracking.count(-1, -(ids.len() as i64));
            send_to_readers(server, &key, ids, writer, own.as_deref_mut());
        }
        server.tracking.note_broadcast(&key, writer);
    }
}

/// One invalidation of `key` for each default-mode client in `ids` still tracking (NOLOOP
/// spares `writer`); the writer's own, without a redirect, into `own` when given.
fn send_to_readers(
    server: &Server,
    key: &[u8],
    ids: Vec<u64>,
    writer: u64,
    mut own: Option<&mut Vec<Push>>,
) {
    let key = Bytes::copy_from_slice(key);
    for id in ids {
        let Some(t) = server.tracking.get(id) else {
            continue;
        };
        if t.opts.bcast || (t.opts.noloop && id == writer) {
            continue;
        }
        let keys = super::Keys::Some(vec![key.clone()]);
        match own.as_deref_mut() {
            Some(own) if id == writer && t.opts.redirect == 0 => own.push(Push::Invalidate {
                keys,
                redirected: false,
            }),
            _ => server.tracking.send(server, &t, keys),
        }
    }
}

/// At the end of a unit (or of active expiry on a shard): what its commands left unsent
/// (keys signalled outside a command, such as eviction's or an undone script's), then the
/// BCAST prefixes' collected keys.
pub fn end_of_unit(server: &Server, held: &mut [&mut ShardData], writer: u64) {
    if held.iter().any(|d| has_modified(d)) {
        invalidate_modified(server, held, writer, &[], None);
    }
    server.tracking.send_broadcasts(server);
}

/// Whether a database of the shard signalled a modified key or a flush not yet drained.
fn has_modified(d: &ShardData) -> bool {
    d.dbs.iter().any(|db| db.flushed || !db.modified.is_empty())
}

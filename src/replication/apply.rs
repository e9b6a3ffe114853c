//! Applying a leader's stream on a follower, one atomic unit at a time.
//!
//! Invariant: a unit (one command, or everything between MULTI and EXEC) runs as one shard
//! unit holding every shard its commands touch, so a reader on the follower sees all of it or
//! none of it. While a unit is applied, its databases' clock reads 0: nothing looks expired,
//! so the leader's commands act on exactly the keys the leader had (the leader sends a DEL
//! for every key it expires).

use crate::commands::{self, Run};
use crate::server::Server;
use bytes::Bytes;
use std::sync::Arc;

/// One command of a unit, with its database.
pub type UnitCmd = (u16, Vec<Bytes>);

/// Splits a command stream into units and tracks the selected database.
pub struct Applier {
    pub db: u16,
    multi: Option<(u16, Vec<UnitCmd>)>,
}

/// What one command of the stream completed.
pub enum Fed {
    /// Still inside MULTI: nothing to apply, and no unit boundary.
    Inside,
    /// A unit boundary; apply the unit if there is one.
    Boundary(Option<Vec<UnitCmd>>),
}

impl Applier {
    pub fn new(db: u16) -> Applier {
        Applier { db, multi: None }
    }

    pub fn feed(&mut self, args: Vec<Bytes>) -> Fed {
        let name = args
            .first()
            .map(|a| a.to_ascii_uppercase())
            .unwrap_or_default();
        let db = match &mut self.multi {
            Some((db, _)) => db,
            None => &mut self.db,
        };
        match &name[..] {
            b"SELECT" => {
                if let Some(n) = args.get(1).and_then(|a| commands::parse_i64(a)) {
                    *db = n as u16;
                }
                if self.multi.is_some() {
                    Fed::Inside
                } else {
                    Fed::Boundary(None)
                }
            }
            b"MULTI" => {
                self.multi = Some((self.db, Vec::new()));
                Fed::Inside
            }
            b"EXEC" => match self.multi.take() {
                Some((db, cmds)) => {
                    self.db = db;
                    Fed::Boundary(Some(cmds))
                }
                None => Fed::Boundary(None),
            },
            _ => match &mut self.multi {
                Some((db, cmds)) => {
                    cmds.push((*db, args));
                    Fed::Inside
                }
                None => Fed::Boundary(Some(vec![(self.db, args)])),
            },
        }
    }
}

/// Applies one unit. Script bodies go to the registry; data commands run as one shard unit.
pub async fn apply(server: &Arc<Server>, unit: Vec<UnitCmd>) {
    apply_on(server, unit, false, None).await
}

/// Applies one unit of the leader's stream and mirrors its bytes (`raw`, after which the
/// stream is in database `db`) into this node's stream, in the same shard unit: a snapshot
/// taken here sees the unit's data exactly when its offset includes the unit.
pub async fn apply_mirrored(server: &Arc<Server>, unit: Vec<UnitCmd>, raw: Bytes, db: u16) {
    apply_on(server, unit, false, Some((raw, db))).await
}

/// Mirrors stream bytes that change no data (a SELECT, the leader's keepalive PING).
pub fn mirror_only(server: &Server, raw: Bytes, db: u16, log: bool) {
    server.repl.stream.with(|s| s.mirror(raw, db, log));
}

/// Applies several whole units (loading a file at start) as one shard unit holding every
/// shard: far fewer round trips than one unit each, and still atomic per unit.
pub async fn apply_batch(server: &Arc<Server>, units: Vec<UnitCmd>) {
    apply_on(server, units, true, None).await
}

async fn apply_on(
    server: &Arc<Server>,
    unit: Vec<UnitCmd>,
    every_shard: bool,
    mirror: Option<(Bytes, u16)>,
) {
    let mut shards: Vec<usize> = Vec::new();
    let mut calls = Vec::with_capacity(unit.len());
    for (db, args) in unit {
        if args.len() == 3
            && args[0].eq_ignore_ascii_case(b"SCRIPT")
            && args[1].eq_ignore_ascii_case(b"LOAD")
        {
            if let Err(e) = crate::scripting::eval::load_body(server, &args[2]) {
                tracing::warn!(error = %e, "replicated script body does not load");
            }
            continue;
        }
        if args.len() == 4
            && args[0].eq_ignore_ascii_case(b"FUNCTION")
            && args[1].eq_ignore_ascii_case(b"RESTORE")
        {
            let limit = server.config().lua_memory_limit;
            let functions = &server.scripting.functions;
            if let Err(e) = functions.restore(&args[2], crate::functions::Policy::Flush, limit) {
                tracing::warn!(error = %e, "replicated function libraries do not load");
            }
            continue;
        }
        if args.len() == 3
            && (args[0].eq_ignore_ascii_case(b"PUBLISH")
                || args[0].eq_ignore_ascii_case(b"SPUBLISH"))
        {
            // To this node's own subscribers, as a replica does; not when loading a file at
            // start (those messages were delivered long ago).
            if !every_shard {
                let shard = args[0].eq_ignore_ascii_case(b"SPUBLISH");
                server.pubsub.publish(&args[1], &args[2], shard);
            }
            continue;
        }
        let cmd = match commands::lookup(&args) {
            Ok(c) if matches!(c.cmd.run, Run::Shard(_)) => c,
            _ => {
                tracing::warn!(command = %String::from_utf8_lossy(&args[0]), "replicated command not applicable; skipped");
                continue;
            }
        };
        for s in server.route(cmd.cmd, &args) {
            if !shards.contains(&s) {
                shards.push(s);
            }
        }
        calls.push((db, cmd, args));
    }
    if calls.is_empty() {
        if let Some((raw, db)) = mirror {
            mirror_only(server, raw, db, true);
        }
        return;
    }
    if every_shard {
        shards = super::all_shards(server);
    }
    shards.sort_unstable();
    let job = move |ctx: &mut crate::commands::Ctx<'_>| {
        for s in ctx.held_shards() {
            for d in &mut s.dbs {
                d.now = 0;
            }
        }
        for (db, cmd, args) in calls {
            ctx.db = db as usize;
            if let crate::protocol::Reply::Error(e) = commands::call(ctx, cmd, &args) {
                tracing::warn!(error = %e, "replicated command failed");
            }
        }
        if let Some((raw, db)) = mirror {
            // The leader's bytes stand for the unit's effects, still holding its shards.
            if let Some(effects) = ctx.effects.as_deref_mut() {
                effects.clear();
            }
            ctx.server.repl.stream.with(|s| s.mirror(raw, db, true));
        }
    };
    // Inline when the shards are free, as a client's unit runs (no hand-off to the shard
    // thread per unit); units still apply one after the other, in stream order.
    if let Some(hold) = crate::shard::Hold::try_take(server, &shards) {
        let mut table: Vec<_> = (0..server.shards.len()).map(|_| None).collect();
        let who = crate::shard::Requester {
            db: 0,
            resp: 2,
            client_id: 0,
            flags: 0,
        };
        let work = crate::shard::Work::Job(Box::new(move |ctx| {
            job(ctx);
            crate::protocol::Reply::Nil
        }));
        hold.run(server, &mut table, who, work, &mut bytes::BytesMut::new());
        return;
    }
    super::run_on(server, shards, job).await;
}

/// Replaces the whole dataset with a snapshot's commands, as one unit holding every shard,
/// at whose end the stream takes the leader's history `replid` at `offset` (so the data and
/// the history change together, however the sync ends). Returns the database the snapshot's
/// commands end in (where its stream continues).
pub async fn load_snapshot(
    server: &Arc<Server>,
    payload: Bytes,
    replid: String,
    offset: u64,
) -> Result<u16, String> {
    let mut decoder = crate::protocol::RequestDecoder::new(i64::MAX);
    decoder.authenticated = true;
    let mut buf = bytes::BytesMut::from(&payload[..]);
    let mut applier = Applier::new(0);
    let mut units = Vec::new();
    while !buf.is_empty() {
        match decoder.decode(&mut buf) {
            Ok(Some(args)) => {
                if let Fed::Boundary(Some(u)) = applier.feed(args) {
                    units.extend(u);
                }
            }
            Ok(None) => return Err("snapshot ends in the middle of a command".into()),
            Err(e) => return Err(format!("snapshot does not parse: {e}")),
        }
    }
    let end_db = applier.db;
    // The log gets the data now, and must then be where the leader's stream is.
    server.repl.stream.with(|s| s.set_mirror_db(end_db));
    let flush: Vec<Bytes> = vec![Bytes::from_static(b"FLUSHALL")];
    let mut all = vec![(0u16, flush)];
    all.extend(units);
    // Script bodies first (outside the data unit), then the data in one unit on every shard.
    let (scripts, data): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, a)| {
        (a.len() == 3 && a[0].eq_ignore_ascii_case(b"SCRIPT"))
            || (a.len() == 4 && a[0].eq_ignore_ascii_case(b"FUNCTION"))
    });
    apply(server, scripts).await;
    let n = server.shards.len();
    let mut calls = Vec::with_capacity(data.len());
    for (db, args) in data {
        match commands::lookup(&args) {
            Ok(c) if matches!(c.cmd.run, Run::Shard(_)) => calls.push((db, c, args)),
            _ => {
                return Err(format!(
                    "snapshot holds an unknown command {}",
                    String::from_utf8_lossy(&args[0])
                ))
            }
        }
    }
    super::run_on(server, (0..n).collect(), move |ctx| {
        for s in ctx.held_shards() {
            for d in &mut s.dbs {
                d.now = 0;
            }
        }
        for (db, cmd, args) in calls {
            ctx.db = db as usize;
            commands::call(ctx, cmd, &args);
        }
        ctx.server
            .repl
            .stream
            .with(|s| s.follow_full(replid, offset, end_db));
    })
    .await
    .map(|()| end_db)
    .ok_or_else(|| "shards are not running".to_string())
}

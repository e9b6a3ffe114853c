//! `Ctx`: what a command sees while its unit runs (inline on a connection's thread, or on a
//! shard thread).
//!
//! Fields: `held` are the shards this unit holds exclusively (see src/shard/hold.rs), indexed
//! by shard; a key on a shard not held is `CommandError::NotHeld`. The context lives on one
//! thread for the duration of one unit and is never sent.

use crate::error::{CmdResult, CommandError};
use crate::keyspace::Db;
use crate::server::Server;
use crate::shard::{ShardData, ShardLocal};
use bytes::Bytes;

/// One applied write, as the deterministic command that reproduces it.
#[derive(Clone, Debug, PartialEq)]
pub struct Effect {
    pub db: u16,
    pub args: Vec<Bytes>,
}

/// The name of expiry DELs; its address (a `static` is unique) tells them from client DELs.
static EXPIRY_DEL: [u8; 3] = *b"DEL";

impl Effect {
    /// The DEL that replicates the expiry of `key`.
    pub fn expiry_del(db: u16, key: Bytes) -> Effect {
        Effect {
            db,
            args: vec![Bytes::from_static(&EXPIRY_DEL), key],
        }
    }

    /// Whether this is an expiry DEL (kept even when a script's run is undone: the undo
    /// does not bring expired keys back).
    pub fn is_expiry(&self) -> bool {
        self.args
            .first()
            .is_some_and(|a| a.as_ptr() == EXPIRY_DEL.as_ptr())
    }
}

pub struct Ctx<'a> {
    pub(crate) held: &'a mut [Option<Box<ShardData>>],
    pub server: &'a Server,
    /// The shard thread running this unit.
    pub home: usize,
    pub local: &'a mut ShardLocal,
    /// The selected database.
    pub db: usize,
    /// The client's protocol (2 or 3).
    pub resp: u8,
    pub client_id: u64,
    /// Where effects go; `None` when nothing consumes them (no followers, no log).
    pub effects: Option<&'a mut Vec<Effect>>,
    /// Count of changes made, as Redis's `server.dirty`.
    pub dirty: u64,
    pub(crate) custom_effect: bool,
    pub in_script: bool,
    pub in_multi: bool,
    /// Set while a command runs that the connection routed to this one shard by all of its
    /// keys (a batched call, not a script's): its keys need no slot computed again.
    pub(crate) routed: Option<usize>,
    /// Keyspace events kept back until the unit knows it will not be abandoned (a script run
    /// that does not hold every shard); `None`: published as each command ends.
    pub(crate) events: Option<Vec<super::notify::KeyEvent>>,
    /// The unit's `Requester::flags` (client-side caching, NO-TOUCH).
    pub(crate) unit_flags: u8,
    /// The unit's own client (`client_id` as the unit began; serving a blocked client changes
    /// `client_id` for a while): invalidations its own commands cause go to
    /// `ShardLocal::own_pushes` and are written right after that command's reply.
    pub(crate) own_id: u64,
}

impl<'a> Ctx<'a> {
    /// The shard that owns `key`'s slot.
    #[inline]
    fn shard_of(&self, key: &[u8]) -> usize {
        match self.routed {
            Some(s) => {
                debug_assert_eq!(
                    s,
                    self.server.slots.shard_of_key(key).index(),
                    "a command touched a key its routing did not name"
                );
                s
            }
            None => self.server.slots.shard_of_key(key).index(),
        }
    }

    /// The database holding `key`, on whichever held shard owns its slot.
    #[inline]
    pub fn db(&mut self, key: &[u8]) -> CmdResult<&mut Db> {
        let shard = self.shard_of(key);
        let db = self.db;
        match self.held.get_mut(shard).and_then(|s| s.as_mut()) {
            Some(data) => Ok(&mut data.dbs[db]),
            None => Err(CommandError::NotHeld(shard)),
        }
    }

    /// Database `index` of `key`'s shard (MOVE, SWAPDB-like cross-db access).
    pub fn db_index(&mut self, key: &[u8], index: usize) -> CmdResult<&mut Db> {
        let shard = self.shard_of(key);
        match self.held.get_mut(shard).and_then(|s| s.as_mut()) {
            Some(data) => data
                .dbs
                .get_mut(index)
                .ok_or_else(|| CommandError::err("ERR DB index is out of range")),
            None => Err(CommandError::NotHeld(shard)),
        }
    }

    /// Every held shard, in ascending order (keyspace-wide commands hold them all).
    pub fn held_shards(&mut self) -> impl Iterator<Item = &mut ShardData> {
        self.held.iter_mut().filter_map(|s| s.as_deref_mut())
    }

    /// Whether this unit holds every shard.
    pub fn holds_all(&self) -> bool {
        self.held.iter().all(|s| s.is_some())
    }

    /// Number of shards in the server.
    pub fn shard_count(&self) -> usize {
        self.held.len()
    }

    /// Records that the data changed (`n` changes), so the command's effect is kept.
    pub fn dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    /// Records `args` as this command's effect instead of the command as it was called (for
    /// non-deterministic or relative-time commands). May be called several times.
    pub fn propagate(&mut self, args: Vec<Bytes>) {
        self.custom_effect = true;
        let db = self.db as u16;
        if let Some(e) = self.effects.as_deref_mut() {
            e.push(Effect { db, args });
        }
    }

    pub(crate) fn propagate_args(&mut self, args: &[Bytes]) {
        let db = self.db as u16;
        if let Some(e) = self.effects.as_deref_mut() {
            e.push(Effect {
                db,
                args: args.to_vec(),
            });
        }
    }

    /// Turns keys expired since the last drain into DEL effects placed at `at` (before the
    /// effects of the command that found them expired, as the expiry happened first).
    pub(crate) fn expiry_effects_at(&mut self, at: usize) {
        let Some(effects) = self.effects.as_deref_mut() else {
            return;
        };
        let mut dels = Vec::new();
        for d in self.held.iter_mut().flatten() {
            for (i, db) in d.dbs.iter_mut().enumerate() {
                for k in db.expired.drain(..) {
                    dels.push(Effect::expiry_del(i as u16, k.to_bytes()));
                }
            }
        }
        if !dels.is_empty() {
            let at = at.min(effects.len());
            effects.splice(at..at, dels);
        }
    }

    /// Whether effects are being collected (lets commands skip building custom effects).
    pub fn wants_effects(&self) -> bool {
        self.effects.is_some()
    }

    /// The current time in unix milliseconds, fixed for the whole unit.
    pub fn now(&self) -> u64 {
        self.local.now
    }
}

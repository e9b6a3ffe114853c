//! The undo log of one script run: the prior value and expiry of every key the run is about to
//! write, taken before its first write in this run.
//!
//! Invariant: after `restore`, every key the run wrote (through commands whose key positions
//! name it) holds exactly what it held before the run, so a run that is abandoned to be re-run
//! with more shards leaves no trace in the data. Only kept while a re-run is possible (the unit
//! does not hold every shard).

use crate::commands::{CmdRef, Ctx};
use crate::keyspace::{Entry, Str};
use bytes::Bytes;
use std::collections::HashSet;

struct Saved {
    db: usize,
    key: Bytes,
    entry: Option<Entry>,
    expire_at: Option<u64>,
}

#[derive(Default)]
pub struct UndoLog {
    saved: Vec<Saved>,
    seen: HashSet<(usize, Bytes)>,
}

impl UndoLog {
    /// Saves the keys `cmd` is about to write (it must be a write command whose keys are all on
    /// held shards).
    pub fn record_command(&mut self, ctx: &mut Ctx<'_>, cmd: CmdRef, args: &[Bytes]) {
        // MOVE and COPY … DB write the key in another database of the same shard.
        let all_dbs = matches!(cmd.cmd.name, "move" | "copy");
        let dbs: Vec<usize> = if all_dbs {
            (0..ctx.server.config().databases).collect()
        } else {
            vec![ctx.db]
        };
        for i in cmd.cmd.key_indices(args) {
            for &db in &dbs {
                self.record(ctx, db, &args[i]);
            }
        }
    }

    fn record(&mut self, ctx: &mut Ctx<'_>, db: usize, key: &Bytes) {
        if self.seen.contains(&(db, key.clone())) {
            return;
        }
        let Ok(d) = ctx.db_index(key, db) else {
            return;
        };
        let entry = d.peek(key).map(|e| e.to_entry());
        let expire_at = if entry.is_some() {
            d.expire_at(key)
        } else {
            None
        };
        self.seen.insert((db, key.clone()));
        self.saved.push(Saved {
            db,
            key: key.clone(),
            entry,
            expire_at,
        });
    }

    /// Puts every saved key back as it was.
    pub fn restore(self, ctx: &mut Ctx<'_>) {
        for s in self.saved.into_iter().rev() {
            let Ok(d) = ctx.db_index(&s.key, s.db) else {
                continue;
            };
            match s.entry {
                Some(entry) => {
                    d.restore_entry(&s.key, entry);
                    d.expires.remove(&s.key);
                    if let Some(at) = s.expire_at {
                        d.expires.insert(Str::new(&s.key), at);
                    }
                }
                None => {
                    d.keys.remove(&s.key);
                    d.expires.remove(&s.key);
                }
            }
            d.signal(&s.key);
        }
    }
}

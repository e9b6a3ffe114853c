//! The undo log of one script run: the prior value and expiry of every key the run is about to
//! write, taken before its first write in this run, and the statistics its calls added.
//!
//! Invariant: after `restore`, every key the run wrote (through commands whose key positions
//! name it) holds exactly what it held before the run, and INFO's command and error statistics
//! are as if its calls never ran, so a run that is abandoned to be re-run with more shards
//! leaves no trace in the data or the counts. Only kept while a re-run is possible (the unit
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

/// What one call of the run added to the statistics.
pub enum Counted {
    /// A data command (the home shard's statistics): id, microseconds, failed, error line.
    Call(u16, u64, bool, Option<String>),
    /// A connection command (the server's connection statistics).
    ConnCall(u16, u64, bool, Option<String>),
    /// A refused call: its command's rejected count (if known) and its error line.
    Refused(Option<u16>, &'static str),
}

#[derive(Default)]
pub struct UndoLog {
    saved: Vec<Saved>,
    seen: HashSet<(usize, Bytes)>,
    counted: Vec<Counted>,
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

    /// Notes what a call added to the statistics.
    pub fn counted(&mut self, c: Counted) {
        self.counted.push(c);
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
        let server = ctx.server;
        for c in self.counted {
            match c {
                Counted::Call(id, usec, failed, line) => {
                    server.shards[ctx.home]
                        .stats
                        .unrecord_held(id, usec, u32::from(failed));
                    line.inspect(|l| server.errors.unrecord(l));
                }
                Counted::ConnCall(id, usec, failed, line) => {
                    server.conn_stats.unrecord(id, usec, u32::from(failed));
                    line.inspect(|l| server.errors.unrecord(l));
                }
                Counted::Refused(id, line) => {
                    id.inspect(|&id| server.conn_stats.unreject(id));
                    server.errors.unrecord(line);
                }
            }
        }
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

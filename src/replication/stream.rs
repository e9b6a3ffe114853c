//! The effect stream: every applied write, in one total order, as RESP commands with byte
//! offsets.
//!
//! Invariants:
//! - `offset` counts every byte ever published under the current `replid`; it only grows.
//!   Before `replid`, the same bytes were offsets of `replid2` up to `second_offset - 1`
//!   (Redis's PSYNC2): a promotion keeps the history it followed, so followers of the old
//!   leader continue from this node with a partial resync.
//! - On a follower (from REPLICAOF on) the stream *mirrors* its leader's: the leader's bytes, whole units at a
//!   time, at the leader's offsets under the leader's replid, so this node can serve its own
//!   followers (chained) and, once promoted, continue the history. Its own publications then
//!   go to its log only (as Redis's replicas propagate only what their leader sent).
//! - A published unit is contiguous in the stream and atomic: a unit of several commands is
//!   written as `MULTI … EXEC` (inner MULTI/EXEC markers from transactions and scripts are
//!   flattened first), so a reader that applies whole units never sees half of one.
//! - `SELECT n` precedes a command whenever its database differs from the previous command's
//!   (and after `reset_db`, before the first command), so the stream is self-describing from
//!   any unit boundary a follower may start at.
//! - The backlog holds the last `capacity` bytes (`backlog_start..offset`).
//! - Publishing happens under one mutex, called by a unit while it still holds its shards, so
//!   the order is consistent with every shard's own order and with multi-shard units.

use crate::commands::Effect;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Something written alongside the stream (the append-only log).
pub trait Sink: Send {
    /// Called with each unit's bytes, in order, under the stream's lock.
    fn write(&mut self, unit: &[u8]);
    /// Writes out whatever `write` buffered (under the stream's lock).
    fn flush(&mut self) {}
}

pub struct Subscriber {
    pub id: u64,
    pub tx: UnboundedSender<Bytes>,
    /// Bytes sent to `tx` and not yet written to the follower's socket.
    pub pending: Arc<AtomicU64>,
    /// Most pending bytes before the follower is dropped (`replica-output-buffer-limit`;
    /// 0 = no limit), so a stalled follower cannot grow the leader's memory without bound.
    pub limit: u64,
    /// Woken when the follower is dropped for its limit, so a write blocked on its stalled
    /// socket is abandoned too.
    pub dropped: Arc<tokio::sync::Notify>,
}

impl Subscriber {
    /// Queues `bytes`; false when the follower is gone or over its limit (it is dropped).
    fn offer(&self, bytes: &Bytes) -> bool {
        let pending = self.pending.fetch_add(bytes.len() as u64, Relaxed) + bytes.len() as u64;
        if self.limit > 0 && pending > self.limit {
            tracing::warn!(
                replica = self.id,
                pending,
                "follower over its output buffer limit; disconnecting it"
            );
            self.dropped.notify_one();
            return false;
        }
        self.tx.send(bytes.clone()).is_ok()
    }
}

pub struct Inner {
    pub replid: String,
    pub offset: u64,
    /// The history this one continues (all zeros when none) and the first offset that was
    /// not part of it (`-1` when none), as Redis's `master_replid2` / `second_repl_offset`.
    pub replid2: String,
    pub second_offset: i64,
    /// True on a follower: the stream mirrors the leader's (see the module's invariants).
    mirroring: bool,
    /// While mirroring: the database the leader's stream selected last.
    mirror_db: u16,
    /// Whether this node's data is at `offset` of a leader's history (a sync, or a history
    /// resumed at start), even at offset 0: its next PSYNC names it.
    synced_history: bool,
    backlog: VecDeque<u8>,
    capacity: usize,
    /// Database of the last command written, `None` when the next one must SELECT.
    db: Option<u16>,
    pub subscribers: Vec<Subscriber>,
    pub sink: Option<Box<dyn Sink>>,
    /// Script bodies already sent under this replid (re-sent only when new).
    scripts_sent: hashbrown::HashSet<[u8; 40]>,
    /// The function library set (FUNCTION DUMP payload) readers have last been sent, `None`
    /// before the first; a publication of the same set is skipped.
    functions_sent: Option<Bytes>,
}

pub struct Stream {
    inner: Mutex<Inner>,
}

/// `replid2` when there is no previous history.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// A fresh random 40-hex-digit replication id.
pub fn new_replid() -> String {
    (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

impl Stream {
    pub fn new(capacity: usize) -> Stream {
        Stream {
            inner: Mutex::new(Inner {
                replid: new_replid(),
                offset: 0,
                replid2: NO_REPLID.to_string(),
                second_offset: -1,
                mirroring: false,
                mirror_db: 0,
                synced_history: false,
                backlog: VecDeque::new(),
                capacity: capacity.max(1),
                db: None,
                subscribers: Vec::new(),
                sink: None,
                scripts_sent: Default::default(),
                functions_sent: None,
            }),
        }
    }

    /// Runs `f` with the stream locked (snapshots pin their offset this way).
    pub fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Appends one unit's effects; returns the offset after it.
    pub fn publish(&self, effects: &[Effect]) -> u64 {
        self.with(|s| s.publish(effects))
    }

    /// Publishes `SCRIPT LOAD body` unless this body already went out under this replid.
    pub fn publish_script(&self, sha: [u8; 40], body: &Bytes) {
        self.with(|s| {
            if s.scripts_sent.insert(sha) {
                s.publish(&[Effect {
                    db: 0,
                    args: vec![
                        Bytes::from_static(b"SCRIPT"),
                        Bytes::from_static(b"LOAD"),
                        body.clone(),
                    ],
                }]);
            }
        })
    }

    /// Publishes the function library set `dump()` returns, read under the stream's lock so
    /// concurrent changes reach the stream in the order they were made (the last publication
    /// is always the newest set); nothing when readers already have that set. Returns the
    /// offset after it.
    pub fn publish_functions(&self, dump: impl FnOnce() -> Bytes) -> u64 {
        self.with(|s| {
            let dump = dump();
            s.publish_functions_if_new(dump);
            s.offset
        })
    }

    /// Writes out what the sink buffered (see `persistence::aof::flush`).
    pub fn flush_sink(&self) {
        self.with(|s| {
            if let Some(sink) = s.sink.as_mut() {
                sink.flush();
            }
        })
    }

    pub fn offset(&self) -> u64 {
        self.with(|s| s.offset)
    }

    pub fn replid(&self) -> String {
        self.with(|s| s.replid.clone())
    }
}

impl Inner {
    pub fn publish(&mut self, effects: &[Effect]) -> u64 {
        if self.mirroring {
            self.log_only(effects);
            return self.offset;
        }
        let bytes = self.encode(effects);
        if bytes.is_empty() {
            return self.offset;
        }
        self.append(bytes);
        self.offset
    }

    /// A follower's own publication (loading a full sync, a script body it was sent): into
    /// its log, stating its databases, then back to the database the leader's stream is in,
    /// since the mirrored units that follow may not select it again.
    fn log_only(&mut self, effects: &[Effect]) {
        if self.sink.is_none() {
            return;
        }
        self.db = None;
        let encoded = self.encode(effects);
        let mut bytes = encoded
            .try_into_mut()
            .unwrap_or_else(|b| BytesMut::from(&b[..]));
        if bytes.is_empty() {
            return;
        }
        if self.db != Some(self.mirror_db) {
            let n = self.mirror_db.to_string();
            put_command(&mut bytes, &[b"SELECT", n.as_bytes()]);
        }
        self.db = None;
        if let Some(sink) = self.sink.as_mut() {
            sink.write(&bytes);
        }
    }

    /// Appends one whole unit of the leader's stream, as received, after it has been applied
    /// (`db`: the database the leader's stream is in after it). A keepalive PING is counted
    /// and forwarded but not logged, as the leader's own.
    pub fn mirror(&mut self, unit: Bytes, db: u16, log: bool) {
        self.mirror_db = db;
        self.db = None;
        if !unit.is_empty() {
            self.append_to(unit, log);
        }
    }

    /// While mirroring, the database the leader's stream is in (a full sync's last SELECT).
    pub fn set_mirror_db(&mut self, db: u16) {
        self.mirror_db = db;
    }

    /// A full sync: from now on the stream mirrors the leader's history `replid` from
    /// `offset`, in database `db`. Its own followers are let go: the data they had is gone.
    pub fn follow_full(&mut self, replid: String, offset: u64, db: u16) {
        self.mirroring = true;
        self.synced_history = true;
        self.replid = replid;
        self.offset = offset;
        self.replid2 = NO_REPLID.to_string();
        self.second_offset = -1;
        self.backlog.clear();
        self.subscribers.clear();
        self.forget_sent();
        self.mirror_db = db;
        self.db = None;
    }

    /// A partial resync: the leader continues this node's history, now named `replid` (a
    /// different name when the leader was promoted since: the old one becomes `replid2`, and
    /// this node's own followers are let go so that they ask again under it).
    pub fn follow_partial(&mut self, replid: &str) {
        self.start_following();
        self.synced_history = true;
        if !replid.is_empty() && replid != self.replid {
            self.shift_history(replid.to_string());
            self.subscribers.clear();
        }
        self.db = None;
    }

    /// This node now follows a leader: its own publications go to its log only, and the
    /// stream keeps the history it has until the leader's sync replaces or continues it.
    pub fn start_following(&mut self) {
        if !self.mirroring {
            self.mirroring = true;
            // A leader's own database, or the one a resumed history was in.
            self.mirror_db = self.db.unwrap_or(self.mirror_db);
            self.db = None;
            self.forget_sent();
        }
    }

    /// Back to leading the same history, when no leader took this node on (a failed
    /// FAILOVER hand-over).
    pub fn lead_again(&mut self) {
        self.mirroring = false;
        self.db = None;
    }

    /// Promotion: a new history that continues this one (`replid2`), so followers of the old
    /// leader resynchronize partially here. Its followers are let go to ask again under the
    /// new name.
    pub fn promote(&mut self) {
        self.mirroring = false;
        self.shift_history(new_replid());
        self.subscribers.clear();
        self.db = None;
        self.forget_sent();
    }

    fn shift_history(&mut self, replid: String) {
        self.replid2 = std::mem::replace(&mut self.replid, replid);
        self.second_offset = self.offset as i64 + 1;
    }

    /// Script bodies and libraries will be published again when next needed (the leader's
    /// were mirrored, not recorded as this node's).
    fn forget_sent(&mut self) {
        self.scripts_sent.clear();
        self.functions_sent = None;
    }

    /// Whether a follower asking for `replid` from offset `next` (PSYNC's arguments: one
    /// past what it has) can continue from this stream's backlog: the same history, or the
    /// one this continues up to where it was left.
    pub fn continues(&self, replid: &str, next: i64) -> bool {
        next >= 1
            && (replid == self.replid
                || (replid == self.replid2 && replid != NO_REPLID && next <= self.second_offset))
    }

    fn append(&mut self, bytes: Bytes) {
        self.append_to(bytes, true);
    }

    fn append_to(&mut self, bytes: Bytes, to_sink: bool) {
        self.offset += bytes.len() as u64;
        self.backlog.extend(bytes.iter());
        let excess = self.backlog.len().saturating_sub(self.capacity);
        if excess > 0 {
            self.backlog.drain(..excess);
        }
        if to_sink {
            if let Some(sink) = self.sink.as_mut() {
                sink.write(&bytes);
            }
        }
        self.subscribers.retain(|s| s.offer(&bytes));
    }

    /// A keepalive PING for followers: counted in the offset like any unit (followers count
    /// every byte), never written to the log, and it leaves the selected database alone.
    pub fn publish_ping(&mut self) {
        // A follower forwards its leader's PINGs instead.
        if !self.subscribers.is_empty() && !self.mirroring {
            self.append_to(Bytes::from_static(PING), false);
        }
    }

    /// Offset of the first byte still in the backlog.
    pub fn backlog_start(&self) -> u64 {
        self.offset - self.backlog.len() as u64
    }

    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        let excess = self.backlog.len().saturating_sub(self.capacity);
        self.backlog.drain(..excess);
    }

    /// The stream from offset `from` to now, if the backlog still holds it.
    pub fn since(&self, from: u64) -> Option<Bytes> {
        if from < self.backlog_start() || from > self.offset {
            return None;
        }
        let skip = (from - self.backlog_start()) as usize;
        let (a, b) = self.backlog.as_slices();
        let mut out = BytesMut::with_capacity(self.backlog.len() - skip);
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        Some(out.freeze())
    }

    /// The next command written states its database again (a new reader starts here).
    pub fn reset_db(&mut self) {
        self.db = None;
    }

    /// What a PSYNC of this node names: its history and the next offset it needs, or `None`
    /// when its data is at no history a leader could continue (nothing written, never synced).
    pub fn psync_position(&self) -> Option<(String, u64)> {
        (self.synced_history || self.offset > 0).then(|| (self.replid.clone(), self.offset + 1))
    }

    /// Where the stream is: its replid, offset and the database its next unit continues in
    /// (a follower's: its leader's; a leader's next unit selects its own anyway).
    pub fn position(&self) -> (String, u64, u16) {
        let db = self.mirrored_db().or(self.db).unwrap_or(0);
        (self.replid.clone(), self.offset, db)
    }

    /// At start, the history the data on disk is at (`persistence::history`), with an empty
    /// backlog. A follower (`follows`) asks its leader to continue it; a leader continues it
    /// under a new name, as Redis does, so its followers resume partially only from where the
    /// data is (one that claims more of the old history than survived is refused).
    pub fn resume(&mut self, replid: String, offset: u64, db: u16, follows: bool) {
        self.replid = replid;
        self.offset = offset;
        self.replid2 = NO_REPLID.to_string();
        self.second_offset = -1;
        self.backlog.clear();
        self.mirror_db = db;
        self.db = None;
        self.synced_history = true;
        if !follows {
            self.shift_history(new_replid());
        }
    }

    /// Closes the log at a clean exit: what it holds ends here (see `position`).
    pub fn close_sink(&mut self) {
        if let Some(mut sink) = self.sink.take() {
            sink.flush();
        }
    }

    /// While mirroring, the database the leader's stream is in: a snapshot taken now must
    /// end by selecting it, since the mirrored units after the cut may not.
    pub fn mirrored_db(&self) -> Option<u16> {
        self.mirroring.then_some(self.mirror_db)
    }

    fn publish_functions_if_new(&mut self, dump: Bytes) {
        if self.functions_sent.as_ref() == Some(&dump) {
            return;
        }
        self.publish(&[Effect {
            db: 0,
            args: vec![
                Bytes::from_static(b"FUNCTION"),
                Bytes::from_static(b"RESTORE"),
                dump.clone(),
                Bytes::from_static(b"FLUSH"),
            ],
        }]);
        self.functions_sent = Some(dump);
    }

    /// Called at a snapshot's cut, with the script bodies and the function library set that
    /// exist now. A SCRIPT LOAD or FUNCTION change may be visible (so in the snapshot) but not
    /// yet published; it is published here, before the cut, so existing readers get it once
    /// and the snapshot's reader (the new log, a new follower) gets it only from the snapshot,
    /// while the later publication is skipped as already sent. Nothing is lost or duplicated
    /// either way. Bodies dropped by SCRIPT FLUSH are forgotten, so loading one again after
    /// the cut is published again (the snapshot no longer has it).
    pub fn cut(&mut self, scripts: &[([u8; 40], Bytes)], functions: Bytes, no_functions: bool) {
        for (sha, body) in scripts {
            if !self.scripts_sent.contains(sha) {
                self.publish(&[Effect {
                    db: 0,
                    args: vec![
                        Bytes::from_static(b"SCRIPT"),
                        Bytes::from_static(b"LOAD"),
                        body.clone(),
                    ],
                }]);
            }
        }
        self.scripts_sent = scripts.iter().map(|(sha, _)| *sha).collect();
        // With no libraries, readers never sent any have nothing to learn; readers that were
        // sent some need the empty set.
        if !(no_functions && self.functions_sent.is_none()) {
            self.publish_functions_if_new(functions);
        }
    }

    fn encode(&mut self, effects: &[Effect]) -> Bytes {
        let cmds: Vec<&Effect> = effects.iter().filter(|e| !is_marker(e)).collect();
        let mut out = BytesMut::new();
        if cmds.is_empty() {
            return out.freeze();
        }
        let wrap = cmds.len() > 1;
        if wrap {
            put_command(&mut out, &[b"MULTI"]);
        }
        for e in cmds {
            if self.db != Some(e.db) {
                let n = e.db.to_string();
                put_command(&mut out, &[b"SELECT", n.as_bytes()]);
                self.db = Some(e.db);
            }
            put_command(&mut out, &e.args);
        }
        if wrap {
            put_command(&mut out, &[b"EXEC"]);
        }
        out.freeze()
    }
}

/// The in-stream keepalive, as it is encoded.
pub const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// MULTI/EXEC markers added by transactions and scripts (the stream wraps units itself).
fn is_marker(e: &Effect) -> bool {
    e.args.len() == 1
        && (e.args[0].eq_ignore_ascii_case(b"MULTI") || e.args[0].eq_ignore_ascii_case(b"EXEC"))
}

/// Encodes one command as a RESP array of bulk strings.
pub fn put_command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    out.put_u8(b'*');
    out.put_slice(args.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        out.put_slice(a.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff(db: u16, args: &[&str]) -> Effect {
        Effect {
            db,
            args: args
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        }
    }

    #[test]
    fn units_select_wrap_and_backlog() {
        let s = Stream::new(1024);
        let o1 = s.publish(&[eff(0, &["SET", "a", "1"])]);
        let text = s.with(|i| i.since(0)).unwrap();
        assert_eq!(
            &text[..],
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(o1, text.len() as u64);
        // A transaction's markers are flattened; the unit is wrapped once; db change selects.
        s.publish(&[
            eff(0, &["MULTI"]),
            eff(0, &["DEL", "a"]),
            eff(2, &["SET", "b", "2"]),
            eff(2, &["EXEC"]),
        ]);
        let tail = s.with(|i| i.since(o1)).unwrap();
        let t = String::from_utf8_lossy(&tail);
        assert!(t.starts_with("*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL"), "{t}");
        assert!(t.contains("SELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET"), "{t}");
        assert!(t.ends_with("*1\r\n$4\r\nEXEC\r\n"), "{t}");
        // The backlog keeps only the last 64 bytes.
        s.with(|i| {
            i.set_capacity(64);
            assert_eq!(i.backlog_len(), 64);
            assert!(i.since(0).is_none());
            assert_eq!(i.since(i.offset).unwrap().len(), 0);
        });
    }
}

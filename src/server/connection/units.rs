//! How a connection runs its units: inline on its own task when nothing of it is in flight
//! and the shards are free, else queued on the home shard's thread; and the per-command flags
//! (client tracking, NO-TOUCH) its units run with.
//!
//! Invariant: a unit runs inline only when this client has nothing in flight, so inline and
//! queued units of one client still run in request order.

use super::Conn;
use crate::commands::{self, CmdRef};
use crate::protocol::Reply;
use crate::shard::{Hold, Request, Requester, ShardMsg, Work};
use bytes::{Bytes, BytesMut};

impl Conn {
    /// Runs a unit on `shards` (ascending) and returns its encoded reply: inline when it can,
    /// else on the home shard's thread.
    pub async fn run_unit(&mut self, shards: Vec<usize>, work: Work) -> Bytes {
        let work = match self.try_inline(&shards, work) {
            Ok(bytes) => return bytes,
            Err(work) => work,
        };
        self.run_queued(shards, work).await
    }

    /// Runs a unit on the home shard's thread, never inline (for work that may block its
    /// thread, such as DEBUG SLEEP).
    pub async fn run_queued(&mut self, shards: Vec<usize>, work: Work) -> Bytes {
        self.send_unit(shards, work)
            .await
            .unwrap_or_else(|_| Reply::error("ERR shard is not running").to_bytes(self.resp))
    }

    /// Runs a unit now if nothing of this client is in flight and its shards are free;
    /// otherwise hands the work back.
    pub(super) fn try_inline(&mut self, shards: &[usize], work: Work) -> Result<Bytes, Work> {
        let mut out = BytesMut::new();
        self.try_inline_to(shards, work, Some(&mut out))?;
        Ok(out.freeze())
    }

    /// Queues a unit on its home shard; the receiver yields its encoded reply.
    pub(super) fn send_unit(
        &mut self,
        shards: Vec<usize>,
        work: Work,
    ) -> tokio::sync::oneshot::Receiver<Bytes> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let home = shards[0];
        let req = Request {
            shards,
            db: self.db,
            resp: self.resp,
            client_id: self.info.id,
            flags: self.unit_flags,
            work,
            done: BytesMut::new(),
            reply: tx,
        };
        // A send error drops the request and its sender: the receiver then reports the shard
        // as not running.
        let _ = self.server.shards[home].tx.send(ShardMsg::Run(req));
        rx
    }

    /// Runs a closure as a unit on `shards` and returns its encoded reply.
    pub async fn run_job(
        &mut self,
        shards: Vec<usize>,
        job: impl FnOnce(&mut commands::Ctx<'_>) -> Reply + Send + 'static,
    ) -> Bytes {
        self.run_unit(shards, Work::Job(Box::new(job))).await
    }

    /// Runs a closure as a unit on `shards`, appending its encoded reply to `self.out` (inline,
    /// straight into it: no reply buffer of its own).
    pub async fn run_job_into_out(
        &mut self,
        shards: &[usize],
        job: impl FnOnce(&mut commands::Ctx<'_>) -> Reply + Send + 'static,
    ) {
        let work = Work::Job(Box::new(job));
        let work = match self.try_inline_into_out(shards, work) {
            Ok(()) => return,
            Err(work) => work,
        };
        let bytes = self.run_queued(shards.to_vec(), work).await;
        self.out.extend_from_slice(&bytes);
    }

    /// [`try_inline`](Self::try_inline), appending the reply to `self.out`.
    pub(super) fn try_inline_into_out(&mut self, shards: &[usize], work: Work) -> Result<(), Work> {
        self.try_inline_to(shards, work, None)
    }

    /// Runs a unit now, into `out` (or `self.out`), if nothing of this client is in flight
    /// (running now keeps its order) and the shards are free; otherwise hands the work back.
    pub(super) fn try_inline_to(
        &mut self,
        shards: &[usize],
        work: Work,
        out: Option<&mut BytesMut>,
    ) -> Result<(), Work> {
        if !self.inflight.is_empty() || !self.pending.is_empty() {
            return Err(work);
        }
        let server = &*self.server;
        let Some(hold) = Hold::try_take(server, shards) else {
            return Err(work);
        };
        let who = Requester {
            db: self.db,
            resp: self.resp,
            client_id: self.info.id,
            flags: self.unit_flags,
        };
        let out = out.unwrap_or(&mut self.out);
        let left = hold.run(server, &mut self.table, who, work, out);
        // Only batches with script calls leave a part, and those run into `self.out`.
        debug_assert!(left.is_none() || self.leftover.is_none());
        self.leftover = left;
        Ok(())
    }

    /// Runs a closure as a unit on `shards` and returns its value (`None` if the shard is gone).
    pub async fn run_job_value<T: Send + 'static>(
        &mut self,
        shards: Vec<usize>,
        job: impl FnOnce(&mut commands::Ctx<'_>) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run_job(shards, move |ctx| {
            let _ = tx.send(job(ctx));
            Reply::Nil
        })
        .await;
        rx.await.ok()
    }

    /// Sets the flags this command's units run with: whether its reads are tracked (default
    /// mode; OPTIN only after CLIENT CACHING YES, OPTOUT unless after CLIENT CACHING NO) and
    /// NO-TOUCH (never for TOUCH itself). A pending batch gathered under other flags is sent
    /// first, so each command runs under its own. Then CLIENT CACHING is spent, as Redis
    /// clears it after any command but CLIENT's unless a transaction is open after it.
    pub(super) async fn set_unit_flags(&mut self, cmd: CmdRef) {
        use crate::server::tracking::hooks::{NO_TOUCH, TRACK_READS};
        let mut f = 0;
        if let Some(t) = self.tracking.as_deref() {
            let o = &t.opts;
            let reads = !o.bcast
                && (if o.optin {
                    self.caching
                } else {
                    !(o.optout && self.caching)
                });
            if reads {
                f |= TRACK_READS;
            }
        }
        if self.no_touch && cmd.cmd.name != "touch" {
            f |= NO_TOUCH;
        }
        if f != self.unit_flags {
            self.flush_pending().await;
            self.unit_flags = f;
        }
        if self.caching && !commands::full_name(cmd.id).starts_with("client|") {
            let name = cmd.cmd.name;
            let in_multi_after = name == "multi"
                || (self.tx.in_multi() && !matches!(name, "exec" | "discard" | "reset"));
            if !in_multi_after {
                self.caching = false;
            }
        }
    }
}

//! The Pub/Sub registry: who listens to what.
//!
//! Three namespaces, as in Redis 7: channels (SUBSCRIBE / PUBLISH), patterns (PSUBSCRIBE,
//! matched against PUBLISH's channel) and shard channels (SSUBSCRIBE / SPUBLISH, a namespace of
//! their own). Each maps a name to its subscribers, in subscription order. A subscriber is one
//! connection's [`Subscriber`]: an unbounded queue the connection drains into its output, and
//! the count of bytes queued and not yet written, which bounds a slow subscriber.
//!
//! Invariant: a connection is listed under a name here exactly while its own [`Subs`] lists
//! that name, and a name is in a map only while it has at least one subscriber, so the maps'
//! sizes are INFO's `pubsub_channels`, `pubsub_patterns` and `pubsubshard_channels`. Messages
//! are sent under the map's read lock and subscriptions change under its write lock, so once
//! `remove` returns no message for that name can still reach the connection's queue: draining
//! the queue then yields every message published before the unsubscription, and none after.
//!
//! Connections that never subscribe have no `Subs` and never touch this registry.

use super::client::ClientInfo;
use crate::protocol::put_bulk;
use bytes::{BufMut, Bytes, BytesMut};
use indexmap::{IndexMap, IndexSet};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc;

/// `client-output-buffer-limit pubsub 32mb 8mb 60`: past the hard limit a subscriber is closed
/// at once; past the soft limit for 60 s in a row, too.
pub const HARD_LIMIT: usize = 32 * 1024 * 1024;
pub const SOFT_LIMIT: usize = 8 * 1024 * 1024;
pub const SOFT_SECONDS: u64 = 60;

/// The three namespaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// The confirmation names: (subscribe, unsubscribe).
    pub fn verbs(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
}

/// One delivery to one subscriber.
pub struct Message {
    /// The pattern that matched (`pmessage`), if any.
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
    /// Sent by SPUBLISH (`smessage`).
    pub shard: bool,
}

impl Message {
    /// What it counts against the subscriber's output limit: about its encoded size.
    pub fn cost(&self) -> usize {
        self.pattern.as_ref().map_or(0, |p| p.len() + 16)
            + self.channel.len()
            + self.payload.len()
            + 40
    }

    /// Encodes it as Redis does: `message`, `pmessage` or `smessage`, an array in RESP2 and a
    /// push in RESP3.
    pub fn encode(&self, resp: u8, out: &mut BytesMut) {
        let head = if resp >= 3 { b'>' } else { b'*' };
        let (kind, n): (&[u8], u8) = match (&self.pattern, self.shard) {
            (Some(_), _) => (b"pmessage", b'4'),
            (None, true) => (b"smessage", b'3'),
            (None, false) => (b"message", b'3'),
        };
        out.reserve(self.cost() + 32);
        out.put_u8(head);
        out.put_u8(n);
        out.put_slice(b"\r\n");
        put_bulk(out, kind);
        if let Some(p) = &self.pattern {
            put_bulk(out, p);
        }
        put_bulk(out, &self.channel);
        put_bulk(out, &self.payload);
    }
}

/// A (un)subscription confirmation: `[verb, name or null, count]`.
pub fn encode_confirmation(
    resp: u8,
    verb: &str,
    name: Option<&[u8]>,
    count: usize,
    out: &mut BytesMut,
) {
    out.put_slice(if resp >= 3 { b">3\r\n" } else { b"*3\r\n" });
    put_bulk(out, verb.as_bytes());
    match name {
        Some(n) => put_bulk(out, n),
        None if resp >= 3 => out.put_slice(b"_\r\n"),
        None => out.put_slice(b"$-1\r\n"),
    }
    out.put_u8(b':');
    out.put_slice(itoa::Buffer::new().format(count).as_bytes());
    out.put_slice(b"\r\n");
}

/// One subscribed connection, as publishers see it.
pub struct Subscriber {
    tx: mpsc::UnboundedSender<Message>,
    /// Bytes queued or drained into the connection's output and not yet written.
    pub queued: AtomicUsize,
    /// `coarse_ms` when `queued` went over the soft limit (0: under it).
    over_soft_since: AtomicU64,
    info: Arc<ClientInfo>,
}

impl Subscriber {
    /// Queues a message, unless the subscriber is over its output limit: then it is closed
    /// (as Redis closes a client past `client-output-buffer-limit pubsub`) and gets nothing more.
    fn deliver(&self, msg: Message) {
        if self.info.killed.load(Relaxed) {
            return;
        }
        let cost = msg.cost();
        let queued = self.queued.fetch_add(cost, Relaxed) + cost;
        if queued > HARD_LIMIT || self.over_soft_limit_too_long(queued) {
            self.queued.fetch_sub(cost, Relaxed);
            tracing::warn!(
                client = self.info.id,
                addr = %self.info.addr,
                queued,
                "pubsub client closed for overcoming of output buffer limits"
            );
            self.info.kill();
            return;
        }
        // The receiver lives as long as the connection's `Subs`, which removes this
        // subscriber before it goes; a failed send only means it is closing.
        let _ = self.tx.send(msg);
    }

    fn over_soft_limit_too_long(&self, queued: usize) -> bool {
        let since = self.over_soft_since.load(Relaxed);
        if queued <= SOFT_LIMIT {
            if since != 0 {
                self.over_soft_since.store(0, Relaxed);
            }
            return false;
        }
        let now = crate::clock::coarse_ms().max(1);
        if since == 0 {
            self.over_soft_since.store(now, Relaxed);
            return false;
        }
        now.saturating_sub(since) >= SOFT_SECONDS * 1000
    }
}

/// Redis's `stringmatchlen` as PSUBSCRIBE and PUBSUB CHANNELS use it: unlike KEYS, nothing
/// takes `*` as "everything", so an empty channel name matches only an empty pattern.
fn pattern_matches(pattern: &[u8], channel: &[u8]) -> bool {
    if channel.is_empty() {
        return pattern.is_empty();
    }
    crate::keyspace::glob::glob_match(pattern, channel, false)
}

type Listeners = IndexMap<u64, Arc<Subscriber>, foldhash::fast::RandomState>;
type Names = IndexMap<Bytes, Listeners, foldhash::fast::RandomState>;

/// The registry (`Server::pubsub`).
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<Names>,
    patterns: RwLock<Names>,
    shard: RwLock<Names>,
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<Names> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    /// PUBLISH (`shard` false) or SPUBLISH: queues the message for every subscriber of the
    /// channel and, for PUBLISH, every subscriber of a matching pattern (once per pattern).
    /// Returns how many deliveries that made, as Redis counts receivers.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes, shard: bool) -> usize {
        let mut n = 0;
        let names = if shard { &self.shard } else { &self.channels };
        if let Some(subs) = names.read().get(channel) {
            for s in subs.values() {
                s.deliver(Message {
                    pattern: None,
                    channel: channel.clone(),
                    payload: payload.clone(),
                    shard,
                });
                n += 1;
            }
        }
        if shard {
            return n;
        }
        let patterns = self.patterns.read();
        for (pat, subs) in patterns.iter() {
            if !pattern_matches(pat, channel) {
                continue;
            }
            for s in subs.values() {
                s.deliver(Message {
                    pattern: Some(pat.clone()),
                    channel: channel.clone(),
                    payload: payload.clone(),
                    shard: false,
                });
                n += 1;
            }
        }
        n
    }

    fn add(&self, kind: Kind, name: &Bytes, me: &Arc<Subscriber>) {
        self.map(kind)
            .write()
            .entry(name.clone())
            .or_default()
            .insert(me.info.id, me.clone());
    }

    fn remove(&self, kind: Kind, name: &[u8], id: u64) {
        let mut map = self.map(kind).write();
        if let Some(subs) = map.get_mut(name) {
            subs.shift_remove(&id);
            if subs.is_empty() {
                map.shift_remove(name);
            }
        }
    }

    /// Number of channels (or patterns, or shard channels) with at least one subscriber.
    pub fn count(&self, kind: Kind) -> usize {
        self.map(kind).read().len()
    }

    /// Subscribers of each name (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, |s| s.len())
    }

    /// Names with subscribers matching `pattern` (PUBSUB CHANNELS / SHARDCHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map(kind)
            .read()
            .keys()
            .filter(|n| pattern.is_none_or(|p| pattern_matches(p, n)))
            .cloned()
            .collect()
    }
}

/// One connection's subscriptions: its side of the registry, and its message queue.
pub struct Subs {
    me: Arc<Subscriber>,
    rx: mpsc::UnboundedReceiver<Message>,
    channels: IndexSet<Bytes, foldhash::fast::RandomState>,
    patterns: IndexSet<Bytes, foldhash::fast::RandomState>,
    shard: IndexSet<Bytes, foldhash::fast::RandomState>,
    /// Bytes drained into the connection's output since its last write.
    drained: usize,
}

impl Subs {
    pub fn new(info: Arc<ClientInfo>) -> Subs {
        let (tx, rx) = mpsc::unbounded_channel();
        Subs {
            me: Arc::new(Subscriber {
                tx,
                queued: AtomicUsize::new(0),
                over_soft_since: AtomicU64::new(0),
                info,
            }),
            rx,
            channels: Default::default(),
            patterns: Default::default(),
            shard: Default::default(),
            drained: 0,
        }
    }

    fn set(&mut self, kind: Kind) -> &mut IndexSet<Bytes, foldhash::fast::RandomState> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count a confirmation reports: channels and patterns together, or shard channels.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// Every subscription of every kind.
    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Subscribes to `name` (a second subscription to the same name changes nothing).
    pub fn subscribe(&mut self, registry: &PubSub, kind: Kind, name: &Bytes) {
        if self.set(kind).insert(name.clone()) {
            registry.add(kind, name, &self.me);
            self.publish_counts();
        }
    }

    /// Unsubscribes from `name`; false if it was not subscribed.
    pub fn unsubscribe(&mut self, registry: &PubSub, kind: Kind, name: &[u8]) -> bool {
        if !self.set(kind).shift_remove(name) {
            return false;
        }
        registry.remove(kind, name, self.me.info.id);
        self.publish_counts();
        true
    }

    /// The names of one kind, in subscription order (unsubscribing from all of them).
    pub fn names(&self, kind: Kind) -> Vec<Bytes> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.iter().cloned().collect(),
            Kind::Shard => self.shard.iter().cloned().collect(),
        }
    }

    /// Leaves every subscription at once (RESET, disconnect): no confirmations.
    pub fn leave(&mut self, registry: &PubSub) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(self.set(kind)) {
                registry.remove(kind, &name, self.me.info.id);
            }
        }
        self.publish_counts();
    }

    /// Mirrors the counts into the client's info (CLIENT LIST `sub=`, `psub=`, `ssub=`).
    fn publish_counts(&self) {
        let i = &self.me.info;
        i.subs[0].store(self.channels.len() as u32, Relaxed);
        i.subs[1].store(self.patterns.len() as u32, Relaxed);
        i.subs[2].store(self.shard.len() as u32, Relaxed);
    }

    /// Encodes every queued message into `out` in the given protocol.
    pub fn drain(&mut self, resp: u8, out: &mut BytesMut) {
        while let Ok(m) = self.rx.try_recv() {
            self.take(m, resp, out);
        }
    }

    /// Encodes one received message into `out`.
    pub fn take(&mut self, m: Message, resp: u8, out: &mut BytesMut) {
        self.drained += m.cost();
        m.encode(resp, out);
    }

    /// Waits for the next message.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// The output holding the drained messages was written: they no longer count.
    pub fn written(&mut self) {
        if self.drained > 0 {
            self.me
                .queued
                .fetch_sub(std::mem::take(&mut self.drained), Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(m: &Message, resp: u8) -> String {
        let mut b = BytesMut::new();
        m.encode(resp, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn messages_and_confirmations_encode_as_redis_sends_them() {
        let m = Message {
            pattern: None,
            channel: Bytes::from_static(b"ch"),
            payload: Bytes::from_static(b"hi"),
            shard: false,
        };
        assert_eq!(
            enc(&m, 2),
            "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            enc(&m, 3),
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        let p = Message {
            pattern: Some(Bytes::from_static(b"c*")),
            ..m
        };
        assert_eq!(
            enc(&p, 2),
            "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        let mut b = BytesMut::new();
        encode_confirmation(3, "unsubscribe", None, 0, &mut b);
        encode_confirmation(2, "unsubscribe", None, 0, &mut b);
        encode_confirmation(2, "ssubscribe", Some(b"s"), 12, &mut b);
        assert_eq!(
            &b[..],
            b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:12\r\n"
        );
    }
}

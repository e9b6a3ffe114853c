//! The one thing cluster nodes tell each other: Pub/Sub messages. PUBLISH reaches every node
//! of a Redis Cluster and SPUBLISH every node of the channel's shard (its slot's primary and
//! replicas); here a node passes each message to those nodes as `CLUSTER PUBLISH` /
//! `CLUSTER SPUBLISH channel message`, which the receiver delivers to its own subscribers only.
//!
//! Invariant: delivery is at most once and never blocks a publisher. Each peer has one task
//! with one connection (reconnected every 100 ms to 1 s while it is down) and a bounded queue;
//! a message for a peer whose link is down, or whose queue is full, is dropped and counted,
//! as Redis drops what its bus cannot send.

use super::Topology;
use crate::slot::key_slot;
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Messages a peer may have queued before more are dropped.
const QUEUE: usize = 4096;

struct Peer {
    node: usize,
    tx: mpsc::Sender<Bytes>,
    up: Arc<AtomicBool>,
}

pub struct Bus {
    peers: Vec<Peer>,
    /// Messages not passed on (link down or queue full).
    pub dropped: Arc<AtomicU64>,
}

impl Bus {
    /// Starts a link to every other node of `topo` (on the current tokio runtime), sending
    /// `AUTH password` first when given.
    pub fn start(topo: &Topology, password: Option<String>) -> Bus {
        let dropped = Arc::new(AtomicU64::new(0));
        let peers = (0..topo.nodes.len())
            .filter(|&i| i != topo.myself)
            .map(|i| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let up = Arc::new(AtomicBool::new(false));
                let addr = (topo.nodes[i].host.clone(), topo.nodes[i].port);
                tokio::spawn(link(
                    addr,
                    password.clone(),
                    rx,
                    up.clone(),
                    dropped.clone(),
                ));
                Peer { node: i, tx, up }
            })
            .collect();
        Bus { peers, dropped }
    }

    /// Passes a message on: to every other node, or (`shard`) to the other nodes of the
    /// channel's shard.
    pub fn publish(&self, topo: &Topology, shard: bool, channel: &[u8], message: &[u8]) {
        let owner = topo.owner(key_slot(channel));
        let wanted = |node: usize| {
            if !shard {
                return true;
            }
            let primary = topo.nodes[node].primary.unwrap_or(node);
            owner == Some(primary)
        };
        let frame = encode(shard, channel, message);
        for p in self.peers.iter().filter(|p| wanted(p.node)) {
            if !p.up.load(Relaxed) || p.tx.try_send(frame.clone()).is_err() {
                self.dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// `CLUSTER PUBLISH|SPUBLISH channel message` in RESP.
fn encode(shard: bool, channel: &[u8], message: &[u8]) -> Bytes {
    let verb: &[u8] = if shard { b"SPUBLISH" } else { b"PUBLISH" };
    let mut out = BytesMut::with_capacity(channel.len() + message.len() + 64);
    out.put_slice(b"*4\r\n$7\r\nCLUSTER\r\n");
    for part in [verb, channel, message] {
        out.put_slice(format!("${}\r\n", part.len()).as_bytes());
        out.put_slice(part);
        out.put_slice(b"\r\n");
    }
    out.freeze()
}

/// One peer's link: connect, authenticate, write queued messages; on any error drop what is
/// queued and start over.
async fn link(
    addr: (String, u16),
    password: Option<String>,
    mut rx: mpsc::Receiver<Bytes>,
    up: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect((addr.0.as_str(), addr.1)),
        )
        .await;
        let Ok(Ok(stream)) = connected else {
            // Whatever was queued while down is not sent late.
            while rx.try_recv().is_ok() {
                dropped.fetch_add(1, Relaxed);
            }
            if rx.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            continue;
        };
        backoff = Duration::from_millis(100);
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        if let Some(pw) = &password {
            let auth = [
                b"*2\r\n$4\r\nAUTH\r\n".as_slice(),
                format!("${}\r\n{pw}\r\n", pw.len()).as_bytes(),
            ]
            .concat();
            if writer.write_all(&auth).await.is_err() {
                continue;
            }
        }
        up.store(true, Relaxed);
        // Replies (+OK, :n) are read and dropped, so the peer never stalls on its output.
        let drain = async {
            let mut sink = [0u8; 4096];
            loop {
                match reader.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        let send = async {
            while let Some(frame) = rx.recv().await {
                let mut batch = BytesMut::from(&frame[..]);
                while let Ok(more) = rx.try_recv() {
                    batch.extend_from_slice(&more);
                }
                if writer.write_all(&batch).await.is_err() {
                    return false;
                }
            }
            true
        };
        let closed = tokio::select! {
            _ = drain => false,
            done = send => done,
        };
        up.store(false, Relaxed);
        if closed {
            return;
        }
    }
}

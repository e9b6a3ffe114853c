//! Cluster mode: which node serves which hash slot, and the redirect rule every keyed command
//! passes before it runs.
//!
//! Invariant: with cluster mode on, a command (or a transaction, or a script's call) whose keys
//! are all in one slot runs here only if this node serves that slot, or if it is a read from a
//! READONLY client on a replica of the slot's primary. Anything else gets Redis Cluster's
//! `-MOVED` / `-CROSSSLOT` / `-CLUSTERDOWN` and runs nowhere. The topology is fixed when the
//! server starts (config `cluster-nodes`): there is no cluster bus, no gossip, no failover and
//! no slot migration, so every node of a deployment is given the same list.
//!
//! Slots still map to this node's shards through `slot::SlotMap`; this module only decides
//! whether a slot is this node's at all. The nodes exchange only Pub/Sub messages (`bus`).

pub mod bus;
pub mod cmds;

use crate::slot::{key_slot, Slot, SLOTS};
use sha1::{Digest, Sha1};

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 40 lowercase hex digits, derived from the address so that every node of a deployment
    /// names every other the same way without talking to it.
    pub id: String,
    pub host: String,
    pub port: u16,
    /// The node this one replicates (an index into `Topology::nodes`); `None` for a primary.
    pub primary: Option<usize>,
    /// Slot ranges served (primaries only), ascending and disjoint.
    pub ranges: Vec<(u16, u16)>,
    /// Config epoch as CLUSTER NODES shows it: primaries are numbered 0.. in the order listed
    /// (a lone node has epoch 0, as a lone Redis node does); a replica shows its primary's.
    pub epoch: u64,
}

/// Why a command does not run on this node.
#[derive(Debug, Clone, PartialEq)]
pub enum Redirect {
    /// Keys in several slots.
    CrossSlot,
    /// The slot is served by another node (index into `Topology::nodes`).
    Moved(u16, usize),
    /// No node serves the slot.
    Unbound,
    /// Some slot has no node: the cluster is down (Redis's `cluster-require-full-coverage`).
    Down,
}

const NO_NODE: u16 = u16::MAX;

/// The cluster as this node sees it.
pub struct Topology {
    pub nodes: Vec<Node>,
    /// This node (an index into `nodes`).
    pub myself: usize,
    /// Serving node of every slot, `NO_NODE` if none.
    owner: Box<[u16; SLOTS]>,
    /// Slots with a node.
    pub assigned: usize,
    /// This node's address was not configured (no `cluster-announce-ip`, bound to every
    /// interface): describe it with the address each client connected to, as a client can
    /// reach it there.
    pub host_from_connection: bool,
}

impl Topology {
    /// Builds the topology from `cluster-nodes` entries (`"host:port slot|first-last …"` for a
    /// primary, `"host:port replica-of host:port"` for a replica) and this node's address.
    /// No entries: this node alone, serving every slot.
    pub fn new(entries: &[String], me: (&str, u16), host_known: bool) -> Result<Topology, String> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut replica_of: Vec<(usize, String)> = Vec::new();
        for entry in entries {
            let mut words = entry.split_whitespace();
            let addr = words.next().ok_or("cluster-nodes: empty entry")?;
            let (host, port) = crate::config::parse_host_port(addr)
                .ok_or_else(|| format!("cluster-nodes: '{addr}' is not host:port"))?;
            if nodes.iter().any(|n| same_addr(n, &host, port)) {
                return Err(format!("cluster-nodes: {addr} is listed twice"));
            }
            let rest: Vec<&str> = words.collect();
            let mut ranges = Vec::new();
            if rest.first() == Some(&"replica-of") {
                match rest[..] {
                    [_, primary] => replica_of.push((nodes.len(), primary.to_string())),
                    _ => {
                        return Err(format!(
                            "cluster-nodes: '{entry}': replica-of takes one host:port"
                        ))
                    }
                }
            } else {
                for r in rest {
                    ranges.push(parse_range(r).ok_or_else(|| {
                        format!("cluster-nodes: '{r}' is not a slot or a range of slots (0-16383)")
                    })?);
                }
            }
            nodes.push(Node {
                id: node_id(&host, port),
                host,
                port,
                primary: None,
                ranges,
                epoch: 0,
            });
        }
        for (i, addr) in replica_of {
            let (host, port) = crate::config::parse_host_port(&addr)
                .ok_or_else(|| format!("cluster-nodes: '{addr}' is not host:port"))?;
            let p = nodes
                .iter()
                .position(|n| same_addr(n, &host, port))
                .ok_or_else(|| format!("cluster-nodes: replica-of {addr}: no such node"))?;
            // Replicas serve no slots, so this also refuses chains (as followers do).
            if nodes[p].ranges.is_empty() {
                return Err(format!(
                    "cluster-nodes: replica-of {addr}: not a primary serving slots"
                ));
            }
            nodes[i].primary = Some(p);
        }
        if nodes.is_empty() {
            nodes.push(Node {
                id: node_id(me.0, me.1),
                host: me.0.to_string(),
                port: me.1,
                primary: None,
                ranges: vec![(0, SLOTS as u16 - 1)],
                epoch: 0,
            });
        }
        let myself = nodes
            .iter()
            .position(|n| same_addr(n, me.0, me.1))
            .ok_or_else(|| {
                format!(
                    "cluster-nodes does not list this node ({}:{}); set cluster-announce-ip and cluster-announce-port to its entry",
                    me.0, me.1
                )
            })?;
        let mut owner = Box::new([NO_NODE; SLOTS]);
        let mut assigned = 0;
        let mut epoch = 0;
        for (i, n) in nodes.iter_mut().enumerate() {
            n.ranges.sort_unstable();
            if n.primary.is_none() {
                n.epoch = epoch;
                epoch += 1;
            }
            for &(a, b) in &n.ranges {
                for s in a..=b {
                    if owner[s as usize] != NO_NODE {
                        return Err(format!("cluster-nodes: slot {s} is given to two nodes"));
                    }
                    owner[s as usize] = i as u16;
                    assigned += 1;
                }
            }
        }
        // Merge adjacent ranges ("0-99 100-199" is one range, as Redis shows it).
        for n in nodes.iter_mut() {
            let mut merged: Vec<(u16, u16)> = Vec::new();
            for &(a, b) in &n.ranges {
                match merged.last_mut() {
                    Some(last) if last.1 + 1 == a => last.1 = b,
                    _ => merged.push((a, b)),
                }
            }
            n.ranges = merged;
        }
        for i in 0..nodes.len() {
            if let Some(p) = nodes[i].primary {
                nodes[i].epoch = nodes[p].epoch;
            }
        }
        Ok(Topology {
            nodes,
            myself,
            owner,
            assigned,
            host_from_connection: !host_known,
        })
    }

    pub fn me(&self) -> &Node {
        &self.nodes[self.myself]
    }

    /// Every slot has a node (`cluster_state:ok`).
    pub fn is_ok(&self) -> bool {
        self.assigned == SLOTS
    }

    /// The node serving `slot`.
    pub fn owner(&self, slot: Slot) -> Option<usize> {
        let o = self.owner[slot.get() as usize];
        (o != NO_NODE).then_some(o as usize)
    }

    /// Replicas of node `primary`, in the order listed.
    pub fn replicas(&self, primary: usize) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.primary == Some(primary))
    }

    /// Redis Cluster's routing of a request with these keys (a command's, or all of a
    /// transaction's): the slot they share (`None` without keys) if this node serves it, else
    /// why not. `read_here`: the client sent READONLY and the request does not write, so a
    /// replica serves its primary's slots.
    pub fn route<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a [u8]>,
        read_here: bool,
    ) -> Result<Option<Slot>, Redirect> {
        let mut first: Option<(Slot, usize)> = None;
        for key in keys {
            let slot = key_slot(key);
            match first {
                None => match self.owner(slot) {
                    Some(node) => first = Some((slot, node)),
                    None => return Err(Redirect::Unbound),
                },
                Some((s, _)) if s != slot => return Err(Redirect::CrossSlot),
                Some(_) => {}
            }
        }
        let Some((slot, node)) = first else {
            return Ok(None);
        };
        if !self.is_ok() {
            return Err(Redirect::Down);
        }
        if node == self.myself || (read_here && self.me().primary == Some(node)) {
            return Ok(Some(slot));
        }
        Err(Redirect::Moved(slot.get(), node))
    }

    /// The error line for a redirect, without the leading `-`.
    pub fn message(&self, r: &Redirect) -> String {
        match r {
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::Moved(slot, node) => {
                let n = &self.nodes[*node];
                format!("MOVED {slot} {}:{}", n.host, n.port)
            }
            Redirect::Unbound => "CLUSTERDOWN Hash slot not served".into(),
            Redirect::Down => "CLUSTERDOWN The cluster is down".into(),
        }
    }
}

/// The same address: equal strings, or equal IP addresses however written.
fn same_addr(n: &Node, host: &str, port: u16) -> bool {
    if n.port != port {
        return false;
    }
    match (
        n.host.parse::<std::net::IpAddr>(),
        host.parse::<std::net::IpAddr>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => n.host.eq_ignore_ascii_case(host),
    }
}

/// `N` or `N-M` within the slot range.
fn parse_range(r: &str) -> Option<(u16, u16)> {
    let (a, b) = r.split_once('-').unwrap_or((r, r));
    let a = Slot::from_number(a.parse().ok()?)?.get();
    let b = Slot::from_number(b.parse().ok()?)?.get();
    (a <= b).then_some((a, b))
}

/// A node's id: the hex sha1 of its address, the same on every node.
fn node_id(host: &str, port: u16) -> String {
    let digest = Sha1::digest(format!("luagate-node {host}:{port}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Topology {
        let entries = [
            "127.0.0.1:7000 0-8191".to_string(),
            "127.0.0.1:7001 8192-12000 12001-16383".to_string(),
            "127.0.0.1:7002 replica-of 127.0.0.1:7000".to_string(),
        ];
        Topology::new(&entries, ("127.0.0.1", 7002), true).unwrap()
    }

    #[test]
    fn routes_as_redis_cluster() {
        let t = three();
        assert_eq!(t.myself, 2);
        assert_eq!(t.nodes[1].ranges, vec![(8192, 16383)]);
        assert_eq!((t.nodes[1].epoch, t.nodes[2].epoch), (1, 0));
        // "b" is slot 3300 (node 0), "a" 15495 (node 1).
        assert_eq!(
            t.route([&b"b"[..]], false),
            Err(Redirect::Moved(3300, 0)),
            "a replica redirects reads of its primary's slots unless READONLY"
        );
        assert_eq!(t.route([&b"b"[..]], true).unwrap().unwrap().get(), 3300);
        assert_eq!(t.route([&b"a"[..]], true), Err(Redirect::Moved(15495, 1)));
        assert_eq!(t.route([&b"a"[..], b"b"], true), Err(Redirect::CrossSlot));
        assert_eq!(
            t.route([&b"{a}x"[..], b"{a}y"], false),
            Err(Redirect::Moved(15495, 1))
        );
        assert_eq!(t.route(std::iter::empty(), false), Ok(None));
        assert_eq!(
            t.message(&Redirect::Moved(15495, 1)),
            "MOVED 15495 127.0.0.1:7001"
        );
    }

    #[test]
    fn alone_serves_every_slot() {
        let t = Topology::new(&[], ("10.0.0.1", 6379), true).unwrap();
        assert!(t.is_ok());
        assert_eq!(t.route([&b"a"[..]], false).unwrap().unwrap().get(), 15495);
        assert_eq!(t.me().id.len(), 40);
        assert_eq!(t.me().id, node_id("10.0.0.1", 6379));
    }

    #[test]
    fn partial_coverage_is_down_and_bad_lists_are_refused() {
        let t = Topology::new(&["127.0.0.1:7000 0-100".into()], ("127.0.0.1", 7000), true).unwrap();
        assert_eq!(t.route([&b"a"[..]], false), Err(Redirect::Unbound));
        // "{a}" tags aside, some key in 0-100: find one.
        let k = (0..10_000)
            .map(|i| format!("k{i}"))
            .find(|k| key_slot(k.as_bytes()).get() <= 100)
            .unwrap();
        assert_eq!(t.route([k.as_bytes()], false), Err(Redirect::Down));
        for bad in [
            vec!["127.0.0.1:7000 0-10", "127.0.0.1:7001 5-20"],
            vec!["127.0.0.1:7000 0-16384"],
            vec!["127.0.0.1:7000 9-3"],
            vec!["127.0.0.1:7000 0-10", "127.0.0.1:7000 11-20"],
            vec![
                "127.0.0.1:7000 0-10",
                "127.0.0.1:7001 replica-of 127.0.0.1:7009",
            ],
            vec!["nonsense"],
        ] {
            let entries: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(
                Topology::new(&entries, ("127.0.0.1", 7000), true).is_err(),
                "{bad:?}"
            );
        }
        let entries = vec!["127.0.0.1:7001 0-16383".to_string()];
        let e = Topology::new(&entries, ("127.0.0.1", 7000), true)
            .err()
            .unwrap();
        assert!(e.contains("does not list this node"), "{e}");
    }
}

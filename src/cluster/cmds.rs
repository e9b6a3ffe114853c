//! CLUSTER and READONLY / READWRITE / ASKING: the cluster as clients read it, in Redis 7.0's
//! reply shapes. Without cluster mode each of them answers Redis's "cluster support disabled".
//!
//! The subcommands that change a Redis Cluster's topology (MEET, ADDSLOTS, SETSLOT,
//! FAILOVER …) are refused: here the topology is the `cluster-nodes` setting.

use super::{Node, Topology};
use crate::commands::{self, CmdRef};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::server::connection::Conn;
use crate::slot::{key_slot, Slot};
use bytes::Bytes;

pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// Whether `cmd` is one of this module's.
pub fn owns(cmd: CmdRef) -> bool {
    matches!(cmd.cmd.name, "readonly" | "readwrite" | "asking")
        || commands::full_name(cmd.id).starts_with("cluster|")
}

pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let server = conn.server.clone();
    let Some(topo) = server.cluster.as_ref() else {
        return Some(Reply::error(DISABLED));
    };
    let r = match cmd.cmd.name {
        "readonly" | "readwrite" => {
            let on = cmd.cmd.name == "readonly";
            conn.info
                .readonly
                .store(on, std::sync::atomic::Ordering::Relaxed);
            Ok(Reply::ok())
        }
        // No slot ever migrates, so there is nothing to ask for.
        "asking" => Ok(Reply::ok()),
        "info" => Ok(text(conn, info(topo))),
        "myid" => Ok(Reply::bulk(topo.me().id.clone())),
        "nodes" => Ok(text(conn, nodes(conn, topo))),
        "slots" => Ok(slots(conn, topo)),
        "shards" => Ok(shards(conn, topo)),
        "links" => Ok(Reply::Array(Vec::new())),
        "keyslot" => Ok(Reply::Int(key_slot(&args[2]).get() as i64)),
        "countkeysinslot" => return Some(count_keys(conn, &args).await),
        "getkeysinslot" => return Some(get_keys(conn, &args).await),
        "replicas" | "slaves" => replicas(conn, topo, &args[2]),
        "count-failure-reports" => node_index(topo, &args[2]).map(|_| Reply::Int(0)),
        // Another node's PUBLISH / SPUBLISH: for this node's subscribers only.
        "publish" | "spublish" => {
            let shard = cmd.cmd.name == "spublish";
            let n = server.pubsub.publish(&args[2], &args[3], shard);
            Ok(Reply::Int(n as i64))
        }
        "help" => Ok(help()),
        other => Err(CommandError::err(format!(
            "ERR CLUSTER {} is not supported: this node's topology is its cluster-nodes setting",
            other.to_ascii_uppercase()
        ))),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

/// A text block: verbatim in RESP3, a bulk string in RESP2 (as Redis sends CLUSTER INFO).
fn text(conn: &Conn, s: String) -> Reply {
    if conn.resp >= 3 {
        Reply::Verbatim("txt", Bytes::from(s))
    } else {
        Reply::Bulk(Bytes::from(s))
    }
}

fn info(topo: &Topology) -> String {
    let state = if topo.is_ok() { "ok" } else { "fail" };
    let size = topo
        .nodes
        .iter()
        .filter(|n| n.primary.is_none() && !n.ranges.is_empty())
        .count();
    let current_epoch = topo.nodes.iter().map(|n| n.epoch).max().unwrap_or(0);
    let lines = [
        format!("cluster_state:{state}"),
        format!("cluster_slots_assigned:{}", topo.assigned),
        format!("cluster_slots_ok:{}", topo.assigned),
        "cluster_slots_pfail:0".into(),
        "cluster_slots_fail:0".into(),
        format!("cluster_known_nodes:{}", topo.nodes.len()),
        format!("cluster_size:{size}"),
        format!("cluster_current_epoch:{current_epoch}"),
        format!("cluster_my_epoch:{}", topo.me().epoch),
        "cluster_stats_messages_sent:0".into(),
        "cluster_stats_messages_received:0".into(),
        "total_cluster_links_buffer_limit_exceeded:0".into(),
    ];
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

/// The host clients reach node `i` at.
fn host(conn: &Conn, topo: &Topology, i: usize) -> String {
    if i == topo.myself && topo.host_from_connection {
        conn.info.laddr.ip().to_canonical().to_string()
    } else {
        topo.nodes[i].host.clone()
    }
}

/// One CLUSTER NODES line (without its newline).
fn node_line(conn: &Conn, topo: &Topology, i: usize) -> String {
    let n: &Node = &topo.nodes[i];
    let role = if n.primary.is_some() {
        "slave"
    } else {
        "master"
    };
    let flags = if i == topo.myself {
        format!("myself,{role}")
    } else {
        role.to_string()
    };
    let primary = n
        .primary
        .map_or("-".to_string(), |p| topo.nodes[p].id.clone());
    let mut line = format!(
        "{} {}:{}@{} {flags} {primary} 0 0 {} connected",
        n.id,
        host(conn, topo, i),
        n.port,
        u32::from(n.port) + 10000,
        n.epoch
    );
    for &(a, b) in &n.ranges {
        if a == b {
            line.push_str(&format!(" {a}"));
        } else {
            line.push_str(&format!(" {a}-{b}"));
        }
    }
    line
}

fn nodes(conn: &Conn, topo: &Topology) -> String {
    let mut s = String::new();
    for i in 0..topo.nodes.len() {
        s.push_str(&node_line(conn, topo, i));
        s.push('\n');
    }
    s
}

/// `[host, port, id, {}]`: a node as CLUSTER SLOTS describes it (the empty map is where Redis
/// 7 puts a hostname when one is configured).
fn slots_node(conn: &Conn, topo: &Topology, i: usize) -> Reply {
    Reply::Array(vec![
        Reply::bulk(host(conn, topo, i)),
        Reply::Int(topo.nodes[i].port as i64),
        Reply::bulk(topo.nodes[i].id.clone()),
        Reply::Map(Vec::new()),
    ])
}

fn slots(conn: &Conn, topo: &Topology) -> Reply {
    let mut ranges: Vec<(u16, u16, usize)> = topo
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.ranges.iter().map(move |&(a, b)| (a, b, i)))
        .collect();
    ranges.sort_unstable();
    let out = ranges
        .into_iter()
        .map(|(a, b, i)| {
            let mut entry = vec![
                Reply::Int(a as i64),
                Reply::Int(b as i64),
                slots_node(conn, topo, i),
            ];
            entry.extend(topo.replicas(i).map(|(r, _)| slots_node(conn, topo, r)));
            Reply::Array(entry)
        })
        .collect();
    Reply::Array(out)
}

fn shards(conn: &Conn, topo: &Topology) -> Reply {
    let offset = conn.server.repl.stream.offset() as i64;
    let describe = |i: usize| {
        let n = &topo.nodes[i];
        let h = host(conn, topo, i);
        let role = if n.primary.is_some() {
            "replica"
        } else {
            "master"
        };
        let field = |k: &'static str, v: Reply| (Reply::bulk_str(k), v);
        Reply::Map(vec![
            field("id", Reply::bulk(n.id.clone())),
            field("port", Reply::Int(n.port as i64)),
            field("ip", Reply::bulk(h.clone())),
            field("endpoint", Reply::bulk(h)),
            field("role", Reply::bulk_str(role)),
            field(
                "replication-offset",
                Reply::Int(if i == topo.myself { offset } else { 0 }),
            ),
            field("health", Reply::bulk_str("online")),
        ])
    };
    let out = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.primary.is_none())
        .map(|(i, n)| {
            let slots = n
                .ranges
                .iter()
                .flat_map(|&(a, b)| [Reply::Int(a as i64), Reply::Int(b as i64)])
                .collect();
            let mut members = vec![describe(i)];
            members.extend(topo.replicas(i).map(|(r, _)| describe(r)));
            Reply::Map(vec![
                (Reply::bulk_str("slots"), Reply::Array(slots)),
                (Reply::bulk_str("nodes"), Reply::Array(members)),
            ])
        })
        .collect();
    Reply::Array(out)
}

fn node_index(topo: &Topology, id: &[u8]) -> Result<usize, CommandError> {
    topo.nodes
        .iter()
        .position(|n| n.id.as_bytes().eq_ignore_ascii_case(id))
        .ok_or_else(|| {
            CommandError::err(format!("ERR Unknown node {}", String::from_utf8_lossy(id)))
        })
}

fn replicas(conn: &Conn, topo: &Topology, id: &[u8]) -> Result<Reply, CommandError> {
    let i = node_index(topo, id)?;
    if topo.nodes[i].primary.is_some() {
        return Err(CommandError::err("ERR The specified node is not a master"));
    }
    Ok(Reply::Array(
        topo.replicas(i)
            .map(|(r, _)| Reply::bulk(node_line(conn, topo, r)))
            .collect(),
    ))
}

/// `CLUSTER COUNTKEYSINSLOT slot`: the live keys of database 0 in `slot`, counted on the
/// shard that owns it (a walk of that shard's keys: Redis keeps a per-slot index instead).
async fn count_keys(conn: &mut Conn, args: &[Bytes]) -> Reply {
    let slot = match commands::int_arg(&args[2]).map(Slot::from_number) {
        Err(e) => return Reply::Error(e.to_string()),
        Ok(None) => return Reply::error("ERR Invalid slot"),
        Ok(Some(s)) => s,
    };
    keys_in_slot(conn, slot, None).await
}

/// `CLUSTER GETKEYSINSLOT slot count`: up to `count` keys of database 0 in `slot`.
async fn get_keys(conn: &mut Conn, args: &[Bytes]) -> Reply {
    let (slot, count) = match (commands::int_arg(&args[2]), commands::int_arg(&args[3])) {
        (Err(e), _) | (_, Err(e)) => return Reply::Error(e.to_string()),
        (Ok(s), Ok(c)) => (s, c),
    };
    match Slot::from_number(slot).filter(|_| count >= 0) {
        None => Reply::error("ERR Invalid slot or number of keys"),
        Some(slot) => keys_in_slot(conn, slot, Some(count as usize)).await,
    }
}

/// The count (`limit` None) or up to `limit` names of the keys in `slot`.
async fn keys_in_slot(conn: &mut Conn, slot: Slot, limit: Option<usize>) -> Reply {
    let shard = conn.server.slots.shard_of_slot(slot).index();
    let bytes = conn
        .run_job(vec![shard], move |ctx| {
            let data = ctx.held_shards().next();
            let Some(db) = data.map(|s| &s.dbs[0]) else {
                return Reply::error("ERR shard not held");
            };
            let mut names = Vec::new();
            let mut n = 0i64;
            for (k, _) in db.keys.iter() {
                if limit.is_some_and(|l| names.len() >= l) {
                    break;
                }
                if key_slot(k).get() != slot.get() || db.is_expired(k) {
                    continue;
                }
                n += 1;
                if limit.is_some() {
                    names.push(Reply::Bulk(k.to_bytes()));
                }
            }
            match limit {
                None => Reply::Int(n),
                Some(_) => Reply::Array(names),
            }
        })
        .await;
    Reply::Raw(bytes)
}

fn help() -> Reply {
    Reply::help(&[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "HELP",
        "    Prints this help.",
    ])
}

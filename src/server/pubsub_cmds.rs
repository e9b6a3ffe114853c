//! The Pub/Sub commands, answered on the connection: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE,
//! PUBLISH, SPUBLISH and PUBSUB. The registry itself is `pubsub.rs`.
//!
//! Invariant: a connection has `Conn::subs` exactly while it is subscribed to something (Redis's
//! "subscribed mode"); confirmations are written straight into the connection's output, each
//! after every message queued before it (so a message for a channel never follows that
//! channel's unsubscription, nor precedes its subscription).

use super::connection::Conn;
use super::pubsub::{encode_confirmation, Kind, Subs};
use super::Server;
use crate::commands::{self, CmdRef};
use crate::protocol::Reply;
use bytes::Bytes;

/// The subscription commands, which answer with confirmations rather than a reply (and are
/// allowed in RESP2's subscribed mode, with PING, QUIT and RESET).
pub fn is_subscription(cmd: CmdRef) -> bool {
    matches!(
        cmd.cmd.name,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe"
    ) && cmd.cmd.group == commands::Group::PubSub
}

/// The error a RESP2 client in subscribed mode gets for any other command.
pub fn subscribed_mode_error(cmd: CmdRef) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        commands::full_name(cmd.id)
    )
}

/// PING in RESP2's subscribed mode: `["pong", arg or ""]`.
pub fn subscribed_ping(args: &[Bytes]) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str("pong"),
        Reply::Bulk(args.get(1).cloned().unwrap_or_default()),
    ])
}

pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let names = &args[1..];
    match cmd.cmd.name {
        "subscribe" => subscribe(conn, Kind::Channel, names),
        "psubscribe" => subscribe(conn, Kind::Pattern, names),
        // Redis refuses SSUBSCRIBE to a client that expects one reply per command, which
        // includes one running EXEC (SUBSCRIBE is let through there for compatibility).
        "ssubscribe" if conn.in_exec => {
            return Some(Reply::error(
                "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
            ))
        }
        "ssubscribe" => subscribe(conn, Kind::Shard, names),
        "unsubscribe" => unsubscribe(conn, Kind::Channel, names),
        "punsubscribe" => unsubscribe(conn, Kind::Pattern, names),
        "sunsubscribe" => unsubscribe(conn, Kind::Shard, names),
        _ => {
            let r = run(&conn.server, cmd, &args);
            if is_publish(cmd) && conn.server.effects_wanted() && conn.server.cluster.is_none() {
                // Followers deliver it to their own subscribers, as Redis's replicas do (in a
                // cluster the bus carries it to them instead, as Redis Cluster's does).
                conn.server.publish_effects(vec![crate::commands::Effect {
                    db: conn.db as u16,
                    args,
                }]);
            }
            return Some(r);
        }
    }
    None
}

/// PUBLISH and SPUBLISH: they travel down the effect stream (a script's inside its unit).
pub fn is_publish(cmd: CmdRef) -> bool {
    matches!(cmd.cmd.name, "publish" | "spublish")
}

/// PUBLISH, SPUBLISH and PUBSUB's subcommands: what a script may call too.
pub fn run(server: &Server, cmd: CmdRef, args: &[Bytes]) -> Reply {
    let ps = &server.pubsub;
    let shard = cmd.cmd.name.starts_with("shard");
    let kind = if shard { Kind::Shard } else { Kind::Channel };
    match commands::full_name(cmd.id) {
        "publish" | "spublish" => {
            let shard = cmd.cmd.name == "spublish";
            let n = ps.publish(&args[1], &args[2], shard);
            // In a cluster the other nodes' subscribers hear it too (the count is this
            // node's, as in Redis).
            if let (Some(topo), Some(bus)) = (server.cluster.as_ref(), server.bus.get()) {
                bus.publish(topo, shard, &args[1], &args[2]);
            }
            Reply::Int(n as i64)
        }
        "pubsub|channels" | "pubsub|shardchannels" => {
            if args.len() > 3 {
                return Reply::Error(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                    String::from_utf8_lossy(&args[1])
                ));
            }
            let names = ps.names(kind, args.get(2).map(|p| &p[..]));
            Reply::Array(names.into_iter().map(Reply::Bulk).collect())
        }
        "pubsub|numpat" => Reply::Int(ps.count(Kind::Pattern) as i64),
        "pubsub|numsub" | "pubsub|shardnumsub" => Reply::Array(
            args[2..]
                .iter()
                .flat_map(|n| {
                    [
                        Reply::Bulk(n.clone()),
                        Reply::Int(ps.subscribers(kind, n) as i64),
                    ]
                })
                .collect(),
        ),
        "pubsub|help" => Reply::help(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ]),
        _ => Reply::error("ERR unknown subcommand. Try PUBSUB HELP."),
    }
}

fn subscribe(conn: &mut Conn, kind: Kind, names: &[Bytes]) {
    let resp = conn.resp;
    let verb = kind.verbs().0;
    let subs = conn
        .subs
        .get_or_insert_with(|| Box::new(Subs::new(conn.info.clone())));
    for name in names {
        // What was published before this subscription goes out before its confirmation.
        subs.drain(resp, &mut conn.out);
        subs.subscribe(&conn.server.pubsub, kind, name);
        encode_confirmation(resp, verb, Some(name), subs.count(kind), &mut conn.out);
    }
}

fn unsubscribe(conn: &mut Conn, kind: Kind, names: &[Bytes]) {
    let resp = conn.resp;
    let verb = kind.verbs().1;
    let Some(subs) = conn.subs.as_mut() else {
        if names.is_empty() {
            encode_confirmation(resp, verb, None, 0, &mut conn.out);
        }
        for name in names {
            encode_confirmation(resp, verb, Some(name), 0, &mut conn.out);
        }
        return;
    };
    let all;
    let names = if names.is_empty() {
        all = subs.names(kind);
        if all.is_empty() {
            encode_confirmation(resp, verb, None, subs.count(kind), &mut conn.out);
        }
        &all[..]
    } else {
        names
    };
    for name in names {
        subs.unsubscribe(&conn.server.pubsub, kind, name);
        // Nothing for `name` can be queued after this: whatever was goes out first.
        subs.drain(resp, &mut conn.out);
        encode_confirmation(resp, verb, Some(name), subs.count(kind), &mut conn.out);
    }
    if subs.total() == 0 {
        conn.subs = None;
    }
}

/// Leaves every subscription without confirmations (RESET, disconnect).
pub fn leave(conn: &mut Conn) {
    if let Some(mut subs) = conn.subs.take() {
        subs.leave(&conn.server.pubsub);
    }
}

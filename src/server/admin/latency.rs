//! LATENCY: the latency monitor's reports (LATEST, HISTORY, GRAPH, DOCTOR, RESET) and the
//! per-command latency histograms (HISTOGRAM), with Redis 7.0's reply shapes.
//!
//! Invariants: these commands only read, except RESET, which drops whole series; per-command
//! histograms are read by summing every shard's and the connections' counts
//! ([`command_counts`]), never by stopping a shard. Where the data lives and who writes it:
//! `monitor.rs` (the events, one mutex) and `shard::histogram` (counts per shard).

pub mod doctor;
pub mod graph;
pub mod monitor;

pub use monitor::Monitor;

use super::super::connection::Conn;
use super::super::Server;
use crate::commands::{self, CmdRef};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::shard::histogram::Counts;
use bytes::Bytes;

/// LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HISTOGRAM | HELP (arity is checked by
/// the command table).
pub fn command(conn: &Conn, sub: &str, args: &[Bytes]) -> Result<Reply, CommandError> {
    let server = &conn.server;
    let monitor = &server.latency;
    let now = crate::clock::unix_ms() / 1000;
    match sub {
        "latency|latest" => Ok(Reply::Array(
            monitor
                .snapshot()
                .iter()
                .map(|(name, s)| {
                    let last = s.latest();
                    Reply::Array(vec![
                        Reply::bulk_str(name),
                        Reply::Int(last.unix_secs as i64),
                        Reply::Int(last.ms as i64),
                        Reply::Int(s.max as i64),
                    ])
                })
                .collect(),
        )),
        "latency|history" => Ok(Reply::Array(match monitor.get(&args[2]) {
            Some((_, s)) => s
                .samples()
                .map(|x| Reply::Array(vec![Reply::Int(x.unix_secs as i64), Reply::Int(x.ms as i64)]))
                .collect(),
            None => Vec::new(),
        })),
        "latency|reset" => {
            let names: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
            Ok(Reply::Int(monitor.reset(&names) as i64))
        }
        "latency|graph" => match monitor.get(&args[2]) {
            Some((name, s)) => Ok(Reply::Verbatim(
                "txt",
                Bytes::from(graph::graph(name, &s, now)),
            )),
            None => Err(CommandError::err(format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(&args[2])
            ))),
        },
        "latency|doctor" => Ok(Reply::Verbatim(
            "txt",
            Bytes::from(doctor::report(&monitor.snapshot(), &server.config(), now)),
        )),
        "latency|histogram" => Ok(histogram(server, &args[2..])),
        _ => Ok(Reply::help(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ])),
    }
}

/// One command's latency counts summed over every shard and the connections; `None` when it
/// has none (never called since start or CONFIG RESETSTAT, or tracking was off).
pub fn command_counts(server: &Server, id: u16) -> Option<Counts> {
    let mut out = None;
    for stats in server
        .shards
        .iter()
        .map(|h| &h.stats)
        .chain(std::iter::once(&server.conn_stats))
    {
        if let Some(c) = stats.cmds.get(id as usize) {
            c.hist.add_to(&mut out);
        }
    }
    out.filter(|c| c.total() > 0)
}

/// LATENCY HISTOGRAM [command ...]: every command with calls, or the named ones (a container
/// names itself and its subcommands; unknown names and commands without calls are skipped,
/// a name given twice is answered twice).
fn histogram(server: &Server, names: &[Bytes]) -> Reply {
    let chosen: Vec<CmdRef> = if names.is_empty() {
        commands::all_commands().to_vec()
    } else {
        names.iter().flat_map(|n| by_name(n)).collect()
    };
    Reply::Map(
        chosen
            .into_iter()
            .filter_map(|c| {
                let counts = command_counts(server, c.id)?;
                let dist = counts
                    .distribution()
                    .into_iter()
                    .map(|(usec, n)| (Reply::Int(usec as i64), Reply::Int(n as i64)))
                    .collect();
                Some((
                    Reply::bulk_str(commands::full_name(c.id)),
                    Reply::Map(vec![
                        (Reply::bulk_str("calls"), Reply::Int(counts.total() as i64)),
                        (Reply::bulk_str("histogram_usec"), Reply::Map(dist)),
                    ]),
                ))
            })
            .collect(),
    )
}

/// The command named `name` (`get`, `config|get`, any case) and, for a container, its
/// subcommands.
fn by_name(name: &[u8]) -> Vec<CmdRef> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let all = commands::all_commands();
    let Some(found) = all.iter().find(|c| commands::full_name(c.id) == name) else {
        return Vec::new();
    };
    let prefix = format!("{name}|");
    std::iter::once(*found)
        .chain(
            all.iter()
                .filter(|c| commands::full_name(c.id).starts_with(&prefix))
                .copied(),
        )
        .collect()
}

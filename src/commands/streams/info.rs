//! XINFO STREAM and XINFO HELP (the group subcommands are in `stream_groups/`).
//!
//! Invariant: nothing here changes a stream; `radix-tree-nodes` is computed from the node
//! keys as a compactly built radix tree, not stored.

use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::stream::StreamId;

const HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn xinfo_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::help(HELP))
}

/// Number of nodes of a compressed radix tree (Redis's rax) holding the 16-byte big-endian
/// keys of `ids` (ascending): the root, every key, every branching point and every child of
/// one (a compressed chain between them is one node).
fn rax_nodes(ids: impl Iterator<Item = StreamId>) -> usize {
    let key = |id: StreamId| {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&id.ms.to_be_bytes());
        k[8..].copy_from_slice(&id.seq.to_be_bytes());
        k
    };
    let mut set: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    set.insert(Vec::new());
    let mut prev: Option<[u8; 16]> = None;
    for id in ids {
        let k = key(id);
        set.insert(k.to_vec());
        if let Some(p) = prev {
            let l = p.iter().zip(&k).take_while(|(a, b)| a == b).count();
            if l < 16 {
                set.insert(p[..l].to_vec());
                set.insert(p[..=l].to_vec());
                set.insert(k[..=l].to_vec());
            }
        }
        prev = Some(k);
    }
    set.len()
}

pub(super) fn xinfo_stream(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[2];
    let s = get_stream(ctx.db(key)?, key)?.ok_or(CommandError::NoSuchKey)?;
    // Redis names the subcommand as it was written.
    let usage = || {
        CommandError::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(&args[1])
        ))
    };
    let full = match args.len() {
        3 => None,
        4 if is(&args[3], "FULL") => Some(10usize),
        6 if is(&args[3], "FULL") && is(&args[4], "COUNT") => {
            let n = int_arg(&args[5])?;
            // 0 means every entry; a negative count falls back to the default.
            Some(match n {
                0 => usize::MAX,
                n if n < 0 => 10,
                n => n as usize,
            })
        }
        _ => return Err(usage()),
    };
    let b = |s: &'static str| Reply::bulk_str(s);
    let mut m = vec![
        (b("length"), Reply::Int(s.len() as i64)),
        (b("radix-tree-keys"), Reply::Int(s.node_count() as i64)),
        (
            b("radix-tree-nodes"),
            Reply::Int(rax_nodes(s.node_keys()) as i64),
        ),
        (b("last-generated-id"), id_reply(s.last_id)),
        (b("max-deleted-entry-id"), id_reply(s.max_deleted_id)),
        (b("entries-added"), Reply::Int(s.entries_added as i64)),
        (b("recorded-first-entry-id"), id_reply(s.first_id())),
    ];
    match full {
        None => {
            let edge = |e: Option<&Entry>| e.map_or(Reply::Nil, entry_reply);
            m.push((b("groups"), Reply::Int(s.groups.len() as i64)));
            m.push((b("first-entry"), edge(s.first_entry())));
            m.push((b("last-entry"), edge(s.last_entry())));
        }
        Some(n) => {
            let entries = s.iter().take(n).map(entry_reply).collect();
            m.push((b("entries"), Reply::Array(entries)));
            m.push((b("groups"), super::stream_groups::full_groups(s, n)));
        }
    }
    Ok(Reply::Map(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rax_node_counts() {
        assert_eq!(rax_nodes(std::iter::empty()), 1);
        assert_eq!(rax_nodes([StreamId::new(1, 1)].into_iter()), 2);
    }
}

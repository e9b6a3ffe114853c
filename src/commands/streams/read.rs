//! XREAD, with and without BLOCK, and the reply XREAD and XREADGROUP share.
//!
//! Invariant: XREAD's keys are found as Redis 7.0's key spec finds them, everywhere (routing,
//! COMMAND GETKEYS, blocking); a retry after BLOCK reads from the ids the first call resolved.

use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::stream::StreamId;
use crate::keyspace::Value;
use crate::server::blocking::BlockSpec;

/// XREAD's keys, found as Redis 7.0's key spec finds them: after the first STREAMS, half of
/// the remaining arguments (rounded down). For a valid call these are exactly its streams.
pub(super) fn xread_keys(args: &[Bytes]) -> Vec<usize> {
    keys_after_streams(args, 1)
}

/// The keys of a STREAMS list as Redis 7.0's key specs find them: after the first STREAMS at
/// or past argument `from`, half of the remaining arguments (rounded down).
pub(crate) fn keys_after_streams(args: &[Bytes], from: usize) -> Vec<usize> {
    let Some(at) = args
        .iter()
        .skip(from)
        .position(|a| is(a, "STREAMS"))
        .map(|p| p + from)
    else {
        return vec![];
    };
    let n = (args.len() - at - 1) / 2;
    (at + 1..at + 1 + n).collect()
}

/// The options XREAD and XREADGROUP share, parsed in one pass as Redis parses them.
pub(crate) struct ReadArgs<'a> {
    pub count: usize,
    pub noack: bool,
    /// XREADGROUP's group and consumer.
    pub group: Option<(&'a Bytes, &'a Bytes)>,
    /// Where the keys after STREAMS start.
    pub streams_at: usize,
}

/// Parses the options of XREAD, or of XREADGROUP with `grouped` (GROUP and NOACK are refused
/// for XREAD, naming it).
pub(crate) fn read_args<'a>(
    ctx: &Ctx<'_>,
    args: &'a [Bytes],
    grouped: bool,
) -> CmdResult<ReadArgs<'a>> {
    let mut out = ReadArgs {
        count: 0,
        noack: false,
        group: None,
        streams_at: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is(o, "BLOCK") && more > 0 {
            if ctx.in_script {
                // Redis names the command as the script called it.
                return Err(CommandError::err(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(&args[0])
                )));
            }
            i += 1;
            timeout_ms_arg(&args[i])?;
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            out.count = int_arg(&args[i])?.max(0) as usize;
        } else if is(o, "STREAMS") && more > 0 {
            if !more.is_multiple_of(2) {
                return Err(CommandError::err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            out.streams_at = i + 1;
            return Ok(out);
        } else if is(o, "GROUP") && more >= 2 {
            if !grouped {
                return Err(CommandError::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if is(o, "NOACK") {
            if !grouped {
                return Err(CommandError::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Err(CommandError::Syntax)
}

pub(super) fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let ReadArgs {
        count,
        streams_at: at,
        ..
    } = read_args(ctx, args, false)?;
    let n = (args.len() - at) / 2;
    let mut after = Vec::with_capacity(n);
    for j in 0..n {
        let key = &args[at + j];
        let id_arg = &args[at + n + j];
        let s = get_stream(ctx.db(key)?, key)?;
        if &id_arg[..] == b"$" {
            after.push(s.map_or(StreamId::MIN, |s| s.last_id));
        } else if &id_arg[..] == b">" {
            return Err(CommandError::err(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            after.push(parse_id(id_arg, 0, IdForm::Strict)?.0);
        }
    }
    let take = if count == 0 { usize::MAX } else { count };
    let mut out: Vec<(Reply, Reply)> = Vec::new();
    for (j, gt) in after.into_iter().enumerate() {
        let key = &args[at + j];
        let Some(start) = gt.next() else { continue };
        let Some(s) = get_stream(ctx.db(key)?, key)? else {
            continue;
        };
        let entries: Vec<Reply> = s
            .range(start, StreamId::MAX)
            .take(take)
            .map(entry_reply)
            .collect();
        if !entries.is_empty() {
            out.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
        }
    }
    Ok(read_reply(ctx.resp, out))
}

// ---- XREAD BLOCK ----

/// How XREAD BLOCK waits (src/server/blocking.rs): on its stream keys, until one has an entry
/// after the id asked for. Readers take nothing, so none holds another back.
pub static BLOCK_SPECS: &[(&str, BlockSpec)] = &[(
    "xread",
    BlockSpec {
        parse: xread_block_timeout,
        sources: xread_keys,
        narrow: xread_narrow,
        kind: "stream",
        not_served: Reply::NilArray,
        timed_out: Reply::NilArray,
        gone: None,
    },
)];

/// The BLOCK timeout in milliseconds (0: forever). An XREAD without BLOCK, or with options it
/// cannot read, is an error here: it then runs once and answers for itself.
fn xread_block_timeout(args: &[Bytes]) -> CmdResult<u64> {
    let mut timeout = None;
    let mut i = 1;
    while i + 1 < args.len() {
        if is(&args[i], "BLOCK") {
            timeout = parse_i64(&args[i + 1]).and_then(|t| u64::try_from(t).ok());
            if timeout.is_none() {
                return Err(CommandError::Syntax);
            }
        } else if is(&args[i], "STREAMS") {
            break;
        } else if !is(&args[i], "COUNT") {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    timeout.ok_or(CommandError::Syntax)
}

/// XREAD with only the streams at `keep` (and their ids).
fn xread_narrow(args: &[Bytes], keep: &[usize]) -> Vec<Bytes> {
    narrow_streams(args, &xread_keys(args), keep)
}

/// A STREAMS call (XREAD, XREADGROUP) keeping only the streams at `keep` of its `keys`, each
/// with its id: what a blocked retry runs when some of its streams cannot serve it.
pub(crate) fn narrow_streams(args: &[Bytes], keys: &[usize], keep: &[usize]) -> Vec<Bytes> {
    let Some(&first) = keys.first() else {
        return args.to_vec();
    };
    let n = keys.len();
    let mut v: Vec<Bytes> = args[..first].to_vec();
    v.extend(keep.iter().map(|&i| args[i].clone()));
    v.extend(keep.iter().map(|&i| args[i + n].clone()));
    v
}

/// XREAD's arguments with each `$` replaced by its stream's last id now (0-0 for a missing
/// key), so retries wait for entries added after the call, as Redis's `$` means.
pub fn xread_resolve_last_ids(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Vec<Bytes> {
    let keys = xread_keys(args);
    let n = keys.len();
    let mut v = args.to_vec();
    for i in keys {
        if &args[i + n][..] != b"$" {
            continue;
        }
        let key = &args[i];
        let last = match ctx.db(key).map(|db| db.peek(key).map(|e| e.value.clone())) {
            Ok(Some(Value::Stream(s))) => s.last_id,
            Ok(None) => StreamId::MIN,
            // Another type (or a shard not held): the command reports it.
            _ => continue,
        };
        v[i + n] = Bytes::from(last.to_string());
    }
    v
}

/// XREAD's and XREADGROUP's reply: per stream its entries, a map in RESP3; nothing read is a
/// null array (with BLOCK the client then waits: src/server/blocking.rs retries the call; in
/// MULTI it does not, as in Redis).
pub(crate) fn read_reply(resp: u8, out: Vec<(Reply, Reply)>) -> Reply {
    if out.is_empty() {
        return Reply::NilArray;
    }
    if resp >= 3 {
        Reply::Map(out)
    } else {
        Reply::Array(
            out.into_iter()
                .map(|(k, v)| Reply::Array(vec![k, v]))
                .collect(),
        )
    }
}

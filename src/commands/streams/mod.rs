//! Stream commands without consumer groups: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM,
//! XREAD, XSETID, XINFO STREAM and XINFO HELP (groups: `stream_groups/`).
//!
//! Invariant: every write propagates a deterministic effect: an XADD whose id was generated
//! (`*`, `ms-*`) records the id it made, and an approximate trim (`~`), whose result depends
//! on the node layout, records the exact length it left (`MAXLEN = n`), so followers and the
//! append-only log reproduce the stream whatever their own layout.

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::stream::{Entry, StreamId, Trim, NODE_MAX_ENTRIES};
use crate::keyspace::{Db, Str, Stream, Value};

mod info;
mod read;

use info::{xinfo_help, xinfo_stream};
pub(crate) use read::{keys_after_streams, narrow_streams, read_args, read_reply, ReadArgs};
use read::{xread, xread_keys};
pub use read::{xread_resolve_last_ids, BLOCK_SPECS};

const X: Group = Group::Stream;

pub const COMMANDS: &[Command] = &[
    Command::new("xadd", -5, WRITE | DENYOOM | FAST, X, xadd).keys(1, 1, 1),
    Command::new("xlen", 2, READONLY | FAST, X, xlen).keys(1, 1, 1),
    Command::new("xrange", -4, READONLY, X, xrange).keys(1, 1, 1),
    Command::new("xrevrange", -4, READONLY, X, xrevrange).keys(1, 1, 1),
    Command::new("xdel", -3, WRITE | FAST, X, xdel).keys(1, 1, 1),
    Command::new("xtrim", -4, WRITE, X, xtrim).keys(1, 1, 1),
    Command::new("xread", -4, READONLY | BLOCKING, X, xread).custom_keys(xread_keys),
    Command::new("xsetid", -3, WRITE | DENYOOM | FAST, X, xsetid).keys(1, 1, 1),
    Command::new("xinfo", -2, 0, X, container).subs(&[
        Command::new(
            "consumers",
            4,
            READONLY,
            X,
            super::stream_groups::xinfo_consumers,
        )
        .keys(2, 2, 1),
        Command::new("groups", 3, READONLY, X, super::stream_groups::xinfo_groups).keys(2, 2, 1),
        Command::new("stream", -3, READONLY, X, xinfo_stream).keys(2, 2, 1),
        Command::new("help", 2, LOADING | STALE, X, xinfo_help),
    ]),
];

/// Never runs: the dispatcher resolves XINFO to a subcommand or reports it unknown.
fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Err(CommandError::err(format!(
        "ERR unknown subcommand '{}'. Try XINFO HELP.",
        String::from_utf8_lossy(args.get(1).map_or(&b""[..], |a| &a[..]))
    )))
}

pub(super) fn invalid_id() -> CommandError {
    CommandError::err("ERR Invalid stream ID specified as stream command argument")
}

// ---- ids ----

/// An unsigned 64-bit number as Redis's `string2ull` reads it: a canonical integer (refused
/// if negative), else C's `strtoull` over the whole text (leading spaces, a sign and leading
/// zeros accepted; a `-` wraps, as `strtoull` does).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let (mut i, neg) = super::zsets::num::c_sign_prefix(s);
    let start = i;
    let mut v: u64 = 0;
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        i += 1;
    }
    if i == start || i != s.len() {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// How an id argument may be written.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum IdForm {
    /// `ms[-seq]` only.
    Strict,
    /// Also `-` and `+` (range bounds).
    Bound,
    /// Also `ms-*` (XADD).
    SeqStar,
}

/// Parses `ms[-seq]`; a missing seq is `missing_seq`. Returns the id and whether its seq was
/// given (false only for `ms-*`).
pub(super) fn parse_id(arg: &[u8], missing_seq: u64, form: IdForm) -> CmdResult<(StreamId, bool)> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    if form == IdForm::Bound && arg.len() == 1 {
        match arg[0] {
            b'-' => return Ok((StreamId::MIN, true)),
            b'+' => return Ok((StreamId::MAX, true)),
            _ => {}
        }
    }
    // Redis reads up to the first NUL (a C string).
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    match arg.iter().position(|&b| b == b'-') {
        None => {
            let ms = string2ull(arg).ok_or_else(invalid_id)?;
            Ok((StreamId::new(ms, missing_seq), true))
        }
        Some(dash) => {
            let ms = string2ull(&arg[..dash]).ok_or_else(invalid_id)?;
            let rest = &arg[dash + 1..];
            if form == IdForm::SeqStar && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = string2ull(rest).ok_or_else(invalid_id)?;
            Ok((StreamId::new(ms, seq), true))
        }
    }
}

pub(super) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(Bytes::from(id.to_string()))
}

pub(super) fn entry_reply(e: &Entry) -> Reply {
    Reply::Array(vec![
        id_reply(e.id),
        Reply::Array(e.fields.iter().map(|f| Reply::Bulk(f.to_bytes())).collect()),
    ])
}

// ---- lookups ----

pub(super) fn get_stream<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<Option<&'a Stream>> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CommandError::WrongType),
    }
}

pub(super) fn get_stream_mut<'a>(db: &'a mut Db, key: &[u8]) -> CmdResult<Option<&'a mut Stream>> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CommandError::WrongType),
    }
}

// ---- trimming options (XADD and XTRIM) ----

#[derive(Default)]
struct AddArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: Option<i64>,
    nomkstream: bool,
    /// XADD: the id (`None` for `*`), whether its seq was given, and where the fields start.
    id: Option<(StreamId, bool)>,
    fields_at: usize,
}

/// Parses XADD's or XTRIM's options from argument 2, with Redis's checks and errors.
fn parse_add_args(args: &[Bytes], xadd: bool) -> CmdResult<AddArgs> {
    let mut a = AddArgs::default();
    let mut i = 2;
    let mut saw_trim = false;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && &opt[..] == b"*" {
            break;
        }
        let maxlen = is(opt, "MAXLEN");
        if (maxlen || is(opt, "MINID")) && more > 0 {
            if saw_trim {
                return Err(CommandError::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            saw_trim = true;
            a.approx = false;
            let next = &args[i + 1];
            if more >= 2 && (&next[..] == b"~" || &next[..] == b"=") {
                a.approx = &next[..] == b"~";
                i += 1;
            }
            i += 1;
            if maxlen {
                let n = int_arg(&args[i])?;
                if n < 0 {
                    return Err(CommandError::err("ERR The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                let (id, _) = parse_id(&args[i], 0, IdForm::Strict)?;
                a.trim = Some(Trim::MinId(id));
            }
        } else if is(opt, "LIMIT") && more > 0 {
            i += 1;
            let n = int_arg(&args[i])?;
            if n < 0 {
                return Err(CommandError::err("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = Some(n);
        } else if xadd && is(opt, "NOMKSTREAM") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id(opt, 0, IdForm::SeqStar)?);
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if a.limit.is_some() && a.trim.is_none() {
        return Err(CommandError::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(CommandError::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if !a.approx && a.limit.is_some() {
        return Err(CommandError::err(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    if xadd {
        a.fields_at = i + 1;
        let n = args.len().saturating_sub(a.fields_at);
        if n < 2 || n % 2 == 1 {
            return Err(CommandError::WrongArity("xadd".into()));
        }
    }
    Ok(a)
}

impl AddArgs {
    /// The entry cap of a trim: none for exact trims, Redis's default (100 nodes' worth)
    /// for approximate ones without LIMIT.
    fn limit(&self) -> u64 {
        match (self.approx, self.limit) {
            (false, _) => 0,
            (true, None) => 100 * NODE_MAX_ENTRIES as u64,
            (true, Some(n)) => n as u64,
        }
    }
}

// ---- commands ----

fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let a = parse_add_args(args, true)?;
    if let Some((id, true)) = a.id {
        if id == StreamId::MIN {
            return Err(CommandError::err(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = &args[1];
    let now = ctx.now();
    let db = ctx.db(key)?;
    match db.get_mut(key) {
        Some(Value::Stream(_)) => {}
        Some(_) => return Err(CommandError::WrongType),
        None if a.nomkstream => return Ok(Reply::Nil),
        None => db.set(key, Value::Stream(Box::default())),
    }
    let Some(Value::Stream(s)) = db.get_mut(key) else {
        return Err(CommandError::WrongType);
    };
    if s.last_id == StreamId::MAX {
        return Err(CommandError::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let last = s.last_id;
    let id = match a.id {
        None => {
            if now > last.ms {
                StreamId::new(now, 0)
            } else {
                // `last` is below MAX (checked above), so it has a successor.
                last.next().unwrap_or(StreamId::MAX)
            }
        }
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => match last.seq.checked_add(1) {
            Some(seq) => StreamId::new(id.ms, seq),
            None => return Err(CommandError::err("ERR Elements are too large to be stored")),
        },
        Some((id, false)) => id,
    };
    if id <= last {
        return Err(CommandError::err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    }
    let fields: Box<[Str]> = args[a.fields_at..].iter().map(|f| Str::new(f)).collect();
    s.append(id, fields);
    let trimmed = match a.trim {
        Some(how) => s.trim(how, a.approx, a.limit()),
        None => 0,
    };
    let len_after = s.len();
    ctx.dirty(1);
    let generated = !matches!(a.id, Some((_, true)));
    if ctx.wants_effects() && (generated || (a.approx && a.trim.is_some())) {
        let mut e = vec![args[0].clone(), key.clone()];
        if trimmed > 0 {
            e.extend([
                Bytes::from_static(b"MAXLEN"),
                Bytes::from_static(b"="),
                Bytes::from(len_after.to_string()),
            ]);
        }
        e.push(Bytes::from(id.to_string()));
        e.extend(args[a.fields_at..].iter().cloned());
        ctx.propagate(e);
    }
    Ok(id_reply(id))
}

fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let n = get_stream(ctx.db(key)?, key)?.map_or(0, |s| s.len());
    Ok(Reply::Int(n as i64))
}

/// A range bound: `(id` excludes it, otherwise an id or `-`/`+` with a missing seq filled in.
pub(super) fn parse_bound(arg: &[u8], missing_seq: u64) -> CmdResult<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, IdForm::Strict)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq, IdForm::Bound)?.0, false))
    }
}

fn range_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult<Reply> {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let (mut start, ex) = parse_bound(start_arg, 0)?;
    if ex {
        start = start
            .next()
            .ok_or_else(|| CommandError::err("ERR invalid start ID for the interval"))?;
    }
    let (mut end, ex) = parse_bound(end_arg, u64::MAX)?;
    if ex {
        end = end
            .prev()
            .ok_or_else(|| CommandError::err("ERR invalid end ID for the interval"))?;
    }
    let mut count: Option<usize> = None;
    let mut a = ArgCursor::new(args, 4);
    while let Some(opt) = a.next() {
        if is(opt, "COUNT") && a.remaining() >= 1 {
            let n = a.next_i64()?;
            count = Some(n.max(0) as usize);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = &args[1];
    let Some(s) = get_stream(ctx.db(key)?, key)? else {
        return Ok(Reply::Array(vec![]));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let take = count.unwrap_or(usize::MAX);
    let range = s.range(start, end);
    let out: Vec<Reply> = if rev {
        range.rev().take(take).map(entry_reply).collect()
    } else {
        range.take(take).map(entry_reply).collect()
    };
    Ok(Reply::Array(out))
}

fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_generic(ctx, args, true)
}

fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let db = ctx.db(key)?;
    if get_stream(db, key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_id(a, 0, IdForm::Strict).map(|(id, _)| id))
        .collect::<CmdResult<Vec<_>>>()?;
    let Some(s) = get_stream_mut(db, key)? else {
        return Ok(Reply::Int(0));
    };
    let deleted = ids.into_iter().filter(|&id| s.delete(id)).count();
    if deleted > 0 {
        ctx.dirty(deleted as u64);
    }
    Ok(Reply::Int(deleted as i64))
}

fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let a = parse_add_args(args, false)?;
    let key = &args[1];
    let Some(s) = get_stream_mut(ctx.db(key)?, key)? else {
        return Ok(Reply::Int(0));
    };
    let how = a.trim.ok_or(CommandError::Syntax)?;
    let removed = s.trim(how, a.approx, a.limit());
    let len_after = s.len();
    if removed > 0 {
        ctx.dirty(removed);
        if a.approx {
            ctx.propagate(vec![
                args[0].clone(),
                key.clone(),
                Bytes::from_static(b"MAXLEN"),
                Bytes::from_static(b"="),
                Bytes::from(len_after.to_string()),
            ]);
        }
    }
    Ok(Reply::Int(removed as i64))
}

fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (id, _) = parse_id(&args[2], 0, IdForm::Strict)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut a = ArgCursor::new(args, 3);
    while let Some(opt) = a.next() {
        if is(opt, "ENTRIESADDED") && a.remaining() > 0 {
            let n = a.next_i64()?;
            if n < 0 {
                return Err(CommandError::err("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(opt, "MAXDELETEDID") && a.remaining() > 0 {
            max_deleted = parse_id(a.required()?, 0, IdForm::Strict)?.0;
            if id < max_deleted {
                return Err(CommandError::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = &args[1];
    let s = get_stream_mut(ctx.db(key)?, key)?.ok_or(CommandError::NoSuchKey)?;
    if let Some(top) = s.last_entry().map(|e| e.id) {
        if id < top {
            return Err(CommandError::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| n < s.len()) {
            return Err(CommandError::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        s.max_deleted_id = max_deleted;
    }
    ctx.dirty(1);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_reads_them() {
        let p = |s: &str| parse_id(s.as_bytes(), 0, IdForm::Strict).ok().map(|x| x.0);
        assert_eq!(p("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(p("5"), Some(StreamId::new(5, 0)));
        assert_eq!(p(" 1"), Some(StreamId::new(1, 0)));
        assert_eq!(p("1-+5"), Some(StreamId::new(1, 5)));
        assert_eq!(p("01-02"), Some(StreamId::new(1, 2)));
        assert_eq!(p("-1"), None);
        assert_eq!(p("1-"), None);
        assert_eq!(p("1--1"), None);
        assert_eq!(p("1-2-3"), None);
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(p("+"), None);
        assert_eq!(
            parse_id(b"3-*", 0, IdForm::SeqStar).ok(),
            Some((StreamId::new(3, 0), false))
        );
    }
}

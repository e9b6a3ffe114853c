//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS (BYTE|BIT ranges), BITOP.
//!
//! Invariant: bit 0 is the most significant bit of byte 0; bits past the end read as 0; a
//! bitmap never grows past `proto-max-bulk-len` bytes.

use super::flags::*;
use super::ranges::clamp_range;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

pub const COMMANDS: &[Command] = &[
    Command::new("setbit", 4, WRITE | DENYOOM, Group::Bitmap, setbit).keys(1, 1, 1),
    Command::new("getbit", 3, READONLY | FAST, Group::Bitmap, getbit).keys(1, 1, 1),
    Command::new("bitcount", -2, READONLY, Group::Bitmap, bitcount).keys(1, 1, 1),
    Command::new("bitpos", -3, READONLY, Group::Bitmap, bitpos).keys(1, 1, 1),
    Command::new("bitop", -4, WRITE | DENYOOM, Group::Bitmap, bitop).keys(2, -1, 1),
];

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP op destkey key [key …]: missing sources read as empty strings, shorter ones as padded
/// with zero bytes; an empty result deletes the destination.
fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let op = if is(&args[1], "AND") {
        BitOp::And
    } else if is(&args[1], "OR") {
        BitOp::Or
    } else if is(&args[1], "XOR") {
        BitOp::Xor
    } else if is(&args[1], "NOT") {
        BitOp::Not
    } else {
        return Err(CommandError::Syntax);
    };
    let sources = &args[3..];
    if op == BitOp::Not && sources.len() != 1 {
        return Err(CommandError::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    // Every source is read before anything is written: a wrong type fails the whole command.
    let mut srcs: Vec<Bytes> = Vec::with_capacity(sources.len());
    for k in sources {
        match ctx.db(k)?.get(k) {
            None => srcs.push(Bytes::new()),
            Some(Value::Str(s)) => srcs.push(s.to_bytes()),
            Some(_) => return Err(CommandError::WrongType),
        }
    }
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    out[..srcs[0].len()].copy_from_slice(&srcs[0]);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        _ => {
            for s in &srcs[1..] {
                let (head, tail) = out.split_at_mut(s.len());
                for (o, b) in head.iter_mut().zip(s.iter()) {
                    match op {
                        BitOp::And => *o &= b,
                        BitOp::Or => *o |= b,
                        _ => *o ^= b,
                    }
                }
                // Past a shorter source, AND meets zero bytes; OR and XOR leave the rest.
                if op == BitOp::And {
                    tail.fill(0);
                }
            }
        }
    }
    let dst = &args[2];
    let db = ctx.db(dst)?;
    if len == 0 {
        if db.remove(dst).is_some() {
            ctx.dirty(1);
        }
    } else {
        db.set(dst, Value::Str(Str::growable(out)));
        ctx.dirty(1);
    }
    Ok(Reply::Int(len as i64))
}

fn bit_offset(ctx: &Ctx<'_>, arg: &[u8]) -> CmdResult<u64> {
    let max = ctx.server.config().proto_max_bulk_len;
    match parse_i64(arg) {
        Some(o) if o >= 0 && (o >> 3) < max => Ok(o as u64),
        _ => Err(CommandError::err(
            "ERR bit offset is not an integer or out of range",
        )),
    }
}

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[1];
    let offset = bit_offset(ctx, &args[2])?;
    let on = match parse_i64(&args[3]) {
        Some(b @ (0 | 1)) => b == 1,
        _ => {
            return Err(CommandError::err(
                "ERR bit is not an integer or out of range",
            ))
        }
    };
    let db = ctx.db(key)?;
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    // Like Redis 7.0, a SETBIT that neither grows the string nor flips the bit is not a write:
    // no dirty mark, so WATCH stays valid and nothing is propagated.
    let (old, changed) = match db.get_mut(key) {
        Some(Value::Str(s)) => {
            let v = s.make_mut();
            let grew = v.len() <= byte;
            if grew {
                v.resize(byte + 1, 0);
            }
            let old = v[byte] & mask != 0;
            if on {
                v[byte] |= mask;
            } else {
                v[byte] &= !mask;
            }
            (old, grew || old != on)
        }
        Some(_) => return Err(CommandError::WrongType),
        None => {
            let mut v = vec![0u8; byte + 1];
            if on {
                v[byte] |= mask;
            }
            db.set(key, Value::Str(Str::growable(v)));
            (false, true)
        }
    };
    if changed {
        ctx.dirty(1);
    }
    Ok(Reply::Int(old as i64))
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let offset = bit_offset(ctx, &args[2])?;
    let s = match ctx.db(&args[1])?.get(&args[1]) {
        None => return Ok(Reply::Int(0)),
        Some(Value::Str(s)) => s,
        Some(_) => return Err(CommandError::WrongType),
    };
    let byte = (offset >> 3) as usize;
    let bit = s
        .get(byte)
        .is_some_and(|b| b & (0x80u8 >> (offset & 7)) != 0);
    Ok(Reply::Int(bit as i64))
}

/// The optional `BYTE|BIT` unit; true for BIT.
fn unit_is_bit(arg: Option<&Bytes>) -> CmdResult<bool> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "BYTE") => Ok(false),
        Some(a) if is(a, "BIT") => Ok(true),
        Some(_) => Err(CommandError::Syntax),
    }
}

fn bit_at(s: &[u8], i: u64) -> bool {
    s[(i >> 3) as usize] & (0x80u8 >> (i & 7)) != 0
}

fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let s = match ctx.db(&args[1])?.get(&args[1]) {
        None => return Ok(Reply::Int(0)),
        Some(Value::Str(s)) => s.as_bytes(),
        Some(_) => return Err(CommandError::WrongType),
    };
    let (lo, hi) = match args.len() {
        2 => {
            if s.is_empty() {
                return Ok(Reply::Int(0));
            }
            (0, s.len() as u64 * 8 - 1)
        }
        4 | 5 => {
            let start = int_arg(&args[2])?;
            let end = int_arg(&args[3])?;
            // Redis 7.0 answers an empty range of two negative indexes before it reads the
            // unit: `BITCOUNT k -1 -100 WORD` is 0, not a syntax error.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let bit = unit_is_bit(args.get(4))?;
            let len = s.len() as i64 * if bit { 8 } else { 1 };
            let Some((a, b)) = clamp_range(start, end, len) else {
                return Ok(Reply::Int(0));
            };
            if bit {
                (a as u64, b as u64)
            } else {
                (a as u64 * 8, b as u64 * 8 + 7)
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(Reply::Int(count_bits(s, lo, hi) as i64))
}

/// Set bits in the inclusive bit range `lo..=hi` (within `s`).
fn count_bits(s: &[u8], lo: u64, hi: u64) -> u64 {
    let (first, last) = ((lo >> 3) as usize, (hi >> 3) as usize);
    let mut n: u64 = s[first..=last].iter().map(|b| b.count_ones() as u64).sum();
    // Take off the bits of the edge bytes that lie outside the range.
    for i in (first as u64 * 8)..lo {
        n -= bit_at(s, i) as u64;
    }
    for i in hi + 1..(last as u64 + 1) * 8 {
        n -= bit_at(s, i) as u64;
    }
    n
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let want = match int_arg(&args[2])? {
        b @ (0 | 1) => b == 1,
        _ => return Err(CommandError::err("ERR The bit argument must be 1 or 0.")),
    };
    let s = match ctx.db(&args[1])?.get(&args[1]) {
        None => return Ok(Reply::Int(if want { -1 } else { 0 })),
        Some(Value::Str(s)) => s.as_bytes(),
        Some(_) => return Err(CommandError::WrongType),
    };
    let end_given = args.len() >= 5;
    let (mut start, mut end, bit) = match args.len() {
        3 => (0, s.len() as i64 - 1, false),
        4..=6 => {
            let start = int_arg(&args[3])?;
            let bit = unit_is_bit(args.get(5))?;
            let total = s.len() as i64 * if bit { 8 } else { 1 };
            let end = match args.get(4) {
                Some(e) => int_arg(e)?,
                None => total - 1,
            };
            (start, end, bit)
        }
        _ => return Err(CommandError::Syntax),
    };
    let total = s.len() as i64 * if bit { 8 } else { 1 };
    if args.len() > 3 {
        if start < 0 {
            start += total;
        }
        if end < 0 {
            end += total;
        }
        start = start.max(0);
        end = end.max(0);
        if end >= total {
            end = total - 1;
        }
    }
    if start > end {
        return Ok(Reply::Int(-1));
    }
    let (lo, hi) = if bit {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    if let Some(p) = find_bit(s, lo, hi, want) {
        return Ok(Reply::Int(p as i64));
    }
    // Looking for a clear bit without an explicit end: the string is as if padded with zeros.
    if !want && !end_given {
        return Ok(Reply::Int(hi as i64 + 1));
    }
    Ok(Reply::Int(-1))
}

/// The first bit equal to `want` in the inclusive bit range `lo..=hi`.
fn find_bit(s: &[u8], lo: u64, hi: u64, want: bool) -> Option<u64> {
    let skip = if want { 0x00 } else { 0xff };
    let mut i = lo;
    while i <= hi {
        if i & 7 == 0 && i + 7 <= hi && s[(i >> 3) as usize] == skip {
            i += 8;
            continue;
        }
        if bit_at(s, i) == want {
            return Some(i);
        }
        i += 1;
    }
    None
}

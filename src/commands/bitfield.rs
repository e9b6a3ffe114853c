//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1..=64 bits (unsigned up to 63)
//! at any bit offset of a string, read, set or incremented with WRAP, SAT or FAIL overflow.
//!
//! Invariant: the whole argument list is parsed before the key is looked at (so a syntax
//! error beats WRONGTYPE, as in Redis); a call with only GETs never creates or grows the key;
//! one with a SET or INCRBY grows the string to its farthest written bit before the first
//! operation runs. As in Redis 7.0, only operations that grew the string or changed a field
//! count as changes (WATCH, dirty count); a call that only grew the string is still
//! propagated, so followers never miss a string (Redis's replicas do).

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Str, Value};

pub const COMMANDS: &[Command] = &[
    Command::new("bitfield", -2, WRITE | DENYOOM, Group::Bitmap, bitfield).keys(1, 1, 1),
    Command::new(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        Group::Bitmap,
        bitfield_ro,
    )
    .keys(1, 1, 1),
];

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum OpKind {
    Get,
    Set,
    Incrby,
}

/// One parsed operation, with the overflow policy in force where it appeared.
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run(ctx, args, true)
}

/// `i<bits>` (1..=64) or `u<bits>` (1..=63); the prefix is case-sensitive, as in Redis.
fn parse_type(arg: &[u8]) -> CmdResult<(bool, u32)> {
    let bad = || {
        CommandError::err(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
             supported but i64 is.",
        )
    };
    // Redis reads the argument as a C string: it ends at a NUL byte.
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    match parse_i64(&arg[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(bad()),
    }
}

/// A bit offset, or `#N` meaning N times the type's width; negative offsets and offsets past
/// `proto-max-bulk-len` bytes are refused.
fn parse_offset(ctx: &Ctx<'_>, arg: &[u8], bits: u32) -> CmdResult<u64> {
    let bad = || CommandError::err("ERR bit offset is not an integer or out of range");
    let (hash, digits) = match arg.strip_prefix(b"#") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let mut off = parse_i64(digits).ok_or_else(bad)?;
    if hash {
        // Redis multiplies without an overflow check; wrapping is what its build does.
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off >> 3) >= ctx.server.config().proto_max_bulk_len {
        return Err(bad());
    }
    Ok(off as u64)
}

fn parse_ops(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult<Vec<Op>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = &args[j];
        let kind = if is(sub, "GET") && left >= 2 {
            OpKind::Get
        } else if is(sub, "SET") && left >= 3 {
            OpKind::Set
        } else if is(sub, "INCRBY") && left >= 3 {
            OpKind::Incrby
        } else if is(sub, "OVERFLOW") && left >= 1 {
            let w = &args[j + 1];
            overflow = if is(w, "WRAP") {
                Overflow::Wrap
            } else if is(w, "SAT") {
                Overflow::Sat
            } else if is(w, "FAIL") {
                Overflow::Fail
            } else {
                return Err(CommandError::err("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let (signed, bits) = parse_type(&args[j + 1])?;
        let offset = parse_offset(ctx, &args[j + 2], bits)?;
        let value = if kind == OpKind::Get {
            0
        } else {
            int_arg(&args[j + 3])?
        };
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok(ops)
}

fn run(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult<Reply> {
    let ops = parse_ops(ctx, args)?;
    let key = &args[1];
    let last_bit = ops
        .iter()
        .filter(|op| op.kind != OpKind::Get)
        .map(|op| op.offset + op.bits as u64 - 1)
        .max();
    let Some(last_bit) = last_bit else {
        // Only GETs: read what exists, create nothing.
        let s = match ctx.db(key)?.get(key) {
            None => &[][..],
            Some(Value::Str(s)) => s.as_bytes(),
            Some(_) => return Err(CommandError::WrongType),
        };
        let out = ops
            .iter()
            .map(|op| Reply::Int(get(s, op.offset, op.bits, op.signed)))
            .collect();
        return Ok(Reply::Array(out));
    };
    if read_only {
        return Err(CommandError::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let len = (last_bit >> 3) as usize + 1;
    let db = ctx.db(key)?;
    // Whether creating or growing the string already changed the data.
    let mut grew = false;
    let s = match db.get_mut(key) {
        Some(Value::Str(s)) => s.make_mut(),
        Some(_) => return Err(CommandError::WrongType),
        None => {
            grew = true;
            db.set(key, Value::Str(Str::growable(Vec::new())));
            match db.get_mut(key) {
                Some(Value::Str(s)) => s.make_mut(),
                _ => unreachable!("just set"),
            }
        }
    };
    if s.len() < len {
        s.resize(len, 0);
        grew = true;
    }
    let mut out = Vec::with_capacity(ops.len());
    let mut changes = 0;
    for op in &ops {
        if op.kind == OpKind::Get {
            out.push(Reply::Int(get(s, op.offset, op.bits, op.signed)));
            continue;
        }
        let old = get(s, op.offset, op.bits, op.signed);
        let (value, incr) = match op.kind {
            OpKind::Set => (op.value, 0),
            _ => (old, op.value),
        };
        let checked = if op.signed {
            signed_add(value, incr, op.bits, op.overflow)
        } else {
            unsigned_add(value as u64, incr, op.bits, op.overflow).map(|v| v as i64)
        };
        match checked {
            None => out.push(Reply::Nil),
            Some(new) => {
                set(s, op.offset, op.bits, new as u64);
                out.push(Reply::Int(if op.kind == OpKind::Set { old } else { new }));
                // As Redis 7.0: an operation counts as a change only if the string grew or
                // the field's value changed; a failed one never does.
                if grew || old != new {
                    changes += 1;
                }
            }
        }
    }
    if changes > 0 {
        ctx.dirty(changes);
    } else if grew {
        // Redis leaves a string that only grew (every write failed under FAIL) unsignalled and
        // unpropagated, so its replicas miss it. luagate keeps WATCH as Redis does (no dirty
        // mark) but still sends the call down the effect stream, so followers and the log
        // hold the same string.
        ctx.propagate(args.to_vec());
    }
    Ok(Reply::Array(out))
}

/// The field at `offset` (most significant bit first); bits past the end read as 0.
fn get(s: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for i in offset..offset + bits as u64 {
        let bit = s
            .get((i >> 3) as usize)
            .is_some_and(|b| b & (0x80 >> (i & 7)) != 0);
        v = (v << 1) | bit as u64;
    }
    if signed && bits < 64 && v & (1 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` of `v` at `offset` (the string is already long enough).
fn set(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for j in 0..bits as u64 {
        let on = v & (1 << (bits as u64 - 1 - j)) != 0;
        let i = offset + j;
        let mask = 0x80u8 >> (i & 7);
        let byte = &mut s[(i >> 3) as usize];
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// `value + incr` as an unsigned `bits`-wide field (`value` may be out of range: a SET's
/// argument), or what the policy makes of an overflow; `None` under FAIL. A negative SET
/// value reads as a huge unsigned one, so SAT makes it the maximum, as in Redis.
fn unsigned_add(value: u64, incr: i64, bits: u32, policy: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return Some(value.wrapping_add(incr as u64));
    };
    match policy {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

/// `value + incr` as a signed `bits`-wide field, with Redis's overflow tests (including its
/// 64-bit special cases); `None` under FAIL.
fn signed_add(value: i64, incr: i64, bits: u32, policy: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return Some(value.wrapping_add(incr));
    };
    match policy {
        Overflow::Wrap => {
            let mut c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1 << (bits - 1)) != 0 {
                    c |= mask;
                } else {
                    c &= !mask;
                }
            }
            Some(c as i64)
        }
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_odd_offsets() {
        let mut s = vec![0u8; 20];
        set(&mut s, 5, 13, 0x1abc);
        assert_eq!(get(&s, 5, 13, false), 0x1abc);
        assert_eq!(get(&s, 5, 13, true), 0x1abc - 0x2000);
        set(&mut s, 3, 64, u64::MAX - 1);
        assert_eq!(get(&s, 3, 64, true), -2);
    }

    #[test]
    fn overflow_policies() {
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Fail), None);
        assert_eq!(signed_add(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_add(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_add(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
    }
}

//! The `cmsgpack` library (lua-cmsgpack 0.4.0 as embedded in Redis).
//!
//! Invariant: encodings are byte-identical to the C library: a number that is exactly an
//! int64 uses the smallest integer form, any other number is a float32 when it round-trips
//! through float and a float64 otherwise; a table is an array only when its keys are exactly
//! 1..n (integers that fit a C int), else a map in `next` order; tables nested 16 deep and
//! values with no msgpack form encode as nil. Decoding maps msgpack types back the way the C
//! library does (uint64 wraps to a negative integer, int64 becomes a double, unsupported
//! types are "Bad data format") and writes decoded tables with `lua_settable`, so a nil or
//! NaN map key raises Lua's own error.

use std::ffi::c_int;

use mlua::ffi;

use super::raw::{
    arg_error, c_f64_to_i64, check_bytes, guarded, new_buffer, push_bytes, raise, raise_owned,
    set_field, str_at, L,
};

const MAX_NESTING: u32 = 16;
const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

// ---- encoding --------------------------------------------------------------------------

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(out: &mut Vec<u8>, n: u64, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

unsafe fn encode_number(l: L, out: &mut Vec<u8>) {
    let n = ffi::lua_tonumber(l, -1);
    let as_int = c_f64_to_i64(n);
    if !n.is_infinite() && as_int as f64 == n {
        encode_int(out, ffi::lua_tointeger_(l, -1) as i64);
    } else {
        encode_double(out, n);
    }
}

/// True when the table on top has exactly the keys 1..n (each fitting a C int).
unsafe fn table_is_array(l: L) -> bool {
    let top = ffi::lua_gettop(l);
    super::raw::check_stack(l, 2, "in function table_is_an_array");
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        let ok = ffi::lua_type(l, -1) == ffi::LUA_TNUMBER && {
            let n = ffi::lua_tonumber(l, -1);
            n > 0.0 && !n.is_infinite() && super::raw::c_f64_to_i32(n) as f64 == n
        };
        if !ok {
            ffi::lua_settop(l, top);
            return false;
        }
        max = max.max(ffi::lua_tonumber(l, -1) as i64);
        count += 1;
    }
    ffi::lua_settop(l, top);
    max == count
}

/// Encodes the value on top of the stack and pops it.
unsafe fn encode_value(l: L, out: &mut Vec<u8>, level: u32) {
    let mut t = ffi::lua_type(l, -1);
    // Bounded depth doubles as protection against self-referencing tables.
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => encode_bytes(out, str_at(l, -1)),
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(l, out),
        ffi::LUA_TTABLE => {
            if table_is_array(l) {
                let len = ffi::lua_objlen(l, -1);
                encode_header(out, len as u64, 0x90, 0xdc, 0xdd);
                super::raw::check_stack(l, 1, "in function mp_encode_lua_table_as_array");
                for j in 1..=len {
                    ffi::lua_pushnumber(l, j as f64);
                    ffi::lua_gettable(l, -2);
                    encode_value(l, out, level + 1);
                }
            } else {
                super::raw::check_stack(l, 3, "in function mp_encode_lua_table_as_map");
                let mut len: u64 = 0;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_settop(l, -2);
                    len += 1;
                }
                encode_header(out, len, 0x80, 0xde, 0xdf);
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pushvalue(l, -2);
                    encode_value(l, out, level + 1);
                    encode_value(l, out, level + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(l, -2);
}

unsafe extern "C-unwind" fn pack(l: L) -> c_int {
    guarded(l, || {
        let nargs = ffi::lua_gettop(l);
        if nargs == 0 {
            arg_error(l, 0, b"MessagePack pack needs input.");
        }
        if ffi::lua_checkstack(l, nargs) == 0 {
            arg_error(l, 0, b"Too many arguments for MessagePack pack.");
        }
        let out = new_buffer(l);
        for i in 1..=nargs {
            super::raw::check_stack(l, 1, "in function mp_check");
            ffi::lua_pushvalue(l, i);
            encode_value(l, out, 0);
        }
        push_bytes(l, &out[..]);
        1
    })
}

// ---- decoding --------------------------------------------------------------------------

enum DecodeError {
    /// Not enough data to complete a value.
    Eof,
    /// A type byte this library does not understand.
    BadFormat,
    /// `luaL_checkstack` failed: "stack overflow (<what>)".
    Stack(&'static str),
    /// `lua_settable` would raise this for the decoded key ("table index is nil"/"NaN").
    BadKey(&'static str),
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes (without consuming them), or EOF.
    fn need(&self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        Ok(&self.data[self.pos..self.pos + n])
    }

    fn be(&self, from: usize, n: usize) -> Result<u64, DecodeError> {
        let b = self.need(from + n)?;
        Ok(b[from..].iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    }
}

unsafe fn push_str(l: L, c: &mut Cursor, header: usize, len: usize) -> Result<(), DecodeError> {
    let b = c.need(header.saturating_add(len))?;
    push_bytes(l, &b[header..]);
    c.pos += header + len;
    Ok(())
}

/// What one type byte decodes to: a value already pushed, or a container header.
enum Item {
    Scalar,
    Array(u64),
    Map(u64),
}

/// Decodes the scalar or container header at the cursor (pushing scalars).
unsafe fn decode_item(l: L, c: &mut Cursor) -> Result<Item, DecodeError> {
    let tag = c.need(1)?[0];
    if ffi::lua_checkstack(l, 1) == 0 {
        return Err(DecodeError::Stack(TOO_MANY_VALUES));
    }
    // Integer forms: (value, encoded length).
    let int = match tag {
        0xcc => Some((c.be(1, 1)? as i64, 2)),
        0xd0 => Some((c.be(1, 1)? as u8 as i8 as i64, 2)),
        0xcd => Some((c.be(1, 2)? as i64, 3)),
        0xd1 => Some((c.be(1, 2)? as u16 as i16 as i64, 3)),
        0xce => Some((c.be(1, 4)? as i64, 5)),
        0xd2 => Some((c.be(1, 4)? as u32 as i32 as i64, 5)),
        // Pushed as a signed integer: values >= 2^63 come back negative.
        0xcf => Some((c.be(1, 8)? as i64, 9)),
        _ if tag & 0x80 == 0 => Some((tag as i64, 1)),
        _ if tag & 0xe0 == 0xe0 => Some((tag as i8 as i64, 1)),
        _ => None,
    };
    if let Some((v, len)) = int {
        ffi::lua_pushinteger(l, v);
        c.pos += len;
        return Ok(Item::Scalar);
    }
    match tag {
        0xd3 => {
            let v = c.be(1, 8)? as i64;
            ffi::lua_pushnumber(l, v as f64);
            c.pos += 9;
        }
        0xc0 => {
            ffi::lua_pushnil(l);
            c.pos += 1;
        }
        0xc3 | 0xc2 => {
            ffi::lua_pushboolean(l, (tag == 0xc3) as c_int);
            c.pos += 1;
        }
        0xca => {
            let v = f32::from_bits(c.be(1, 4)? as u32);
            ffi::lua_pushnumber(l, v as f64);
            c.pos += 5;
        }
        0xcb => {
            let v = f64::from_bits(c.be(1, 8)?);
            ffi::lua_pushnumber(l, v);
            c.pos += 9;
        }
        0xd9 => push_str(l, c, 2, c.be(1, 1)? as usize)?,
        0xda => push_str(l, c, 3, c.be(1, 2)? as usize)?,
        0xdb => push_str(l, c, 5, c.be(1, 4)? as usize)?,
        0xdc..=0xdf => {
            let width = if tag & 1 == 0 { 2 } else { 4 };
            let n = c.be(1, width)?;
            c.pos += 1 + width;
            return Ok(if tag <= 0xdd {
                Item::Array(n)
            } else {
                Item::Map(n)
            });
        }
        _ if tag & 0xe0 == 0xa0 => push_str(l, c, 1, (tag & 0x1f) as usize)?,
        _ if tag & 0xf0 == 0x90 => {
            c.pos += 1;
            return Ok(Item::Array((tag & 0xf) as u64));
        }
        _ if tag & 0xf0 == 0x80 => {
            c.pos += 1;
            return Ok(Item::Map((tag & 0xf) as u64));
        }
        _ => return Err(DecodeError::BadFormat),
    }
    Ok(Item::Scalar)
}

/// A table being filled: arrays count elements (their next index is on the Lua stack
/// while an element is decoded), maps count pairs and note whether the key is pushed.
enum Open {
    Array { left: u64, index: u64 },
    Map { left: u64, has_key: bool },
}

/// `lua_settable(l, -3)` on a fresh table, with the key checks Lua would raise for.
unsafe fn store(l: L) -> Result<(), DecodeError> {
    match ffi::lua_type(l, -2) {
        ffi::LUA_TNIL => return Err(DecodeError::BadKey("table index is nil")),
        ffi::LUA_TNUMBER if ffi::lua_tonumber(l, -2).is_nan() => {
            return Err(DecodeError::BadKey("table index is NaN"))
        }
        _ => {}
    }
    ffi::lua_settable(l, -3);
    Ok(())
}

/// Decodes one complete value and pushes it. Iterative (explicit list of open tables) so
/// hostile nesting is bounded by the Lua stack check, not the native stack; the Lua stack
/// holds what lua-cmsgpack's recursion holds, so the same inputs overflow it.
unsafe fn decode_value(l: L, c: &mut Cursor) -> Result<(), DecodeError> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        let mut complete = match decode_item(l, c)? {
            Item::Scalar => true,
            Item::Array(n) => {
                ffi::lua_createtable(l, 0, 0);
                if ffi::lua_checkstack(l, 1) == 0 {
                    return Err(DecodeError::Stack("in function mp_decode_to_lua_array"));
                }
                open.push(Open::Array { left: n, index: 1 });
                false
            }
            Item::Map(n) => {
                ffi::lua_createtable(l, 0, 0);
                open.push(Open::Map {
                    left: n,
                    has_key: false,
                });
                false
            }
        };
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(());
            };
            match top {
                Open::Array { left, index } => {
                    if complete {
                        store(l)?;
                    }
                    if *left > 0 {
                        *left -= 1;
                        ffi::lua_pushnumber(l, *index as f64);
                        *index += 1;
                        break;
                    }
                }
                Open::Map { left, has_key } => {
                    if complete {
                        if !*has_key {
                            *has_key = true;
                            break;
                        }
                        store(l)?;
                        *has_key = false;
                    }
                    if *left > 0 {
                        *left -= 1;
                        break;
                    }
                }
            }
            open.pop();
            complete = true;
        }
    }
}

/// Shared body of unpack / unpack_one / unpack_limit. With neither a limit nor an offset it
/// decodes everything and returns only the values; otherwise the next offset (-1 once the
/// input is exhausted) comes first.
unsafe fn unpack_full(l: L, limit: i64, offset: i64) -> c_int {
    let data = check_bytes(l, 1);
    let len = data.len();
    if offset < 0 || limit < 0 {
        raise_owned(
            l,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        );
    } else if offset as u64 > len as u64 {
        raise_owned(
            l,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        );
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        data,
        pos: offset as usize,
    };
    let mut count: i64 = 0;
    while c.left() > 0 && count < limit {
        match decode_value(l, &mut c) {
            Ok(()) => {}
            Err(DecodeError::Eof) => raise(l, b"Missing bytes in input."),
            Err(DecodeError::BadFormat) => raise(l, b"Bad data format in input."),
            Err(DecodeError::Stack(what)) => raise_owned(l, format!("stack overflow ({what})")),
            // Raised by the VM in the C library: no position prefix.
            Err(DecodeError::BadKey(msg)) => {
                ffi::lua_settop(l, 0);
                push_bytes(l, msg.as_bytes());
                ffi::lua_error(l)
            }
        }
        count += 1;
    }
    if !decode_all {
        super::raw::check_stack(l, 1, "in function mp_unpack_full");
        let next = if c.left() == 0 { -1 } else { c.pos as i64 };
        ffi::lua_pushinteger(l, next);
        ffi::lua_insert(l, 2);
        count += 1;
    }
    count as c_int
}

unsafe extern "C-unwind" fn unpack(l: L) -> c_int {
    guarded(l, || unpack_full(l, 0, 0))
}

unsafe extern "C-unwind" fn unpack_one(l: L) -> c_int {
    guarded(l, || {
        let offset = ffi::luaL_optinteger(l, 2, 0) as i64;
        ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
        unpack_full(l, 1, offset)
    })
}

unsafe extern "C-unwind" fn unpack_limit(l: L) -> c_int {
    guarded(l, || {
        let limit = ffi::luaL_checkinteger(l, 2) as i64;
        let offset = ffi::luaL_optinteger(l, 3, 0) as i64;
        ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
        unpack_full(l, limit, offset)
    })
}

/// Pushes the `cmsgpack` table with its functions and metadata fields.
pub(crate) unsafe fn push_module(l: L) {
    ffi::lua_createtable(l, 0, 0);
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 4] = [
        (c"pack", pack),
        (c"unpack", unpack),
        (c"unpack_one", unpack_one),
        (c"unpack_limit", unpack_limit),
    ];
    for (name, f) in funcs {
        ffi::lua_pushcclosure(l, f, 0);
        set_field(l, -2, name);
    }
    let meta: [(&std::ffi::CStr, &[u8]); 4] = [
        (c"_NAME", b"cmsgpack"),
        (c"_VERSION", b"lua-cmsgpack 0.4.0"),
        (c"_COPYRIGHT", b"Copyright (C) 2012, Salvatore Sanfilippo"),
        (c"_DESCRIPTION", b"MessagePack C implementation for Lua"),
    ];
    for (name, value) in meta {
        push_bytes(l, value);
        set_field(l, -2, name);
    }
}

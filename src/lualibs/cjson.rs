//! The `cjson` library (lua-cjson 2.1.0 as embedded in Redis 7): module table, the
//! configuration functions and the encoder. The decoder lives in `cjson_decode`.
//!
//! Invariant: every function of one module table shares one [`Config`] userdata (upvalue 1),
//! and `cjson.new()` builds a fresh table with fresh defaults, so configuration changes never
//! leak between instances. Encoding output is byte-identical to lua-cjson: numbers use the
//! C library's `%.<precision>g`, strings escape `"` `\` `/`, control bytes and DEL (other
//! bytes pass through untouched), tables whose keys are all positive integers are arrays
//! (holes become null, excessively sparse ones are refused or converted per config), other
//! tables are objects in `lua_next` order (the VM's own table order, as in Redis), and empty
//! tables encode as `{}`.

use std::ffi::{c_int, CStr};

use mlua::ffi;

use super::cjson_decode;
use super::raw::{
    arg_error, arg_error_owned, c_f64_to_i32, format_g, guarded, push_bytes, raise_owned,
    set_field, str_at, type_name_at, L,
};

/// Per-instance settings, stored in a plain userdata (no finaliser needed).
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub(crate) encode_sparse_convert: i32,
    pub(crate) encode_sparse_ratio: i32,
    pub(crate) encode_sparse_safe: i32,
    pub(crate) encode_max_depth: i32,
    /// 0 = refuse, 1 = emit inf/nan, 2 = emit null.
    pub(crate) encode_invalid_numbers: i32,
    pub(crate) encode_number_precision: i32,
    pub(crate) encode_keep_buffer: i32,
    pub(crate) decode_invalid_numbers: i32,
    pub(crate) decode_max_depth: i32,
}

impl Config {
    const DEFAULT: Config = Config {
        encode_sparse_convert: 0,
        encode_sparse_ratio: 2,
        encode_sparse_safe: 10,
        encode_max_depth: 1000,
        encode_invalid_numbers: 0,
        encode_number_precision: 14,
        encode_keep_buffer: 1,
        decode_invalid_numbers: 1,
        decode_max_depth: 1000,
    };
}

/// The configuration of the running module instance (upvalue 1 of every function).
pub(crate) unsafe fn config<'a>(l: L) -> &'a mut Config {
    let p = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut Config;
    if p.is_null() {
        super::raw::raise(l, b"BUG: Unable to fetch CJSON configuration");
    }
    &mut *p
}

// ---- configuration functions -------------------------------------------------------------

/// Refuses more than `args` arguments and pads missing ones with nil.
unsafe fn arg_init<'a>(l: L, args: c_int) -> &'a mut Config {
    if ffi::lua_gettop(l) > args {
        arg_error(l, args + 1, b"found too many arguments");
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    config(l)
}

/// An integer setting in [min, max]; pushes the (possibly updated) value. Range errors name
/// argument #1 whatever the position, as lua-cjson does.
unsafe fn integer_option(l: L, idx: c_int, setting: &mut i32, min: i32, max: i32) {
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        // Stored in a C int: wider values are truncated before the range check.
        let value = ffi::luaL_checkinteger(l, idx) as i32;
        if !(min <= value && value <= max) {
            arg_error_owned(l, 1, format!("expected integer between {min} and {max}"));
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, *setting as i64);
}

/// `luaL_checkoption` without a default: the index of the matching name.
unsafe fn check_option(l: L, idx: c_int, options: &[&[u8]]) -> i32 {
    let name = super::raw::check_bytes(l, idx);
    // lua_pushfstring's %s stops at the first NUL, and so does strcmp.
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    if let Some(i) = options.iter().position(|o| *o == name) {
        return i as i32;
    }
    let mut msg = Vec::with_capacity(name.len() + 20);
    msg.extend_from_slice(b"invalid option '");
    msg.extend_from_slice(name);
    msg.push(b'\'');
    push_bytes(l, &msg);
    drop(msg);
    let text = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
    ffi::luaL_argerror(l, idx, text);
    ffi::lua_error(l)
}

const BOOL_OPTIONS: &[&[u8]] = &[b"off", b"on"];

/// An enumerated setting; booleans map to 0 / `bool_true`. Pushes the current value as a
/// boolean when it is one of those two, else as its option name.
unsafe fn enum_option(l: L, idx: c_int, setting: &mut i32, options: &[&[u8]], bool_true: i32) {
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        if bool_true != 0 && ffi::lua_type(l, idx) == ffi::LUA_TBOOLEAN {
            *setting = ffi::lua_toboolean(l, idx) * bool_true;
        } else {
            *setting = check_option(l, idx, options);
        }
    }
    if bool_true != 0 && (*setting == 0 || *setting == bool_true) {
        ffi::lua_pushboolean(l, *setting);
    } else {
        let name = options.get(*setting as usize).copied().unwrap_or(b"");
        push_bytes(l, name);
    }
}

unsafe extern "C-unwind" fn cfg_encode_sparse_array(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 3);
        enum_option(l, 1, &mut cfg.encode_sparse_convert, BOOL_OPTIONS, 1);
        integer_option(l, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX);
        integer_option(l, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX);
        3
    })
}

unsafe extern "C-unwind" fn cfg_encode_max_depth(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 1);
        integer_option(l, 1, &mut cfg.encode_max_depth, 1, i32::MAX);
        1
    })
}

unsafe extern "C-unwind" fn cfg_decode_max_depth(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 1);
        integer_option(l, 1, &mut cfg.decode_max_depth, 1, i32::MAX);
        1
    })
}

unsafe extern "C-unwind" fn cfg_encode_number_precision(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 1);
        integer_option(l, 1, &mut cfg.encode_number_precision, 1, 14);
        1
    })
}

unsafe extern "C-unwind" fn cfg_encode_keep_buffer(l: L) -> c_int {
    guarded(l, || {
        // Only a performance knob in lua-cjson; output never depends on it.
        let cfg = arg_init(l, 1);
        enum_option(l, 1, &mut cfg.encode_keep_buffer, BOOL_OPTIONS, 1);
        1
    })
}

unsafe extern "C-unwind" fn cfg_encode_invalid_numbers(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 1);
        let options: &[&[u8]] = &[b"off", b"on", b"null"];
        enum_option(l, 1, &mut cfg.encode_invalid_numbers, options, 1);
        1
    })
}

unsafe extern "C-unwind" fn cfg_decode_invalid_numbers(l: L) -> c_int {
    guarded(l, || {
        let cfg = arg_init(l, 1);
        enum_option(l, 1, &mut cfg.decode_invalid_numbers, BOOL_OPTIONS, 1);
        1
    })
}

// ---- encoding ----------------------------------------------------------------------------

/// Why encoding stopped; turned into a Lua error once no Rust value owns memory.
enum EncodeError {
    /// "Cannot serialise <type>: <reason>" for the value of that type.
    Value(String, &'static str),
    /// "Cannot serialise, excessive nesting (<depth>)".
    Nesting(i32),
}

type Enc<T> = Result<T, EncodeError>;

unsafe fn value_error(l: L, idx: c_int, reason: &'static str) -> EncodeError {
    EncodeError::Value(type_name_at(l, idx), reason)
}

/// The escape for byte `b`, or None when it is copied as is.
fn escape(b: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match b {
        0..=31 => Some(CONTROL[b as usize]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match escape(b) {
            Some(e) => out.extend_from_slice(e),
            None => out.push(b),
        }
    }
    out.push(b'"');
}

unsafe fn append_number(l: L, cfg: &Config, out: &mut Vec<u8>, idx: c_int) -> Enc<()> {
    let num = ffi::lua_tonumber(l, idx);
    match cfg.encode_invalid_numbers {
        0 => {
            if num.is_infinite() || num.is_nan() {
                return Err(value_error(l, idx, "must not be NaN or Inf"));
            }
        }
        1 => {
            // Normalised so platforms printing "-nan" still give "nan".
            if num.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if num.is_infinite() || num.is_nan() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(&format_g(num, cfg.encode_number_precision));
    Ok(())
}

/// For the table on top: its array length when every key is a positive integer (0 for an
/// empty table), or -1 when it must be encoded as an object.
unsafe fn array_length(l: L, cfg: &Config) -> Enc<i32> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > max as f64 {
                    // A C int: huge keys wrap to INT_MIN just as they do in lua-cjson.
                    max = c_f64_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_settop(l, -2);
                continue;
            }
        }
        ffi::lua_settop(l, -3);
        return Ok(-1);
    }
    if cfg.encode_sparse_ratio > 0
        && max > items.wrapping_mul(cfg.encode_sparse_ratio)
        && max > cfg.encode_sparse_safe
    {
        if cfg.encode_sparse_convert == 0 {
            return Err(value_error(l, -1, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// A table being written: arrays know the next index, objects iterate with `lua_next`
/// (their current key sits on the Lua stack above the table).
enum Open {
    Array { next: i32, len: i32 },
    Object { first: bool },
}

/// Appends a scalar on top of the stack; Ok(false) when it is a table (not handled here).
unsafe fn append_scalar(l: L, cfg: &Config, out: &mut Vec<u8>) -> Enc<bool> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => append_string(out, str_at(l, -1)),
        ffi::LUA_TNUMBER => append_number(l, cfg, out, -1)?,
        ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 {
            b"true"
        } else {
            b"false"
        }),
        ffi::LUA_TTABLE => return Ok(false),
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            out.extend_from_slice(b"null")
        }
        _ => return Err(value_error(l, -1, "type not supported")),
    }
    Ok(true)
}

/// Serialises the value on top of the stack. Iterative (an explicit list of open tables)
/// so depth is bounded by `encode_max_depth` and the Lua stack check, not the native
/// stack; the Lua stack holds exactly what lua-cjson's recursion holds at each level.
unsafe fn append_value(l: L, cfg: &Config, out: &mut Vec<u8>) -> Enc<()> {
    let mut open: Vec<Open> = Vec::new();
    let mut depth: i32 = 0;
    loop {
        // The value on top: write a scalar, or open a table.
        let mut complete = append_scalar(l, cfg, out)?;
        if !complete {
            depth += 1;
            if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                return Err(EncodeError::Nesting(depth));
            }
            let len = array_length(l, cfg)?;
            if len > 0 {
                out.push(b'[');
                open.push(Open::Array { next: 1, len });
            } else {
                out.push(b'{');
                ffi::lua_pushnil(l);
                open.push(Open::Object { first: true });
            }
        }
        // Pop finished values and close finished tables until the next value is on top.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(());
            };
            if complete {
                ffi::lua_settop(l, -2);
            }
            match top {
                Open::Array { next, len } => {
                    if *next > *len {
                        out.push(b']');
                    } else {
                        if *next > 1 {
                            out.push(b',');
                        }
                        ffi::lua_rawgeti_(l, -1, *next);
                        *next += 1;
                        break;
                    }
                }
                Open::Object { first } => {
                    if ffi::lua_next(l, -2) == 0 {
                        out.push(b'}');
                    } else {
                        if !*first {
                            out.push(b',');
                        }
                        *first = false;
                        append_key(l, cfg, out)?;
                        break;
                    }
                }
            }
            open.pop();
            depth -= 1;
            complete = true;
        }
    }
}

/// Writes the key at -2 (with the following colon) for an object member.
unsafe fn append_key(l: L, cfg: &Config, out: &mut Vec<u8>) -> Enc<()> {
    match ffi::lua_type(l, -2) {
        ffi::LUA_TNUMBER => {
            out.push(b'"');
            append_number(l, cfg, out, -2)?;
            out.extend_from_slice(b"\":");
        }
        ffi::LUA_TSTRING => {
            append_string(out, str_at(l, -2));
            out.push(b':');
        }
        _ => return Err(value_error(l, -2, "table key must be a number or string")),
    }
    Ok(())
}

unsafe extern "C-unwind" fn encode(l: L) -> c_int {
    guarded(l, || {
        let cfg = *config(l);
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, b"expected 1 argument");
        }
        // The argument is the top of the stack, as in lua-cjson; the output buffer is
        // Rust-owned and freed before any error is raised.
        let mut out = Vec::new();
        let result = append_value(l, &cfg, &mut out);
        let msg = match result {
            Ok(()) => {
                push_bytes(l, &out);
                return 1;
            }
            Err(EncodeError::Value(ty, reason)) => format!("Cannot serialise {ty}: {reason}"),
            Err(EncodeError::Nesting(depth)) => {
                format!("Cannot serialise, excessive nesting ({depth})")
            }
        };
        drop(out);
        raise_owned(l, msg)
    })
}

// ---- module table --------------------------------------------------------------------------

/// `cjson.new()`: a fresh module table with its own default configuration.
unsafe extern "C-unwind" fn new_module(l: L) -> c_int {
    guarded(l, || {
        push_module(l);
        1
    })
}

/// Pushes a cjson module table (what `luaopen_cjson` returns), field order as in lua-cjson.
pub(crate) unsafe fn push_module(l: L) {
    ffi::lua_createtable(l, 0, 0);
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()) as *mut Config;
    std::ptr::write(cfg, Config::DEFAULT);
    let funcs: [(&CStr, ffi::lua_CFunction); 10] = [
        (c"encode", encode),
        (c"decode", cjson_decode::decode),
        (c"encode_sparse_array", cfg_encode_sparse_array),
        (c"encode_max_depth", cfg_encode_max_depth),
        (c"decode_max_depth", cfg_decode_max_depth),
        (c"encode_number_precision", cfg_encode_number_precision),
        (c"encode_keep_buffer", cfg_encode_keep_buffer),
        (c"encode_invalid_numbers", cfg_encode_invalid_numbers),
        (c"decode_invalid_numbers", cfg_decode_invalid_numbers),
        (c"new", new_module),
    ];
    for (name, f) in funcs {
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, f, 1);
        set_field(l, -3, name);
    }
    ffi::lua_settop(l, -2);
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    set_field(l, -2, c"null");
    push_bytes(l, b"cjson");
    set_field(l, -2, c"_NAME");
    push_bytes(l, b"2.1.0");
    set_field(l, -2, c"_VERSION");
}

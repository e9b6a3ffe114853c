//! Thin helpers over the raw Lua 5.1 C API shared by the script libraries.
//!
//! Invariant: a library function raises (`lua_error`, a longjmp) only when no Rust value
//! that owns heap memory is live in the frames it jumps over. Codecs keep their working
//! state in Rust and report failures as `Result`s, raising only after that state is dropped;
//! functions whose argument checks raise mid-work (`struct.pack`, `cmsgpack.pack`) write
//! into a Lua userdata buffer ([`new_buffer`]) whose `__gc` frees it. The one exception is
//! an out-of-memory error inside Lua itself, which can only leak, never dangle. Messages are
//! copied onto the Lua stack before the raise. Nothing here panics on script input.
//!
//! The libraries are written against the C API (not mlua's safe layer) because Redis'
//! observable behaviour depends on it: errors are plain strings carrying `luaL_where`
//! positions, `luaL_argerror` names the function the way the call site spells it, and the
//! Lua stack limit cuts deep nesting at the same depth as in Redis.

use std::ffi::{c_char, c_int, c_void};

use mlua::ffi;

pub(crate) type L = *mut ffi::lua_State;

/// Empties this call's stack frame before an error is built: the error only needs call
/// information, and a frame that hit the stack limit must still have slots for the message.
/// `msg` arguments of the raisers below never point into the Lua stack.
unsafe fn make_room(l: L) {
    ffi::lua_settop(l, 0);
}

/// Raises `msg` prefixed with the caller position, exactly like `luaL_error`.
pub(crate) unsafe fn raise(l: L, msg: &[u8]) -> ! {
    make_room(l);
    ffi::luaL_where(l, 1);
    push_bytes(l, msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Like [`raise`] for a message built at run time: the `String` is freed before the jump.
pub(crate) unsafe fn raise_owned(l: L, msg: String) -> ! {
    make_room(l);
    ffi::luaL_where(l, 1);
    push_bytes(l, msg.as_bytes());
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// `luaL_argerror(l, narg, msg)`: "bad argument #n to 'name' (msg)".
pub(crate) unsafe fn arg_error(l: L, narg: c_int, msg: &[u8]) -> ! {
    make_room(l);
    // The message must be NUL-terminated C text: a Lua string on the stack is.
    push_bytes(l, msg);
    let text = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
    ffi::luaL_argerror(l, narg, text);
    ffi::lua_error(l)
}

/// `luaL_argerror` with a message built at run time.
pub(crate) unsafe fn arg_error_owned(l: L, narg: c_int, msg: String) -> ! {
    make_room(l);
    push_bytes(l, msg.as_bytes());
    drop(msg);
    let text = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
    ffi::luaL_argerror(l, narg, text);
    ffi::lua_error(l)
}

/// `luaL_checkstack` with Lua 5.1's semantics (no extra LUA_MINSTACK reserve).
pub(crate) unsafe fn check_stack(l: L, space: c_int, what: &str) {
    if ffi::lua_checkstack(l, space) == 0 {
        raise_owned(l, format!("stack overflow ({what})"));
    }
}

pub(crate) unsafe fn push_bytes(l: L, s: &[u8]) {
    ffi::lua_pushlstring_(l, s.as_ptr() as *const c_char, s.len());
}

pub(crate) unsafe fn set_field(l: L, idx: c_int, name: &std::ffi::CStr) {
    ffi::lua_setfield(l, idx, name.as_ptr());
}

/// The bytes of the string at `idx` (which must be a string). Valid while it stays on the
/// stack. The byte after the slice is always NUL (Lua guarantees it).
pub(crate) unsafe fn str_at<'a>(l: L, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(p as *const u8, len)
}

/// `luaL_checklstring`: converts numbers in place, raises a type error otherwise.
pub(crate) unsafe fn check_bytes<'a>(l: L, narg: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, narg, &mut len);
    std::slice::from_raw_parts(p as *const u8, len)
}

/// The type name Lua prints for the value at `idx` ("nil", "userdata", ...).
pub(crate) unsafe fn type_name_at(l: L, idx: c_int) -> String {
    let p = ffi::lua_typename(l, ffi::lua_type(l, idx));
    if p.is_null() {
        return String::from("?");
    }
    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
}

/// Runs a library body; a Rust panic (a bug, never script input) becomes a Lua error
/// instead of unwinding through the interpreter's C frames.
pub(crate) unsafe fn guarded(l: L, body: impl FnOnce() -> c_int) -> c_int {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(n) => n,
        Err(_) => raise(l, b"internal error in script library"),
    }
}

// ---- work buffers owned by Lua ---------------------------------------------------------

static BUFFER_MT_KEY: u8 = 0;

unsafe extern "C-unwind" fn buffer_gc(l: L) -> c_int {
    let p = ffi::lua_touserdata(l, 1) as *mut Vec<u8>;
    if !p.is_null() {
        // Leave an empty Vec behind so a second finaliser run cannot double free.
        drop(std::ptr::replace(p, Vec::new()));
    }
    0
}

/// Registers the metatable used by [`new_buffer`]; called once per VM.
pub(crate) unsafe fn init_buffer_metatable(l: L) {
    ffi::lua_pushlightuserdata(l, &BUFFER_MT_KEY as *const u8 as *mut c_void);
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushcclosure(l, buffer_gc, 0);
    set_field(l, -2, c"__gc");
    ffi::lua_rawset(l, ffi::LUA_REGISTRYINDEX);
}

/// Pushes a userdata holding an empty `Vec<u8>` and returns a pointer to the Vec. The
/// pointer stays valid while the userdata is on the stack; the memory is freed by the
/// collector even when an error unwinds past the caller.
pub(crate) unsafe fn new_buffer<'a>(l: L) -> &'a mut Vec<u8> {
    let p = ffi::lua_newuserdata(l, std::mem::size_of::<Vec<u8>>()) as *mut Vec<u8>;
    std::ptr::write(p, Vec::new());
    ffi::lua_pushlightuserdata(l, &BUFFER_MT_KEY as *const u8 as *mut c_void);
    ffi::lua_rawget(l, ffi::LUA_REGISTRYINDEX);
    ffi::lua_setmetatable(l, -2);
    &mut *p
}

// ---- C conversions the libraries rely on (x86-64 semantics) ----------------------------

/// `(int64_t)d` as compiled for x86-64 (`cvttsd2si`): NaN and out-of-range values give
/// INT64_MIN instead of Rust's saturation.
pub(crate) fn c_f64_to_i64(d: f64) -> i64 {
    if d.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `(uint64_t)d` as compiled for x86-64 without AVX-512.
pub(crate) fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d < TWO63 || d.is_nan() {
        c_f64_to_i64(d) as u64
    } else {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1u64 << 63)
    }
}

/// `(int)d` as compiled for x86-64: out-of-range values give INT_MIN.
pub(crate) fn c_f64_to_i32(d: f64) -> i32 {
    if d.is_nan() || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 {
        i32::MIN
    } else {
        d as i32
    }
}

/// C's `%.<prec>g`: glibc's printf text, "inf", "-inf", "nan" and "-nan" included (finite
/// values through `protocol::format_g`, which is tested against printf).
pub(crate) fn format_g(d: f64, prec: i32) -> Vec<u8> {
    if d.is_nan() {
        let text: &[u8] = if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        };
        return text.to_vec();
    }
    if d.is_infinite() {
        let text: &[u8] = if d > 0.0 { b"inf" } else { b"-inf" };
        return text.to_vec();
    }
    crate::protocol::format_g(d, prec.max(1) as usize).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_x86_c_casts() {
        assert_eq!(c_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(c_f64_to_i64(1e300), i64::MIN);
        assert_eq!(c_f64_to_i64(-1.9), -1);
        assert_eq!(c_f64_to_u64(f64::INFINITY), 0);
        assert_eq!(c_f64_to_u64(18446744073709551616.0), 0);
        assert_eq!(c_f64_to_u64(9223372036854779904.0), 0x8000_0000_0000_1000);
        assert_eq!(c_f64_to_i32(4294967297.0), i32::MIN);
        assert_eq!(c_f64_to_i32(-2147483648.5), -2147483648);
    }

    #[test]
    fn format_g_matches_printf() {
        assert_eq!(format_g(0.1, 14), b"0.1");
        assert_eq!(format_g(1e100, 14), b"1e+100");
        assert_eq!(format_g(-0.0, 14), b"-0");
        assert_eq!(format_g(f64::INFINITY, 14), b"inf");
        assert_eq!(format_g(123.456, 1), b"1e+02");
    }
}

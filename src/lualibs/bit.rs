//! The `bit` library (LuaBitOp 1.0 semantics as embedded in Redis).
//!
//! Invariant: every operation works on 32-bit values and returns a signed 32-bit result as
//! a Lua number. Arguments are normalised the way LuaBitOp does on doubles: add 2^52+2^51
//! and keep the low 32 bits of the IEEE representation, which rounds fractions to nearest
//! even and wraps out-of-range values modulo 2^32 (NaN/Inf give 0). A value that converts
//! to 0 and is not a number (or numeric string) raises "number expected".

use std::ffi::c_int;

use mlua::ffi;

use super::raw::{guarded, set_field, L};

/// LuaBitOp's `barg`: the argument at `idx` as 32 raw bits.
unsafe fn barg(l: L, idx: c_int) -> u32 {
    let n = ffi::lua_tonumber(l, idx);
    let b = (n + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

unsafe fn ret(l: L, b: u32) -> c_int {
    ffi::lua_pushnumber(l, b as i32 as f64);
    1
}

unsafe extern "C-unwind" fn tobit(l: L) -> c_int {
    guarded(l, || ret(l, barg(l, 1)))
}

unsafe extern "C-unwind" fn bnot(l: L) -> c_int {
    guarded(l, || ret(l, !barg(l, 1)))
}

/// Folds arguments 2..n into argument 1, walking from the last argument down as LuaBitOp
/// does (so a type error names the highest bad argument first).
unsafe fn fold(l: L, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = barg(l, 1);
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, barg(l, i));
        i -= 1;
    }
    ret(l, b)
}

unsafe extern "C-unwind" fn band(l: L) -> c_int {
    guarded(l, || fold(l, |a, b| a & b))
}

unsafe extern "C-unwind" fn bor(l: L) -> c_int {
    guarded(l, || fold(l, |a, b| a | b))
}

unsafe extern "C-unwind" fn bxor(l: L) -> c_int {
    guarded(l, || fold(l, |a, b| a ^ b))
}

/// Shifts and rotates: the count is taken modulo 32.
unsafe fn shift(l: L, op: fn(u32, u32) -> u32) -> c_int {
    let b = barg(l, 1);
    let n = barg(l, 2) & 31;
    ret(l, op(b, n))
}

unsafe extern "C-unwind" fn lshift(l: L) -> c_int {
    guarded(l, || shift(l, |b, n| b << n))
}

unsafe extern "C-unwind" fn rshift(l: L) -> c_int {
    guarded(l, || shift(l, |b, n| b >> n))
}

unsafe extern "C-unwind" fn arshift(l: L) -> c_int {
    guarded(l, || shift(l, |b, n| ((b as i32) >> n) as u32))
}

unsafe extern "C-unwind" fn rol(l: L) -> c_int {
    guarded(l, || shift(l, |b, n| b.rotate_left(n)))
}

unsafe extern "C-unwind" fn ror(l: L) -> c_int {
    guarded(l, || shift(l, |b, n| b.rotate_right(n)))
}

unsafe extern "C-unwind" fn bswap(l: L) -> c_int {
    guarded(l, || ret(l, barg(l, 1).swap_bytes()))
}

/// `tohex(x [, n])`: |n| low hex digits (at most 8), upper case when n < 0.
unsafe extern "C-unwind" fn tohex(l: L) -> c_int {
    guarded(l, || {
        let mut b = barg(l, 1);
        let mut n: i32 = if ffi::lua_isnone(l, 2) != 0 {
            8
        } else {
            barg(l, 2) as i32
        };
        // Redis' patched LuaBitOp clamps INT32_MIN before negating it.
        if n == i32::MIN {
            n = i32::MIN + 1;
        }
        let digits: &[u8; 16] = if n < 0 {
            n = -n;
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let n = n.min(8) as usize;
        let mut buf = [0u8; 8];
        for slot in buf[..n].iter_mut().rev() {
            *slot = digits[(b & 15) as usize];
            b >>= 4;
        }
        super::raw::push_bytes(l, &buf[..n]);
        1
    })
}

/// Pushes the `bit` table, built the way `luaL_register` builds it (same size hint and
/// insertion order, so `pairs(bit)` iterates like Redis).
pub(crate) unsafe fn push_module(l: L) {
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 12] = [
        (c"tobit", tobit),
        (c"bnot", bnot),
        (c"band", band),
        (c"bor", bor),
        (c"bxor", bxor),
        (c"lshift", lshift),
        (c"rshift", rshift),
        (c"arshift", arshift),
        (c"rol", rol),
        (c"ror", ror),
        (c"bswap", bswap),
        (c"tohex", tohex),
    ];
    ffi::lua_createtable(l, 0, funcs.len() as c_int);
    for (name, f) in funcs {
        ffi::lua_pushcclosure(l, f, 0);
        set_field(l, -2, name);
    }
}

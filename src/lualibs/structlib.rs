//! The `struct` library (lua-struct as embedded in Redis): `pack`, `unpack`, `size`.
//!
//! Invariant: the format language, alignment arithmetic, integer conversions and error
//! texts are those of the C library on x86-64 (long = size_t = 8 bytes, native little
//! endian, maximum alignment 8, integral sizes up to 32 bytes where bytes past the 8th are
//! zero on pack and shifted out on unpack). The format string ends at its first NUL byte,
//! as a C string would.

use std::ffi::c_int;

use mlua::ffi;

use super::raw::{
    arg_error, c_f64_to_i64, c_f64_to_u64, check_bytes, guarded, new_buffer, push_bytes, raise,
    raise_owned, set_field, L,
};

const MAXINTSIZE: i32 = 32;
const MAXALIGN: i32 = 8;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A cursor over the format string (up to its first NUL).
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    /// The next option byte, or None at the end of the format.
    fn next_opt(&mut self) -> Option<u8> {
        let c = self.peek();
        if c == 0 {
            return None;
        }
        self.i += 1;
        Some(c)
    }

    /// Reads an optional decimal count; raises "integral size overflow" past INT_MAX.
    unsafe fn getnum(&mut self, l: L, default: i32) -> i32 {
        if !self.peek().is_ascii_digit() {
            return default;
        }
        let mut a: i32 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.peek() - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                raise(l, b"integral size overflow");
            }
            a = a * 10 + d;
            self.i += 1;
        }
        a
    }
}

/// Size in bytes of option `opt` (0 for options that take no room).
unsafe fn optsize(l: L, opt: u8, fmt: &mut Fmt) -> usize {
    match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => fmt.getnum(l, 1) as usize,
        b'i' | b'I' => {
            let sz = fmt.getnum(l, 4);
            if sz > MAXINTSIZE {
                raise_owned(
                    l,
                    format!("integral size {sz} is larger than limit of {MAXINTSIZE}"),
                );
            }
            sz as usize
        }
        _ => 0,
    }
}

/// Padding needed before an item of `size` bytes at offset `len`.
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    // Same arithmetic as the C library, including for sizes that are not powers of two.
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

/// Endianness, alignment and blanks; anything else is an invalid option.
unsafe fn controloptions(l: L, opt: u8, fmt: &mut Fmt, h: &mut Header) {
    match opt {
        b' ' => {}
        b'>' => h.endian = Endian::Big,
        b'<' => h.endian = Endian::Little,
        b'!' => {
            let a = fmt.getnum(l, MAXALIGN);
            if a <= 0 || (a & (a - 1)) != 0 {
                raise_owned(l, format!("alignment {a} is not a power of 2"));
            }
            h.align = a as usize;
        }
        _ => {
            // A fixed array, not a Vec: nothing may own heap memory across the raise.
            const HEAD: &[u8] = b"invalid format option '";
            let mut msg = [0u8; HEAD.len() + 2];
            msg[..HEAD.len()].copy_from_slice(HEAD);
            msg[HEAD.len()] = opt;
            msg[HEAD.len() + 1] = b'\'';
            arg_error(l, 1, &msg);
        }
    }
}

/// The format argument: the bytes of argument 1 up to the first NUL.
unsafe fn check_format<'a>(l: L) -> Fmt<'a> {
    let s = check_bytes(l, 1);
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    Fmt { s: &s[..end], i: 0 }
}

fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value: u64 = if n < 0.0 {
        c_f64_to_i64(n) as u64
    } else {
        c_f64_to_u64(n)
    };
    let mut buf = [0u8; MAXINTSIZE as usize];
    let bytes = &mut buf[..size];
    if endian == Endian::Little {
        for b in bytes.iter_mut() {
            *b = (value & 0xff) as u8;
            value >>= 8;
        }
    } else {
        for b in bytes.iter_mut().rev() {
            *b = (value & 0xff) as u8;
            value >>= 8;
        }
    }
    out.extend_from_slice(bytes);
}

fn put_bytes_endian(out: &mut Vec<u8>, native_le: &[u8], endian: Endian) {
    if endian == Endian::Little {
        out.extend_from_slice(native_le);
    } else {
        out.extend(native_le.iter().rev());
    }
}

unsafe extern "C-unwind" fn pack(l: L) -> c_int {
    guarded(l, || {
        let mut fmt = check_format(l);
        let mut h = Header::new();
        let mut arg: c_int = 2;
        let mut total: usize = 0;
        // A nil right after the arguments: reading past them reports "got nil", as in C.
        ffi::lua_pushnil(l);
        let out = new_buffer(l);
        while let Some(opt) = fmt.next_opt() {
            let mut size = optsize(l, opt, &mut fmt);
            let toalign = gettoalign(total, &h, opt, size);
            total = total.wrapping_add(toalign);
            out.resize(out.len() + toalign, 0);
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let n = ffi::luaL_checknumber(l, arg);
                    arg += 1;
                    put_integer(out, n, h.endian, size);
                }
                b'x' => out.push(0),
                b'f' => {
                    let f = ffi::luaL_checknumber(l, arg) as f32;
                    arg += 1;
                    put_bytes_endian(out, &f.to_le_bytes(), h.endian);
                }
                b'd' => {
                    let d = ffi::luaL_checknumber(l, arg);
                    arg += 1;
                    put_bytes_endian(out, &d.to_le_bytes(), h.endian);
                }
                b'c' | b's' => {
                    let s = check_bytes(l, arg);
                    arg += 1;
                    if size == 0 {
                        size = s.len();
                    }
                    if s.len() < size {
                        arg_error(l, arg, b"string too short");
                    }
                    out.extend_from_slice(&s[..size]);
                    if opt == b's' {
                        out.push(0);
                        size += 1;
                    }
                }
                _ => controloptions(l, opt, &mut fmt, &mut h),
            }
            total = total.wrapping_add(size);
        }
        push_bytes(l, &out[..]);
        1
    })
}

/// Reads an integer of `size` bytes; bytes beyond the 8th push earlier ones out.
fn get_integer(buf: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut v: u64 = 0;
    if endian == Endian::Big {
        for &b in buf.iter().take(size) {
            v = (v << 8) | b as u64;
        }
    } else {
        for &b in buf.iter().take(size).rev() {
            v = (v << 8) | b as u64;
        }
    }
    if !signed {
        return v as f64;
    }
    // x86 masks shift counts to 6 bits, which is what the C shift does for sizes > 8.
    let shift = ((size as i64 * 8 - 1) & 63) as u32;
    let mask = u64::MAX << shift;
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

unsafe extern "C-unwind" fn unpack(l: L) -> c_int {
    guarded(l, || {
        let mut fmt = check_format(l);
        let data = check_bytes(l, 2);
        let ld = data.len();
        let mut pos = ffi::luaL_optinteger(l, 3, 1) as usize;
        if pos == 0 {
            arg_error(l, 3, b"offset must be 1 or greater");
        }
        pos -= 1;
        let mut n: c_int = 0;
        let mut h = Header::new();
        while let Some(opt) = fmt.next_opt() {
            let mut size = optsize(l, opt, &mut fmt);
            pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
            if !(size <= ld && pos <= ld - size) {
                arg_error(l, 2, b"data string too short");
            }
            if ffi::lua_checkstack(l, 2) == 0 {
                raise(l, b"stack overflow (too many results)");
            }
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let v = get_integer(&data[pos..], h.endian, opt.is_ascii_lowercase(), size);
                    ffi::lua_pushnumber(l, v);
                    n += 1;
                }
                b'x' => {}
                b'f' => {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&data[pos..pos + 4]);
                    let f = if h.endian == Endian::Little {
                        f32::from_le_bytes(b)
                    } else {
                        f32::from_be_bytes(b)
                    };
                    ffi::lua_pushnumber(l, f as f64);
                    n += 1;
                }
                b'd' => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&data[pos..pos + 8]);
                    let d = if h.endian == Endian::Little {
                        f64::from_le_bytes(b)
                    } else {
                        f64::from_be_bytes(b)
                    };
                    ffi::lua_pushnumber(l, d);
                    n += 1;
                }
                b'c' => {
                    if size == 0 {
                        if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                            raise(l, b"format 'c0' needs a previous size");
                        }
                        size = c_f64_to_u64(ffi::lua_tonumber(l, -1)) as usize;
                        ffi::lua_settop(l, -2);
                        n -= 1;
                        if !(size <= ld && pos <= ld - size) {
                            arg_error(l, 2, b"data string too short");
                        }
                    }
                    push_bytes(l, &data[pos..pos + size]);
                    n += 1;
                }
                b's' => {
                    let rest = &data[pos..];
                    let Some(z) = rest.iter().position(|&b| b == 0) else {
                        raise(l, b"unfinished string in data");
                    };
                    size = z + 1;
                    push_bytes(l, &rest[..z]);
                    n += 1;
                }
                _ => controloptions(l, opt, &mut fmt, &mut h),
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos.wrapping_add(1) as i64);
        n + 1
    })
}

unsafe extern "C-unwind" fn size(l: L) -> c_int {
    guarded(l, || {
        let mut fmt = check_format(l);
        let mut h = Header::new();
        let mut pos: usize = 0;
        while let Some(opt) = fmt.next_opt() {
            let size = optsize(l, opt, &mut fmt);
            pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
            if opt == b's' {
                arg_error(l, 1, b"option 's' has no fixed size");
            } else if opt == b'c' && size == 0 {
                arg_error(l, 1, b"option 'c0' has no fixed size");
            }
            // Letters and digits that are not options are silently ignored here.
            if !opt.is_ascii_alphanumeric() {
                controloptions(l, opt, &mut fmt, &mut h);
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos as i64);
        1
    })
}

/// Pushes the `struct` table as `luaL_register` builds it.
pub(crate) unsafe fn push_module(l: L) {
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 3] =
        [(c"pack", pack), (c"unpack", unpack), (c"size", size)];
    ffi::lua_createtable(l, 0, funcs.len() as c_int);
    for (name, f) in funcs {
        ffi::lua_pushcclosure(l, f, 0);
        set_field(l, -2, name);
    }
}

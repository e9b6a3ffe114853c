//! `cjson.decode`: lua-cjson 2.1.0's tokenizer and recursive-descent parser.
//!
//! Invariant: accepts and rejects exactly what lua-cjson does and reports the same
//! "Expected X but found Y at character N" positions. Like the C code the input is treated
//! as NUL-terminated: a NUL byte ends the document wherever it appears. Numbers are parsed
//! with the platform `strtod` (so hex, inf/nan and leading zeros behave as in Redis unless
//! `decode_invalid_numbers` is off), `null` becomes the NULL lightuserdata `cjson.null`, and
//! the parser keeps nothing on the Lua stack beyond what the C library keeps there (so the
//! Lua stack limit cuts nesting at the same depth). Its own state is freed before any error
//! is raised; only an allocation failure inside Lua could unwind past it.

use std::ffi::{c_char, c_int};

use mlua::ffi;

use super::cjson::{config, Config};
use super::raw::{arg_error, check_bytes, guarded, push_bytes, raise, L};

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A tokenizer error with its description ("invalid token", ...).
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

/// Why parsing stopped; raised once the parser's frames are gone.
enum ParseError {
    /// Expected description, found token, 0-based index of the token.
    Unexpected(&'static str, Tok, usize),
    /// Depth reached, offset just past the opening bracket.
    TooDeep(i32, usize),
}

type Parse<T> = Result<T, ParseError>;

struct Parser<'a> {
    /// The document plus the NUL Lua keeps after every string.
    data: &'a [u8],
    ptr: usize,
    cfg: Config,
    depth: i32,
    /// The string token being decoded (never longer than the input).
    tmp: Vec<u8>,
}

fn hex_value(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn hex4(&self, from: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = (v << 4) | hex_value(self.at(from + i))?;
        }
        Some(v)
    }

    fn push_tmp(&mut self, b: u8) {
        self.tmp.push(b);
    }

    /// Decodes `\uXXXX` (or a surrogate pair) at `ptr` into UTF-8; false when invalid.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if cp & 0xF800 == 0xD800 {
            // Must be a high surrogate followed by an escaped low surrogate.
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        let mut buf = [0u8; 4];
        let bytes: &[u8] = match char::from_u32(cp) {
            Some(c) => c.encode_utf8(&mut buf).as_bytes(),
            // Lone surrogates cannot reach here; keep the C encoding for completeness.
            None => {
                buf[0] = ((cp >> 12) | 0xE0) as u8;
                buf[1] = (((cp >> 6) & 0x3F) | 0x80) as u8;
                buf[2] = ((cp & 0x3F) | 0x80) as u8;
                &buf[..3]
            }
        };
        for &b in bytes {
            self.push_tmp(b);
        }
        self.ptr += escape_len;
        true
    }

    /// A string token; `ptr` is on the opening quote. Errors are reported at the offending
    /// byte (the NUL that ended it, or the backslash of a bad escape).
    fn string_token(&mut self) -> (Tok, usize) {
        self.ptr += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.ptr);
            match ch {
                b'"' => break,
                0 => return (Tok::Error("unexpected end of string"), self.ptr),
                b'\\' => {
                    let translated = match self.at(self.ptr + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return (Tok::Error("invalid unicode escape code"), self.ptr);
                        }
                        _ => return (Tok::Error("invalid escape code"), self.ptr),
                    };
                    self.push_tmp(translated);
                    self.ptr += 2;
                }
                _ => {
                    self.push_tmp(ch);
                    self.ptr += 1;
                }
            }
        }
        self.ptr += 1;
        (Tok::Str, 0)
    }

    /// Forms strtod accepts but strict JSON does not: leading '+', hex, leading zeros,
    /// inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).eq_ignore_ascii_case(&w[i]));
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Tok {
        let start = self.data[self.ptr..].as_ptr() as *const c_char;
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: `data` is a Lua string, so a NUL follows its last byte and strtod stops
        // there at the latest.
        let value = unsafe { libc::strtod(start, &mut end) };
        let used = (end as usize).wrapping_sub(start as usize);
        if end.is_null() || used == 0 || used > self.data.len() - self.ptr {
            return Tok::Error("invalid number");
        }
        self.ptr += used;
        Tok::Number(value)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data
            .get(self.ptr..)
            .is_some_and(|rest| rest.starts_with(word))
    }

    /// The next token and its 0-based index.
    fn next_token(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            self.ptr += 1;
            return (tok, index);
        }
        match ch {
            0 => return (Tok::End, index),
            b'"' => {
                let (tok, at) = self.string_token();
                return (tok, if let Tok::Error(_) = tok { at } else { index });
            }
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    return (Tok::Error("invalid number"), index);
                }
                return (self.number_token(), index);
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {}
            _ => return (Tok::Error("invalid token"), index),
        }
        if self.starts_with(b"true") {
            self.ptr += 4;
            (Tok::Bool(true), index)
        } else if self.starts_with(b"false") {
            self.ptr += 5;
            (Tok::Bool(false), index)
        } else if self.starts_with(b"null") {
            self.ptr += 4;
            (Tok::Null, index)
        } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            (self.number_token(), index)
        } else {
            (Tok::Error("invalid token"), index)
        }
    }

    unsafe fn descend(&mut self, l: L, slots: c_int) -> Parse<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
            return Ok(());
        }
        Err(ParseError::TooDeep(self.depth, self.ptr))
    }

    unsafe fn push_tmp_string(&self, l: L) {
        push_bytes(l, &self.tmp);
    }

    /// Inside an object, after `{` or `,`: the key, the colon, and the token that starts
    /// the member's value (returned).
    unsafe fn member_key(&mut self, l: L, tok: Tok, idx: usize) -> Parse<(Tok, usize)> {
        if tok != Tok::Str {
            return Err(ParseError::Unexpected("object key string", tok, idx));
        }
        self.push_tmp_string(l);
        let (colon, cidx) = self.next_token();
        if colon != Tok::Colon {
            return Err(ParseError::Unexpected("colon", colon, cidx));
        }
        Ok(self.next_token())
    }
}

/// An open container while parsing: objects hold their pending key on the Lua stack,
/// arrays the index the next element goes to.
enum Open {
    Object,
    Array(c_int),
}

/// Parses one JSON text and leaves its value on the Lua stack. Iterative (an explicit
/// stack of open containers), so nesting depth is bounded only by the Lua stack checks,
/// never by the native stack. Lua stack usage per level is the C library's (table, plus
/// key and value for objects), so depth limits fall at the same places.
unsafe fn parse(l: L, p: &mut Parser) -> Parse<()> {
    let mut open: Vec<Open> = Vec::new();
    let (mut tok, mut idx) = p.next_token();
    loop {
        // A value starts at `tok`: push a scalar, or open a container.
        let mut complete = true;
        match tok {
            Tok::Str => p.push_tmp_string(l),
            Tok::Number(n) => ffi::lua_pushnumber(l, n),
            Tok::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Tok::ObjBegin => {
                p.descend(l, 3)?;
                ffi::lua_createtable(l, 0, 0);
                let (t, i) = p.next_token();
                if t == Tok::ObjEnd {
                    p.depth -= 1;
                } else {
                    (tok, idx) = p.member_key(l, t, i)?;
                    open.push(Open::Object);
                    complete = false;
                }
            }
            Tok::ArrBegin => {
                p.descend(l, 2)?;
                ffi::lua_createtable(l, 0, 0);
                let (t, i) = p.next_token();
                if t == Tok::ArrEnd {
                    p.depth -= 1;
                } else {
                    (tok, idx) = (t, i);
                    open.push(Open::Array(1));
                    complete = false;
                }
            }
            _ => return Err(ParseError::Unexpected("value", tok, idx)),
        }
        // Store completed values into their containers, closing containers as they end,
        // until a new value has to be parsed (or the top-level value is done).
        while complete {
            let Some(top) = open.last_mut() else {
                let (t, i) = p.next_token();
                if t != Tok::End {
                    return Err(ParseError::Unexpected("the end", t, i));
                }
                return Ok(());
            };
            let (sep, sidx);
            match top {
                Open::Object => {
                    ffi::lua_rawset(l, -3);
                    (sep, sidx) = p.next_token();
                    if sep == Tok::Comma {
                        let (t, i) = p.next_token();
                        (tok, idx) = p.member_key(l, t, i)?;
                        complete = false;
                    } else if sep != Tok::ObjEnd {
                        return Err(ParseError::Unexpected("comma or object end", sep, sidx));
                    }
                }
                Open::Array(i) => {
                    ffi::lua_rawseti_(l, -2, *i);
                    *i = i.wrapping_add(1);
                    (sep, sidx) = p.next_token();
                    if sep == Tok::Comma {
                        (tok, idx) = p.next_token();
                        complete = false;
                    } else if sep != Tok::ArrEnd {
                        return Err(ParseError::Unexpected("comma or array end", sep, sidx));
                    }
                }
            }
            if complete {
                // The container just ended: it is now a completed value of its parent.
                open.pop();
                p.depth -= 1;
            }
        }
    }
}

pub(crate) unsafe extern "C-unwind" fn decode(l: L) -> c_int {
    guarded(l, || {
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, b"expected 1 argument");
        }
        let cfg = *config(l);
        let text = check_bytes(l, 1);
        // Only the first character of a JSON text is guaranteed ASCII; a NUL in either of
        // the first two bytes means UTF-16/32 input.
        if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
            raise(l, b"JSON parser does not support UTF-16 or UTF-32");
        }
        let data = std::slice::from_raw_parts(text.as_ptr(), text.len() + 1);
        let mut p = Parser {
            data,
            ptr: 0,
            cfg,
            depth: 0,
            tmp: Vec::with_capacity(text.len()),
        };
        let result = parse(l, &mut p);
        // Everything the parser owns is freed before a possible raise.
        drop(p);
        let err = match result {
            Ok(()) => return 1,
            Err(e) => e,
        };
        let msg = match err {
            ParseError::Unexpected(expected, found, index) => format!(
                "Expected {expected} but found {} at character {}",
                found.name(),
                index + 1
            ),
            ParseError::TooDeep(depth, at) => {
                format!("Found too many nested data structures ({depth}) at character {at}")
            }
        };
        super::raw::raise_owned(l, msg)
    })
}

//! Conversions between Redis replies and Lua values, both ways, RESP2 and RESP3, as Redis
//! documents them ("Data type conversion" in the scripting docs).
//!
//! Invariant: the shape of a conversion depends only on the *script's* protocol (`redis.setresp`,
//! 2 by default), never on the client's; the client's protocol is applied when the final `Reply`
//! is encoded.

use crate::protocol::Reply;
use crate::protocol::{format_double, write_double, DOUBLE_TEXT_MAX};
use bytes::Bytes;
use mlua::{ffi, Lua, Table, Value};

/// Deepest table nesting converted to a reply; deeper levels become an error (Redis stops at its
/// Lua C-stack limit with the same message).
const MAX_DEPTH: usize = 1000;

/// Pre-made key strings, so table conversions do not intern them on every call.
pub struct ReplyKeys {
    err: mlua::String,
    ok: mlua::String,
    double: mlua::String,
    big_number: mlua::String,
    map: mlua::String,
    set: mlua::String,
    verbatim_string: mlua::String,
    format: mlua::String,
    string: mlua::String,
    ignore_stats: mlua::String,
}

impl ReplyKeys {
    pub fn new(lua: &Lua) -> mlua::Result<ReplyKeys> {
        Ok(ReplyKeys {
            err: lua.create_string("err")?,
            ok: lua.create_string("ok")?,
            double: lua.create_string("double")?,
            big_number: lua.create_string("big_number")?,
            map: lua.create_string("map")?,
            set: lua.create_string("set")?,
            verbatim_string: lua.create_string("verbatim_string")?,
            format: lua.create_string("format")?,
            string: lua.create_string("string")?,
            ignore_stats: lua.create_string(IGNORE_STATS)?,
        })
    }
}

/// The field Redis 7 sets on the error tables of failed `redis.call`/`redis.pcall` calls: the
/// error was counted when the call failed, so a script that returns it does not count it again.
pub const IGNORE_STATS: &str = "ignore_error_stats_update";

/// The error replies in a script's reply (nested ones too), as Redis counts them: each error
/// not yet counted goes to the error statistics, and the script's command gets one failed call
/// per error already counted plus one if any error is new (Redis's `afterErrorReply` and
/// `call()` together).
#[derive(Debug, Default)]
pub struct ReplyErrors {
    /// Error lines not counted yet.
    pub fresh: Vec<String>,
    /// Errors counted already (their table carried `ignore_error_stats_update = true`).
    pub counted: u32,
}

impl ReplyErrors {
    /// Notes one error of the reply.
    pub fn note(&mut self, line: &str, counted: bool) {
        if counted {
            self.counted += 1;
        } else {
            self.fresh.push(line.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fresh.is_empty() && self.counted == 0
    }

    /// The failed calls Redis adds to the script command's statistics.
    pub fn failed_calls(&self) -> u32 {
        self.counted + u32::from(!self.fresh.is_empty())
    }
}

/// The `err` text Redis stores in a Lua error table for an error line: `-CODE msg` keeps its
/// code, a line without the leading `-` gets `ERR`; surrounding CR/LF are trimmed.
pub fn error_text(line: &str) -> String {
    let (code, msg) = match line.strip_prefix('-') {
        Some(rest) => match rest.find(' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => ("ERR", rest),
        },
        None => ("ERR", line),
    };
    format!("{code} {}", msg.trim_matches(|c| c == '\r' || c == '\n'))
}

/// A Lua error table `{err = text}`.
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", text)?;
    Ok(t)
}

/// A `redis.call` argument as bytes: strings as they are, numbers as Redis 7.0 formats them
/// (`%.17g`). Anything else is not an argument.
pub fn arg_bytes(v: &Value) -> Option<Bytes> {
    match v {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(i) => Some(Bytes::from(format_double(*i as f64))),
        Value::Number(n) => Some(Bytes::from(format_double(*n))),
        _ => None,
    }
}

/// C's `(long long)` cast as x86 does it: out-of-range and NaN give the minimum.
fn c_cast(n: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

fn sanitize_status(b: &[u8]) -> Bytes {
    Bytes::from(
        b.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect::<Vec<u8>>(),
    )
}

/// Converts a script's return value (or a nested element) to a reply, noting its errors.
pub fn lua_to_reply(v: &Value, resp: u8, k: &ReplyKeys, errs: &mut ReplyErrors) -> Reply {
    to_reply(v, resp, k, 0, errs)
}

fn to_reply(v: &Value, resp: u8, k: &ReplyKeys, depth: usize, errs: &mut ReplyErrors) -> Reply {
    match v {
        Value::Boolean(b) => {
            if resp >= 3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(c_cast(*n)),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                const DEEP: &str = "ERR reached lua stack limit";
                errs.note(DEEP, false);
                return Reply::error(DEEP);
            }
            table_to_reply(t, resp, k, depth + 1, errs)
        }
        _ => Reply::Nil,
    }
}

fn table_to_reply(
    t: &Table,
    resp: u8,
    k: &ReplyKeys,
    depth: usize,
    errs: &mut ReplyErrors,
) -> Reply {
    let field = |key: &mlua::String| t.raw_get::<Value>(key).unwrap_or(Value::Nil);
    if let Value::String(e) = field(&k.err) {
        let line = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        errs.note(
            &line,
            matches!(field(&k.ignore_stats), Value::Boolean(true)),
        );
        return Reply::Error(line);
    }
    if let Value::String(s) = field(&k.ok) {
        return Reply::Status(sanitize_status(&s.as_bytes()));
    }
    // Only a number counts (a numeric string does not), read as the exact double: mlua's
    // `Value` turns a Lua 5.1 number within an epsilon of an integer (`-0`, `1e-17`) into an
    // `Integer`, and Redis prints those as `-0` and `1.0000000000000001e-17`.
    if let Value::Number(_) | Value::Integer(_) = field(&k.double) {
        return Reply::Double(t.raw_get::<f64>(&k.double).unwrap_or(0.0));
    }
    if let Value::String(s) = field(&k.big_number) {
        return Reply::BigNumber(Bytes::copy_from_slice(&s.as_bytes()));
    }
    if let Value::Table(m) = field(&k.map) {
        let mut pairs = Vec::new();
        for (key, val) in m.pairs::<Value, Value>().flatten() {
            pairs.push((
                to_reply(&key, resp, k, depth, errs),
                to_reply(&val, resp, k, depth, errs),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = field(&k.set) {
        let mut items = Vec::new();
        for (key, _) in s.pairs::<Value, Value>().flatten() {
            items.push(to_reply(&key, resp, k, depth, errs));
        }
        return Reply::Set(items);
    }
    if let Value::Table(vt) = field(&k.verbatim_string) {
        let fmt = vt.raw_get::<Value>(&k.format).unwrap_or(Value::Nil);
        let text = vt.raw_get::<Value>(&k.string).unwrap_or(Value::Nil);
        if let (Value::String(f), Value::String(s)) = (fmt, text) {
            return Reply::Verbatim(
                verbatim_format(&f.as_bytes()),
                Bytes::copy_from_slice(&s.as_bytes()),
            );
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp, k, depth, errs)),
        }
    }
    Reply::Array(items)
}

/// `Reply::Verbatim` holds a static format name; scripts may use any three letters, the usual
/// ones are kept and anything else is sent as `txt`.
fn verbatim_format(f: &[u8]) -> &'static str {
    match f {
        b"mkd" => "mkd",
        _ => "txt",
    }
}

/// Converts a command's reply to what `redis.call` returns in a script speaking `resp`.
/// An error reply becomes `{err = …}` (the caller decides whether to raise it).
pub fn reply_to_lua(lua: &Lua, r: &Reply, resp: u8) -> mlua::Result<Value> {
    // SAFETY: `push_reply` only uses the Lua C API on the given state and holds no value that
    // needs dropping; mlua runs it protected.
    unsafe { lua.exec_raw((), |l| push_reply(l, r, resp)) }
}

/// Pushes what [`reply_to_lua`] returns for `r` (one value).
///
/// # Safety
/// `l` is a valid state. Lua API calls here may raise (memory): the caller runs it where that
/// is caught, and nothing on the Rust side of the recursion owns anything.
pub(crate) unsafe fn push_reply(l: *mut ffi::lua_State, r: &Reply, resp: u8) {
    let resp3 = resp >= 3;
    ffi::luaL_checkstack(l, 4, c"reply nested too deep".as_ptr());
    match r {
        Reply::Status(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, s);
            ffi::lua_setfield(l, -2, c"ok".as_ptr());
        }
        Reply::Error(e) => push_error_reply(l, e),
        Reply::Int(i) => ffi::lua_pushnumber(l, *i as f64),
        Reply::Bulk(b) => push_bytes(l, b),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Reply::Array(items) => push_array(l, items, resp),
        Reply::Set(items) => {
            if resp3 {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, items.len().min(1 << 24) as i32);
                for it in items {
                    push_reply(l, it, resp);
                    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                        ffi::lua_pop(l, 1);
                    } else {
                        ffi::lua_pushboolean(l, 1);
                        ffi::lua_rawset(l, -3);
                    }
                }
                ffi::lua_setfield(l, -2, c"set".as_ptr());
            } else {
                push_array(l, items, resp)
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, pairs.len().min(1 << 24) as i32);
                for (key, val) in pairs {
                    push_reply(l, key, resp);
                    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                        ffi::lua_pop(l, 1);
                    } else {
                        push_reply(l, val, resp);
                        ffi::lua_rawset(l, -3);
                    }
                }
                ffi::lua_setfield(l, -2, c"map".as_ptr());
            } else {
                ffi::lua_createtable(l, 0, 0);
                for (i, (key, val)) in pairs.iter().enumerate() {
                    push_reply(l, key, resp);
                    ffi::lua_rawseti_(l, -2, lua_index(2 * i));
                    push_reply(l, val, resp);
                    ffi::lua_rawseti_(l, -2, lua_index(2 * i + 1));
                }
            }
        }
        Reply::Double(d) => {
            if resp3 {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, *d);
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            } else {
                // Formatted into a stack buffer: no owned value may live across a Lua call.
                let mut buf = [0u8; DOUBLE_TEXT_MAX];
                let n = write_double(*d, &mut buf);
                push_bytes(l, &buf[..n]);
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                ffi::lua_pushboolean(l, *b as i32)
            } else {
                ffi::lua_pushnumber(l, if *b { 1.0 } else { 0.0 })
            }
        }
        Reply::BigNumber(n) => {
            if resp3 {
                ffi::lua_createtable(l, 0, 1);
                push_bytes(l, n);
                ffi::lua_setfield(l, -2, c"big_number".as_ptr());
            } else {
                push_bytes(l, n)
            }
        }
        Reply::Verbatim(fmt, text) => {
            if resp3 {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, fmt.as_bytes());
                ffi::lua_setfield(l, -2, c"format".as_ptr());
                push_bytes(l, text);
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
            } else {
                push_bytes(l, text)
            }
        }
        Reply::Raw(_) => {
            push_error_table(l, b"ERR reply of this command cannot be passed to a script")
        }
    }
}

/// The Lua array index of the `i`-th (0-based) element.
fn lua_index(i: usize) -> std::os::raw::c_int {
    (i + 1).min(i32::MAX as usize) as std::os::raw::c_int
}

unsafe fn push_array(l: *mut ffi::lua_State, items: &[Reply], resp: u8) {
    if resp >= 3
        && items
            .iter()
            .any(|r| matches!(r, Reply::Nil | Reply::NilArray))
    {
        // Nulls become holes. Where the elements land (array or hash part) decides what `#`
        // answers for a table with holes, so such a table is built as Redis builds every
        // array: an empty table, then `t[i] = v` for each element in order, nil included.
        ffi::lua_createtable(l, 0, 0);
        for (i, it) in items.iter().enumerate() {
            ffi::lua_pushnumber(l, (i + 1) as f64);
            push_reply(l, it, resp);
            ffi::lua_rawset(l, -3);
        }
        return;
    }
    ffi::lua_createtable(l, items.len().min(1 << 24) as i32, 0);
    for (i, it) in items.iter().enumerate() {
        push_reply(l, it, resp);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
        } else {
            ffi::lua_rawseti_(l, -2, lua_index(i));
        }
    }
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

/// Pushes the error table `{err = text}`.
///
/// # Safety
/// As [`push_reply`].
pub(crate) unsafe fn push_error_table(l: *mut ffi::lua_State, text: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, text);
    ffi::lua_setfield(l, -2, c"err".as_ptr());
}

/// `{err = error_text("-" .. e)}` for an error reply, built without an owned string.
unsafe fn push_error_reply(l: *mut ffi::lua_State, e: &str) {
    ffi::lua_createtable(l, 0, 1);
    let (code, msg) = match e.find(' ') {
        Some(i) => (&e[..i], &e[i + 1..]),
        None => ("ERR", e),
    };
    push_bytes(l, code.as_bytes());
    push_bytes(l, b" ");
    push_bytes(l, msg.trim_matches(|c| c == '\r' || c == '\n').as_bytes());
    ffi::lua_concat(l, 3);
    ffi::lua_setfield(l, -2, c"err".as_ptr());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(lua: &Lua, code: &str, resp: u8) -> Reply {
        let k = ReplyKeys::new(lua).unwrap();
        let v: Value = lua.load(code).eval().unwrap();
        lua_to_reply(&v, resp, &k, &mut ReplyErrors::default())
    }

    #[test]
    fn lua_to_reply_shapes() {
        let lua = Lua::new();
        assert_eq!(eval(&lua, "return 3.99", 2), Reply::Int(3));
        assert_eq!(eval(&lua, "return -3.99", 2), Reply::Int(-3));
        assert_eq!(eval(&lua, "return 1e300", 2), Reply::Int(i64::MIN));
        assert_eq!(eval(&lua, "return 0/0", 2), Reply::Int(i64::MIN));
        assert_eq!(eval(&lua, "return true", 2), Reply::Int(1));
        assert_eq!(eval(&lua, "return false", 2), Reply::Nil);
        assert_eq!(eval(&lua, "return false", 3), Reply::Bool(false));
        assert_eq!(
            eval(&lua, "return {1,2,nil,4}", 2),
            Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
        );
        assert_eq!(eval(&lua, "return {err='x y'}", 2), Reply::error("x y"));
        assert_eq!(
            eval(&lua, "return {ok='a\\nb'}", 2),
            Reply::Status(Bytes::from_static(b"a b"))
        );
        assert_eq!(eval(&lua, "return {err=5}", 2), Reply::Array(vec![]));
        assert_eq!(eval(&lua, "return {double=1.5}", 2), Reply::Double(1.5));
        assert_eq!(
            eval(&lua, "return {map={a=1}}", 2),
            Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))])
        );
        assert_eq!(
            eval(&lua, "return {set={a=true}}", 2),
            Reply::Set(vec![Reply::bulk_str("a")])
        );
        assert_eq!(
            eval(&lua, "return {big_number='12'}", 2),
            Reply::BigNumber(Bytes::from_static(b"12"))
        );
        assert_eq!(
            eval(
                &lua,
                "return {verbatim_string={format='txt',string='hi'}}",
                2
            ),
            Reply::Verbatim("txt", Bytes::from_static(b"hi"))
        );
        assert_eq!(eval(&lua, "return function() end", 2), Reply::Nil);
    }

    #[test]
    fn self_reference_stops_at_the_depth_limit() {
        // Shard threads have a large stack; so does this test's thread.
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(|| {
                let lua = Lua::new();
                let deep = eval(&lua, "local t = {} t[1] = t return t", 2);
                let mut r = &deep;
                let mut n = 0;
                while let Reply::Array(v) = r {
                    r = &v[0];
                    n += 1;
                }
                assert_eq!(n, MAX_DEPTH);
                assert_eq!(r, &Reply::error("ERR reached lua stack limit"));
                // Dropping a deep reply recurses too.
                drop(deep);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn reply_to_lua_shapes() {
        let lua = Lua::new();
        let check = |r: Reply, resp: u8, code: &str| {
            let v = reply_to_lua(&lua, &r, resp).unwrap();
            let f: mlua::Function = lua.load(code).eval().unwrap();
            let ok: bool = f.call(v).unwrap();
            assert!(ok, "{code} failed for {r:?} resp {resp}");
        };
        check(Reply::Nil, 2, "return function(v) return v == false end");
        check(Reply::Nil, 3, "return function(v) return v == nil end");
        check(Reply::ok(), 2, "return function(v) return v.ok == 'OK' end");
        check(
            Reply::error("ERR boom"),
            2,
            "return function(v) return v.err == 'ERR boom' end",
        );
        let m = Reply::Map(vec![(Reply::bulk_str("f"), Reply::bulk_str("v"))]);
        check(
            m.clone(),
            2,
            "return function(v) return v[1] == 'f' and v[2] == 'v' end",
        );
        check(m, 3, "return function(v) return v.map.f == 'v' end");
        let s = Reply::Set(vec![Reply::bulk_str("m")]);
        check(s.clone(), 2, "return function(v) return v[1] == 'm' end");
        check(s, 3, "return function(v) return v.set.m == true end");
        check(
            Reply::Double(1.5),
            2,
            "return function(v) return v == '1.5' end",
        );
        check(
            Reply::Double(1.5),
            3,
            "return function(v) return v.double == 1.5 end",
        );
        check(Reply::Bool(true), 2, "return function(v) return v == 1 end");
        check(
            Reply::Bool(false),
            3,
            "return function(v) return v == false end",
        );
        let big = Reply::BigNumber(Bytes::from_static(b"123"));
        check(big.clone(), 2, "return function(v) return v == '123' end");
        check(
            big,
            3,
            "return function(v) return v.big_number == '123' end",
        );
        let vb = Reply::Verbatim("txt", Bytes::from_static(b"hi"));
        check(vb.clone(), 2, "return function(v) return v == 'hi' end");
        check(
            vb,
            3,
            "return function(v) return v.verbatim_string.format == 'txt' and v.verbatim_string.string == 'hi' end",
        );
        check(
            Reply::Array(vec![Reply::Int(1), Reply::Nil, Reply::Int(3)]),
            3,
            "return function(v) return v[1] == 1 and v[2] == nil and v[3] == 3 end",
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(error_text("My Error"), "ERR My Error");
        assert_eq!(error_text("-My Error"), "My Error");
        assert_eq!(error_text("-x"), "ERR x");
        assert_eq!(error_text(""), "ERR ");
        assert_eq!(error_text("-ERR bad\r\n"), "ERR bad");
    }
}

//! Reply values and their encoding in RESP2 or RESP3.
//!
//! Invariant: a `Reply` is protocol-neutral; the version is chosen only when encoding, so the
//! same value serves RESP2 and RESP3 clients and Lua scripts alike.

use bytes::{BufMut, Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`
    Status(Bytes),
    /// `-text` (the full line, starting with the error code, e.g. `ERR …`, `WRONGTYPE …`).
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// A map; flattened to an array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set; an array in RESP2.
    Set(Vec<Reply>),
    /// A double; a bulk string in RESP2.
    Double(f64),
    /// A boolean; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// A big number; a bulk string in RESP2.
    BigNumber(Bytes),
    /// A verbatim string with its three-letter format; a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// Replies already encoded for this client's protocol (a pipeline batch, an EXEC body).
    Raw(Bytes),
}

impl Reply {
    pub const fn ok() -> Reply {
        Reply::Status(Bytes::from_static(b"OK"))
    }

    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Bytes::from_static(s.as_bytes()))
    }

    /// A HELP reply: one status line per text line, as Redis answers `<COMMAND> HELP`.
    pub fn help(lines: &[&'static str]) -> Reply {
        Reply::Array(lines.iter().map(|l| Reply::status(l)).collect())
    }

    pub fn error(s: impl Into<String>) -> Reply {
        Reply::Error(s.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Encodes this reply for a client speaking RESP `resp` (2 or 3).
    pub fn encode(&self, resp: u8, out: &mut BytesMut) {
        match self {
            Reply::Status(s) => {
                out.put_u8(b'+');
                out.put_slice(s);
                out.put_slice(b"\r\n");
            }
            Reply::Error(e) => {
                out.put_u8(b'-');
                // An error line cannot hold a newline; Redis replaces them with spaces.
                for &b in e.as_bytes() {
                    out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
                }
                out.put_slice(b"\r\n");
            }
            Reply::Int(i) => {
                out.put_u8(b':');
                put_int(out, *i);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(b) => put_bulk(out, b),
            Reply::Nil => out.put_slice(if resp >= 3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if resp >= 3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                put_header(out, b'*', items.len());
                for r in items {
                    r.encode(resp, out);
                }
            }
            Reply::Set(items) => {
                put_header(out, if resp >= 3 { b'~' } else { b'*' }, items.len());
                for r in items {
                    r.encode(resp, out);
                }
            }
            Reply::Map(pairs) => {
                if resp >= 3 {
                    put_header(out, b'%', pairs.len());
                } else {
                    put_header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(resp, out);
                    v.encode(resp, out);
                }
            }
            Reply::Double(d) => {
                let s = format_double(*d);
                if resp >= 3 {
                    out.put_u8(b',');
                    out.put_slice(s.as_bytes());
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, s.as_bytes());
                }
            }
            Reply::Bool(b) => {
                if resp >= 3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::BigNumber(n) => {
                if resp >= 3 {
                    out.put_u8(b'(');
                    out.put_slice(n);
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, n);
                }
            }
            Reply::Verbatim(fmt, text) => {
                if resp >= 3 {
                    put_header(out, b'=', text.len() + 4);
                    out.put_slice(fmt.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, text);
                }
            }
            Reply::Raw(b) => out.put_slice(b),
        }
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self, resp: u8) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(resp, &mut out);
        out.freeze()
    }
}

fn put_int(out: &mut BytesMut, i: i64) {
    let mut buf = itoa::Buffer::new();
    out.put_slice(buf.format(i).as_bytes());
}

fn put_header(out: &mut BytesMut, tag: u8, n: usize) {
    out.put_u8(tag);
    let mut buf = itoa::Buffer::new();
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    put_header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis 7.0 does in replies (`%.17g`; `inf`, `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.{prec}g`.
pub fn format_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_g(123.456, 17), "123.456");
    }

    #[test]
    fn resp2_and_resp3() {
        let m = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(&m.to_bytes(2)[..], b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&m.to_bytes(3)[..], b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&Reply::Nil.to_bytes(2)[..], b"$-1\r\n");
        assert_eq!(&Reply::Nil.to_bytes(3)[..], b"_\r\n");
        assert_eq!(&Reply::Double(1.5).to_bytes(3)[..], b",1.5\r\n");
    }
}

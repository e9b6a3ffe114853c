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
                let mut s = GBuf::new();
                double_text(*d, &mut s);
                if resp >= 3 {
                    out.put_u8(b',');
                    out.put_slice(s.as_str().as_bytes());
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, s.as_str().as_bytes());
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

/// Appends `b` as a RESP bulk string (also used by Pub/Sub and invalidation frames, which
/// are encoded without building a `Reply`).
pub fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    put_header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis 7.0 does in replies (`%.17g`; `inf`, `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    let mut buf = GBuf::new();
    double_text(d, &mut buf);
    buf.as_str().to_string()
}

/// [`format_double`] written into `out` (room for any: [`DOUBLE_TEXT_MAX`] bytes), giving
/// its length; no allocation.
pub fn write_double(d: f64, out: &mut [u8; DOUBLE_TEXT_MAX]) -> usize {
    let mut buf = GBuf::new();
    double_text(d, &mut buf);
    out[..buf.len].copy_from_slice(&buf.bytes[..buf.len]);
    buf.len
}

/// The longest [`format_double`] text fits in this many bytes.
pub const DOUBLE_TEXT_MAX: usize = GBUF;

/// [`format_double`] into `buf`, without allocating.
fn double_text(d: f64, buf: &mut GBuf) {
    use std::fmt::Write;
    if d.is_infinite() {
        let _ = buf.write_str(if d > 0.0 { "inf" } else { "-inf" });
    } else if d.is_nan() {
        let _ = buf.write_str("nan");
    } else {
        g_into(d, 17, buf);
    }
}

/// C's `%.{prec}g`.
pub fn format_g(d: f64, prec: usize) -> String {
    let mut buf = GBuf::new();
    g_into(d, prec, &mut buf);
    buf.as_str().to_string()
}

/// Room for any `%.{prec}g` text with `prec` up to 17, and for `{:e}` of a double with 16
/// decimals (`-1.2345678901234567e-308`).
const GBUF: usize = 40;

/// A stack buffer for formatting a number.
struct GBuf {
    bytes: [u8; GBUF],
    len: usize,
}

impl GBuf {
    fn new() -> GBuf {
        GBuf {
            bytes: [0; GBUF],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    fn push(&mut self, b: u8) {
        if self.len < GBUF {
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for GBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > GBUF {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `%.{prec}g` of a finite `d` into `out`. Integral values with at most `prec` digits print
/// as those digits (the common case: scores and counters) without the float formatter; the
/// rest are formatted once in exponent style (exact, correctly rounded) and laid out as C
/// lays them out for that exponent.
fn g_into(d: f64, prec: usize, out: &mut GBuf) {
    use std::fmt::Write;
    let prec = prec.clamp(1, 17);
    if d == 0.0 {
        let _ = out.write_str(if d.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if d.fract() == 0.0 && d.abs() < 10f64.powi(prec as i32) {
        let _ = out.write_str(itoa::Buffer::new().format(d as i64));
        return;
    }
    let mut sci = GBuf::new();
    let _ = write!(sci, "{:.*e}", prec - 1, d);
    let text = sci.as_str();
    let (mant, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    // The significant digits, without the point, trailing zeros dropped (as %g drops them).
    let mut digits = [0u8; 17];
    let mut n = 0;
    for b in mant.bytes().filter(u8::is_ascii_digit) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push(b'-');
    }
    if exp < -4 || exp >= prec as i32 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            digits[1..].iter().for_each(|&b| out.push(b));
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        let _ = out.write_str("0.");
        (0..(-exp - 1)).for_each(|_| out.push(b'0'));
        digits.iter().for_each(|&b| out.push(b));
    } else {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(digits.get(i).copied().unwrap_or(b'0'));
        }
        if digits.len() > int_len {
            out.push(b'.');
            digits[int_len..].iter().for_each(|&b| out.push(b));
        }
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

    /// C's own `%.{prec}g` (glibc's printf), for comparison.
    fn c_g(d: f64, prec: usize) -> String {
        let fmt = format!("%.{prec}g\0");
        let mut buf = [0u8; 64];
        // SAFETY: `buf` has room for any `%g` text of a double at these precisions and
        // snprintf never writes past the size it is given.
        let n =
            unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr().cast(), d) };
        String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned()
    }

    #[test]
    fn format_g_matches_printf_over_many_doubles() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut cases: Vec<f64> = vec![
            1.0,
            -1.0,
            0.5,
            0.1,
            1e15,
            1e16,
            99999999999999999.0,
            1e17,
            123456789012345678.0,
            1e23,
            0.0001,
            0.00001,
            1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            2f64.powi(53),
            2f64.powi(53) + 2.0,
            1.5e-5,
            f64::from_bits(0.0001f64.to_bits() - 1),
            0.3,
            2.0 / 3.0,
        ];
        for _ in 0..20_000 {
            cases.push(f64::from_bits(rng.gen::<u64>()));
            let scale = 10f64.powi(rng.gen_range(-8..20));
            cases.push((rng.gen::<f64>() - 0.5) * scale);
            cases.push(((rng.gen::<f64>() - 0.5) * scale).round());
        }
        for d in cases.into_iter().filter(|d| d.is_finite()) {
            for prec in [1, 6, 14, 17] {
                assert_eq!(format_g(d, prec), c_g(d, prec), "{d:e} at %.{prec}g");
            }
        }
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

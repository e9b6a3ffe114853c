//! Number parsing with the exact acceptance rules of the C calls Redis makes for sorted sets:
//! `strtod` for range bounds, `getDoubleFromObject` for scores and weights, `strtold` for
//! blocking timeouts, `strtoul` for SCAN cursors.
//!
//! Invariant: each function accepts exactly the byte strings the corresponding Redis path
//! accepts (hex floats, `inf`/`infinity`, leading whitespace only where C allows it), so an
//! argument is never valid on one server and invalid on the other.

/// A fully consumed C float literal.
pub struct CFloat {
    pub value: f64,
    /// The literal is finite but too large for a double (strtod would set ERANGE).
    pub overflow: bool,
    /// The literal is non-zero but rounds to zero in a double.
    pub underflow: bool,
    /// Decimal exponent of the first significant digit, for range checks beyond `f64`.
    pub dec_exp: Option<i64>,
}

pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn digits(s: &[u8], i: usize, hex: bool) -> usize {
    s[i..]
        .iter()
        .take_while(|c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        })
        .count()
}

/// Where C's number parsers (strtod, strtoull) find the digits: after leading white space
/// (`isspace`) and one optional sign. Returns that index and whether the sign was `-`.
pub fn c_sign_prefix(s: &[u8]) -> (usize, bool) {
    let i = s.iter().take_while(|&&c| is_c_space(c)).count();
    match s.get(i) {
        Some(b'-') => (i + 1, true),
        Some(b'+') => (i + 1, false),
        _ => (i, false),
    }
}

/// Parses the whole of `s` as C `strtod` would read it (leading whitespace included).
/// `None` if strtod would stop before the end or read nothing.
pub fn strtod(s: &[u8]) -> Option<CFloat> {
    let (i, neg) = c_sign_prefix(s);
    let rest = &s[i..];
    let sign = if neg { -1.0 } else { 1.0 };
    let special = |value: f64| CFloat {
        value,
        overflow: false,
        underflow: false,
        dec_exp: None,
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(special(sign * f64::INFINITY));
    }
    if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"nan") {
        let tail = &rest[3..];
        let ok = tail.is_empty()
            || (tail.len() >= 2
                && tail[0] == b'('
                && tail[tail.len() - 1] == b')'
                && tail[1..tail.len() - 1]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_'));
        return ok.then(|| special(f64::NAN));
    }
    if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some(v) = hex(&rest[2..]) {
            return Some(CFloat {
                value: sign * v,
                overflow: v.is_infinite(),
                underflow: false,
                dec_exp: None,
            });
        }
    }
    decimal(rest, neg)
}

fn decimal(s: &[u8], neg: bool) -> Option<CFloat> {
    let int = digits(s, 0, false);
    let mut i = int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        frac = digits(s, i + 1, false);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if matches!(s.get(i), Some(b'e') | Some(b'E')) {
        let mut j = i + 1;
        let eneg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let n = digits(s, j, false);
        if n > 0 {
            for &c in &s[j..j + n] {
                exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
            }
            if eneg {
                exp = -exp;
            }
            i = j + n;
        }
    }
    if i != s.len() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    let all: Vec<u8> = s[..int]
        .iter()
        .chain(s[int..].iter().skip(1).take(frac))
        .copied()
        .collect();
    let dec_exp = all
        .iter()
        .position(|&c| c != b'0')
        .map(|p| int as i64 - 1 - p as i64 + exp);
    Some(CFloat {
        value: if neg { -v } else { v },
        overflow: v.is_infinite(),
        underflow: v == 0.0 && dec_exp.is_some(),
        dec_exp,
    })
}

/// The magnitude of a hex float body (after `0x`), if the body is complete.
fn hex(s: &[u8]) -> Option<f64> {
    let int = digits(s, 0, true);
    let mut i = int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        frac = digits(s, i + 1, true);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    let mut mant: u64 = 0;
    let mut bin_exp: i64 = 0;
    for (k, &c) in s[..i].iter().filter(|&&c| c != b'.').enumerate() {
        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
        if mant >> 56 == 0 {
            mant = mant << 4 | d;
            if k >= int {
                bin_exp -= 4;
            }
        } else if k < int {
            bin_exp += 4;
        }
    }
    if matches!(s.get(i), Some(b'p') | Some(b'P')) {
        let mut j = i + 1;
        let eneg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let n = digits(s, j, false);
        if n > 0 {
            let mut e: i64 = 0;
            for &c in &s[j..j + n] {
                e = (e * 10 + (c - b'0') as i64).min(1 << 40);
            }
            bin_exp += if eneg { -e } else { e };
            i = j + n;
        }
    }
    if i != s.len() {
        return None;
    }
    let mut v = mant as f64;
    let mut e = bin_exp;
    while e != 0 && v != 0.0 && v.is_finite() {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    Some(v)
}

/// A score, increment or weight (`getDoubleFromObject`): no leading space, all consumed, no
/// overflow or underflow to zero, not NaN.
pub fn strict_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let f = strtod(s)?;
    (!f.overflow && !f.underflow && !f.value.is_nan()).then_some(f.value)
}

/// A range bound (`zslParseRange`): plain strtod over the whole text; the empty text reads as
/// 0 because strtod then stops on the terminator.
pub fn range_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let f = strtod(s)?;
    (!f.value.is_nan()).then_some(f.value)
}

/// A blocking timeout in seconds, checked as `strtold` (long double range) would, converted to
/// milliseconds as Redis does. `Err(true)` = not a float, `Err(false)` = negative (C's
/// out-of-range float-to-integer conversion yields `LLONG_MIN`, so huge values land here too).
pub fn timeout_ms(s: &[u8]) -> Result<u64, bool> {
    if s.is_empty() || is_c_space(s[0]) {
        return Err(true);
    }
    let f = strtod(s).ok_or(true)?;
    if f.value.is_nan() {
        return Err(true);
    }
    if let Some(e) = f.dec_exp {
        if !(-4950..=4932).contains(&e) {
            return Err(true);
        }
    }
    let ms = f.value * 1000.0;
    if !(ms > -9.223_372_036_854_775e18 && ms < 9.223_372_036_854_775e18) {
        return Err(false);
    }
    // Rounded up, as Redis 7 does: 0.0001 s waits 1 ms, not forever.
    let t = ms.ceil() as i64;
    if t < 0 {
        return Err(false);
    }
    Ok(t as u64)
}

/// A SCAN cursor as `strtoul` reads it: optional sign (negative values wrap), decimal digits,
/// no leading space; the empty text is cursor 0.
pub fn scan_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in body {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_rules() {
        assert_eq!(strict_f64(b"1.5"), Some(1.5));
        assert_eq!(strict_f64(b"0x10"), Some(16.0));
        assert_eq!(strict_f64(b"0x1p-2"), Some(0.25));
        assert_eq!(strict_f64(b"-0X.8"), Some(-0.5));
        assert_eq!(strict_f64(b"1."), Some(1.0));
        assert_eq!(strict_f64(b".5e1"), Some(5.0));
        assert_eq!(strict_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(strict_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        for bad in [
            &b" 1"[..],
            b"1 ",
            b"",
            b"nan",
            b"1e400",
            b"1e-400",
            b"0x",
            b"1e",
            b".",
            b"-",
            b"infx",
            b"1,5",
        ] {
            assert_eq!(strict_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(range_f64(b" 1"), Some(1.0));
        assert_eq!(range_f64(b""), Some(0.0));
        assert_eq!(range_f64(b"1e400"), Some(f64::INFINITY));
        assert_eq!(range_f64(b"nan"), None);
        assert_eq!(timeout_ms(b"0.0015"), Ok(2));
        assert_eq!(timeout_ms(b"0.0001"), Ok(1));
        assert_eq!(timeout_ms(b"0x1p-4"), Ok(63));
        assert_eq!(timeout_ms(b"-0.0001"), Ok(0));
        assert_eq!(timeout_ms(b"inf"), Err(false));
        assert_eq!(timeout_ms(b"1e400"), Err(false));
        assert_eq!(timeout_ms(b"1e5000"), Err(true));
        assert_eq!(timeout_ms(b" 1"), Err(true));
        assert_eq!(timeout_ms(b"-1"), Err(false));
        assert_eq!(scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(scan_cursor(b"18446744073709551616"), None);
        assert_eq!(scan_cursor(b" 1"), None);
    }
}

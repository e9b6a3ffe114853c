//! Software x87 `long double` (64-bit mantissa, 15-bit exponent) for the `*INCRBYFLOAT`
//! commands, which Redis computes in `long double` and prints with `%.17Lf`.
//!
//! Invariant: every operation is correctly rounded (round to nearest, ties to even) exactly as
//! glibc's `strtold`, the x87 `fadd` and glibc's `printf` are, so results match Redis digit for
//! digit (`0.1 + 0.2` is `0.3`, `10000000000.1` is `10000000000.09999999962747097`).

mod bignum;

use bignum::Big;

/// Exponent of the smallest denormal's unit (`2^-16445`).
const MIN_EXP: i64 = -16445;
/// Largest exponent of a finite value's 64-bit mantissa (`(2^64-1) * 2^16320`).
const MAX_EXP: i64 = 16320;
/// Redis refuses longer inputs (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Zero,
    /// `mant * 2^exp`, `mant != 0`, normalized (top bit set) unless `exp == MIN_EXP`.
    Finite {
        mant: u64,
        exp: i64,
    },
    Inf,
    Nan,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    class: Class,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        class: Class::Zero,
    };

    pub fn from_i64(v: i64) -> LongDouble {
        if v == 0 {
            return LongDouble::ZERO;
        }
        round(&Big::from_u64(v.unsigned_abs()), 0, false, v < 0)
    }

    pub fn is_finite(&self) -> bool {
        matches!(self.class, Class::Zero | Class::Finite { .. })
    }

    pub fn is_nan(&self) -> bool {
        self.class == Class::Nan
    }

    /// Parses as Redis's `string2ld`: the whole input must be a `strtold` number (decimal or
    /// hex, `inf`/`infinity`), no leading space, not NaN, and neither overflowing nor
    /// underflowing to zero.
    pub fn parse(b: &[u8]) -> Option<LongDouble> {
        if b.is_empty() || b.len() >= MAX_CHARS || is_c_space(b[0]) {
            return None;
        }
        let (neg, rest) = match b[0] {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble {
                neg,
                class: Class::Inf,
            });
        }
        let v = if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
            parse_hex(&rest[2..], neg)?
        } else {
            parse_dec(rest, neg)?
        };
        (v.class != Class::Inf).then_some(v)
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// The exactly rounded sum.
    fn add(self, o: LongDouble) -> LongDouble {
        use Class::*;
        match (self.class, o.class) {
            (Nan, _) | (_, Nan) => LongDouble {
                neg: false,
                class: Nan,
            },
            (Inf, Inf) if self.neg != o.neg => LongDouble {
                neg: false,
                class: Nan,
            },
            (Inf, _) => self,
            (_, Inf) => o,
            (Zero, Zero) => LongDouble {
                neg: self.neg && o.neg,
                class: Zero,
            },
            (Zero, _) => o,
            (_, Zero) => self,
            (Finite { mant: ma, exp: ea }, Finite { mant: mb, exp: eb }) => {
                let e = ea.min(eb);
                let a = Big::from_u64(ma).shl((ea - e) as u64);
                let b = Big::from_u64(mb).shl((eb - e) as u64);
                if self.neg == o.neg {
                    round(&a.add(&b), e, false, self.neg)
                } else {
                    match a.cmp(&b) {
                        std::cmp::Ordering::Equal => LongDouble::ZERO,
                        std::cmp::Ordering::Greater => round(&a.sub(&b), e, false, self.neg),
                        std::cmp::Ordering::Less => round(&b.sub(&a), e, false, o.neg),
                    }
                }
            }
        }
    }
}

impl LongDouble {
    /// Redis's human form: `%.17Lf` with trailing zeros (and a bare dot) removed, `-0` as `0`.
    pub fn to_human(&self) -> String {
        let (mant, exp) = match self.class {
            Class::Zero => return "0".into(),
            Class::Inf => return if self.neg { "-inf" } else { "inf" }.into(),
            Class::Nan => return "nan".into(),
            Class::Finite { mant, exp } => (mant, exp),
        };
        let body = if exp >= 0 {
            Big::from_u64(mant).shl(exp as u64).to_decimal()
        } else {
            fixed17(mant, (-exp) as u32)
        };
        if body == "0" {
            return "0".into();
        }
        if self.neg {
            format!("-{body}")
        } else {
            body
        }
    }
}

/// `mant / 2^k` printed with 17 fraction digits (rounded half to even), trimmed.
fn fixed17(mant: u64, k: u32) -> String {
    const SCALE: u128 = 100_000_000_000_000_000;
    // mant * 10^17 < 2^121, so a quotient shift of 122 or more always rounds to zero.
    let q = if k >= 122 {
        0
    } else {
        let scaled = mant as u128 * SCALE;
        let q = scaled >> k;
        let rem = scaled & ((1u128 << k) - 1);
        let half = 1u128 << (k - 1);
        if rem > half || (rem == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    };
    let (int, frac) = (q / SCALE, q % SCALE);
    let mut s = format!("{int}.{frac:017}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Rounds `(n + sticky·ε) * 2^e` to the long double format. `sticky` says the true value lies
/// strictly above `n` (by less than one unit of `n`'s last place).
fn round(n: &Big, e: i64, sticky: bool, neg: bool) -> LongDouble {
    let zero = LongDouble {
        neg,
        class: Class::Zero,
    };
    if n.is_zero() {
        return zero;
    }
    let len = n.bit_len() as i64;
    let mut t = (e + len - 64).max(MIN_EXP);
    let shift = t - e;
    let mant = if shift <= 0 {
        (n.low_u128() as u64) << (-shift)
    } else {
        let q = n.shr(shift as u64).low_u128() as u64;
        let half = n.bit(shift as u64 - 1);
        let below = sticky || n.any_below(shift as u64 - 1);
        if half && (below || q & 1 == 1) {
            match q.checked_add(1) {
                Some(q) => q,
                None => {
                    t += 1;
                    1 << 63
                }
            }
        } else {
            q
        }
    };
    if mant == 0 {
        return zero;
    }
    if t > MAX_EXP {
        return LongDouble {
            neg,
            class: Class::Inf,
        };
    }
    LongDouble {
        neg,
        class: Class::Finite { mant, exp: t },
    }
}

/// A rounded result that came from a nonzero input but is zero or infinite is a range error,
/// which `string2ld` refuses.
fn in_range(v: LongDouble, nonzero: bool) -> Option<LongDouble> {
    match v.class {
        Class::Inf => None,
        Class::Zero if nonzero => None,
        _ => Some(v),
    }
}

/// An exponent after `e`/`p`: optional sign, at least one digit; saturates far out of range.
fn parse_exp(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + (d - b'0') as i64).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

/// Splits `int[.frac][<marker>exp]`; returns (integer digits, fraction digits, exponent).
fn split_number(s: &[u8], is_digit: fn(&u8) -> bool, marker: u8) -> Option<(&[u8], &[u8], i64)> {
    let int_len = s.iter().take_while(|c| is_digit(c)).count();
    let (int, mut rest) = s.split_at(int_len);
    let mut frac: &[u8] = &[];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| is_digit(c)).count();
        frac = &rest[1..1 + n];
        rest = &rest[1 + n..];
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest.first() {
        None => 0,
        Some(c) if c | 0x20 == marker => parse_exp(&rest[1..])?,
        Some(_) => return None,
    };
    Some((int, frac, exp))
}

fn parse_dec(s: &[u8], neg: bool) -> Option<LongDouble> {
    let (int, frac, exp) = split_number(s, u8::is_ascii_digit, b'e')?;
    let mut digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(LongDouble {
            neg,
            class: Class::Zero,
        });
    };
    digits.drain(..first);
    let nd = digits.len() as i64;
    let dexp = exp - frac.len() as i64;
    // value is in [10^(nd-1+dexp), 10^(nd+dexp)): far outside the format's range either way.
    if nd - 1 + dexp > 4933 {
        return None;
    }
    if nd + dexp < -4952 {
        return None;
    }
    let mut d = Big::default();
    for chunk in digits.chunks(19) {
        let v = chunk.iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
        d.mul_add_small(10u64.pow(chunk.len() as u32), v);
    }
    let v = if dexp >= 0 {
        let mut n = d;
        let mut left = dexp;
        while left > 0 {
            let step = left.min(19) as u32;
            n.mul_add_small(10u64.pow(step), 0);
            left -= step as i64;
        }
        round(&n, 0, false, neg)
    } else {
        let b = Big::pow10((-dexp) as u32);
        // Scale d so the quotient has 66+ bits; bits shifted out only feed the sticky bit.
        let s = b.bit_len() as i64 + 66 - d.bit_len() as i64;
        let (a, sticky0) = if s >= 0 {
            (d.shl(s as u64), false)
        } else {
            (d.shr((-s) as u64), d.any_below((-s) as u64))
        };
        let (q, r) = a.div_rem_small_quotient(&b);
        round(&Big::from_u128(q), -s, sticky0 || !r.is_zero(), neg)
    };
    in_range(v, true)
}

fn parse_hex(s: &[u8], neg: bool) -> Option<LongDouble> {
    let (int, frac, exp) = split_number(s, u8::is_ascii_hexdigit, b'p')?;
    let mut n = Big::default();
    let mut nonzero = false;
    for &c in int.iter().chain(frac) {
        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
        nonzero |= d != 0;
        if nonzero {
            n.mul_add_small(16, d);
        }
    }
    if !nonzero {
        return Some(LongDouble {
            neg,
            class: Class::Zero,
        });
    }
    let e = exp - 4 * frac.len() as i64;
    if e + n.bit_len() as i64 > MAX_EXP + 128 {
        return None;
    }
    if e + (n.bit_len() as i64) < MIN_EXP - 2 {
        return None;
    }
    in_range(round(&n, e, false, neg), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let x = LongDouble::parse(a.as_bytes()).expect("a");
        let y = LongDouble::parse(b.as_bytes()).expect("b");
        (x + y).to_human()
    }

    #[test]
    fn matches_redis() {
        assert_eq!(incr("0", "10000000000.1"), "10000000000.09999999962747097");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(incr("99999999999999999999", "1"), "100000000000000000000");
        assert_eq!(
            incr("0", "123456789012345678901234567890"),
            "123456789012345678899921813504"
        );
        assert_eq!(incr("0.1", "-0.1"), "0");
        assert_eq!(incr("-0.0", "-0.0"), "0");
        assert_eq!(incr("0", "0x1.8P1"), "3");
        assert_eq!(incr("0", "0x.8"), "0.5");
        assert_eq!(incr("0", "-1.99999999999999999999999"), "-2");
        assert_eq!(incr("1.1", "2.2"), "3.3");
        assert_eq!(incr("1.", ".5"), "1.5");
    }

    #[test]
    fn refusals() {
        for s in [
            "",
            " 1",
            "1 ",
            "1e",
            "nan",
            "-nan",
            "0x",
            "0x1p",
            ".",
            "e5",
            "1e-4951",
            "1e4933",
            "1.2e4932",
            "0x1p-16446",
            "0x1.ffffffffffffffffp16383",
            "1\0",
            "--1",
            "infx",
        ] {
            assert!(LongDouble::parse(s.as_bytes()).is_none(), "{s:?}");
        }
        for s in [
            "inf",
            "-Infinity",
            "0x1p-16445",
            "1.5e-4940",
            "2.5e-4950",
            "1e-320",
            "0x1.fffffffffffffffep16383",
            "1.1897314953572317650e4932",
            "0e-99999",
        ] {
            assert!(LongDouble::parse(s.as_bytes()).is_some(), "{s:?}");
        }
        let max = LongDouble::parse(b"1e4932").expect("max");
        assert!(!(max + max).is_finite());
    }
}

//! Exact emulation of the x86-64 `long double` (80-bit extended precision: 64-bit significand,
//! 15-bit exponent) arithmetic that Redis's INCRBYFLOAT (and HINCRBYFLOAT) perform, so replies
//! match byte for byte: parsing as glibc's `strtold` with Redis's `string2ld` checks, addition
//! rounded to nearest-even, and printing as `%.17Lf` with trailing zeros removed.
//!
//! Invariant: a finite value is exactly `mant * 2^exp` with `mant` fitting 64 bits and `exp` at
//! least the subnormal unit's exponent; every operation is computed exactly on big integers and
//! rounded once, so results are what the hardware gives.

use std::cmp::Ordering;

/// Exponent of the smallest subnormal's unit: 2^-16445.
const MIN_EXP: i64 = -16445;
/// Highest bit position a finite value may have (max is just below 2^16384).
const MAX_TOP: i64 = 16383;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer inputs are refused.
const MAX_CHARS: usize = 5 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// `mant * 2^exp`; `mant == 0` is a (signed) zero.
    Finite {
        mant: u64,
        exp: i32,
    },
    Inf,
    NaN,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    kind: Kind,
}

impl LongDouble {
    fn zero(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            kind: Kind::Finite { mant: 0, exp: 0 },
        }
    }

    fn inf(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            kind: Kind::Inf,
        }
    }

    pub fn from_i64(v: i64) -> LongDouble {
        LongDouble {
            neg: v < 0,
            kind: Kind::Finite {
                mant: v.unsigned_abs(),
                exp: 0,
            },
        }
    }

    /// Neither infinite nor NaN.
    pub fn is_finite(&self) -> bool {
        matches!(self.kind, Kind::Finite { .. })
    }

    /// Parses as Redis's `string2ld`: the whole input must be a number `strtold` accepts (no
    /// leading space, no trailing bytes, no NaN, no overflow or underflow to zero). Every byte
    /// must belong to the number: Redis 7.0 refuses a value holding a NUL byte ("1\0", "\0"),
    /// it does not stop reading there.
    pub fn parse(b: &[u8]) -> Option<LongDouble> {
        if b.is_empty() || b.len() >= MAX_CHARS || b.contains(&0) {
            return None;
        }
        if matches!(b[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            return None;
        }
        let (neg, rest) = match b[0] {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::inf(neg));
        }
        let v = if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
            parse_hex(neg, &rest[2..])?
        } else {
            parse_dec(neg, rest)?
        };
        // Overflow (HUGE_VAL with ERANGE) is refused; so is a nonzero input rounding to zero,
        // which parse_* report as None.
        match v.kind {
            Kind::Finite { .. } => Some(v),
            _ => None,
        }
    }

    /// The sum, rounded to nearest-even (NaN for inf + -inf).
    pub fn plus(self, o: LongDouble) -> LongDouble {
        match (self.kind, o.kind) {
            (Kind::NaN, _) | (_, Kind::NaN) => LongDouble {
                neg: false,
                kind: Kind::NaN,
            },
            (Kind::Inf, Kind::Inf) if self.neg != o.neg => LongDouble {
                neg: false,
                kind: Kind::NaN,
            },
            (Kind::Inf, _) => self,
            (_, Kind::Inf) => o,
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                if ma == 0 && mb == 0 {
                    return LongDouble::zero(self.neg && o.neg);
                }
                if ma == 0 {
                    return o;
                }
                if mb == 0 {
                    return self;
                }
                let e = ea.min(eb) as i64;
                let a = Big::from_u128(ma as u128).shl((ea as i64 - e) as u64);
                let b = Big::from_u128(mb as u128).shl((eb as i64 - e) as u64);
                if self.neg == o.neg {
                    return round(self.neg, &a.add(&b), e, false);
                }
                match a.cmp(&b) {
                    Ordering::Equal => LongDouble::zero(false),
                    Ordering::Greater => round(self.neg, &a.sub(&b), e, false),
                    Ordering::Less => round(o.neg, &b.sub(&a), e, false),
                }
            }
        }
    }

    /// `%.17Lf` with trailing zeros (and a trailing dot) removed and `-0` shown as `0`, as
    /// Redis's `ld2string` in human-friendly mode.
    pub fn to_human(&self) -> String {
        let (mant, exp) = match self.kind {
            Kind::Inf => return if self.neg { "-inf" } else { "inf" }.into(),
            Kind::NaN => return "nan".into(),
            Kind::Finite { mant, exp } => (mant, exp as i64),
        };
        let mut n = Big::from_u128(mant as u128);
        n.mul_small(1_000_000_000);
        n.mul_small(100_000_000);
        let q = if exp >= 0 {
            n.shl(exp as u64)
        } else {
            let s = (-exp) as u64;
            let mut q = n.shr(s);
            let half = n.bit(s - 1);
            if half && (n.any_below(s - 1) || q.bit(0)) {
                q.add_small(1);
            }
            q
        };
        let mut digits = q.to_decimal();
        if digits.len() < 18 {
            digits = format!("{}{}", "0".repeat(18 - digits.len()), digits);
        }
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if self.neg {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }
}

/// Rounds `(n + tail) * 2^base_exp`, where `sticky` says the tail below `n`'s last bit is
/// nonzero, to the 64-bit significand (fewer bits for subnormals), nearest-even.
fn round(neg: bool, n: &Big, base_exp: i64, sticky: bool) -> LongDouble {
    if n.is_zero() {
        return LongDouble::zero(neg);
    }
    let bl = n.bits() as i64;
    let shift = (bl - 64).max(MIN_EXP - base_exp).max(0);
    let mut keep = n.shr(shift as u64).to_u128();
    if shift > 0 {
        let s = shift as u64;
        let half = n.bit(s - 1);
        let lower = sticky || n.any_below(s - 1);
        if half && (lower || keep & 1 == 1) {
            keep += 1;
        }
    }
    let mut exp = base_exp + shift;
    if keep >> 64 != 0 {
        keep >>= 1;
        exp += 1;
    }
    if keep == 0 {
        return LongDouble::zero(neg);
    }
    let top = exp + 127 - keep.leading_zeros() as i64;
    if top > MAX_TOP {
        return LongDouble::inf(neg);
    }
    LongDouble {
        neg,
        kind: Kind::Finite {
            mant: keep as u64,
            exp: exp as i32,
        },
    }
}

/// Reads `[+-]digits` as a saturated exponent; None if no digit.
fn parse_exp(b: &[u8]) -> Option<i64> {
    let (neg, d) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        v = (v * 10 + (c - b'0') as i64).min(1_000_000_000);
    }
    Some(if neg { -v } else { v })
}

/// A decimal `digits[.digits][e[+-]digits]`, the whole of `b`.
fn parse_dec(neg: bool, b: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut digits: Vec<u8> = Vec::new();
    let mut seen = false;
    let mut frac_digits: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        digits.push(b[i] - b'0');
        seen = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            digits.push(b[i] - b'0');
            frac_digits += 1;
            seen = true;
            i += 1;
        }
    }
    if !seen {
        return None;
    }
    let mut e10: i64 = -frac_digits;
    if i < b.len() {
        if b[i] | 0x20 != b'e' {
            return None;
        }
        e10 += parse_exp(&b[i + 1..])?;
    }
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Some(LongDouble::zero(neg));
    };
    let mut digits = &digits[first..];
    while digits.last() == Some(&0) {
        digits = &digits[..digits.len() - 1];
        e10 += 1;
    }
    let nd = digits.len() as i64;
    if nd + e10 - 1 > 4933 {
        return Some(LongDouble::inf(neg));
    }
    if nd + e10 < -4952 {
        return None;
    }
    let mut d = Big::zero();
    for chunk in digits.chunks(9) {
        let mut v = 0u32;
        for &c in chunk {
            v = v * 10 + c as u32;
        }
        d.mul_small(10u32.pow(chunk.len() as u32));
        d.add_small(v);
    }
    let v = if e10 >= 0 {
        let mut n = d;
        n.mul_big_pow10(e10 as u32);
        round(neg, &n, 0, false)
    } else {
        let q = Big::pow10((-e10) as u32);
        let k = 68 + q.bits() as i64 - d.bits() as i64;
        let (num, den) = if k >= 0 {
            (d.shl(k as u64), q)
        } else {
            (d, q.shl((-k) as u64))
        };
        let (quot, rem) = small_quotient(&num, &den);
        round(neg, &Big::from_u128(quot), -k, rem)
    };
    nonzero(v)
}

/// A hexadecimal `hex[.hex][p[+-]digits]` (after `0x`), the whole of `b`.
fn parse_hex(neg: bool, b: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut h = Big::zero();
    let mut seen = false;
    let mut e2: i64 = 0;
    let mut nonzero_seen = false;
    while i < b.len() && b[i].is_ascii_hexdigit() {
        let v = (b[i] as char).to_digit(16).unwrap_or(0);
        nonzero_seen |= v != 0;
        h.mul_small(16);
        h.add_small(v);
        seen = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            let v = (b[i] as char).to_digit(16).unwrap_or(0);
            nonzero_seen |= v != 0;
            h.mul_small(16);
            h.add_small(v);
            e2 -= 4;
            seen = true;
            i += 1;
        }
    }
    if !seen {
        return None;
    }
    if i < b.len() {
        if b[i] | 0x20 != b'p' {
            return None;
        }
        e2 += parse_exp(&b[i + 1..])?;
    }
    if !nonzero_seen {
        return Some(LongDouble::zero(neg));
    }
    let top = e2 + h.bits() as i64;
    if top > MAX_TOP + 2 {
        return Some(LongDouble::inf(neg));
    }
    if top < MIN_EXP - 2 {
        return None;
    }
    nonzero(round(neg, &h, e2, false))
}

/// A nonzero input that rounded to zero is an underflow, which Redis refuses.
fn nonzero(v: LongDouble) -> Option<LongDouble> {
    match v.kind {
        Kind::Finite { mant: 0, .. } => None,
        _ => Some(v),
    }
}

/// `num / den` when the quotient is known to be below 2^70, and whether a remainder is left.
fn small_quotient(num: &Big, den: &Big) -> (u128, bool) {
    let mut r = num.clone();
    let mut q: u128 = 0;
    for i in (0..70u64).rev() {
        let s = den.shl(i);
        if r.cmp(&s) != Ordering::Less {
            r = r.sub(&s);
            q |= 1u128 << i;
        }
    }
    (q, !r.is_zero())
}

/// A minimal unsigned big integer (little-endian 32-bit limbs, no high zero limbs).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u128(mut v: u128) -> Big {
        let mut l = Vec::new();
        while v > 0 {
            l.push(v as u32);
            v >>= 32;
        }
        Big(l)
    }

    fn pow10(n: u32) -> Big {
        let mut b = Big::from_u128(1);
        b.mul_big_pow10(n);
        b
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&t) => (self.0.len() as u64 - 1) * 32 + (32 - t.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u64) -> bool {
        let w = (i / 32) as usize;
        w < self.0.len() && (self.0[w] >> (i % 32)) & 1 == 1
    }

    /// Whether any bit below position `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let w = (i / 32) as usize;
        if self.0[..w.min(self.0.len())].iter().any(|&x| x != 0) {
            return true;
        }
        let r = i % 32;
        w < self.0.len() && r > 0 && self.0[w] & ((1u32 << r) - 1) != 0
    }

    fn to_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128)
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry: u64 = 0;
        for l in &mut self.0 {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_big_pow10(&mut self, mut n: u32) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n));
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for l in &mut self.0 {
            if carry == 0 {
                break;
            }
            let v = *l as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (w, r) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; w];
        out.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &l in &self.0 {
            if r == 0 {
                out.push(l);
            } else {
                out.push((l << r) | carry);
                carry = l >> (32 - r);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: u64) -> Big {
        let (w, r) = ((n / 32) as usize, (n % 32) as u32);
        if w >= self.0.len() {
            return Big::zero();
        }
        let src = &self.0[w..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> r;
            let hi = if r > 0 && i + 1 < src.len() {
                src[i + 1] << (32 - r)
            } else {
                0
            };
            out.push(lo | hi);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add(&self, o: &Big) -> Big {
        let (a, b) = if self.0.len() >= o.0.len() {
            (self, o)
        } else {
            (o, self)
        };
        let mut out = Vec::with_capacity(a.0.len() + 1);
        let mut carry = 0u64;
        for i in 0..a.0.len() {
            let v = a.0[i] as u64 + *b.0.get(i).unwrap_or(&0) as u64 + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self - o`, requires `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v = self.0[i] as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn divrem_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.divrem_small(1_000_000_000));
        }
        let mut s = String::with_capacity(chunks.len() * 9);
        let mut it = chunks.iter().rev();
        if let Some(first) = it.next() {
            s.push_str(&first.to_string());
        }
        for c in it {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let x = LongDouble::parse(a.as_bytes())?;
        let y = LongDouble::parse(b.as_bytes())?;
        let s = x.plus(y);
        s.is_finite().then(|| s.to_human())
    }

    #[test]
    fn matches_x87_results() {
        // Expected values produced by glibc strtold / x87 addition / printf("%.17Lf").
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(
            incr("10.6", "-5e3").as_deref(),
            Some("-4989.39999999999999991")
        );
        assert_eq!(incr("0x10", "1").as_deref(), Some("17"));
        assert_eq!(incr("1e-20", "0").as_deref(), Some("0"));
        assert_eq!(incr("-1e-20", "0").as_deref(), Some("0"));
        assert_eq!(incr("3", "3.0e0").as_deref(), Some("6"));
        assert_eq!(
            incr("0", "1.23456789012345678").as_deref(),
            Some("1.23456789012345678")
        );
        assert_eq!(
            incr("0", "123456789012345678901234567890").as_deref(),
            Some("123456789012345678899921813504")
        );
        assert_eq!(incr("inf", "1"), None);
        assert_eq!(incr("1e4932", "1e4932"), None);
        assert!(LongDouble::parse(b" 1").is_none());
        assert!(LongDouble::parse(b"1 ").is_none());
        assert!(LongDouble::parse(b"nan").is_none());
        assert!(LongDouble::parse(b"1e").is_none());
        assert!(LongDouble::parse(b"1e99999").is_none());
        assert!(LongDouble::parse(b"1e-99999").is_none());
        assert!(LongDouble::parse(b"0e-99999").is_some());
        assert!(LongDouble::parse(b"").is_none());
    }
}

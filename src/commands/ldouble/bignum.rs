//! A minimal unsigned big integer, just enough for exact long-double parsing, rounding and
//! printing.
//!
//! Invariant: limbs are little-endian `u64`s with no high zero limbs, so zero is the empty
//! vector and `bit_len` is exact.

use std::cmp::Ordering;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Big {
    limbs: Vec<u64>,
}

impl Big {
    pub fn from_u64(v: u64) -> Big {
        let mut b = Big { limbs: vec![v] };
        b.trim();
        b
    }

    pub fn from_u128(v: u128) -> Big {
        let mut b = Big {
            limbs: vec![v as u64, (v >> 64) as u64],
        };
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    pub fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    pub fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => (self.limbs.len() as u64 - 1) * 64 + (64 - top.leading_zeros() as u64),
        }
    }

    pub fn bit(&self, i: u64) -> bool {
        let limb = (i / 64) as usize;
        limb < self.limbs.len() && (self.limbs[limb] >> (i % 64)) & 1 == 1
    }

    /// Whether any of the bits below position `i` is set.
    pub fn any_below(&self, i: u64) -> bool {
        let full = ((i / 64) as usize).min(self.limbs.len());
        if self.limbs[..full].iter().any(|&l| l != 0) {
            return true;
        }
        let rem = i % 64;
        full < self.limbs.len() && rem > 0 && self.limbs[full] & ((1u64 << rem) - 1) != 0
    }

    /// `self * m + a`.
    pub fn mul_add_small(&mut self, m: u64, a: u64) {
        let mut carry = a as u128;
        for l in self.limbs.iter_mut() {
            let v = (*l as u128) * (m as u128) + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            self.limbs.push(carry as u64);
        }
        self.trim();
    }

    /// Divides in place by a small divisor, returning the remainder.
    pub fn div_small(&mut self, d: u64) -> u64 {
        let mut rem: u128 = 0;
        for l in self.limbs.iter_mut().rev() {
            let cur = (rem << 64) | *l as u128;
            *l = (cur / d as u128) as u64;
            rem = cur % d as u128;
        }
        self.trim();
        rem as u64
    }

    pub fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (words, rem) = ((bits / 64) as usize, bits % 64);
        let mut limbs = vec![0u64; words];
        let mut carry = 0u64;
        for &l in &self.limbs {
            if rem == 0 {
                limbs.push(l);
            } else {
                limbs.push((l << rem) | carry);
                carry = l >> (64 - rem);
            }
        }
        if carry != 0 {
            limbs.push(carry);
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    pub fn shr(&self, bits: u64) -> Big {
        let words = (bits / 64) as usize;
        if words >= self.limbs.len() {
            return Big::default();
        }
        let rem = bits % 64;
        let src = &self.limbs[words..];
        let mut limbs = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> rem;
            let hi = if rem == 0 {
                0
            } else {
                src.get(i + 1).map_or(0, |&h| h << (64 - rem))
            };
            limbs.push(lo | hi);
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// The low 128 bits.
    pub fn low_u128(&self) -> u128 {
        let lo = self.limbs.first().copied().unwrap_or(0) as u128;
        let hi = self.limbs.get(1).copied().unwrap_or(0) as u128;
        lo | (hi << 64)
    }

    pub fn add(&self, o: &Big) -> Big {
        let (a, b) = if self.limbs.len() >= o.limbs.len() {
            (self, o)
        } else {
            (o, self)
        };
        let mut limbs = Vec::with_capacity(a.limbs.len() + 1);
        let mut carry = false;
        for i in 0..a.limbs.len() {
            let (s1, c1) = a.limbs[i].overflowing_add(b.limbs.get(i).copied().unwrap_or(0));
            let (s2, c2) = s1.overflowing_add(carry as u64);
            limbs.push(s2);
            carry = c1 || c2;
        }
        if carry {
            limbs.push(1);
        }
        Big { limbs }
    }

    /// `self - o`; requires `self >= o`.
    pub fn sub(&self, o: &Big) -> Big {
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = false;
        for i in 0..self.limbs.len() {
            let (d1, b1) = self.limbs[i].overflowing_sub(o.limbs.get(i).copied().unwrap_or(0));
            let (d2, b2) = d1.overflowing_sub(borrow as u64);
            limbs.push(d2);
            borrow = b1 || b2;
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// `(self / d, self % d)` for a quotient known to be below 2^127 (the callers scale the
    /// dividend so the quotient has about 66 bits).
    pub fn div_rem_small_quotient(&self, d: &Big) -> (u128, Big) {
        let mut rem = self.clone();
        let mut q: u128 = 0;
        if d.is_zero() || self.bit_len() < d.bit_len() {
            return (0, rem);
        }
        let top = (self.bit_len() - d.bit_len()).min(126);
        for i in (0..=top).rev() {
            let shifted = d.shl(i);
            if rem.cmp(&shifted) != Ordering::Less {
                rem = rem.sub(&shifted);
                q |= 1u128 << i;
            }
        }
        (q, rem)
    }

    /// `10^n`.
    pub fn pow10(n: u32) -> Big {
        let mut b = Big::from_u64(1);
        let mut left = n;
        while left >= 19 {
            b.mul_add_small(10_000_000_000_000_000_000, 0);
            left -= 19;
        }
        b.mul_add_small(10u64.pow(left), 0);
        b
    }

    /// Decimal digits (no sign, "0" for zero).
    pub fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        const CHUNK: u64 = 10_000_000_000_000_000_000;
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(CHUNK));
        }
        let mut s = String::with_capacity(chunks.len() * 19);
        let mut iter = chunks.iter().rev();
        if let Some(first) = iter.next() {
            s.push_str(&first.to_string());
        }
        for c in iter {
            s.push_str(&format!("{c:019}"));
        }
        s
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, o: &Big) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Big {
    fn cmp(&self, o: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&o.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(o.limbs.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let a = Big::pow10(30);
        assert_eq!(a.to_decimal(), format!("1{}", "0".repeat(30)));
        let b = a.shl(70).shr(70);
        assert_eq!(a, b);
        let s = a.add(&Big::from_u64(5)).sub(&Big::from_u64(7));
        assert_eq!(s.to_decimal(), format!("{}8", "9".repeat(29)));
        let (q, r) = Big::from_u128(1_000_000_007 * 12345 + 17)
            .div_rem_small_quotient(&Big::from_u64(1_000_000_007));
        assert_eq!((q, r.low_u128()), (12345, 17));
        assert!(Big::from_u64(0b1000).any_below(4));
        assert!(!Big::from_u64(0b1000).any_below(3));
        assert_eq!(Big::from_u64(1).shl(64).bit_len(), 65);
    }
}

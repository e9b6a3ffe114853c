//! The HyperLogLog string format of Redis 7.0, byte for byte.
//!
//! A sketch is a string: a 16-byte header (`HYLL`, the encoding byte, three unused bytes, the
//! cached cardinality as 8 little-endian bytes whose top bit set means "stale"), then the
//! 16384 registers of 6 bits, either dense (packed, least significant bits first, 12288
//! bytes) or sparse (run-length opcodes: ZERO `00llllll` for 1..64 zero registers, XZERO
//! `01llllll llllllll` for 1..16384, VAL `1vvvvvll` for 1..4 registers of value 1..32).
//!
//! Invariant: every change goes through the same steps as Redis's (where a sparse update
//! splits an opcode, which neighbours it merges, when it promotes to dense), because the
//! stored bytes are visible through GET and must equal Redis's. Nothing here panics on a
//! corrupted string: malformed opcodes come back as [`Corrupt`].

/// Register index bits.
const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left after the index (the run of zeros is counted in these).
const Q: u32 = 64 - P;
pub const HDR: usize = 16;
pub const DENSE_LEN: usize = HDR + REGISTERS * 6 / 8;
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
const REG_MAX: u8 = 63;
const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SEED: u64 = 0xadc8_3b19;

/// A sparse sketch whose opcodes do not cover exactly the 16384 registers.
#[derive(Debug)]
pub struct Corrupt;

/// Whether `b` passes Redis's check for a HyperLogLog string: long enough for the header, the
/// magic, a known encoding, and a dense one exactly the dense size.
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR
        && &b[..4] == b"HYLL"
        && b[4] <= ENC_SPARSE
        && !(b[4] == ENC_DENSE && b.len() != DENSE_LEN)
}

pub fn is_sparse(b: &[u8]) -> bool {
    b[4] == ENC_SPARSE
}

/// A new, empty sketch: sparse, one XZERO over every register, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(ENC_SPARSE);
    v.extend_from_slice(&[0; 11]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// The cached cardinality, if valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    let mut c = [0u8; 8];
    c.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(c))
}

pub fn set_cache(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// MurmurHash64A, reading 8-byte blocks little-endian (as Redis does on every platform).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate().rev() {
            h ^= (byte as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it proposes: one more than the number of
/// trailing zeros of the hash bits above the index (at most `Q + 1`).
pub fn locate(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    let lo = regs[byte] >> fb;
    let hi = if fb > 2 {
        regs[byte + 1] << (8 - fb)
    } else {
        0
    };
    (lo | hi) & REG_MAX
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    regs[byte] &= !(REG_MAX << fb);
    regs[byte] |= v << fb;
    if fb > 2 {
        regs[byte + 1] &= !(REG_MAX >> (8 - fb));
        regs[byte + 1] |= v >> (8 - fb);
    }
}

/// Raises dense register `i` to `v`; true if it changed.
fn dense_set(b: &mut [u8], i: usize, v: u8) -> bool {
    let regs = &mut b[HDR..];
    if v > dense_get(regs, i) {
        dense_put(regs, i, v);
        true
    } else {
        false
    }
}

/// One sparse opcode.
#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    Val(u8, usize),
}

/// Reads the opcode at `p`: the opcode and its size in bytes. A truncated XZERO reads its
/// missing second byte as 0, as Redis reads the string's terminator.
fn op_at(b: &[u8], p: usize) -> (Op, usize) {
    let c = b[p];
    if c & 0x80 != 0 {
        (Op::Val(((c >> 2) & 0x1f) + 1, (c & 3) as usize + 1), 1)
    } else if c & 0x40 == 0 {
        (Op::Zero((c & 0x3f) as usize + 1), 1)
    } else {
        let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
        (Op::Zero((((c & 0x3f) as usize) << 8 | lo) + 1), 2)
    }
}

fn is_val(c: u8) -> bool {
    c & 0x80 != 0
}

fn val_byte(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    v.push(0x40 | ((len - 1) >> 8) as u8);
    v.push(((len - 1) & 0xff) as u8);
}

fn push_zeros(v: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push(len as u8 - 1);
    }
}

/// Walks the sparse opcodes of `b`, calling `f(first_register, op)`; returns how many
/// registers they covered. A VAL run that would pass the last register stops the walk.
fn walk(b: &[u8], mut f: impl FnMut(usize, Op)) -> usize {
    let mut p = HDR;
    let mut idx = 0usize;
    while p < b.len() {
        let (op, len) = op_at(b, p);
        match op {
            Op::Zero(n) => idx += n,
            Op::Val(_, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                f(idx, op);
                idx += n;
            }
        }
        p += len;
    }
    idx
}

/// Converts a sparse sketch to dense in place (no-op if dense). The header, cached
/// cardinality included, is kept; only the encoding byte changes.
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HDR].copy_from_slice(&b[..HDR]);
    dense[4] = ENC_DENSE;
    let covered = walk(b, |first, op| {
        if let Op::Val(v, n) = op {
            for i in first..first + n {
                dense_put(&mut dense[HDR..], i, v);
            }
        }
    });
    if covered != REGISTERS {
        return Err(Corrupt);
    }
    *b = dense;
    Ok(())
}

/// Raises register `index` to `count`, in either encoding; true if the sketch changed. A
/// sparse sketch turns dense when the value does not fit a VAL opcode or the string would
/// pass `sparse_max` bytes.
pub fn set(b: &mut Vec<u8>, index: usize, count: u8, sparse_max: u64) -> Result<bool, Corrupt> {
    if !is_sparse(b) {
        return Ok(dense_set(b, index, count));
    }
    if count > SPARSE_VAL_MAX {
        return promote(b, index, count);
    }
    // Find the opcode covering `index`, remembering the one before it.
    let mut p = HDR;
    let mut prev = None;
    let mut first = 0usize;
    let mut span = 0usize;
    let mut op = Op::Zero(0);
    let mut oplen = 1;
    while p < b.len() {
        (op, oplen) = op_at(b, p);
        span = match op {
            Op::Zero(n) | Op::Val(_, n) => n,
        };
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= b.len() {
        return Err(Corrupt);
    }
    let last = first + span - 1;
    match op {
        Op::Val(v, _) if v >= count => return Ok(false),
        Op::Val(_, 1) => b[p] = val_byte(count, 1),
        Op::Zero(1) if oplen == 1 => b[p] = val_byte(count, 1),
        _ => {
            // Split the run: what precedes `index`, the new value, what follows.
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Zero(_) => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
                Op::Val(v, _) => {
                    if index != first {
                        seq.push(val_byte(v, index - first));
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        seq.push(val_byte(v, last - index));
                    }
                }
            }
            if seq.len() > oplen && (b.len() + seq.len() - oplen) as u64 > sparse_max {
                return promote(b, index, count);
            }
            b.splice(p..(p + oplen).min(b.len()), seq);
        }
    }
    merge_neighbours(b, prev.unwrap_or(HDR));
    Ok(true)
}

fn promote(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(b)?;
    dense_set(b, index, count);
    Ok(true)
}

/// After an update, merges adjacent VAL opcodes of equal value (while their lengths fit one
/// opcode), looking at no more than five opcodes from `p`.
fn merge_neighbours(b: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < b.len() && scan > 0 {
        scan -= 1;
        let c = b[p];
        if !is_val(c) {
            p += if c & 0x40 != 0 { 2 } else { 1 };
            continue;
        }
        if p + 1 < b.len() && is_val(b[p + 1]) {
            let (Op::Val(v1, l1), _) = op_at(b, p) else {
                unreachable!("checked VAL")
            };
            let (Op::Val(v2, l2), _) = op_at(b, p + 1) else {
                unreachable!("checked VAL")
            };
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                b[p + 1] = val_byte(v1, l1 + l2);
                b.remove(p);
                // Try the merged opcode against its right neighbour too.
                continue;
            }
        }
        p += 1;
    }
}

/// Adds one element; true if a register changed.
pub fn add(b: &mut Vec<u8>, ele: &[u8], sparse_max: u64) -> Result<bool, Corrupt> {
    let (index, count) = locate(ele);
    set(b, index, count, sparse_max)
}

/// Raises each of `max`'s registers to this sketch's.
pub fn merge_into(max: &mut [u8], b: &[u8]) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        let regs = &b[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let covered = walk(b, |first, op| {
        if let Op::Val(v, n) = op {
            for m in &mut max[first..first + n] {
                *m = (*m).max(v);
            }
        }
    });
    if covered != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// How many registers hold each value.
pub type Histogram = [u32; 64];

pub fn histogram(b: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u32; 64];
    if !is_sparse(b) {
        let regs = &b[HDR..];
        for i in 0..REGISTERS {
            h[dense_get(regs, i) as usize] += 1;
        }
        return Ok(h);
    }
    // Unlike a merge, the histogram does not stop at a VAL run passing the end: it counts
    // everything and then checks the total.
    let mut p = HDR;
    let mut idx = 0usize;
    while p < b.len() {
        let (op, len) = op_at(b, p);
        match op {
            Op::Zero(n) => h[0] += n as u32,
            Op::Val(v, n) => h[v as usize] += n as u32,
        }
        idx += match op {
            Op::Zero(n) | Op::Val(_, n) => n,
        };
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

pub fn raw_histogram(regs: &[u8]) -> Histogram {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & REG_MAX) as usize] += 1;
    }
    h
}

/// Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), in Redis's order of floating-point operations.
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - h[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    let e = ALPHA_INF * m * m / z;
    // Redis rounds with llroundl, whose out-of-range result on x86 (here: infinity, when every
    // register is 51 or more) is the "integer indefinite" 1 << 63; as a cache that value
    // reads as stale, and as a reply it is i64::MIN.
    if e < 9_223_372_036_854_775_808.0 {
        e.round() as u64
    } else {
        1 << 63
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The sparse opcodes as PFDEBUG DECODE prints them (`z:` ZERO, `Z:` XZERO, `v:value,len`).
pub fn decode(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < b.len() {
        let c = b[p];
        let (op, len) = op_at(b, p);
        out.push(match op {
            Op::Zero(n) if c & 0x40 == 0 => format!("z:{n}"),
            Op::Zero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        });
        p += len;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sketch_is_18_bytes_and_counts_zero() {
        let s = new_sparse();
        assert_eq!(s.len(), 18);
        assert_eq!(&s[16..], &[0x7f, 0xff]);
        assert_eq!(estimate(&histogram(&s).unwrap()), 0);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_LEN - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_sparse();
        for i in 0..300u32 {
            add(&mut s, &i.to_le_bytes(), 1 << 20).unwrap();
        }
        assert!(is_sparse(&s));
        let mut d = s.clone();
        to_dense(&mut d).unwrap();
        assert_eq!(histogram(&s).unwrap(), histogram(&d).unwrap());
        let mut a = vec![0u8; REGISTERS];
        let mut b = vec![0u8; REGISTERS];
        merge_into(&mut a, &s).unwrap();
        merge_into(&mut b, &d).unwrap();
        assert_eq!(a, b);
    }
}

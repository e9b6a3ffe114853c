//! One key's value in Redis 7.0's DUMP payload format: the RDB object type byte, the object
//! in RDB encoding, the RDB version (2 bytes little-endian) and a CRC-64 of everything before
//! it (8 bytes little-endian). Lengths, strings, LZF and the checksum are shared with the
//! FUNCTION DUMP payload (`functions::dump`).
//!
//! Read: strings (raw, integer, LZF), lists (quicklist of listpacks, plain nodes, and the old
//! linked-list form), hashes (listpack, table), sets (intset, table), sorted sets (listpack,
//! skiplist with binary or text scores), streams (7.0's `STREAM_LISTPACKS_2`). Written: the
//! form Redis 7.0 would write for the encoding OBJECT ENCODING reports, except that strings
//! are never LZF-compressed, lists are cut into listpacks by an approximation of Redis's node
//! size rule, and streams are written in nodes of 100 live entries without tombstones.
//!
//! Invariant: `decode` accepts a payload only if its version is at most 10 and its checksum
//! matches, and it never panics on any input (every read is bounds-checked); a value it cannot
//! read exactly (pre-7.0 streams, ziplist-era encodings) is refused, never approximated.

use super::rdb_stream::{put_stream, read_stream};
use crate::commands::args::parse_i64;
use crate::functions::dump::{crc64, put_len, Reader, RDB_VERSION};
use crate::keyspace::{Hash, List, Set, Str, Value, ZSet};

pub use crate::functions::dump::BAD_PAYLOAD;
pub const BAD_FORMAT: &str = "ERR Bad data format";
pub const NO_STREAMS: &str = "ERR luagate does not read streams in the RDB format before 7.0";

const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_SET_INTSET: u8 = 11;
const T_STREAM: u8 = 15;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;
const T_STREAM_2: u8 = 19;

/// Quicklist node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// `list-max-listpack-size -2`: a list node holds at most 8 KiB.
const LIST_NODE_BYTES: usize = 8192;

// ---------------------------------------------------------------- writing

/// An RDB string as Redis writes it uncompressed: canonical integers within 32 bits as
/// integers, anything else raw.
pub(super) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(i) = parse_i64(s) {
            if let Ok(v) = i8::try_from(i) {
                out.extend_from_slice(&[0xC0, v as u8]);
                return;
            } else if let Ok(v) = i16::try_from(i) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            } else if let Ok(v) = i32::try_from(i) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// A listpack entry's back length: the entry's size in 7-bit groups, read from its end.
fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let groups = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    for g in (0..groups).rev() {
        let b = ((l >> (7 * g)) & 127) as u8;
        out.push(if g == groups - 1 { b } else { b | 128 });
    }
}

/// One listpack entry; strings that are canonical integers take the integer encodings.
fn lp_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    match parse_i64(s) {
        Some(v @ 0..=127) => out.push(v as u8),
        Some(v @ -4096..=4095) => {
            let u = (v as u16) & 0x1FFF;
            out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        }
        Some(v) if i16::try_from(v).is_ok() => {
            out.push(0xF1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        Some(v @ -8_388_608..=8_388_607) => {
            out.push(0xF2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        Some(v) if i32::try_from(v).is_ok() => {
            out.push(0xF3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        Some(v) => {
            out.push(0xF4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None => {
            let n = s.len();
            if n < 64 {
                out.push(0x80 | n as u8);
            } else if n < 4096 {
                out.extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
            } else {
                out.push(0xF0);
                out.extend_from_slice(&(n as u32).to_le_bytes());
            }
            out.extend_from_slice(s);
        }
    }
    let l = out.len() - start;
    put_backlen(out, l);
}

/// A whole listpack: total bytes and element count (65535 meaning "count it"), entries, end.
pub(super) fn listpack<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut lp = vec![0u8; 6];
    let mut n = 0usize;
    for s in items {
        lp_entry(&mut lp, s);
        n += 1;
    }
    lp.push(0xFF);
    let total = lp.len() as u32;
    lp[..4].copy_from_slice(&total.to_le_bytes());
    lp[4..6].copy_from_slice(&(n.min(65535) as u16).to_le_bytes());
    lp
}

fn intset(members: &[i64]) -> Vec<u8> {
    let width: usize = if members.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if members.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The DUMP payload of `v`, or the error for a type luagate cannot dump.
pub fn encode(v: &Value) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    match v {
        Value::Str(s) => {
            out.push(T_STRING);
            put_string(&mut out, s.as_bytes());
        }
        Value::List(l) => {
            out.push(T_LIST_QUICKLIST_2);
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut cur: Vec<&[u8]> = Vec::new();
            let mut cur_bytes = 7usize;
            for s in l.iter() {
                let s = s.as_bytes();
                let sz = s.len() + 11;
                if !cur.is_empty() && cur_bytes + sz > LIST_NODE_BYTES {
                    nodes.push(listpack(cur.drain(..)));
                    cur_bytes = 7;
                }
                cur.push(s);
                cur_bytes += sz;
            }
            if !cur.is_empty() {
                nodes.push(listpack(cur.drain(..)));
            }
            put_len(&mut out, nodes.len());
            for n in &nodes {
                put_len(&mut out, NODE_PACKED as usize);
                put_string(&mut out, n);
            }
        }
        Value::Hash(h) => {
            if crate::commands::object::hash_is_listpack(h) {
                out.push(T_HASH_LISTPACK);
                let lp = listpack(h.iter().flat_map(|(f, v)| [f.as_bytes(), v.as_bytes()]));
                put_string(&mut out, &lp);
            } else {
                out.push(T_HASH);
                put_len(&mut out, h.len());
                for (f, v) in h.iter() {
                    put_string(&mut out, f.as_bytes());
                    put_string(&mut out, v.as_bytes());
                }
            }
        }
        Value::Set(s) => {
            if crate::commands::object::encoding_of(v) == "intset" {
                let mut ints: Vec<i64> = s.iter().filter_map(|m| parse_i64(m)).collect();
                ints.sort_unstable();
                out.push(T_SET_INTSET);
                put_string(&mut out, &intset(&ints));
            } else {
                out.push(T_SET);
                put_len(&mut out, s.len());
                for m in s.iter() {
                    put_string(&mut out, m);
                }
            }
        }
        Value::ZSet(z) => {
            if z.is_listpack() {
                out.push(T_ZSET_LISTPACK);
                let texts: Vec<(Vec<u8>, String)> = z
                    .iter()
                    .map(|(m, s)| {
                        let t = crate::commands::zsets::read::listpack_score(s);
                        (m.as_bytes().to_vec(), t)
                    })
                    .collect();
                let lp = listpack(texts.iter().flat_map(|(m, t)| [m.as_slice(), t.as_bytes()]));
                put_string(&mut out, &lp);
            } else {
                // Redis writes a skiplist from the greatest element down.
                out.push(T_ZSET_2);
                put_len(&mut out, z.len());
                for (m, s) in z.iter_rev() {
                    put_string(&mut out, m.as_bytes());
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        Value::Stream(st) => {
            out.push(T_STREAM_2);
            put_stream(&mut out, st);
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

// ---------------------------------------------------------------- reading

/// The entries of a listpack, integers as their decimal text; `None` if it is malformed.
pub(super) fn listpack_entries(lp: &[u8]) -> Option<Vec<Vec<u8>>> {
    if lp.len() < 7 || u32::from_le_bytes(lp[..4].try_into().ok()?) as usize != lp.len() {
        return None;
    }
    if *lp.last()? != 0xFF {
        return None;
    }
    let mut r = Reader { buf: lp, pos: 6 };
    let mut out = Vec::new();
    loop {
        let start = r.pos;
        let b = r.byte()?;
        let item: Vec<u8> = if b == 0xFF {
            break;
        } else if b & 0x80 == 0 {
            (b as i64).to_string().into_bytes()
        } else if b & 0xC0 == 0x80 {
            r.take((b & 0x3F) as u64)?.to_vec()
        } else if b & 0xE0 == 0xC0 {
            let u = (((b & 0x1F) as u16) << 8) | r.byte()? as u16;
            let v = if u >= 1 << 12 {
                u as i64 - (1 << 13)
            } else {
                u as i64
            };
            v.to_string().into_bytes()
        } else if b & 0xF0 == 0xE0 {
            let n = (((b & 0x0F) as u64) << 8) | r.byte()? as u64;
            r.take(n)?.to_vec()
        } else {
            let v: i64 = match b {
                0xF0 => {
                    let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
                    let s = r.take(n as u64)?.to_vec();
                    skip_backlen(&mut r, start)?;
                    out.push(s);
                    continue;
                }
                0xF1 => i16::from_le_bytes(r.take(2)?.try_into().ok()?) as i64,
                0xF2 => {
                    let t = r.take(3)?;
                    (i32::from_le_bytes([0, t[0], t[1], t[2]]) >> 8) as i64
                }
                0xF3 => i32::from_le_bytes(r.take(4)?.try_into().ok()?) as i64,
                0xF4 => i64::from_le_bytes(r.take(8)?.try_into().ok()?),
                _ => return None,
            };
            v.to_string().into_bytes()
        };
        skip_backlen(&mut r, start)?;
        out.push(item);
    }
    (r.pos == lp.len()).then_some(out)
}

/// Skips an entry's back length, checking it against the entry's size.
fn skip_backlen(r: &mut Reader<'_>, start: usize) -> Option<()> {
    let l = r.pos - start;
    let mut expect = Vec::with_capacity(5);
    put_backlen(&mut expect, l);
    (r.take(expect.len() as u64)? == expect.as_slice()).then_some(())
}

fn intset_members(blob: &[u8]) -> Option<Vec<i64>> {
    if blob.len() < 8 {
        return None;
    }
    let width = u32::from_le_bytes(blob[..4].try_into().ok()?) as usize;
    let n = u32::from_le_bytes(blob[4..8].try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + width.checked_mul(n)? {
        return None;
    }
    Some(
        blob[8..]
            .chunks_exact(width)
            .map(|c| match width {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => i64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
            })
            .collect(),
    )
}

fn parse_score(t: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(t).ok()?.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A count read from the payload, bounded by what the remaining bytes could hold, so a
/// corrupt length cannot make us reserve memory.
pub(super) fn count(r: &mut Reader<'_>) -> Option<usize> {
    let n = usize::try_from(r.plain_len()?).ok()?;
    (n <= r.buf.len() - r.pos).then_some(n)
}

fn read_value(r: &mut Reader<'_>) -> Result<Value, &'static str> {
    let ty = r.byte().ok_or(BAD_FORMAT)?;
    let bad = || BAD_FORMAT;
    let v = match ty {
        T_STRING => Value::Str(Str::new(&r.string().ok_or(BAD_FORMAT)?)),
        T_LIST => {
            let n = count(r).ok_or(BAD_FORMAT)?;
            let mut l = List::new();
            for _ in 0..n {
                l.push_back(Str::new(&r.string().ok_or(BAD_FORMAT)?));
            }
            Value::List(Box::new(l))
        }
        T_LIST_QUICKLIST_2 => {
            let n = count(r).ok_or(BAD_FORMAT)?;
            let mut l = List::new();
            for _ in 0..n {
                let container = r.plain_len().ok_or(BAD_FORMAT)?;
                let blob = r.string().ok_or(BAD_FORMAT)?;
                match container {
                    NODE_PLAIN => l.push_back(Str::new(&blob)),
                    NODE_PACKED => {
                        for e in listpack_entries(&blob).ok_or(BAD_FORMAT)? {
                            l.push_back(Str::new(&e));
                        }
                    }
                    _ => return Err(BAD_FORMAT),
                }
            }
            Value::List(Box::new(l))
        }
        T_SET => {
            let n = count(r).ok_or(BAD_FORMAT)?;
            let mut s = Set::default();
            for _ in 0..n {
                // Redis refuses a payload with a member twice.
                if !s.insert(Str::new(&r.string().ok_or(BAD_FORMAT)?)) {
                    return Err(BAD_FORMAT);
                }
            }
            Value::Set(Box::new(s))
        }
        T_SET_INTSET => {
            let blob = r.string().ok_or(BAD_FORMAT)?;
            let mut s = Set::default();
            for m in intset_members(&blob).ok_or(BAD_FORMAT)? {
                s.insert(Str::from_i64(m));
            }
            Value::Set(Box::new(s))
        }
        T_HASH => {
            let n = count(r).ok_or(BAD_FORMAT)?;
            let mut h = Hash::default();
            for _ in 0..n {
                let f = r.string().ok_or(BAD_FORMAT)?;
                let v = r.string().ok_or(BAD_FORMAT)?;
                if h.insert(Str::new(&f), Str::new(&v)).is_some() {
                    return Err(BAD_FORMAT);
                }
            }
            Value::Hash(Box::new(h))
        }
        T_HASH_LISTPACK => {
            let e = listpack_entries(&r.string().ok_or(BAD_FORMAT)?).ok_or(BAD_FORMAT)?;
            if e.len() % 2 != 0 {
                return Err(BAD_FORMAT);
            }
            let mut h = Hash::default();
            for p in e.chunks_exact(2) {
                h.insert(Str::new(&p[0]), Str::new(&p[1]));
            }
            Value::Hash(Box::new(h))
        }
        T_ZSET | T_ZSET_2 => {
            let n = count(r).ok_or(BAD_FORMAT)?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let m = r.string().ok_or(BAD_FORMAT)?;
                let score = if ty == T_ZSET_2 {
                    f64::from_le_bytes(r.take(8).ok_or(BAD_FORMAT)?.try_into().map_err(|_| bad())?)
                } else {
                    match r.byte().ok_or(BAD_FORMAT)? {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        l => parse_score(r.take(l as u64).ok_or(BAD_FORMAT)?).ok_or(BAD_FORMAT)?,
                    }
                };
                if score.is_nan() || z.insert(&m, score).is_some() {
                    return Err(BAD_FORMAT);
                }
            }
            Value::ZSet(Box::new(z))
        }
        T_ZSET_LISTPACK => {
            let e = listpack_entries(&r.string().ok_or(BAD_FORMAT)?).ok_or(BAD_FORMAT)?;
            if e.len() % 2 != 0 {
                return Err(BAD_FORMAT);
            }
            let mut z = ZSet::new();
            for p in e.chunks_exact(2) {
                let score = parse_score(&p[1]).ok_or(BAD_FORMAT)?;
                z.insert(&p[0], score);
            }
            Value::ZSet(Box::new(z))
        }
        T_STREAM_2 => Value::Stream(Box::new(read_stream(r).ok_or(BAD_FORMAT)?)),
        T_STREAM => return Err(NO_STREAMS),
        _ => return Err(BAD_FORMAT),
    };
    // Redis refuses an empty collection (streams aside).
    if v.is_empty_container() {
        return Err(BAD_FORMAT);
    }
    Ok(v)
}

/// The value in a DUMP payload, or Redis's error for it.
pub fn decode(payload: &[u8]) -> Result<Value, &'static str> {
    if payload.len() < 10 {
        return Err(BAD_PAYLOAD);
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    let crc = u64::from_le_bytes(
        payload[body_end + 2..]
            .try_into()
            .map_err(|_| BAD_PAYLOAD)?,
    );
    if version > RDB_VERSION || crc64(&payload[..body_end + 2]) != crc {
        return Err(BAD_PAYLOAD);
    }
    // Redis reads the value from the whole payload, so a value running into the footer is
    // read from the footer's bytes rather than refused; so do we.
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    read_value(&mut r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::stream::{ConsumerGroup, StreamId};
    use crate::keyspace::Stream;

    fn seal(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn listpack_round_trip() {
        let items: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "-4097",
            "32767",
            "-32769",
            "8388607",
            "-8388609",
            "2147483647",
            "-2147483649",
            "9223372036854775807",
            "007",
            "",
            "+1",
            "-0",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
        ])
        .chain([vec![b'v'; 20000]])
        .collect();
        let lp = listpack(items.iter().map(|v| v.as_slice()));
        assert_eq!(listpack_entries(&lp).unwrap(), items);
    }

    #[test]
    fn backlen_sizes() {
        for (l, n) in [
            (1, 1),
            (127, 1),
            (128, 2),
            (16382, 2),
            (16383, 3),
            (2097151, 4),
        ] {
            let mut b = Vec::new();
            put_backlen(&mut b, l);
            assert_eq!(b.len(), n, "{l}");
        }
    }

    /// Random bodies with a valid checksum: refused or read, never a panic (bounded loop).
    #[test]
    fn arbitrary_bodies_never_panic() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        for round in 0..20_000u32 {
            let mut body = Vec::new();
            let len = (round % 40) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.push(x as u8);
            }
            if let Some(b) = body.first_mut() {
                *b %= 20;
            }
            let _ = decode(&seal(&body));
        }
        // Truncations of real payloads.
        let mut z = ZSet::new();
        z.insert(b"a", 1.5);
        let mut l = List::new();
        l.push_back(Str::new(b"hello"));
        let mut st = Stream::default();
        for i in 1..=5u64 {
            let id = StreamId::new(i, i % 2);
            st.append(id, vec![Str::new(b"f"), Str::from_i64(i as i64)].into());
            st.last_id = id;
        }
        st.delete(StreamId::new(2, 0));
        let mut g = ConsumerGroup::default();
        g.consumer(&bytes::Bytes::from_static(b"c"), 7);
        g.pend(StreamId::new(3, 1), &bytes::Bytes::from_static(b"c"), 9, 2);
        st.groups.insert(bytes::Bytes::from_static(b"g"), g);
        let sp = encode(&Value::Stream(Box::new(st))).unwrap();
        for i in 0..sp.len() - 10 {
            for bit in [0x01u8, 0x80] {
                let mut body = sp[..sp.len() - 10].to_vec();
                body[i] ^= bit;
                let _ = decode(&seal(&body));
            }
        }
        for v in [Value::ZSet(Box::new(z)), Value::List(Box::new(l))] {
            let p = encode(&v).unwrap();
            let body = &p[..p.len() - 10];
            for cut in 0..body.len() {
                let _ = decode(&seal(&body[..cut]));
            }
            assert!(decode(&p).is_ok());
        }
    }
}

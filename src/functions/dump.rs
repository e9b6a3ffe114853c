//! The FUNCTION DUMP payload, in Redis 7.0's format so payloads move between Redis and luagate:
//! one record per library (opcode `0xF5`, then the library code as an RDB string), the RDB
//! version as 2 bytes little-endian, and a CRC-64 (Jones, reflected) of everything before it
//! as 8 bytes little-endian. The same bytes are the on-disk library file.
//!
//! Invariant: `decode` accepts a payload only if its version is at most ours and its checksum
//! matches; it never panics on any input (every read is bounds-checked).

/// `RDB_OPCODE_FUNCTION2`: a library record holding only its code.
const OP_FUNCTION: u8 = 0xF5;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: name, engine, optional description, code.
const OP_FUNCTION_PRE_GA: u8 = 0xF6;
/// The RDB version Redis 7.0 writes; newer payloads are refused, as Redis 7.0 does.
pub const RDB_VERSION: u16 = 10;

pub const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";

/// CRC-64/Jones as Redis computes it (reflected polynomial, no initial or final xor).
pub fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95AC_9329_AC4B_C9B5;
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    data.iter().fold(0u64, |crc, &b| {
        table[((crc ^ b as u64) & 0xFF) as usize] ^ (crc >> 8)
    })
}

pub(crate) fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

/// The payload for libraries with these codes.
pub fn encode<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OP_FUNCTION);
        put_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

pub(crate) enum Len {
    Plain(u64),
    Encoded(u8),
}

impl Reader<'_> {
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn take(&mut self, n: u64) -> Option<&[u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn len(&mut self) -> Option<Len> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Len::Encoded(b & 0x3F),
        })
    }

    pub(crate) fn plain_len(&mut self) -> Option<u64> {
        match self.len()? {
            Len::Plain(n) => Some(n),
            Len::Encoded(_) => None,
        }
    }

    /// An RDB string: raw, integer-encoded or LZF-compressed.
    pub(crate) fn string(&mut self) -> Option<Vec<u8>> {
        match self.len()? {
            Len::Plain(n) => Some(self.take(n)?.to_vec()),
            Len::Encoded(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Len::Encoded(2) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Len::Encoded(3) => {
                let clen = self.plain_len()?;
                let len = self.plain_len()?;
                let data = self.take(clen)?;
                lzf_decompress(data, usize::try_from(len).ok()?)
            }
            Len::Encoded(_) => None,
        }
    }
}

/// LZF decompression; `None` unless the input expands to exactly `len` bytes.
pub(crate) fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len.min(1 << 26));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            out.extend_from_slice(input.get(i..i + run)?);
            i += run;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1F) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..run + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// The library codes in a payload, or Redis's error for it.
pub fn decode(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if payload.len() < 10 {
        return Err(BAD_PAYLOAD.into());
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().map_err(|_| BAD_PAYLOAD)?);
    if version > RDB_VERSION || crc64(&payload[..payload.len() - 8]) != crc {
        return Err(BAD_PAYLOAD.into());
    }
    let mut r = Reader { buf: body, pos: 0 };
    let mut codes = Vec::new();
    while let Some(op) = r.byte() {
        match op {
            OP_FUNCTION => {
                codes.push(r.string().ok_or("ERR Failed loading library payload")?);
            }
            OP_FUNCTION_PRE_GA => {
                r.string().ok_or("ERR Failed loading library name")?;
                r.string().ok_or("ERR Failed loading engine name")?;
                let has_desc = r
                    .plain_len()
                    .ok_or("ERR Failed loading library description")?;
                if has_desc != 0 {
                    r.string().ok_or("ERR Failed loading library description")?;
                }
                codes.push(r.string().ok_or("ERR Failed loading library code")?);
            }
            _ => return Err("ERR given type is not a function".into()),
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn redis_payloads() {
        // FUNCTION DUMP of Redis 7.0.15 with no libraries, and with one small library.
        let empty = [0x0a, 0x00, 0x5d, 0x9b, 0x5c, 0x40, 0x0f, 0x7f, 0xa2, 0xda];
        assert_eq!(decode(&empty).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(encode([]), empty.to_vec());
        let code = b"#!lua name=x\nredis.register_function('f', function() return 1 end)";
        let mut redis = vec![0xf5, 0x40, 0x42];
        redis.extend_from_slice(code);
        redis.extend_from_slice(&[0x0a, 0x00, 0x24, 0xdf, 0x6f, 0x43, 0xa8, 0xd1, 0x6e, 0xd9]);
        assert_eq!(encode([&code[..]]), redis);
        assert_eq!(decode(&redis).unwrap(), vec![code.to_vec()]);
    }

    #[test]
    fn corrupt_payloads_are_refused() {
        let good = encode([&b"#!lua name=x\nx"[..]]);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {i}");
        }
        assert!(decode(&good[..5]).is_err());
        // A record whose length runs past the payload.
        let mut body = vec![OP_FUNCTION, 0x10, b'a'];
        body.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode(&body).unwrap_err(),
            "ERR Failed loading library payload"
        );
    }

    #[test]
    fn lzf() {
        // "aaaaaaaaaa": literal 'a', then a back reference of length 9 at distance 1.
        assert_eq!(
            lzf_decompress(&[0x00, b'a', 0xE0, 0x00, 0x00], 10).unwrap(),
            b"aaaaaaaaaa".to_vec()
        );
        assert!(lzf_decompress(&[0x20, 0x05], 3).is_none());
    }
}

//! Incremental request decoding.
//!
//! Invariant: bytes are consumed from the input buffer as soon as they form a complete element
//! (a count line, a bulk, an inline line), so a large pipeline or a huge bulk is never rescanned:
//! the decoder remembers how far it got and what it is waiting for. "Not enough data yet" is
//! `Ok(None)`, never an error. A multibulk already whole in the buffer is taken in one piece
//! by a fast path that consumes nothing unless it succeeds; both paths give the same commands
//! and errors (a unit test feeds them the same input).

use bytes::{Buf, Bytes, BytesMut};

/// `proto-max-bulk-len` default, as in Redis.
pub const DEFAULT_MAX_BULK_LEN: i64 = 512 * 1024 * 1024;
/// Longest inline command or count line Redis accepts without a newline.
const MAX_INLINE: usize = 64 * 1024;
/// Largest multibulk count (Redis: INT_MAX).
const MAX_MULTIBULK: i64 = i32::MAX as i64;

/// A protocol violation. `Display` is the exact error line Redis sends before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    UnbalancedQuotes,
    TooBigInline,
    TooBigMbulkCount,
    TooBigBulkCount,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ProtocolError::*;
        let s = match self {
            InvalidMultibulkLength => "invalid multibulk length",
            InvalidBulkLength => "invalid bulk length",
            UnauthenticatedMultibulkLength => "unauthenticated multibulk length",
            UnauthenticatedBulkLength => "unauthenticated bulk length",
            ExpectedDollar(c) => {
                return write!(f, "ERR Protocol error: expected '$', got '{}'", *c as char)
            }
            UnbalancedQuotes => "unbalanced quotes in request",
            TooBigInline => "too big inline request",
            TooBigMbulkCount => "too big mbulk count string",
            TooBigBulkCount => "too big bulk count string",
        };
        write!(f, "ERR Protocol error: {s}")
    }
}

#[derive(Debug)]
enum State {
    /// Between commands.
    Idle,
    /// Inside a multibulk: `remaining` arguments still to read; `bulk` is the announced length
    /// of the next bulk once its `$` line has been read.
    Multibulk {
        remaining: usize,
        bulk: Option<usize>,
    },
}

/// Decodes client requests (multibulk and inline) from a growing buffer.
#[derive(Debug)]
pub struct RequestDecoder {
    state: State,
    args: Vec<Bytes>,
    /// Scratch for [`Self::decode_whole`]: where each argument lies in the buffer.
    ranges: Vec<(usize, usize)>,
    /// Bytes of the buffer already searched for a newline without finding one.
    scanned: usize,
    pub max_bulk_len: i64,
    /// Before authentication Redis caps counts at 10 and bulks at 16384 bytes.
    pub authenticated: bool,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new(DEFAULT_MAX_BULK_LEN)
    }
}

impl RequestDecoder {
    pub fn new(max_bulk_len: i64) -> RequestDecoder {
        RequestDecoder {
            state: State::Idle,
            args: Vec::new(),
            ranges: Vec::new(),
            scanned: 0,
            max_bulk_len,
            authenticated: true,
        }
    }

    /// How many more bytes the decoder needs at least before it can make progress; lets the
    /// connection reserve space for a large bulk in one go.
    pub fn wanted(&self) -> usize {
        match self.state {
            State::Multibulk { bulk: Some(n), .. } => n + 2,
            _ => 0,
        }
    }

    /// Decodes the next complete command. Empty commands (`*0`, blank inline lines) are skipped.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if matches!(self.state, State::Idle) {
            if let Some(args) = self.decode_whole(buf) {
                return Ok(Some(args));
            }
        }
        loop {
            match self.state {
                State::Idle => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] == b'*' {
                        let Some(end) = self.header_end(buf, ProtocolError::TooBigMbulkCount)?
                        else {
                            return Ok(None);
                        };
                        let n = string2ll(&buf[1..end])
                            .filter(|&n| n <= MAX_MULTIBULK)
                            .ok_or(ProtocolError::InvalidMultibulkLength)?;
                        if n > 10 && !self.authenticated {
                            return Err(ProtocolError::UnauthenticatedMultibulkLength);
                        }
                        buf.advance(end + 2);
                        if n <= 0 {
                            continue;
                        }
                        self.args = Vec::with_capacity((n as usize).min(1024));
                        self.state = State::Multibulk {
                            remaining: n as usize,
                            bulk: None,
                        };
                    } else {
                        let Some(line) = self.take_line(buf, ProtocolError::TooBigInline)? else {
                            return Ok(None);
                        };
                        let args = split_inline(&line)?;
                        if args.is_empty() {
                            continue;
                        }
                        return Ok(Some(args));
                    }
                }
                State::Multibulk { remaining, bulk } => {
                    let len = match bulk {
                        Some(len) => len,
                        None => {
                            let Some(end) = self.header_end(buf, ProtocolError::TooBigBulkCount)?
                            else {
                                return Ok(None);
                            };
                            if buf[0] != b'$' {
                                return Err(ProtocolError::ExpectedDollar(buf[0]));
                            }
                            let n = string2ll(&buf[1..end])
                                .filter(|&n| n >= 0 && n <= self.max_bulk_len)
                                .ok_or(ProtocolError::InvalidBulkLength)?;
                            if n > 16384 && !self.authenticated {
                                return Err(ProtocolError::UnauthenticatedBulkLength);
                            }
                            buf.advance(end + 2);
                            self.state = State::Multibulk {
                                remaining,
                                bulk: Some(n as usize),
                            };
                            n as usize
                        }
                    };
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    // Redis does not check the two bytes after a bulk; neither do we.
                    buf.advance(2);
                    self.args.push(arg);
                    if remaining == 1 {
                        self.state = State::Idle;
                        return Ok(Some(std::mem::take(&mut self.args)));
                    }
                    self.state = State::Multibulk {
                        remaining: remaining - 1,
                        bulk: None,
                    };
                }
            }
        }
    }

    /// The common case, cheaply: a well-formed multibulk that is all in `buf` is parsed in
    /// place and taken off in one piece, its arguments sliced from it (one buffer split rather
    /// than three buffer operations per argument). Anything else (incomplete, malformed, empty,
    /// before authentication) returns `None` having consumed nothing, for the incremental path
    /// below, which then reads at most this one command's headers again.
    fn decode_whole(&mut self, buf: &mut BytesMut) -> Option<Vec<Bytes>> {
        let b: &[u8] = buf;
        // `scanned` set: a header line is still coming in; it is not searched again per read.
        if b.first() != Some(&b'*') || !self.authenticated || self.scanned != 0 {
            return None;
        }
        let line = |from: usize| -> Option<(i64, usize)> {
            let end = from + b.get(from..)?.iter().position(|&c| c == b'\r')?;
            if end + 2 > b.len() {
                return None;
            }
            Some((string2ll(&b[from..end])?, end + 2))
        };
        let (n, mut at) = line(1)?;
        if n <= 0 || n > MAX_MULTIBULK {
            return None;
        }
        let ranges = &mut self.ranges;
        ranges.clear();
        for _ in 0..n {
            if b.get(at) != Some(&b'$') {
                return None;
            }
            let (len, start) = line(at + 1)?;
            if len < 0 || len > self.max_bulk_len {
                return None;
            }
            let end = start.checked_add(len as usize)?;
            if end.checked_add(2)? > b.len() {
                return None;
            }
            ranges.push((start, end));
            // Redis does not check the two bytes after a bulk; neither do we.
            at = end + 2;
        }
        let frame = buf.split_to(at).freeze();
        Some(ranges.iter().map(|&(s, e)| frame.slice(s..e)).collect())
    }

    /// Where the `*` or `$` header line at the start of `buf` ends: the index of its `\r`, once
    /// one more byte (taken as the `\n`, unchecked, as Redis does) is there too. Nothing is
    /// consumed; the header is parsed in place.
    fn header_end(
        &mut self,
        buf: &BytesMut,
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&b| b == b'\r') {
            Some(i) if from + i + 2 <= buf.len() => {
                self.scanned = 0;
                Ok(Some(from + i))
            }
            Some(i) => {
                self.scanned = from + i;
                Ok(None)
            }
            None => {
                if buf.len() > MAX_INLINE {
                    return Err(too_big);
                }
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }

    /// Takes one `\n`-terminated line (without `\r\n`) off the buffer, remembering how much was
    /// searched when the newline is not there yet.
    fn take_line(
        &mut self,
        buf: &mut BytesMut,
        too_big: ProtocolError,
    ) -> Result<Option<BytesMut>, ProtocolError> {
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&b| b == b'\n' || b == 0) {
            // Redis looks for the newline with `strchr`, which stops at a NUL: a line with a
            // NUL before its newline never completes, and the client waits until the buffer
            // passes the inline limit (the scan stays on the NUL, so each look is one byte).
            Some(i) if buf[from + i] == 0 => {
                if buf.len() > MAX_INLINE {
                    return Err(too_big);
                }
                self.scanned = from + i;
                Ok(None)
            }
            Some(i) => {
                self.scanned = 0;
                let mut line = buf.split_to(from + i + 1);
                line.truncate(from + i);
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                Ok(Some(line))
            }
            None => {
                if buf.len() > MAX_INLINE {
                    return Err(too_big);
                }
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }
}

/// A count or length as Redis's `string2ll` reads it: an optional `-`, then digits without a
/// leading zero (a lone `0` aside), nothing else, within `i64`. So `+1`, `01`, `-0` and ` 1`
/// are refused, where Rust's `parse` would take some of them.
fn string2ll(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// C's `isspace`: Rust's `is_ascii_whitespace` leaves out the vertical tab.
fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline command line as Redis's `sdssplitargs` does: whitespace-separated words,
/// double quotes with C escapes (`\n`, `\xHH`, …), single quotes with `\'`.
pub fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    // `sdssplitargs` reads a C string: the line ends at its first NUL (a lone NUL is an empty
    // command; one inside quotes leaves them unbalanced).
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    cur.push(
                        hex_val(line[i + 2]).unwrap_or(0) * 16 + hex_val(line[i + 3]).unwrap_or(0),
                    );
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !c_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !c_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (cmds, err) =
            decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nSET a \"b c\\x41\"\r\n*0\r\n");
        assert!(err.is_none());
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2][2], Bytes::from("b cA"));
    }

    #[test]
    fn counts_are_read_as_string2ll_reads_them() {
        for ok in [&b"0"[..], b"1", b"-1", b"16384", b"9223372036854775807"] {
            let want: i64 = std::str::from_utf8(ok).unwrap().parse().unwrap();
            assert_eq!(string2ll(ok), Some(want), "{ok:?}");
        }
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1x",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    /// Feeding `input` in pieces of `step` bytes, decoding after each.
    fn decode_in_steps(input: &[u8], step: usize) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(a)) => out.push(a),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    /// The whole-command fast path and the incremental path agree on every input: whole
    /// buffers take the first, byte-by-byte feeding the second.
    #[test]
    fn fast_and_incremental_paths_agree() {
        let pieces: &[&[u8]] = &[
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"*3\r\n$3\r\nSET\r\n$2\r\na\r\r\n$4\r\n\r\n\r\n\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"PING\r\n",
            b"*1\r\n$4\r\nPINGxx",
            b"*+1\r\n$4\r\nPING\r\n",
            b"*1\r\n$04\r\nPING\r\n",
            b"*2\r\n$1\r\na\r\n:1\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$700000000\r\n",
            b"*1\rX$1\rXa\r\n",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..400 {
            let mut input = Vec::new();
            for _ in 0..1 + round % 6 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let whole = decode_all(&input);
            for step in [1, 2, 3, 7] {
                assert_eq!(
                    decode_in_steps(&input, step),
                    whole,
                    "step {step}: {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$10\r\n0123456789\r\n";
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(a) = d.decode(&mut buf).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("0123456789"));
        assert!(buf.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_all(b"*x\r\n").1,
            Some(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n$-5\r\n").1,
            Some(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n$600000000\r\n").1,
            Some(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n+x\r\n").1,
            Some(ProtocolError::ExpectedDollar(b'+'))
        );
        assert_eq!(
            decode_all(b"SET \"a\r\n").1,
            Some(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b'+').to_string(),
            "ERR Protocol error: expected '$', got '+'"
        );
    }
}

//! Argument parsing with Redis's rules and error texts.

use crate::error::{CmdResult, CommandError};
use bytes::Bytes;

/// Parses a signed 64-bit integer as Redis's `string2ll` does: optional `-`, digits, no
/// leading zeros, no `+`, no spaces.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' {
        (true, &b[1..])
    } else {
        (false, b)
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Parses a double as Redis's `getDoubleFromObject` does (`strtod` over the whole text: no
/// leading space, no trailing garbage, hex floats and `inf` accepted, NaN and overflow
/// refused); the one implementation is `zsets::num`.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    super::zsets::num::strict_f64(b)
}

/// An integer argument or `ERR value is not an integer or out of range`.
pub fn int_arg(b: &[u8]) -> CmdResult<i64> {
    parse_i64(b).ok_or(CommandError::NotInteger)
}

/// A float argument or `ERR value is not a valid float`.
pub fn float_arg(b: &[u8]) -> CmdResult<f64> {
    parse_f64(b).ok_or(CommandError::NotFloat)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A timeout in integer milliseconds (CLIENT PAUSE, WAIT, WAITAOF, XREAD … BLOCK), with
/// Redis's two errors.
pub fn timeout_ms_arg(arg: &[u8]) -> Result<u64, crate::error::CommandError> {
    use crate::error::CommandError;
    let ms = parse_i64(arg)
        .ok_or_else(|| CommandError::err("ERR timeout is not an integer or out of range"))?;
    u64::try_from(ms).map_err(|_| CommandError::err("ERR timeout is negative"))
}

/// An `ON`/`OFF` argument (CLIENT NO-EVICT, NO-TOUCH): anything else is a syntax error.
pub fn on_off(arg: &[u8]) -> Result<bool, crate::error::CommandError> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(crate::error::CommandError::Syntax)
    }
}

/// A cursor over a command's arguments for option parsing; `expect_end` rejects leftovers.
pub struct ArgCursor<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> ArgCursor<'a> {
    /// Starts after the first `skip` arguments (usually 1: the command name).
    pub fn new(args: &'a [Bytes], skip: usize) -> ArgCursor<'a> {
        ArgCursor { args, pos: skip }
    }

    pub fn peek(&self) -> Option<&'a Bytes> {
        self.args.get(self.pos)
    }

    // Not an `Iterator`: a cursor that also peeks, eats keywords and rejects leftovers.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos);
        if a.is_some() {
            self.pos += 1;
        }
        a
    }

    /// The next argument, or a syntax error if there is none.
    pub fn required(&mut self) -> CmdResult<&'a Bytes> {
        self.next().ok_or(CommandError::Syntax)
    }

    pub fn next_i64(&mut self) -> CmdResult<i64> {
        int_arg(self.required()?)
    }

    pub fn next_f64(&mut self) -> CmdResult<f64> {
        float_arg(self.required()?)
    }

    /// Consumes the next argument if it equals `word` (any case).
    pub fn eat(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(a) if is(a, word) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.pos)
    }

    pub fn rest(&self) -> &'a [Bytes] {
        &self.args[self.pos.min(self.args.len())..]
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.args.len()
    }

    pub fn expect_end(&self) -> CmdResult<()> {
        if self.is_done() {
            Ok(())
        } else {
            Err(CommandError::Syntax)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1x"), None);
    }
}

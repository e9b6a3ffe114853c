//! LCS: the longest common subsequence of two strings, its length, or the matching ranges.
//!
//! Invariant: answers as Redis 7.0 does, including which of several equally long subsequences
//! it reports: the table is walked back from the strings' ends, taking a match when the bytes
//! agree, else stepping in the string whose shorter prefix keeps the longer subsequence (the
//! second string on a tie). Ranges are reported from the end backwards.

use super::flags::*;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::Value;

pub const COMMANDS: &[Command] =
    &[Command::new("lcs", -3, READONLY, Group::String, lcs).keys(1, 2, 1)];

/// One matching range: `a[a0..=a1]` equals `b[b0..=b1]`.
struct Range {
    a: (usize, usize),
    b: (usize, usize),
}

fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    // The keys' types are checked before the options, as Redis does.
    let mut strings: [Bytes; 2] = [Bytes::new(), Bytes::new()];
    for (slot, key) in strings.iter_mut().zip(&args[1..3]) {
        match ctx.db(key)?.get(key) {
            None => {}
            Some(Value::Str(s)) => *slot = s.to_bytes(),
            Some(_) => {
                return Err(CommandError::err(
                    "ERR The specified keys must contain string values",
                ))
            }
        }
    }
    let (mut want_len, mut want_idx, mut with_len, mut min_len) = (false, false, false, 0u64);
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        if is(a, "IDX") {
            want_idx = true;
        } else if is(a, "LEN") {
            want_len = true;
        } else if is(a, "WITHMATCHLEN") {
            with_len = true;
        } else if is(a, "MINMATCHLEN") && i + 1 < args.len() {
            i += 1;
            let n = parse_i64(&args[i]).ok_or(CommandError::NotInteger)?;
            min_len = n.max(0) as u64;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CommandError::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let [a, b] = strings;
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.server.config().proto_max_bulk_len.max(0) as u64 {
        return Err(CommandError::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = Table::build(&a, &b);
    let total = table.at(a.len(), b.len());
    if want_len {
        return Ok(Reply::Int(total as i64));
    }
    let (common, ranges) = table.walk_back(&a, &b, total as usize, want_idx);
    if !want_idx {
        return Ok(Reply::Bulk(Bytes::from(common)));
    }
    let pair =
        |(lo, hi): (usize, usize)| Reply::Array(vec![Reply::Int(lo as i64), Reply::Int(hi as i64)]);
    let matches = ranges
        .into_iter()
        .filter(|r| min_len == 0 || (r.a.1 - r.a.0 + 1) as u64 >= min_len)
        .map(|r| {
            let n = r.a.1 - r.a.0 + 1;
            let mut m = vec![pair(r.a), pair(r.b)];
            if with_len {
                m.push(Reply::Int(n as i64));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk_str("matches"), Reply::Array(matches)),
        (Reply::bulk_str("len"), Reply::Int(total as i64)),
    ]))
}

/// `at(i, j)`: the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cols: usize,
    cells: Vec<u32>,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Table {
        let cols = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * cols];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * cols + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * cols + j - 1] + 1
                } else {
                    cells[(i - 1) * cols + j].max(cells[i * cols + j - 1])
                };
            }
        }
        Table { cols, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.cols + j]
    }

    /// The subsequence itself and, if asked, its runs of consecutive matches.
    fn walk_back(&self, a: &[u8], b: &[u8], total: usize, ranges: bool) -> (Vec<u8>, Vec<Range>) {
        let mut common = vec![0u8; total];
        let mut out = Vec::new();
        let mut run: Option<Range> = None;
        let (mut i, mut j, mut k) = (a.len(), b.len(), total);
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                k -= 1;
                common[k] = a[i - 1];
                i -= 1;
                j -= 1;
                if ranges {
                    // A match right after a match always extends the run backwards.
                    match run.as_mut() {
                        Some(r) => {
                            r.a.0 = i;
                            r.b.0 = j;
                        }
                        None => {
                            run = Some(Range {
                                a: (i, i),
                                b: (j, j),
                            })
                        }
                    }
                    if i == 0 || j == 0 {
                        out.extend(run.take());
                    }
                }
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                out.extend(run.take());
            }
        }
        (common, out)
    }
}

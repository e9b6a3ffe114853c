//! A parsed RESP2/RESP3 reply, for tests that compare a reply's structure while masking some
//! of its values.
#![allow(dead_code)]

/// A parsed reply: enough of RESP2 and RESP3 for the tests that use it.
#[derive(Debug, PartialEq, Clone)]
pub enum V {
    Int(i64),
    Str(String),
    Arr(Vec<V>),
    Map(Vec<(V, V)>),
    Err(String),
    Other(String),
}

pub fn parse(b: &[u8]) -> (V, usize) {
    let end = b.windows(2).position(|w| w == b"\r\n").expect("line");
    let head = std::str::from_utf8(&b[1..end]).expect("utf8");
    let after = end + 2;
    match b[0] {
        b':' => (V::Int(head.parse().expect("int")), after),
        b'$' | b'=' => {
            let n: usize = head.parse().expect("len");
            let body = &b[after..after + n];
            // A verbatim string starts with its format and a colon.
            let body = if b[0] == b'=' { &body[4..] } else { body };
            (
                V::Str(String::from_utf8_lossy(body).into_owned()),
                after + n + 2,
            )
        }
        b'*' | b'%' => {
            let n: usize = head.parse().expect("len");
            let count = if b[0] == b'%' { 2 * n } else { n };
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..count {
                let (v, used) = parse(&b[pos..]);
                items.push(v);
                pos += used;
            }
            if b[0] == b'%' {
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                (V::Map(pairs), pos)
            } else {
                (V::Arr(items), pos)
            }
        }
        b'-' => (V::Err(head.to_string()), after),
        _ => (V::Other(head.to_string()), after),
    }
}

pub fn value(b: &[u8]) -> V {
    parse(b).0
}

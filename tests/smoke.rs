//! End-to-end basics against the real binary: exact reply bytes for core commands.
mod common;

#[test]
fn ping_set_get_exact_bytes() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "foo"]), b"$3\r\nbar\r\n");
    assert_eq!(c.cmd(&["GET", "nope"]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&["get"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["nosuch", "a", "b"]),
        b"-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n"
    );
}

#[test]
fn pipeline_keeps_order_across_shards() {
    let s = common::luagate_shards(4);
    let mut c = s.raw();
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(common::encode_cmd(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("v{i}").as_bytes(),
        ]));
        batch.extend(common::encode_cmd(&[b"GET", format!("k{i}").as_bytes()]));
    }
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
        let v = format!("v{i}");
        assert_eq!(
            c.read_reply().unwrap(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

#[test]
fn protocol_errors_close_the_connection() {
    let s = common::luagate_shards(2);
    let mut c = s.raw();
    c.send(b"*1\r\n$-5\r\n");
    assert_eq!(
        c.read_reply().unwrap(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(c.is_closed());
    let mut c = s.raw();
    c.send(b"SET \"a b\r\n");
    assert_eq!(
        c.read_reply().unwrap(),
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(c.is_closed());
    // The server is still fine for others.
    assert_eq!(s.raw().cmd(&["PING"]), b"+PONG\r\n");
}

/// Counts and lengths are read as Redis's `string2ll` reads them and a header line ends at its
/// `\r`: each malformed request gets the same bytes from both servers, then the same close (or,
/// for the well-formed ones, the same PONG).
#[test]
fn malformed_headers_answer_as_redis() {
    let d = common::Diff::new();
    let cases: &[&[u8]] = &[
        b"*+1\r\n$4\r\nPING\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*-0\r\n*1\r\n$4\r\nPING\r\n",
        b"* 1\r\n$4\r\nPING\r\n",
        b"*1 \r\n$4\r\nPING\r\n",
        b"*1\n$4\nPING\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*1\r\n$-0\r\nPING\r\n",
        b"*1\r\n$4x\r\nPING\r\n",
        b"*1\r\n+4\r\nPING\r\n",
        b"*99999999999999999999\r\n",
        b"*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n",
        b"*1\rX$4\rXPING\r\n",
    ];
    for case in cases {
        let (mut a, mut b, x) = same_replies(&d, case, 1);
        if x.as_deref().is_some_and(|r| r.starts_with(b"-")) {
            assert!(a.is_closed() && b.is_closed(), "{case:?}");
        }
    }
}

/// Sends `case` to both servers on fresh connections and checks that their first `n` replies
/// are the same bytes; returns both connections and the last reply.
fn same_replies(
    d: &common::Diff,
    case: &[u8],
    n: usize,
) -> (common::Raw, common::Raw, Option<Vec<u8>>) {
    let mut a = d.lg.raw();
    let mut b = d.reference.raw();
    a.send(case);
    b.send(case);
    let mut last = None;
    for _ in 0..n {
        let (x, y) = (a.read_reply(), b.read_reply());
        assert_eq!(
            x.as_deref().map(String::from_utf8_lossy),
            y.as_deref().map(String::from_utf8_lossy),
            "luagate (left) and redis-server (right) differ on {:?}",
            String::from_utf8_lossy(case)
        );
        last = x;
    }
    (a, b, last)
}

/// Inline commands are read as Redis reads them. A NUL before the newline hides it (Redis
/// finds the newline with `strchr`): the request never completes, nothing is answered, and the
/// connection ends with the too-big-inline error once 64 KB are pending. luagate used to split
/// such a line forever, growing without bound. C's `isspace` (vertical tab and form feed
/// included) separates words. Every case ends with a PING, so a skipped line still gets a
/// reply to compare.
#[test]
fn inline_nul_and_blanks_answer_as_redis() {
    let d = common::Diff::new();
    let stuck: &[&[u8]] = &[
        b"\x00\r\nPING\r\n",
        b"PING\x00junk\r\nPING\r\n",
        b"ECHO a\x00b\r\nPING\r\n",
        b"ECHO \"a\x00b\"\r\nPING\r\n",
    ];
    for case in stuck {
        let mut a = d.lg.raw();
        let mut b = d.reference.raw();
        for c in [&mut a, &mut b] {
            c.send(case);
            c.stream
                .set_read_timeout(Some(std::time::Duration::from_millis(300)))
                .ok();
        }
        assert_eq!(a.read_reply(), None, "luagate answered {case:?}");
        assert_eq!(b.read_reply(), None, "redis-server answered {case:?}");
        let filler = vec![b'x'; 70_000];
        for c in [&mut a, &mut b] {
            c.stream
                .set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .ok();
            // The server may close as soon as the limit is passed: a failed write is fine.
            let _ = std::io::Write::write_all(&mut c.stream, &filler);
        }
        let (x, y) = (a.read_reply(), b.read_reply());
        assert_eq!(x, y, "{case:?}");
        assert_eq!(
            x.as_deref(),
            Some(&b"-ERR Protocol error: too big inline request\r\n"[..]),
            "{case:?}"
        );
        assert!(a.is_closed() && b.is_closed(), "{case:?}");
    }
    let blanks: &[&[u8]] = &[
        b"\x0bPING\r\nPING\r\n",
        b"\x0cECHO x\x0c\r\nPING\r\n",
        b"ECHO \"a\"\x0b\r\nPING\r\n",
        b"ECHO a\x0bb \x0c c\r\nPING\r\n",
    ];
    for case in blanks {
        same_replies(&d, case, 2);
    }
}

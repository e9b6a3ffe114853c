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

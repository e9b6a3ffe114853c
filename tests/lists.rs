//! List commands, compared byte for byte with the reference redis-server (luagate runs with 4
//! shards, so two-key commands cross shards).
mod common;

use common::Diff;

/// Runs every command in order on both servers, in RESP2 and then again in RESP3.
fn both_protocols(d: &mut Diff, setup: &[&[&str]], cmds: &[&[&str]]) {
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        d.check(&["DEL", "l", "m", "p", "q", "s", "nokey"]);
        d.check_all(setup);
        d.check_all(cmds);
    }
}

#[test]
fn push_len_and_wrong_types() {
    let mut d = Diff::new();
    d.check_all(&[
        &["LPUSH", "l", "a", "b", "c"],
        &["RPUSH", "l", "d", "e"],
        &["LRANGE", "l", "0", "-1"],
        &["LLEN", "l"],
        &["LLEN", "nokey"],
        &["LPUSHX", "nokey", "a"],
        &["RPUSHX", "nokey", "a", "b"],
        &["EXISTS", "nokey"],
        &["LPUSHX", "l", "x", "y"],
        &["RPUSHX", "l", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["SET", "s", "str"],
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "l", "s"],
        &["LMPOP", "1", "s", "LEFT"],
        &["LRANGE", "l", "0", "-1"],
        &["LPUSH", "l"],
        &["LPUSHX", "l"],
        &["LLEN"],
        &["LLEN", "a", "b"],
    ]);
}

#[test]
fn pops_with_and_without_count() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        &[
            &["RPUSH", "l", "a", "b", "c", "d", "e", "f"],
            &["SET", "s", "x"],
        ],
        &[
            &["LPOP", "l"],
            &["RPOP", "l"],
            &["LPOP", "l", "0"],
            &["LPOP", "l", "2"],
            &["RPOP", "l", "1"],
            &["LPOP", "nokey"],
            &["LPOP", "nokey", "0"],
            &["LPOP", "nokey", "3"],
            &["RPOP", "nokey", "3"],
            &["LPOP", "l", "-1"],
            &["LPOP", "l", "abc"],
            &["LPOP", "nokey", "-1"],
            &["LPOP", "s", "-1"],
            &["LPOP", "s", "0"],
            &["LPOP", "l", "1", "2"],
            &["RPOP", "l", "9223372036854775807"],
            &["EXISTS", "l"],
            &["RPOP", "l"],
            &["RPUSH", "m", "1"],
            &["RPOP", "m"],
            &["EXISTS", "m"],
        ],
    );
}

#[test]
fn lrange_and_lindex_edges() {
    let mut d = Diff::new();
    d.check(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
    for (a, b) in [
        ("0", "-1"),
        ("0", "0"),
        ("-1", "-1"),
        ("-100", "100"),
        ("2", "1"),
        ("5", "10"),
        ("4", "4"),
        ("-3", "-2"),
        ("-9223372036854775808", "9223372036854775807"),
        ("9223372036854775807", "-9223372036854775808"),
        ("1", "-6"),
        ("x", "1"),
        ("1", "x"),
        ("01", "2"),
    ] {
        d.check(&["LRANGE", "l", a, b]);
        d.check(&["LRANGE", "nokey", a, b]);
    }
    for i in [
        "0",
        "4",
        "5",
        "-1",
        "-5",
        "-6",
        "x",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        d.check(&["LINDEX", "l", i]);
        d.check(&["LINDEX", "nokey", i]);
    }
}

#[test]
fn lset_linsert_lrem() {
    let mut d = Diff::new();
    d.check_all(&[
        &["RPUSH", "l", "a", "b", "a", "c", "a", "b"],
        &["SET", "s", "x"],
        &["LSET", "l", "0", "A"],
        &["LSET", "l", "-1", "B"],
        &["LSET", "l", "6", "z"],
        &["LSET", "l", "-7", "z"],
        &["LSET", "l", "x", "z"],
        &["LSET", "nokey", "0", "z"],
        &["LSET", "nokey", "x", "z"],
        &["LSET", "s", "x", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["LINSERT", "l", "BEFORE", "a", "X"],
        &["LINSERT", "l", "after", "c", "Y"],
        &["LINSERT", "l", "AFTER", "B", "end"],
        &["LINSERT", "l", "BEFORE", "nope", "X"],
        &["LINSERT", "l", "middle", "a", "X"],
        &["LINSERT", "nokey", "BEFORE", "a", "X"],
        &["LINSERT", "nokey", "middle", "a", "X"],
        &["LINSERT", "s", "middle", "a", "X"],
        &["LRANGE", "l", "0", "-1"],
        &["RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"],
        &["LREM", "r", "2", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "-1", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "0", "b"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "x", "b"],
        &["LREM", "nokey", "x", "b"],
        &["LREM", "nokey", "1", "b"],
        &["LREM", "r", "0", "nope"],
        &["LREM", "r", "-9223372036854775808", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "0", "c"],
        &["EXISTS", "r"],
    ]);
}

#[test]
fn ltrim_edges() {
    let mut d = Diff::new();
    for (a, b) in [
        ("0", "-1"),
        ("1", "-2"),
        ("2", "1"),
        ("-2", "-1"),
        ("0", "0"),
        ("10", "20"),
        ("-100", "2"),
        ("3", "100"),
    ] {
        d.check(&["DEL", "l"]);
        d.check(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
        d.check(&["LTRIM", "l", a, b]);
        d.check(&["LRANGE", "l", "0", "-1"]);
        d.check(&["EXISTS", "l"]);
    }
    d.check(&["LTRIM", "nokey", "0", "1"]);
    d.check(&["LTRIM", "nokey", "x", "1"]);
    d.check(&["LTRIM", "l", "0", "x"]);
    d.check(&["SET", "s", "x"]);
    d.check(&["LTRIM", "s", "0", "1"]);
}

#[test]
fn lpos_options_and_errors() {
    let mut d = Diff::new();
    d.check(&["RPUSH", "p", "a", "b", "c", "a", "b", "c", "a"]);
    d.check(&["SET", "s", "x"]);
    let cases: &[&[&str]] = &[
        &["LPOS", "p", "a"],
        &["LPOS", "p", "c"],
        &["LPOS", "p", "z"],
        &["LPOS", "p", "a", "RANK", "2"],
        &["LPOS", "p", "a", "RANK", "3"],
        &["LPOS", "p", "a", "RANK", "4"],
        &["LPOS", "p", "a", "RANK", "-1"],
        &["LPOS", "p", "a", "RANK", "-3"],
        &["LPOS", "p", "a", "RANK", "0"],
        &["LPOS", "p", "a", "RANK", "x"],
        &["LPOS", "p", "a", "RANK", "-9223372036854775808"],
        &["LPOS", "p", "a", "RANK", "9223372036854775807"],
        &["LPOS", "p", "a", "COUNT", "0"],
        &["LPOS", "p", "a", "COUNT", "2"],
        &["LPOS", "p", "a", "COUNT", "0", "RANK", "-1"],
        &["LPOS", "p", "a", "COUNT", "0", "RANK", "2"],
        &["LPOS", "p", "a", "COUNT", "-1"],
        &["LPOS", "p", "z", "COUNT", "2"],
        &["LPOS", "p", "a", "MAXLEN", "3"],
        &["LPOS", "p", "a", "MAXLEN", "-1"],
        &["LPOS", "p", "a", "COUNT", "0", "MAXLEN", "4"],
        &["LPOS", "p", "a", "COUNT", "0", "MAXLEN", "1", "RANK", "-1"],
        &["LPOS", "p", "b", "RANK", "2", "MAXLEN", "4"],
        &["LPOS", "p", "a", "rank", "1", "rank", "2"],
        &["LPOS", "p", "a", "foo"],
        &["LPOS", "p", "a", "foo", "1"],
        &["LPOS", "p", "a", "RANK"],
        &["LPOS", "p", "a", "COUNT"],
        &["LPOS", "p", "a", "RANK", "0", "COUNT", "-1"],
        &["LPOS", "p", "a", "COUNT", "-1", "RANK", "0"],
        &["LPOS", "nokey", "a"],
        &["LPOS", "nokey", "a", "COUNT", "0"],
        &["LPOS", "nokey", "a", "RANK", "0"],
        &["LPOS", "s", "a"],
        &["LPOS", "s", "a", "RANK", "0"],
        &["LPOS", "p"],
    ];
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        d.check_all(cases);
    }
}

#[test]
fn lmove_and_rpoplpush() {
    let mut d = Diff::new();
    d.check_all(&[
        &["RPUSH", "src", "1", "2", "3", "4"],
        &["SET", "s", "x"],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "right", "left"],
        &["LMOVE", "src", "dst", "LEFT", "LEFT"],
        &["LRANGE", "src", "0", "-1"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "src", "dst", "RIGHT", "RIGHT"],
        &["EXISTS", "src"],
        &["LMOVE", "src", "dst", "RIGHT", "RIGHT"],
        &["LMOVE", "dst", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "dst", "dst", "RIGHT", "LEFT"],
        &["LMOVE", "dst", "dst", "LEFT", "LEFT"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "dst", "src", "UP", "LEFT"],
        &["LMOVE", "dst", "src", "LEFT", "DOWN"],
        &["LMOVE", "nokey", "src", "UP", "LEFT"],
        &["LMOVE", "nokey", "s", "LEFT", "LEFT"],
        &["LMOVE", "dst", "s", "LEFT", "LEFT"],
        &["LMOVE", "s", "dst", "LEFT", "LEFT"],
        &["LRANGE", "dst", "0", "-1"],
        &["RPOPLPUSH", "dst", "other"],
        &["RPOPLPUSH", "dst", "dst"],
        &["RPOPLPUSH", "nokey", "dst"],
        &["RPOPLPUSH", "dst", "s"],
        &["RPOPLPUSH", "s", "dst"],
        &["LRANGE", "dst", "0", "-1"],
        &["LRANGE", "other", "0", "-1"],
        &["RPUSH", "one", "x"],
        &["LMOVE", "one", "one", "LEFT", "RIGHT"],
        &["LMOVE", "one", "two", "LEFT", "RIGHT"],
        &["EXISTS", "one"],
        &["LRANGE", "two", "0", "-1"],
    ]);
}

#[test]
fn lmpop_arguments_and_replies() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        &[
            &["RPUSH", "p", "a", "b", "c", "d", "e"],
            &["RPUSH", "q", "1", "2"],
            &["SET", "s", "x"],
        ],
        &[
            &["LMPOP", "1", "p", "LEFT"],
            &["LMPOP", "1", "p", "RIGHT", "COUNT", "2"],
            &["LMPOP", "2", "nokey", "q", "left", "count", "10"],
            &["EXISTS", "q"],
            &["LMPOP", "2", "nokey", "q", "LEFT"],
            &["LMPOP", "0", "p", "LEFT"],
            &["LMPOP", "-1", "p", "LEFT"],
            &["LMPOP", "x", "p", "LEFT"],
            &["LMPOP", "2", "p", "LEFT"],
            &["LMPOP", "3", "p", "LEFT"],
            &["LMPOP", "99999999999", "p", "LEFT"],
            &["LMPOP", "1", "p", "MIDDLE"],
            &["LMPOP", "1", "p", "LEFT", "COUNT", "0"],
            &["LMPOP", "1", "p", "LEFT", "COUNT", "-1"],
            &["LMPOP", "1", "p", "LEFT", "COUNT", "x"],
            &["LMPOP", "1", "p", "LEFT", "COUNT"],
            &["LMPOP", "1", "p", "LEFT", "COUNT", "1", "COUNT", "1"],
            &["LMPOP", "1", "p", "LEFT", "FOO"],
            &["LMPOP", "1", "s", "LEFT"],
            &["LMPOP", "2", "nokey", "s", "LEFT"],
            &["LMPOP", "2", "p", "s", "LEFT"],
            &["LMPOP", "1", "nokey", "LEFT"],
            &["LMPOP", "1", "p"],
            &["LMPOP", "1", "p", "LEFT", "COUNT", "100"],
            &["EXISTS", "p"],
        ],
    );
}

/// Blocking commands that can serve at once, or whose arguments are wrong, answer like their
/// non-blocking forms (and like Redis) without waiting.
#[test]
fn blocking_forms_that_do_not_wait() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        &[
            &["RPUSH", "p", "a", "b", "c", "d", "e", "f", "g", "h"],
            &["RPUSH", "q", "1", "2", "3"],
            &["SET", "s", "x"],
        ],
        &[
            &["BLPOP", "p", "0"],
            &["BRPOP", "nokey", "p", "0"],
            &["BLPOP", "nokey", "q", "1.5"],
            &["BLPOP", "p", "-1"],
            &["BLPOP", "p", "x"],
            &["BLPOP", "p", "inf"],
            &["BLPOP", "p", "-inf"],
            &["BLPOP", "p", "nan"],
            &["BLPOP", "p", "1e100"],
            &["BLPOP", "p", "9223372036854776"],
            &["BLPOP", "p", ""],
            &["BLPOP", "p", " 1"],
            &["BLPOP", "p", "1 "],
            &["BLPOP", "s", "0"],
            &["BLPOP", "nokey", "s", "0"],
            &["BLPOP", "s", "-1"],
            &["BLPOP", "p"],
            &["BLMOVE", "p", "q", "LEFT", "RIGHT", "0"],
            &["BLMOVE", "p", "q", "MIDDLE", "RIGHT", "-1"],
            &["BLMOVE", "p", "q", "LEFT", "MIDDLE", "x"],
            &["BLMOVE", "p", "q", "LEFT", "LEFT", "x"],
            &["BLMOVE", "p", "q", "LEFT", "LEFT", "-1"],
            &["BLMOVE", "p", "s", "LEFT", "LEFT", "0"],
            &["BLMOVE", "s", "q", "LEFT", "LEFT", "0"],
            &["BLMOVE", "q", "q", "LEFT", "RIGHT", "0"],
            &["BRPOPLPUSH", "p", "q", "0"],
            &["BRPOPLPUSH", "p", "q", "x"],
            &["BRPOPLPUSH", "p", "s", "0"],
            &["BRPOPLPUSH", "s", "q", "0"],
            &["LRANGE", "q", "0", "-1"],
            &["BLMPOP", "0", "2", "nokey", "q", "LEFT", "COUNT", "2"],
            &["BLMPOP", "0", "1", "q", "RIGHT"],
            &["BLMPOP", "x", "1", "q", "RIGHT"],
            &["BLMPOP", "-1", "1", "q", "RIGHT"],
            &["BLMPOP", "x", "0", "q", "RIGHT"],
            &["BLMPOP", "0", "0", "q", "RIGHT"],
            &["BLMPOP", "0", "1", "q", "MIDDLE"],
            &["BLMPOP", "0", "5", "q", "RIGHT"],
            &["BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "0"],
            &["BLMPOP", "0", "1", "q", "RIGHT", "COUNT"],
            &["BLMPOP", "0", "1", "s", "RIGHT"],
            &["BLMPOP", "0", "1"],
            &["LRANGE", "p", "0", "-1"],
            &["LRANGE", "q", "0", "-1"],
        ],
    );
}

/// Inside MULTI the blocking forms never wait: they answer their timeout reply at once.
#[test]
fn blocking_forms_inside_multi() {
    let mut d = Diff::new();
    for resp in ["2", "3"] {
        d.both(&["HELLO", resp]);
        d.check_all(&[
            &["DEL", "p", "d"],
            &["RPUSH", "p", "a"],
            &["MULTI"],
            &["BLPOP", "nokey", "0"],
            &["BRPOP", "nokey", "p", "0"],
            &["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0"],
            &["BRPOPLPUSH", "nokey", "d", "0"],
            &["BLMPOP", "0", "1", "nokey", "LEFT"],
            &["EXEC"],
        ]);
    }
}

#[test]
fn list_commands_in_command_info() {
    let mut d = Diff::new();
    for c in [
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "llen",
        "lrange",
        "lindex",
        "lset",
        "linsert",
        "lrem",
        "ltrim",
        "lpos",
        "lmove",
        "rpoplpush",
        "lmpop",
        "blpop",
        "brpop",
        "blmove",
        "brpoplpush",
        "blmpop",
    ] {
        let (a, b) = d.both(&["COMMAND", "INFO", c]);
        // Name, arity and flags (the first four elements) must agree.
        let head = |r: &[u8]| {
            let outer = common::array_items(r).expect("array");
            let inner = common::array_items(&outer[0]).expect("entry");
            inner[..3].concat()
        };
        assert_eq!(
            String::from_utf8_lossy(&head(&a)),
            String::from_utf8_lossy(&head(&b)),
            "COMMAND INFO {c}"
        );
    }
}

//! SORT and SORT_RO against redis-server, byte for byte: numeric and ALPHA order, LIMIT
//! edges, BY and GET patterns (strings and hash fields, on keys spread over luagate's
//! shards), BY without a star, STORE (the stored list and the emptied target), scores C's
//! strtod accepts or refuses, errors, and SORT from scripts.

mod common;
use common::*;

#[test]
fn sort_answers_as_redis() {
    let mut d = Diff::new();
    d.check_lines(
        "
        RPUSH nums 3 10 1 -2 2.5 10 0x10 1e3
        SORT nums
        SORT nums DESC
        SORT nums LIMIT 1 3
        SORT nums LIMIT -5 2
        SORT nums LIMIT 2 -1
        SORT nums LIMIT 7 10
        SORT nums LIMIT 8 1
        SORT nums LIMIT 100 1
        SORT nums LIMIT 0 0
        SORT nums LIMIT x 1
        SORT nums LIMIT 1
        SORT nums ALPHA
        SORT nums ALPHA DESC LIMIT 0 3
        SORT nums ASC DESC
        SORT nums BOGUS
        SORT_RO nums DESC
        SORT_RO nums STORE dst
        RPUSH words banana apple Cherry apple2 10
        SORT words
        SORT words ALPHA
        SORT words ALPHA STORE sorted
        LRANGE sorted 0 -1
        SORT nokey
        SORT nokey STORE sorted
        EXISTS sorted
        SET str x
        SORT str
        SORT str LIMIT x 1
        HSET h a 1
        SORT h
        # Weights and objects on other keys (other shards, for luagate).
        RPUSH ids 1 2 3 4 5
        MSET w_1 50 w_2 -3 w_3 50 w_5 abc name_1 one name_2 two name_3 three
        HSET obj_1 f 9 g x
        HSET obj_2 f 1
        HSET obj_4 f 5
        SORT ids BY w_*
        SORT ids BY w_* LIMIT 0 2
        SORT ids BY w_* ALPHA
        SORT ids BY w_* ALPHA DESC
        SORT ids BY obj_*->f
        SORT ids BY obj_*->f DESC GET # GET name_* GET obj_*->g
        SORT ids BY obj_*-> GET obj_*->
        SORT ids BY nosort
        SORT ids BY nosort DESC LIMIT 1 2
        SORT ids BY nosort GET name_*
        SORT ids GET name_* GET nokey
        SORT ids BY w_* GET name_* STORE out
        LRANGE out 0 -1
        SORT ids BY obj_*->f GET obj_*->g STORE out
        LRANGE out 0 -1
        SORT ids LIMIT 10 5 STORE out
        EXISTS out
        # Sorted sets and sets.
        ZADD z 3 c 1 a 2 b 5 10 4 9
        SORT z
        SORT z ALPHA
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 2
        SORT z BY nosort DESC LIMIT 1 2
        SORT z BY nosort STORE out
        LRANGE out 0 -1
        SADD s 5 3 9 1
        SORT s
        SORT s BY nosort STORE out
        LRANGE out 0 -1
        SADD sw pear fig kiwi
        SORT sw ALPHA
        SORT sw BY nosort ALPHA STORE out
        LRANGE out 0 -1
        # Scores as strtod reads them.
        RPUSH odd 1 2
        SORT odd BY sc_*
        MSET sc_1 3 sc_2 x
        SORT odd BY sc_*
        MSET sc_2 inf
        SORT odd BY sc_*
        MSET sc_2 nan
        SORT odd BY sc_*
        MSET sc_2 -inf
        SORT odd BY sc_*
        RPUSH blanks 5 2
        ",
    );
    // Values with spaces cannot go through `check_lines`.
    d.check(&["MSET", "sc_5", " 2", "sc_2", ""]);
    d.check(&["SORT", "blanks", "BY", "sc_*"]);
    d.check(&["MSET", "sc_5", "2 ", "sc_2", "1"]);
    d.check(&["SORT", "blanks", "BY", "sc_*"]);
    d.check(&["MSET", "sc_5", "0x1p3", "sc_2", "1"]);
    d.check(&["SORT", "blanks", "BY", "sc_*"]);
    // Out of range is refused. Last: Redis tests a stale errno, so after an ERANGE it refuses
    // every numeric SORT on that connection until some call resets errno.
    d.check(&["MSET", "sc_5", "1e400"]);
    d.check(&["SORT", "blanks", "BY", "sc_*"]);
    d.check(&["MSET", "sc_5", "1e-400"]);
    d.check(&["SORT", "blanks", "BY", "sc_*"]);
}

#[test]
fn sort_in_scripts_reads_patterns_on_every_shard() {
    let mut d = Diff::new();
    d.check_lines(
        "
        RPUSH ids 1 2 3 4
        MSET w_1 4 w_2 3 w_3 2 w_4 1 n_1 a n_2 b n_3 c n_4 d
        SADD s c a b
        ",
    );
    d.check(&[
        "EVAL",
        "return redis.call('SORT', KEYS[1], 'BY', 'w_*', 'GET', 'n_*')",
        "1",
        "ids",
    ]);
    d.check(&[
        "EVAL",
        "return redis.call('SORT', KEYS[1], 'BY', 'nosort')",
        "1",
        "s",
    ]);
    d.check(&[
        "EVAL",
        "return redis.call('SORT', KEYS[1], 'BY', 'w_*', 'STORE', KEYS[2])",
        "2",
        "ids",
        "dst",
    ]);
    d.check(&["LRANGE", "dst", "0", "-1"]);
    d.check(&[
        "EVAL_RO",
        "return redis.call('SORT_RO', KEYS[1], 'BY', 'w_*', 'DESC')",
        "1",
        "ids",
    ]);
}

#[test]
fn sort_store_reaches_followers_as_the_stored_list() {
    let leader = luagate(&["--shards", "3"]);
    let follower = luagate(&["--shards", "2", "--replicaof", &leader.addr()]);
    let (mut l, mut f) = (leader.raw(), follower.raw());
    l.cmd(&["RPUSH", "ids", "1", "2", "3"]);
    l.cmd(&["MSET", "w_1", "3", "w_2", "1", "w_3", "2", "n_1", "a"]);
    assert_eq!(
        l.cmd(&["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "n_*", "STORE", "out"]),
        b":6\r\n"
    );
    l.cmd(&["SET", "done", "1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while f.cmd(&["GET", "done"]) != b"$1\r\n1\r\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "the follower never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let want = l.cmd(&["LRANGE", "out", "0", "-1"]);
    assert_eq!(
        String::from_utf8_lossy(&want),
        "*6\r\n$1\r\n2\r\n$0\r\n\r\n$1\r\n3\r\n$0\r\n\r\n$1\r\n1\r\n$1\r\na\r\n"
    );
    assert_eq!(f.cmd(&["LRANGE", "out", "0", "-1"]), want);
}

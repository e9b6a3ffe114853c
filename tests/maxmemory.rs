//! `maxmemory` with `noeviction`: writes that need memory get Redis's -OOM error, against a
//! reference redis-server configured the same way (a 1-byte limit keeps both always over it).
mod common;

#[test]
fn over_maxmemory_writes_and_scripts_get_oom_like_redis() {
    let mut d = common::Diff::with_flags(
        &["--shards", "4", "--maxmemory", "1"],
        &["--maxmemory", "1"],
    );
    d.check_all(&[
        &["SET", "a", "b"],
        &["INCR", "n"],
        &["LPUSH", "l", "x"],
        &["GET", "a"],
        &["DEL", "a"],
        &["EXISTS", "a"],
        // Unflagged scripts fail at their first write that needs memory; reads run.
        &["EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "a"],
        &["EVAL", "return redis.pcall('SET', KEYS[1], 'v')", "1", "a"],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "a"],
        &["EVAL", "redis.call('DEL', KEYS[1]) return 1", "1", "a"],
        // Flagged scripts: refused up front unless no-writes or allow-oom.
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        &[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('SET', KEYS[1], 'v')",
            "1",
            "a",
        ],
        &["GET", "a"],
        &["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "a"],
        // In a transaction the refused command aborts EXEC.
        &["MULTI"],
        &["SET", "b", "c"],
        &["GET", "b"],
        &["EXEC"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["SET", "a", "b"],
        &["EVAL", "#!lua\nreturn redis.call('GET', KEYS[1])", "1", "a"],
    ]);
}

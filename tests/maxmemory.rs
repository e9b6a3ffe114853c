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

fn used_memory(c: &mut common::Raw) -> u64 {
    let info = c.cmd_str(&["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

fn stat(c: &mut common::Raw, field: &str) -> u64 {
    let info = c.cmd_str(&["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO stats"))
}

fn dbsize(c: &mut common::Raw) -> u64 {
    let r = c.cmd_str(&["DBSIZE"]);
    r.trim().trim_start_matches(':').parse().expect("DBSIZE")
}

/// `allkeys-lru`: writes past the limit succeed because older keys go; memory stays near the
/// limit, INFO counts the evictions, and a follower drops the same keys (the evictions are DEL
/// effects).
#[test]
fn allkeys_lru_evicts_instead_of_refusing_and_followers_agree() {
    let leader = common::luagate(&["--shards", "2"]);
    let follower = common::luagate(&["--shards", "3", "--replicaof", &leader.addr()]);
    let (mut l, mut f) = (leader.raw(), follower.raw());
    let limit = used_memory(&mut l) + 4 * 1024 * 1024;
    assert_eq!(
        l.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]),
        b"+OK\r\n"
    );
    assert_eq!(
        l.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        b"+OK\r\n"
    );
    let value = "v".repeat(1000);
    for i in 0..20_000 {
        assert_eq!(l.cmd(&["SET", &format!("key:{i}"), &value]), b"+OK\r\n");
    }
    let keys = dbsize(&mut l);
    assert!(keys < 20_000 && keys > 1_000, "{keys} keys left");
    assert_eq!(stat(&mut l, "evicted_keys"), 20_000 - keys);
    // The allocator is exact to 64 KiB per thread.
    assert!(used_memory(&mut l) < limit + 1024 * 1024);
    // Scripts that write make room too.
    assert_eq!(
        l.cmd(&[
            "EVAL",
            "return redis.call('SET', KEYS[1], ARGV[1])",
            "1",
            "s",
            &value
        ]),
        b"+OK\r\n"
    );
    common::wait_synced(&mut l, &mut f);
    assert_eq!(dbsize(&mut f), dbsize(&mut l));
}

/// `volatile-*`: only keys with an expiry go; once none is left, writes get -OOM again.
#[test]
fn volatile_policies_evict_only_keys_with_an_expiry() {
    for policy in ["volatile-ttl", "volatile-lru", "volatile-random"] {
        let p = common::luagate(&["--shards", "2"]);
        let mut c = p.raw();
        let value = "v".repeat(1000);
        for i in 0..1000 {
            c.cmd(&["SET", &format!("keep:{i}"), &value]);
        }
        let limit = used_memory(&mut c) + 2 * 1024 * 1024;
        c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]);
        for i in 0..5000 {
            let r = c.cmd(&["SET", &format!("tmp:{i}"), &value, "EX", "1000"]);
            assert_eq!(r, b"+OK\r\n", "{policy}: tmp:{i}");
        }
        assert!(stat(&mut c, "evicted_keys") > 0, "{policy}");
        for i in (0..1000).step_by(37) {
            assert_eq!(
                c.cmd(&["EXISTS", &format!("keep:{i}")]),
                b":1\r\n",
                "{policy}"
            );
        }
        // Without expiring keys there is nothing to evict.
        let mut refused = false;
        for i in 0..20_000 {
            let r = c.cmd(&["SET", &format!("more:{i}"), &value]);
            if r.starts_with(b"-OOM") {
                refused = true;
                break;
            }
        }
        assert!(refused, "{policy}: persistent writes were never refused");
        for i in (0..1000).step_by(37) {
            assert_eq!(
                c.cmd(&["EXISTS", &format!("keep:{i}")]),
                b":1\r\n",
                "{policy}"
            );
        }
    }
}

/// The LFU policies are refused by name (luagate tracks no access frequency).
#[test]
fn lfu_policies_are_refused() {
    let p = common::luagate(&[]);
    let mut c = p.raw();
    let r = c.cmd_str(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    assert!(r.starts_with("-ERR"), "{r}");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "maxmemory-policy"]),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
    );
}

//! Differential tests: the same EVAL/EVALSHA/SCRIPT calls against luagate (4 shards) and a real
//! redis-server 7, replies compared byte for byte (errors included).
mod common;

use common::Diff;

/// Scripts whose replies and errors must be identical.
const SCRIPTS: &[&str] = &[
    // Lua → reply conversions (RESP2 script protocol).
    "return 1",
    "return 1, 2",
    "return nil, 2",
    "return",
    "return 3.99",
    "return -3.99",
    "return 1e300",
    "return 0/0",
    "return 1/0",
    "return 9007199254740993",
    "return -0.5",
    "return 'abc'",
    "return 'a\\nb'",
    "return true",
    "return false",
    "return nil",
    "return {}",
    "return {1,2,3,nil,5}",
    "return {1,'a',{2,3},true,false}",
    "return {1, 2, {3, nil, 5}}",
    "return {1,2,3,n=5}",
    "return {a=1}",
    "return {nil, 1}",
    "local t = {} for i=1,5 do t[i]=i end t[3]=nil return t",
    "return function() end",
    "return coroutine.create(function() end)",
    "return {err='x y'}",
    "return {err='-x y'}",
    "return {err=''}",
    "return {err='a\\nb'}",
    "return {err=5}",
    "return {ok='fine'}",
    "return {ok='a\\nb'}",
    "return {ok=5}",
    "return {1, {err='x'}}",
    "return {1, {ok='x'}}",
    "return {double=3.14}",
    "return {double=1}",
    "return {double=1e300}",
    "return {double=0.1}",
    "return {double=1/0}",
    "return {double=-1/0}",
    "return {double='x'}",
    "return {double=1e-17}",
    "local z = 0 return {double=-z}",
    "return {map={a=1}}",
    "return {map={a={double=1.5}}}",
    "return {map={}}",
    "return {set={a=true}}",
    "return {set={}}",
    "return {big_number='123'}",
    "return {big_number=123}",
    "return {verbatim_string={format='txt',string='hi'}}",
    "return {verbatim_string={format='txt'}}",
    "return {1, {double=1.5}}",
    "redis.setresp(3); return true",
    "redis.setresp(3); return false",
    "redis.setresp(3); return {true,false,nil,1}",
    // redis.* API.
    "return redis.error_reply('My Error')",
    "return redis.error_reply('-My Error')",
    "return redis.error_reply('x')",
    "return redis.error_reply('')",
    "local t = redis.error_reply('x'); return t.err",
    "local t = redis.error_reply('-x'); return type(t)",
    "return redis.error_reply()",
    "return redis.error_reply(1)",
    "return redis.status_reply('FINE')",
    "return redis.status_reply('a\\r\\nb')",
    "return redis.status_reply()",
    "return redis.sha1hex('')",
    "return redis.sha1hex('abc')",
    "return redis.sha1hex(123)",
    "return redis.sha1hex({})",
    "return redis.sha1hex()",
    "return redis.sha1hex('a','b')",
    "return redis.replicate_commands()",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.setresp('3')",
    "return redis.setresp('x')",
    "return redis.set_repl(99)",
    "return redis.set_repl()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return {redis.REPL_ALL,redis.REPL_AOF,redis.REPL_REPLICA,redis.REPL_SLAVE,redis.REPL_NONE}",
    "return {redis.LOG_DEBUG,redis.LOG_VERBOSE,redis.LOG_NOTICE,redis.LOG_WARNING}",
    "return redis.log(redis.LOG_WARNING,'hello from a differential test')",
    "return redis.log(99,'hello')",
    "return redis.log(1)",
    "return redis.log('x', 'y')",
    "return redis.acl_check_cmd('get','a')",
    "return redis.acl_check_cmd('set')",
    "return redis.acl_check_cmd('nosuch')",
    "return redis.acl_check_cmd()",
    "return redis.acl_check_cmd({})",
    "return redis.breakpoint()",
    "return redis.debug('x')",
    // redis.call / redis.pcall errors.
    "return redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "local t = redis.pcall('nosuch'); return t.err",
    "local t = redis.pcall('nosuch'); return type(t)",
    "return redis.call('get')",
    "return redis.call('get','a','b')",
    "redis.call('get','x'); return redis.pcall('get')",
    "redis.call('GET','x'); return redis.call('get','x','y')",
    "redis.call('incr','ctr'); return redis.call('incr')",
    "redis.call('config','get','maxmemory'); return redis.call('config','nosuch')",
    "return redis.pcall('get','a','b')",
    "return redis.call('eval','return 1','0')",
    "return redis.pcall('eval','return 1','0')",
    "return redis.call('script','load','return 1')",
    "return redis.call('hello')",
    "return redis.call('auth','x')",
    "return redis.call('client','id')",
    "return redis.call()",
    "return redis.pcall()",
    "return redis.call(1)",
    "return redis.call({})",
    "return redis.pcall({})",
    "return redis.call('get',{})",
    "return redis.call('get',nil)",
    "return redis.call('set','n', true)",
    "return redis.call('set','a','b','c')",
    "return redis.call('set','a','b','EX','x')",
    "local ok, e = pcall(redis.call, 'set','a','b','EX','x'); return e",
    "local ok, e = pcall(redis.call, 'set','a','b','EX','x'); return type(e)",
    "local ok, e = pcall(redis.call, 'nosuch'); return e",
    "local ok, e = pcall(redis.call); return e",
    "local t = redis.pcall('set','a','b','EX','x'); return {t.err, t.source, t.line}",
    "local e = redis.pcall('set','a','b','EX','x'); e.err = 'MINE x'; return e",
    "\n\nlocal x = redis.call('set','a','b','EX','x')",
    "local function f()\n return redis.call('set','a','b','EX','x')\nend\n\nreturn f()",
    "return redis.call('ping')",
    "return redis.call('ping', 'hi')",
    "return redis.call('echo', 'x')",
    "return redis.call('select', '100')",
    "redis.call('select', '1'); redis.call('set','dbk','1'); return redis.call('get','dbk')",
    "return redis.call('set', 'k', string.rep('x', 10))",
    "return redis.call('set','fl',1.5)",
    "return redis.call('set','n', 1e20)",
    "return redis.call('set','n', 0.1)",
    "return redis.call('set','n', 123456789012345)",
    "return redis.call('get','fl')",
    "return redis.call('get','n')",
    "return type(redis.call('get','nosuch'))",
    "redis.setresp(3); return type(redis.call('get','nosuch'))",
    "local r = redis.call('set','a','b'); return type(r) .. r.ok",
    "local r = redis.call('set','a','b','NX'); return type(r)",
    "redis.setresp(3); local r = redis.call('set','a','b','NX'); return type(r)",
    "return redis.call('set','a','b','NX')",
    "return tostring(redis.call('exists','a'))",
    "return redis.call('del','a','fl','n')",
    // Errors raised by scripts.
    "error('x')",
    "error('FOO bar')",
    "error('FOO bar', 0)",
    "error({err='X y'})",
    "error({err='X y', source='s', line=5})",
    "error()",
    "error(nil)",
    "error('')",
    "error('a\\nb')",
    "local a = nil; return a.b",
    "return 1 + {}",
    "local function f()\n error('in f')\nend\n\nreturn f()",
    "local ok, e = pcall(error, 'abc'); return e",
    "local ok, e = pcall(function() error('abc') end); return e",
    "local ok, e = pcall(error, {err='x'}); return e",
    "local ok, e = pcall(error, {foo='x'}); return type(e)",
    "local ok, e = pcall(error, 5); return type(e)",
    "return {pcall(function() local x = nosuch end)}",
    "return {xpcall(function() error({err='tbl'}) end, function(e) return type(e) end)}",
    "return select('#', pcall(error))",
    "return {pcall(error)}",
    "syntax error here",
    "\n\nsyntax error",
    "\x1bLuaQ",
    // The sandbox.
    "x = 1",
    "return y",
    "function f() return 1 end return f()",
    "local function f() return x end return f()",
    "KEYS = 1",
    "KEYS[1] = 'x'; return KEYS",
    "return KEYS",
    "ARGV.x = 1; return ARGV.x",
    "return ARGV.x",
    "setmetatable(ARGV, {__index = function() return 'meta' end}) return ARGV[1]",
    "return ARGV[1]",
    "setmetatable(KEYS, {__len = function() return 9 end}) return #KEYS",
    "return {#KEYS, #ARGV}",
    "setmetatable(_G, nil)",
    "return getmetatable(_G).__index",
    "getmetatable(_G).__index = nil",
    "return tostring(getmetatable(_G) ~= nil)",
    "return rawget(_G, 'nosuch')",
    "rawset(_G, 'x', 1) return x",
    "redis.call = nil",
    "redis.x = 1",
    "string.x = 1",
    "math.pi = 1",
    "table.insert = nil",
    "return rawset(redis, 'x', 1)",
    "setmetatable(redis, {})",
    "return getmetatable('').__index == string",
    // collectgarbage (luagate's own, so it can notice "stop"): options, defaults, errors.
    "return collectgarbage('nosuch')",
    "return collectgarbage(1)",
    "return collectgarbage({})",
    "return collectgarbage('setpause', 'x')",
    "local ok, e = pcall(collectgarbage, 'x'); return e",
    "return type(collectgarbage('step'))",
    "return type(collectgarbage('count'))",
    "return collectgarbage()",
    "return collectgarbage('collect')",
    "return collectgarbage('restart')",
    "getmetatable('').__index = {}",
    "return loadstring(string.dump(function() return 1 end))",
    "return {loadstring(string.dump(function() end))}",
    "local f,e = loadstring(string.dump(function() end)); return e",
    "return loadstring('\\27Lua')",
    "local f = loadstring('return 5'); return f()",
    "local f = loadstring('return x'); return f()",
    "local f = loadstring('y = 1'); return f()",
    "return loadstring('return 1', 'abc')()",
    "return {loadstring('x=')}",
    "return {load(function() return nil end)}",
    "return type(load)",
    "return type(dofile)",
    "return type(loadfile)",
    "return type(require)",
    "return type(debug)",
    "return type(io)",
    "return print",
    "return type(newproxy)",
    "return getfenv(1) == _G",
    "setfenv(1, {})",
    "return type(gcinfo)",
    "return _G._G == _G",
    "return _VERSION",
    "return type(_G)",
    "local t = setmetatable({}, {__index=function() return 1 end}); return t.x",
    "return coroutine.wrap(function() return redis.call('ping') end)()",
    "local co = coroutine.create(function() x = 1 end); return {coroutine.resume(co)}",
    "local t={} for k,v in pairs(redis) do table.insert(t,k) end table.sort(t) return t",
    "local t={} for k,v in pairs(string) do table.insert(t,k) end table.sort(t) return t",
    "local t={} for k,v in pairs(math) do table.insert(t,k) end table.sort(t) return t",
    "local t={} for k,v in pairs(table) do table.insert(t,k) end table.sort(t) return t",
    "local t={} for k,v in pairs(coroutine) do table.insert(t,k) end table.sort(t) return t",
    "return math.random(0)",
    "return math.random(1,2,3)",
    "math.randomseed(5); return {math.random(100), math.random(100)}",
    "return string.rep('x', -1)",
    "return tonumber('0x10')",
    "return unpack({1,2,3})",
    "return string.format('%d', 3)",
    "return 'x' .. 1",
];

#[test]
fn eval_replies_and_errors_match_redis() {
    let mut d = Diff::new();
    // First math.random of a fresh server: Redis's generator state at start.
    d.check(&["EVAL", "return {math.random(100), math.random(100)}", "0"]);
    for s in SCRIPTS {
        d.check(&["EVAL", s, "0"]);
    }
}

#[test]
fn keys_argv_and_numkeys_errors_match_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &[
            "EVAL",
            "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
            "1",
            "a",
            "b",
        ],
        &["EVAL", "return #KEYS", "2", "a", "b", "c"],
        &[
            "EVAL",
            "return {KEYS[1],ARGV[1],ARGV[2]}",
            "1",
            "a",
            "b",
            "c",
        ],
        &["EVAL", "return 1", "0", "a", "b"],
        &["EVAL", "return 1"],
        &["EVAL", "return 1", "x"],
        &["EVAL", "return 1", "-1"],
        &["EVAL", "return 1", "2", "a"],
        &["EVAL", "return 1", "1"],
        &["EVAL", "return 1", "99999999999999999999"],
        &["EVAL", "return 1", "1.5"],
        &["EVAL", "return 1", " 1"],
        &["EVAL", "#!lua flags=bogus\nreturn 1", "x"],
        &["EVAL", "syntax error", "x"],
        &["EVALSHA", "abc", "0"],
        &["EVALSHA", "zzz", "x"],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        &[
            "EVALSHA_RO",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "0",
        ],
        &[
            "EVAL",
            "return redis.call('set', KEYS[1], ARGV[1])",
            "1",
            "k",
            "v",
        ],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.call('Get', KEYS[1])", "1", "k"],
    ]);
}

#[test]
fn evalsha_and_script_commands_match_redis() {
    let mut d = Diff::new();
    d.check_all(&[
        &["SCRIPT", "LOAD", "return 1"],
        &["SCRIPT", "LOAD", "return"],
        &["SCRIPT", "LOAD", "syntax error"],
        &["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"],
        &["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 1"],
        &["SCRIPT", "LOAD", "#!lua\nreturn 1"],
        &[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "abc",
            "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB",
        ],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        &["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "x"],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "-1"],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "5"],
        &[
            "EVALSHA_RO",
            "77f21361171213377cb083e2ffc2ae24ffdff8fb",
            "0",
        ],
        &[
            "EVALSHA_RO",
            "cb70127618f0b0be70c53cf6bfcfa54a29d9b0c0",
            "0",
        ],
        &["SCRIPT", "EXISTS"],
        &["SCRIPT", "LOAD"],
        &["SCRIPT", "LOAD", "a", "b"],
        &["SCRIPT", "FLUSH", "bogus"],
        &["SCRIPT", "FLUSH", "async", "sync"],
        &["SCRIPT", "FLUSH", "ASYNC"],
        &[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        ],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        &["SCRIPT", "FLUSH", "SYNC"],
        &["SCRIPT", "FLUSH"],
        &["SCRIPT", "KILL"],
        &["SCRIPT", "KILL", "x"],
        &["SCRIPT", "DEBUG", "x"],
        &["SCRIPT", "DEBUG"],
        &["SCRIPT", "DEBUG", "NO"],
        &["SCRIPT", "bogus"],
        &["SCRIPT"],
        &["SCRIPT", "HELP"],
        &["EVAL", "return 1", "0"],
        &[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        ],
        &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ]);
}

#[test]
fn shebang_flags_and_read_only_scripts_match_redis() {
    let mut d = Diff::new();
    for s in [
        "#!lua flags=no-writes\nreturn redis.call('set','x','y')",
        "#!lua flags=no-writes\nreturn redis.pcall('set','x','y')",
        "#!lua flags=no-writes\nreturn redis.call('del','x')",
        "#!lua flags=no-writes\nreturn redis.call('get','x')",
        "#!lua flags=no-writes\nreturn redis.call('eval','return 1', '0')",
        "#!lua flags=bogus\nreturn 1",
        "#!lua flags=no-writes,bogus\nreturn 1",
        "#!lua flags=\nreturn 1",
        "#!lua\nreturn 1",
        "#!lua \nreturn 1",
        "#!luax\nreturn 1",
        "#!python\nreturn 1",
        "#!lua name=x\nreturn 1",
        "#!lua flags=no-writes flags=allow-oom\nreturn 1",
        "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
        "#!lua flags=no-writes, allow-oom\nreturn 1",
        "#!lua  flags=no-writes\nreturn 1",
        "#!lua flags=no-writes",
        "#!",
        "#!lua flags=no-writes\nreturn x",
        "#!lua flags=no-writes\nerror('e')",
        "#!lua\nerror('e')",
        "#!lua\n\nsyntax error",
        "#!lua flags=bogus\nsyntax error",
        "#!lua flags=no-cluster\nreturn 1",
        "#!lua flags=allow-cross-slot-keys\nreturn redis.call('set','a','1')",
        "#comment\nreturn 1",
    ] {
        d.check(&["EVAL", s, "0"]);
    }
    d.check_all(&[
        &["EVAL_RO", "return redis.call('set','x','y')", "0"],
        &["EVAL_RO", "return redis.call('get','x')", "0"],
        &["EVAL_RO", "#!lua\nreturn redis.call('set','x','y')", "0"],
        &[
            "EVAL_RO",
            "#!lua flags=no-writes\nreturn redis.call('set','x','y')",
            "0",
        ],
        &["EVAL_RO", "#!lua\nreturn 1", "x"],
        &["EVAL_RO", "#!lua\nreturn 1", "5"],
        &["EVAL_RO", "#!lua flags=bogus\nreturn 1", "0"],
        &["EVAL_RO", "#!lua\nsyntax error", "0"],
    ]);
}

#[test]
fn resp3_client_conversions_match_redis() {
    let mut d = Diff::new();
    // HELLO's own reply names the server and version; only the protocol switch matters here.
    d.both(&["HELLO", "3"]);
    for s in [
        "return {double=3.14}",
        "return {map={a=1}}",
        "return {set={a=true}}",
        "return {big_number='123'}",
        "return {verbatim_string={format='txt',string='hi'}}",
        "return true",
        "return false",
        "return nil",
        "return {1,false,3}",
        "return {double=1/0}",
        "return {double=-1/0}",
        "return {map={a={double=1.5}}}",
        "return {set={a=1}}",
        "return {map={}}",
        "return {set={}}",
        "return {double=1}",
        "return {double=0.1}",
        // Numbers near an integer keep their exact value and -0 its sign.
        "return {double=1e-17}",
        "return {double=-1e-300}",
        "return {double=4.9e-324}",
        "local z = 0 return {double=-z}",
        "return {double=tonumber('-0')}",
        "return {double=1 + 2^-52}",
        "redis.setresp(3); return true",
        "redis.setresp(3); return false",
        "redis.setresp(3); return redis.call('get','nosuch')",
        "redis.setresp(3); return {redis.call('set','a','b')}",
        "return redis.call('set','a','b','NX')",
        "return redis.pcall('nosuch')",
        "error('x')",
        // Nulls in a RESP3 array are holes, and `#` sees them where Redis's table has them.
        "redis.call('set','k3','v') redis.setresp(3) \
         local t = redis.call('mget','nokey','nokey2','k3') return {#t, type(t[1]), t[3]}",
        "redis.call('set','k2','v') redis.setresp(3) \
         local t = redis.call('mget','nokey','k2','nokey2') return #t",
        "redis.call('set','k1','v') redis.setresp(3) \
         local t = redis.call('mget','k1','nokey','k1','nokey2','k1') return #t",
        "redis.setresp(3) local t = redis.call('mget','nokey','nokey2') return #t",
    ] {
        d.check(&["EVAL", s, "0"]);
    }
}

/// What `redis.pcall` returns for a failed call carries Redis 7's
/// `ignore_error_stats_update = true` beside `err`, whatever refused the call (the command,
/// the arity check, an unknown name); `redis.error_reply` tables do not.
#[test]
fn pcall_error_tables_match_redis() {
    let mut d = Diff::new();
    d.both(&["HSET", "h", "f", "1"]);
    for s in [
        "return cjson.encode(redis.pcall('INCR','h'))",
        "return cjson.encode(redis.pcall('SET','k','v','EX','-1'))",
        "return cjson.encode(redis.pcall('NOSUCH'))",
        "return cjson.encode(redis.pcall('GET'))",
        "return cjson.encode(redis.error_reply('x'))",
        "local e = redis.pcall('INCR','h') local n = 0 for k in pairs(e) do n = n + 1 end \
         return {n, tostring(e.ignore_error_stats_update)}",
        "return redis.pcall('INCR','h')",
        "local ok, e = pcall(redis.call, 'INCR', 'h') return {tostring(ok), type(e), e}",
    ] {
        d.check(&["EVAL", s, "0"]);
    }
}

/// A script's error reply is a failed call of EVAL/EVALSHA/FCALL and counts in the error
/// statistics by its code, as Redis counts it, whether the call ran on its own or inside a
/// pipelined batch.
#[test]
fn script_error_replies_count_as_failed_calls() {
    let mut d = Diff::new();
    let body = "return redis.error_reply('MYERR boom')";
    d.check(&["SCRIPT", "LOAD", body]);
    let sha = {
        let r = d.a.cmd_str(&["SCRIPT", "LOAD", body]);
        r.rsplit("\r\n").nth(1).expect("sha").to_string()
    };
    d.check(&["EVAL", body, "0"]);
    d.check(&["EVAL", "return redis.call('nosuch')", "0"]);
    d.check(&["EVALSHA", &sha, "0"]);
    d.check(&["EVALSHA", "0000000000000000000000000000000000000000", "0"]);
    // Pipelined: luagate runs these inside one batch.
    let pipe: Vec<u8> = (0..3)
        .flat_map(|_| common::encode_cmd(&[b"EVALSHA", sha.as_bytes(), b"0"]))
        .chain(common::encode_cmd(&[b"EVALSHA", sha.as_bytes(), b"x"]))
        .collect();
    for side in [&mut d.a, &mut d.b] {
        side.send(&pipe);
    }
    for _ in 0..4 {
        let (a, b) = (d.a.read_reply(), d.b.read_reply());
        assert_eq!(a, b);
    }
    assert_eq!(
        stat_counts(&mut d.a, &["eval"]),
        stat_counts(&mut d.b, &["eval"])
    );
}

/// INFO's error statistics and the call counts of the commands named (prefixes of
/// `cmdstat_<name>`), without timings, sorted: what two servers that ran the same commands
/// must agree on.
fn stat_counts(r: &mut common::Raw, commands: &[&str]) -> Vec<String> {
    let stats = r.cmd_str(&["INFO", "commandstats"]);
    let errors = r.cmd_str(&["INFO", "errorstats"]);
    let total = r.cmd_str(&["INFO", "stats"]);
    let mut out: Vec<String> = stats
        .lines()
        .filter(|l| {
            commands
                .iter()
                .any(|c| l.starts_with(&format!("cmdstat_{c}")))
        })
        .map(|l| {
            let (name, fields) = l.split_once(':').expect("stat line");
            let keep: Vec<&str> = fields
                .split(',')
                .filter(|f| !f.starts_with("usec"))
                .collect();
            format!("{name}:{}", keep.join(","))
        })
        .chain(
            errors
                .lines()
                .chain(total.lines())
                .filter(|l| l.starts_with("errorstat_") || l.starts_with("total_error_replies"))
                .map(str::to_string),
        )
        .collect();
    out.sort();
    out
}

/// Every error in a script's reply counts once, as Redis 7 counts it: an error a failed
/// `redis.call`/`redis.pcall` returned or raised was counted when the call failed (its table
/// carries `ignore_error_stats_update`) and is not counted again when the script passes it on;
/// errors nested in the reply count too; the script's command gets Redis's number of failed
/// calls. Alone, pipelined (one batch), inside MULTI, and for FCALL.
#[test]
fn script_errors_are_counted_once_as_redis_counts_them() {
    let mut d = Diff::new();
    d.both(&["SET", "s", "abc"]);
    let lib = "#!lua name=errlib\n\
               redis.register_function('passon', function(keys) return redis.pcall('incr', keys[1]) end)\n\
               redis.register_function('raise', function(keys) return redis.call('incr', keys[1]) end)";
    d.check(&["FUNCTION", "LOAD", lib]);
    let scripts = [
        "return redis.call('incr', KEYS[1])",
        "return redis.pcall('incr', KEYS[1])",
        "local r = redis.pcall('incr', KEYS[1]) error(r)",
        "return redis.error_reply('MY err')",
        "error('x')",
        "redis.call('nosuchcmd')",
        "return redis.pcall('nosuchcmd')",
        "return {1, {err='X y'}}",
        "return {redis.error_reply('A b'), {err='C d'}}",
        "redis.setresp(3) return {map={a={err='M n'}}}",
        "local e = redis.pcall('incr', KEYS[1]) return {e, e, e}",
        "return {redis.pcall('incr', KEYS[1]), {err='C d'}, {err='C d'}}",
        "return redis.pcall('set', {}, 'x')",
        "return redis.call('set', {}, 'x')",
        "return redis.pcall('ping', 'a', 'b')",
        "return redis.call('ping', 'a', 'b')",
        "return {err='Q r', ignore_error_stats_update=true}",
        // The code is what precedes a space within 32 bytes of `-…`, else ERR.
        "return {err='bad'}",
        "return {err='abcdefghijklmnopqrstuvwxyz0123 x'}",
        "return {err='abcdefghijklmnopqrstuvwxyz01234 x'}",
        // Refused calls are rejected calls of their command.
        "return redis.pcall('set', KEYS[1])",
        "return redis.pcall('client', 'id')",
        "local ok, e = xpcall(function() redis.call('incr', KEYS[1]) end, \
         function(e) return e end) return e",
    ];
    let watched = ["eval", "incr", "ping", "fcall", "exec", "set", "client"];
    for s in scripts {
        d.check(&["CONFIG", "RESETSTAT"]);
        d.check(&["EVAL", s, "1", "s"]);
        assert_eq!(
            stat_counts(&mut d.a, &watched),
            stat_counts(&mut d.b, &watched),
            "{s}"
        );
    }
    d.check(&["CONFIG", "RESETSTAT"]);
    d.check(&[
        "EVAL_RO",
        "return redis.pcall('set', KEYS[1], 'v')",
        "1",
        "s",
    ]);
    assert_eq!(
        stat_counts(&mut d.a, &watched),
        stat_counts(&mut d.b, &watched)
    );
    d.check(&["CONFIG", "RESETSTAT"]);
    for f in ["passon", "raise"] {
        d.check(&["FCALL", f, "1", "s"]);
    }
    assert_eq!(
        stat_counts(&mut d.a, &watched),
        stat_counts(&mut d.b, &watched)
    );

    // Pipelined (luagate batches these on the key's shard), then inside MULTI.
    d.check(&["CONFIG", "RESETSTAT"]);
    let pipe: Vec<u8> = scripts
        .iter()
        .flat_map(|s| common::encode_cmd(&[b"EVAL", s.as_bytes(), b"1", b"s"]))
        .collect();
    for side in [&mut d.a, &mut d.b] {
        side.send(&pipe);
    }
    for s in scripts {
        assert_eq!(d.a.read_reply(), d.b.read_reply(), "{s}");
    }
    assert_eq!(
        stat_counts(&mut d.a, &watched),
        stat_counts(&mut d.b, &watched)
    );
    d.check(&["CONFIG", "RESETSTAT"]);
    d.check(&["MULTI"]);
    for s in scripts {
        d.check(&["EVAL", s, "1", "s"]);
    }
    d.check(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
    d.check(&["FCALL", "passon", "1", "s"]);
    d.check(&["EXEC"]);
    assert_eq!(
        stat_counts(&mut d.a, &watched),
        stat_counts(&mut d.b, &watched)
    );
}

/// Whatever a script does to its KEYS and ARGV tables, the next script gets fresh ones
/// (luagate refills the previous tables when they are still plain arrays).
#[test]
fn keys_and_argv_are_fresh_after_a_script_changed_them() {
    let mut d = Diff::new();
    let runs: &[&[&str]] = &[
        &[
            "KEYS[3] = 'x' ARGV.foo = 1 setmetatable(ARGV, {__index = function() return 'meta' end}) return #KEYS",
            "2", "a", "b", "c",
        ],
        &[
            "return {#KEYS, tostring(KEYS[3]), tostring(ARGV.foo), tostring(ARGV[5]), tostring(getmetatable(ARGV))}",
            "1", "a",
        ],
        &["table.insert(KEYS, 'more') KEYS[1] = nil return #ARGV", "1", "a", "z"],
        &["return {#KEYS, KEYS[1], tostring(KEYS[2]), #ARGV}", "1", "k"],
        &["KEYS[2] = nil ARGV[7] = 'far' return 1", "3", "a", "b", "c", "d"],
        &[
            "local n = 0 for k, v in pairs(KEYS) do n = n + 1 end \
             local m = 0 for k, v in pairs(ARGV) do m = m + 1 end return {n, m}",
            "3", "a", "b", "c", "d",
        ],
        &["return {#KEYS, #ARGV}", "0"],
        &["KEYS.x = 1 return 1", "0"],
        &["return tostring(KEYS.x)", "0"],
    ];
    for run in runs {
        let mut args = vec!["EVAL"];
        args.extend_from_slice(run);
        d.check(&args);
        // And again through the script cache (luagate batches a known script).
        let sha = d.a.cmd_str(&["SCRIPT", "LOAD", run[0]]);
        let sha = sha.rsplit("\r\n").nth(1).expect("sha").to_string();
        args[0] = "EVALSHA";
        args[1] = &sha;
        d.check(&args);
    }
}

/// A script reaching keys on shards its unit does not hold is abandoned and run again on more
/// shards, here twice; the calls of the abandoned runs must not count: INFO's statistics agree
/// with Redis's, which ran it once.
#[test]
fn abandoned_script_runs_leave_no_statistics() {
    let keys = common::keys_on_distinct_shards("rk", 4, 4);
    let mut d = Diff::new();
    d.check(&["SET", &keys[2], "text"]);
    d.check(&["CONFIG", "RESETSTAT"]);
    let body = "redis.call('INCR', KEYS[1]) redis.call('GET', ARGV[1]) \
                local e = redis.pcall('INCR', ARGV[2]) redis.pcall('NOSUCH') \
                redis.call('PING') return {redis.call('GET', ARGV[3]), e}";
    d.check(&["EVAL", body, "1", &keys[0], &keys[1], &keys[2], &keys[3]]);
    let watched = ["eval", "incr", "get", "ping"];
    assert_eq!(
        stat_counts(&mut d.a, &watched),
        stat_counts(&mut d.b, &watched)
    );
}

-- The environment every script runs in (Redis 7's sandbox). This chunk runs once per VM, with
-- the host's full standard library; user code can reach only what it builds. The allow-lists
-- (and why each entry is there) live in vm.rs, which passes them in.
--
-- Read-only tables: stock Lua 5.1 has no read-only flag, so a protected table is an empty proxy
-- whose metatable reads through to the real table and refuses writes; the wrapped rawset,
-- setmetatable, next, pairs and ipairs know proxies, and no function ever returns a real table.
local host, global_names, library_names = ...

local type, error, tostring, tonumber, select, next = type, error, tostring, tonumber, select, next
local rawget, rawset, setmetatable, getmetatable = rawget, rawset, setmetatable, getmetatable
local pcall, xpcall, loadstring, load, setfenv = pcall, xpcall, loadstring, load, setfenv
local pairs, ipairs = pairs, ipairs
local getinfo, floor, byte, concat = debug.getinfo, math.floor, string.byte, table.concat
local host_globals = _G
local SELF = host.self_source
-- keep(f): f behind a C frame (see vm.rs, make_keep). Errors raised inside f name level 3.
local keep = host.keep

-- proxy -> the real table it guards (weak: a proxy dies with whatever holds it)
local guarded = setmetatable({}, { __mode = 'k' })

local function deny_write() error('Attempt to modify a readonly table', 2) end
local function deny_raw() error('Attempt to modify a readonly table', 0) end

-- What getmetatable() shows for a protected table: an empty read-only table, itself protected.
local shown_mt = {}
local shown_meta = { __index = {}, __newindex = deny_write }
setmetatable(shown_mt, shown_meta)
shown_meta.__metatable = shown_mt
guarded[shown_mt] = {}

local function guard(real)
  local proxy = {}
  guarded[proxy] = real
  setmetatable(proxy, { __index = real, __newindex = deny_write, __metatable = shown_mt })
  return proxy
end

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

local function trunc(n)
  if n >= 0 then return floor(n) end
  return -floor(-n)
end

-- The real globals. Never handed out: scripts see `env`, a proxy of it.
local G = {}
local env = guard(G)
setmetatable(G, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
})

for _, name in ipairs(global_names) do
  G[name] = host_globals[name]
end

for _, name in ipairs(library_names) do
  local lib = host_globals[name]
  if type(lib) == 'table' then G[name] = guard(copy(lib)) end
end

-- Argument checks with the stock messages, positioned on the script's line.
local function check(fname, i, want, ...)
  local v = select(i, ...)
  local t = type(v)
  if t == want or (want == 'string' and t == 'number') then return v end
  local got = (select('#', ...) < i) and 'no value' or t
  error('bad argument #' .. i .. " to '" .. fname .. "' (" .. want .. ' expected, got ' .. got .. ')', 4)
end

-- Proxy-aware raw access.
local function real(t) return guarded[t] or t end
G.rawget = keep(function(...)
  local t, k = check('rawget', 1, 'table', ...), select(2, ...)
  return rawget(real(t), k)
end)
G.rawset = keep(function(...)
  local t, k, v = check('rawset', 1, 'table', ...), select(2, ...)
  if guarded[t] then deny_raw() end
  if k == nil then error('table index is nil', 3) end
  return rawset(t, k, v)
end)
G.setmetatable = keep(function(...)
  local t, mt = check('setmetatable', 1, 'table', ...), select(2, ...)
  if mt ~= nil and type(mt) ~= 'table' then
    error("bad argument #2 to 'setmetatable' (nil or table expected)", 3)
  end
  if guarded[t] then deny_raw() end
  if getmetatable(t) ~= nil and rawget(getmetatable(t), '__metatable') ~= nil then
    error('cannot change a protected metatable', 3)
  end
  return setmetatable(t, mt)
end)
local function guarded_next(t, k) return next(real(t), k) end
G.next = keep(function(...)
  local t, k = check('next', 1, 'table', ...), select(2, ...)
  return next(real(t), k)
end)
G.pairs = keep(function(...)
  local t = check('pairs', 1, 'table', ...)
  if guarded[t] then return guarded_next, t, nil end
  return next, t, nil
end)
local function guarded_inext(t, i)
  i = i + 1
  local v = rawget(guarded[t], i)
  if v ~= nil then return i, v end
end
G.ipairs = keep(function(...)
  local t = check('ipairs', 1, 'table', ...)
  if guarded[t] then return guarded_inext, t, 0 end
  return ipairs(t)
end)

-- pcall turns an error table carrying a string `err` into that string (Redis 7.0 does).
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' then
    local m = rawget(e, 'err')
    if type(m) == 'string' then return false, m end
  end
  return false, e
end
G.pcall = keep(function(...)
  if select('#', ...) == 0 then return false end
  return pcall_result(pcall(...))
end)

-- No bytecode: a chunk starting with ESC is parsed as text, failing as Redis's patched Lua does.
local function safe_loadstring(s, name)
  if type(s) == 'string' and byte(s, 1) == 27 then
    local _, err = loadstring(' ' .. s, name or s)
    return nil, err
  end
  local f, err = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, err
end
G.loadstring = keep(function(...)
  local s, name = check('loadstring', 1, 'string', ...), select(2, ...)
  return safe_loadstring(s, name)
end)
G.load = keep(function(...)
  local reader, name = check('load', 1, 'function', ...), select(2, ...)
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return safe_loadstring(concat(parts), name or '=(load)')
end)

-- math.random with Redis's generator, reseeded by the host before every run.
local math_lib = copy(math)
local rand, seed = host.rand, host.seed
local function checkint(i, n, ...)
  local v = select(i, ...)
  local num = tonumber(v)
  if num == nil then
    local got = (i > n) and 'no value' or type(v)
    error("bad argument #" .. i .. " to 'random' (number expected, got " .. got .. ")", 4)
  end
  return trunc(num)
end
math_lib.random = keep(function(...)
  local n = select('#', ...)
  local r = rand()
  if n == 0 then return r end
  if n == 1 then
    local u = checkint(1, n, ...)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 3) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = checkint(1, n, ...), checkint(2, n, ...)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 3) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 3)
end)
math_lib.randomseed = keep(function(...)
  seed(checkint(1, select('#', ...), ...))
end)
G.math = guard(math_lib)

-- os: only the CPU clock (for timing inside a script).
G.os = guard({ clock = os.clock })

-- The string metatable reads through the protected `string` and cannot be changed.
local string_meta = getmetatable('')
string_meta.__index = G.string
string_meta.__metatable = guard({ __index = G.string })

-- The redis library.
local function fail(msg) error({ err = 'ERR ' .. msg }, 0) end
local function raise_if(r, raise)
  if raise then error(r, 0) end
  return r
end
local log, setresp, set_repl = host.log, host.setresp, host.set_repl
local error_text, sha1hex, acl_check = host.error_text, host.sha1hex, host.acl_check
local R = {}
for k, v in next, host.constants do R[k] = v end
-- C functions of the host (as in Redis): they raise or return Redis's error tables themselves.
R.call = host.call
R.pcall = host.pcall
R.error_reply = keep(function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  if byte(s, 1) ~= 45 then s = '-' .. s end
  return { err = error_text(s) }
end)
R.status_reply = keep(function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return { ok = s }
end)
R.sha1hex = keep(function(...)
  if select('#', ...) ~= 1 then fail('wrong number of arguments') end
  local v = ...
  if type(v) ~= 'string' and type(v) ~= 'number' then v = '' end
  return sha1hex(tostring(v))
end)
R.log = keep(function(...)
  local n = select('#', ...)
  if n < 2 then fail('redis.log() requires two arguments or more.') end
  local level = ...
  if type(level) ~= 'number' then fail('First argument must be a number (log level).') end
  level = trunc(level)
  if level < 0 or level > 3 then fail('Invalid debug level.') end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
  end
  log(level, concat(parts, ' '))
end)
R.setresp = keep(function(...)
  if select('#', ...) ~= 1 then fail('redis.setresp() requires one argument.') end
  local v = tonumber((...))
  v = v and trunc(v)
  if v ~= 2 and v ~= 3 then fail('RESP version must be 2 or 3.') end
  setresp(v)
end)
R.set_repl = keep(function(...)
  if select('#', ...) ~= 1 then fail('redis.set_repl() requires two arguments.') end
  local flags = trunc(tonumber((...)) or 0)
  if flags < 0 or flags > 3 then
    fail('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
  set_repl(flags)
end)
R.replicate_commands = function() return true end
R.acl_check_cmd = keep(function(...) return raise_if(acl_check(...)) end)
R.breakpoint = function() return false end
R.debug = function() end
G.redis = guard(R)

G._G = env
G._VERSION = host_globals._VERSION
G.KEYS = {}
G.ARGV = {}

-- Errors become {err=, source=, line=}, naming the innermost frame of the user's code.
local function handler(e)
  local level = 2
  local info = getinfo(level, 'Sl')
  while info and (info.what == 'C' or info.what == 'tail' or info.source == SELF) do
    level = level + 1
    info = getinfo(level, 'Sl')
  end
  local msg, counted
  if type(e) == 'table' then
    msg = rawget(real(e), 'err')
    if type(msg) ~= 'string' then msg = nil end
    -- A failed call's error, counted when it failed (the host does not count it again).
    counted = rawget(real(e), 'ignore_error_stats_update') == true or nil
  else
    local ok, text = pcall(tostring, e)
    msg = 'ERR ' .. (ok and text or '?')
  end
  local out = { err = msg, ignore_error_stats_update = counted }
  if info then
    out.source = info.source
    out.line = info.currentline
  end
  return out
end

-- run(f) for a script; run(f, keys, args) for a library function, called as f(keys, args).
local function run(f, ...)
  if select('#', ...) == 0 then return xpcall(f, handler) end
  local keys, args = ...
  return xpcall(function() return f(keys, args) end, handler)
end

-- Library environments (Redis Functions). A library body runs once in an environment that
-- offers only `redis.register_function`, `redis.log` and the constants; the closures it creates
-- keep that environment, so after the load it is switched (not replaced) to read through to the
-- real globals, as a script's would.
local find = string.find
local FLAG_OK = {
  ['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
  ['no-cluster'] = true, ['allow-cross-slot-keys'] = true,
}
local BAD_NAME = 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long'
local function load_fail(msg) error({ err = 'ERR ' .. msg }, 0) end

local function read_named(t)
  local name, callback, flags, desc
  for k, v in next, real(t) do
    if k == 'function_name' then
      if type(v) ~= 'string' and type(v) ~= 'number' then
        load_fail('function_name argument given to redis.register_function must be a string')
      end
      name = tostring(v)
    elseif k == 'callback' then
      if type(v) ~= 'function' then
        load_fail('callback argument given to redis.register_function must be a function')
      end
      callback = v
    elseif k == 'flags' then
      if type(v) ~= 'table' then
        load_fail('flags argument to redis.register_function must be a table representing function flags')
      end
      flags = v
    elseif k == 'description' then
      if type(v) ~= 'string' and type(v) ~= 'number' then
        load_fail('description argument given to redis.register_function must be a string')
      end
      desc = tostring(v)
    else
      load_fail('unknown argument given to redis.register_function')
    end
  end
  if name == nil then load_fail('redis.register_function must get a function name argument') end
  if callback == nil then load_fail('redis.register_function must get a callback argument') end
  return name, callback, flags, desc
end

local function library_env()
  local regs, seen = {}, {}
  local LR = {}
  for k, v in next, host.constants do LR[k] = v end
  LR.log = R.log
  LR.register_function = keep(function(...)
    local n = select('#', ...)
    local name, callback, flags, desc
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        load_fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      end
      name, callback, flags, desc = read_named(t)
    elseif n == 2 then
      name, callback = ...
      if type(name) ~= 'string' and type(name) ~= 'number' then
        load_fail('first argument to redis.register_function must be a string')
      end
      name = tostring(name)
      if type(callback) ~= 'function' then
        load_fail('second argument to redis.register_function must be a function')
      end
    else
      load_fail('wrong number of arguments to redis.register_function')
    end
    local list = {}
    if flags ~= nil then
      for _, f in next, real(flags) do
        if type(f) ~= 'string' or not FLAG_OK[f] then load_fail('unknown flag given') end
        list[#list + 1] = f
      end
    end
    if name == '' or find(name, '[^%w_]') then load_fail(BAD_NAME) end
    -- Within one library, names are compared as written (Redis does).
    if seen[name] then load_fail('Function already exists in the library') end
    seen[name] = true
    regs[#regs + 1] = { name = name, callback = callback, flags = list, description = desc }
  end)
  setmetatable(LR, getmetatable(G))
  local L = setmetatable({ redis = guard(LR) }, getmetatable(G))
  local proxy, meta = {}, { __index = L, __newindex = deny_write, __metatable = shown_mt }
  setmetatable(proxy, meta)
  guarded[proxy] = L
  local function open()
    meta.__index = G
    guarded[proxy] = G
    return regs
  end
  return proxy, open
end

-- The host runs scripts and functions with `handler` directly (as xpcall would, without the
-- runner's frames); `run` is for library bodies.
return env, G, run, library_env, handler

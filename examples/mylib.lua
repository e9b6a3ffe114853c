#!lua name=mylib
-- The user's guide's example library (sections III-IV). Load it with examples/loader.js, or
--   redis-cli FUNCTION LOAD REPLACE "$(cat examples/mylib.lua)"
-- Function names are case-insensitive in FCALL, so `FCALL_RO VER 0` calls `ver`.

local SCAN_COUNT = 100

-- Every key matching `pattern`, visited once through SCAN.
local function each_key(pattern, visit)
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      if visit(key) == false then return end
    end
  until cursor == '0'
end

-- Bytes as a short human-readable figure (32.73M, 1.50K, 12B).
local function human(bytes)
  local units = { { 1024 ^ 4, 'T' }, { 1024 ^ 3, 'G' }, { 1024 ^ 2, 'M' }, { 1024, 'K' } }
  for _, u in ipairs(units) do
    if bytes >= u[1] then return string.format('%.2f%s', bytes / u[1], u[2]) end
  end
  return string.format('%dB', bytes)
end

-- countKeys [pattern]: the number of keys matching and their total MEMORY USAGE.
local function countKeys(KEYS, ARGV)
  local pattern = KEYS[1] or ARGV[1] or '*'
  local count, bytes = 0, 0
  each_key(pattern, function(key)
    count = count + 1
    bytes = bytes + (redis.call('MEMORY', 'USAGE', key) or 0)
  end)
  return { tostring(count), human(bytes) }
end

-- delall pattern: deletes every key matching; returns how many.
local function delall(KEYS, ARGV)
  local pattern = KEYS[1] or ARGV[1]
  if not pattern then return redis.error_reply('ERR delall needs a key pattern') end
  local keys = {}
  each_key(pattern, function(key) keys[#keys + 1] = key end)
  local deleted = 0
  for _, key in ipairs(keys) do
    deleted = deleted + redis.call('DEL', key)
  end
  return deleted
end

-- zAddIncr key member...: adds each member with score 1, or increments its score by 1.
local function zAddIncr(KEYS, ARGV)
  for _, member in ipairs(ARGV) do
    redis.call('ZINCRBY', KEYS[1], 1, member)
  end
  return #ARGV
end

-- ver: the server's version.
local function ver(KEYS, ARGV)
  return redis.REDIS_VERSION
end

-- scanTextChi pattern field text [offset [limit]] [returnField...]: hashes matching `pattern`
-- whose `field` contains `text` (plain substring, so any UTF-8 text works), like
-- `SELECT ... WHERE field LIKE '%text%' LIMIT limit OFFSET offset`. With return fields, each
-- hit is the list of their values; without, the whole hash.
local function scanTextChi(KEYS, ARGV)
  local pattern, field, text = KEYS[1], KEYS[2], KEYS[3]
  if not (pattern and field and text) then
    return redis.error_reply('ERR scanTextChi needs a key pattern, a field and a text')
  end
  local offset = tonumber(KEYS[4]) or 0
  local limit = tonumber(KEYS[5]) or 10
  local hits, skipped = {}, 0
  each_key(pattern, function(key)
    if #hits >= limit then return false end
    if redis.call('TYPE', key).ok ~= 'hash' then return end
    local value = redis.call('HGET', key, field)
    if value and string.find(value, text, 1, true) then
      if skipped < offset then
        skipped = skipped + 1
      elseif #ARGV > 0 then
        hits[#hits + 1] = redis.call('HMGET', key, unpack(ARGV))
      else
        hits[#hits + 1] = redis.call('HGETALL', key)
      end
    end
  end)
  return hits
end

-- The functions this library registers, in order (FUNCTION LIST cannot be called from a
-- function, so the library keeps its own list).
local registered = {}

-- libs: this library's name and its functions.
local function libs(KEYS, ARGV)
  return { 'mylib', registered }
end

-- toFix number [decimals]: the number rounded to `decimals` places (default 2). The guide
-- passes both as keys (`FCALL_RO TOFIX 2 123.456 2`); arguments work too.
local function toFix(KEYS, ARGV)
  local args = {}
  for _, v in ipairs(KEYS) do args[#args + 1] = v end
  for _, v in ipairs(ARGV) do args[#args + 1] = v end
  local n = tonumber(args[1])
  if not n then return redis.error_reply('ERR toFix needs a number') end
  local places = math.floor(tonumber(args[2]) or 2)
  if places < 0 or places > 20 then return redis.error_reply('ERR toFix decimals must be 0..20') end
  return string.format('%.' .. places .. 'f', n)
end

-- zSumScore key: the sum of all scores in the sorted set.
local function zSumScore(KEYS, ARGV)
  local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local sum = 0
  for i = 2, #all, 2 do
    sum = sum + tonumber(all[i])
  end
  return sum
end

local function register(name, callback, readonly)
  if readonly then
    redis.register_function { function_name = name, callback = callback, flags = { 'no-writes' } }
  else
    redis.register_function(name, callback)
  end
  registered[#registered + 1] = name
end

register('countKeys', countKeys, true)
register('delall', delall, false)
register('zAddIncr', zAddIncr, false)
register('ver', ver, true)
register('scanTextChi', scanTextChi, true)
register('libs', libs, true)
register('toFix', toFix, true)
register('zSumScore', zSumScore, true)

// Checks the user's guide (sections III-IV) against a server with node-redis: loads
// examples/mylib.lua exactly as the guide's loader does, then makes every example call and
// compares the replies with the guide's. REDIS_URL names the server. Exits non-zero on the
// first mismatch.
import { createClient } from 'redis';
import { readFile } from 'fs/promises';
import assert from 'assert/strict';

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (e) => { console.error(e); process.exit(3); });
redis.fCall = function (name, keys = [], args = []) {
  const numkeys = keys.length.toString();
  return this.sendCommand(['FCALL', name, numkeys, ...keys, ...args]);
};
redis.fCallRo = function (name, keys = [], args = []) {
  const numkeys = keys.length.toString();
  return this.sendCommand(['FCALL_RO', name, numkeys, ...keys, ...args]);
};

await redis.connect();
await redis.sendCommand(['FLUSHALL']);

// The loader (section III).
const luaScript = await readFile(new URL('../../examples/mylib.lua', import.meta.url), 'utf8');
assert.equal(await redis.sendCommand(['FUNCTION', 'LOAD', 'REPLACE', luaScript]), 'mylib');
// Loading again with REPLACE is how the guide redeploys.
assert.equal(await redis.sendCommand(['FUNCTION', 'LOAD', 'REPLACE', luaScript]), 'mylib');

// FUNCTION LIST LIBRARYNAME mylib: the guide's shape and order.
const list = await redis.sendCommand(['FUNCTION', 'LIST', 'LIBRARYNAME', 'mylib']);
const expected = [
  ['countKeys', ['no-writes']], ['delall', []], ['zAddIncr', []], ['ver', ['no-writes']],
  ['scanTextChi', ['no-writes']], ['libs', ['no-writes']], ['toFix', ['no-writes']],
  ['zSumScore', ['no-writes']],
];
assert.equal(list.length, 1);
const lib = list[0];
assert.deepEqual(lib.slice(0, 5), ['library_name', 'mylib', 'engine', 'LUA', 'functions']);
const byName = new Map(lib[5].map((f) => [f[1], f]));
for (const [name, flags] of expected) {
  assert.deepEqual(byName.get(name), ['name', name, 'description', null, 'flags', flags], name);
}
if (process.env.EXPECT_ORDER === '1') {
  assert.deepEqual(lib[5].map((f) => f[1]), expected.map((e) => e[0]));
}

// Really trivial things.
assert.match(await redis.sendCommand(['FCALL_RO', 'VER', '0']), /^\d+\.\d+\.\d+$/);
assert.equal(await redis.sendCommand(['FCALL_RO', 'TOFIX', '2', '123.456', '2']), '123.46');
assert.equal(await redis.sendCommand(['FCALL_RO', 'TOFIX', '1', '123.456']), '123.46');

// Utility functions.
for (let i = 0; i < 25; i++) await redis.set(`DONGDICT:${i}`, 'x'.repeat(100));
const [count, size] = await redis.sendCommand(['FCALL_RO', 'COUNTKEYS', '1', 'DONGDICT:*']);
assert.equal(count, '25');
assert.match(size, /^\d+(\.\d\d[KMGT])?B?$/);
for (let i = 0; i < 3; i++) await redis.set(`temp:${i}`, '1');
for (let i = 0; i < 12; i++) await redis.set(`cache:${i}`, '1');
assert.equal(await redis.sendCommand(['FCALL', 'DELALL', '1', 'temp:*']), 3);
assert.equal(await redis.sendCommand(['FCALL', 'DELALL', '1', 'cache:*']), 12);
assert.equal(await redis.sendCommand(['FCALL', 'DELALL', '1', 'cache:*']), 0);

// Sorted set extension.
const members = ['a', 'b', 'c', 'd', 'e', 'f'];
for (let n = 6; n >= 1; n--) {
  assert.equal(await redis.sendCommand(['FCALL', 'ZADDINCR', '1', 'testz', ...members.slice(0, n)]), n);
}
assert.equal(await redis.sendCommand(['FCALL_RO', 'ZSUMSCORE', '1', 'testz']), 21);
assert.equal(await redis.sendCommand(['ZCARD', 'testz']), 6);
assert.equal(await redis.sendCommand(['ZSCORE', 'testz', 'a']), '6');
assert.equal(await redis.sendCommand(['ZSCORE', 'testz', 'g']), null);
assert.deepEqual(await redis.sendCommand(['ZRANGE', 'testz', '0', '-1', 'REV', 'WITHSCORES']),
  ['a', '6', 'b', '5', 'c', '4', 'd', '3', 'e', '2', 'f', '1']);

// Proof of concept: the Chinese text search, with the guide's hash shape.
const doc = (id, key, createdAt) => ({
  updatedAt: '', updateIdent: '0', createdAt, id, textChi: `${key}<br / ...`, visited: '0', key,
});
await redis.hSet('fts:chinese:documents:11199', doc('11199', '鄭文公', '2025-07-17T00:36:15.301Z'));
await redis.hSet('fts:chinese:documents:11200', doc('11200', '陳文公', '2025-07-17T00:36:16.000Z'));
await redis.hSet('fts:chinese:documents:11201', doc('11201', '齊桓公', '2025-07-17T00:36:17.000Z'));
await redis.set('fts:chinese:documents:not-a-hash', '鄭文公');
const hits = await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '5', 'fts:chinese:documents:*',
  'key', '鄭文公', '0', '10', 'id', 'textChi', 'visited']);
assert.deepEqual(hits, [['11199', '鄭文公<br / ...', '0']]);
const whole = await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '3', 'fts:chinese:documents:*',
  'key', '鄭文公']);
assert.equal(whole.length, 1);
const asObject = (flat) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
assert.deepEqual(asObject(whole[0]), doc('11199', '鄭文公', '2025-07-17T00:36:15.301Z'));
// Offset past the only hit.
assert.deepEqual(await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '5', 'fts:chinese:documents:*',
  'key', '鄭文公', '1', '10', 'id']), []);

// Raw interface (section IV).
assert.match(await redis.sendCommand(['FCALL_RO', 'VER', '0']), /^\d+\.\d+\.\d+$/);
const [all] = await redis.sendCommand(['FCALL_RO', 'COUNTKEYS', '0']);
assert.equal(all, String(await redis.sendCommand(['DBSIZE'])));
assert.deepEqual(await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '3',
  'fts:chinese:documents:*', 'key', '陳文公',
  'id', 'key', 'textChi', 'visited']), [['11200', '陳文公', '陳文公<br / ...', '0']]);
const chen = await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '3',
  'fts:chinese:documents:*', 'key', '陳文公']);
assert.deepEqual(asObject(chen[0]), doc('11200', '陳文公', '2025-07-17T00:36:16.000Z'));

// The wrapper.
assert.match(await redis.fCallRo('ver', [], []), /^\d+\.\d+\.\d+$/);
assert.equal((await redis.fCallRo('countKeys', [], []))[0], all);
assert.deepEqual(await redis.fCallRo('scanTextChi',
  ['fts:chinese:documents:*', 'key', '陳文公'],
  ['id', 'key', 'textChi', 'visited']), [['11200', '陳文公', '陳文公<br / ...', '0']]);
assert.deepEqual(asObject((await redis.fCallRo('scanTextChi',
  ['fts:chinese:documents:*', 'key', '陳文公']))[0]), doc('11200', '陳文公', '2025-07-17T00:36:16.000Z'));
assert.equal(await redis.fCall('zAddIncr', ['testz'], ['g']), 1);
assert.equal(await redis.fCallRo('zSumScore', ['testz']), 22);
assert.deepEqual(await redis.fCallRo('libs'), ['mylib', expected.map((e) => e[0])]);
await assert.rejects(redis.fCallRo('zAddIncr', ['testz'], ['a']),
  /Can not execute a script with write flag using \*_ro command/);

await redis.quit();
console.log('seed examples: all replies as in the guide');

// node-redis's cluster client against a luagate cluster: it discovers the nodes from one of
// them (CLUSTER SLOTS), follows -MOVED, and runs keys, a transaction, a script and a function
// on the nodes that own their slots. REDIS_URL names one node. Exits non-zero on a mismatch.
import { createCluster } from 'redis';
import assert from 'assert/strict';

const cluster = createCluster({ rootNodes: [{ url: process.env.REDIS_URL }] });
cluster.on('error', (e) => { console.error(e); process.exit(3); });
await cluster.connect();
assert.equal(cluster.masters.length, 2, 'two primaries');

const n = 200;
for (let i = 0; i < n; i++) await cluster.set(`key:${i}`, String(i));
for (let i = 0; i < n; i++) assert.equal(await cluster.get(`key:${i}`), String(i));

// A transaction and a multi-key command, each on one slot.
const replies = await cluster.multi().set('{user:7}name', 'ann').incr('{user:7}visits').exec();
assert.deepEqual(replies, ['OK', 1]);
assert.deepEqual(await cluster.mGet(['{user:7}name', '{user:7}visits']), ['ann', '1']);

// A script runs on the node of its keys.
const script = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
assert.equal(await cluster.eval(script, { keys: ['{user:7}visits'], arguments: ['4'] }), 5);

// A function is loaded on every primary (as on Redis Cluster), then called by key.
const lib = "#!lua name=clib\nredis.register_function('bump', function(k, a) return redis.call('INCRBY', k[1], a[1]) end)";
for (const m of cluster.masters) {
  const client = await cluster.nodeClient(m);
  assert.equal(await client.sendCommand(['FUNCTION', 'LOAD', 'REPLACE', lib]), 'clib');
}
for (const key of ['a', 'b', 'c', 'd']) {
  assert.equal(await cluster.sendCommand(key, false, ['FCALL', 'bump', '1', key, '3']), 3);
}

// Every key went to the primary serving its slot: the primaries' sizes add up.
let total = 0;
for (const m of cluster.masters) {
  const client = await cluster.nodeClient(m);
  total += await client.dbSize();
}
assert.equal(total, n + 2 + 4);
await cluster.quit();
console.log('cluster ok');

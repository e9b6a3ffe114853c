// The shared client the guide's scripts import (`import { redis } from './redis/redis.js'`),
// with the guide's fCall / fCallRo wrapper. REDIS_URL selects the server.
import { createClient } from 'redis';

export const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (err) => console.error('redis client error', err));

redis.fCall = function (name, keys = [], args = []) {
  const numkeys = keys.length.toString();
  return this.sendCommand(['FCALL', name, numkeys, ...keys, ...args]);
};

redis.fCallRo = function (name, keys = [], args = []) {
  const numkeys = keys.length.toString();
  return this.sendCommand(['FCALL_RO', name, numkeys, ...keys, ...args]);
};

// node-redis 4 calls it quit(); 5 calls it close().
redis.close ??= function () {
  return this.quit();
};

// The guide's section IV from Node.js: raw sendCommand calls, then the fCall / fCallRo wrapper.
//   node loader.js && node example.js
import { redis } from './redis/redis.js';

await redis.connect();

// Some data for the calls below.
await redis.hSet('fts:chinese:documents:11200', {
  id: '11200', key: '陳文公', textChi: '陳文公<br / ...', visited: '0',
  createdAt: new Date().toISOString(), updatedAt: '', updateIdent: '0',
});

// Raw interface
console.log(await redis.sendCommand(['FCALL_RO', 'VER', '0']));
console.log(await redis.sendCommand(['FCALL_RO', 'COUNTKEYS', '0']));
console.log(await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '3',
  'fts:chinese:documents:*', 'key', '陳文公',
  'id', 'key', 'textChi', 'visited']));
console.log(await redis.sendCommand(['FCALL_RO', 'SCANTEXTCHI', '3',
  'fts:chinese:documents:*', 'key', '陳文公']));

// The wrapper
console.log(await redis.fCallRo('ver', [], []));
console.log(await redis.fCallRo('countKeys', [], []));
console.log(await redis.fCallRo('scanTextChi',
  ['fts:chinese:documents:*', 'key', '陳文公'],
  ['id', 'key', 'textChi', 'visited']));
console.log(await redis.fCallRo('scanTextChi',
  ['fts:chinese:documents:*', 'key', '陳文公']));
console.log(await redis.fCall('zAddIncr', ['example:z'], ['a', 'b']));
console.log(await redis.fCallRo('zSumScore', ['example:z']));

await redis.close();
process.exit(0);

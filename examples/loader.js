// The guide's loader: FUNCTION LOAD REPLACE of mylib.lua through node-redis sendCommand.
//   REDIS_URL=redis://127.0.0.1:6379 node loader.js
import { redis } from './redis/redis.js';
import { readFile } from 'fs/promises';

/*
   main
*/
await redis.connect();

// Load Lua function from file
const luaScript = await readFile(new URL('./mylib.lua', import.meta.url), 'utf8');
console.log(await redis.sendCommand(['FUNCTION', 'LOAD', 'REPLACE', luaScript]), 'loaded');

await redis.close();
process.exit(0);

#!/usr/bin/env node
// Measures the limiter's storage on a redis-server of its own (started on a free port, nothing
// kept on disk, never the shared one): Redis memory per subject and Redis CPU per decision of
// the packed-log script (services/limiter/dist, so after `make build`), side by side with the
// sorted-set log DESIGN.md first described and with a fixed-window INCR, for reference.
//
//   node services/limiter/bench/storage.js [--subjects 100000] [--runs 3]
//
// Prints a table; every figure is the median of the runs (min-max in brackets).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const Redis = require('ioredis');
const { SLIDING_WINDOW_LUA } = require(path.join(__dirname, '..', 'dist', 'sliding-window-script.js'));
const { offsetWidth } = require(path.join(__dirname, '..', 'dist', 'sliding-window.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SUBJECTS = arg('subjects', 100_000);
const RUNS = arg('runs', 3);
const LIMIT = 10;
const WINDOW_MS = 600_000;

// The sorted-set log, as first designed: members unique within a microsecond, trimmed on each call.
const ZSET_LUA = `
local limit, window_ms, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window_ms * 1000)
local n = redis.call('ZCARD', KEYS[1])
if n + cost > limit then
  local e = redis.call('ZRANGE', KEYS[1], n - (limit - cost) - 1, n - (limit - cost) - 1, 'WITHSCORES')
  return {0, limit - n, math.ceil((tonumber(e[2]) + window_ms * 1000 - now) / 1000)}
end
for i = 1, cost do redis.call('ZADD', KEYS[1], now, now .. '-' .. (n + i)) end
redis.call('PEXPIRE', KEYS[1], window_ms)
return {1, limit - n - cost, 0}
`;
// The floor of any exact one-key design on Redis TIME: the three calls alone, no logic.
const FLOOR_LUA = `
redis.call('TIME')
redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], '0123456789012345678901234567890123456789012345678', 'PX', ARGV[2])
return {1, 0, 0, 0, 0}
`;
const INCR_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs, digits = 1) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}]`;

async function main() {
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'],
    { stdio: 'ignore' },
  );
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 2, retryStrategy: (n) => (n > 50 ? null : 50) });
  try {
    await new Promise((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(new Error('redis-server did not start')));
    });
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)[1];
    const shas = {
      ring: await redis.script('LOAD', SLIDING_WINDOW_LUA),
      zset: await redis.script('LOAD', ZSET_LUA),
      incr: await redis.script('LOAD', INCR_LUA),
      floor: await redis.script('LOAD', FLOOR_LUA),
    };
    const args = {
      ring: [LIMIT, WINDOW_MS, 1, `>I${offsetWidth(WINDOW_MS)}`],
      zset: [LIMIT, WINDOW_MS, 1],
      incr: [LIMIT, WINDOW_MS],
      floor: [LIMIT, WINDOW_MS],
    };

    // 1. Memory of one full subject (MEMORY USAGE), then per subject over many (used_memory).
    const memory = {};
    for (const kind of ['ring', 'zset', 'incr']) {
      await redis.flushall();
      const key = `rl:{service:12345}`;
      for (let i = 0; i < LIMIT; i++) await redis.evalsha(shas[kind], 1, key, ...args[kind]);
      const one = await redis.memory('USAGE', key);
      await redis.flushall();
      const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
      for (let start = 0; start < SUBJECTS; start += 1000) {
        const p = redis.pipeline();
        for (let s = start; s < Math.min(start + 1000, SUBJECTS); s++) {
          for (let i = 0; i < LIMIT; i++) p.evalsha(shas[kind], 1, `rl:{service:${100000 + s}}`, ...args[kind]);
        }
        await p.exec();
      }
      const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
      memory[kind] = { one, perSubject: (after - before) / SUBJECTS };
    }

    // 2. Redis CPU per decision: redis-benchmark, random subjects, pipelined (-P 16), 50 clients.
    const cpu = { ring: [], zset: [], incr: [], floor: [], ringDenied: [], zsetDenied: [] };
    const bench = async (kind, sha, a, keyPattern) => {
      await redis.config('RESETSTAT');
      execFileSync(
        'redis-benchmark',
        [
          '-p',
          String(port),
          '-q',
          '-n',
          String(SUBJECTS * 3),
          '-r',
          String(SUBJECTS),
          '-P',
          '16',
          '-c',
          '50',
          'evalsha',
          sha,
          '1',
          keyPattern,
          ...a.map(String),
        ],
        { stdio: 'ignore' },
      );
      const stats = await redis.info('commandstats');
      return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(stats)[1]);
    };
    for (let run = 0; run < RUNS; run++) {
      for (const kind of ['floor', 'ring', 'zset', 'incr']) {
        await redis.flushall();
        cpu[kind].push(await bench(kind, shas[kind], args[kind], 'rl:{service:__rand_int__}'));
      }
      // A subject at its limit: every call is a denial (the case under attack).
      for (const kind of ['ring', 'zset']) {
        await redis.flushall();
        for (let i = 0; i < LIMIT; i++) await redis.evalsha(shas[kind], 1, 'rl:{service:full}', ...args[kind]);
        cpu[`${kind}Denied`].push(await bench(kind, shas[kind], args[kind], 'rl:{service:full}'));
      }
    }

    const lines = [
      `Redis ${version}, ${SUBJECTS} subjects, policy ${LIMIT}/${WINDOW_MS / 60000}m, ${RUNS} runs (median [min-max])`,
      '',
      '| storage | MEMORY USAGE, one full subject | used_memory per full subject | Redis µs per decision, random subjects | µs per decision, subject at its limit |',
      '|---|---|---|---|---|',
      `| packed log, one string (ours) | ${memory.ring.one} B | ${memory.ring.perSubject.toFixed(0)} B | ${fmt(cpu.ring, 2)} | ${fmt(cpu.ringDenied, 2)} |`,
      `| sorted set (reference) | ${memory.zset.one} B | ${memory.zset.perSubject.toFixed(0)} B | ${fmt(cpu.zset, 2)} | ${fmt(cpu.zsetDenied, 2)} |`,
      `| fixed-window INCR (not exact) | ${memory.incr.one} B | ${memory.incr.perSubject.toFixed(0)} B | ${fmt(cpu.incr, 2)} | - |`,
      `| floor: TIME + GET + SET PX, no logic | - | - | ${fmt(cpu.floor, 2)} | - |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    redis.disconnect();
    server.kill('SIGTERM');
  }
}

main().catch((err) => {
  process.stderr.write(`storage bench: ${err.stack || err}\n`);
  process.exit(1);
});

// The gateway process (dist/main.js, built by `tsc --build`) and its session store at start: it
// listens only once the session Redis answers, so its first answer is never a 503 for want of
// sessions. The store is a redis-server of the test's own, stopped before the gateway starts.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, startPrivateRedis, TEST_TOKEN } from '@etu/testkit';
import { SESSION_KEY } from './system';

const MAIN = join(__dirname, '..', 'dist', 'main.js');

test('the gateway listens only once its session Redis answers, and then its first answers are pages, not 503', async () => {
  const redis = await startPrivateRedis();
  await redis.stop();
  const port = await freePort();
  const dead = () => `127.0.0.1:${port + 1}`;
  const gw = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: 'off',
      INTERNAL_TOKEN: TEST_TOKEN,
      SESSION_KEYS: SESSION_KEY,
      SESSION_REDIS_URL: `${redis.url}/0`,
      AUTH_ADDR: dead(),
      MARKET_ADDR: dead(),
      LIMITER_ADDR: dead(),
      STATS_ADDR: dead(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  gw.stdout.on('data', (d: Buffer) => (out += d.toString()));
  gw.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => gw.once('exit', (code) => resolve(code)));
  try {
    while (!out.includes('session Redis does not answer yet')) {
      if (gw.exitCode !== null) throw new Error(`gateway exited: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Nothing listens while the store is away.
    await expect(fetch(`http://127.0.0.1:${port}/login`)).rejects.toThrow();

    await redis.start();
    const statuses: number[] = [];
    for (let i = 0; i < 400 && statuses.length < 5; i++) {
      try {
        statuses.push((await fetch(`http://127.0.0.1:${port}/login`)).status);
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // Every answer, from the very first, is the login form.
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(out).toContain('gateway listening');
    gw.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    gw.kill('SIGKILL');
    await redis.stop();
  }
});

test('a gateway stopped while it waits for its session Redis exits at once, cleanly', async () => {
  const port = await freePort();
  const gw = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: 'off',
      INTERNAL_TOKEN: TEST_TOKEN,
      SESSION_KEYS: SESSION_KEY,
      SESSION_REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  gw.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => gw.once('exit', (code) => resolve(code)));
  while (!out.includes('session Redis does not answer yet')) await new Promise((r) => setTimeout(r, 50));
  gw.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(out).not.toContain('gateway listening');
});

// deploy/redis-*.conf with a real redis-server (this machine's; the image runs Redis 7.4)
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { exited, freePort, startRedisServer } from '@etu/testkit';
import { DEPLOY, redisConf } from './support';

const REDIS_ROLES = ['limiter', 'stats', 'sessions'] as const;

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** redis-server as compose starts it (common file + the role's), on loopback; `extra` overrides. */
function startRedis(dir: string, port: number, role: string, extra: string[] = []): Promise<ChildProcess> {
  // Loopback only for the test; everything else comes from the files.
  const args = [
    join(DEPLOY, 'redis-common.conf'),
    '--include',
    join(DEPLOY, `redis-${role}.conf`),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    ...extra,
  ];
  return startRedisServer(args, dir);
}

(hasRedisServer ? describe : describe.skip)('deploy/redis-*.conf (skipped when redis-server is not installed)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const start = async (role: string, port: number, extra: string[] = []) => {
    const child = await startRedis(join(dir, role), port, role, extra);
    children.push(child);
    return child;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etu-redis-conf-'));
    for (const role of REDIS_ROLES) mkdirSync(join(dir, role));
  });
  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(REDIS_ROLES)('%s: redis-server reads the two files as compose passes them', async (role) => {
    const port = await freePort();
    const child = await start(role, port);
    const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      const cfg = async (k: string) => ((await r.config('GET', k)) as string[])[1];
      const file = redisConf(role);
      expect(await cfg('maxmemory-policy')).toBe(file['maxmemory-policy']);
      expect(await cfg('appendonly')).toBe(file.appendonly);
      expect(await cfg('maxmemory')).toBe(String(Number.parseInt(file.maxmemory!, 10) * 1024 * 1024));
      expect(Number(await cfg('databases'))).toBeGreaterThanOrEqual(3);
      if (role !== 'sessions') expect(await cfg('appendfsync')).toBe(role === 'limiter' ? 'always' : 'everysec');
    } finally {
      r.disconnect();
    }
    child.kill('SIGTERM');
    await exited(child);
  });

  test('statistics: AOF every second; db 1 survives a kill -9', async () => {
    const port = await freePort();
    let child = await start('stats', port);
    const r = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      await r.zincrby('stats:logins', 3, 'user-42');
    } finally {
      r.disconnect();
    }
    // Past one fsync period, then a crash: no clean shutdown, no final fsync.
    await new Promise((res) => setTimeout(res, 1500));
    child.kill('SIGKILL');
    await exited(child);

    child = await start('stats', port);
    const after = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      expect(await after.zscore('stats:logins', 'user-42')).toBe('3');
    } finally {
      after.disconnect();
    }
    expect(existsSync(join(dir, 'stats', 'appendonlydir'))).toBe(true);
    child.kill('SIGTERM');
    await exited(child);
  });

  test('full: the limiter and the statistics refuse writes (OOM), the sessions drop the least recently used', async () => {
    const fill = async (role: string) => {
      const port = await freePort();
      // A tiny budget so that it fills in a moment; everything else from the files.
      const child = await start(role, port, ['--maxmemory', '4mb', '--appendonly', 'no', '--save', '']);
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      const value = 'x'.repeat(400);
      let written = 0;
      let error = '';
      try {
        for (let i = 0; i < 20_000 && !error; i += 500) {
          const p = r.pipeline();
          for (let j = i; j < i + 500; j++) p.set(`k:${j}`, value, 'PX', 600_000);
          for (const [err] of (await p.exec())!) {
            if (err) error ||= err.message;
            else written++;
          }
        }
        // Keys kept among the 1,000 written first (the least recently used) and the 1,000 last.
        const kept = async (from: number) => {
          const p = r.pipeline();
          for (let j = from; j < from + 1000; j++) p.exists(`k:${j}`);
          return (await p.exec())!.reduce((n, [, v]) => n + Number(v), 0);
        };
        return { written, error, keys: await r.dbsize(), oldKept: await kept(0), newKept: await kept(19_000) };
      } finally {
        r.disconnect();
        child.kill('SIGTERM');
        await exited(child);
      }
    };
    for (const role of ['limiter', 'stats']) {
      const res = await fill(role);
      expect([role, res.error]).toEqual([role, expect.stringMatching(/^OOM /)]);
      expect(res.keys).toBe(res.written);
    }
    const sessions = await fill('sessions');
    expect(sessions.error).toBe('');
    expect(sessions.written).toBe(20_000);
    expect(sessions.keys).toBeLessThan(20_000);
    // Redis's LRU is approximate (it samples keys): the oldest key itself survives about one run
    // in five, so the assertion is on many keys. Measured: 57–177 of the oldest 1,000 kept against
    // 821–829 of the newest; a random eviction would keep about as many of each.
    expect(sessions.oldKept * 3).toBeLessThan(sessions.newKept);
  });
});

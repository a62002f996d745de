// deploy/redis.conf with a real redis-server (this machine's; the image runs Redis 7.4)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '@etu/testkit';
import { DEPLOY } from './support';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
async function startRedis(dir: string, port: number): Promise<ChildProcess> {
  // Loopback only for the test; everything else comes from the file. The file sends the log to
  // stdout, where Redis says when it is ready (after loading the append-only file).
  const child = spawn('redis-server', [join(DEPLOY, 'redis.conf'), '--port', String(port), '--bind', '127.0.0.1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise<void>((ok, ko) => {
    const timer = setTimeout(() => ko(new Error(`redis-server not ready after 10 s:\n${log}`)), 10_000);
    const onData = (d: Buffer) => {
      log += d;
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      ko(new Error(`redis-server exited:\n${log}`));
    });
  });
  return child;
}

const stopped = (child: ChildProcess) => new Promise<void>((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));

(hasRedisServer ? describe : describe.skip)('deploy/redis.conf (skipped when redis-server is not installed)', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etu-redis-conf-'));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await stopped(child);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('AOF every second, noeviction; statistics in db 1 survive a kill -9', async () => {
    const port = await freePort();
    child = await startRedis(dir, port);
    const r = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      const cfg = async (k: string) => ((await r.config('GET', k)) as string[])[1];
      expect(await cfg('appendonly')).toBe('yes');
      expect(await cfg('appendfsync')).toBe('everysec');
      expect(await cfg('maxmemory-policy')).toBe('noeviction');
      expect(Number(await cfg('databases'))).toBeGreaterThanOrEqual(3);
      expect(Number(await cfg('maxmemory'))).toBeGreaterThan(0);
      await r.zincrby('stats:logins', 3, 'user-42');
      await r.select(0);
      await r.set('rl:{login:user-42}', 'x', 'PX', 600_000);
    } finally {
      r.disconnect();
    }
    // Past one fsync period, then a crash: no clean shutdown, no final fsync.
    await new Promise((res) => setTimeout(res, 1500));
    child.kill('SIGKILL');
    await stopped(child);

    child = await startRedis(dir, port);
    const after = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      expect(await after.zscore('stats:logins', 'user-42')).toBe('3');
    } finally {
      after.disconnect();
    }
    expect(existsSync(join(dir, 'appendonlydir'))).toBe(true);
    child.kill('SIGTERM');
    await stopped(child);
  });
});

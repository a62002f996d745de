// Test support shared by every package's tests: a Redis db of the test's own on the shared
// server, a private redis-server to kill and restart, free ports, a quiet logger. Part of the
// dev-only workspace @etu/testkit: no production package depends on it, no image contains it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import Redis from 'ioredis';
import pino from 'pino';
import { createLogger, type Logger } from '@etu/common';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Databases 0-2 serve `make run`; 15 holds the claims; tests take 3-14. */
const FIRST_TEST_DB = 3;
const LAST_TEST_DB = 14;
const CLAIM_DB = 15;
const TEST_DBS = Array.from({ length: LAST_TEST_DB - FIRST_TEST_DB + 1 }, (_, i) => FIRST_TEST_DB + i);

export interface ClaimedRedisDbs {
  /** redis://host:port/<db> for each claimed database. */
  urls: string[];
  dbs: number[];
  release(): Promise<void>;
}

function urlForDb(db: number): string {
  const u = new URL(TEST_REDIS_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Claims `count` Redis databases for this test file alone (SET NX in db 15 with a TTL, so a
 * crashed run frees them after 15 minutes), flushed before use and on release. Lets test files
 * run in parallel, and beside a local `make run`, without touching each other's keys.
 */
export async function claimRedisDbs(count = 1, waitMs = 60_000, candidates?: number[]): Promise<ClaimedRedisDbs> {
  const u = new URL(TEST_REDIS_URL);
  u.pathname = `/${CLAIM_DB}`;
  const admin = new Redis(u.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  const owner = `${process.pid}:${randomBytes(4).toString('hex')}`;
  const dbs: number[] = [];
  const started = Date.now();
  try {
    while (dbs.length < count) {
      for (const db of candidates ?? TEST_DBS) {
        if (dbs.length >= count) break;
        if (dbs.includes(db)) continue;
        const key = `etu:test-claim:${db}`;
        let ok = await admin.set(key, owner, 'EX', 900, 'NX');
        if (ok !== 'OK' && isDeadLocalOwner(await admin.get(key))) {
          // A test process of this machine died holding it (killed run): take it over.
          await admin.del(key);
          ok = await admin.set(key, owner, 'EX', 900, 'NX');
        }
        if (ok === 'OK') dbs.push(db);
      }
      if (dbs.length < count) {
        if (Date.now() - started > waitMs) throw new Error(`no free Redis test database (3-14) after ${waitMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const db of dbs) {
      const c = new Redis(urlForDb(db), { maxRetriesPerRequest: 1 });
      await c.flushdb();
      c.disconnect();
    }
  } catch (err) {
    for (const db of dbs) await admin.del(`etu:test-claim:${db}`);
    admin.disconnect();
    throw err;
  }
  return {
    urls: dbs.map(urlForDb),
    dbs,
    async release() {
      for (const db of dbs) {
        // Only a database still ours is flushed: never one another run has taken over since.
        if ((await admin.get(`etu:test-claim:${db}`)) !== owner) continue;
        const c = new Redis(urlForDb(db), { maxRetriesPerRequest: 1 });
        await c.flushdb();
        c.disconnect();
        await admin.del(`etu:test-claim:${db}`);
      }
      admin.disconnect();
    },
  };
}

/** True when a claim's owner (`<pid>:<random>`) is a process that no longer exists on this machine. */
function isDeadLocalOwner(owner: string | null): boolean {
  const pid = Number(owner?.split(':')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL the server (a crash, not a clean stop). */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of the test's own on a free port (nothing kept on disk), for fault tests. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      try {
        await c.connect();
        await c.ping();
        await c.quit();
        return;
      } catch {
        c.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  };
  const kill = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) {
        resolve();
        return;
      }
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  await start();
  return { url, port, start, kill: () => kill('SIGKILL'), stop: () => kill('SIGTERM') };
}

/**
 * redis-server started with `args` (e.g. a deploy config file and overrides) in `cwd`, resolved
 * once it says it is ready (after loading its append-only file), for tests of a configuration.
 * The config must log to stdout (`logfile ""`).
 */
export async function startRedisServer(args: string[], cwd: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((ok, ko) => {
    const timer = setTimeout(() => ko(new Error(`redis-server not ready after 10 s:\n${log}`)), 10_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      ko(new Error(`redis-server exited:\n${log}`));
    });
  });
  return child;
}

/** Resolves when `child` has exited (at once if it has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise<void>((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));
}

/** A logger that writes nowhere (or into `lines`, to assert what would have been logged). */
export function testLogger(lines?: string[]): Logger {
  if (!lines) return pino({ level: 'silent' });
  return createLogger('test', 'trace', { write: (s: string) => void lines.push(s) });
}

export const TEST_TOKEN = 'test-internal-token-0123456789abcdef';

export interface TcpRelay {
  /** The relay's own port on 127.0.0.1: point the part under test here instead of at the target. */
  port: number;
  /** Like a crash of the target: open connections reset, new ones refused. */
  cut(): Promise<void>;
  /** Accept connections again on the same port. */
  restore(): Promise<void>;
  /** Stop (or resume) passing the client's bytes on: requests wait, in order, as with a stuck server. */
  holdRequests(on: boolean): void;
  /** Stop (or resume) passing the target's answers back: the connection stays open, replies wait. */
  holdReplies(on: boolean): void;
  /**
   * Resets (both sides) any connection whose client sends bytes containing `text` — e.g. the
   * MariaDB driver's `SET time_zone` right after its handshake — instead of passing them on; null stops.
   */
  cutWhenClientSends(text: string | null): void;
  close(): Promise<void>;
}

/**
 * Ends a connection with a reset (RST), as a crashed peer would. A socket whose writing side was
 * already ended (the other side closed: `end()` was passed on) cannot be reset: Node's reset then
 * fails (EINVAL, a shutdown is pending) and the socket's handle is never closed, which kept the
 * test process alive ("A worker process has failed to exit gracefully"). It is destroyed instead.
 */
function reset(sock: Socket): void {
  if (sock.writableEnded) sock.destroy();
  else sock.resetAndDestroy();
}

/**
 * A TCP relay of the test's own in front of a MariaDB or Redis, to make it go away, hang or come
 * back without touching the shared server.
 */
export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const port = await freePort();
  const pairs = new Set<{ down: Socket; up: Socket }>();
  let server: Server | undefined;
  let requestsHeld = false;
  let repliesHeld = false;
  let cutOn: string | null = null;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer((down) => {
        const up = connect(target.port, target.host);
        const pair = { down, up };
        pairs.add(pair);
        const drop = () => {
          pairs.delete(pair);
          down.destroy();
          up.destroy();
        };
        for (const sock of [down, up]) sock.on('error', drop).on('close', drop);
        down.on('data', (chunk: Buffer) => {
          if (cutOn === null || !chunk.toString('latin1').includes(cutOn)) {
            if (!up.write(chunk)) {
              down.pause();
              up.once('drain', () => requestsHeld || down.resume());
            }
            return;
          }
          pairs.delete(pair);
          reset(down);
          reset(up);
        });
        down.on('end', () => up.end());
        if (requestsHeld) down.pause();
        if (!repliesHeld) up.pipe(down);
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        server = srv;
        resolve();
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const { down, up } of pairs) {
        reset(down);
        reset(up);
      }
      pairs.clear();
      const srv = server;
      server = undefined;
      if (srv) srv.close(() => resolve());
      else resolve();
    });
  await listen();
  return {
    port,
    cut,
    restore: listen,
    holdRequests(on) {
      requestsHeld = on;
      for (const { down } of pairs) {
        if (on) down.pause();
        else down.resume();
      }
    },
    holdReplies(on) {
      repliesHeld = on;
      for (const { down, up } of pairs) {
        if (on) {
          up.unpipe(down);
          up.pause();
        } else up.pipe(down);
      }
    },
    cutWhenClientSends(text) {
      cutOn = text;
    },
    close: cut,
  };
}

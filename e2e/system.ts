// The whole system for browser tests: every part's built entry point (dist/main.js, built by
// `tsc --build`, which `make test` runs before jest) spawned as its own process with its
// configuration in the environment, on free ports, with a database and Redis dbs of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkHealth, listParts } from '@etu/common';
import { claimRedisDbs, freePort, TEST_TOKEN, type ClaimedRedisDbs } from '@etu/testkit';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { Accounts } from '@etu/auth';
import { createPrismaClient } from '@etu/db';
import { testLogger } from '@etu/testkit';

const ROOT = join(__dirname, '..');

interface Part {
  name: string;
  main: string;
  proc?: ChildProcess;
  output: string[];
}

export interface RunningSystem {
  url: string;
  databaseUrl: string;
  /** Last lines each part wrote (for a failing test's message). */
  logs: () => string;
  /** What one part has written so far (its last 2,000 chunks of stdout and stderr). */
  output: (part: string) => string;
  /** Each part's /metrics URL (its own METRICS_PORT, a free port). */
  metricsUrls: Record<string, string>;
  /** The environment every part was started with (MAIL_OUTBOX_DIR: where the gateway's mails are). */
  env: Record<string, string>;
  /** RunningParts.restart. */
  restart: RunningParts['restart'];
  stop(): Promise<void>;
}

async function waitFor(what: string, check: () => Promise<boolean>, parts: Part[], timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = parts.find((p) => p.proc && p.proc.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.proc!.exitCode}):\n${dead.output.slice(-20).join('')}`);
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Stores {
  databaseUrl: string;
  limiterRedisUrl: string;
  statsRedisUrl: string;
  sessionRedisUrl: string;
}

export interface RunningParts {
  url: string;
  /** The environment every part was started with (addresses, stores, secrets). */
  env: Record<string, string>;
  logs: () => string;
  /** What one part has written so far (its last 2,000 chunks of stdout and stderr). */
  output: (part: string) => string;
  /** Each part's /metrics URL (its own METRICS_PORT, a free port). */
  metricsUrls: Record<string, string>;
  /**
   * Restarts one gRPC part as an operator would: SIGTERM, wait for the exit, start it again on
   * the same address; resolves once it is SERVING, with how long it was away.
   */
  /** Stops `part` (SIGTERM), waits `pauseMs` more (a slow restart), starts it again, waits for SERVING. */
  restart(part: string, pauseMs?: number): Promise<{ exitCode: number | null; awayMs: number; servingMs: number }>;
  /** Stops the parts (SIGTERM, then SIGKILL after 10 s); the stores stay. */
  stop(): Promise<void>;
}

/**
 * Every part as its own process on free ports, over the given stores; resolves once all are ready.
 * A port found free can be taken by another test process before the part binds it: a start that
 * failed that way is made again on new ports (at most 3 times); any other failure is thrown.
 */
export async function startParts(stores: Stores, extraEnv: Record<string, string> = {}): Promise<RunningParts> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPartsOnce(stores, extraEnv);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|No address added/.test((err as Error).message)) throw err;
    }
  }
}

async function startPartsOnce(stores: Stores, extraEnv: Record<string, string>): Promise<RunningParts> {
  const parts: Part[] = listParts().map((p) => ({ name: p.name, main: p.run[0]!, output: [] }));
  for (const p of parts) {
    if (!existsSync(join(ROOT, p.main))) throw new Error(`${p.main} is missing: run \`npx tsc --build\` (make test does) first`);
  }
  try {
    // A free port per part, under the variable parts.json names for it.
    const addrs = Object.fromEntries(
      await Promise.all(
        listParts().map(async (p) => [p.addrVar, p.kind === 'grpc' ? `127.0.0.1:${await freePort()}` : String(await freePort())] as const),
      ),
    );
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      INTERNAL_TOKEN: TEST_TOKEN,
      SESSION_KEYS: 'e2e-session-key-0123456789abcdef',
      DATABASE_URL: stores.databaseUrl,
      LIMITER_REDIS_URL: stores.limiterRedisUrl,
      STATS_REDIS_URL: stores.statsRedisUrl,
      SESSION_REDIS_URL: stores.sessionRedisUrl,
      ...addrs,
      HOST: '127.0.0.1',
      // The gateway's mails (a sale, a reset link) as .eml files, away from the checkout's outbox/.
      MAIL_OUTBOX_DIR: join(tmpdir(), `etu-e2e-outbox-${process.pid}-${randomBytes(4).toString('hex')}`),
      ...extraEnv,
    };
    // METRICS_PORT is one variable read by every part: each gets its own free port.
    const metricsPorts = Object.fromEntries(await Promise.all(parts.map(async (p) => [p.name, await freePort()] as const)));
    const launch = (p: Part) => {
      const proc = spawn(process.execPath, [join(ROOT, p.main)], {
        env: { ...env, METRICS_PORT: String(metricsPorts[p.name]) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (d: Buffer) => {
        p.output.push(d.toString());
        if (p.output.length > 2000) p.output.shift();
      };
      proc.stdout.on('data', keep);
      proc.stderr.on('data', keep);
      p.proc = proc;
    };
    for (const p of parts) launch(p);
    for (const addr of listParts()
      .filter((p) => p.kind === 'grpc')
      .map((p) => env[p.addrVar]!)) {
      await waitFor(addr, async () => (await checkHealth(addr, '', 500)) === 'SERVING', parts);
    }
    const url = `http://127.0.0.1:${env.PORT!}`;
    await waitFor('gateway', async () => (await fetch(`${url}/readyz`)).status === 200, parts);
    return {
      url,
      env,
      logs: () => parts.map((p) => `--- ${p.name}\n${p.output.slice(-20).join('')}`).join('\n'),
      output: (name) => parts.find((p) => p.name === name)?.output.join('') ?? '',
      metricsUrls: Object.fromEntries(parts.map((p) => [p.name, `http://127.0.0.1:${metricsPorts[p.name]}/metrics`])),
      async restart(name, pauseMs = 0) {
        const p = parts.find((x) => x.name === name);
        const info = listParts().find((x) => x.name === name);
        if (!p?.proc || info?.kind !== 'grpc') throw new Error(`${name} is not a running gRPC part`);
        const addr = env[info.addrVar]!;
        const stopped = Date.now();
        const proc = p.proc;
        const exitCode = await new Promise<number | null>((resolve) => {
          proc.once('exit', (code) => resolve(code));
          proc.kill('SIGTERM');
        });
        const exitedAt = Date.now();
        await new Promise((r) => setTimeout(r, pauseMs));
        launch(p);
        await waitFor(`${name} after its restart`, async () => (await checkHealth(addr, '', 500)) === 'SERVING', parts, 60_000, 20);
        return { exitCode, awayMs: exitedAt - stopped, servingMs: Date.now() - exitedAt };
      },
      stop: async () => {
        await stopParts(parts);
        rmSync(env.MAIL_OUTBOX_DIR!, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopParts(parts);
    throw err;
  }
}

export async function startWholeSystem(extraEnv: Record<string, string> = {}): Promise<RunningSystem> {
  let db: TestDatabase | undefined;
  let redis: ClaimedRedisDbs | undefined;
  try {
    [db, redis] = await Promise.all([createTestDatabase(), claimRedisDbs(3)]);
    const [limiterRedisUrl, statsRedisUrl, sessionRedisUrl] = redis.urls as [string, string, string];
    const running = await startParts({ databaseUrl: db.url, limiterRedisUrl, statsRedisUrl, sessionRedisUrl }, extraEnv);
    const dbRef = db;
    const redisRef = redis;
    return {
      url: running.url,
      databaseUrl: db.url,
      logs: running.logs,
      output: running.output,
      metricsUrls: running.metricsUrls,
      env: running.env,
      restart: (part, pauseMs) => running.restart(part, pauseMs),
      async stop() {
        await running.stop();
        await Promise.all([dbRef.drop(), redisRef.release()]);
      },
    };
  } catch (err) {
    await Promise.all([db?.drop(), redis?.release()]);
    throw err;
  }
}

async function stopParts(parts: Part[]): Promise<void> {
  await Promise.all(
    parts.map(
      (p) =>
        new Promise<void>((resolve) => {
          const proc = p.proc;
          if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
            resolve();
            return;
          }
          const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          proc.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          proc.kill('SIGTERM');
        }),
    ),
  );
}

/** Creates student accounts straight in the system's database, as the seed does. */
export async function registerStudents(
  databaseUrl: string,
  people: { firstName: string; lastName: string; email: string; password: string }[],
): Promise<void> {
  const prisma = createPrismaClient(databaseUrl);
  try {
    const accounts = new Accounts(prisma, testLogger());
    for (const p of people) await accounts.register(p);
  } finally {
    await prisma.$disconnect();
  }
}

// A stats server of the test's own: real gRPC on port 0, real Redis (a claimed database).
import { createServiceClient, type PromiseClient } from '@etu/common';
import { claimRedisDbs, TEST_TOKEN, testLogger, type ClaimedRedisDbs } from '@etu/testkit';
import Redis from 'ioredis';
import { stats } from '@etu/proto';
import { startStatsServer, type StatsServer } from '../src';
import { COUNT_FIELDS, LAST_LOGIN, LOGINS, userKey } from '../src/keys';

export interface TestStats {
  server: StatsServer;
  addr: string;
  call: PromiseClient<stats.StatsServiceClient>;
  close(): Promise<void>;
}

export async function startTestStats(
  redisUrl: string,
  extra: { redisTimeoutMs?: number; healthIntervalMs?: number; dedupTtlMs?: number } = {},
): Promise<TestStats> {
  const server = await startStatsServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    redisUrl,
    healthIntervalMs: extra.healthIntervalMs ?? 200,
    dedupTtlMs: extra.dedupTtlMs,
    // This machine's CPUs and its Redis are shared with other test runs: a generous timeout
    // unless the test is about timeouts (the server's own default is much shorter).
    redisTimeoutMs: extra.redisTimeoutMs ?? 5000,
    graceMs: 1000,
  });
  const addr = `127.0.0.1:${server.port}`;
  const client = createServiceClient(stats.StatsServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 10_000 });
  return {
    server,
    addr,
    call: client.call,
    async close() {
      client.close();
      await server.close();
    },
  };
}

/**
 * For a test file: a Redis database of its own, a stats server on it and a plain Redis client
 * to look at the keys, set up in beforeAll and released in afterAll.
 */
export function useTestStats(): { t: TestStats; redis: Redis; dbs: ClaimedRedisDbs } {
  const env = {} as { t: TestStats; redis: Redis; dbs: ClaimedRedisDbs };
  beforeAll(async () => {
    env.dbs = await claimRedisDbs(1);
    env.t = await startTestStats(env.dbs.urls[0]!);
    env.redis = new Redis(env.dbs.urls[0]!);
  });
  afterAll(async () => {
    env.redis?.disconnect();
    await env.t?.close();
    await env.dbs?.release();
  });
  return env;
}

export const { SERVICE_KIND_VENTE: VENTE, SERVICE_KIND_ACHAT: ACHAT } = stats.ServiceKind;
export const { OUTCOME_ALLOWED: ALLOWED, OUTCOME_DENIED: DENIED } = stats.Outcome;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], rnd: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * One user's counters, read straight from the stats Redis db (the keys documented in the
 * README), in the shape the removed GetUserUsage RPC answered: what the tests check recorded.
 */
export async function readUsage(redis: Redis, userId: string) {
  const [logins, last, counts] = await Promise.all([
    redis.zscore(LOGINS, userId),
    redis.zscore(LAST_LOGIN, userId),
    redis.hmget(userKey(userId), ...COUNT_FIELDS),
  ]);
  const [va, aa, vd, ad] = counts.map((n) => Number(n ?? 0));
  return {
    userId,
    logins: Number(logins ?? 0),
    ...(last === null ? {} : { lastLoginAt: new Date(Number(last)) }),
    allowed: [
      { service: VENTE, count: va },
      { service: ACHAT, count: aa },
    ],
    denied: [
      { service: VENTE, count: vd },
      { service: ACHAT, count: ad },
    ],
  };
}

// Test support for the limiter: a real limiter server on port 0 over a Redis db of the test
// file's own, a unary client, and a direct Redis connection to observe what is stored and to
// read Redis's clock (the limiter's clock).
import * as grpc from '@grpc/grpc-js';
import Redis from 'ioredis';
import { checkHealth, createServiceClient, type ServiceClient } from '@etu/common';
import { claimRedisDbs, TEST_TOKEN, testLogger, type ClaimedRedisDbs } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { startLimiterServer, type LimiterServer } from '../src/server';
import { decodeLog, keyFor } from '../src/sliding-window';

export type UnaryClient = ServiceClient<limiter.LimiterServiceClient>;

export interface Harness {
  server: LimiterServer;
  addr: string;
  redisUrl: string;
  client: UnaryClient;
  redis: Redis;
  /** Redis TIME in µs. */
  redisNowUs(): Promise<number>;
  /** Event times (µs, oldest first) stored for a subject; [] when there is no key. */
  storedTimes(policy: string, subject: string): Promise<number[]>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitServing(addr: string, want: 'SERVING' | 'NOT_SERVING' = 'SERVING', withinMs = 5000): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    const s = await checkHealth(addr, '', 500).catch(() => 'UNKNOWN');
    if (s === want) return;
    if (Date.now() > until) throw new Error(`health still ${s}, wanted ${want}`);
    await sleep(20);
  }
}

export async function startHarness(policies?: string, redisUrl?: string): Promise<Harness> {
  let claim: ClaimedRedisDbs | undefined;
  if (!redisUrl) {
    claim = await claimRedisDbs(1);
    redisUrl = claim.urls[0]!;
  }
  const server = await startLimiterServer({ addr: '127.0.0.1:0', log: testLogger(), token: TEST_TOKEN, redisUrl, policies, graceMs: 100 });
  const addr = `127.0.0.1:${server.port}`;
  await waitServing(addr);
  const client = createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 5000 });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const redisNowUs = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1e6 + Number(us);
  };
  return {
    server,
    addr,
    redisUrl,
    client,
    redis,
    redisNowUs,
    async storedTimes(policy, subject) {
      const v = await redis.getBuffer(keyFor(policy, subject));
      return v ? decodeLog(v).timesUs : [];
    },
    async close() {
      client.close();
      redis.disconnect();
      await server.close();
      await claim?.release();
    },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected a rejection');
}

/** A unary call without the internal token. */
export function callWithoutToken(
  addr: string,
  method: 'consume' | 'consumeBatch' | 'peek' | 'reset',
  req: object,
): Promise<grpc.ServiceError> {
  const raw = new limiter.LimiterServiceClient(addr, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const fn = raw[method].bind(raw) as unknown as (
      r: object,
      md: grpc.Metadata,
      o: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null) => void,
    ) => void;
    fn(req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => {
      raw.close();
      resolve(e as grpc.ServiceError);
    });
  });
}

/** Writes a log in the stored format (width, base, offsets), to set up states time cannot reach in a test. */
export function encodeLog(width: number, baseUs: number, timesUs: number[]): Buffer {
  const buf = Buffer.alloc(8 + width * timesUs.length);
  buf[0] = width;
  buf[1] = Math.floor(baseUs / 2 ** 48);
  buf.writeUIntBE(baseUs % 2 ** 48, 2, 6);
  timesUs.forEach((t, i) => buf.writeUIntBE(t - baseUs, 8 + i * width, width));
  return buf;
}

// The script itself, through SlidingWindowStore on real Redis: the store returns the Redis
// TIME each decision was taken at, so every figure is checked for exact equality.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createRedis, waitReady } from '@etu/common';
import { claimRedisDbs, type ClaimedRedisDbs } from '@etu/testkit';
import type { Policy } from '../src/policies';
import { decodeLog, keyFor, offsetWidth, SlidingWindowStore } from '../src/sliding-window';

let claim: ClaimedRedisDbs;
let redis: Redis;
let store: SlidingWindowStore;
const service: Policy = { name: 'service', limit: 10, windowMs: 600_000 };
const W = 600_000_000;

beforeAll(async () => {
  claim = await claimRedisDbs(1);
  redis = createRedis(claim.urls[0]!, { commandTimeoutMs: null }) as Redis; // a redis:// URL: one Redis
  await waitReady(redis);
  store = new SlidingWindowStore(redis, { timeoutMs: 2000 });
});
afterAll(async () => {
  redis.disconnect();
  await claim.release();
});

const stored = async (policy: string, subject: string) => {
  const v = await redis.getBuffer(keyFor(policy, subject));
  return v ? decodeLog(v) : undefined;
};
const ceilMs = (us: number) => Math.ceil(us / 1000);

test('each admitted event is stored at the Redis time of its decision; the 11th gets the exact wait', async () => {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const d = await store.decide({ policy: service, subject: 'exact', cost: 1 });
    expect(d).toMatchObject({ allowed: true, remaining: 9 - i, retryAfterMs: 0, resetAfterMs: 600_000 });
    times.push(d.nowUs);
  }
  expect((await stored('service', 'exact'))!.timesUs).toEqual(times);
  const d = await store.decide({ policy: service, subject: 'exact', cost: 1 });
  expect(d).toEqual({
    allowed: false,
    remaining: 0,
    retryAfterMs: ceilMs(times[0]! + W - d.nowUs),
    resetAfterMs: ceilMs(times[9]! + W - d.nowUs),
    nextReleaseMs: ceilMs(times[0]! + W - d.nowUs),
    nowUs: d.nowUs,
  });
  const peek = await store.decide({ policy: service, subject: 'exact', cost: 0 });
  expect(peek.retryAfterMs).toBe(ceilMs(times[0]! + W - peek.nowUs));
  expect(peek.nextReleaseMs).toBe(ceilMs(times[0]! + W - peek.nowUs));
  // cost 3 waits for the 8th newest, i.e. the 3rd oldest, event.
  const three = await store.decide({ policy: service, subject: 'exact', cost: 3 });
  expect(three.retryAfterMs).toBe(ceilMs(times[2]! + W - three.nowUs));
  expect((await stored('service', 'exact'))!.timesUs).toEqual(times);
});

test('a full log of 10 events for a 10-minute window is 48 bytes and expires one window after its newest event', async () => {
  let last = 0;
  for (let i = 0; i < 10; i++) last = (await store.decide({ policy: service, subject: 'size', cost: 1 })).nowUs;
  expect(offsetWidth(600_000)).toBe(4);
  expect(await redis.strlen(keyFor('service', 'size'))).toBe(8 + 10 * 4);
  // Expiry at the newest event's time + window, rounded up to the ms: never before it leaves.
  expect(Number(await redis.call('PEXPIRETIME', keyFor('service', 'size')))).toBe(Math.ceil((last + W) / 1000));
  const [s, us] = await redis.time();
  const pttl = await redis.pttl(keyFor('service', 'size'));
  expect(pttl).toBeLessThanOrEqual(600_001);
  expect(pttl).toBeGreaterThanOrEqual(600_000 - Math.ceil((Number(s) * 1e6 + Number(us) - last) / 1000) - 2);
});

test('several events in one call take one slot each, all at the same microsecond', async () => {
  const d = await store.decide({ policy: service, subject: 'same-us', cost: 5 });
  expect(d).toMatchObject({ allowed: true, remaining: 5 });
  expect((await stored('service', 'same-us'))!.timesUs).toEqual(Array(5).fill(d.nowUs));
});

test('an event older than the window is dropped from the log on the next admission', async () => {
  const p: Policy = { name: 'short', limit: 3, windowMs: 50 };
  const a = await store.decide({ policy: p, subject: 'drop', cost: 2 });
  await new Promise((r) => setTimeout(r, 60));
  const b = await store.decide({ policy: p, subject: 'drop', cost: 1 });
  expect(b).toMatchObject({ allowed: true, remaining: 2, nextReleaseMs: 50 }); // the new event is now the oldest counted
  expect(b.nowUs - a.nowUs).toBeGreaterThanOrEqual(50_000);
  expect((await stored('short', 'drop'))!.timesUs).toEqual([b.nowUs]);
});

test('if the Redis clock steps backwards, time does not run backwards for the subject', async () => {
  // A log whose newest event is 5 s in the future (as after a clock step back).
  const [s, us] = await redis.time();
  const now = Number(s) * 1e6 + Number(us);
  const future = now + 5_000_000;
  const buf = Buffer.alloc(8 + 4);
  buf[0] = 4;
  buf[1] = Math.floor(future / 2 ** 48);
  buf.writeUIntBE(future % 2 ** 48, 2, 6);
  buf.writeUIntBE(0, 8, 4);
  await redis.set(keyFor('service', 'clock'), buf, 'PX', 600_000);
  const d = await store.decide({ policy: service, subject: 'clock', cost: 1 });
  expect(d).toMatchObject({ allowed: true, remaining: 8, nowUs: future });
  expect((await stored('service', 'clock'))!.timesUs).toEqual([future, future]);
});

test('decideMany: one script call, decided in order at one Redis instant, one result per request', async () => {
  const tiny: Policy = { name: 'tiny', limit: 2, windowMs: 600_000 };
  const rs = await store.decideMany([
    { policy: tiny, subject: 'many', cost: 1 },
    { policy: tiny, subject: 'many', cost: 2 },
    { policy: tiny, subject: 'many', cost: 1 },
    { policy: tiny, subject: 'many', cost: 1 },
    { policy: tiny, subject: 'other', cost: 0 },
  ]);
  expect(rs.map((r) => (r instanceof Error ? r : [r.allowed, r.remaining]))).toEqual([
    [true, 1],
    [false, 1],
    [true, 0],
    [false, 0],
    [true, 2],
  ]);
  // One EVALSHA for the whole batch: every decision carries the same Redis TIME.
  expect(new Set(rs.map((r) => (r as { nowUs: number }).nowUs)).size).toBe(1);
  expect(await store.decideMany([])).toEqual([]);
});

test('decideMany: a key holding another type fails that item only', async () => {
  await redis.rpush(keyFor('service', 'a-list'), 'x');
  const rs = await store.decideMany([
    { policy: service, subject: 'before-list', cost: 1 },
    { policy: service, subject: 'a-list', cost: 1 },
    { policy: service, subject: 'after-list', cost: 1 },
  ]);
  expect(rs[0]).toMatchObject({ allowed: true, remaining: 9 });
  expect(rs[1]).toBeInstanceOf(Error);
  expect((rs[1] as Error).message).toMatch(/WRONGTYPE/);
  expect(rs[2]).toMatchObject({ allowed: true, remaining: 9 });
  expect(await redis.lrange(keyFor('service', 'a-list'), 0, -1)).toEqual(['x']);
  await expect(store.decide({ policy: service, subject: 'a-list', cost: 1 })).rejects.toThrow(/WRONGTYPE/);
});

test('the inspect tool (dist/inspect.js, built by make test) shows the stored events and what is counted', async () => {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push((await store.decide({ policy: service, subject: 'inspect me', cost: 1 })).nowUs);
  const tool = join(__dirname, '..', 'dist', 'inspect.js');
  expect(existsSync(tool)).toBe(true);
  const run = (args: string[]) =>
    spawnSync(process.execPath, [tool, ...args], {
      env: { PATH: process.env.PATH, LIMITER_REDIS_URL: claim.urls[0], LIMIT_POLICIES: 'service=10/10m' },
      encoding: 'utf8',
      timeout: 10_000,
    });
  const r = run(['service', 'inspect me', '--json']);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ key: 'rl:{service:inspect me}', bytes: 8 + 3 * 4, offsetWidth: 4, counted: 3, remaining: 7 });
  expect(out.events.map((e: { timeUs: number }) => e.timeUs)).toEqual(times);
  expect(out.pttlMs).toBeGreaterThan(590_000);
  const text = run(['service', 'inspect me']);
  expect(text.stdout).toContain('3 in the window, 7 remaining');
  expect(run(['service', 'nobody']).stdout).toContain('no key: nothing counted');
  expect(run([]).status).toBe(2);
});

// The limiter over gRPC against real Redis: exact sliding-window decisions, Peek, Reset, costs,
// the batch RPC, bad input. Times are Redis's (TIME), read around each call, so that every
// expected value is checked against the truth the script saw, not against a sleep.
import * as grpc from '@grpc/grpc-js';
import { createServiceClient } from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { startLimiterServer } from '../src/server';
import { decodeLog, keyFor } from '../src/sliding-window';
import { callWithoutToken, encodeLog, rejection, sleep, startHarness, waitServing, type Harness } from './helpers';

const POLICIES = 'service=10/10m,login=10/10m,burst=3/1s,mixed=3/1s,tiny=2/10m';
const W10 = 600_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness(POLICIES);
});
afterAll(async () => {
  await h.close();
});

let seq = 0;
const fresh = (label: string) => `${label}-${++seq}-${process.pid}`;

async function consume(policy: string, subject: string, cost?: number): Promise<limiter.Decision> {
  const res = await h.client.call.consume(cost === undefined ? { policy, subject } : { policy, subject, cost });
  return res.decision!;
}
async function peek(policy: string, subject: string): Promise<limiter.Decision> {
  return (await h.client.call.peek({ policy, subject })).decision!;
}

/** A call bracketed by Redis TIME: the script's clock read `at` lies in [before, after]. */
async function timed<T>(fn: () => Promise<T>): Promise<{ res: T; before: number; after: number }> {
  const before = await h.redisNowUs();
  const res = await fn();
  const after = await h.redisNowUs();
  return { res, before, after };
}

/** ms until an event at `eventUs` leaves a window of `windowMs`, seen from a call in [before, after]. */
function leaveBounds(eventUs: number, windowMs: number, before: number, after: number): [number, number] {
  return [Math.floor((eventUs + windowMs * 1000 - after) / 1000), Math.ceil((eventUs + windowMs * 1000 - before) / 1000)];
}

test('health is SERVING while Redis answers', async () => {
  await waitServing(h.addr, 'SERVING', 1000);
});

test('10 Consume calls pass, the 11th is denied with retry_after_ms = time until the oldest event leaves', async () => {
  const subject = fresh('u');
  const first = Date.now();
  const ds: limiter.Decision[] = [];
  for (let i = 0; i < 10; i++) ds.push(await consume('service', subject));
  expect(ds.map((d) => d.allowed)).toEqual(Array(10).fill(true));
  expect(ds.map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  for (const d of ds) {
    expect(d).toEqual({
      allowed: true,
      limit: 10,
      remaining: d.remaining,
      retryAfterMs: 0,
      resetAfterMs: W10,
      windowMs: W10,
      policy: 'service',
      nextReleaseMs: d.nextReleaseMs,
    });
    // One more call frees up when the first one leaves the window.
    expect(d.nextReleaseMs).toBeLessThanOrEqual(W10);
    expect(d.nextReleaseMs).toBeGreaterThanOrEqual(W10 - (Date.now() - first) - 5);
  }
  expect(ds[0]!.nextReleaseMs).toBe(W10);

  const times = await h.storedTimes('service', subject);
  expect(times).toHaveLength(10);
  const { res: d11, before, after } = await timed(() => consume('service', subject));
  expect(d11).toMatchObject({ allowed: false, limit: 10, remaining: 0, windowMs: W10, policy: 'service' });
  const [lo, hi] = leaveBounds(times[0]!, 600_000, before, after);
  expect(d11.retryAfterMs).toBeGreaterThanOrEqual(lo);
  expect(d11.retryAfterMs).toBeLessThanOrEqual(hi);
  expect(d11.nextReleaseMs).toBeGreaterThanOrEqual(lo);
  expect(d11.nextReleaseMs).toBeLessThanOrEqual(hi);
  // Seen from the caller's clock too: one window after the first call, minus the time spent.
  expect(d11.retryAfterMs).toBeLessThanOrEqual(W10);
  expect(d11.retryAfterMs).toBeGreaterThanOrEqual(W10 - (Date.now() - first) - 5);
  const [rlo, rhi] = leaveBounds(times[9]!, 600_000, before, after);
  expect(d11.resetAfterMs).toBeGreaterThanOrEqual(rlo);
  expect(d11.resetAfterMs).toBeLessThanOrEqual(rhi);

  // The denied call recorded nothing; the key expires one window after the last admitted event.
  expect(await h.storedTimes('service', subject)).toEqual(times);
  const pttl = await h.redis.pttl(keyFor('service', subject));
  expect(pttl).toBeGreaterThan(W10 - (after - times[9]!) / 1000 - 50);
  expect(pttl).toBeLessThanOrEqual(W10 + 1);
});

test('Peek never counts', async () => {
  const subject = fresh('peek');
  expect(await peek('service', subject)).toEqual({
    allowed: true,
    limit: 10,
    remaining: 10,
    retryAfterMs: 0,
    resetAfterMs: 0,
    windowMs: W10,
    policy: 'service',
    nextReleaseMs: 0,
  });
  for (let i = 0; i < 5; i++) await consume('service', subject);
  const five = await h.storedTimes('service', subject);
  for (let i = 0; i < 20; i++) {
    const { res: d, before, after } = await timed(() => peek('service', subject));
    expect(d).toMatchObject({ allowed: true, remaining: 5, retryAfterMs: 0 });
    expect(d.resetAfterMs).toBeGreaterThan(W10 - 60_000);
    // "le prochain se libère dans …": when the oldest of the five leaves the window.
    const [nlo, nhi] = leaveBounds(five[0]!, 600_000, before, after);
    expect(d.nextReleaseMs).toBeGreaterThanOrEqual(nlo);
    expect(d.nextReleaseMs).toBeLessThanOrEqual(nhi);
  }
  expect(await h.storedTimes('service', subject)).toHaveLength(5);
  for (let i = 0; i < 5; i++) expect((await consume('service', subject)).allowed).toBe(true);
  const times = await h.storedTimes('service', subject);
  const { res: full, before, after } = await timed(() => peek('service', subject));
  expect(full).toMatchObject({ allowed: false, remaining: 0 });
  const [lo, hi] = leaveBounds(times[0]!, 600_000, before, after);
  expect(full.retryAfterMs).toBeGreaterThanOrEqual(lo);
  expect(full.retryAfterMs).toBeLessThanOrEqual(hi);
  expect((await consume('service', subject)).allowed).toBe(false);
  expect(await h.storedTimes('service', subject)).toEqual(times);
});

test('Reset forgets the subject for that policy only', async () => {
  const subject = fresh('reset');
  for (let i = 0; i < 10; i++) await consume('service', subject);
  await consume('login', subject);
  expect((await consume('service', subject)).allowed).toBe(false);
  await h.client.call.reset({ policy: 'service', subject });
  expect(await h.redis.exists(keyFor('service', subject))).toBe(0);
  expect(await peek('service', subject)).toMatchObject({ allowed: true, remaining: 10, resetAfterMs: 0 });
  expect(await consume('service', subject)).toMatchObject({ allowed: true, remaining: 9 });
  expect(await peek('login', subject)).toMatchObject({ remaining: 9 });
  // Resetting a subject that has nothing is fine.
  await expect(h.client.call.reset({ policy: 'service', subject: fresh('nobody') })).resolves.toEqual({});
});

test('a 3/1s window slides: denied at t≈0.5 s with the exact wait, admitted right after it', async () => {
  const subject = fresh('slide');
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) expect((await consume('burst', subject)).allowed).toBe(true);
  const times = await h.storedTimes('burst', subject);
  await sleep(500 - (Date.now() - t0));
  const { res: denied, before, after } = await timed(() => consume('burst', subject));
  expect(denied).toMatchObject({ allowed: false, remaining: 0, windowMs: 1000 });
  const [lo, hi] = leaveBounds(times[0]!, 1000, before, after);
  expect(denied.retryAfterMs).toBeGreaterThanOrEqual(lo);
  expect(denied.retryAfterMs).toBeLessThanOrEqual(hi);
  expect(denied.retryAfterMs).toBeGreaterThan(0);
  expect(denied.retryAfterMs).toBeLessThan(1000);
  // The first call once that time has passed is admitted (a slow machine only makes it later).
  await sleep(denied.retryAfterMs + 2);
  const d = await consume('burst', subject);
  expect(d.allowed).toBe(true);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
});

test('a timed sequence never admits more than the limit in any (t - window, t] and denies only when full', async () => {
  const subject = fresh('seq');
  const L = 3;
  const W = 1_000_000; // µs
  const admitted: number[] = [];
  const denials: Array<{ before: number; after: number; d: limiter.Decision }> = [];
  const end = Date.now() + 2600;
  while (Date.now() < end) {
    const { res: d, before, after } = await timed(() => consume('burst', subject));
    if (d.allowed) {
      const stored = await h.storedTimes('burst', subject);
      const t = stored[stored.length - 1]!;
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
      admitted.push(t);
    } else denials.push({ before, after, d });
    await sleep(15 + Math.floor(Math.random() * 40));
  }
  const inRange = (lo: number, hi: number) => admitted.filter((t) => t > lo && t <= hi).length;
  // Every interval (t - W, t]: its count only grows at an admitted time, so checking those is checking all.
  for (const t of admitted) expect(inRange(t - W, t)).toBeLessThanOrEqual(L);
  // Fixed-window double bursts would show here: 2L events within some window.
  expect(Math.max(...admitted.map((t) => inRange(t - W, t)))).toBe(L);
  // Each denial saw a full window, and its retry_after_ms is when the oldest of those leaves.
  for (const { before, after, d } of denials) {
    expect(inRange(before - W, after)).toBeGreaterThanOrEqual(L);
    const prior = admitted.filter((t) => t <= after);
    const oldestCounted = prior[prior.length - L]!;
    const [lo, hi] = leaveBounds(oldestCounted, 1000, before, after);
    expect(d.retryAfterMs).toBeGreaterThanOrEqual(lo);
    expect(d.retryAfterMs).toBeLessThanOrEqual(hi);
  }
  // It slid: about L per second were admitted over 2.6 s, not L in total.
  expect(admitted.length).toBeGreaterThanOrEqual(2 * L + 1);
  expect(denials.length).toBeGreaterThan(0);
});

test('cost > 1 counts that many events; a cost that does not fit waits for enough events to leave', async () => {
  const subject = fresh('cost');
  expect(await consume('service', subject, 4)).toMatchObject({ allowed: true, remaining: 6 });
  expect(await consume('service', subject, 6)).toMatchObject({ allowed: true, remaining: 0 });
  expect(await consume('service', subject, 1)).toMatchObject({ allowed: false, remaining: 0 });
  const times = await h.storedTimes('service', subject);
  expect(times).toHaveLength(10);
  // Several events in one microsecond each take a slot.
  expect(new Set(times).size).toBe(2);

  const other = fresh('cost');
  await consume('service', other, 7);
  const { res: d, before, after } = await timed(() => consume('service', other, 4));
  expect(d).toMatchObject({ allowed: false, remaining: 3 });
  const [t7] = await h.storedTimes('service', other);
  const [lo, hi] = leaveBounds(t7!, 600_000, before, after);
  expect(d.retryAfterMs).toBeGreaterThanOrEqual(lo);
  expect(d.retryAfterMs).toBeLessThanOrEqual(hi);
  expect(await consume('service', other, 3)).toMatchObject({ allowed: true, remaining: 0 });
  expect(await consume('service', other, 10)).toMatchObject({ allowed: false, remaining: 0 });
});

test('mixed costs on a 3/1s window: the wait is until enough of the oldest events leave', async () => {
  const subject = fresh('mixed');
  const t0 = Date.now();
  expect(await consume('mixed', subject, 2)).toMatchObject({ allowed: true, remaining: 1 });
  await sleep(300);
  expect(await consume('mixed', subject, 1)).toMatchObject({ allowed: true, remaining: 0 });
  const [a, , c] = await h.storedTimes('mixed', subject);
  await sleep(500 - (Date.now() - t0));
  // Cost 2 needs the 2nd newest event (the pair at t≈0) gone; cost 1 needs the 3rd newest (same pair).
  const two = await timed(() => consume('mixed', subject, 2));
  expect(two.res).toMatchObject({ allowed: false, remaining: 0 });
  const [lo2, hi2] = leaveBounds(a!, 1000, two.before, two.after);
  expect(two.res.retryAfterMs).toBeGreaterThanOrEqual(lo2);
  expect(two.res.retryAfterMs).toBeLessThanOrEqual(hi2);
  await sleep(two.res.retryAfterMs + 2);
  // The pair left, the single event at t≈0.3 s is still counted: cost 2 fits, then nothing more.
  const again = await timed(() => consume('mixed', subject, 2));
  expect(again.res).toMatchObject({ allowed: true, remaining: 0 });
  const three = await timed(() => consume('mixed', subject, 3));
  expect(three.res).toMatchObject({ allowed: false, remaining: 0 });
  // Cost 3 needs every counted event gone: the newest pair, admitted just now.
  const times = await h.storedTimes('mixed', subject);
  expect(times).toHaveLength(3);
  expect(times[0]).toBe(c);
  const [lo3, hi3] = leaveBounds(times[2]!, 1000, three.before, three.after);
  expect(three.res.retryAfterMs).toBeGreaterThanOrEqual(lo3);
  expect(three.res.retryAfterMs).toBeLessThanOrEqual(hi3);
});

test('ConsumeBatch: one decision or error per item, in order, as Consume would answer', async () => {
  const s = fresh('batch');
  const big = 'x'.repeat(10_000);
  const res = await h.client.call.consumeBatch({
    requests: [
      { policy: 'tiny', subject: s },
      { policy: 'nope', subject: s },
      { policy: 'tiny', subject: '' },
      { policy: 'tiny', subject: s, cost: 0 },
      { policy: 'tiny', subject: big },
      { policy: 'tiny', subject: s },
      { policy: 'tiny', subject: s, cost: 3 },
      { policy: 'tiny', subject: s },
      { policy: 'service', subject: s, cost: 2 },
    ],
  });
  const items = res.items;
  expect(items).toHaveLength(9);
  expect(items[0]!.decision).toMatchObject({ allowed: true, remaining: 1, policy: 'tiny', limit: 2 });
  expect(items[1]!.error).toMatchObject({ code: grpc.status.NOT_FOUND });
  expect(items[2]!.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: 'subject: must not be empty' });
  expect(items[3]!.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  expect(items[3]!.error!.message).toMatch(/^cost:/);
  expect(items[4]!.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  expect(items[5]!.decision).toMatchObject({ allowed: true, remaining: 0 });
  expect(items[6]!.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  expect(items[7]!.decision).toMatchObject({ allowed: false, remaining: 0 });
  expect(items[8]!.decision).toMatchObject({ allowed: true, remaining: 8, policy: 'service' });
  for (const it of items) expect(!!it.decision !== !!it.error).toBe(true);
  // The same errors as Consume gives.
  for (const [i, req] of [
    [1, { policy: 'nope', subject: s }],
    [2, { policy: 'tiny', subject: '' }],
    [3, { policy: 'tiny', subject: s, cost: 0 }],
  ] as const) {
    const err = await rejection(h.client.call.consume(req));
    expect({ code: err.code, message: err.details }).toEqual(items[i]!.error);
  }
  expect(await h.storedTimes('tiny', s)).toHaveLength(2);

  expect(await h.client.call.consumeBatch({ requests: [] })).toEqual({ items: [] });
  const tooMany = Array.from({ length: 1001 }, () => ({ policy: 'service', subject: s }));
  expect(await rejection(h.client.call.consumeBatch({ requests: tooMany }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  expect(await peek('service', s)).toMatchObject({ remaining: 8 });
});

test('ConsumeBatch of 12 for one subject admits exactly the first 10', async () => {
  const s = fresh('batch12');
  const res = await h.client.call.consumeBatch({ requests: Array.from({ length: 12 }, () => ({ policy: 'service', subject: s })) });
  expect(res.items.map((i) => i.decision!.allowed)).toEqual([...Array(10).fill(true), false, false]);
  expect(res.items.map((i) => i.decision!.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
});

describe('bad input', () => {
  const s = 'someone';
  test.each([
    ['an unknown policy', { policy: 'nope', subject: s }, grpc.status.NOT_FOUND],
    ['an empty policy', { policy: '', subject: s }, grpc.status.INVALID_ARGUMENT],
    ['an empty subject', { policy: 'service', subject: '' }, grpc.status.INVALID_ARGUMENT],
    ['a 10 KB subject', { policy: 'service', subject: 's'.repeat(10_240) }, grpc.status.INVALID_ARGUMENT],
    ['a 513-byte subject', { policy: 'service', subject: 's'.repeat(513) }, grpc.status.INVALID_ARGUMENT],
    ['a 514-byte subject of 257 two-byte characters', { policy: 'service', subject: 'é'.repeat(257) }, grpc.status.INVALID_ARGUMENT],
    ['cost 0', { policy: 'service', subject: s, cost: 0 }, grpc.status.INVALID_ARGUMENT],
    ['a negative cost', { policy: 'service', subject: s, cost: -1 }, grpc.status.INVALID_ARGUMENT],
    ['a cost above the limit', { policy: 'service', subject: s, cost: 11 }, grpc.status.INVALID_ARGUMENT],
  ])('Consume with %s is refused and counts nothing', async (_label, req, code) => {
    const err = await rejection(h.client.call.consume(req));
    expect(err.code).toBe(code);
    expect(err.details).not.toBe('internal error');
    expect(await h.redis.exists(keyFor(req.policy, req.subject))).toBe(0);
  });

  test('a subject of exactly 512 bytes is accepted (256 two-byte characters too)', async () => {
    expect((await consume('service', 'b'.repeat(512))).allowed).toBe(true);
    expect((await consume('service', 'é'.repeat(256))).allowed).toBe(true);
  });

  test('Peek and Reset check policy and subject the same way', async () => {
    expect((await rejection(h.client.call.peek({ policy: 'nope', subject: s }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await rejection(h.client.call.peek({ policy: 'service', subject: '' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await rejection(h.client.call.reset({ policy: 'nope', subject: s }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await rejection(h.client.call.reset({ policy: 'service', subject: 'r'.repeat(600) }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test.each([
    ['consume', { policy: 'service', subject: s }],
    ['consumeBatch', { requests: [{ policy: 'service', subject: s }] }],
    ['peek', { policy: 'service', subject: s }],
    ['reset', { policy: 'service', subject: s }],
  ] as const)('%s without the internal token is UNAUTHENTICATED', async (method, req) => {
    expect((await callWithoutToken(h.addr, method, req)).code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

test('a log whose newest offset would not fit is rewritten on a new base, events unchanged', async () => {
  const subject = fresh('rebase');
  const now = await h.redisNowUs();
  // Base 4,300 s ago (offsets of 4 bytes reach 4,295 s), events 100-300 s ago: still counted.
  const events = [now - 300e6, now - 200e6, now - 200e6, now - 100e6];
  await h.redis.set(keyFor('service', subject), encodeLog(4, now - 4300e6, events), 'PX', W10);
  expect(await peek('service', subject)).toMatchObject({ allowed: true, remaining: 6 });
  expect(await consume('service', subject, 2)).toMatchObject({ allowed: true, remaining: 4 });
  const after = await h.storedTimes('service', subject);
  expect(after.slice(0, 4)).toEqual(events);
  expect(after).toHaveLength(6);
  expect(after[4]).toBe(after[5]);
  const raw = (await h.redis.getBuffer(keyFor('service', subject)))!;
  expect(decodeLog(raw).baseUs).toBe(events[0]); // the new base is the oldest counted event
});

test('a policy changed between restarts reads the logs written under the old one', async () => {
  const subject = fresh('change');
  for (let i = 0; i < 10; i++) await consume('service', subject);
  // Same Redis db, the limit lowered and the window shortened (offsets 4 bytes → 3).
  const other = await startLimiterServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    redisUrl: h.redisUrl,
    policies: 'service=5/200ms',
    graceMs: 100,
  });
  try {
    await waitServing(`127.0.0.1:${other.port}`);
    const c = createServiceClient(limiter.LimiterServiceClient, `127.0.0.1:${other.port}`, { token: TEST_TOKEN });
    const d = (await c.call.peek({ policy: 'service', subject })).decision!;
    expect(d.limit).toBe(5);
    expect(d.remaining).toBeLessThanOrEqual(5);
    await sleep(220);
    expect((await c.call.consume({ policy: 'service', subject, cost: 5 })).decision).toMatchObject({
      allowed: true,
      remaining: 0,
      limit: 5,
    });
    const raw = (await h.redis.getBuffer(keyFor('service', subject)))!;
    expect(raw[0]).toBe(3);
    expect(raw.length).toBe(8 + 5 * 3);
    c.close();
  } finally {
    await other.close();
  }
});

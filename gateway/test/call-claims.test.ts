// The call claims' states (lib/call-claims.ts) on a real Redis: a call whose key is claimed by a
// call still in flight waits for that call's outcome; settled, it asks the market; released, it
// claims the key itself; a pending claim whose call died holds it only until its deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis, waitReady, type RedisClient } from '@etu/common';
import { claimRedisDbs, freePort, type ClaimedRedisDbs } from '@etu/testkit';
import { callClaims, CLAIM_PREFIX, CLAIM_TTL_MS, type Claim } from '../src/lib/call-claims';

let dbs: ClaimedRedisDbs;
let redis: RedisClient;
let seq = 0;
/** A user of its own for each test, so that no claim is shared between tests. */
const user = () => `user-${++seq}`;
const KIND = 'SERVICE_KIND_ACHAT';
const claimKey = (u: string, key: string) => `${CLAIM_PREFIX}${u}:${KIND}:${key}`;

/** `begin` started now, and whether it has answered yet. */
function started(p: Promise<Claim>) {
  const s: { answer?: Claim; promise: Promise<Claim> } = { promise: p };
  void p.then((a) => (s.answer = a));
  return s;
}

beforeAll(async () => {
  dbs = await claimRedisDbs(1);
  redis = createRedis(dbs.urls[0]!, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 });
  await waitReady(redis, 10_000);
});

afterAll(async () => {
  redis?.disconnect();
  await dbs?.release();
});

test('the first call claims its key; a second one waits while it is in flight and asks the market once it is settled', async () => {
  const claims = callClaims(redis);
  const u = user();
  expect(await claims.begin(u, KIND, '42')).toEqual({ state: 'first', waited: false });
  const pttl = await redis.pttl(claimKey(u, '42'));
  expect(pttl).toBeGreaterThan(CLAIM_TTL_MS - 60_000);

  const second = started(claims.begin(u, KIND, '42'));
  await sleep(200);
  expect(second.answer).toBeUndefined(); // the first call is still in flight
  await claims.settle(u, KIND, '42');
  expect(await second.promise).toEqual({ state: 'settled', waited: true });
  expect(await redis.get(claimKey(u, '42'))).toBe('1');
  expect(await redis.pttl(claimKey(u, '42'))).toBeGreaterThan(CLAIM_TTL_MS - 60_000); // the claim's TTL kept

  // Settled: a later call asks the market at once.
  expect(await claims.begin(u, KIND, '42')).toEqual({ state: 'settled', waited: false });
});

test('the first call refused (released): the waiting calls do not ask the market; one claims the key, the others wait for it', async () => {
  const claims = callClaims(redis);
  const u = user();
  expect((await claims.begin(u, KIND, '7')).state).toBe('first');
  const waiting = [started(claims.begin(u, KIND, '7')), started(claims.begin(u, KIND, '7')), started(claims.begin(u, KIND, '7'))];
  await sleep(100);
  await claims.release(u, KIND, '7');
  // One of them is now the first call with the key; the others wait for it in turn.
  for (let i = 0; i < 100 && waiting.filter((w) => w.answer).length === 0; i++) await sleep(10);
  await sleep(100);
  const answered = waiting.filter((w) => w.answer);
  expect(answered.map((w) => w.answer)).toEqual([{ state: 'first', waited: true }]);
  await claims.settle(u, KIND, '7');
  const all = await Promise.all(waiting.map((w) => w.promise));
  expect(all.filter((a) => a.state === 'first')).toHaveLength(1);
  expect(all.filter((a) => a.state === 'settled')).toEqual([
    { state: 'settled', waited: true },
    { state: 'settled', waited: true },
  ]);
});

test('a claim made before claims had states (value 1) counts as settled', async () => {
  const claims = callClaims(redis);
  const u = user();
  await redis.set(claimKey(u, '9'), '1', 'PX', CLAIM_TTL_MS);
  expect(await claims.begin(u, KIND, '9')).toEqual({ state: 'settled', waited: false });
});

test('a pending claim whose call died holds a retry until its deadline, then the retry asks the market', async () => {
  const claims = callClaims(redis);
  const u = user();
  await redis.set(claimKey(u, '5'), `p:${Date.now() + 400}`, 'PX', CLAIM_TTL_MS);
  const retry = started(claims.begin(u, KIND, '5'));
  await sleep(150);
  expect(retry.answer).toBeUndefined();
  expect(await retry.promise).toEqual({ state: 'settled', waited: true });

  // A deadline already passed: no wait at all.
  await redis.set(claimKey(u, '6'), `p:${Date.now() - 1}`, 'PX', CLAIM_TTL_MS);
  expect(await claims.begin(u, KIND, '6')).toEqual({ state: 'settled', waited: false });
});

test('a call waits no longer than its own bound, whatever deadline the pending claim says', async () => {
  const claims = callClaims(redis, { pendingMs: 300 });
  const u = user();
  await redis.set(claimKey(u, '8'), `p:${Date.now() + 3600_000}`, 'PX', CLAIM_TTL_MS);
  const retry = started(claims.begin(u, KIND, '8'));
  await sleep(100);
  expect(retry.answer).toBeUndefined();
  // Functional deadline (far above the 300 ms bound): the call goes on.
  const t0 = Date.now();
  await expect(Promise.race([retry.promise, sleep(5000, 'still waiting', { ref: false })])).resolves.toEqual({
    state: 'settled',
    waited: true,
  });
  expect(Date.now() - t0).toBeLessThan(5000);
});

test('a key no claim is made for, or a store that does not answer: ask the market, without waiting', async () => {
  expect(await callClaims(redis).begin(user(), KIND, 'clé invalide')).toEqual({ state: 'settled', waited: false });

  const down = createRedis(`redis://127.0.0.1:${await freePort()}`, { commandTimeoutMs: 200, connectTimeoutMs: 200 });
  down.on('error', () => undefined);
  try {
    const claims = callClaims(down);
    expect(await claims.begin(user(), KIND, '1')).toEqual({ state: 'settled', waited: false });
    await expect(claims.settle(user(), KIND, '1')).resolves.toBeUndefined();
    await expect(claims.release(user(), KIND, '1')).resolves.toBeUndefined();
  } finally {
    down.disconnect();
  }
});

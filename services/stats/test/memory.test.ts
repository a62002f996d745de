// Memory per active user, measured with MEMORY USAGE (SAMPLES 0: the whole key) over every key
// that grows with users, for 2,000 users with realistic ids (auto-increment integers) and
// event ids (UUIDs). The figures are printed and recorded in the README; the test fails when a
// change makes a user cost more than the documented bound.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { claimRedisDbs, type ClaimedRedisDbs } from '@etu/testkit';
import { StatsStore } from '../src/store';

const USERS = 2000;
let dbs: ClaimedRedisDbs;
let redis: Redis;

beforeAll(async () => {
  dbs = await claimRedisDbs(1);
  redis = new Redis(dbs.urls[0]!);
});

afterAll(async () => {
  redis?.disconnect();
  await dbs?.release();
});

const usage = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
const PER_USER_ZSETS = ['stats:logins', 'stats:last_login', 'stats:calls:user', 'stats:denied:user'];

async function perUserBytes(): Promise<{ zsets: number; hashes: number }> {
  let zsets = 0;
  for (const k of PER_USER_ZSETS) zsets += await usage(k);
  let hashes = 0;
  for (const k of await redis.keys('stats:user:*')) hashes += await usage(k);
  return { zsets: zsets / USERS, hashes: hashes / USERS };
}

test('memory per active user', async () => {
  const st = new StatsStore(redis);
  const ids = Array.from({ length: USERS }, (_, i) => String(100_000 + i));
  const t0 = Date.now() - 3 * 3600_000; // no minute buckets: they are bounded by their TTL, not by users
  const batch = async (f: (u: string, i: number) => Promise<unknown>) => {
    for (let i = 0; i < USERS; i += 200) await Promise.all(ids.slice(i, i + 200).map((u, j) => f(u, i + j)));
  };
  // A registered user who never did anything: one entry of stats:calls:user.
  await batch((u) => st.registerUser(u));
  const registered = await perUserBytes();
  // An active user: a few logins, allowed calls of both services.
  await batch((u, i) => st.recordLogin(randomUUID(), u, t0 + i));
  await batch((u, i) => st.recordLogin(randomUUID(), u, t0 + USERS + i));
  await batch((u) => st.recordCall(randomUUID(), u, 'VENTE', 'allowed', t0));
  await batch((u) => st.recordCall(randomUUID(), u, 'ACHAT', 'allowed', t0));
  const active = await perUserBytes();
  // The same users, also denied on both services (every per-user structure at its largest).
  await batch((u) => st.recordCall(randomUUID(), u, 'VENTE', 'denied', t0));
  await batch((u) => st.recordCall(randomUUID(), u, 'ACHAT', 'denied', t0));
  const denied = await perUserBytes();

  // Denials add no key of their own: only the logins and allowed calls above left dedup keys.
  expect(await redis.keys('stats:event:*')).toHaveLength(4 * USERS);
  const events = (await redis.keys('stats:event:*')).slice(0, 100);
  let eventBytes = 0;
  for (const k of events) eventBytes += await usage(k);
  eventBytes /= events.length;

  const r = (n: number) => Math.round(n);
  console.log(
    `stats memory per user (${USERS} users): registered only ${r(registered.zsets)} B; active ${r(active.zsets + active.hashes)} B ` +
      `(zsets ${r(active.zsets)} + hash ${r(active.hashes)}); with denials ${r(denied.zsets + denied.hashes)} B ` +
      `(zsets ${r(denied.zsets)} + hash ${r(denied.hashes)}); per login or allowed call (dedup key, 5 min) ${r(eventBytes)} B; per denied call 0 B (no key)`,
  );
  expect(registered.hashes).toBe(0);
  expect(registered.zsets).toBeLessThan(150);
  expect(active.zsets + active.hashes).toBeLessThan(600);
  expect(denied.zsets + denied.hashes).toBeLessThan(800);
  expect(eventBytes).toBeLessThan(150);
});

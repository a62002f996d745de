// The initialisation marker of a Redis database, against a real Redis db of this file's own:
// written once, reported missing by the process that found it missing, carries the database
// identity, and a flushed database is noticed.
import Redis from 'ioredis';
import { STORE_MARKER_KEY, StoreMarker } from '@etu/common';
import { claimRedisDbs, testLogger, type ClaimedRedisDbs } from '@etu/testkit';

let claimed: ClaimedRedisDbs;
let redis: Redis;
const lines: string[] = [];

beforeAll(async () => {
  claimed = await claimRedisDbs(1);
  redis = new Redis(claimed.urls[0]!, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis?.disconnect();
  await claimed?.release();
});

test('an empty database gets a marker; the finder reports it missing, a later process finds it', async () => {
  const before = Date.now();
  const first = new StoreMarker(redis, 'stats', testLogger(lines), 'statistics lost');
  const a = await first.check();
  expect(a.found).toBe(false);
  expect(a.marker.createdAt).toBeGreaterThanOrEqual(before);
  expect(a.marker.database).toBe('');
  expect(lines.join('\n')).toMatch(/had no initialisation marker/);
  // The same process keeps saying so (until it restarts); the database identity is recorded once.
  const b = await first.check('db-1');
  expect(b).toEqual({ found: false, marker: { createdAt: a.marker.createdAt, database: 'db-1' } });
  expect(JSON.parse((await redis.get(STORE_MARKER_KEY))!)).toEqual({ createdAt: a.marker.createdAt, database: 'db-1' });

  const restarted = new StoreMarker(redis, 'stats', testLogger(), 'statistics lost');
  // A marker naming another database is left as it is: that mismatch is what gets reported.
  expect(await restarted.check('db-2')).toEqual({ found: true, marker: { createdAt: a.marker.createdAt, database: 'db-1' } });
});

test('a database flushed while the part runs is noticed at the next look', async () => {
  const m = new StoreMarker(redis, 'limiter', testLogger(), 'quotas restart');
  await redis.set(STORE_MARKER_KEY, JSON.stringify({ createdAt: 1, database: 'x' }));
  expect((await m.check()).found).toBe(true);
  await redis.flushdb();
  const after = await m.check('y');
  expect(after.found).toBe(false);
  expect(after.marker.database).toBe('y');
  expect(after.marker.createdAt).toBeGreaterThan(1);
});

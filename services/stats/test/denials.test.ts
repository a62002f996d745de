// Denied calls are counted, not remembered one by one: a user refused 3,000 times adds a constant
// number of keys (the same per-user and per-minute counters as one refusal), and a record may
// stand for several refusals (a gateway sums them). Logins and allowed calls keep their dedup key.
import { status } from '@grpc/grpc-js';
import { startTcpRelay } from '@etu/testkit';
import { ACHAT, ALLOWED, DENIED, readUsage, startTestStats, useTestStats, VENTE } from './helpers';

const env = useTestStats();

const denied = async (userId: string) => {
  const d = await readUsage(env.redis, userId);
  return { vente: d.denied[0]!.count, achat: d.denied[1]!.count };
};

test('3,000 refused calls of one user add a constant number of keys and count exactly', async () => {
  // The first refusal creates the user's counters; everything after only increments them.
  expect((await env.t.call.recordServiceCall({ eventId: 'first', userId: 'hammer', service: ACHAT, outcome: DENIED })).duplicate).toBe(
    false,
  );
  const keysAfterOne = await env.redis.dbsize();
  for (let i = 0; i < 3000; i += 100) {
    const batch = Array.from({ length: 100 }, (_, j) =>
      env.t.call.recordServiceCall({ eventId: `d-${i + j}`, userId: 'hammer', service: ACHAT, outcome: DENIED }),
    );
    for (const r of await Promise.all(batch)) expect(r.duplicate).toBe(false);
  }
  // A minute boundary may fall inside the loop: at most one more bucket.
  expect(await env.redis.dbsize()).toBeLessThanOrEqual(keysAfterOne + 1);
  expect(await env.redis.keys('stats:event:*')).toEqual([]);
  expect(await denied('hammer')).toEqual({ vente: 0, achat: 3001 });
  const d = await env.t.call.getDashboard({});
  expect(d.topDeniedUsers[0]).toEqual({ userId: 'hammer', count: 3001 });
  expect(d.lastHour.reduce((s, b) => s + b.achatDenied, 0)).toBe(3001);
});

test('one record can stand for several refusals (a gateway sums them); the minute series follows', async () => {
  const at = new Date(Date.now() - 5 * 60_000);
  await env.t.call.recordServiceCall({ eventId: 'sum-1', userId: 'summed', service: VENTE, outcome: DENIED, count: 250, at });
  await env.t.call.recordServiceCall({ eventId: 'sum-2', userId: 'summed', service: VENTE, outcome: DENIED, count: 1 });
  expect(await denied('summed')).toEqual({ vente: 251, achat: 0 });
  const d = await env.t.call.getDashboard({});
  const minute = Math.floor(at.getTime() / 60_000) * 60_000;
  expect(d.lastHour.find((b) => b.minute!.getTime() === minute)!.venteDenied).toBe(250);
  expect(d.deniedTotals[0]!.count).toBeGreaterThanOrEqual(251);
});

test.each([
  ['count 0', { outcome: DENIED, count: 0 }],
  ['count above 1,000,000', { outcome: DENIED, count: 1_000_001 }],
  ['count above 1 for an allowed call', { outcome: ALLOWED, count: 2 }],
])('%s → INVALID_ARGUMENT naming count, nothing stored', async (_name, extra) => {
  const before = await env.redis.dbsize();
  await expect(
    env.t.call.recordServiceCall({ eventId: 'bad-count', userId: 'nobody-yet', service: VENTE, ...extra }),
  ).rejects.toMatchObject({
    code: status.INVALID_ARGUMENT,
    details: expect.stringMatching(/^count/),
  });
  expect(await env.redis.dbsize()).toBe(before);
});

test('an allowed call keeps its dedup key (5 minutes): a retry is counted once', async () => {
  const req = { eventId: 'allowed-1', userId: 'retrier', service: VENTE, outcome: ALLOWED };
  expect((await env.t.call.recordServiceCall(req)).duplicate).toBe(false);
  expect((await env.t.call.recordServiceCall(req)).duplicate).toBe(true);
  const ttl = await env.redis.pttl('stats:event:allowed-1');
  expect(ttl).toBeGreaterThan(4 * 60_000);
  expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  expect((await readUsage(env.redis, 'retrier')).allowed[0]!.count).toBe(1);
});

test('a record whose reply was lost is never sent to Redis again after the reconnect (a denial counts once)', async () => {
  // A relay of our own in front of the test's Redis database: the script runs, its reply is held
  // back, the call times out (UNAVAILABLE), then the connection drops and comes back.
  const target = new URL(env.dbs.urls[0]!);
  const relay = await startTcpRelay({ host: target.hostname, port: Number(target.port || 6379) });
  const viaRelay = new URL(target.toString());
  viaRelay.port = String(relay.port);
  const t = await startTestStats(viaRelay.toString(), { redisTimeoutMs: 300 });
  try {
    await t.call.registerUser({ userId: 'cut' }); // connected and ready
    relay.holdReplies(true);
    await expect(t.call.recordServiceCall({ eventId: 'lost-reply', userId: 'cut', service: VENTE, outcome: DENIED })).rejects.toMatchObject(
      {
        code: status.UNAVAILABLE,
      },
    );
    await relay.cut();
    relay.holdReplies(false);
    await relay.restore();
    // Ready again: a new call goes through (and the old script, had it been re-sent, would have run by now).
    for (let i = 0; ; i++) {
      try {
        await t.call.registerUser({ userId: 'cut' });
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await env.redis.hget('stats:user:cut', 'vente:denied')).toBe('1');
  } finally {
    await t.close();
    await relay.close();
  }
});

test('STATS_DEDUP_TTL_MS sets how long an event id is remembered', async () => {
  const t = await startTestStats(env.dbs.urls[0]!, { dedupTtlMs: 1500 });
  try {
    await t.call.recordLogin({ eventId: 'short-ttl', userId: 'ttl' });
    const ttl = await env.redis.pttl('stats:event:short-ttl');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
  } finally {
    await t.close();
  }
});

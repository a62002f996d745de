// Bad input, a missing token and an unreachable Redis, through the real gRPC server.
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '@etu/common';
import { startPrivateRedis, startTcpRelay, type PrivateRedis } from '@etu/testkit';
import { stats } from '@etu/proto';
import Redis from 'ioredis';
import { ACHAT, ALLOWED, DENIED, readUsage, startTestStats, type TestStats, useTestStats, VENTE } from './helpers';

const env = useTestStats();

const call = { eventId: 'e1', userId: '42', service: VENTE, outcome: ALLOWED };

test.each([
  ['RecordLogin without event_id', () => env.t.call.recordLogin({ eventId: '', userId: '42' }), 'event_id'],
  ['RecordLogin with a 129-character event_id', () => env.t.call.recordLogin({ eventId: 'x'.repeat(129), userId: '42' }), 'event_id'],
  ['RecordLogin without user_id', () => env.t.call.recordLogin({ eventId: 'e1', userId: '' }), 'user_id'],
  ['RecordLogin with a 129-character user_id', () => env.t.call.recordLogin({ eventId: 'e1', userId: '1'.repeat(129) }), 'user_id'],
  ['RecordLogin dated before 1970', () => env.t.call.recordLogin({ eventId: 'e1', userId: '42', at: new Date(-1000) }), 'at'],
  ['RecordServiceCall without event_id', () => env.t.call.recordServiceCall({ ...call, eventId: '' }), 'event_id'],
  [
    'RecordServiceCall with a 200-character event_id',
    () => env.t.call.recordServiceCall({ ...call, eventId: 'é'.repeat(200) }),
    'event_id',
  ],
  ['RecordServiceCall without user_id', () => env.t.call.recordServiceCall({ ...call, userId: '' }), 'user_id'],
  [
    'RecordServiceCall with an unspecified service',
    () => env.t.call.recordServiceCall({ ...call, service: stats.ServiceKind.SERVICE_KIND_UNSPECIFIED }),
    'service',
  ],
  [
    'RecordServiceCall with an unknown service',
    () => env.t.call.recordServiceCall({ ...call, service: 7 as stats.ServiceKind }),
    'service',
  ],
  [
    'RecordServiceCall with an unspecified outcome',
    () => env.t.call.recordServiceCall({ ...call, outcome: stats.Outcome.OUTCOME_UNSPECIFIED }),
    'outcome',
  ],
  ['RecordServiceCall with an unknown outcome', () => env.t.call.recordServiceCall({ ...call, outcome: 9 as stats.Outcome }), 'outcome'],
  ['RegisterUser without user_id', () => env.t.call.registerUser({ userId: '' }), 'user_id'],
])('%s is INVALID_ARGUMENT naming the field', async (_label, run, field) => {
  const err = (await (run as () => Promise<unknown>)().catch((e: unknown) => e)) as grpc.ServiceError;
  expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(err.details.startsWith(`${field}: `)).toBe(true);
});

test('the limits are inclusive, and rejected input recorded nothing', async () => {
  expect((await env.t.call.recordLogin({ eventId: 'x'.repeat(128), userId: '1'.repeat(128) })).duplicate).toBe(false);
  expect((await env.t.call.recordServiceCall({ eventId: 'é'.repeat(128), userId: '43', service: ACHAT, outcome: DENIED })).duplicate).toBe(
    false,
  );
  const d = await env.t.call.getDashboard({});
  expect(d.totalLogins).toBe(1);
  expect(d.knownUsers).toBe(2);
  expect(d.serviceTotals.map((s) => s.count)).toEqual([0, 0]);
  expect(d.deniedTotals.map((s) => s.count)).toEqual([0, 1]);
});

test('every RPC without the internal token, or with a wrong one, is UNAUTHENTICATED and records nothing', async () => {
  const raw = new stats.StatsServiceClient(env.t.addr, grpc.credentials.createInsecure());
  const rpcs: [string, unknown][] = [
    ['recordLogin', { eventId: 'nt1', userId: '77' }],
    ['recordServiceCall', { eventId: 'nt2', userId: '77', service: VENTE, outcome: ALLOWED }],
    ['registerUser', { userId: '77' }],
    ['getDashboard', {}],
  ];
  for (const header of [undefined, 'Bearer wrong-token-wrong-token-wrong']) {
    for (const [name, req] of rpcs) {
      const md = new grpc.Metadata();
      if (header) md.set('authorization', header);
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        (raw as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void>)[name]!.call(
          raw,
          req,
          md,
          resolve,
        ),
      );
      expect([name, err?.code]).toEqual([name, grpc.status.UNAUTHENTICATED]);
    }
  }
  raw.close();
  expect(await readUsage(env.redis, '77')).toMatchObject({ logins: 0 });
  expect((await env.t.call.getDashboard({})).knownUsers).toBe(2);
});

describe('Redis unreachable', () => {
  let priv: PrivateRedis;
  let s: TestStats;

  beforeAll(async () => {
    priv = await startPrivateRedis();
    // The server's own command timeout (not the tests' generous one).
    s = await startTestStats(`${priv.url}/1`, { healthIntervalMs: 100, redisTimeoutMs: 250 });
  });

  afterAll(async () => {
    await s?.close();
    await priv?.stop();
  });

  const waitHealth = async (want: string) => {
    const deadline = Date.now() + 5000;
    let got = '';
    while (Date.now() < deadline && (got = await checkHealth(s.addr)) !== want) await new Promise((r) => setTimeout(r, 50));
    return got;
  };

  test('every RPC answers UNAVAILABLE fast, health turns NOT_SERVING, and both recover when Redis returns', async () => {
    expect(await waitHealth('SERVING')).toBe('SERVING');
    await s.call.recordLogin({ eventId: 'before', userId: '1' });
    await priv.kill();

    const attempts: [string, () => Promise<unknown>][] = [
      ['recordLogin', () => s.call.recordLogin({ eventId: 'down1', userId: '1' })],
      ['recordServiceCall', () => s.call.recordServiceCall({ eventId: 'down2', userId: '1', service: VENTE, outcome: ALLOWED })],
      ['registerUser', () => s.call.registerUser({ userId: '2' })],
      ['getDashboard', () => s.call.getDashboard({})],
    ];
    for (const [name, run] of attempts) {
      const started = Date.now();
      const err = await run().then(
        () => null,
        (e: unknown) => e as grpc.ServiceError,
      );
      const took = Date.now() - started;
      expect([name, err?.code, err?.details]).toEqual([name, grpc.status.UNAVAILABLE, 'statistics store unavailable']);
      expect(took).toBeLessThan(1000);
    }
    expect(await waitHealth('NOT_SERVING')).toBe('NOT_SERVING');

    await priv.start();
    expect(await waitHealth('SERVING')).toBe('SERVING');
    // The private server keeps nothing on disk: it comes back empty, and the script cache with
    // it; the scripts are loaded again by themselves.
    expect((await s.call.recordLogin({ eventId: 'after', userId: '1' })).duplicate).toBe(false);
    const direct = new Redis(`${priv.url}/1`);
    try {
      expect((await readUsage(direct, '1')).logins).toBe(1);
    } finally {
      direct.disconnect();
    }
  });
});

test('a Redis that stops answering: UNAVAILABLE after the command timeout, then back to normal', async () => {
  // Requests held at a relay of the test's own: as with a Redis stuck on a slow command, they
  // wait and are delivered, in order, once it flows again (replies stay matched to commands).
  const target = new URL(env.dbs.urls[0]!);
  const proxy = await startTcpRelay({ host: target.hostname, port: Number(target.port || 6379) });
  const s = await startTestStats(`redis://127.0.0.1:${proxy.port}${target.pathname}`, { healthIntervalMs: 100, redisTimeoutMs: 250 });
  try {
    expect((await s.call.recordLogin({ eventId: 'stall-0', userId: '90' })).duplicate).toBe(false);
    proxy.holdRequests(true);
    const started = Date.now();
    await expect(s.call.recordLogin({ eventId: 'stall-1', userId: '90' })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'statistics store unavailable',
    });
    expect(Date.now() - started).toBeLessThan(1500);
    proxy.holdRequests(false);
    // The stalled command reached Redis late: its outcome was unknown to the caller, and a
    // retry with the same event id is counted once.
    expect((await s.call.recordLogin({ eventId: 'stall-1', userId: '90' })).duplicate).toBe(true);
    expect((await readUsage(env.redis, '90')).logins).toBe(2);
  } finally {
    await s.close();
    await proxy.close();
  }
});

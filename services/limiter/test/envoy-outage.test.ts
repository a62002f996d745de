// Envoy's API when Redis is gone, on a redis-server of the test's own: each call fails with
// UNAVAILABLE inside Envoy's default 20 ms rate limit timeout (so Envoy's failure_mode_deny
// setting decides, not a timeout), and the API answers again by itself once Redis is back.
import * as grpc from '@grpc/grpc-js';
import { startPrivateRedis, type PrivateRedis } from '@etu/testkit';
import { startEnvoyHarness, type EnvoyHarness } from './envoy-harness';
import { rejection, sleep } from './helpers';

let redis: PrivateRedis;
let h: EnvoyHarness;

beforeAll(async () => {
  redis = await startPrivateRedis();
  h = await startEnvoyHarness(
    { 'd.yaml': 'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {window: 10m, requests_per_unit: 10}\n' },
    { redisUrl: redis.url },
  );
});
afterAll(async () => {
  await h.close();
  await redis.stop();
});

const ask = (timeoutMs: number) => h.client.ask({ domain: 'd', descriptors: [[['k', 'a']], [['k', 'b']]] }, { timeoutMs });

test("Redis killed: calls made with Envoy's 20 ms deadline fail with UNAVAILABLE, not by timing out; back once Redis is", async () => {
  expect((await ask(5000)).overall_code).toBe('OK');
  await redis.kill();
  // Failed at once, not after waiting: the store's own 150 ms deadline never fires (no offline
  // queue: a call while disconnected is refused on the spot).
  for (let i = 0; i < 20; i++) {
    const err = await rejection(ask(5000));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toMatch(/^limiter store unavailable/);
    expect(err.details).not.toMatch(/no answer within/);
  }
  // With Envoy's own 20 ms deadline: on this shared machine a call is now and then descheduled
  // past 20 ms (DEADLINE_EXCEEDED, where Envoy applies the same failure mode), but most answer
  // UNAVAILABLE in time.
  const codes: grpc.status[] = [];
  for (let i = 0; i < 50; i++) codes.push((await rejection(ask(20))).code);
  expect(codes.every((c) => c === grpc.status.UNAVAILABLE || c === grpc.status.DEADLINE_EXCEEDED)).toBe(true);
  expect(codes.filter((c) => c === grpc.status.UNAVAILABLE).length).toBeGreaterThan(25);
  await redis.start();
  const back = Date.now();
  for (;;) {
    try {
      // A private redis-server keeps nothing across a restart: the counters start again.
      expect(await ask(500)).toMatchObject({ overall_code: 'OK', statuses: [{ limit_remaining: 9 }, { limit_remaining: 9 }] });
      break;
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || Date.now() - back > 5000) throw err;
      await sleep(20);
    }
  }
});

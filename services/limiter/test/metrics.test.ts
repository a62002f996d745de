// The limiter's metrics as a scraper reads them: near-limit decisions (at most 10 % of the limit
// left), denials, and the kind of each Redis failure from the store's error.
import { Metrics, Unavailable } from '@etu/common';
import { LimiterMetrics, redisErrorKind } from '../src/metrics';

const decision = (allowed: boolean, remaining: number) => ({
  allowed,
  limit: 10,
  remaining,
  retryAfterMs: 0,
  resetAfterMs: 0,
  windowMs: 600_000,
  policy: 'service',
  nextReleaseMs: 0,
});

test('decisions by outcome; near limit = allowed with at most 10 % of the limit left', async () => {
  const m = new Metrics({ defaultMetrics: false });
  const lm = new LimiterMetrics(m, ['service', 'login']);
  for (let remaining = 9; remaining >= 0; remaining--) lm.decision(decision(true, remaining));
  lm.decision(decision(false, 0));
  lm.scriptCall(3, 0.0004);
  const text = await m.text();
  expect(text).toContain('etu_limiter_decisions_total{policy="service",outcome="allowed"} 10');
  expect(text).toContain('etu_limiter_decisions_total{policy="service",outcome="denied"} 1');
  expect(text).toContain('etu_limiter_decisions_total{policy="login",outcome="allowed"} 0');
  // remaining 1 and 0 of 10
  expect(text).toContain('etu_limiter_near_limit_total{policy="service"} 2');
  expect(text).toContain('etu_limiter_batch_size_bucket{le="2"} 0');
  expect(text).toContain('etu_limiter_batch_size_bucket{le="4"} 1');
  expect(text).toContain('etu_limiter_redis_script_duration_seconds_count 1');
});

test('each Redis failure is counted under its kind', () => {
  expect(redisErrorKind(new Unavailable('limiter store unavailable: no answer within 150 ms'))).toBe('timeout');
  expect(redisErrorKind(new Unavailable('limiter store unavailable: too many calls waiting for it'))).toBe('overloaded');
  expect(redisErrorKind(new Unavailable('limiter store unavailable: Redis OOM (maxmemory reached)'))).toBe('oom');
  expect(redisErrorKind(new Unavailable('limiter store unavailable: Redis READONLY (a replica)'))).toBe('readonly');
  expect(redisErrorKind(new Unavailable('limiter store unavailable: Redis Cluster redirections exhausted (a slot moving)'))).toBe(
    'redirect',
  );
  expect(redisErrorKind(new Unavailable('limiter store unavailable'))).toBe('unavailable');
  expect(redisErrorKind(new Error('limiter script answered 3 numbers for 1 keys'))).toBe('other');
});

test("Envoy rules: envoyproxy/ratelimit's stat names, labels per level, near_limit = hits above 80 %, peeks not counted", async () => {
  const m = new Metrics({ defaultMetrics: false });
  const lm = new LimiterMetrics(m);
  const rule = {
    statKey: 'edge.remote_address_50.0.0.5.path',
    statPath: ['edge', 'remote_address_50.0.0.5', 'path'],
    limits: [],
    unlimited: false,
    shadow: true,
  };
  const limit = { limit: 10, windowMs: 1000, unit: 'SECOND' as const, name: '', replaces: [] };
  const o = { rule, limit, untilResetMs: 0, fullResetMs: 0 };
  lm.envoy({ ...o, allowed: true, hits: 7, remaining: 3 });
  lm.envoy({ ...o, allowed: true, hits: 3, remaining: 0 });
  lm.envoy({ ...o, allowed: false, hits: 2, remaining: 0 });
  lm.envoy({ ...o, allowed: true, hits: 0, remaining: 0 });
  lm.configLoad(true);
  const text = await m.text();
  const labels = '{domain="edge",key1="remote_address_50.0.0.5",key2="path"}';
  expect(text).toContain(`ratelimit_service_rate_limit_total_hits${labels} 12`);
  expect(text).toContain(`ratelimit_service_rate_limit_within_limit${labels} 10`);
  expect(text).toContain(`ratelimit_service_rate_limit_near_limit${labels} 2`);
  expect(text).toContain(`ratelimit_service_rate_limit_over_limit${labels} 2`);
  expect(text).toContain(`ratelimit_service_rate_limit_shadow_mode${labels} 2`);
  expect(text).toContain('ratelimit_service_config_load_success 1');
  expect(text).toContain('ratelimit_service_config_load_error 0');
});

// Envoy's API where it goes beyond envoyproxy/ratelimit, over gRPC against real Redis: exact
// windows of any length (the 11th call of a 10-minute window is admitted exactly when the oldest
// leaves), several limits on one descriptor, all-or-nothing requests, refused hits never
// counted, hits_addend 0 as a peek that writes nothing, the operators' Peek/Reset companion, and
// the configuration reloaded when its files change (a bad file keeps the last good configuration). Times that a test cannot wait
// for are set up by writing the stored log with past events (Redis TIME is the clock).
import * as grpc from '@grpc/grpc-js';
import { createServiceClient, Metrics } from '@etu/common';
import { TEST_TOKEN } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { EnvoyConfig } from '../src/envoy-config';
import { envoyKey } from '../src/envoy';
import { decodeLog } from '../src/sliding-window';
import { adminClient, envoyClient, startEnvoyHarness, resetMs, type EnvoyHarness } from './envoy-harness';
import { encodeLog, rejection, sleep, waitServing } from './helpers';

const RULES = `
domain: api
descriptors:
  - key: client
    rate_limit:
      window: 10m
      requests_per_unit: 10
  - key: user
    rate_limits:
      - name: per_minute
        unit: minute
        requests_per_unit: 5
      - name: per_hour
        window: 1h
        requests_per_unit: 8
  - key: tenant
    rate_limit:
      window: 90s
      requests_per_unit: 50
  - key: trial
    shadow_mode: true
    rate_limit:
      window: 10m
      requests_per_unit: 2
`;

let h: EnvoyHarness;
beforeAll(async () => {
  h = await startEnvoyHarness({ 'api.yaml': RULES });
});
afterAll(async () => {
  await h.close();
});

let seq = 0;
const fresh = (label: string) => `${label}-${++seq}`;
const W10 = 600_000;

async function times(key: string): Promise<number[]> {
  const v = await h.redis.getBuffer(key);
  return v ? decodeLog(v).timesUs : [];
}

test('a 10-minute window: the 11th call is refused until the oldest counted call leaves, and admitted once it has', async () => {
  const who = fresh('c');
  const key = envoyKey('api', [{ key: 'client', value: who }], W10);
  const now = await h.redisNowUs();
  // Ten calls: the oldest 10 minutes minus 1.5 s ago, the others 5 minutes ago.
  const oldest = now - W10 * 1000 + 1_500_000;
  const events = [oldest, ...Array.from({ length: 9 }, (_, i) => now - 300e6 + i)];
  await h.redis.set(key, encodeLog(4, oldest, events), 'PX', W10);

  const before = await h.redisNowUs();
  const refused = await h.ask({ domain: 'api', descriptors: [[['client', who]]] });
  const after = await h.redisNowUs();
  // A 10-minute window is no Envoy unit: UNKNOWN (no w= in Envoy's headers), and the exact wait.
  expect(refused).toMatchObject({
    overall_code: 'OVER_LIMIT',
    statuses: [{ code: 'OVER_LIMIT', current_limit: { requests_per_unit: 10, unit: 'UNKNOWN' }, limit_remaining: 0 }],
  });
  const wait = resetMs(refused.statuses[0]!);
  expect(wait).toBeGreaterThanOrEqual(Math.floor((oldest + W10 * 1000 - after) / 1000));
  expect(wait).toBeLessThanOrEqual(Math.ceil((oldest + W10 * 1000 - before) / 1000));
  expect(await times(key)).toEqual(events);

  // Still refused while the oldest is in the window (asked again well before it leaves).
  if (wait > 400) expect((await h.ask({ domain: 'api', descriptors: [[['client', who]]] })).overall_code).toBe('OVER_LIMIT');
  await sleep(wait + 5);
  const admitted = await h.ask({ domain: 'api', descriptors: [[['client', who]]] });
  expect(admitted.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 0 });
  // The next one frees up when the oldest remaining call (5 minutes old) leaves.
  expect(resetMs(admitted.statuses[0]!)).toBeGreaterThan(290_000);
  expect(resetMs(admitted.statuses[0]!)).toBeLessThanOrEqual(300_000);
  const stored = await times(key);
  expect(stored).toHaveLength(10);
  expect(stored.slice(0, 9)).toEqual(events.slice(1));
  expect(stored[9]).toBeGreaterThanOrEqual(oldest + W10 * 1000);
  // The refused calls counted nothing: exactly ten calls are in the window, never eleven.
  expect((await h.ask({ domain: 'api', descriptors: [[['client', who]]] })).overall_code).toBe('OVER_LIMIT');
});

test('windows that are exactly one Envoy unit are sent with that unit; others as UNKNOWN with their exact wait', async () => {
  const r = await h.ask({ domain: 'api', descriptors: [[['tenant', fresh('t')]]] });
  expect(r.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 50, unit: 'UNKNOWN' }, limit_remaining: 49 });
  // Nothing else counted: the one call leaves in 90 s.
  expect(resetMs(r.statuses[0]!)).toBe(90_000);
});

test('two limits on one descriptor: each decides, the status shows the one over (or the one with least left)', async () => {
  const u = fresh('u');
  const ask = (hits?: number) => h.ask({ domain: 'api', descriptors: [[['user', u]]], hits_addend: hits });
  const four = await ask(4);
  expect(four.statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: { name: 'per_minute', requests_per_unit: 5, unit: 'MINUTE' },
    limit_remaining: 1,
  });
  const five = await ask();
  expect(five.statuses[0]).toMatchObject({ code: 'OK', current_limit: { name: 'per_minute' }, limit_remaining: 0 });
  const six = await ask();
  expect(six.statuses[0]).toMatchObject({
    code: 'OVER_LIMIT',
    current_limit: { name: 'per_minute', requests_per_unit: 5, unit: 'MINUTE' },
  });

  // A minute later (the minute's calls moved 61 s into the past): the hour still holds them.
  const minuteKey = envoyKey('api', [{ key: 'user', value: u }], 60_000);
  const hourKey = envoyKey('api', [{ key: 'user', value: u }], 3_600_000);
  const now = await h.redisNowUs();
  const past = Array.from({ length: 5 }, () => now - 61_000_000);
  await h.redis.set(minuteKey, encodeLog(4, past[0]!, past), 'PX', 60_000);
  await h.redis.set(hourKey, encodeLog(5, past[0]!, past), 'PX', 3_600_000);
  const three = await ask(3);
  expect(three.statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: { name: 'per_hour', requests_per_unit: 8, unit: 'HOUR' },
    limit_remaining: 0,
  });
  const ninth = await ask();
  expect(ninth.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', current_limit: { name: 'per_hour', requests_per_unit: 8, unit: 'HOUR' } });
  // The hour refused it, so the minute did not count it either (2 left there, not 1).
  expect(await times(minuteKey)).toHaveLength(3);
  expect(await times(hourKey)).toHaveLength(8);
});

test('all or nothing: when one descriptor is over, the others count nothing; shadow mode never blocks the others', async () => {
  const c = fresh('c');
  const t = fresh('t');
  await h.ask({ domain: 'api', descriptors: [[['client', c]]], hits_addend: 10 });
  const r = await h.ask({ domain: 'api', descriptors: [[['tenant', t]], [['client', c]]] });
  expect([r.overall_code, ...r.statuses.map((s) => s.code)]).toEqual(['OVER_LIMIT', 'OK', 'OVER_LIMIT']);
  expect(r.statuses[0]).toMatchObject({ limit_remaining: 50 });
  expect(await times(envoyKey('api', [{ key: 'tenant', value: t }], 90_000))).toEqual([]);

  // A shadow rule over its limit: answered OK, its hit not counted, the others counted.
  const trial = fresh('trial');
  await h.ask({ domain: 'api', descriptors: [[['trial', trial]]], hits_addend: 2 });
  const s = await h.ask({ domain: 'api', descriptors: [[['trial', trial]], [['tenant', t]]] });
  expect([s.overall_code, ...s.statuses.map((x) => x.code)]).toEqual(['OK', 'OK', 'OK']);
  expect(s.statuses[0]).toMatchObject({ current_limit: { requests_per_unit: 2 }, limit_remaining: 0 });
  expect(s.statuses[1]).toMatchObject({ limit_remaining: 49 });
  expect(await times(envoyKey('api', [{ key: 'trial', value: trial }], W10))).toHaveLength(2);
});

test('two descriptors naming one counter see each other in the same request', async () => {
  const c = fresh('c');
  await h.ask({ domain: 'api', descriptors: [[['client', c]]], hits_addend: 8 });
  // 8 counted, 2 left: one request adding 1 + 2 does not fit, and counts nothing.
  const r = await h.ask({ domain: 'api', descriptors: [[['client', c]], { entries: [['client', c]], hits: 2 }] });
  expect([r.overall_code, ...r.statuses.map((s) => s.code)]).toEqual(['OVER_LIMIT', 'OK', 'OVER_LIMIT']);
  expect(await times(envoyKey('api', [{ key: 'client', value: c }], W10))).toHaveLength(8);
  // Two that fit: decided in order, each status says what was left after it.
  const ok = await h.ask({ domain: 'api', descriptors: [[['client', c]], [['client', c]]] });
  expect(ok.statuses.map((s) => [s.code, s.limit_remaining])).toEqual([
    ['OK', 1],
    ['OK', 0],
  ]);
  expect(await times(envoyKey('api', [{ key: 'client', value: c }], W10))).toHaveLength(10);
});

test('hits_addend: per descriptor over the request one; 0 is a peek that writes nothing; more than the limit never fits', async () => {
  const c = fresh('c');
  const key = envoyKey('api', [{ key: 'client', value: c }], W10);
  const peek = await h.ask({ domain: 'api', descriptors: [{ entries: [['client', c]], hits: 0 }], hits_addend: 5 });
  expect(peek.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 10 });
  expect(await h.redis.exists(key)).toBe(0);
  const three = await h.ask({ domain: 'api', descriptors: [{ entries: [['client', c]], hits: 3 }], hits_addend: 5 });
  expect(three.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 7 });
  const five = await h.ask({ domain: 'api', descriptors: [[['client', c]]], hits_addend: 5 });
  expect(five.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 2 });
  expect(await times(key)).toHaveLength(8);
  // A peek says whether one more hit would fit, and still writes nothing.
  await h.ask({ domain: 'api', descriptors: [[['client', c]]], hits_addend: 2 });
  const full = await h.ask({ domain: 'api', descriptors: [{ entries: [['client', c]], hits: 0 }] });
  expect(full.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', limit_remaining: 0 });
  expect(await times(key)).toHaveLength(10);
  const huge = await h.ask({ domain: 'api', descriptors: [{ entries: [['tenant', fresh('t')]], hits: 2 ** 40 }] });
  expect(huge.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', limit_remaining: 50, current_limit: { requests_per_unit: 50 } });
});

test('RateLimit headers: none by default; with envoyRateLimitHeaders, the limit closest to refusing, as the gateway writes them', async () => {
  const c = fresh('c');
  expect((await h.ask({ domain: 'api', descriptors: [[['client', c]]] })).response_headers_to_add).toEqual([]);
  const g = await startEnvoyHarness({ 'api.yaml': RULES }, { envoyRateLimitHeaders: true });
  try {
    const headers = (r: { response_headers_to_add: Array<{ key: string; value: string }> }) =>
      Object.fromEntries(r.response_headers_to_add.map((x) => [x.key, x.value]));
    const t = fresh('t');
    const three = await g.ask({ domain: 'api', descriptors: [[['client', c]], [['tenant', t]]], hits_addend: 3 });
    // client: 7 of 10 left (10-minute window), tenant: 47 of 50: the client is closest.
    expect(headers(three)).toEqual({ 'RateLimit-Policy': '"api.client";q=10;w=600', RateLimit: '"api.client";r=7;t=600' });
    const u = fresh('u');
    await g.ask({ domain: 'api', descriptors: [[['user', u]]], hits_addend: 5 });
    const over = await g.ask({ domain: 'api', descriptors: [[['tenant', t]], [['user', u]]] });
    expect(over.overall_code).toBe('OVER_LIMIT');
    const h2 = headers(over);
    expect(h2['RateLimit-Policy']).toBe('"per_minute";q=5;w=60');
    expect(h2.RateLimit).toMatch(/^"per_minute";r=0;t=(59|60)$/);
  } finally {
    await g.close();
  }
});

test("the operators' companion: PeekRateLimit counts nothing, ResetRateLimit forgets a descriptor's counters; both need the token", async () => {
  const admin = adminClient(h.addr);
  try {
    const u = fresh('u');
    const ask = { domain: 'api', descriptors: [[['user', u]]] as Array<Array<[string, string]>>, hits_addend: 5 };
    await h.ask({ ...ask, hits_addend: 4 });
    const minuteKey = envoyKey('api', [{ key: 'user', value: u }], 60_000);
    for (let i = 0; i < 3; i++) {
      // hits_addend is not read: one more hit would fit in both limits.
      expect((await admin.peek(ask)).statuses[0]).toMatchObject({ code: 'OK', current_limit: { name: 'per_minute' }, limit_remaining: 1 });
    }
    expect(await times(minuteKey)).toHaveLength(4);
    await h.ask({ ...ask, hits_addend: 1 });
    expect((await admin.peek(ask)).statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      current_limit: { name: 'per_minute' },
      limit_remaining: 0,
    });

    const after = await admin.reset(ask);
    expect(after.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 5 });
    expect(await h.redis.exists(minuteKey, envoyKey('api', [{ key: 'user', value: u }], 3_600_000))).toBe(0);
    expect((await h.ask({ ...ask, hits_addend: 1 })).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 4 });
    // Another user's counters are untouched by that reset.
    expect((await admin.peek({ domain: 'api', descriptors: [[['user', fresh('u')]]] })).statuses[0]).toMatchObject({ limit_remaining: 5 });
    expect((await rejection(admin.peek(ask, { token: null }))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await rejection(admin.reset(ask, { token: 'nope' }))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await times(minuteKey)).toHaveLength(1);
  } finally {
    admin.close();
  }
});

test("a listener without the token (off by default) serves Envoy's call only; the main port still asks for the token", async () => {
  expect(h.server.envoyTrustedPort).toBeUndefined();
  const g = await startEnvoyHarness({ 'api.yaml': RULES }, { envoyTrustedAddr: '127.0.0.1:0' });
  const trustedAddr = `127.0.0.1:${g.server.envoyTrustedPort!}`;
  const trusted = envoyClient(trustedAddr);
  const admin = adminClient(trustedAddr);
  const own = createServiceClient(limiter.LimiterServiceClient, trustedAddr, { token: TEST_TOKEN, timeoutMs: 5000 });
  try {
    const c = fresh('c');
    expect((await trusted.ask({ domain: 'api', descriptors: [[['client', c]]] }, { token: null })).statuses[0]).toMatchObject({
      code: 'OK',
      limit_remaining: 9,
    });
    // The same counters as the main port's.
    expect((await g.ask({ domain: 'api', descriptors: [[['client', c]]] })).statuses[0]).toMatchObject({ limit_remaining: 8 });
    expect((await rejection(g.client.ask({ domain: 'api', descriptors: [[['client', c]]] }, { token: null }))).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    expect((await rejection(admin.reset({ domain: 'api', descriptors: [[['client', c]]] }))).code).toBe(grpc.status.UNIMPLEMENTED);
    expect((await rejection(own.call.consume({ policy: 'service', subject: 'x' }))).code).toBe(grpc.status.UNIMPLEMENTED);
    await waitServing(trustedAddr); // its health follows Redis too
  } finally {
    trusted.close();
    admin.close();
    own.close();
    await g.close();
  }
  await expect(startEnvoyHarness({}, { envoyConfigDir: undefined, envoyTrustedAddr: '127.0.0.1:0' })).rejects.toThrow('needs Envoy rules');
});

test('a changed file is in force at once; a bad one is refused, counted and logged, and the last good one stays', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const g = await startEnvoyHarness(
    { 'a.yaml': 'domain: reload\ndescriptors:\n  - key: k\n    rate_limit: {unit: hour, requests_per_unit: 5}\n' },
    { metrics },
  );
  try {
    const limitOf = async () =>
      (await g.ask({ domain: 'reload', descriptors: [[['k', 'v']]] })).statuses[0]!.current_limit?.requests_per_unit;
    expect(await limitOf()).toBe(5);
    const src = g.server.envoyConfig!;
    let next = src.nextReload();
    g.writeFile('a.yaml', 'domain: reload\ndescriptors:\n  - key: k\n    rate_limit: {unit: hour, requests_per_unit: 7}\n');
    expect(await next).toBe(true);
    expect(await limitOf()).toBe(7);

    next = src.nextReload();
    g.writeFile('a.yaml', 'domain: reload\ndescriptors:\n  - key: k\n    rate_limit: {unit: fortnight, requests_per_unit: 9}\n');
    expect(await next).toBe(false);
    expect(await limitOf()).toBe(7);
    const text = await metrics.text();
    expect(text).toMatch(/^ratelimit_service_config_load_error 1$/m);
    expect(text).toMatch(/^ratelimit_service_config_load_success 2$/m);

    // A second domain in a new file; then the broken file mended.
    next = src.nextReload();
    g.writeFile('b.yml', 'domain: other\ndescriptors:\n  - key: k\n    rate_limit: {unit: hour, requests_per_unit: 3}\n');
    expect(await next).toBe(false); // a.yaml is still broken: nothing changes
    next = src.nextReload();
    g.writeFile('a.yaml', 'domain: reload\ndescriptors:\n  - key: k\n    rate_limit: {unit: hour, requests_per_unit: 9}\n');
    expect(await next).toBe(true);
    expect(await limitOf()).toBe(9);
    expect((await g.ask({ domain: 'other', descriptors: [[['k', 'v']]] })).statuses[0]!.current_limit?.requests_per_unit).toBe(3);
  } finally {
    await g.close();
  }
});

test('a directory that does not load stops the start-up, naming the file and the place', async () => {
  await expect(startEnvoyHarness({ 'bad.yaml': 'domain: x\ndescriptors:\n  - key: k\n    rate_limit: {unit: second}\n' })).rejects.toThrow(
    'bad.yaml: descriptors[0].rate_limit: requests_per_unit must be an integer 0-10000',
  );
});

describe('configuration files', () => {
  const load = (text: string) => EnvoyConfig.parse([{ name: 'f.yaml', text }]);
  test.each([
    ['no domain', 'descriptors: []', 'f.yaml: config file cannot have empty domain'],
    ['an unknown key', 'domain: d\ndescriptors:\n  - key: k\n    rate_limt: {}', "f.yaml: descriptors[0]: unknown key 'rate_limt'"],
    ['an empty key', 'domain: d\ndescriptors:\n  - value: v', 'f.yaml: descriptors[0]: descriptor has empty key'],
    ['a duplicate descriptor', 'domain: d\ndescriptors:\n  - key: k\n  - key: k', "duplicate descriptor composite key 'd.k'"],
    [
      'a bad unit',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: week, requests_per_unit: 1}',
      "invalid rate limit unit 'week'",
    ],
    [
      'unit and window',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: hour, window: 2h, requests_per_unit: 1}',
      'give either unit or window',
    ],
    [
      'a bad window',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {window: 10 minutes, requests_per_unit: 1}',
      'is not a duration',
    ],
    [
      'a window over 31 days',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {window: 32d, requests_per_unit: 1}',
      'must be 1 ms to 31 days',
    ],
    [
      'unlimited with a unit',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unlimited: true, unit: second}',
      'should not specify a unit',
    ],
    [
      'two limits with one window',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limits: [{unit: minute, requests_per_unit: 1}, {window: 60s, requests_per_unit: 2}]',
      'same window',
    ],
    [
      'share_threshold without wildcard',
      'domain: d\ndescriptors:\n  - key: k\n    value: v\n    share_threshold: true',
      'share_threshold can only be used with wildcard',
    ],
    ['quota_mode', 'domain: d\ndescriptors:\n  - key: k\n    quota_mode: true', 'quota_mode is not supported'],
    [
      'replaces naming itself',
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {name: a, replaces: [{name: a}], unit: second, requests_per_unit: 1}',
      'replaces should not contain name of same descriptor',
    ],
    ['not YAML', 'domain: [d', 'not valid YAML'],
  ])('%s is refused', (_label, text, message) => {
    expect(() => load(text)).toThrow(message);
  });

  test('one domain per file across the directory', () => {
    expect(() =>
      EnvoyConfig.parse([
        { name: 'a.yaml', text: 'domain: d\ndescriptors: []' },
        { name: 'b.yaml', text: 'domain: d\ndescriptors: []' },
      ]),
    ).toThrow("b.yaml: duplicate domain 'd' (also in a.yaml)");
  });

  test('matching: key and value first, then a wildcard, then the key alone', () => {
    const c = load(
      'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1}\n  - key: k\n    value: a*\n    rate_limit: {unit: second, requests_per_unit: 2}\n  - key: k\n    value: ab\n    rate_limit: {unit: second, requests_per_unit: 3}\n',
    );
    const limitFor = (v: string) => c.match('d', [{ key: 'k', value: v }])?.rule.limits[0]!.limit;
    expect([limitFor('ab'), limitFor('abc'), limitFor('b')]).toEqual([3, 2, 1]);
    expect(c.match('d', [{ key: 'other', value: 'x' }])).toBeUndefined();
  });
});

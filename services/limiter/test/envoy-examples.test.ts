// envoyproxy/ratelimit's README configuration examples, loaded unchanged from YAML files, each
// asked over gRPC as Envoy asks (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit)
// and checked against the answers that README documents. Counts are reached with hits_addend
// where a limit is large, so that 1-second windows are filled well inside their second.
import * as grpc from '@grpc/grpc-js';
import { startEnvoyHarness, type Ask, type EnvoyHarness, type Response } from './envoy-harness';
import { rejection } from './helpers';

const FILES: Record<string, string> = {
  'example1.yaml': `
domain: mongo_cps
descriptors:
  - key: database
    value: users
    rate_limit:
      unit: second
      requests_per_unit: 500

  - key: database
    value: default
    rate_limit:
      unit: second
      requests_per_unit: 500
`,
  'example2.yaml': `
domain: messaging
descriptors:
  # Only allow 5 marketing messages a day
  - key: message_type
    value: marketing
    descriptors:
      - key: to_number
        rate_limit:
          unit: day
          requests_per_unit: 5

  # Only allow 100 messages a day to any unique phone number
  - key: to_number
    rate_limit:
      unit: day
      requests_per_unit: 100
`,
  'example3.yaml': `
domain: edge_proxy_per_ip
descriptors:
  - key: remote_address
    rate_limit:
      unit: second
      requests_per_unit: 10

  # Black list IP
  - key: remote_address
    value: 50.0.0.5
    rate_limit:
      unit: second
      requests_per_unit: 0
`,
  'example4.yaml': `
domain: example4
descriptors:
  - key: key
    value: value
    rate_limit:
      requests_per_unit: 300
      unit: second
`,
  'example4-nested.yaml': `
domain: example4_nested
descriptors:
  - key: key
    value: value
    descriptors:
      - key: subkey
        rate_limit:
          requests_per_unit: 300
          unit: second
`,
  'example5.yaml': `
domain: internal
descriptors:
  - key: ldap
    rate_limit:
      unlimited: true

  - key: azure
    rate_limit:
      unit: minute
      requests_per_unit: 100
`,
  'example6.yaml': `
domain: example6
descriptors:
  - key: service
    descriptors:
      - key: user
        value: user-a
        rate_limit:
          requests_per_unit: 10
          unit: second
        shadow_mode: true
      - key: user
        value: user-b
        rate_limit:
          requests_per_unit: 20
          unit: second
`,
  'example7.yaml': `
domain: example7
descriptors:
  - key: key_1
    value: value_1
    descriptors:
      - key: user
        value: bkthomps
        rate_limit:
          name: specific_limit
          requests_per_unit: 5
          unit: second
  - key: key_2
    value: value_2
    descriptors:
      - key: user
        value: bkthomps
        rate_limit:
          replaces:
            - name: specific_limit
          requests_per_unit: 10
          unit: second
`,
  'example9.yaml': `
domain: example9
descriptors:
  - key: key1
    value: value*
    rate_limit:
      unit: minute
      requests_per_unit: 20
  - key: path
    value: /api/*/action
    rate_limit:
      unit: minute
      requests_per_unit: 20
  - key: route
    value: /api/*/resource/*/action
    rate_limit:
      unit: minute
      requests_per_unit: 20
`,
  'example11.yaml': `
domain: example11
descriptors:
  # With share_threshold: true, all files/* matches share the same threshold
  - key: files
    value: files/*
    share_threshold: true
    rate_limit:
      unit: hour
      requests_per_unit: 10

  # Without share_threshold, each files_no_share/* match has its own isolated threshold
  - key: files_no_share
    value: files_no_share/*
    share_threshold: false
    rate_limit:
      unit: hour
      requests_per_unit: 10
`,
};

let h: EnvoyHarness;
beforeAll(async () => {
  h = await startEnvoyHarness(FILES);
});
afterAll(async () => {
  await h.close();
});

let seq = 0;
/** A value no other test uses (every run starts from an empty Redis db anyway). */
const fresh = (label: string) => `${label}-${++seq}`;
const ask = (a: Ask): Promise<Response> => h.ask(a);
const codes = (r: Response) => [r.overall_code, ...r.statuses.map((s) => s.code)];

test('Example 1: ("database","users") and ("database","default") each get 500 per second; another value has no limit', async () => {
  for (const value of ['users', 'default']) {
    const first = await ask({ domain: 'mongo_cps', descriptors: [[['database', value]]] });
    expect(first.overall_code).toBe('OK');
    expect(first.statuses[0]).toMatchObject({
      code: 'OK',
      current_limit: { requests_per_unit: 500, unit: 'SECOND', name: '' },
      limit_remaining: 499,
    });
    const full = await ask({ domain: 'mongo_cps', descriptors: [[['database', value]]], hits_addend: 499 });
    expect(full.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 0 });
    const over = await ask({ domain: 'mongo_cps', descriptors: [[['database', value]]] });
    expect(over.overall_code).toBe('OVER_LIMIT');
    expect(over.statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      current_limit: { requests_per_unit: 500, unit: 'SECOND' },
      limit_remaining: 0,
    });
  }
  // Not configured: OK, with no limit (envoyproxy/ratelimit's answer for an unmatched descriptor).
  const other = await ask({ domain: 'mongo_cps', descriptors: [[['database', 'other']]] });
  expect(other).toMatchObject({ overall_code: 'OK', statuses: [{ code: 'OK', current_limit: null, limit_remaining: 0 }] });
  // An unknown domain limits nothing either.
  expect((await ask({ domain: 'nobody', descriptors: [[['database', 'users']]] })).statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: null,
  });
});

test('Example 2: 5 marketing messages a day per number, 100 messages a day per number, both asked in one request', async () => {
  const number = fresh('206');
  const both = (n: string) => ({
    domain: 'messaging',
    descriptors: [
      [
        ['message_type', 'marketing'],
        ['to_number', n],
      ],
      [['to_number', n]],
    ] as Array<Array<[string, string]>>,
  });
  for (let i = 0; i < 5; i++) {
    const r = await ask(both(number));
    expect(codes(r)).toEqual(['OK', 'OK', 'OK']);
    expect(r.statuses[0]).toMatchObject({ current_limit: { requests_per_unit: 5, unit: 'DAY' }, limit_remaining: 4 - i });
    expect(r.statuses[1]).toMatchObject({ current_limit: { requests_per_unit: 100, unit: 'DAY' }, limit_remaining: 99 - i });
  }
  // The sixth marketing message is over ("a logical OR of all the individual decisions")...
  const sixth = await ask(both(number));
  expect(codes(sixth)).toEqual(['OVER_LIMIT', 'OVER_LIMIT', 'OK']);
  // ...and, going beyond envoyproxy/ratelimit, the refused request counted nothing anywhere:
  // the per-number budget still has 95, not 94.
  expect(sixth.statuses[1]).toMatchObject({ limit_remaining: 95 });
  expect((await ask({ domain: 'messaging', descriptors: [[['to_number', number]]] })).statuses[0]).toMatchObject({
    code: 'OK',
    limit_remaining: 94,
  });
  // Each number has its own counters ("will each get 5 requests per day").
  expect(codes(await ask(both(fresh('206'))))).toEqual(['OK', 'OK', 'OK']);
});

test('Example 3: 10 per second per address, and the most specific match wins: 50.0.0.5 is always over', async () => {
  const ip = `50.0.0.${100 + ++seq}`;
  const r = await ask({ domain: 'edge_proxy_per_ip', descriptors: [[['remote_address', ip]]], hits_addend: 10 });
  expect(r.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 10, unit: 'SECOND' }, limit_remaining: 0 });
  expect((await ask({ domain: 'edge_proxy_per_ip', descriptors: [[['remote_address', ip]]] })).overall_code).toBe('OVER_LIMIT');
  for (let i = 0; i < 3; i++) {
    const black = await ask({ domain: 'edge_proxy_per_ip', descriptors: [[['remote_address', '50.0.0.5']]] });
    expect(black).toMatchObject({
      overall_code: 'OVER_LIMIT',
      statuses: [{ code: 'OVER_LIMIT', current_limit: { requests_per_unit: 0, unit: 'SECOND' }, limit_remaining: 0 }],
    });
  }
  expect(await h.redis.keys('rle:{edge_proxy_per_ip|remote_address=50.0.0.5}*')).toEqual([]);
});

test('Example 4: a descriptor matches rules at its own depth only', async () => {
  const two: Array<[string, string]> = [
    ['key', 'value'],
    ['subkey', 'subvalue'],
  ];
  expect((await ask({ domain: 'example4', descriptors: [two] })).statuses[0]).toMatchObject({ code: 'OK', current_limit: null });
  expect((await ask({ domain: 'example4_nested', descriptors: [two] })).statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: { requests_per_unit: 300, unit: 'SECOND' },
    limit_remaining: 299,
  });
  // The one-entry descriptor matches the one-level rule, and not the nested one.
  expect((await ask({ domain: 'example4', descriptors: [[['key', 'value']]] })).statuses[0]).toMatchObject({
    current_limit: { requests_per_unit: 300 },
  });
  expect((await ask({ domain: 'example4_nested', descriptors: [[['key', 'value']]] })).statuses[0]).toMatchObject({ current_limit: null });
});

test('Example 5: an unlimited descriptor is OK with limit_remaining MaxUint32 and touches no counter; azure gets 100 a minute', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await ask({ domain: 'internal', descriptors: [[['ldap', 'x']]], hits_addend: 1000 });
    expect(r).toMatchObject({ overall_code: 'OK', statuses: [{ code: 'OK', current_limit: null, limit_remaining: 4294967295 }] });
  }
  expect(await h.redis.keys('rle:{internal|ldap*')).toEqual([]);
  const az = fresh('az');
  expect((await ask({ domain: 'internal', descriptors: [[['azure', az]]], hits_addend: 100 })).statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: { requests_per_unit: 100, unit: 'MINUTE' },
    limit_remaining: 0,
  });
  expect((await ask({ domain: 'internal', descriptors: [[['azure', az]]] })).overall_code).toBe('OVER_LIMIT');
});

test('Example 6: user-a in shadow mode is never limited; user-b is limited to 20 per second', async () => {
  const svc = fresh('auth-service');
  const a = (hits?: number) =>
    ask({
      domain: 'example6',
      descriptors: [
        [
          ['service', svc],
          ['user', 'user-a'],
        ],
      ],
      hits_addend: hits,
    });
  expect((await a(10)).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 0 });
  for (let i = 0; i < 3; i++) {
    const r = await a();
    // Over its 10, answered OK anyway; the status still shows the limit and nothing left.
    expect(r).toMatchObject({
      overall_code: 'OK',
      statuses: [{ code: 'OK', current_limit: { requests_per_unit: 10, unit: 'SECOND' }, limit_remaining: 0 }],
    });
  }
  const b = (hits?: number) =>
    ask({
      domain: 'example6',
      descriptors: [
        [
          ['service', svc],
          ['user', 'user-b'],
        ],
      ],
      hits_addend: hits,
    });
  expect((await b(20)).statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 20 }, limit_remaining: 0 });
  expect((await b()).overall_code).toBe('OVER_LIMIT');
});

test('Example 7: with both descriptors, the named 5/s limit is replaced by the 10/s one and left untouched', async () => {
  const first: Array<[string, string]> = [
    ['key_1', 'value_1'],
    ['user', 'bkthomps'],
  ];
  const second: Array<[string, string]> = [
    ['key_2', 'value_2'],
    ['user', 'bkthomps'],
  ];
  const both = await ask({ domain: 'example7', descriptors: [first, second], hits_addend: 10 });
  expect(codes(both)).toEqual(['OK', 'OK', 'OK']);
  expect(both.statuses[0]).toMatchObject({ current_limit: null });
  expect(both.statuses[1]).toMatchObject({ current_limit: { requests_per_unit: 10, unit: 'SECOND' }, limit_remaining: 0 });
  expect(codes(await ask({ domain: 'example7', descriptors: [first, second] }))).toEqual(['OVER_LIMIT', 'OK', 'OVER_LIMIT']);
  // "this will not affect the 5 / sec limit": alone, the first descriptor has its 5.
  expect((await ask({ domain: 'example7', descriptors: [first] })).statuses[0]).toMatchObject({
    code: 'OK',
    current_limit: { name: 'specific_limit', requests_per_unit: 5 },
    limit_remaining: 4,
  });
});

test('Example 9: wildcards at the end, in the middle and several times; each matching value has its own counter', async () => {
  const cases: Array<[string, string, boolean]> = [
    ['key1', 'value1', true],
    ['key1', 'valueXYZ', true],
    ['key1', 'valu', false],
    ['path', '/api/123/action', true],
    ['path', '/api/user-id/action', true],
    ['path', '/api/123/other', false],
    ['route', '/api/v1/resource/123/action', true],
    ['route', '/api/v2/resource/456/action', true],
    ['route', '/api/v2/other/456/action', false],
  ];
  for (const [key, value, matches] of cases) {
    const r = await ask({ domain: 'example9', descriptors: [[[key, value]]] });
    if (matches)
      expect(r.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 20, unit: 'MINUTE' }, limit_remaining: 19 });
    else expect(r.statuses[0]).toMatchObject({ code: 'OK', current_limit: null });
  }
});

test('Example 11: share_threshold makes every files/* value share one counter; files_no_share/* values are isolated', async () => {
  const shared = (name: string, hits?: number) =>
    ask({ domain: 'example11', descriptors: [[['files', `files/${name}`]]], hits_addend: hits });
  expect((await shared('a.pdf', 5)).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 5 });
  expect((await shared('b.csv', 5)).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 0 });
  expect((await shared('c.txt')).statuses[0]).toMatchObject({ code: 'OVER_LIMIT', current_limit: { requests_per_unit: 10, unit: 'HOUR' } });
  const isolated = (name: string, hits?: number) =>
    ask({ domain: 'example11', descriptors: [[['files_no_share', `files_no_share/${name}`]]], hits_addend: hits });
  expect((await isolated('a.pdf', 10)).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 0 });
  expect((await isolated('a.pdf')).statuses[0]).toMatchObject({ code: 'OVER_LIMIT' });
  expect((await isolated('b.csv')).statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 9 });
});

test('a request without a domain or without descriptors is INVALID_ARGUMENT; without the internal token UNAUTHENTICATED', async () => {
  expect((await rejection(ask({ domain: '', descriptors: [[['database', 'users']]] }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await rejection(ask({ domain: 'mongo_cps', descriptors: [] }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await rejection(h.client.ask({ domain: 'mongo_cps', descriptors: [[['database', 'users']]] }, { token: null }))).code).toBe(
    grpc.status.UNAUTHENTICATED,
  );
  expect((await rejection(h.client.ask({ domain: 'mongo_cps', descriptors: [[['database', 'users']]] }, { token: 'wrong' }))).code).toBe(
    grpc.status.UNAUTHENTICATED,
  );
});

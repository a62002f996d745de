// The gateway's pure parts: French wording, prices, the chart's geometry, the config, tokens.
import { ConfigError } from '@etu/common';
import { auth, stats } from '@etu/proto';
import { buildChart, niceMax } from '../src/lib/chart';
import { loadConfig } from '../src/config';
import { formatClock, formatDuration, formatEuros, parseEuros, quotaSentence, retryAfterSeconds } from '../src/lib/format';
import { fieldOfMessage } from '../src/lib/forms';
import { tooMany } from '../src/lib/problem';
import { tokensMatch } from '../src/middleware/csrf';
import { newSessionId, Session } from '../src/lib/session';
import { FORM_TOKEN_TTL_MS, formToken, formTokenMatches, newFormCookie } from '../src/lib/form-token';
import { rateLimitHeaders } from '../src/lib/limits';
import { roleName } from '../src/lib/users';
import { RefusalCache } from '../src/lib/refusal-cache';
import { DenialTally } from '../src/flows/denials';
import { StatsBatch } from '../src/flows/stats-batch';
import { Metrics } from '../src/lib/metrics';
import { testLogger } from '@etu/testkit';

describe('durations and the quota sentence', () => {
  test('durations are rounded up to the second and worded in French', () => {
    expect(formatDuration(252_000)).toBe('4 min 12 s');
    expect(formatDuration(251_001)).toBe('4 min 12 s');
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(600_000)).toBe('10 min');
    expect(formatDuration(1)).toBe('1 s');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
  });

  test('the sentence of the quota, in plain French with the clock time (rounded up to the minute)', () => {
    // 13:30:00 UTC = 14 h 30 in Paris (UTC+1 in November).
    const now = Date.UTC(2026, 10, 27, 13, 30, 0);
    const say = (q: Parameters<typeof quotaSentence>[0]) => quotaSentence(q, now, 'Europe/Paris');
    expect(say({ limit: 10, remaining: 7, nextFreeMs: 252_000, fullMs: 500_000 })).toBe(
      'Il vous reste 7 actions sur 10 ; la prochaine redevient disponible à 14 h 35.',
    );
    expect(say({ limit: 10, remaining: 1, nextFreeMs: 60_000, fullMs: 90_000 })).toBe(
      'Il vous reste 1 action sur 10 ; la prochaine redevient disponible à 14 h 31.',
    );
    expect(say({ limit: 10, remaining: 0, nextFreeMs: 61_000, fullMs: 500_000 })).toBe(
      'Il ne vous reste aucune action sur 10 ; la prochaine redevient disponible à 14 h 32.',
    );
    expect(say({ limit: 10, remaining: 10, nextFreeMs: undefined, fullMs: 0 })).toBe('Il vous reste 10 actions sur 10.');
    expect(say({ limit: 10, remaining: 4, nextFreeMs: undefined, fullMs: 90_000 })).toBe(
      'Il vous reste 4 actions sur 10 ; toutes redeviennent disponibles à 14 h 32.',
    );
    expect(
      quotaSentence({ limit: 10, remaining: 9, nextFreeMs: 600_000, fullMs: 600_000 }, Date.UTC(2026, 10, 27, 22, 55, 30), 'Europe/Paris'),
    ).toBe('Il vous reste 9 actions sur 10 ; la prochaine redevient disponible à 0 h 06.');
  });
});

describe('prices', () => {
  test.each([
    ['12.50', 1250],
    ['12,50', 1250],
    ['12,5', 1250],
    ['12', 1200],
    [' 0,99 € ', 99],
    ['7 euros', 700],
  ])('%p is %p cents', (input, cents) => expect(parseEuros(input)).toBe(cents));

  test.each(['', 'abc', '12.505', '-3', '1e3', '12,50,1', '12 50', '99999999'])('%p is not a price', (input) =>
    expect(parseEuros(input)).toBeNull(),
  );

  test('prices are shown the French way', () => {
    expect(formatEuros(1250).replace(/\s/g, ' ')).toBe('12,50 €');
  });
});

describe('RateLimit headers', () => {
  const base = {
    allowed: true,
    limit: 10,
    remaining: 3,
    retryAfterMs: 0,
    resetAfterMs: 200_400,
    windowMs: 600_000,
    policy: 'service',
    nextReleaseMs: 100_000,
  };
  test('policy and remaining quota (IETF draft syntax)', () => {
    expect(rateLimitHeaders(base)).toEqual({ 'RateLimit-Policy': '"service";q=10;w=600', RateLimit: '"service";r=3;t=201' });
  });
  test('when exhausted, t is the wait for the next call', () => {
    expect(rateLimitHeaders({ ...base, allowed: false, remaining: 0, retryAfterMs: 12_300 }).RateLimit).toBe('"service";r=0;t=13');
  });
  test('the admitted call that takes the last one: t is when the next call frees up', () => {
    expect(rateLimitHeaders({ ...base, allowed: true, remaining: 0, retryAfterMs: 0, nextReleaseMs: 599_001 }).RateLimit).toBe(
      '"service";r=0;t=600',
    );
  });
});

describe('chart', () => {
  const minute = (i: number) => new Date(Date.UTC(2026, 10, 26, 13, i));
  const buckets: stats.MinuteBucket[] = Array.from({ length: 60 }, (_, i) => ({
    minute: minute(i),
    venteAllowed: i === 59 ? 3 : 0,
    achatAllowed: i === 59 ? 1 : i === 10 ? 2 : 0,
    venteDenied: i === 59 ? 2 : 0,
    achatDenied: 0,
  }));

  test('axis maximum is a round number', () => {
    expect([0, 1, 3, 6, 10, 11, 48, 120].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 50, 200]);
  });

  test('stacked bars are proportional and stay inside the plot', () => {
    const c = buildChart(buckets, 'UTC');
    expect(c.bars).toHaveLength(60);
    expect(c.max).toBe(10);
    expect(c.total).toEqual({ vente: 3, achat: 3, refus: 2 });
    const last = c.bars[59]!;
    expect(last.segments.map((s) => s.kind)).toEqual(['vente', 'achat', 'refus']);
    const unit = c.plot.h / c.max;
    expect(last.segments[0]!.h).toBeCloseTo(3 * unit, 1);
    // stacked: each segment sits on the previous one, the lowest on the axis
    expect(last.segments[0]!.y + last.segments[0]!.h).toBeCloseTo(c.plot.y + c.plot.h, 1);
    expect(last.segments[1]!.y + last.segments[1]!.h).toBeCloseTo(last.segments[0]!.y, 1);
    for (const b of c.bars) {
      expect(b.x).toBeGreaterThanOrEqual(c.plot.x);
      expect(b.x + b.w).toBeLessThanOrEqual(c.plot.x + c.plot.w + 0.01);
    }
    expect(c.bars[0]!.segments).toEqual([]);
    expect(last.label).toBe('13:59 — Vente 3, Achat 1, refusés 2');
    expect(c.xTicks.map((t) => t.label)).toEqual(['13:09', '13:19', '13:29', '13:39', '13:49', '13:59']);
  });

  test('the counts on the left fit whole at the phone font: « 100 » is never cut to « 00 »', () => {
    for (const busiest of [7, 60, 100, 1500]) {
      const c = buildChart(
        buckets.map((b, i) => ({ ...b, venteAllowed: i === 59 ? busiest : 0 })),
        'UTC',
      );
      const widest = Math.max(...c.yTicks.map((t) => t.label.length));
      // Each label ends 8 units left of the plot; at 24 units a digit is at most 15 wide.
      expect(c.plot.x - 8 - widest * 15).toBeGreaterThanOrEqual(0);
      expect(c.plot.x + c.plot.w).toBeLessThanOrEqual(c.width);
    }
  });

  test('an empty hour draws an axis from 0 to 1', () => {
    const c = buildChart(
      buckets.map((b) => ({ ...b, venteAllowed: 0, achatAllowed: 0, venteDenied: 0 })),
      'UTC',
    );
    expect(c.max).toBe(1);
    expect(c.bars.every((b) => b.segments.length === 0)).toBe(true);
  });
});

describe('form errors and refusals', () => {
  test("a service's message names its field by its label", () => {
    const labels = { Titre: 'titre', 'Mot de passe': 'password' };
    expect(fieldOfMessage('Titre : le titre ne doit pas dépasser 120 caractères.', labels)).toEqual({
      titre: 'Titre : le titre ne doit pas dépasser 120 caractères.',
    });
    expect(fieldOfMessage('Mot de passe : 8 caractères au minimum.', labels)).toEqual({
      password: 'Mot de passe : 8 caractères au minimum.',
    });
    expect(fieldOfMessage('Cet article est déjà vendu.', labels)).toEqual({});
    expect(fieldOfMessage('Prix : trop cher.', labels)).toEqual({});
  });

  test('a 429 says when to come back as a moment, besides Retry-After', () => {
    const p = tooMany(125_500, 'quota_atteint', 'Titre', 'Message', {}, Date.parse('2026-11-27T13:30:10Z'));
    expect(p.status).toBe(429);
    expect(p.opts.headers).toMatchObject({ 'Retry-After': '126' });
    expect(p.opts.details).toMatchObject({ retryAfterSeconds: 126, reessayerA: '2026-11-27T13:32:15.500Z' });
    // shown rounded up to the minute, in the display time zone
    expect(formatClock(Date.parse(p.opts.details!.reessayerA as string), 'Europe/Paris')).toBe('14 h 33');
  });
});

describe('config', () => {
  const secrets = { INTERNAL_TOKEN: 'x'.repeat(32), SESSION_KEYS: `${'a'.repeat(20)},${'b'.repeat(20)}` };

  test('defaults serve a local run', () => {
    const c = loadConfig(secrets);
    expect(c.PORT).toBe(3000);
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.SESSION_REDIS_URL).toBe('redis://127.0.0.1:6379/2');
    expect(c.AUTH_ADDR).toBe('127.0.0.1:50051');
    expect(c.LIMITER_ADDR).toBe('127.0.0.1:50053');
    expect(c.LIMITER_FAIL_MODE).toBe('closed');
    expect(c.LIMITER_BATCH_WINDOW).toBe(4);
    expect(c.LIMITER_BATCH_STREAM).toBe(true);
    expect(c.TRUST_PROXY).toBe(0);
    expect(c.SESSION_KEYS).toEqual(['a'.repeat(20), 'b'.repeat(20)]);
    expect(c.SESSION_IDLE_MS).toBe(30 * 60_000);
    expect(c.SESSION_ABSOLUTE_MS).toBe(12 * 3600_000);
  });

  test('TRUST_PROXY: true is one proxy, a number is that many', () => {
    expect(loadConfig({ ...secrets, TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ ...secrets, TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
  });

  test('LIMITER_BATCH_WINDOW: a whole number from 1 to 64', () => {
    expect(loadConfig({ ...secrets, LIMITER_BATCH_WINDOW: '1' }).LIMITER_BATCH_WINDOW).toBe(1);
    for (const v of ['0', '65', '2.5', 'many']) {
      expect(() => loadConfig({ ...secrets, LIMITER_BATCH_WINDOW: v })).toThrow(
        /LIMITER_BATCH_WINDOW.*expected a whole number from 1 to 64/,
      );
    }
  });

  test('a bad value names its variable, and never echoes secrets', () => {
    const bad = () =>
      loadConfig({ ...secrets, LIMITER_FAIL_MODE: 'sometimes', PORT: '99999', MARKET_ADDR: 'nowhere', TRUST_PROXY: 'maybe' });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (err) {
      const msg = (err as Error).message;
      for (const v of ['LIMITER_FAIL_MODE', 'PORT', 'MARKET_ADDR', 'TRUST_PROXY']) expect(msg).toContain(v);
      expect(msg).not.toContain(secrets.INTERNAL_TOKEN);
    }
  });

  test('production refuses missing secrets and short session keys', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', INTERNAL_TOKEN: secrets.INTERNAL_TOKEN })).toThrow(/SESSION_KEYS/);
    expect(() => loadConfig({ ...secrets, SESSION_KEYS: `${'a'.repeat(20)},short` })).toThrow(/SESSION_KEYS/);
  });
});

describe('tokens and sessions', () => {
  test('CSRF tokens compare exactly', () => {
    expect(tokensMatch('abc', 'abc')).toBe(true);
    expect(tokensMatch('abc', 'abd')).toBe(false);
    expect(tokensMatch('abc', '')).toBe(false);
    expect(tokensMatch(undefined, 'abc')).toBe(false);
    expect(tokensMatch('abc', ['abc'])).toBe(false);
  });

  test('session ids carry 256 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSessionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(Buffer.from(id, 'base64url')).toHaveLength(32);
  });

  test('regenerate issues a new id and a new CSRF token; destroy forgets everything', () => {
    const s = new Session({ id: newSessionId(), data: { csrf: 'old', createdAt: Date.now() } });
    const before = s.pending();
    s.regenerate({ id: '1', firstName: 'A', lastName: 'B', email: 'a@b.c', role: 'STUDENT' });
    const after = s.pending();
    expect(after.id).not.toBe(before.id);
    expect(after.dropped).toEqual([before.id]);
    expect(s.csrf).not.toBe('old');
    s.destroy();
    expect(s.user).toBeUndefined();
    expect(s.csrf).toBeUndefined();
  });

  test('a flash message is taken once: the one set now, else the browser’s, whose cookie is then cleared', () => {
    const s = new Session(undefined, { kind: 'info', text: 'venu du cookie' });
    expect(s.exists).toBe(false);
    expect(s.takeFlash()).toEqual({ kind: 'info', text: 'venu du cookie' });
    expect(s.takeFlash()).toBeUndefined();
    expect(s.pending().flash).toBeNull();
    const t = new Session();
    t.setFlash({ kind: 'succes', text: 'pour la page suivante' });
    expect(t.exists).toBe(false); // a visitor's flash creates no session
    expect(t.pending().flash).toEqual({ kind: 'succes', text: 'pour la page suivante' });
  });
});

describe('form tokens (visitors, no server-side state)', () => {
  const keys = ['form-key-one-0123456789', 'form-key-two-0123456789'];
  const now = Date.UTC(2026, 10, 27, 12);

  test('the token of a cookie matches only that cookie, under any key, while the cookie is young', () => {
    const a = newFormCookie(now).value;
    const b = newFormCookie(now).value;
    const token = formToken(keys, a);
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(formTokenMatches(keys, a, token, now)).toBe(true);
    expect(formTokenMatches(keys, b, token, now)).toBe(false);
    expect(formTokenMatches(keys, undefined, token, now)).toBe(false);
    expect(formTokenMatches(keys, a, formToken(['another-key-0123456789'], a), now)).toBe(false);
    // signed with the old first key, still accepted after a rotation that keeps it
    expect(formTokenMatches([keys[1]!, keys[0]!], a, token, now)).toBe(true);
    expect(formTokenMatches(keys, a, token, now + FORM_TOKEN_TTL_MS - 1000)).toBe(true);
    expect(formTokenMatches(keys, a, token, now + FORM_TOKEN_TTL_MS)).toBe(false);
    // an altered issue time changes what is signed
    const [nonce, iat] = a.split('.');
    expect(formTokenMatches(keys, `${nonce}.${Number(iat) + 3600}`, token, now)).toBe(false);
    const altered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    expect(formTokenMatches(keys, a, altered, now)).toBe(false);
    expect(formTokenMatches(keys, a, [token], now)).toBe(false);
  });
});

test('roles: only ADMIN grants more; any other value is a student', () => {
  expect(roleName(auth.Role.ROLE_ADMIN)).toBe('ADMIN');
  expect(roleName(auth.Role.ROLE_STUDENT)).toBe('STUDENT');
  expect(roleName(auth.Role.ROLE_UNSPECIFIED)).toBe('STUDENT');
});

describe('the refusal cache', () => {
  const denial = (retryAfterMs: number) => ({
    allowed: false,
    limit: 10,
    remaining: 0,
    retryAfterMs,
    resetAfterMs: 590_000,
    windowMs: 600_000,
    policy: 'service',
    nextReleaseMs: retryAfterMs,
  });

  test('refuses only before the window frees, and tells a wait that is always enough', () => {
    let now = 1000;
    const cache = new RefusalCache(10, () => now);
    // sent at 1000, answered at 1040: the limiter decided in between, the window frees in [61000, 61040]
    cache.remember('service', 'u1', denial(60_000), 1000, 1040);
    now = 1050;
    const d = cache.check('service', 'u1')!;
    expect(d).toMatchObject({ allowed: false, remaining: 0, limit: 10, windowMs: 600_000, policy: 'service' });
    expect(d.retryAfterMs).toBe(59_990); // until 61040, the latest instant the window may free
    expect(d.resetAfterMs).toBeGreaterThanOrEqual(d.retryAfterMs);
    now = 60_998; // sentAt + retry − 1 ms − 1
    expect(cache.check('service', 'u1')).toBeDefined();
    now = 60_999; // from here the limiter may admit: asked again
    expect(cache.check('service', 'u1')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.check('service', 'u2')).toBeUndefined();
    expect(cache.check('login', 'u1')).toBeUndefined();
  });

  test('only denials are remembered; the size is bounded, least recently used out first; 0 turns it off', () => {
    let now = 0;
    const cache = new RefusalCache(3, () => now);
    cache.remember('service', 'admitted', { ...denial(0), allowed: true, remaining: 3 }, 0, 0);
    expect(cache.size).toBe(0);
    for (const u of ['a', 'b', 'c']) cache.remember('service', u, denial(60_000), now, now);
    now = 10;
    expect(cache.check('service', 'a')).toBeDefined(); // a is now the most recent
    cache.remember('service', 'd', denial(60_000), now, now);
    expect(cache.size).toBe(3);
    expect(cache.check('service', 'b')).toBeUndefined();
    for (const u of ['a', 'c', 'd']) expect(cache.check('service', u)).toBeDefined();
    const off = new RefusalCache(0, () => now);
    off.remember('service', 'a', denial(60_000), now, now);
    expect(off.check('service', 'a')).toBeUndefined();
  });
});

describe('refusals summed for the statistics', () => {
  test('one record per user, service and minute, with the count; a failed record is counted lost by what it stood for', async () => {
    const sent: stats.RecordServiceCallRequest[] = [];
    let fail = false;
    const metrics = new Metrics({ defaultMetrics: false });
    const tally = new DenialTally({
      stats: {
        recordServiceCall: (req: stats.RecordServiceCallRequest) => {
          if (fail) return Promise.reject(Object.assign(new Error('down'), { code: 14, details: 'down' }));
          sent.push(req);
          return Promise.resolve({ duplicate: false });
        },
      },
      metrics,
      log: testLogger(),
      flushMs: 60_000,
      timeoutMs: 500,
    });
    const t0 = Date.UTC(2026, 10, 27, 12, 0, 30);
    for (let i = 0; i < 5; i++) tally.add('u1', stats.ServiceKind.SERVICE_KIND_ACHAT, t0);
    tally.add('u1', stats.ServiceKind.SERVICE_KIND_VENTE, t0);
    tally.add('u1', stats.ServiceKind.SERVICE_KIND_ACHAT, t0 + 60_000);
    tally.add('u2', stats.ServiceKind.SERVICE_KIND_ACHAT, t0);
    expect(tally.waiting).toBe(8);
    await tally.flush();
    expect(tally.waiting).toBe(0);
    const rows = sent.map((r) => [r.userId, r.service, r.at!.getTime(), r.count, r.outcome]).sort();
    const minute = Date.UTC(2026, 10, 27, 12, 0);
    const DENIED = stats.Outcome.OUTCOME_DENIED;
    expect(rows).toEqual(
      [
        ['u1', stats.ServiceKind.SERVICE_KIND_ACHAT, minute, 5, DENIED],
        ['u1', stats.ServiceKind.SERVICE_KIND_ACHAT, minute + 60_000, 1, DENIED],
        ['u1', stats.ServiceKind.SERVICE_KIND_VENTE, minute, 1, DENIED],
        ['u2', stats.ServiceKind.SERVICE_KIND_ACHAT, minute, 1, DENIED],
      ].sort(),
    );
    fail = true;
    for (let i = 0; i < 7; i++) tally.add('u3', stats.ServiceKind.SERVICE_KIND_VENTE, t0);
    await tally.flush();
    expect(await metrics.value('etu_stats_records_lost_total', { event: 'service_call' })).toBe(7);
    expect(await metrics.value('etu_stats_denials_aggregated_total')).toBe(15);
  });
});

describe('service-call records in batches (flows/stats-batch.ts)', () => {
  const ALLOWED = stats.Outcome.OUTCOME_ALLOWED;
  const DENIED = stats.Outcome.OUTCOME_DENIED;
  const rec = (eventId: string, outcome = ALLOWED): stats.RecordServiceCallRequest => ({
    eventId,
    userId: 'u1',
    service: stats.ServiceKind.SERVICE_KIND_VENTE,
    outcome,
  });

  test('the records of one turn go in one RPC; a failed batch is sent again once for its allowed records, same event ids', async () => {
    const rpcs: string[][] = [];
    let failures = 0;
    const metrics = new Metrics({ defaultMetrics: false });
    const batch = new StatsBatch({
      stats: {
        recordServiceCalls: (req: stats.RecordServiceCallsRequest) => {
          rpcs.push(req.calls.map((c) => c.eventId));
          if (failures-- > 0) return Promise.reject(Object.assign(new Error('down'), { code: 14, details: 'down' }));
          return Promise.resolve({ duplicates: 0 });
        },
      },
      metrics,
      log: testLogger(),
      timeoutMs: 500,
    });
    for (const id of ['a', 'b', 'c']) batch.add(rec(id));
    expect(batch.waiting).toBe(3);
    await batch.flush();
    expect(rpcs).toEqual([['a', 'b', 'c']]);

    failures = 2; // the first send and its retry both fail: the allowed record is lost then
    batch.add(rec('d'));
    batch.add(rec('e', DENIED));
    await batch.flush();
    expect(rpcs.slice(1)).toEqual([['d', 'e'], ['d']]);
    expect(await metrics.value('etu_stats_records_lost_total', { event: 'service_call' })).toBe(2);

    failures = 1; // one failure: the retry carries the allowed record with its own event id
    batch.add(rec('f'));
    await batch.flush();
    expect(rpcs.slice(3)).toEqual([['f'], ['f']]);
    expect(await metrics.value('etu_stats_records_lost_total', { event: 'service_call' })).toBe(2);
  });

  test('bounded: a record that finds the queue full is counted lost, never kept', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let sent = 0;
    const batch = new StatsBatch({
      stats: {
        recordServiceCalls: (req: stats.RecordServiceCallsRequest) => {
          sent += req.calls.length;
          return Promise.resolve({ duplicates: 0 });
        },
      },
      metrics,
      log: testLogger(),
      timeoutMs: 500,
      maxQueue: 5,
      maxBatch: 2,
    });
    for (let i = 0; i < 8; i++) batch.add(rec(`r${i}`));
    expect(batch.waiting).toBe(5);
    await batch.flush();
    expect(sent).toBe(5);
    expect(await metrics.value('etu_stats_records_lost_total', { event: 'service_call' })).toBe(3);
  });
});

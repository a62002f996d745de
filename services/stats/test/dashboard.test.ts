// A scripted history of ~20 users through a real gRPC server on real Redis gives exactly the
// expected dashboard; replaying it changes nothing. Expectations are written out by hand from
// the table below (not computed by the service's code).
import { ACHAT, ALLOWED, DENIED, readUsage, type TestStats, useTestStats, VENTE } from './helpers';

const MIN = 60_000;
/** Long enough ago that no call lands in the last-hour series (tested in series.test.ts). */
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
const at = (minutes: number) => new Date(T0 + minutes * MIN);

// user: logins, minute of the last login, allowed vente, allowed achat, denied vente, denied achat
const TABLE: [string, number, number, number, number, number, number][] = [
  ['1', 2, 10, 3, 0, 0, 0],
  ['2', 7, 95, 5, 4, 2, 0],
  ['3', 1, 20, 0, 1, 0, 0],
  ['4', 5, 100, 2, 2, 0, 3],
  ['5', 1, 30, 0, 0, 0, 0],
  ['6', 3, 40, 1, 0, 0, 0],
  ['7', 5, 50, 0, 6, 1, 1],
  ['8', 2, 60, 1, 1, 0, 0],
  ['9', 6, 120, 4, 0, 0, 0],
  ['10', 6, 120, 0, 4, 2, 0],
  ['11', 1, 70, 0, 0, 0, 5],
  ['12', 6, 80, 1, 0, 0, 0],
  ['13', 1, 90, 2, 2, 0, 0],
  ['14', 2, 90, 0, 1, 0, 0],
  ['15', 1, 105, 3, 3, 0, 0],
  ['16', 3, 110, 0, 0, 1, 0],
  ['17', 1, 115, 1, 1, 0, 0],
  ['18', 2, 125, 0, 2, 0, 0],
  ['19', 1, 130, 5, 0, 0, 0],
];
/** Registered, never active. */
const IDLE = ['20', '21'];

type Ev =
  | { kind: 'login'; eventId: string; userId: string; at: Date }
  | {
      kind: 'call';
      eventId: string;
      userId: string;
      service: typeof VENTE | typeof ACHAT;
      outcome: typeof ALLOWED | typeof DENIED;
      at: Date;
    };

function history(): Ev[] {
  const logins: Ev[] = [];
  const calls: Ev[] = [];
  let second = 0;
  for (const [userId, n, last, va, aa, vd, ad] of TABLE) {
    for (let k = 0; k < n; k++) logins.push({ kind: 'login', eventId: `login-${userId}-${k}`, userId, at: at(last - k) });
    const add = (count: number, service: number, outcome: number, tag: string) => {
      for (let k = 0; k < count; k++) {
        calls.push({
          kind: 'call',
          eventId: `call-${userId}-${tag}-${k}`,
          userId,
          service,
          outcome,
          at: new Date(T0 + 200 * MIN + ++second * 1000),
        });
      }
    };
    add(va, VENTE, ALLOWED, 'va');
    add(aa, ACHAT, ALLOWED, 'aa');
    add(vd, VENTE, DENIED, 'vd');
    add(ad, ACHAT, DENIED, 'ad');
  }
  // Each user's logins arrive newest first: a late, older login must not move its last login back.
  return [...logins, ...calls];
}

async function send(t: TestStats, e: Ev): Promise<boolean> {
  if (e.kind === 'login') return (await env.t.call.recordLogin({ eventId: e.eventId, userId: e.userId, at: e.at })).duplicate;
  return (await env.t.call.recordServiceCall({ eventId: e.eventId, userId: e.userId, service: e.service, outcome: e.outcome, at: e.at }))
    .duplicate;
}

const EXPECTED = {
  // Ties (same time, same count) are broken by user id compared as strings: "10" before "9",
  // "13" before "14" (which falls off the list at the cut).
  lastLogins: [
    { userId: '19', at: at(130) },
    { userId: '18', at: at(125) },
    { userId: '10', at: at(120) },
    { userId: '9', at: at(120) },
    { userId: '17', at: at(115) },
    { userId: '16', at: at(110) },
    { userId: '15', at: at(105) },
    { userId: '4', at: at(100) },
    { userId: '2', at: at(95) },
    { userId: '13', at: at(90) },
  ],
  // 9, 10 and 12 have 6 logins each; by string order "10" < "12" < "9", so 9 is the one left out.
  topConnectors: [
    { userId: '2', count: 7 },
    { userId: '10', count: 6 },
    { userId: '12', count: 6 },
  ],
  // Zero included: 11 (denied only), 16 (denied only), 20 and 21 (registered only), 5 (logged in only).
  leastServiceUsers: [
    { userId: '11', count: 0 },
    { userId: '16', count: 0 },
    { userId: '20', count: 0 },
    { userId: '21', count: 0 },
    { userId: '5', count: 0 },
    { userId: '12', count: 1 },
    { userId: '14', count: 1 },
    { userId: '3', count: 1 },
    { userId: '6', count: 1 },
    { userId: '17', count: 2 },
  ],
  mostUsedService: { service: VENTE, count: 28 },
  serviceTotals: [
    { service: VENTE, count: 28 },
    { service: ACHAT, count: 27 },
  ],
  deniedTotals: [
    { service: VENTE, count: 6 },
    { service: ACHAT, count: 9 },
  ],
  topDeniedUsers: [
    { userId: '11', count: 5 },
    { userId: '4', count: 3 },
    { userId: '10', count: 2 },
    { userId: '2', count: 2 },
    { userId: '7', count: 2 },
    { userId: '16', count: 1 },
  ],
  totalLogins: 56,
  knownUsers: 21,
};

const env = useTestStats();

test('an empty store: no rankings, zero totals, no most used service, 60 empty minutes', async () => {
  const d = await env.t.call.getDashboard({});
  expect(d).toMatchObject({
    lastLogins: [],
    topConnectors: [],
    leastServiceUsers: [],
    serviceTotals: [
      { service: VENTE, count: 0 },
      { service: ACHAT, count: 0 },
    ],
    deniedTotals: [
      { service: VENTE, count: 0 },
      { service: ACHAT, count: 0 },
    ],
    topDeniedUsers: [],
    totalLogins: 0,
    knownUsers: 0,
  });
  expect(d.mostUsedService).toBeUndefined();
  expect(d.lastHour).toHaveLength(60);
});

test('the scripted history gives exactly the expected dashboard', async () => {
  for (const u of [...TABLE.map((r) => r[0]), ...IDLE]) await env.t.call.registerUser({ userId: u });
  const dups = await Promise.all(history().map((e) => send(env.t, e)));
  expect(dups.filter(Boolean)).toHaveLength(0);

  const d = await env.t.call.getDashboard({});
  const { lastHour, ...rest } = d;
  expect(rest).toEqual(EXPECTED);
  // The history is older than the series: 60 empty minutes, consecutive, the current one last.
  expect(lastHour).toHaveLength(60);
  const now = Date.now();
  expect(lastHour[59]!.minute!.getTime()).toBeLessThanOrEqual(now);
  expect(lastHour[59]!.minute!.getTime()).toBeGreaterThan(now - 2 * MIN);
  lastHour.forEach((b, i) => {
    expect(b).toEqual({
      minute: new Date(lastHour[59]!.minute!.getTime() - (59 - i) * MIN),
      venteAllowed: 0,
      achatAllowed: 0,
      venteDenied: 0,
      achatDenied: 0,
    });
  });
});

test("one user's counters", async () => {
  expect(await readUsage(env.redis, '7')).toEqual({
    userId: '7',
    logins: 5,
    lastLoginAt: at(50),
    allowed: [
      { service: VENTE, count: 0 },
      { service: ACHAT, count: 6 },
    ],
    denied: [
      { service: VENTE, count: 1 },
      { service: ACHAT, count: 1 },
    ],
  });
  const zero = {
    logins: 0,
    allowed: [
      { service: VENTE, count: 0 },
      { service: ACHAT, count: 0 },
    ],
    denied: [
      { service: VENTE, count: 0 },
      { service: ACHAT, count: 0 },
    ],
  };
  // Registered and never active, and never seen at all: zeros, no last login.
  expect(await readUsage(env.redis, '20')).toEqual({ userId: '20', ...zero });
  expect(await readUsage(env.redis, 'nobody')).toEqual({ userId: 'nobody', ...zero });
});

test('replaying every login and allowed call, re-registering every user, and reusing an id for another payload change nothing', async () => {
  const before = await env.t.call.getDashboard({});
  const usageBefore = await Promise.all(TABLE.map((r) => readUsage(env.redis, r[0])));
  // Denials are not deduplicated (no key per denial; nobody retries them): not replayed here.
  const events = history()
    .reverse()
    .filter((e) => e.kind === 'login' || e.outcome === ALLOWED);
  const dups = await Promise.all(events.map((e) => send(env.t, e)));
  expect(dups.every(Boolean)).toBe(true);
  for (const u of [...TABLE.map((r) => r[0]), ...IDLE]) await env.t.call.registerUser({ userId: u });
  // Same event id, different user and time: the first recording wins.
  expect((await env.t.call.recordLogin({ eventId: 'login-5-0', userId: '6', at: at(500) })).duplicate).toBe(true);
  expect((await env.t.call.recordServiceCall({ eventId: 'call-1-va-0', userId: '2', service: ACHAT, outcome: ALLOWED })).duplicate).toBe(
    true,
  );

  const after = await env.t.call.getDashboard({});
  const strip = (d: typeof before) => ({ ...d, lastHour: d.lastHour.map(({ minute: _m, ...counts }) => counts) });
  expect(strip(after)).toEqual(strip(before));
  expect(strip(after)).toMatchObject(EXPECTED);
  expect(await Promise.all(TABLE.map((r) => readUsage(env.redis, r[0])))).toEqual(usageBefore);
});

test('the keys are the documented ones, readable with redis-cli', async () => {
  const keys = (await env.redis.keys('*')).sort();
  // etu:store:init: the database's initialisation marker (@etu/common store-marker.ts).
  const fixed = [
    'etu:store:init',
    'stats:calls:service',
    'stats:calls:user',
    'stats:denied:service',
    'stats:denied:user',
    'stats:last_login',
    'stats:logins',
    'stats:totals',
  ];
  const events = keys.filter((k) => k.startsWith('stats:event:'));
  const users = keys.filter((k) => k.startsWith('stats:user:'));
  expect(keys.filter((k) => !fixed.includes(k) && !events.includes(k) && !users.includes(k))).toEqual([]);
  expect(fixed.every((k) => keys.includes(k))).toBe(true);
  // One dedup key per distinct login (56) and allowed call (55), none per denied call (15), each
  // forgotten after the retry horizon (5 minutes).
  expect(events).toHaveLength(56 + 55);
  for (const k of events.slice(0, 20)) {
    const ttl = await env.redis.pttl(k);
    expect(ttl).toBeGreaterThan(4 * 60_000);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  }
  // A hash per user who made a call (allowed or denied); only the fields that happened.
  expect(users).toHaveLength(18); // everyone but 5 (logins only), 20 and 21 (registered only)
  expect(await env.redis.hgetall('stats:user:7')).toEqual({ 'achat:allowed': '6', 'vente:denied': '1', 'achat:denied': '1' });
  expect(await env.redis.type('stats:user:7')).toBe('hash');
  for (const k of fixed.filter((k) => k !== 'stats:totals' && k !== 'etu:store:init')) expect(await env.redis.type(k)).toBe('zset');
  // The README's redis-cli answers to the brief's four questions.
  expect(await env.redis.zrevrange('stats:last_login', 0, 9)).toEqual(['19', '18', '9', '10', '17', '16', '15', '4', '2', '14']);
  expect(await env.redis.zrevrange('stats:logins', 0, 2, 'WITHSCORES')).toEqual(['2', '7', '9', '6', '12', '6']);
  expect(await env.redis.zrange('stats:calls:user', 0, 9)).toEqual(EXPECTED.leastServiceUsers.map((u) => u.userId));
  expect(await env.redis.zrevrange('stats:calls:service', 0, 0, 'WITHSCORES')).toEqual(['VENTE', '28']);
  expect(await env.redis.zscore('stats:calls:user', '20')).toBe('0');
});

// Issue 21: memory is a bounded function of legitimate use. Against the four real services and
// real Redis (three databases of this file's own, and private redis-servers for the "full"
// cases), over HTTP:
// - 3,000 anonymous page views add no key to any store (forms carry a stateless token);
// - 3,000 refused calls of one user add a constant number of keys (the limiter writes nothing
//   on a denial, the gateway answers from its refusal cache, the statistics sum the refusals),
//   and the statistics page still counts every one of them;
// - the refusal cache stops refusing by the time the Retry-After it gave has passed;
// - a full statistics Redis leaves logins, Vente and Achat working;
// - a full session Redis lets logged-in users act and fails only new logins.
// The 3,000 are real requests (a few seconds on a quiet machine; the two tests allow 3 minutes
// for a loaded one: a functional deadline, not a timing claim).
import Redis from 'ioredis';
import { DEFAULT_POLICIES, startLimiterServer, type LimiterServer } from '@etu/limiter';
import { startStatsServer, type StatsServer } from '@etu/stats';
import { startPrivateRedis, testLogger, TEST_TOKEN, type PrivateRedis } from '@etu/testkit';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let stores: Redis[];
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';
const privateServers: { close(): Promise<void> }[] = [];

const client = (g: Gateway = gw) => new WebClient(g.server, `10.21.0.${++ipSeq}`);
const baseUrl = (g: Gateway) => `http://127.0.0.1:${(g.server.address() as { port: number }).port}`;

async function student(firstName = 'Mémoire', admin = false) {
  const n = ++userSeq;
  const email = `memoire${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName: `Numéro${n}`, email, password: PASSWORD, admin });
  return { id, email };
}

async function loggedIn(g: Gateway = gw, firstName?: string) {
  const u = await student(firstName);
  const c = client(g);
  expect((await c.login(u.email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { ...u, c };
}

/** Every key of the three stores (limiter, statistics, sessions). */
async function keyCounts(): Promise<number[]> {
  return Promise.all(stores.map((r) => r.dbsize()));
}

/** Runs `n` calls of `one`, `width` at a time. */
async function pool<T>(n: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

/** The Cookie header of a WebClient (its session), for plain fetch calls. */
function cookieHeader(c: WebClient): string {
  return ['etu_sid', 'etu_sid.sig'].map((n) => `${n}=${c.cookie(n)}`).join('; ');
}

async function fullRedis(): Promise<PrivateRedis & { fill(): Promise<void>; redis: Redis }> {
  const r = await startPrivateRedis();
  const redis = new Redis(r.url, { maxRetriesPerRequest: 1 });
  privateServers.push({
    close: async () => {
      redis.disconnect();
      await r.stop();
    },
  });
  return {
    ...r,
    redis,
    // Below what Redis already uses, writes are refused (noeviction): a full store.
    async fill() {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await redis.config('SET', 'maxmemory', '1');
      await expect(redis.set('etu:probe', 'x')).rejects.toThrow(/OOM/);
    },
  };
}

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
  stores = [sys.limiterRedisUrl, sys.statsRedisUrl].map((u) => new Redis(u, { maxRetriesPerRequest: 1 }));
  stores.push(sys.sessionRedis as Redis); // a single Redis here (startSystem without redisUrl)
});

afterAll(async () => {
  await sys?.close();
  for (const r of stores?.slice(0, 2) ?? []) r.disconnect();
  // Servers started on a private redis-server close before it stops.
  for (const s of privateServers.reverse()) await s.close();
});

test('3,000 anonymous page views add no key to any store', async () => {
  // Whatever the readiness checks write (the stores' markers) is written before counting.
  await fetch(`${baseUrl(gw)}/readyz`);
  const before = await keyCounts();
  const paths = ['/login', '/inscription', '/', '/services', '/statistiques', '/login?next=1'];
  const statuses = await pool(3000, 16, async (i) => {
    const res = await fetch(`${baseUrl(gw)}${paths[i % paths.length]}`, {
      headers: { Accept: 'text/html', 'X-Forwarded-For': `10.21.1.${i % 250}` },
      redirect: 'manual',
    });
    const body = await res.text();
    // every login and sign-up form carries a token, bound to a cookie of its own
    if (res.status === 200 && /_csrf/.test(body)) expect(res.headers.getSetCookie().some((c) => c.startsWith('etu_form='))).toBe(true);
    return res.status;
  });
  expect(statuses.filter((s) => s === 200)).toHaveLength(2000);
  expect(statuses.filter((s) => s === 303)).toHaveLength(1000);
  expect(await keyCounts()).toEqual(before);
  expect(await sys.sessionRedis.keys('sess:*')).toEqual([]);
}, 180_000);

test('3,000 refused calls of one user add a constant number of keys; the statistics count every one', async () => {
  const u = await loggedIn(gw, 'Marteau');
  for (let i = 0; i < 10; i++) expect((await u.c.post('/services/achat', { article_id: `${900_000_000 + i}` })).status).toBe(404);
  const first = await u.c.post('/services/achat', { article_id: '900000099' });
  expect(first.status).toBe(429);
  const firstRetry = Number(first.headers['retry-after']);
  // the records of these 11 calls, which leave in batches after the answers, are in Redis
  await gw.app.flushPending();
  const before = await keyCounts();
  const eventKeysBefore = (await stores[1]!.keys('stats:event:*')).length;
  const hitsBefore = await gw.metrics.value('etu_quota_refusal_cache_hits_total', { policy: 'service' });
  const askedBefore = await gw.metrics.value('etu_quota_decisions_total', { policy: 'service' });

  const cookie = cookieHeader(u.c);
  const answers = await pool(3000, 16, async (i) => {
    // Vente, and every 30th an Achat (which first asks the market whether it is a retry of a
    // purchase already made: a read, no write; it doubles the cost of a refusal in this test).
    const achat = i % 30 === 0;
    const form: Record<string, string> = achat
      ? { article_id: `${910_000_000 + i}` }
      : { titre: `Objet ${i}`, categorie: 'livre', etat: 'bon', prix: '1', description: '' };
    const res = await fetch(`${baseUrl(gw)}/services/${achat ? 'achat' : 'vente'}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Cookie: cookie, Accept: 'text/html', 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': u.c.ip! },
      body: new URLSearchParams({ ...form, _csrf: u.c.token! }).toString(),
    });
    const text = await res.text();
    return {
      status: res.status,
      retry: Number(res.headers.get('retry-after')),
      limit: res.headers.get('ratelimit'),
      text: i === 0 ? text : '',
    };
  });
  expect(answers.every((a) => a.status === 429)).toBe(true);
  // Same answer as the limiter's: the page in French, Retry-After never later than the first one's.
  expect(textOf(answers[0]!.text)).toContain("Plus d'action disponible pour le moment");
  for (const a of answers) {
    expect(a.retry).toBeGreaterThan(0);
    expect(a.retry).toBeLessThanOrEqual(firstRetry);
    expect(a.limit).toBe(`"service";r=0;t=${a.retry}`);
  }
  // The limiter was not asked again, and nothing was written: at most one more minute bucket of
  // the statistics (a minute boundary during the run) and its per-minute sum.
  expect(await gw.metrics.value('etu_quota_refusal_cache_hits_total', { policy: 'service' })).toBe(hitsBefore + 3000);
  expect(await gw.metrics.value('etu_quota_decisions_total', { policy: 'service' })).toBe(askedBefore);
  await gw.app.flushPending();
  const after = await keyCounts();
  expect(after[0]).toBe(before[0]);
  expect(after[1]).toBeLessThanOrEqual(before[1]! + 1);
  expect(after[2]).toBe(before[2]);
  expect((await stores[1]!.keys('stats:event:*')).length).toBe(eventKeysBefore);

  // The statistics page counts the 3,001 refusals of this user (one through the limiter, 3,000 summed).
  const adminUser = await student('Ada', true);
  const admin = client();
  expect((await admin.login(adminUser.email, PASSWORD)).status).toBe(303);
  const page = await admin.get('/statistiques', 'application/json');
  expect(page.status).toBe(200);
  expect(page.body.refusesParUtilisateur).toContainEqual(expect.objectContaining({ nom: expect.stringContaining('Marteau'), refus: 3001 }));
  expect(page.body.totaux.achatRefus).toBeGreaterThanOrEqual(101);
  expect(page.body.totaux.venteRefus).toBeGreaterThanOrEqual(2900);
}, 180_000);

test('the refusal cache stops refusing once its Retry-After has passed; the limiter admits again', async () => {
  // A limiter whose service window is 3 seconds (same Redis database, another user).
  const limiter: LimiterServer = await startLimiterServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    redisUrl: sys.limiterRedisUrl,
    policies: DEFAULT_POLICIES.replace('service=10/10m', 'service=2/3s'),
  });
  privateServers.push({ close: () => limiter.close() });
  const short = await sys.gateway({}, { LIMITER_ADDR: `127.0.0.1:${limiter.port}` });
  const u = await loggedIn(short, 'Patient');
  const achat = () => u.c.post('/services/achat', { article_id: '920000000' });
  expect((await achat()).status).toBe(404);
  expect((await achat()).status).toBe(404);
  const refused = await achat();
  expect(refused.status).toBe(429);
  for (let i = 0; i < 5; i++) expect((await achat()).status).toBe(429);
  expect(await short.metrics.value('etu_quota_refusal_cache_hits_total', { policy: 'service' })).toBeGreaterThanOrEqual(5);
  const last = await achat();
  expect(last.status).toBe(429);
  await new Promise((r) => setTimeout(r, Number(last.headers['retry-after']) * 1000));
  // Waiting what the cache said is enough: the call is admitted (and refused by the market).
  expect((await achat()).status).toBe(404);
});

test('a full statistics Redis: logins, Vente and Achat work; the losses are counted', async () => {
  const r = await fullRedis();
  const stats: StatsServer = await startStatsServer({ addr: '127.0.0.1:0', log: testLogger(), token: TEST_TOKEN, redisUrl: r.url });
  privateServers.push({ close: () => stats.close() });
  const g = await sys.gateway({}, { STATS_ADDR: `127.0.0.1:${stats.port}` });
  await r.fill();
  const seller = await loggedIn(g, 'Vendeur');
  const sold = await seller.c.post('/services/vente', {
    titre: 'Statistiques pleines',
    categorie: 'livre',
    etat: 'bon',
    prix: '3',
    description: '',
  });
  expect(sold.status).toBe(303);
  expect(textOf((await seller.c.get('/services')).text)).toContain('Votre article « Statistiques pleines » est en vente');
  const [item] = (await seller.c.get('/services', 'application/json')).body.mesArticles as { id: string }[];
  const buyer = await loggedIn(g, 'Acheteur');
  expect((await buyer.c.post('/services/achat', { article_id: item!.id })).status).toBe(303);
  // two logins, a sale, a purchase: recorded nowhere, counted as lost (the last two once their
  // batches are answered)
  await g.app.flushPending();
  expect(await g.metrics.value('etu_stats_records_lost_total')).toBeGreaterThanOrEqual(4);
});

test('a full session Redis: logged-in users keep acting (the limiter too); only a new login fails', async () => {
  const r = await fullRedis();
  const g = await sys.gateway({}, {}, r.redis);
  const seller = await loggedIn(g, 'Connectée');
  const buyer = await loggedIn(g, 'Connecté');
  await r.fill();
  const sold = await seller.c.post('/services/vente', {
    titre: 'Sessions pleines',
    categorie: 'livre',
    etat: 'bon',
    prix: '4',
    description: '',
  });
  expect(sold.status).toBe(303);
  expect(sold.headers.ratelimit).toMatch(/^"service";r=9;/);
  const page = await seller.c.get('/services');
  expect(page.status).toBe(200);
  expect(textOf(page.text)).toContain('Votre article « Sessions pleines » est en vente');
  const [item] = (await seller.c.get('/services', 'application/json')).body.mesArticles as { id: string }[];
  expect((await buyer.c.post('/services/achat', { article_id: item!.id })).status).toBe(303);
  // The quota still counts: 9 more calls, then the limiter refuses.
  for (let i = 0; i < 9; i++) expect((await seller.c.post('/services/achat', { article_id: `${930_000_000 + i}` })).status).toBe(404);
  expect((await seller.c.post('/services/achat', { article_id: '930000010' })).status).toBe(429);
  // A new login cannot store its session: 503, and nothing else is affected.
  const u = await student();
  const late = client(g);
  const res = await late.login(u.email, PASSWORD);
  expect(res.status).toBe(503);
  expect(textOf(res.text)).toContain('Service momentanément indisponible');
  // Logging out still works (deleting needs no memory).
  expect((await buyer.c.post('/logout', {})).status).toBe(303);
  expect((await buyer.c.get('/services')).status).toBe(303);
});

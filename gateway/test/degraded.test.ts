// The statistics page with exact numbers, and the gateway when a dependency is gone: limiter
// (fail closed / fail open), stats (best effort), market, auth, the session store; session
// timeouts. The four real services run in-process; "down" means a gateway whose client points
// at a port where nothing listens.
import { createRedis, waitReady } from '@etu/common';
import type { AddressInfo } from 'node:net';
import { freePort, startTcpRelay, TEST_TOKEN } from '@etu/testkit';
import { startSystem, deadAddr, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const clientOf = (g: Gateway) => new WebClient(g.server, `10.2.0.${++ipSeq}`);

async function signUp(g: Gateway, prenom: string, nom: string) {
  const email = `${prenom.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '')}.${++userSeq}@etu.example`;
  const c = clientOf(g);
  await c.get('/inscription');
  const res = await c.post('/inscription', { prenom, nom, email, password: PASSWORD });
  expect(res.status).toBe(303);
  return email;
}

async function logIn(g: Gateway, email: string) {
  const c = clientOf(g);
  const res = await c.login(email, PASSWORD);
  expect(res.status).toBe(303);
  await c.get('/services');
  return c;
}

async function myListings(c: WebClient) {
  return (await c.get('/services', 'application/json')).body.mesArticles as { id: string; titre: string; statut: string }[];
}

const sell = (c: WebClient, titre: string) =>
  c.post('/services/vente', { titre, categorie: 'livre', etat: 'bon', prix: '5', description: '' });

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
});

afterAll(async () => {
  await sys?.close();
});

// First, while the statistics hold only what this test does.
test('an admin reads the four answers, totals and denials with names', async () => {
  const alice = await signUp(gw, 'Alice', 'Martin');
  const bob = await signUp(gw, 'Bob', 'Bernard');
  const chloe = await signUp(gw, 'Chloé', 'Dubois');
  await signUp(gw, 'Dan', 'Petit'); // only his sign-up's login (each sign-up logs in), never calls
  const adminEmail = 'ada@etu.example';
  await sys.createUser({ firstName: 'Ada', lastName: 'Lovelace', email: adminEmail, password: PASSWORD, admin: true });

  const a = await logIn(gw, alice);
  await logIn(gw, alice);
  await logIn(gw, alice);
  const b = await logIn(gw, bob);
  await logIn(gw, bob);
  const c = await logIn(gw, chloe);
  for (let i = 0; i < 10; i++) expect((await sell(a, `Livre ${i}`)).status).toBe(303);
  expect((await sell(a, 'Un de trop')).status).toBe(429);
  const items = await myListings(a);
  for (const l of items.slice(0, 2)) expect((await b.post('/services/achat', { article_id: l.id })).status).toBe(303);

  // A student may not read them.
  expect((await c.get('/statistiques')).status).toBe(403);

  const admin = await logIn(gw, adminEmail);
  const json = await admin.get('/statistiques', 'application/json');
  expect(json.status).toBe(200);
  const d = json.body;
  // Each sign-up is a login too (docs/architecture.md, "Sign-up logs in").
  expect(d.derniersConnectes.map((u: { nom: string }) => u.nom)).toEqual([
    'Ada Lovelace',
    'Chloé Dubois',
    'Bob Bernard',
    'Alice Martin',
    'Dan Petit',
  ]);
  expect(d.topConnexions).toEqual([
    expect.objectContaining({ nom: 'Alice Martin', connexions: 4 }),
    expect.objectContaining({ nom: 'Bob Bernard', connexions: 3 }),
    expect.objectContaining({ nom: 'Chloé Dubois', connexions: 2 }),
  ]);
  const least = d.moinsUtilisateurs.map((u: { nom: string; appels: number }) => [u.nom, u.appels]);
  expect(least.slice(0, 3).map((x: [string, number]) => x[1])).toEqual([0, 0, 0]);
  expect(
    least
      .slice(0, 3)
      .map((x: [string, number]) => x[0])
      .sort(),
  ).toEqual(['Ada Lovelace', 'Chloé Dubois', 'Dan Petit']);
  expect(least.slice(3)).toEqual([
    ['Bob Bernard', 2],
    ['Alice Martin', 10],
  ]);
  expect(d.serviceLePlusUtilise).toEqual({ service: 'Vente', appels: 10 });
  expect(d.totaux).toMatchObject({ vente: 10, achat: 2, venteRefus: 1, achatRefus: 0, logins: 11, users: 5 });
  expect(d.refusesParUtilisateur).toEqual([expect.objectContaining({ nom: 'Alice Martin', refus: 1 })]);
  expect(d.derniereHeure).toHaveLength(60);
  const lastMinutes = d.derniereHeure.slice(-2);
  const sum = (k: string) => lastMinutes.reduce((n: number, b: Record<string, number>) => n + b[k]!, 0);
  expect([sum('venteAcceptes'), sum('achatAcceptes'), sum('venteRefuses')]).toEqual([10, 2, 1]);

  const page = await admin.get('/statistiques');
  expect(page.status).toBe(200);
  const text = textOf(page.text);
  expect(text).toMatch(/Les 10 dernières personnes connectées Ada Lovelace .* Chloé Dubois .* Bob Bernard .* Alice Martin/);
  expect(text).toMatch(/Top 3 des connexions Alice Martin 4 connexions Bob Bernard 3 connexions Chloé Dubois 2 connexions/);
  expect(text).toMatch(/Service le plus utilisé Vente — 10 actions/);
  // Plain French, as on the rest of the site (issue 19, item 6): no « appels » jargon.
  expect(text).not.toMatch(/appels?\b/i);
  expect(text).toContain('Dan Petit');
  expect(page.text).toMatch(/<svg viewBox="0 0 720 260" role="img"/);
  expect((page.text.match(/class="bar bar-vente"/g) ?? []).length).toBeGreaterThan(0);
  expect(page.text).toMatch(/id="total-ventes">10</);
  expect(page.text).toMatch(/id="total-connexions">11</);
});

describe('limiter down', () => {
  test('LIMITER_FAIL_MODE=closed (default): login and services answer 503, nothing is created, the page still shows', async () => {
    const email = await signUp(gw, 'Fermé', 'Limiteur');
    const session = await logIn(gw, email);
    const down = await sys.gateway({}, { LIMITER_ADDR: await deadAddr() });
    const c = clientOf(down).adopt(session);
    const res = await sell(c, 'Pendant la panne');
    expect(res.status).toBe(503);
    expect(textOf(res.text)).toContain('Service momentanément indisponible');
    expect(await myListings(c)).toEqual([]);
    const page = await c.get('/services');
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('Votre quota est momentanément indisponible');
    expect((await clientOf(down).login(email, PASSWORD)).status).toBe(503);
    expect(await down.metrics.value('etu_quota_decisions_total', { outcome: 'unavailable_refused' })).toBe(3);
    expect(down.logLines.some((l) => l.includes('"failMode":"closed"'))).toBe(true);
  });

  test('LIMITER_FAIL_MODE=open: the login and the sale succeed unchecked, and that is counted', async () => {
    const email = await signUp(gw, 'Ouvert', 'Limiteur');
    const open = await sys.gateway({ LIMITER_FAIL_MODE: 'open' }, { LIMITER_ADDR: await deadAddr() });
    const c = clientOf(open);
    expect((await c.login(email, PASSWORD)).status).toBe(303);
    await c.get('/services');
    const res = await sell(c, 'Admis sans limiteur');
    expect(res.status).toBe(303);
    expect(res.headers.ratelimit).toBeUndefined();
    expect((await myListings(c)).map((l) => l.titre)).toEqual(['Admis sans limiteur']);
    // At login 2 peeks and 2 consumes (the account's budget of unknown browsers, the login quota), 1 consume for the sale
    expect(await open.metrics.value('etu_quota_decisions_total', { outcome: 'unavailable_admitted' })).toBe(5);
  });
});

test('stats down: sign-up, login, Vente and Achat still succeed; each loss is logged and counted', async () => {
  const down = await sys.gateway({ STATS_TIMEOUT_MS: '300' }, { STATS_ADDR: await deadAddr() });
  const seller = await logIn(down, await signUp(down, 'Sans', 'Stats'));
  expect((await sell(seller, 'Vendu sans stats')).status).toBe(303);
  const [item] = await myListings(seller);
  const buyer = await logIn(down, await signUp(down, 'Acheteur', 'Sans Stats'));
  expect((await buyer.post('/services/achat', { article_id: item!.id })).status).toBe(303);
  // 2 sign-ups and their 2 logins, 2 logins, 1 sale, 1 purchase (the last two leave in batches
  // after the answer: flushed here, each sent twice, then counted lost)
  await down.app.flushPending();
  expect(await down.metrics.value('etu_stats_records_lost_total', {})).toBe(8);
  expect(down.logLines.filter((l) => l.includes('stats recording lost'))).toHaveLength(8);
  // Stats are best effort: the gateway stays ready, the degradation is listed for operators
  // (here a caller on loopback)...
  const addr = down.server.address() as AddressInfo;
  const ready = await fetch(`http://127.0.0.1:${addr.port}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', down: [], degraded: ['stats'] });
  // ...and anyone else (here a client behind the trusted proxy) reads only the verdict.
  const outside = await fetch(`http://127.0.0.1:${addr.port}/readyz`, {
    headers: { 'X-Forwarded-For': '203.0.113.9', Accept: 'application/json' },
  });
  expect(outside.status).toBe(200);
  expect(await outside.json()).toEqual({ status: 'ready' });
  const withToken = await fetch(`http://127.0.0.1:${addr.port}/readyz`, {
    headers: { 'X-Forwarded-For': '203.0.113.9', Authorization: `Bearer ${TEST_TOKEN}` },
  });
  expect(await withToken.json()).toMatchObject({ status: 'ready', degraded: ['stats'] });
});

test('stats down: the statistics page answers 503', async () => {
  const down = await sys.gateway({}, { STATS_ADDR: await deadAddr() });
  const admin = await logIn(down, 'ada@etu.example');
  const res = await admin.get('/statistiques');
  expect(res.status).toBe(503);
  expect(textOf(res.text)).toContain('Service momentanément indisponible');
});

test('market down: the services page and a sale answer 503; the call the sale cost stays counted', async () => {
  const email = await signUp(gw, 'Sans', 'Marché');
  const session = await logIn(gw, email);
  const down = await sys.gateway({}, { MARKET_ADDR: await deadAddr() });
  const c = clientOf(down).adopt(session);
  expect((await c.get('/services')).status).toBe(503);
  const res = await sell(c, 'Pendant la panne du marché');
  expect(res.status).toBe(503);
  expect(res.headers.ratelimit).toMatch(/r=9;/);
  const json = await c.post('/services/vente', { titre: 'x', categorie: 'livre', etat: 'bon', prix: '1' }, { accept: 'application/json' });
  expect(json.body).toMatchObject({ error: 'indisponible', dependency: 'market' });
});

test('auth down: login and sign-up answer 503', async () => {
  const down = await sys.gateway({}, { AUTH_ADDR: await deadAddr() });
  expect((await clientOf(down).login('personne@etu.example', PASSWORD)).status).toBe(503);
  const c = clientOf(down);
  await c.get('/inscription');
  expect((await c.post('/inscription', { prenom: 'A', nom: 'B', email: 'ab@etu.example', password: PASSWORD })).status).toBe(503);
});

describe('session store down', () => {
  const NOTICE = 'La connexion est momentanément indisponible';

  test('nothing listens: the home page and the forms answer as for a visitor, with a notice; pages needing a session answer 503', async () => {
    const dead = createRedis(`redis://127.0.0.1:${await freePort()}/0`, { commandTimeoutMs: 200, connectTimeoutMs: 200 });
    dead.on('error', () => undefined);
    try {
      const down = await sys.gateway({}, {}, dead);
      const visitor = clientOf(down);
      expect((await visitor.get('/')).status).toBe(200);
      for (const form of ['/login', '/inscription']) {
        const res = await visitor.get(form);
        expect(res.status).toBe(200);
        expect(textOf(res.text)).toContain(NOTICE);
        // A form that cannot be sent: no token, the button disabled.
        expect(res.text).not.toContain('name="_csrf"');
        expect(res.text).toMatch(/<button type="submit" class="btn btn-block" disabled>/);
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      expect((await visitor.get('/login', 'application/json')).body).toEqual({ csrfToken: null, connexionIndisponible: true });
      // A login sent anyway (its form fetched from a gateway whose store answered: the form token is
      // stateless) cannot store its session: 503, nothing else.
      const email = await signUp(gw, 'Sans', 'Sessions');
      const elsewhere = clientOf(gw);
      await elsewhere.get('/login');
      const login = await clientOf(down).adopt(elsewhere).post('/login', { email, password: PASSWORD });
      expect(login.status).toBe(503);
      expect(textOf(login.text)).toContain('Service momentanément indisponible');

      // A logged-in student: the home page is a visitor's, their cookie is left alone; their
      // pages and forms answer 503.
      const student = clientOf(down).adopt(await logIn(gw, await signUp(gw, 'Session', 'Perdue')));
      const page = await student.get('/');
      expect(page.status).toBe(200);
      expect(textOf(page.text)).toContain(NOTICE);
      expect(textOf(page.text)).not.toContain('Bonjour');
      expect(page.headers['set-cookie']).toBeUndefined();
      expect((await student.get('/services')).status).toBe(503);
      // Browsing stays a visitor's: the search and an item page (here an unknown one: the
      // French 404, not a 503); the purchase confirmation needs the session.
      expect((await student.get('/articles')).status).toBe(200);
      const item = await student.get('/articles/999999999');
      expect(item.status).toBe(404);
      expect(item.headers['set-cookie']).toBeUndefined();
      expect((await student.get('/articles/999999999/acheter')).status).toBe(503);
      expect((await sell(student, 'Pendant la panne des sessions')).status).toBe(503);
      expect(await down.metrics.value('etu_session_store_errors_total', {})).toBeGreaterThanOrEqual(6);
    } finally {
      dead.disconnect();
    }
  });

  test('connected but silent: same visitor pages; once it answers again, the student is still logged in', async () => {
    const url = new URL(sys.redis.urls[2]!);
    const relay = await startTcpRelay({ host: url.hostname, port: Number(url.port) });
    const viaRelay = createRedis(`redis://127.0.0.1:${relay.port}${url.pathname}`, { commandTimeoutMs: 200, connectTimeoutMs: 200 });
    viaRelay.on('error', () => undefined);
    try {
      await waitReady(viaRelay);
      const g = await sys.gateway({}, {}, viaRelay);
      const student = await logIn(g, await signUp(g, 'Silence', 'Redis'));
      relay.holdReplies(true);
      const page = await student.get('/');
      expect(page.status).toBe(200);
      expect(textOf(page.text)).toContain(NOTICE);
      const form = await clientOf(g).get('/login');
      expect(form.status).toBe(200);
      expect(textOf(form.text)).toContain(NOTICE);
      expect((await student.get('/services')).status).toBe(503);

      relay.holdReplies(false);
      const back = await student.get('/services');
      expect(back.status).toBe(200);
      expect(textOf(back.text)).toContain('Silence');
    } finally {
      viaRelay.disconnect();
      await relay.close();
    }
  });
});

test('idle timeout: a session unused for longer than SESSION_IDLE_MS is gone', async () => {
  const short = await sys.gateway({ SESSION_IDLE_MS: '1000' });
  const c = await logIn(short, await signUp(gw, 'Inactif', 'Test'));
  await new Promise((r) => setTimeout(r, 600));
  expect((await c.get('/services')).status).toBe(200); // activity renews it
  await new Promise((r) => setTimeout(r, 600));
  expect((await c.get('/services')).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1300));
  const res = await c.get('/services');
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/login');
});

test('the session key is renewed to the idle timeout by each request, never past the absolute timeout', async () => {
  const pttl = (c: WebClient) => sys.sessionRedis.pttl(`sess:${c.cookie('etu_sid')!}`);
  // Idle timeout 3 s: a request 1 s after the login renews the key to 3 s again.
  const idle = await sys.gateway({ SESSION_IDLE_MS: '3000' });
  const a = await logIn(idle, await signUp(gw, 'Renouvelle', 'Test'));
  await new Promise((r) => setTimeout(r, 1000));
  expect(await pttl(a)).toBeLessThanOrEqual(2100);
  expect((await a.get('/services')).status).toBe(200);
  expect(await pttl(a)).toBeGreaterThan(2500);
  // Idle timeout 10 min, absolute 4 s: the renewed key still ends with the absolute timeout.
  const bounded = await sys.gateway({ SESSION_ABSOLUTE_MS: '4000' });
  const b = await logIn(bounded, await signUp(gw, 'Borne', 'Test'));
  expect((await b.get('/services')).status).toBe(200);
  const left = await pttl(b);
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThanOrEqual(4000);
});

test('absolute timeout: even an active session ends after SESSION_ABSOLUTE_MS', async () => {
  const short = await sys.gateway({ SESSION_ABSOLUTE_MS: '1500' });
  const c = await logIn(short, await signUp(gw, 'Actif', 'Test'));
  await new Promise((r) => setTimeout(r, 700));
  expect((await c.get('/services')).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1000));
  expect((await c.get('/services')).status).toBe(303);
});

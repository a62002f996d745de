// The gateway on its own, every gRPC dependency down (nothing listens on their ports), with a
// real session Redis: what does not need the services — pages, headers, CSRF, body limits,
// error pages, readiness — and how it fails when they are gone.
import { createServer, type Server } from 'node:http';
import Redis from 'ioredis';
import { freePort, claimRedisDbs, testLogger, TEST_TOKEN, type ClaimedRedisDbs } from '@etu/testkit';
import { createApp } from '../src/app';
import { createClients, type Clients } from '../src/clients';
import { loadConfig } from '../src/config';
import { WebClient, textOf } from './browser';

let redisDbs: ClaimedRedisDbs;
let sessionRedis: Redis;
let clients: Clients;
const servers: Server[] = [];
const logLines: string[] = [];

async function serve(env: Record<string, string> = {}): Promise<{ server: Server; app: ReturnType<typeof createApp> }> {
  const config = loadConfig({ INTERNAL_TOKEN: TEST_TOKEN, SESSION_KEYS: 'test-session-key-0123456789', ...env });
  const app = createApp({ config, clients, sessionRedis, log: testLogger(logLines) });
  const handle = app.callback();
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { server, app };
}

beforeAll(async () => {
  redisDbs = await claimRedisDbs(1);
  sessionRedis = new Redis(redisDbs.urls[0]!, { maxRetriesPerRequest: 1 });
  const dead = async () => `127.0.0.1:${await freePort()}`;
  clients = createClients({
    AUTH_ADDR: await dead(),
    MARKET_ADDR: await dead(),
    LIMITER_ADDR: await dead(),
    STATS_ADDR: await dead(),
    INTERNAL_TOKEN: TEST_TOKEN,
    GRPC_TIMEOUT_MS: 1000,
  });
});

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  clients.close();
  sessionRedis.disconnect();
  await redisDbs.release();
});

test('accueil renders in French with a strict CSP and no inline script', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  const res = await c.get('/');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.text).toContain('<html lang="fr">');
  expect(textOf(res.text)).toContain('10 ventes ou achats sur 10 minutes');
  expect(textOf(res.text)).not.toMatch(/appels?\b/);
  expect(res.text).not.toMatch(/<script/i);
  expect(res.text).not.toMatch(/ style=/);
  const csp = res.headers['content-security-policy'];
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.headers['cache-control']).toBe('no-store');
  // An anonymous visit of the home page creates no session. (The store marker `etu:store:init`,
  // which the gateway writes once at start, is no session: only session keys are counted.)
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(await sessionRedis.keys('sess:*')).toEqual([]);
});

test('the stylesheet is served by the gateway itself, with caching', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  const res = await c.get('/static/style.css', 'text/css');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/css/);
  expect(res.headers['cache-control']).toContain('max-age');
  const again = await c.agent.get('/static/style.css').set('If-None-Match', res.headers.etag!);
  expect(again.status).toBe(304);
});

test('the login and sign-up forms store nothing: a form cookie (HttpOnly, SameSite=Lax, not Secure over plain HTTP) carries the CSRF binding', async () => {
  const { server } = await serve();
  const keysBefore = await sessionRedis.dbsize();
  const c = new WebClient(server);
  const res = await c.get('/login');
  expect(res.status).toBe(200);
  expect(c.token).toMatch(/^[\w-]{43}$/);
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  expect(cookies.some((h) => h.startsWith('etu_sid='))).toBe(false);
  const form = cookies.find((h) => h.startsWith('etu_form='))!;
  expect(form).toMatch(/httponly/i);
  expect(form).toMatch(/samesite=lax/i);
  expect(form).not.toMatch(/secure/i);
  expect(form).toMatch(/path=\//i);
  // short-lived: two hours
  const expires = Date.parse(/expires=([^;]+)/i.exec(form)![1]!);
  expect(expires - Date.now()).toBeGreaterThan(7100_000);
  expect(expires - Date.now()).toBeLessThanOrEqual(7200_000);
  // The cookie holds no token: a page that cannot read it cannot compute the token.
  expect(c.cookie('etu_form')).not.toContain(c.token!);
  // The sign-up form and a JSON client share the same token (several tabs work).
  expect((await c.get('/inscription')).status).toBe(200);
  const json = await c.get('/login', 'application/json');
  expect(json.body).toEqual({ csrfToken: c.token });
  expect(await sessionRedis.dbsize()).toBe(keysBefore);
  expect(await sessionRedis.keys('sess:*')).toEqual([]);
});

test('behind TLS the cookie is Secure with the __Host- prefix', async () => {
  const { server } = await serve({ TRUST_PROXY: '1' });
  const res = await new WebClient(server).agent.get('/login').set('X-Forwarded-Proto', 'https');
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const form = cookies.find((h) => h.startsWith('__Host-etu_form='))!;
  expect(form).toBeDefined();
  expect(form).toMatch(/secure/i);
  expect(form).toMatch(/path=\//i);
  expect(form).not.toMatch(/domain=/i);
  // and without a trusted proxy the header is not believed
  const { server: plain } = await serve();
  const res2 = await new WebClient(plain).agent.get('/login').set('X-Forwarded-Proto', 'https');
  expect(([] as string[]).concat(res2.headers['set-cookie'] ?? []).some((h) => h.startsWith('etu_form='))).toBe(true);
});

test('a POST without a CSRF token, or with a wrong one, is refused with 403 before anything else', async () => {
  const { server, app } = await serve();
  const c = new WebClient(server);
  await c.get('/login');
  const before = await app.metrics.value('etu_csrf_refusals_total', {});
  const missing = await c.post('/login', { email: 'a@b.fr', password: 'x' }, { csrf: null });
  expect(missing.status).toBe(403);
  expect(textOf(missing.text)).toContain('Ce formulaire a expiré');
  const wrong = await c.post('/login', { email: 'a@b.fr', password: 'x' }, { csrf: 'A'.repeat(43) });
  expect(wrong.status).toBe(403);
  // another browser's token without its cookie: refused too
  const stranger = await new WebClient(server).post('/login', { email: 'a@b.fr', password: 'x' }, { csrf: c.token! });
  expect(stranger.status).toBe(403);
  // ...and with a form cookie of its own: the token is bound to the cookie it was made for
  const other = new WebClient(server);
  await other.get('/login');
  expect(other.cookie('etu_form')).toBeDefined();
  expect((await other.post('/login', { email: 'a@b.fr', password: 'x' }, { csrf: c.token! })).status).toBe(403);
  const json = await c.post('/services/vente', { titre: 'x' }, { csrf: null, accept: 'application/json' });
  expect(json.status).toBe(403);
  expect(json.body).toMatchObject({ error: 'csrf', requestId: expect.any(String) });
  expect(await app.metrics.value('etu_csrf_refusals_total', {})).toBe(before + 5);
});

test('a body over 16 KB is refused with 413, a French page', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  await c.get('/login');
  const res = await c.post('/login', { email: 'a@b.fr', password: 'x'.repeat(20_000) });
  expect(res.status).toBe(413);
  expect(textOf(res.text)).toContain('Envoi trop volumineux');
});

test('unknown pages and wrong methods get French error pages with a request id, never a stack', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  const notFound = await c.get('/nulle-part');
  expect(notFound.status).toBe(404);
  expect(textOf(notFound.text)).toContain('Page introuvable');
  expect(notFound.text).toContain(notFound.headers['x-request-id']);
  const json = await c.get('/nulle-part', 'application/json');
  expect(json.status).toBe(404);
  expect(json.body).toEqual({ error: 'introuvable', message: expect.any(String), requestId: json.headers['x-request-id'] });
  const getLogout = await c.get('/logout');
  expect(getLogout.status).toBe(405);
  expect(getLogout.headers.allow).toContain('POST');
  expect(textOf(getLogout.text)).not.toMatch(/at .*\.ts:\d+|Error:/);
});

test('services require a session: 303 to /login', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  for (const path of ['/services', '/statistiques']) {
    const res = await c.get(path);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login');
  }
});

test('healthz is live; readyz names every dependency that is down', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  expect((await c.get('/healthz', 'application/json')).body).toEqual({ status: 'ok' });
  const ready = await c.get('/readyz', 'application/json');
  expect(ready.status).toBe(503);
  // Stats down alone would not make it unready (degraded); auth, market and a closed-mode limiter do.
  expect(ready.body.down.sort()).toEqual(['auth', 'limiter', 'market']);
  expect(ready.body.degraded).toEqual(['stats']);
  expect(ready.body.checks.sessions).toBe('ok');
});

test('limiter down: login fails closed with a 503 page by default, and the refusal is counted', async () => {
  const { server, app } = await serve();
  const c = new WebClient(server);
  const res = await c.login('a@b.fr', 'whatever-password');
  expect(res.status).toBe(503);
  expect(textOf(res.text)).toContain('Service momentanément indisponible');
  expect(await app.metrics.value('etu_quota_decisions_total', { outcome: 'unavailable_refused' })).toBeGreaterThan(0);
  expect(logLines.some((l) => l.includes('limiter unavailable'))).toBe(true);
});

test('limiter down with LIMITER_FAIL_MODE=open: the login goes on (here auth is down too, so 503 naming auth)', async () => {
  const { server, app } = await serve({ LIMITER_FAIL_MODE: 'open' });
  const c = new WebClient(server);
  await c.get('/login');
  const res = await c.post('/login', { email: 'a@b.fr', password: 'whatever-password' }, { accept: 'application/json' });
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ error: 'indisponible', dependency: 'auth' });
  // The two failure Peeks and the Consume of the account's budget for unknown browsers.
  expect(await app.metrics.value('etu_quota_decisions_total', { outcome: 'unavailable_admitted' })).toBe(3);
});

test('no password, token, form cookie or session id reaches the logs', async () => {
  const { server } = await serve();
  const c = new WebClient(server);
  await c.get('/login');
  expect((await c.post('/login', { email: 'a@b.fr', password: 'whatever-password' })).status).toBe(503);
  const all = logLines.join('\n');
  expect(all).not.toContain('whatever-password');
  expect(all).not.toContain(TEST_TOKEN);
  expect(all).not.toContain(c.token!);
  expect(all).not.toContain(c.cookie('etu_form')!.split('.')[0]!);
  for (const k of await sessionRedis.keys('sess:*')) expect(all).not.toContain(k.slice(5));
});

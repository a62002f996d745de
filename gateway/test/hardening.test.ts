// Issue 15 against the whole system (the four real services, the gateway over HTTP): each case
// is one the adversarial test found failing, run the way an attacker ran it. The gateway trusts
// one proxy (TRUST_PROXY=1), so X-Forwarded-For poses as many source addresses.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startAuthServer, type AuthServer } from '@etu/auth';
import { TEST_TOKEN, testLogger } from '@etu/testkit';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let tightAuth: AuthServer;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const client = (g: Gateway = gw) => new WebClient(g.server, `10.15.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`);

async function student(first = 'Élève', last?: string) {
  const n = ++userSeq;
  const email = `durci${n}@etu.example`;
  const id = await sys.createUser({ firstName: first, lastName: last ?? `Numéro${n}`, email, password: PASSWORD });
  return { id, email };
}

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
  // A second auth server over the same database that hashes one password at a time, none waiting.
  tightAuth = await startAuthServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    databaseUrl: sys.db.url,
    hashLimits: { concurrency: 1, queue: 0 },
  });
});

afterAll(async () => {
  await sys?.close();
  await tightAuth?.close();
});

describe('1. guessing one account from many addresses (device cookies)', () => {
  test('11 addresses × 10 wrong passwords: refused from the 21st; the owner’s known browser still logs in; a new one gets a clear 429', async () => {
    const u = await student();
    // The owner logged in from this browser before the attack: it holds a device cookie.
    const owner = client();
    expect((await owner.login(u.email, PASSWORD)).status).toBe(303);
    expect(owner.cookie('etu_device')).toMatch(/^v1\./);
    await owner.post('/logout', {}, { tokenFrom: '/services' });

    const statuses: number[] = [];
    let refused: request.Response | undefined;
    for (let a = 0; a < 11; a++) {
      const attacker = client();
      for (let i = 0; i < 10; i++) {
        const res = await attacker.login(u.email, `essai-${a}-${i}-faux`);
        statuses.push(res.status);
        if (res.status === 429) refused ??= res;
      }
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(90).fill(429));
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);

    // The owner's browser: a typo is an ordinary 401, then the right password opens the session.
    expect((await owner.login(u.email, 'une faute de frappe')).status).toBe(401);
    expect((await owner.login(u.email, PASSWORD)).status).toBe(303);
    expect((await owner.get('/services')).status).toBe(200);

    // A new browser of the owner, during the attack: 429 before any password check, in French.
    const fresh = client();
    const res = await fresh.login(u.email, PASSWORD);
    expect(res.status).toBe(429);
    const text = textOf(res.text);
    expect(text).toContain('Trop de tentatives de connexion sur ce compte');
    expect(text).toContain('appareil');
    expect(text).toMatch(/Vous pourrez réessayer à partir de \d{1,2} h \d{2}\./);
    expect(fresh.cookie('etu_device')).toBeUndefined();
    expect(await gw.metrics.value('etu_logins_total', { outcome: 'account_refused' })).toBeGreaterThan(0);
  });

  test('a device cookie of another account does not help, nor does a forged one', async () => {
    const victim = await student();
    const mallory = await student();
    const attacker = client();
    expect((await attacker.login(mallory.email, PASSWORD)).status).toBe(303);
    await attacker.post('/logout', {}, { tokenFrom: '/services' });
    const forged = client();
    forged.agent.jar.setCookie(`etu_device=${attacker.cookie('etu_device')!.replace(/\.[^.]+$/, '.AAAA')}; Path=/`, '127.0.0.1', '/');
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const c = i % 2 ? attacker : forged;
      c.ip = `10.16.0.${i}`;
      statuses.push((await c.login(victim.email, `mauvais-${i}-essai`)).status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
  });
});

describe('2. the price parser cannot freeze the site', () => {
  test('16 KB prices are refused fast, and a concurrent /healthz is not delayed', async () => {
    const u = await student();
    const c = client();
    await c.login(u.email, PASSWORD);
    await c.get('/services');
    // 16,000 inner spaces, encoded as '+' so that the body stays under the 16 KB limit.
    const body = `titre=Livre&categorie=livre&etat=bon&description=&_csrf=${encodeURIComponent(c.token!)}&prix=1${'+'.repeat(16_000)}x`;
    const started = Date.now();
    const posts = Array.from({ length: 10 }, () => c.agent.post('/services/vente').set('X-Forwarded-For', c.ip!).type('form').send(body));
    // Meanwhile, another visitor's probe (the old parser blocked ~200 ms per post, more under load).
    const probes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      expect((await request(gw.server).get('/healthz')).status).toBe(200);
      probes.push(Date.now() - t);
    }
    for (const r of await Promise.all(posts)) {
      expect(r.status).toBe(400);
      expect(textOf(r.text)).toContain('Indiquez un prix en euros');
    }
    expect(Math.max(...probes)).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('3. sign-up', () => {
  const form = (n: number, over: Record<string, string> = {}) => ({
    nom: 'Amphi',
    prenom: `Étudiant${n}`,
    email: `amphi${n}.${process.pid}@etu.example`,
    password: PASSWORD,
    ...over,
  });

  test('a lecture hall behind one address: 60 sign-ups in 10 minutes are accepted, the 61st gets 429 in French', async () => {
    const nat = client();
    // 55 students of the hall signed up already (counted as the gateway counts them); five more
    // go through the form, then one too many. Every sign-up costs a password hash: only the
    // ones around the bound are made for real on this shared test machine.
    for (let i = 0; i < 55; i++) expect((await gw.clients.limiter.consume('signup-ip', nat.ip!)).allowed).toBe(true);
    // Each student's own browser behind the hall's address (a sign-up logs its browser in).
    const student = () => new WebClient(gw.server, nat.ip);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await student().post('/inscription', form(1000 + i), { tokenFrom: '/inscription' })).status);
    expect(statuses).toEqual(Array(5).fill(303));
    const res = await student().post('/inscription', form(1060), { tokenFrom: '/inscription' });
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(textOf(res.text)).toContain("Trop d'inscriptions depuis votre connexion");
    // Nothing was created for the refused one (its right password opens nothing); another address still signs up.
    expect((await client().login(form(1060).email, PASSWORD)).status).toBe(401);
    expect((await client().post('/inscription', form(1061), { tokenFrom: '/inscription' })).status).toBe(303);
  });

  test('more concurrent sign-ups than auth hashes at once: a fast 503 asking to retry in a moment, not a queue', async () => {
    const tight = await sys.gateway({}, { AUTH_ADDR: `127.0.0.1:${tightAuth.port}` });
    const clients = Array.from({ length: 12 }, () => client(tight));
    await Promise.all(clients.map((c) => c.get('/inscription')));
    const results = await Promise.all(clients.map((c, i) => c.post('/inscription', form(2000 + i))));
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(textOf(r.text)).toContain('réessayez dans un instant');
      expect(r.headers['retry-after']).toBe('1');
    }
    expect(results.every((r) => r.status === 303 || r.status === 503)).toBe(true);
  });
});

describe('4-5. passwords', () => {
  test('a common password, or one made of the email or a name, is refused with the reason, in French', async () => {
    const c = client();
    await c.get('/inscription');
    const common = await c.post('/inscription', {
      nom: 'Roux',
      prenom: 'Jules',
      email: `jules.roux.${process.pid}@etu.example`,
      password: '12345678',
    });
    expect(common.status).toBe(400);
    expect(textOf(common.text)).toContain('trop facile à deviner');
    const own = await c.post('/inscription', {
      nom: 'Roux',
      prenom: 'Jules',
      email: `jules.roux.${process.pid}@etu.example`,
      password: `jules.roux.${process.pid}@etu.example`,
    });
    expect(own.status).toBe(400);
    expect(textOf(own.text)).toContain('ne doit pas être votre adresse e-mail');
    const name = await c.post('/inscription', {
      nom: 'Roux',
      prenom: 'Jules',
      email: `jules.roux.${process.pid}@etu.example`,
      password: 'Jules à la plage 2026',
    });
    expect(name.status).toBe(400);
    expect(textOf(name.text)).toContain('ne doit pas contenir votre prénom');
    expect((await c.login(`jules.roux.${process.pid}@etu.example`, 'Jules à la plage 2026')).status).toBe(401);
  });
});

describe('6. listings', () => {
  test('a title or description with a text-direction override is refused with a clear message; nothing is stored', async () => {
    const u = await student();
    const c = client();
    await c.login(u.email, PASSWORD);
    await c.get('/services');
    const title = await c.post('/services/vente', {
      titre: 'Livre \u202Eoc.ecnarf',
      categorie: 'livre',
      etat: 'bon',
      prix: '5',
      description: '',
    });
    expect(title.status).toBe(400);
    expect(textOf(title.text)).toContain('caractère de contrôle de direction du texte (U+202E)');
    const desc = await c.post('/services/vente', {
      titre: 'Livre',
      categorie: 'livre',
      etat: 'bon',
      prix: '5',
      description: 'Très bon\u200B état',
    });
    expect(desc.status).toBe(400);
    expect(textOf(desc.text)).toContain('caractère invisible (U+200B)');
    const listed = await gw.clients.market.listListings({
      filter: { sellerId: u.id, category: 0, excludeSellerId: '', status: 0 },
      pageSize: 100,
      pageToken: '',
    });
    expect(listed.listings).toEqual([]);
  });
});

describe('7-8. methods and paths, then CSRF', () => {
  const raw = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const { port } = gw.server.address() as AddressInfo;
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { accept: 'text/html', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  test('TRACE, PUT, DELETE, PATCH on a real route → 405 with Allow; any method on an unknown path → 404; never a 5xx', async () => {
    const before = await gw.metrics.value('etu_csrf_refusals_total');
    for (const method of ['TRACE', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/login', '/services/vente']) {
        const res = await raw(method, path);
        expect([method, path, res.status]).toEqual([method, path, 405]);
        expect(String(res.headers.allow)).toMatch(/POST/);
        expect(textOf(res.body)).toContain("Cette action n'est pas possible sur cette page.");
      }
    }
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'OPTIONS']) {
      expect([method, (await raw(method, '/nulle-part')).status]).toEqual([method, 404]);
    }
    expect(
      String((await raw('PUT', '/login')).headers.allow)
        .split(/,\s*/)
        .sort(),
    ).toEqual(['GET', 'HEAD', 'OPTIONS', 'POST']);
    // None of these was a CSRF failure.
    expect(await gw.metrics.value('etu_csrf_refusals_total')).toBe(before);
    // A real CSRF failure still is.
    expect((await raw('POST', '/login')).status).toBe(403);
    expect(await gw.metrics.value('etu_csrf_refusals_total')).toBe(before + 1);
  });
});

describe('body formats', () => {
  test('a body in a format no route reads → 415 in French, not « formulaire expiré »; a cross-site one is still a CSRF refusal', async () => {
    const u = await student();
    const c = client();
    expect((await c.login(u.email, PASSWORD)).status).toBe(303);
    await c.get('/services');
    for (const [type, body] of [
      ['text/plain', `_csrf=${c.token!}&titre=Livre`],
      ['application/xml', '<vente><titre>Livre</titre></vente>'],
      ['application/octet-stream', 'titre=Livre'],
    ]) {
      for (const path of ['/services/vente', '/services/achat', '/login']) {
        const res = await c.agent.post(path).set('X-Forwarded-For', c.ip!).set('Accept', 'text/html').type(type!).send(body);
        expect([type, path, res.status]).toEqual([type, path, 415]);
        expect(textOf(res.text)).toContain("Ce format d'envoi n'est pas pris en charge");
      }
    }
    // nothing was counted
    expect(textOf((await c.get('/services')).text)).toContain('Il vous reste 10 actions sur 10.');
    const before = await gw.metrics.value('etu_csrf_refusals_total');
    const cross = await c.agent
      .post('/services/vente')
      .set('X-Forwarded-For', c.ip!)
      .set('Origin', 'https://evil.example')
      .type('text/plain')
      .send('x');
    expect(cross.status).toBe(403);
    expect(await gw.metrics.value('etu_csrf_refusals_total')).toBe(before + 1);
  });
});

describe('defence in depth', () => {
  test('a cross-site POST is refused before the token check, even with a valid token', async () => {
    const u = await student();
    for (const headers of [{ Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }, { Origin: 'null' }]) {
      const c = client();
      await c.get('/login');
      const res = await c.agent
        .post('/login')
        .set('X-Forwarded-For', c.ip!)
        .set(headers)
        .type('form')
        .send({ email: u.email, password: PASSWORD, _csrf: c.token! });
      expect([headers, res.status]).toEqual([headers, 403]);
      expect(textOf(res.text)).toContain('ne vient pas de ce site');
    }
    // Our own origin, and a browser saying same-origin, are fine.
    const { port } = gw.server.address() as AddressInfo;
    const c = client();
    await c.get('/login');
    const ok = await c.agent
      .post('/login')
      .set('X-Forwarded-For', c.ip!)
      .set({ Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' })
      .type('form')
      .send({ email: u.email, password: PASSWORD, _csrf: c.token! });
    expect(ok.status).toBe(303);
  });

  test('over HTTPS (a trusted proxy saying X-Forwarded-Proto: https) the cookies are Secure and __Host- prefixed', async () => {
    const u = await student();
    const res = await request(gw.server).get('/login').set('X-Forwarded-Proto', 'https').set('X-Forwarded-For', '10.17.0.1');
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    // The login form's cookie (no session before login, issue 21).
    expect(cookies.some((c) => /^__Host-etu_form=/.test(c) && /;\s*secure/i.test(c) && /path=\//i.test(c) && !/domain=/i.test(c))).toBe(
      true,
    );
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!;
    const jar = cookies.map((c) => c.split(';')[0]).join('; ');
    const login = await request(gw.server)
      .post('/login')
      .set({ 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '10.17.0.1', Cookie: jar })
      .type('form')
      .send({ email: u.email, password: PASSWORD, _csrf: token });
    expect(login.status).toBe(303);
    const set = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    expect(set.some((c) => /^__Host-etu_device=v1\./.test(c) && /;\s*secure/i.test(c) && /httponly/i.test(c))).toBe(true);
    expect(set.some((c) => /^__Host-etu_sid=/.test(c) && /;\s*secure/i.test(c) && /path=\//i.test(c) && !/domain=/i.test(c))).toBe(true);
  });
});

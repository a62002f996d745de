// The account over HTTP (issue 19, item 5), in front of the four real services: « Mot de passe
// oublié » followed through the outbox as a user would (the link in the mail), one answer and no
// trace for an unknown address, the budgets per address and per client, a token used once and
// never leaked (Referrer-Policy, logs), every session ended; « Supprimer mon compte »: confirmed
// with the password, unsold listings withdrawn, past purchases kept for the other party as
// « compte supprimé », statistics anonymised, sessions ended, the address free again; CSRF on
// every form; the « Mentions légales » page.
import { market } from '@etu/proto';
import { createRedis, type RedisClient } from '@etu/common';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let statsRedis: RedisClient;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';
const NEW_PASSWORD = 'une toute nouvelle phrase';

const client = (ip = `10.29.0.${++ipSeq}`) => new WebClient(gw.server, ip);

async function person(firstName: string, lastName: string, admin = false) {
  const n = ++userSeq;
  const email = `compte.${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName, email, password: PASSWORD, admin });
  return { id, email, firstName, lastName };
}

async function loggedIn(firstName: string, lastName: string, admin = false) {
  const u = await person(firstName, lastName, admin);
  const c = client();
  expect((await c.login(u.email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { ...u, c };
}

/** The mails sent to `email` so far. */
async function mailsTo(email: string): Promise<string[]> {
  return (await sys.mails()).filter((m) => m.includes(`To: ${email}\n`));
}

/** The reset link of a mail, as a mail client shows it (quoted-printable undone). */
function linkIn(mail: string): string {
  const body = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const m = /http:\/\/\S+\/mot-de-passe\/nouveau\?jeton=[\w%-]+/.exec(body);
  if (!m) throw new Error(`no reset link in:\n${mail}`);
  return m[0];
}

async function askReset(c: WebClient, email: string) {
  return c.post('/mot-de-passe-oublie', { email }, { tokenFrom: '/mot-de-passe-oublie' });
}

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway({ PUBLIC_ORIGIN: 'http://etu.example:8080' });
  statsRedis = createRedis(sys.statsRedisUrl, { name: 'test-stats' });
});

afterAll(async () => {
  statsRedis?.disconnect();
  await sys?.close();
});

describe('« Mot de passe oublié »', () => {
  test('the link in the mail sets a new password once, ends every session, and never leaks', async () => {
    const u = await loggedIn('Rémi', 'Oublieux');
    const elsewhere = client();
    expect((await elsewhere.login(u.email, PASSWORD)).status).toBe(303);

    const c = client();
    const login = await c.get('/login');
    expect(login.text).toContain('href="/mot-de-passe-oublie"');
    const res = await askReset(c, u.email);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/mot-de-passe-oublie');
    expect(textOf((await c.get('/mot-de-passe-oublie')).text)).toContain(
      'Si un compte existe avec cette adresse, un e-mail vient de lui être envoyé',
    );

    const [mail] = await mailsTo(u.email);
    expect(mail).toBeDefined();
    const link = linkIn(mail!);
    // The link is the configured origin's, never the request's Host.
    expect(link.startsWith('http://etu.example:8080/mot-de-passe/nouveau?jeton=')).toBe(true);
    const path = link.slice('http://etu.example:8080'.length);
    const token = decodeURIComponent(path.split('jeton=')[1]!);

    const form = await c.get(path);
    expect(form.status).toBe(200);
    expect(form.headers['referrer-policy']).toBe('strict-origin');
    expect(form.headers['cache-control']).toBe('no-store');
    expect(textOf(form.text)).toContain('Choisissez un nouveau mot de passe');

    // Same rules as the sign-up: refused, and the link still works.
    const weak = await c.post('/mot-de-passe/nouveau', { jeton: token, password: 'court' });
    expect(weak.status).toBe(400);
    expect(textOf(weak.text)).toMatch(/8 caractères/);

    const done = await c.post('/mot-de-passe/nouveau', { jeton: token, password: NEW_PASSWORD });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/login');
    expect(done.headers['referrer-policy']).toBe('strict-origin');

    // Every session of the account is over (both browsers that knew the old password).
    for (const old of [u.c, elsewhere]) {
      const page = await old.get('/services');
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe('/login');
    }
    expect((await client().login(u.email, PASSWORD)).status).toBe(401);
    expect((await client().login(u.email, NEW_PASSWORD)).status).toBe(303);

    // Used once: the same link is dead, on the form and on a replayed POST.
    expect((await c.get(path)).status).toBe(410);
    const replay = await c.post('/mot-de-passe/nouveau', { jeton: token, password: 'encore une autre phrase' }, { tokenFrom: '/login' });
    expect(replay.status).toBe(410);
    expect(textOf(replay.text)).toContain('Ce lien n’est plus valable');
    // The token reached no log line.
    expect(gw.logLines.join('\n')).not.toContain(token);
  });

  test('an unknown address gets the same answer and no mail; CSRF is required', async () => {
    const u = await person('Connue', 'Adresse');
    const before = (await sys.mails()).length;
    const a = client();
    const b = client();
    const known = await askReset(a, u.email);
    const unknown = await askReset(b, 'inconnu@etu.example');
    for (const r of [known, unknown]) {
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe('/mot-de-passe-oublie');
    }
    const shown = [textOf((await a.get('/mot-de-passe-oublie')).text), textOf((await b.get('/mot-de-passe-oublie')).text)];
    expect(shown[0]).toContain('Si un compte existe');
    expect(shown[1]).toBe(shown[0]);
    const mails = (await sys.mails()).slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain(`To: ${u.email}`);

    const forged = await client().post('/mot-de-passe-oublie', { email: u.email }, { csrf: null });
    expect(forged.status).toBe(403);
    const forgedReset = await client().post('/mot-de-passe/nouveau', { jeton: 'x'.repeat(43), password: NEW_PASSWORD }, { csrf: null });
    expect(forgedReset.status).toBe(403);
  });

  test('per address: past 3 requests an hour no more mail, same answer; per client: a 429', async () => {
    const u = await person('Spam', 'Cible');
    const before = (await mailsTo(u.email)).length;
    for (let i = 0; i < 5; i++) {
      const res = await askReset(client(), u.email);
      expect(res.status).toBe(303);
    }
    expect((await mailsTo(u.email)).length - before).toBe(3);

    const one = client('10.29.9.9');
    for (let i = 0; i < 10; i++) expect((await askReset(one, `personne${i}@etu.example`)).status).toBe(303);
    const refused = await askReset(one, 'encore@etu.example');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(textOf(refused.text)).toContain('Trop de demandes de réinitialisation depuis votre connexion');
  });
});

describe('« Supprimer mon compte »', () => {
  test('confirmed by the password; listings withdrawn, purchases kept as « compte supprimé », statistics anonymised, sessions ended, address free', async () => {
    const leaving = await loggedIn('Léo', 'Partant');
    const buyer = await loggedIn('Nina', 'Acheteuse');
    const seller = await loggedIn('Victor', 'Vendeur');
    const admin = await loggedIn('Ada', 'Admin', true);
    const create = async (sellerId: string, title: string) =>
      (
        await gw.clients.market.createListing({
          sellerId,
          title,
          category: market.Category.CATEGORY_BOOK,
          priceCents: 800,
          condition: market.Condition.CONDITION_GOOD,
          photos: [],
          description: '',
          idempotencyKey: '',
        })
      ).listing!.id;
    const unsold = await create(leaving.id, 'Invendu de Léo');
    const soldByLeo = await create(leaving.id, 'Vendu par Léo');
    const boughtByLeo = await create(seller.id, 'Acheté par Léo');
    await buyer.c.get('/services');
    expect((await buyer.c.post('/services/achat', { article_id: soldByLeo })).status).toBe(303);
    await leaving.c.get('/services');
    expect((await leaving.c.post('/services/achat', { article_id: boughtByLeo })).status).toBe(303);
    const stats = textOf((await admin.c.get('/statistiques')).text);
    expect(stats).toContain('Léo Partant');

    const page = await leaving.c.get('/compte');
    expect(textOf(page.text)).toContain('Supprimer mon compte');
    // CSRF, then the password.
    expect((await leaving.c.post('/compte/supprimer', { password: PASSWORD }, { csrf: null })).status).toBe(403);
    const wrong = await leaving.c.post('/compte/supprimer', { password: 'pas le bon' }, { tokenFrom: '/compte' });
    expect(wrong.status).toBe(403);
    expect(textOf(wrong.text)).toContain('Mot de passe incorrect : votre compte n’a pas été supprimé.');
    expect((await leaving.c.get('/services')).status).toBe(200);

    const other = client();
    expect((await other.login(leaving.email, PASSWORD)).status).toBe(303);
    const done = await leaving.c.post('/compte/supprimer', { password: PASSWORD }, { tokenFrom: '/compte' });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/');
    expect(textOf((await leaving.c.get('/')).text)).toContain('Votre compte est supprimé');

    // Every session is over; the old credentials open nothing.
    for (const c of [leaving.c, other]) {
      const res = await c.get('/services');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login');
    }
    expect((await client().login(leaving.email, PASSWORD)).status).toBe(401);

    // The unsold listing is gone; the sales stay for the other party, without the erased details.
    expect((await client().get(`/articles/${unsold}`)).status).toBe(404);
    const bought = textOf((await buyer.c.get('/achats')).text);
    expect(bought).toContain('Vendu par Léo');
    expect(bought).toContain('Vendu par compte supprimé');
    expect(bought).not.toContain('Partant');
    expect(bought).not.toContain(leaving.email);
    // the sold item's own page, to anyone: the seller's account is gone, not a name unavailable
    const item = textOf((await client().get(`/articles/${soldByLeo}`)).text);
    expect(item).toContain('Vendu par compte supprimé');
    expect(item).not.toContain('indisponible');
    expect((await client().get(`/articles/${soldByLeo}`, 'application/json')).body).toMatchObject({ vendeur: null, vendeurSupprime: true });
    const sold = textOf((await seller.c.get('/services')).text);
    expect(sold).toContain('vendu à compte supprimé');
    expect(sold).not.toContain(leaving.email);

    // Statistics: the counts stay, the person is gone from them.
    const after = textOf((await admin.c.get('/statistiques')).text);
    expect(after).not.toContain('Partant');
    expect(after).not.toContain(leaving.email);
    expect(after).toContain('Compte supprimé');
    const keys = await statsRedis.keys('*');
    expect(keys.filter((k) => k.includes(leaving.id))).toEqual([]);
    for (const k of ['stats:logins', 'stats:last_login', 'stats:calls:user']) {
      expect(await statsRedis.zscore(k, leaving.id)).toBeNull();
    }

    // The address is free for a new sign-up.
    const again = client();
    const signup = await again.post(
      '/inscription',
      { nom: 'Partant', prenom: 'Léo', email: leaving.email, password: 'une nouvelle vie commence' },
      { tokenFrom: '/inscription' },
    );
    expect(signup.status).toBe(303);
  });
});

test('« Mentions légales et données personnelles », linked from every page’s footer', async () => {
  const home = await client().get('/');
  expect(home.text).toContain('href="/mentions-legales"');
  const page = await client().get('/mentions-legales');
  expect(page.status).toBe(200);
  const text = textOf(page.text);
  for (const s of ['Sessions et cookies', 'Journaux', 'Statistiques', 'Sauvegardes', 'E-mails', '30 minutes', '12 heures'])
    expect(text).toContain(s);
});

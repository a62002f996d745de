// The gateway over HTTP in front of the four real services (started in-process on port 0, own
// database and Redis dbs), with the real policies (10 per 10 minutes). Each test poses as its
// own client IP (X-Forwarded-For, the gateway trusting one proxy) so that the per-IP failure
// policy of one test never leaks into another.
import { market } from '@etu/proto';
import { TEST_TOKEN } from '@etu/testkit';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const client = () => new WebClient(gw.server, `10.1.0.${++ipSeq}`);

/** A student created directly in the database (as the seed does), not logged in. */
async function student(firstName = 'Élève') {
  const n = ++userSeq;
  const email = `eleve${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName: `Numéro${n}`, email, password: PASSWORD });
  return { id, email, firstName };
}

async function loggedIn(firstName?: string) {
  const u = await student(firstName);
  const c = client();
  const res = await c.login(u.email, PASSWORD);
  expect(res.status).toBe(303);
  await c.get('/services'); // the CSRF token of the new session
  return { ...u, c };
}

async function listingsOf(sellerId: string): Promise<market.Listing[]> {
  const res = await gw.clients.market.listListings({
    filter: { sellerId, category: 0, excludeSellerId: '', status: 0 },
    pageSize: 100,
    pageToken: '',
  });
  return res.listings;
}

const sell = (c: WebClient, titre = 'Analyse L1', prix = '12,50', categorie = 'livre', accept?: string, etat = 'bon') =>
  c.post('/services/vente', { titre, categorie, etat, prix, description: 'Bon état' }, { accept });

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
});

afterAll(async () => {
  await sys?.close();
});

describe('sign-up', () => {
  test('creates the account and logs in directly: one of the 10 logins, recorded in the statistics', async () => {
    const c = client();
    await c.get('/inscription');
    const res = await c.post('/inscription', { nom: 'Durand', prenom: 'Inès', email: 'Ines.Durand@Etu.example', password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/services');
    const page = await c.get('/services');
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('Bienvenue Inès ! Votre compte est créé et vous êtes connecté·e.');
    const id = (await gw.clients.auth.authenticate({ email: 'ines.durand@etu.example', password: PASSWORD })).user!.id;
    const logins = await gw.clients.limiter.peek('login', id);
    expect(logins.remaining).toBe(9);
    const dashboard = await gw.clients.stats.getDashboard({});
    expect(dashboard.lastLogins.map((l) => l.userId)).toContain(id);
    // Another browser logs in as usual.
    const again = await client().login('ines.durand@etu.example', PASSWORD);
    expect(again.status).toBe(303);
    expect(again.headers.location).toBe('/services');
    expect((await gw.clients.limiter.peek('login', id)).remaining).toBe(8);
  });

  test('a taken email (any case) → 409 with a message that reveals no more than needed', async () => {
    const u = await student();
    const c = client();
    await c.get('/inscription');
    const res = await c.post('/inscription', { nom: 'X', prenom: 'Y', email: u.email.toUpperCase(), password: PASSWORD });
    expect(res.status).toBe(409);
    const text = textOf(res.text);
    expect(text).toContain('Impossible de créer un compte avec cette adresse e-mail');
    expect(text).not.toContain(u.firstName);
    // the form keeps what was typed, but never the password
    expect(res.text).toContain('value="Y"');
    expect(res.text).not.toContain(PASSWORD);
  });

  test('input rules of auth are shown in French with 400; missing fields too', async () => {
    const c = client();
    await c.get('/inscription');
    const short = await c.post('/inscription', { nom: 'A', prenom: 'B', email: 'court@etu.example', password: 'court' });
    expect(short.status).toBe(400);
    expect(textOf(short.text)).toContain('Mot de passe : 8 caractères au minimum');
    // Beside its field, which points at it (and keeps its hint).
    expect(short.text).toMatch(/<input id="password"[^>]* aria-invalid="true" aria-describedby="password-erreur pw-hint">/);
    expect(short.text).toContain('<p class="field-error" id="password-erreur">Mot de passe : 8 caractères au minimum');
    const missing = await c.post('/inscription', { nom: '', prenom: 'B', email: 'x@etu.example', password: PASSWORD });
    expect(missing.status).toBe(400);
    expect(textOf(missing.text)).toContain('Tous les champs sont obligatoires');
    expect(missing.text).toContain('<p class="field-error" id="nom-erreur">Indiquez votre nom.</p>');
    expect(missing.text).not.toContain('id="prenom-erreur"');
    const json = await c.post(
      '/inscription',
      { nom: '', prenom: '', email: 'x@etu.example', password: PASSWORD },
      { accept: 'application/json' },
    );
    expect(json.body).toMatchObject({
      error: 'champs_manquants',
      champs: { nom: 'Indiquez votre nom.', prenom: 'Indiquez votre prénom.' },
    });
  });

  test('a name of combining accents, punctuation or symbols only is refused beside its field; nothing is created', async () => {
    const c = client();
    await c.get('/inscription');
    const email = 'accents.seuls@etu.example';
    const bad: [string, string, string, string][] = [
      // [prenom, nom, field, message]
      ['\u0301\u0301', 'Martin', 'prenom', 'Prénom : le prénom doit contenir au moins une lettre.'],
      ['Léa', '\u0308', 'nom', 'Nom : le nom doit contenir au moins une lettre.'],
      ['-.', 'Martin', 'prenom', 'Prénom : le prénom doit contenir au moins une lettre.'],
      ['Léa', '★ 42', 'nom', 'Nom : le nom doit contenir au moins une lettre.'],
      ['\u0301Léa', 'Martin', 'prenom', 'Prénom : le prénom ne peut pas commencer par un accent seul.'],
    ];
    for (const [prenom, nom, name, message] of bad) {
      const res = await c.post('/inscription', { prenom, nom, email, password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.text).toContain(`<p class="field-error" id="${name}-erreur">${message}</p>`);
      expect(res.text).toMatch(new RegExp(`<input id="${name}"[^>]* aria-invalid="true"`));
    }
    // Nothing was created: the address is still free.
    const ok = await client().post(
      '/inscription',
      { prenom: 'Léa', nom: 'Martin', email, password: PASSWORD },
      { tokenFrom: '/inscription' },
    );
    expect(ok.status).toBe(303);
  });

  test.each([
    ['Siobhan', "O'Neil"],
    ['Jean-Luc', 'Picard'],
    ['Zoë', 'Durand'],
    ['Zoe\u0308', 'Mercier'],
    ['小龍', '李'],
  ])('« %s %s » signs up', async (prenom, nom) => {
    const c = client();
    const email = `nom.${++userSeq}@etu.example`;
    const res = await c.post('/inscription', { prenom, nom, email, password: PASSWORD }, { tokenFrom: '/inscription' });
    expect(res.status).toBe(303);
    expect(textOf((await c.get('/services')).text)).toContain(`Bienvenue ${prenom.normalize('NFC')} !`);
  });

  test('the forms and their messages write « e-mail », never « email »', async () => {
    const email = /\bemails?\b/i;
    const c = client();
    for (const path of ['/login', '/inscription', '/mot-de-passe-oublie']) {
      const page = textOf((await c.get(path)).text);
      expect(page).toContain('Adresse e-mail');
      expect(page).not.toMatch(email);
    }
    const said: string[] = [];
    await c.get('/login');
    said.push(textOf((await c.post('/login', { email: '', password: '' })).text));
    said.push(textOf((await c.post('/login', { email: 'personne@etu.example', password: 'pas-le-bon' })).text));
    await c.get('/inscription');
    said.push(textOf((await c.post('/inscription', { prenom: 'A', nom: 'B', email: '', password: PASSWORD })).text));
    said.push(textOf((await c.post('/inscription', { prenom: 'A', nom: 'B', email: 'pas-une-adresse', password: PASSWORD })).text));
    const taken = await student();
    said.push(textOf((await c.post('/inscription', { prenom: 'A', nom: 'B', email: taken.email, password: PASSWORD })).text));
    expect(said.join('\n')).toContain('Adresse e-mail : adresse e-mail invalide.');
    for (const text of said) expect(text).not.toMatch(email);
  });
});

describe('login and sessions', () => {
  test('bad credentials → 401 with one generic message for a wrong password and an unknown email', async () => {
    const u = await student();
    const c = client();
    const wrong = await c.login(u.email, 'not-the-password');
    const unknown = await c.login('personne@etu.example', 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const msg = (html: string) => /role="alert">([\s\S]*?)<\/div>/.exec(html)?.[1]?.replace(/\s+/g, ' ').trim();
    expect(msg(wrong.text)).toBe(msg(unknown.text));
    expect(msg(wrong.text)).toContain('Adresse e-mail ou mot de passe incorrect.');
    expect(wrong.text).toContain(`value="${u.email}"`);
  });

  test('the login form creates no session; login always issues a new session id and the old id is gone from Redis', async () => {
    const u = await student('Rotation');
    const first = await student();
    const c = client();
    await c.get('/login');
    expect(c.cookie('etu_sid')).toBeUndefined();
    expect((await c.post('/login', { email: first.email, password: PASSWORD })).status).toBe(303);
    const before = c.cookie('etu_sid')!;
    expect(await sys.sessionRedis.exists(`sess:${before}`)).toBe(1);
    // The same browser, holding a session (its own, or one planted in it), logs in: a new id.
    await c.get('/services');
    const res = await c.post('/login', { email: u.email, password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/services');
    const after = c.cookie('etu_sid')!;
    expect(after).not.toBe(before);
    expect(Buffer.from(after, 'base64url')).toHaveLength(32);
    expect(await sys.sessionRedis.exists(`sess:${before}`)).toBe(0);
    const page = await c.get('/services');
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('Bonjour Rotation');
    expect(textOf(page.text)).toContain('Il vous reste 10 actions sur 10.');
  });

  test('logout ends the session server-side: replaying the old cookie is logged out', async () => {
    const { c } = await loggedIn();
    const cookieHeader = `etu_sid=${c.cookie('etu_sid')}; etu_sid.sig=${c.cookie('etu_sid.sig')}`;
    const sid = c.cookie('etu_sid')!;
    const out = await c.post('/logout', {});
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/');
    expect(await sys.sessionRedis.exists(`sess:${sid}`)).toBe(0);
    const replay = await client().agent.get('/services').set('Cookie', cookieHeader);
    expect(replay.status).toBe(303);
    expect(replay.headers.location).toBe('/login');
  });

  test('a forged or unsigned session cookie is ignored', async () => {
    const { c } = await loggedIn();
    const sid = c.cookie('etu_sid')!;
    const unsigned = await client().agent.get('/services').set('Cookie', `etu_sid=${sid}`);
    expect(unsigned.status).toBe(303);
  });

  test('the 11th login of a user within 10 minutes → 429 with Retry-After, and no session', async () => {
    const u = await student();
    for (let i = 0; i < 10; i++) {
      const ok = await client().login(u.email, PASSWORD);
      expect(ok.status).toBe(303);
    }
    const fresh = client();
    const res = await fresh.login(u.email, PASSWORD);
    expect(res.status).toBe(429);
    const retry = Number(res.headers['retry-after']);
    expect(retry).toBeGreaterThan(500);
    expect(retry).toBeLessThanOrEqual(600);
    expect(textOf(res.text)).toContain('Trop de connexions');
    expect(textOf(res.text)).toContain('Vous vous êtes connecté·e 10 fois en 10 min');
    expect(textOf(res.text)).toMatch(/Vous pourrez réessayer à partir de \d{1,2} h \d{2}\./);
    // The login form again, the address kept, no raw status code.
    expect(res.text).toContain(`value="${u.email}"`);
    expect(textOf(res.text)).not.toContain('429');
    expect((await fresh.get('/services')).status).toBe(303);
    expect(await gw.metrics.value('etu_logins_total', { outcome: 'quota_refused' })).toBeGreaterThan(0);
  });

  test('brute force: after 10 wrong passwords for one email from one IP, the 11th attempt → 429 without checking the password', async () => {
    const u = await student();
    const attacker = client();
    for (let i = 0; i < 10; i++) expect((await attacker.login(u.email, `guess-${i}-wrong`)).status).toBe(401);
    // Even the right password is refused: the password was not checked.
    const res = await attacker.login(u.email, PASSWORD);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(textOf(res.text)).toContain('Trop de tentatives de connexion échouées');
    // The owner, from another IP, still logs in.
    expect((await client().login(u.email, PASSWORD)).status).toBe(303);
    // And the attacker's IP may still try other emails (the per-IP budget is 50).
    expect((await attacker.login('someone@etu.example', 'x-wrong-x')).status).toBe(401);
  });

  test('credential stuffing: 50 failures from one IP over many emails → the 51st → 429, whatever the email', async () => {
    const u = await student();
    const attacker = client();
    await attacker.get('/login');
    const tries = Array.from({ length: 50 }, (_, i) => i);
    for (let i = 0; i < tries.length; i += 10) {
      const batch = await Promise.all(
        tries.slice(i, i + 10).map((n) => attacker.post('/login', { email: `stuffed${n}@etu.example`, password: 'nope-nope' })),
      );
      for (const r of batch) expect(r.status).toBe(401);
    }
    const res = await attacker.login(u.email, PASSWORD);
    expect(res.status).toBe(429);
    expect(await gw.metrics.value('etu_bruteforce_refusals_total', {})).toBeGreaterThan(0);
  });

  test('X-Forwarded-For is believed only when a proxy is trusted', async () => {
    const plain = await sys.gateway({ TRUST_PROXY: 'false' });
    const u = await student();
    // From "different" forwarded IPs, but the same socket: one subject.
    for (let i = 0; i < 10; i++) {
      const c = new WebClient(plain.server, `10.9.9.${i}`);
      expect((await c.login(u.email, 'wrong-password!')).status).toBe(401);
    }
    const res = await new WebClient(plain.server, '10.9.9.99').login(u.email, PASSWORD);
    expect(res.status).toBe(429);
  });

  test('JSON clients: same statuses, JSON bodies', async () => {
    const u = await student('Json');
    const c = client();
    const form = await c.get('/login', 'application/json');
    expect(form.body.csrfToken).toBeTruthy();
    c.token = form.body.csrfToken;
    const bad = await c.post('/login', { email: u.email, password: 'wrong-password' }, { accept: 'application/json' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: 'identifiants_invalides', message: 'Adresse e-mail ou mot de passe incorrect.' });
    const ok = await c.post('/login', { email: u.email, password: PASSWORD }, { accept: 'application/json' });
    expect(ok.status).toBe(303);
    expect(ok.body).toMatchObject({ ok: true, location: '/services', user: { id: u.id, prenom: 'Json', role: 'etudiant' } });
    c.token = ok.body.csrfToken;
    const page = await c.get('/services', 'application/json');
    expect(page.status).toBe(200);
    expect(page.body.quota).toMatchObject({ limite: 10, restants: 10 });
    const sold = await sell(c, 'Via API', '3.20', 'dvd', 'application/json');
    expect(sold.status).toBe(303);
    expect(sold.body.article).toMatchObject({ titre: 'Via API', categorie: 'dvd', etat: 'bon', prixCentimes: 320, statut: 'disponible' });
  });
});

describe('Vente and Achat', () => {
  test('a sale is created, carries the RateLimit headers, and shows on the pages', async () => {
    const seller = await loggedIn('Vendeuse');
    const res = await sell(seller.c, 'Dune — Frank Herbert', '7,90', 'livre');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/services');
    expect(res.headers['ratelimit-policy']).toBe('"service";q=10;w=600');
    expect(res.headers.ratelimit).toMatch(/^"service";r=9;t=\d+$/);
    const page = await seller.c.get('/services');
    const text = textOf(page.text);
    expect(text).toContain('Votre article « Dune — Frank Herbert » est en vente');
    expect(text).toMatch(/Il vous reste 9 actions sur 10 ; la prochaine redevient disponible à \d{1,2} h \d{2}\./);
    expect(text).toContain('Mes articles');
    expect(text).toMatch(/Dune — Frank Herbert Livre Bon état 7,90\s€ Disponible/);
    const buyer = await loggedIn();
    const theirs = textOf((await buyer.c.get('/services')).text);
    expect(theirs).toContain('Dune — Frank Herbert');
    expect(theirs).toContain('vendu par Vendeuse');
  });

  test('a mistake in the sale form → 400 beside its field, the form kept, and no call counted; a market refusal → the call stays counted', async () => {
    const s = await loggedIn();
    const badPrice = await sell(s.c, 'Livre', 'douze euros');
    expect(badPrice.status).toBe(400);
    expect(textOf(badPrice.text)).toContain('Indiquez un prix en euros');
    const badCat = await sell(s.c, 'Livre', '12', 'vinyle');
    expect(badCat.status).toBe(400);
    // No condition chosen: said beside the form, which keeps what was typed.
    const noCondition = await sell(s.c, 'Manuel gardé', '12', 'livre', undefined, '');
    expect(noCondition.status).toBe(400);
    expect(textOf(noCondition.text)).toContain("Indiquez l'état de l'article : neuf, très bon état, bon état ou état correct.");
    expect(noCondition.text).toContain('value="Manuel gardé"');
    // What market would refuse is said by the gateway first, beside its field.
    const mistakes: [string, string, string, string][] = [
      ['x'.repeat(200), '12', 'Titre : le titre ne doit pas dépasser 120 caractères.', 'titre'],
      ['   ', '12', 'Titre : le titre est obligatoire.', 'titre'],
      ['Titre\tavec tabulation', '12', 'Titre : le titre ne doit pas contenir de caractères de contrôle.', 'titre'],
      ['Gratuit', '0', 'Prix : le prix doit être compris entre 0,01 € et 10 000 €', 'prix'],
      ['Trop cher', '10000,01', 'Prix : le prix doit être compris entre 0,01 € et 10 000 €', 'prix'],
    ];
    for (const [titre, prix, message, name] of mistakes) {
      const res = await sell(s.c, titre, prix);
      expect({ titre, status: res.status, said: textOf(res.text).includes(message) }).toEqual({ titre, status: 400, said: true });
      expect(res.text).toContain(`id="${name}-erreur"`);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    const longDescription = await s.c.post('/services/vente', {
      titre: 'Livre',
      categorie: 'livre',
      etat: 'bon',
      prix: '12',
      description: 'd'.repeat(2001),
    });
    expect(longDescription.status).toBe(400);
    expect(textOf(longDescription.text)).toContain('Description : la description ne doit pas dépasser 2 000 caractères.');
    expect(textOf((await s.c.get('/services')).text)).toContain('Il vous reste 10 actions sur 10.');
    expect(await listingsOf(s.id)).toHaveLength(0);
    // A refusal only market can make (one's own item) stays counted: the limiter counts calls.
    expect((await sell(s.c, 'Mon livre', '12')).status).toBe(303);
    const [mine] = await listingsOf(s.id);
    const own = await s.c.post('/services/achat', { article_id: mine!.id });
    expect(own.status).toBe(409);
    expect(own.headers.ratelimit).toMatch(/r=8;/);
  });

  test('the 11th Vente → 429 with Retry-After, RateLimit-Policy and RateLimit, and a French page with the wait', async () => {
    const s = await loggedIn();
    for (let i = 1; i <= 10; i++) expect((await sell(s.c, `Objet ${i}`, '1')).status).toBe(303);
    const res = await sell(s.c, 'Objet 11', '1');
    expect(res.status).toBe(429);
    const retry = Number(res.headers['retry-after']);
    expect(retry).toBeGreaterThan(500);
    expect(retry).toBeLessThanOrEqual(600);
    expect(res.headers['ratelimit-policy']).toBe('"service";q=10;w=600');
    expect(res.headers.ratelimit).toBe(`"service";r=0;t=${retry}`);
    const text = textOf(res.text);
    expect(text).toContain("Plus d'action disponible pour le moment");
    expect(text).toContain('Vous avez utilisé vos 10 actions (ventes et achats) autorisées sur 10 min');
    // When to come back, once, as a clock time; no raw status code; the form as it was filled in.
    expect(text.match(/\d{1,2} h \d{2}/g)).toHaveLength(1);
    expect(text).toMatch(/Vous pourrez réessayer à partir de \d{1,2} h \d{2}\./);
    expect(text).not.toContain('429');
    expect(res.text).toContain('value="Objet 11"');
    expect(await listingsOf(s.id)).toHaveLength(10);
    const page = textOf((await s.c.get('/services')).text);
    expect(page).toMatch(/Il ne vous reste aucune action sur 10 ; la prochaine redevient disponible à \d{1,2} h \d{2}\./);
    // The forms say so before they are filled in: the sale form and the list of items to buy.
    expect(page.match(/Vous avez utilisé vos 10 actions : ce formulaire pourra être envoyé à partir de \d{1,2} h \d{2}\./g)).toHaveLength(
      2,
    );
  });

  test('50 concurrent Vente posts by one user → exactly 10 listings', async () => {
    const s = await loggedIn();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sell(s.c, `Concurrent ${i}`, '2')));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 303)).toHaveLength(10);
    expect(statuses.filter((x) => x === 429)).toHaveLength(40);
    expect(await listingsOf(s.id)).toHaveLength(10);
  });

  test("Achat: one buyer wins; a second gets 409; one cannot buy one's own item; unknown → 404", async () => {
    const seller = await loggedIn('Sam');
    await sell(seller.c, 'Le Seigneur des anneaux (DVD)', '15', 'dvd');
    const [listing] = await listingsOf(seller.id);
    const buyer = await loggedIn('Bea');
    const bought = await buyer.c.post('/services/achat', { article_id: listing!.id });
    expect(bought.status).toBe(303);
    expect(bought.headers.ratelimit).toMatch(/^"service";r=9;/);
    expect(textOf((await buyer.c.get('/services')).text)).toContain('Vous avez acheté « Le Seigneur des anneaux (DVD) »');
    const sellerPage = textOf((await seller.c.get('/services')).text);
    expect(sellerPage).toMatch(/Le Seigneur des anneaux \(DVD\) DVD Bon état 15,00\s€ Vendu le/);
    const late = await loggedIn();
    const again = await late.c.post('/services/achat', { article_id: listing!.id });
    expect(again.status).toBe(409);
    expect(textOf(again.text)).toMatch(/vendu/i);
    const own = await seller.c.post('/services/achat', { article_id: listing!.id });
    expect(own.status).toBe(409);
    const missing = await buyer.c.post('/services/achat', { article_id: '999999999' });
    expect(missing.status).toBe(404);
    expect(textOf(missing.text)).toContain("Cet article n'existe pas");
    const none = await buyer.c.post('/services/achat', { article_id: '' });
    expect(none.status).toBe(400);
  });

  test('the 11th Achat → 429 with the RateLimit headers', async () => {
    const seller = await loggedIn();
    for (let i = 0; i < 10; i++) await sell(seller.c, `Lot ${i}`, '1');
    const items = await listingsOf(seller.id);
    const buyer = await loggedIn();
    for (const l of items) expect((await buyer.c.post('/services/achat', { article_id: l.id })).status).toBe(303);
    const other = await loggedIn();
    await sell(other.c, 'Encore un', '1');
    const [extra] = await listingsOf(other.id);
    const res = await buyer.c.post('/services/achat', { article_id: extra!.id });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['ratelimit-policy']).toBe('"service";q=10;w=600');
    expect(res.headers.ratelimit).toMatch(/^"service";r=0;t=\d+$/);
    expect((await listingsOf(other.id))[0]!.status).toBe(market.ListingStatus.LISTING_STATUS_AVAILABLE);
  });

  test('<script> titles render as text everywhere', async () => {
    const evil = '<script>alert(1)</script>';
    const seller = await loggedIn();
    expect((await sell(seller.c, evil, '1', 'autre')).status).toBe(303);
    const own = await seller.c.get('/services');
    expect(own.text).not.toContain(evil);
    expect(own.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(own.text).toContain('Votre article « &lt;script&gt;alert(1)&lt;/script&gt; »');
    const buyer = await loggedIn();
    const list = await buyer.c.get('/services');
    expect(list.text).not.toContain(evil);
    expect(list.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const [l] = await listingsOf(seller.id);
    await buyer.c.post('/services/achat', { article_id: l!.id });
    const after = await buyer.c.get('/services');
    expect(after.text).not.toContain(evil);
  });

  test('category filter and pagination of the listings to buy', async () => {
    // More DVDs than one page (12) holds; one seller may list only 10 per 10 minutes.
    for (const name of ['Paginé', 'Paginée']) {
      const seller = await loggedIn(name);
      for (let i = 0; i < 8; i++) expect((await sell(seller.c, `Pagination DVD ${i}`, '1', 'dvd')).status).toBe(303);
    }
    const buyer = await loggedIn();
    const page1 = await buyer.c.get('/services?categorie=dvd');
    expect(page1.status).toBe(200);
    expect(page1.text).toContain('Pagination DVD');
    expect(page1.text).not.toContain('class="tag tag-livre"');
    const next = /href="(\/services\?categorie=dvd&amp;page=[^"]+)"/.exec(page1.text)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBeDefined();
    const page2 = await buyer.c.get(next!);
    expect(page2.status).toBe(200);
    expect(textOf(page2.text)).toContain('Première page');
    // a forged cursor falls back to the first page
    expect((await buyer.c.get('/services?page=forged')).status).toBe(200);
  });

  test('POSTs without a session are refused (403 CSRF), with a session but logged out → 303 /login', async () => {
    const anon = client();
    expect((await anon.post('/services/vente', { titre: 'x', categorie: 'livre', etat: 'bon', prix: '1' }, { csrf: null })).status).toBe(
      403,
    );
    await anon.get('/login');
    const res = await anon.post('/services/vente', { titre: 'x', categorie: 'livre', etat: 'bon', prix: '1' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login');
  });
});

describe('statistics access', () => {
  test('a student gets 403 on /statistiques; an admin gets the page', async () => {
    const s = await loggedIn();
    const res = await s.c.get('/statistiques');
    expect(res.status).toBe(403);
    expect(textOf(res.text)).toContain("réservée à l'équipe EtuServices");
    const email = 'admin-http@etu.example';
    await sys.createUser({ firstName: 'Ada', lastName: 'Admin', email, password: PASSWORD, admin: true });
    const a = client();
    expect((await a.login(email, PASSWORD)).status).toBe(303);
    const page = await a.get('/statistiques');
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('Top 3 des connexions');
  });
});

test('readyz: every dependency up; a client from outside reads only the verdict, an operator (loopback or internal token) the details', async () => {
  const res = await client().get('/readyz', 'application/json');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'ready' });
  const local = await new WebClient(gw.server).get('/readyz', 'application/json');
  expect(local.body).toMatchObject({
    status: 'ready',
    down: [],
    degraded: [],
    checks: { auth: 'ok', market: 'ok', limiter: 'ok', stats: 'ok', sessions: 'ok' },
  });
  const withToken = await client().agent.get('/readyz').set('X-Forwarded-For', '10.9.9.9').set('Authorization', `Bearer ${TEST_TOKEN}`);
  expect(withToken.body).toMatchObject({ status: 'ready', down: [] });
  const wrongToken = await client()
    .agent.get('/readyz')
    .set('X-Forwarded-For', '10.9.9.9')
    .set('Authorization', 'Bearer not-the-token-at-all');
  expect(wrongToken.body).toEqual({ status: 'ready' });
});

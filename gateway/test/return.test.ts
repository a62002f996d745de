// Coming back after a login or a sign-up, over HTTP in front of the four real services (own
// database and Redis dbs): a visitor who leaves an item for the login (« Se connecter pour
// acheter », the purchase confirmation asked for while logged out) or the sign-up lands on that
// page again; a `retour` of any other shape — another site, a climbing or encoded path — lands on
// the default page and is never written into a form.
import { market } from '@etu/proto';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';
let itemId: string;

const client = () => new WebClient(gw.server, `10.31.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`);

async function student() {
  const n = ++userSeq;
  const email = `retour${n}@etu.example`;
  const id = await sys.createUser({ firstName: 'Romane', lastName: `Retour${n}`, email, password: PASSWORD });
  return { id, email };
}

/** The hidden `retour` field of a page's form, if any. */
const hiddenRetour = (html: string) => /<input type="hidden" name="retour" value="([^"]*)">/.exec(html)?.[1];
/** The href of the link whose text is `label`. */
const hrefOf = (html: string, label: string) => new RegExp(`<a [^>]*href="([^"]*)"[^>]*>${label}</a>`).exec(html)?.[1];

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
  const seller = await student();
  const res = await gw.clients.market.createListing({
    sellerId: seller.id,
    title: 'Atlas de géographie',
    category: market.Category.CATEGORY_BOOK,
    condition: market.Condition.CONDITION_GOOD,
    priceCents: 1500,
    description: '',
    idempotencyKey: '',
    photos: [],
  });
  itemId = res.listing!.id;
});

afterAll(async () => {
  await sys?.close();
});

describe('back to the item', () => {
  test('« Se connecter pour acheter » → the login form carries the item → the login lands on the item', async () => {
    const u = await student();
    const c = client();
    const item = await c.get(`/articles/${itemId}`);
    const toLogin = `/login?retour=%2Farticles%2F${itemId}`;
    expect(hrefOf(item.text, 'Se connecter pour acheter')).toBe(toLogin);
    expect(hrefOf(item.text, 'Connexion')).toBe(toLogin);
    expect(hrefOf(item.text, 'Créer un compte')).toBe(`/inscription?retour=%2Farticles%2F${itemId}`);

    const form = await c.get(toLogin);
    expect(hiddenRetour(form.text)).toBe(`/articles/${itemId}`);
    expect(hrefOf(form.text, 'Créer un compte')).toBe(`/inscription?retour=%2Farticles%2F${itemId}`);
    // A wrong password shows the form again, still carrying the item.
    const wrong = await c.post('/login', { email: u.email, password: 'pas-le-bon', retour: hiddenRetour(form.text)! });
    expect(wrong.status).toBe(401);
    expect(hiddenRetour(wrong.text)).toBe(`/articles/${itemId}`);

    const res = await c.post('/login', { email: u.email, password: PASSWORD, retour: hiddenRetour(wrong.text)! });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/articles/${itemId}`);
    const back = await c.get(res.headers.location as string);
    expect(back.status).toBe(200);
    expect(hrefOf(back.text, 'Acheter')).toBe(`/articles/${itemId}/acheter`);
    // Logged in, the login page sends there at once.
    expect((await c.get(toLogin)).headers.location).toBe(`/articles/${itemId}`);
  });

  test('the purchase confirmation asked for while logged out comes back after the login', async () => {
    const u = await student();
    const c = client();
    const asked = await c.get(`/articles/${itemId}/acheter`);
    expect(asked.status).toBe(303);
    expect(asked.headers.location).toBe(`/login?retour=%2Farticles%2F${itemId}%2Facheter`);
    const form = await c.get(asked.headers.location as string);
    const res = await c.post('/login', { email: u.email, password: PASSWORD, retour: hiddenRetour(form.text)! });
    expect(res.headers.location).toBe(`/articles/${itemId}/acheter`);
    expect(textOf((await c.get(`/articles/${itemId}/acheter`)).text)).toContain("Confirmer l'achat");
  });

  test('a program logging in gets the same place in its JSON answer', async () => {
    const u = await student();
    const c = client();
    await c.get(`/login?retour=%2Farticles%2F${itemId}`);
    const res = await c.post(
      '/login',
      { email: u.email, password: PASSWORD, retour: `/articles/${itemId}` },
      { accept: 'application/json' },
    );
    expect(res.body).toMatchObject({ ok: true, location: `/articles/${itemId}` });
  });

  test('a sign-up started from the item lands on it, logged in; a refused one keeps the way back', async () => {
    const c = client();
    const form = await c.get(`/inscription?retour=%2Farticles%2F${itemId}`);
    expect(hiddenRetour(form.text)).toBe(`/articles/${itemId}`);
    expect(hrefOf(form.text, 'Se connecter')).toBe(`/login?retour=%2Farticles%2F${itemId}`);
    const fields = {
      prenom: 'Romane',
      nom: 'Inscrite',
      email: 'romane.inscrite@etu.example',
      password: PASSWORD,
      retour: `/articles/${itemId}`,
    };
    const refused = await c.post('/inscription', { ...fields, prenom: '\u0301' });
    expect(refused.status).toBe(400);
    expect(hiddenRetour(refused.text)).toBe(`/articles/${itemId}`);
    const res = await c.post('/inscription', fields);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/articles/${itemId}`);
    const back = await c.get(`/articles/${itemId}`);
    expect(textOf(back.text)).toContain('Bienvenue Romane ! Votre compte est créé et vous êtes connecté·e.');
    expect(hrefOf(back.text, 'Acheter')).toBe(`/articles/${itemId}/acheter`);
  });

  test('the way back changes nothing else: no CSRF token, no login', async () => {
    const u = await student();
    const c = client();
    await c.get(`/login?retour=%2Farticles%2F${itemId}`);
    const res = await c.post('/login', { email: u.email, password: PASSWORD, retour: `/articles/${itemId}` }, { csrf: null });
    expect(res.status).toBe(403);
    expect((await c.get('/services')).headers.location).toBe('/login');
  });
});

describe('any other retour lands on the default page', () => {
  // As an attacker would send them, in the link (decoded by the query parser) and in the form.
  const hostile = [
    '//evil.example',
    'https://evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '%2F%2Fevil.example',
    '/%2F/evil.example',
    '/articles/1/../../x',
    '/articles/1/%2e%2e/%2e%2e/x',
    '/articles/1?x=//evil.example',
    '/articles/1#//evil.example',
    '/articles/1/acheter/',
    '/articles/01',
    '/articles/1\n',
    ' /articles/1',
    '/ARTICLES/1',
    '/articles/1/modifier',
    '/login',
    'javascript:alert(1)',
    '/services/../../evil.example',
    '',
  ];

  test.each(hostile)('retour %j', async (retour) => {
    const u = await student();
    const c = client();
    // In the link: the form carries nothing.
    const encoded = await c.get(`/login?retour=${encodeURIComponent(retour)}`);
    expect(encoded.status).toBe(200);
    expect(hiddenRetour(encoded.text)).toBeUndefined();
    expect(hrefOf(encoded.text, 'Créer un compte')).toBe('/inscription');
    const raw = await c.agent.get(`/login?retour=${retour.replace(/[\s#]/g, encodeURIComponent)}`).set('X-Forwarded-For', c.ip!);
    expect(hiddenRetour(raw.text)).toBeUndefined();
    // In a forged form: the login works and lands on the default page.
    const res = await c.post('/login', { email: u.email, password: PASSWORD, retour });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/services');
    // Logged in, the login and sign-up pages send to the default page too.
    expect((await c.get(`/login?retour=${encodeURIComponent(retour)}`)).headers.location).toBe('/services');
    expect((await c.get(`/inscription?retour=${encodeURIComponent(retour)}`)).headers.location).toBe('/services');
  });

  test('a sign-up with another retour lands on the default page', async () => {
    const c = client();
    const form = await c.get(`/inscription?retour=${encodeURIComponent('//evil.example')}`);
    expect(hiddenRetour(form.text)).toBeUndefined();
    const res = await c.post('/inscription', {
      prenom: 'Romane',
      nom: 'Ailleurs',
      email: 'romane.ailleurs@etu.example',
      password: PASSWORD,
      retour: 'https://evil.example',
    });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/services');
  });
});

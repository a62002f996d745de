// Browsing over HTTP, in front of the four real services (own database and Redis dbs): the search
// for visitors and students (words whatever their accents, category, price, sort, pages with the
// total), bad parameters as French 400 pages, the latest items on the home page, the item page
// and its French 404, and the purchase confirmation: showing it counts nothing, confirming it is
// the one counted Achat call. Browsing never touches the quota.
import { market } from '@etu/proto';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';
const ids: Record<string, string> = {};
let sellerId: string;

const client = () => new WebClient(gw.server, `10.19.0.${++ipSeq}`);

async function student(firstName: string) {
  const n = ++userSeq;
  const email = `etudiant${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName: `Lefèvre${n}`, email, password: PASSWORD });
  return { id, email };
}

async function loggedIn(firstName: string) {
  const u = await student(firstName);
  const c = client();
  expect((await c.login(u.email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { ...u, c };
}

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
  const seller = await student('Camille');
  sellerId = seller.id;
  const { CATEGORY_BOOK: BOOK, CATEGORY_DVD: DVD, CATEGORY_OTHER: OTHER } = market.Category;
  const { CONDITION_NEW: NEW, CONDITION_GOOD: GOOD } = market.Condition;
  const items: [string, string, market.Category, number, string, market.Condition?][] = [
    ['evo', 'Evolution des espèces – Darwin', BOOK, 900, 'Poche, bon état.\nRemise sur le campus.', NEW],
    ['theorie', 'La théorie de l’ÉVOLUTION', BOOK, 2500, 'Manuel de biologie L2.'],
    ['haine', 'La Haine (DVD)', DVD, 600, 'Version restaurée.'],
    ['lampe', 'Lampe de bureau <b>LED</b>', OTHER, 1200, 'Très peu servie.'],
  ];
  for (const [key, title, category, priceCents, description, condition = GOOD] of items) {
    const res = await gw.clients.market.createListing({
      sellerId,
      title,
      category,
      condition,
      priceCents,
      description,
      idempotencyKey: '',
      photos: [],
    });
    ids[key] = res.listing!.id;
  }
  for (let i = 0; i < 14; i++) {
    await gw.clients.market.createListing({
      sellerId,
      title: `Polycopié ${i}`,
      category: BOOK,
      condition: GOOD,
      priceCents: 100 + i,
      description: '',
      idempotencyKey: '',
      photos: [],
    });
  }
});

afterAll(async () => {
  await sys?.close();
});

describe('search', () => {
  test('a visitor searches without logging in: « évolution » finds « Evolution » and « ÉVOLUTION »', async () => {
    const res = await client().get('/articles?q=%C3%A9volution');
    expect(res.status).toBe(200);
    const text = textOf(res.text);
    expect(text).toContain('2 articles pour cette recherche');
    expect(text).toContain('Evolution des espèces – Darwin');
    expect(text).toContain('La théorie de l’ÉVOLUTION');
    expect(text).not.toContain('La Haine');
    expect(text).toContain('vendu par Camille L.');
    expect(res.text).toContain(`href="/articles/${ids.evo}"`);
    // The form shows back what was searched.
    expect(res.text).toContain('value="évolution"');
  });

  test('category, price range and sort; JSON for programs', async () => {
    const res = await client().get('/articles?categorie=livre&prix_min=5&prix_max=30&tri=prix_decroissant', 'application/json');
    expect(res.status).toBe(200);
    const body = res.body as { total: number; articles: { titre: string; prixCentimes: number }[] };
    expect(body.articles.map((a) => a.titre)).toEqual(['La théorie de l’ÉVOLUTION', 'Evolution des espèces – Darwin']);
    expect(body.total).toBe(2);
    const dvd = await client().get('/articles?categorie=dvd');
    expect(textOf(dvd.text)).toContain('1 article pour cette recherche');
  });

  test('pages of 12 with the total count and working links', async () => {
    const c = client();
    const first = await c.get('/articles?categorie=livre&tri=prix_croissant');
    const text = textOf(first.text);
    expect(text).toContain('16 articles pour cette recherche');
    expect(text).toContain('Page 1 sur 2');
    const next = /href="([^"]+)" rel="next"/.exec(first.text)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBe('/articles?categorie=livre&tri=prix_croissant&page=2');
    const second = await c.get(next!);
    expect(textOf(second.text)).toContain('Page 2 sur 2');
    // Most expensive books last, on page 2.
    expect(textOf(second.text)).toContain('La théorie de l’ÉVOLUTION');
    expect(textOf(second.text)).not.toContain('Polycopié 0 ');
    // Past the last page (an old link): said, with links to the first and last pages of the same search.
    const beyond = await c.get('/articles?categorie=livre&tri=prix_croissant&page=30');
    expect(beyond.status).toBe(200);
    expect(textOf(beyond.text)).toContain('Cette page est au-delà des résultats (2 pages) : allez à la première page ou à la dernière');
    const links = [...beyond.text.matchAll(/href="(\/articles\?[^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(links).toContain('/articles?categorie=livre&tri=prix_croissant&page=1');
    expect(/href="([^"]+)" rel="prev">« Dernière page/.exec(beyond.text)?.[1]?.replace(/&amp;/g, '&')).toBe(
      '/articles?categorie=livre&tri=prix_croissant&page=2',
    );
  });

  test('the condition filter (« État ») keeps only that condition, shown on each result and kept in the form', async () => {
    const res = await client().get('/articles?etat=neuf');
    expect(res.status).toBe(200);
    const text = textOf(res.text);
    expect(text).toContain('Evolution des espèces – Darwin');
    expect(text).toContain('Neuf');
    expect(text).not.toContain('La théorie');
    expect(res.text).toContain('<option value="neuf" selected>');
    const json = await client().get('/articles?etat=bon&categorie=dvd', 'application/json');
    expect(json.body.articles).toEqual([expect.objectContaining({ titre: 'La Haine (DVD)', etat: 'bon' })]);
  });

  test.each([
    ['etat=abime', 'État inconnu'],
    ['categorie=vinyle', 'Catégorie inconnue'],
    ['prix_min=abc', 'Prix minimum : indiquez un montant en euros'],
    ['prix_max=-3', 'Prix maximum : indiquez un montant en euros'],
    ['prix_min=20&prix_max=5', 'Le prix maximum doit être supérieur ou égal au prix minimum'],
    ['tri=hasard', 'Tri inconnu'],
    ['page=0', 'Numéro de page invalide'],
    ['page=9999999999999', 'Numéro de page invalide'],
    ['q=un+deux+trois+quatre+cinq+six+sept+huit+neuf', 'plus de 8 mots'],
    [`q=${'x'.repeat(150)}`, 'ne doit pas dépasser 100 caractères'],
  ])('bad parameter %s → 400 in French on the search page, never a 500', async (qs, message) => {
    const res = await client().get(`/articles?${qs}`);
    expect(res.status).toBe(400);
    const text = textOf(res.text);
    expect(text).toContain(message);
    expect(text).toContain('Rechercher');
    expect(text).not.toContain('Aucun article');
  });

  test('the search form and its results are escaped', async () => {
    const res = await client().get('/articles?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<script>alert(1)');
    const lamp = await client().get('/articles?q=lampe');
    expect(lamp.text).toContain('Lampe de bureau &lt;b&gt;LED&lt;/b&gt;');
  });

  test('the home page shows the latest items to visitors', async () => {
    const res = await client().get('/');
    expect(res.status).toBe(200);
    const text = textOf(res.text);
    expect(text).toContain('Derniers articles');
    expect(text).toContain('Voir les 18 articles');
    expect(text).toContain('Polycopié 13');
  });

  test('browsing never counts: 15 searches and item pages later, the quota is whole', async () => {
    const { c } = await loggedIn('Noé');
    for (let i = 0; i < 15; i++) {
      expect((await c.get(i % 2 ? '/articles?q=lampe' : `/articles/${ids.haine}`)).status).toBe(200);
    }
    expect((await c.get(`/articles/${ids.haine}/acheter`)).status).toBe(200);
    const page = await c.get('/services');
    expect(textOf(page.text)).toContain('Il vous reste 10 actions sur 10.');
  });
});

describe('item page and purchase confirmation', () => {
  test('every detail, the seller as first name and initial, the date; visitors are invited to log in', async () => {
    const res = await client().get(`/articles/${ids.evo}`);
    expect(res.status).toBe(200);
    const text = textOf(res.text);
    expect(text).toContain('Evolution des espèces – Darwin');
    expect(text).toContain('9,00 €');
    expect(text).toContain('Vendu par Camille L.');
    expect(text).not.toContain('Lefèvre');
    expect(text).toMatch(/Mis en vente le \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    expect(text).toContain('Poche, bon état.');
    expect(text).toContain('État Neuf');
    expect(text).toContain('Disponible');
    expect(text).toContain('Se connecter pour acheter');
  });

  test.each(['999999', 'abc', '0', '99999999999', '12;DROP'])('unknown or malformed id %s → French 404 page', async (id) => {
    const res = await client().get(`/articles/${id}`);
    expect(res.status).toBe(404);
    expect(textOf(res.text)).toContain("Cet article n'existe pas ou plus");
  });

  test('the confirmation step needs a login, which comes back to it', async () => {
    const res = await client().get(`/articles/${ids.haine}/acheter`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/login?retour=%2Farticles%2F${ids.haine}%2Facheter`);
  });

  test('Acheter → confirmation (summary, nothing counted) → confirm: one counted Achat, the item is sold', async () => {
    const { c, id } = await loggedIn('Inès');
    const item = await c.get(`/articles/${ids.lampe}`);
    expect(item.text).toContain(`href="/articles/${ids.lampe}/acheter"`);
    const confirm = await c.get(`/articles/${ids.lampe}/acheter`);
    expect(confirm.status).toBe(200);
    const text = textOf(confirm.text);
    expect(text).toContain("Confirmer l'achat");
    expect(text).toContain('12,00 €');
    expect(text).toContain('Camille L.');
    expect(text).toContain('Il vous reste 10 actions sur 10.');
    expect(confirm.text).toContain('action="/services/achat"');
    expect(confirm.text).toContain(`name="article_id" value="${ids.lampe}"`);
    // Without the CSRF token, the confirmation is refused.
    expect((await c.post('/services/achat', { article_id: ids.lampe! }, { csrf: null })).status).toBe(403);
    const bought = await c.post('/services/achat', { article_id: ids.lampe! });
    expect(bought.status).toBe(303);
    const services = await c.get('/services');
    expect(textOf(services.text)).toContain('Vous avez acheté « Lampe de bureau <b>LED</b> » pour 12,00');
    expect(textOf(services.text)).toMatch(/Il vous reste 9 actions sur 10/);
    const l = (await gw.clients.market.getListing({ id: ids.lampe! })).listing!;
    expect(l.status).toBe(market.ListingStatus.LISTING_STATUS_SOLD);
    expect(l.buyerId).toBe(id);
    // The item page now says so; sold items leave the search.
    expect(textOf((await c.get(`/articles/${ids.lampe}`)).text)).toContain('Vous avez acheté cet article.');
    expect(textOf((await client().get('/articles?q=lampe')).text)).toContain('Aucun article pour cette recherche');
    // Another student's confirmation page shows no button for a sold item.
    const other = await loggedIn('Zoé');
    const late = await other.c.get(`/articles/${ids.lampe}/acheter`);
    expect(textOf(late.text)).toContain('Cet article a déjà été vendu');
    expect(late.text).not.toContain('action="/services/achat"');
  });

  test("the seller's own item: no Acheter button, no confirmation form", async () => {
    const c = client();
    expect((await c.login('etudiant1@etu.example', PASSWORD)).status).toBe(303);
    expect(textOf((await c.get(`/articles/${ids.evo}`)).text)).toContain("C'est votre article");
    const confirm = await c.get(`/articles/${ids.evo}/acheter`);
    expect(confirm.text).not.toContain('action="/services/achat"');
  });
});

// The seller's changes to a listing (issue 19, item 3), over HTTP in front of the four real
// services: the seller changes the price and the description of an unsold listing (the new price
// is on the item page) and withdraws it (gone, its photo files deleted); anyone else is refused in
// French, a sold listing cannot be changed or withdrawn; each change or withdrawal is one counted
// Vente call (the 11th is refused with 429, the form kept as typed) recorded in the statistics; a
// purchase racing a withdrawal or a change: exactly one succeeds. Deleting an account deletes its
// withdrawn listings' photo files too.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { market, stats } from '@etu/proto';
import { usePhotosGateway, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let dir: string;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const client = () => new WebClient(gw.server, `10.29.0.${++ipSeq}`);

async function loggedIn(firstName = 'Vera') {
  const n = ++userSeq;
  const email = `vendeur${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName: `Vendeuse${n}`, email, password: PASSWORD });
  const c = client();
  expect((await c.login(email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { id, email, c };
}

async function listing(sellerId: string, over: Partial<market.CreateListingRequest> = {}) {
  const res = await gw.clients.market.createListing({
    sellerId,
    title: 'Calculatrice graphique',
    category: market.Category.CATEGORY_OTHER,
    priceCents: 4000,
    condition: market.Condition.CONDITION_GOOD,
    photos: [],
    description: 'Avec sa housse.',
    idempotencyKey: '',
    ...over,
  });
  return res.listing!;
}

/** Photo files as the sale form stores them (the content does not matter here). */
function photoFiles(name: string): string[] {
  const files = [`${name}-l.webp`, `${name}-t.webp`];
  for (const f of files) writeFileSync(join(dir, f), 'webp');
  return files.map((f) => join(dir, f));
}

async function venteTotal(): Promise<number> {
  await gw.app.flushPending();
  const d = await gw.clients.stats.getDashboard({});
  return d.serviceTotals.find((t) => t.service === stats.ServiceKind.SERVICE_KIND_VENTE)?.count ?? 0;
}

usePhotosGateway('etu-seller-photos-', (s) => {
  ({ sys, gw, dir } = s);
});

test('the seller changes the price and the description: the item page shows them; one Vente call, recorded', async () => {
  const s = await loggedIn();
  const l = await listing(s.id);
  const before = await venteTotal();

  // The item page and « Mes articles » lead to the form, filled with the current values.
  expect((await s.c.get(`/articles/${l.id}`)).text).toContain(`href="/articles/${l.id}/modifier"`);
  expect((await s.c.get('/services')).text).toContain(`href="/articles/${l.id}/modifier"`);
  const form = await s.c.get(`/articles/${l.id}/modifier`);
  expect(form.status).toBe(200);
  expect(form.text).toContain('value="40"');
  expect(form.text).toContain('>Avec sa housse.</textarea>');
  expect(textOf(form.text)).toContain('Il vous reste 10 actions sur 10.');

  const res = await s.c.post(`/articles/${l.id}/modifier`, { prix: '32,50', description: 'Housse et piles neuves.' });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe(`/articles/${l.id}`);
  expect(res.headers.ratelimit).toMatch(/r=9;/);
  const page = textOf((await s.c.get(`/articles/${l.id}`)).text);
  expect(page).toContain('Votre article « Calculatrice graphique » est modifié : il est en vente pour 32,50 €.');
  expect(page).toContain('32,50 €');
  expect(page).toContain('Housse et piles neuves.');
  expect(page).not.toContain('40,00 €');
  // A visitor sees the new price too.
  expect(textOf((await client().get(`/articles/${l.id}`)).text)).toContain('32,50 €');
  const json = await client().get(`/articles/${l.id}`, 'application/json');
  expect(json.body.article).toMatchObject({ prixCentimes: 3250, description: 'Housse et piles neuves.', version: 2 });
  expect(textOf((await s.c.get('/services')).text)).toContain('Il vous reste 9 actions sur 10');
  expect(await venteTotal()).toBe(before + 1);
});

test('a price or description that breaks the sale rules: said beside the field, what was typed kept', async () => {
  const s = await loggedIn();
  const l = await listing(s.id);
  const unreadable = await s.c.post(`/articles/${l.id}/modifier`, { prix: 'douze', description: 'Texte gardé' });
  expect(unreadable.status).toBe(400);
  expect(unreadable.text).toContain('id="prix-erreur"');
  expect(unreadable.text).toContain('value="douze"');
  expect(unreadable.text).toContain('>Texte gardé</textarea>');
  // Read by the gateway: not counted.
  expect(textOf((await s.c.get('/services')).text)).toContain('Il vous reste 10 actions sur 10.');
  const tooHigh = await s.c.post(`/articles/${l.id}/modifier`, { prix: '10000,01', description: 'Texte gardé' });
  expect(tooHigh.status).toBe(400);
  expect(textOf(tooHigh.text)).toContain('Prix : le prix doit être compris entre 0,01 € et 10 000 €');
  expect(tooHigh.text).toContain('id="prix-erreur"');
  const tooLong = await s.c.post(`/articles/${l.id}/modifier`, { prix: '12', description: 'x'.repeat(2001) });
  expect(tooLong.status).toBe(400);
  expect(textOf(tooLong.text)).toContain('Description : la description ne doit pas dépasser 2 000 caractères.');
  expect(tooLong.text).toContain('id="description-erreur"');
  // Market's own rules, checked by the gateway first: not counted either.
  expect(textOf((await s.c.get('/services')).text)).toContain('Il vous reste 10 actions sur 10.');
  expect((await gw.clients.market.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 4000, description: 'Avec sa housse.' });
});

test('anyone but the seller is refused, in French; a visitor is sent to log in', async () => {
  const s = await loggedIn();
  const l = await listing(s.id);
  const other = await loggedIn('Oscar');
  for (const path of [`/articles/${l.id}/modifier`, `/articles/${l.id}/retirer`]) {
    const page = await other.c.get(path);
    expect(page.status).toBe(403);
    expect(textOf(page.text)).toContain('Seule la personne qui vend cet article peut le modifier ou le retirer.');
  }
  // Not on their item page either.
  expect((await other.c.get(`/articles/${l.id}`)).text).not.toContain('/modifier"');
  const edit = await other.c.post(`/articles/${l.id}/modifier`, { prix: '1', description: 'à moi' });
  expect(edit.status).toBe(403);
  expect(textOf(edit.text)).toContain('Seule la personne qui vend cet article peut le modifier ou le retirer.');
  const pull = await other.c.post(`/articles/${l.id}/retirer`, {});
  expect(pull.status).toBe(403);
  const json = await other.c.post(`/articles/${l.id}/retirer`, {}, { accept: 'application/json' });
  expect(json.status).toBe(403);
  expect(json.body.error).toBe('interdit');
  expect((await gw.clients.market.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 4000 });

  const visitor = client();
  const v = await visitor.get(`/articles/${l.id}/modifier`);
  expect([v.status, v.headers.location]).toEqual([303, '/login']);
  expect((await visitor.get('/articles/999999/modifier')).status).toBe(303);
  expect((await s.c.get('/articles/999999/modifier')).status).toBe(404);
});

test('a sold listing can be neither changed nor withdrawn', async () => {
  const s = await loggedIn();
  const l = await listing(s.id);
  const buyer = await loggedIn('Bruno');
  expect((await buyer.c.post('/services/achat', { article_id: l.id, version: '1' })).status).toBe(303);
  expect((await s.c.get(`/articles/${l.id}`)).text).not.toContain('/modifier"');
  for (const path of [`/articles/${l.id}/modifier`, `/articles/${l.id}/retirer`]) {
    const page = await s.c.get(path);
    expect(page.status).toBe(409);
    expect(textOf(page.text)).toContain('Cet article est vendu : il ne peut plus être modifié ni retiré.');
  }
  const edit = await s.c.post(`/articles/${l.id}/modifier`, { prix: '99', description: '' });
  expect(edit.status).toBe(409);
  expect(textOf(edit.text)).toContain('Cet article est vendu : il ne peut plus être modifié ni retiré.');
  expect((await s.c.post(`/articles/${l.id}/retirer`, {})).status).toBe(409);
  expect((await gw.clients.market.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 4000, buyerId: buyer.id });
});

test('withdrawing: the listing is gone, its unshared photo files deleted, one Vente call', async () => {
  const s = await loggedIn();
  const [own, shared] = ['1'.repeat(32), '2'.repeat(32)];
  const ownFiles = photoFiles(own);
  const sharedFiles = photoFiles(shared);
  const l = await listing(s.id, { photos: [own, shared] });
  const other = await listing((await loggedIn('Paul')).id, { photos: [shared] });
  const before = await venteTotal();

  const confirm = await s.c.get(`/articles/${l.id}/retirer`);
  expect(confirm.status).toBe(200);
  expect(textOf(confirm.text)).toContain('Retirer définitivement');
  const res = await s.c.post(`/articles/${l.id}/retirer`, {});
  expect([res.status, res.headers.location]).toEqual([303, '/services']);
  expect(res.headers.ratelimit).toMatch(/r=9;/);
  const services = textOf((await s.c.get('/services')).text);
  expect(services).toContain('Votre article est retiré de la vente');
  expect(services).toContain("Vous n'avez encore rien mis en vente.");
  const gone = await client().get(`/articles/${l.id}`);
  expect(gone.status).toBe(404);
  expect(textOf(gone.text)).toContain("Cet article n'existe pas ou plus.");
  expect(ownFiles.map(existsSync)).toEqual([false, false]);
  expect(sharedFiles.map(existsSync)).toEqual([true, true]);
  expect((await client().get(`/photos/${shared}-t.webp`)).status).toBe(200);
  expect((await gw.clients.market.getListing({ id: other.id })).listing?.photos).toEqual([shared]);
  expect(await venteTotal()).toBe(before + 1);
  // Again: it no longer exists.
  expect((await s.c.post(`/articles/${l.id}/retirer`, {})).status).toBe(404);
});

test('changes and withdrawals count as Vente calls: the 11th is refused with 429, the form kept as typed', async () => {
  const s = await loggedIn();
  const l = await listing(s.id);
  const spare = await listing(s.id, { title: 'Règle à calcul' });
  for (let i = 1; i <= 9; i++) {
    expect((await s.c.post(`/articles/${l.id}/modifier`, { prix: String(10 + i), description: `Version ${i}` })).status).toBe(303);
  }
  expect((await s.c.post(`/articles/${spare.id}/retirer`, {})).status).toBe(303);
  await s.c.get(`/articles/${l.id}/modifier`);
  const refused = await s.c.post(`/articles/${l.id}/modifier`, { prix: '7,77', description: 'Ce que je viens de taper' });
  expect(refused.status).toBe(429);
  expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  const text = textOf(refused.text);
  expect(text).toContain('Vous avez utilisé vos 10 actions (ventes et achats) autorisées sur 10 min');
  expect(text).toContain('Ce que vous avez saisi est gardé ci-dessous.');
  expect(text).toMatch(/Vous pourrez réessayer à partir de \d{1,2} h \d{2}\./);
  expect(text).not.toContain('429');
  expect(refused.text).toContain('value="7,77"');
  expect(refused.text).toContain('>Ce que je viens de taper</textarea>');
  const pull = await s.c.post(`/articles/${l.id}/retirer`, {});
  expect(pull.status).toBe(429);
  expect(textOf(pull.text)).toContain('Retirer définitivement');
  expect((await gw.clients.market.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 1900, description: 'Version 9' });
});

test('a purchase racing a withdrawal, or a change, over HTTP: exactly one of the two succeeds', async () => {
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    const s = await loggedIn();
    const b = await loggedIn('Béa');
    const l = await listing(s.id, { title: `Objet disputé ${i}` });
    const buy = b.c.post('/services/achat', { article_id: l.id, version: String(l.version) });
    const other =
      i % 2 === 0
        ? s.c.post(`/articles/${l.id}/retirer`, {})
        : s.c.post(`/articles/${l.id}/modifier`, { prix: '99', description: 'Prix changé pendant l’achat.' });
    const [bought, changed] = await Promise.all([buy, other]);
    const statuses = [bought.status, changed.status];
    expect(statuses.filter((x) => x === 303)).toHaveLength(1);
    expect(statuses.filter((x) => x === 404 || x === 409)).toHaveLength(1);
    const row = await gw.clients.market.getListing({ id: l.id }).then(
      (r) => r.listing,
      () => undefined,
    );
    if (bought.status === 303) {
      expect(row).toMatchObject({ status: market.ListingStatus.LISTING_STATUS_SOLD, priceCents: 4000, buyerId: b.id });
      outcomes.push('purchase');
    } else if (i % 2 === 0) {
      expect(row).toBeUndefined();
      outcomes.push('withdrawal');
    } else {
      expect(row).toMatchObject({ status: market.ListingStatus.LISTING_STATUS_AVAILABLE, priceCents: 9900 });
      expect(textOf(bought.text)).toContain('vient de modifier cet article');
      outcomes.push('change');
    }
  }
  console.log(`HTTP races, purchase against withdrawal/change: ${outcomes.join(', ')}`);
});

test('a purchase confirmed from a page shown before a change buys nothing, and says so', async () => {
  const s = await loggedIn();
  const b = await loggedIn('Chloé');
  const l = await listing(s.id);
  const confirm = await b.c.get(`/articles/${l.id}/acheter`);
  expect(confirm.text).toContain('name="version" value="1"');
  expect((await s.c.post(`/articles/${l.id}/modifier`, { prix: '80', description: 'Plus cher.' })).status).toBe(303);
  const res = await b.c.post('/services/achat', { article_id: l.id, version: '1' });
  expect(res.status).toBe(409);
  expect(textOf(res.text)).toContain('La personne qui vend vient de modifier cet article (prix ou description) : rien n’a été acheté.');
  expect((await gw.clients.market.getListing({ id: l.id })).listing?.status).toBe(market.ListingStatus.LISTING_STATUS_AVAILABLE);
  const again = await b.c.get(`/articles/${l.id}/acheter`);
  expect(textOf(again.text)).toContain('80,00 €');
  expect((await b.c.post('/services/achat', { article_id: l.id, version: '2' })).status).toBe(303);
});

test('deleting an account deletes the photo files of its withdrawn listings', async () => {
  const s = await loggedIn();
  const name = '3'.repeat(32);
  const files = photoFiles(name);
  await listing(s.id, { photos: [name] });
  await s.c.get('/compte');
  const res = await s.c.post('/compte/supprimer', { password: PASSWORD });
  expect(res.status).toBe(303);
  expect(files.map(existsSync)).toEqual([false, false]);
});

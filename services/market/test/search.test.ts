// SearchListings against a real MariaDB (the migrated schema, FULLTEXT index included): words
// in titles and descriptions whatever their case and accents, short words and stopwords, the
// category, condition and price filters, the three orders, numbered pages with the total, sold listings
// left out, and every bad parameter refused as INVALID_ARGUMENT with a French reason.
import { status } from '@grpc/grpc-js';
import { market } from '@etu/proto';
import { grpcError, listing, startHarness, type Harness } from './helpers';

let h: Harness;
let seller: string;
let buyer: string;
const ids: Record<string, string> = {};

const { CATEGORY_BOOK: BOOK, CATEGORY_DVD: DVD, CATEGORY_OTHER: OTHER } = market.Category;
const { CONDITION_NEW: NEW, CONDITION_GOOD: GOOD, CONDITION_FAIR: FAIR } = market.Condition;

function search(over: Partial<market.SearchListingsRequest> = {}) {
  return h.client.call.searchListings({
    query: '',
    category: 0,
    condition: 0,
    minPriceCents: 0,
    maxPriceCents: 0,
    sort: 0,
    page: 0,
    pageSize: 0,
    ...over,
  });
}

const titles = (r: market.SearchListingsResponse) => r.listings.map((l) => l.title);

beforeAll(async () => {
  h = await startHarness();
  [seller, buyer] = (await h.users(2)) as [string, string];
  const items: [string, string, market.Category, number, string, market.Condition?][] = [
    ['evo', 'Evolution des espèces – Darwin', BOOK, 900, 'Poche, bon état.', NEW],
    ['theorie', 'La théorie de l’ÉVOLUTION', BOOK, 2500, 'Manuel de biologie L2.'],
    ['prince', 'Le Petit Prince', BOOK, 350, 'Saint-Exupéry, édition Folio.', FAIR],
    ['haine', 'La Haine (DVD)', DVD, 600, 'Film de Kassovitz, version restaurée.'],
    ['casio', 'Calculatrice Casio Graph 35+E', OTHER, 4000, 'Mode examen, avec câble.'],
    ['lampe', 'Lampe de bureau', OTHER, 1200, 'Ampoule LED, très peu servie.'],
    ['vendu', 'Évolution humaine (vendu)', BOOK, 800, 'Déjà parti.', NEW],
  ];
  for (const [key, title, category, priceCents, description, condition = GOOD] of items) {
    const res = await h.client.call.createListing(listing(seller, { title, category, priceCents, description, condition }));
    ids[key] = res.listing!.id;
  }
  await h.client.call.purchase({ listingId: ids.vendu!, buyerId: buyer });
});

afterAll(async () => {
  await h?.close();
});

test('« évolution » finds « Evolution » and « ÉVOLUTION », in titles; a sold listing is left out', async () => {
  const r = await search({ query: 'évolution' });
  expect(titles(r).sort()).toEqual(['Evolution des espèces – Darwin', 'La théorie de l’ÉVOLUTION']);
  expect(r.totalCount).toBe(2);
  expect(r.listings.every((l) => l.status === market.ListingStatus.LISTING_STATUS_AVAILABLE)).toBe(true);
  // Without accents and in capitals: the same answer.
  expect(titles(await search({ query: 'EVOLUTION' })).sort()).toEqual(titles(r).sort());
});

test('words are found in descriptions, as word prefixes, and every word must match', async () => {
  expect(titles(await search({ query: 'exupery' }))).toEqual(['Le Petit Prince']);
  expect(titles(await search({ query: 'kasso' }))).toEqual(['La Haine (DVD)']);
  expect(titles(await search({ query: 'évol biologie' }))).toEqual(['La théorie de l’ÉVOLUTION']);
  expect((await search({ query: 'évolution kassovitz' })).totalCount).toBe(0);
});

test('short words and stopwords (not in the FULLTEXT index) are still found, accents ignored', async () => {
  // « la » is an InnoDB stopword, « 35 » is shorter than the index's minimum word length.
  expect(titles(await search({ query: 'la haine' }))).toEqual(['La Haine (DVD)']);
  expect(titles(await search({ query: '35' }))).toEqual(['Calculatrice Casio Graph 35+E']);
  expect(titles(await search({ query: 'LED' }))).toEqual(['Lampe de bureau']);
});

test('category and price range filter; bounds are inclusive', async () => {
  expect(titles(await search({ category: DVD }))).toEqual(['La Haine (DVD)']);
  const r = await search({ minPriceCents: 600, maxPriceCents: 1200, sort: market.SearchSort.SEARCH_SORT_PRICE_ASC });
  expect(titles(r)).toEqual(['La Haine (DVD)', 'Evolution des espèces – Darwin', 'Lampe de bureau']);
  expect(titles(await search({ category: BOOK, maxPriceCents: 1000, query: 'évolution' }))).toEqual(['Evolution des espèces – Darwin']);
});

test('condition filter: only that condition, with the words and the category; an unknown one is refused', async () => {
  expect(titles(await search({ condition: NEW }))).toEqual(['Evolution des espèces – Darwin']);
  expect(titles(await search({ condition: FAIR, category: BOOK }))).toEqual(['Le Petit Prince']);
  expect((await search({ condition: GOOD, query: 'évolution' })).totalCount).toBe(1);
  expect((await search({ condition: GOOD })).listings.every((l) => l.condition === GOOD)).toBe(true);
  const err = await grpcError(search({ condition: 9 as market.Condition }));
  expect({ code: err.code, details: err.details }).toEqual({
    code: status.INVALID_ARGUMENT,
    details: expect.stringMatching(/^condition: /),
  });
});

test('sorts: newest first by default, price ascending and descending', async () => {
  const newest = await search();
  expect(newest.listings.map((l) => l.id)).toEqual(['lampe', 'casio', 'haine', 'prince', 'theorie', 'evo'].map((k) => ids[k]));
  const prices = (r: market.SearchListingsResponse) => r.listings.map((l) => l.priceCents);
  expect(prices(await search({ sort: market.SearchSort.SEARCH_SORT_PRICE_ASC }))).toEqual([350, 600, 900, 1200, 2500, 4000]);
  expect(prices(await search({ sort: market.SearchSort.SEARCH_SORT_PRICE_DESC }))).toEqual([4000, 2500, 1200, 900, 600, 350]);
});

test('numbered pages with the total count; a page past the end is empty', async () => {
  const p1 = await search({ pageSize: 4 });
  const p2 = await search({ pageSize: 4, page: 2 });
  expect(p1).toMatchObject({ totalCount: 6, page: 1, pageSize: 4 });
  expect(p1.listings).toHaveLength(4);
  expect(p2.listings).toHaveLength(2);
  expect(new Set([...p1.listings, ...p2.listings].map((l) => l.id)).size).toBe(6);
  const past = await search({ pageSize: 4, page: 3 });
  expect(past).toMatchObject({ totalCount: 6, page: 3 });
  expect(past.listings).toHaveLength(0);
  // The defaults.
  expect(await search()).toMatchObject({ page: 1, pageSize: 20 });
});

test.each([
  [{ query: 'x'.repeat(101) }, 'query', 'la recherche ne doit pas dépasser 100 caractères'],
  [{ query: 'a b c d e f g h i' }, 'query', 'plus de 8 mots'],
  [{ category: 99 as market.Category }, 'category', 'choisissez une catégorie'],
  [{ minPriceCents: -1 }, 'min_price_cents', 'le prix minimum doit être compris'],
  [{ maxPriceCents: 1_000_001 }, 'max_price_cents', 'le prix maximum doit être compris'],
  [{ minPriceCents: 500, maxPriceCents: 100 }, 'max_price_cents', 'supérieur ou égal au prix minimum'],
  [{ sort: 9 as market.SearchSort }, 'sort', 'tri inconnu'],
  [{ page: 501 }, 'page', 'entre 1 et 500'],
  [{ page: -1 }, 'page', 'entre 1 et 500'],
  [{ pageSize: 51 }, 'page_size', 'entre 1 et 50'],
])('bad parameter %j → INVALID_ARGUMENT naming %s', async (over, field, reason) => {
  const err = await grpcError(search(over));
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  expect(err.details).toContain(`${field}: `);
  expect(err.details).toContain(reason);
});

test('characters that mean something to MATCH or LIKE are only separators', async () => {
  for (const q of ['"évolution"', '+évolution -darwin', 'évol*', '%', '_', '\\', '(évolution)', "évolution'"]) {
    const r = await search({ query: q });
    expect(r.listings.every((l) => l.status === market.ListingStatus.LISTING_STATUS_AVAILABLE)).toBe(true);
  }
  // « -darwin » excludes nothing: both are plain words, both must match.
  expect(titles(await search({ query: '+évolution -darwin' }))).toEqual(['Evolution des espèces – Darwin']);
  expect((await search({ query: '%' })).totalCount).toBe(6);
});

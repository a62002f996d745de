// Cursor pagination over 250 listings: every listing exactly once, newest first by
// (created_at, id), including listings that share a created_at, and stable while new listings
// arrive during the walk.
import { market } from '@etu/proto';
import { listAll, listing, startHarness, type Harness } from './helpers';

let h: Harness;
let sellers: string[];
/** Every listing id, in the order the database itself sorts them (newest first). */
let expected: string[];

beforeAll(async () => {
  h = await startHarness();
  sellers = await h.users(5);
  // 150 through the service (several may land in the same millisecond)…
  for (let batch = 0; batch < 15; batch++) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.client.call.createListing(
          listing(sellers[(batch + i) % 5]!, {
            title: `Article ${batch * 10 + i}`,
            category: [1, 2, 3][i % 3] as market.Category,
            priceCents: 100 + i,
          }),
        ),
      ),
    );
  }
  // …and 100 older ones written directly, ten per timestamp, so ties on created_at are many.
  const base = Date.now() - 3_600_000;
  const rowId = new Map((await h.db.user.findMany()).map((u) => [u.publicId, u.id]));
  await h.db.listing.createMany({
    data: Array.from({ length: 100 }, (_, i) => ({
      sellerId: rowId.get(sellers[i % 5]!)!,
      title: `Ancien ${i}`,
      category: 'BOOK' as const,
      priceCents: 500,
      description: '',
      createdAt: new Date(base + Math.floor(i / 10) * 1000),
    })),
  });
  const rows = await h.db.$queryRaw<{ id: number }[]>`SELECT id FROM articles ORDER BY created_at DESC, id DESC`;
  expected = rows.map((r) => String(r.id));
  expect(expected).toHaveLength(250);
});

afterAll(async () => {
  await h?.close();
});

function expectNewestFirst(ls: market.Listing[]) {
  for (let i = 1; i < ls.length; i++) {
    const [a, b] = [ls[i - 1]!, ls[i]!];
    const ta = a.createdAt!.getTime();
    const tb = b.createdAt!.getTime();
    expect(ta > tb || (ta === tb && Number(a.id) > Number(b.id))).toBe(true);
  }
}

test.each([1, 7, 20, 0, 100])('page size %i: each of the 250 listings exactly once, newest first', async (pageSize) => {
  const all = await listAll(h.client, {}, pageSize);
  expect(all.map((l) => l.id)).toEqual(expected);
  expectNewestFirst(all);
});

test('page boundaries: full pages, a token on each but the last, none after the last', async () => {
  const sizes: number[] = [];
  const tokens: string[] = [];
  let pageToken = '';
  do {
    const res = await h.client.call.listListings({ pageSize: 0, pageToken });
    sizes.push(res.listings.length);
    tokens.push(res.nextPageToken);
    pageToken = res.nextPageToken;
  } while (pageToken);
  expect(sizes).toEqual([...Array(12).fill(20), 10]);
  expect(tokens.slice(0, -1).every((t) => /^[\w-]+$/.test(t))).toBe(true);
  // A page that ends exactly on the last row says there is nothing more.
  const last = await h.client.call.listListings({ pageSize: 50, pageToken: '' });
  let t = last.nextPageToken;
  let pages = 1;
  while (t) {
    const r = await h.client.call.listListings({ pageSize: 50, pageToken: t });
    t = r.nextPageToken;
    pages++;
  }
  expect(pages).toBe(5);
});

test('listings created during the walk neither repeat nor shift the listings that existed', async () => {
  const seen: string[] = [];
  let pageToken = '';
  let round = 0;
  do {
    const res = await h.client.call.listListings({ pageSize: 30, pageToken });
    seen.push(...res.listings.map((l) => l.id));
    pageToken = res.nextPageToken;
    // New listings arrive between pages (they are newer than anything already seen).
    await h.client.call.createListing(listing(sellers[round++ % 5]!, { title: `Nouveau pendant la lecture ${round}` }));
  } while (pageToken);
  expect(seen).toEqual(expected);
  // A fresh walk sees the newcomers first, then the rest.
  const fresh = await listAll(h.client, {}, 100);
  expect(fresh).toHaveLength(250 + round);
  expect(fresh.slice(round).map((l) => l.id)).toEqual(expected);
});

test('with a filter, pages cover exactly the matching listings', async () => {
  const seller = sellers[2]!;
  const paged = await listAll(h.client, { sellerId: seller, category: market.Category.CATEGORY_BOOK }, 4);
  const rows = await h.db.listing.findMany({
    where: { seller: { publicId: seller }, category: 'BOOK' },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
  expect(paged.map((l) => l.id)).toEqual(rows.map((r) => String(r.id)));
  expect(paged.length).toBeGreaterThan(8);
});

// MarketService through a real gRPC server and the real MariaDB: create/get/list, every rule at
// both sides of its bound, filters, purchases, the internal token, health.
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '@etu/common';
import { market } from '@etu/proto';
import { grpcError, listAll, listing, startHarness, NOBODY, type Harness } from './helpers';

const { CATEGORY_BOOK: BOOK, CATEGORY_DVD: DVD, CATEGORY_OTHER: OTHER } = market.Category;
const { LISTING_STATUS_AVAILABLE: AVAILABLE, LISTING_STATUS_SOLD: SOLD } = market.ListingStatus;

let h: Harness;
let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  h = await startHarness();
  [alice, bob, carol] = (await h.users(3)) as [string, string, string];
});

afterAll(async () => {
  await h?.close();
});

const rowCount = () => h.db.listing.count();

describe('CreateListing and GetListing', () => {
  test('a created listing comes back whole, AVAILABLE, from create, get and list', async () => {
    const before = Date.now();
    const { listing: created } = await h.client.call.createListing(
      listing(alice, {
        title: 'Dune – Frank Herbert',
        category: BOOK,
        priceCents: 750,
        description: 'Poche, bon état.',
        condition: market.Condition.CONDITION_VERY_GOOD,
      }),
    );
    expect(created).toEqual({
      id: expect.stringMatching(/^[1-9]\d*$/),
      sellerId: alice,
      title: 'Dune – Frank Herbert',
      category: BOOK,
      priceCents: 750,
      description: 'Poche, bon état.',
      status: AVAILABLE,
      buyerId: '',
      createdAt: expect.any(Date),
      soldAt: undefined,
      condition: market.Condition.CONDITION_VERY_GOOD,
      photos: [],
      version: 1,
    });
    expect(created!.createdAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(created!.createdAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    const { listing: got } = await h.client.call.getListing({ id: created!.id });
    expect(got).toEqual(created);
    const all = await listAll(h.client, { sellerId: alice });
    expect(all.find((l) => l.id === created!.id)).toEqual(created);
  });

  test('title and description with HTML, quotes, emoji and accents round-trip unchanged', async () => {
    const title = `<script>alert("x")</script> l'été & "Ça" 😀👩🏽‍💻`;
    const description = `<b>gras</b> <img src=x onerror=alert(1)>\n\tligne 2 'simple' "double" \\ 🎓 — ½ \u00a0fin`;
    const { listing: created } = await h.client.call.createListing(listing(alice, { title, description }));
    expect(created!.title).toBe(title);
    expect(created!.description).toBe(description);
    const { listing: got } = await h.client.call.getListing({ id: created!.id });
    expect(Buffer.from(got!.title, 'utf8')).toEqual(Buffer.from(title, 'utf8'));
    expect(Buffer.from(got!.description, 'utf8')).toEqual(Buffer.from(description, 'utf8'));
    const row = await h.db.listing.findUniqueOrThrow({ where: { id: Number(created!.id) } });
    expect(row.title).toBe(title);
    expect(row.description).toBe(description);
  });

  test('the title is stored trimmed; the description exactly as given', async () => {
    const { listing: created } = await h.client.call.createListing(
      listing(alice, { title: '  \t Calculatrice  \n', description: '  espaces  \n' }),
    );
    expect(created!.title).toBe('Calculatrice');
    expect(created!.description).toBe('  espaces  \n');
  });

  test('GetListing: unknown id → NOT_FOUND, malformed id → INVALID_ARGUMENT naming id', async () => {
    const missing = await grpcError(h.client.call.getListing({ id: '999999' }));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.details).toBe('Article introuvable.');
    for (const id of ['', 'abc', '0', '-1', '1.5', '01', ' 1', '99999999999']) {
      const err = await grpcError(h.client.call.getListing({ id }));
      expect([id, err.code, err.details]).toEqual([id, grpc.status.INVALID_ARGUMENT, expect.stringMatching(/^id: /)]);
    }
  });
});

describe('rules, each at both sides of its bound; a refused listing stores nothing', () => {
  const accepts = async (over: Partial<market.CreateListingRequest>) => {
    const { listing: l } = await h.client.call.createListing(listing(alice, over));
    return l!;
  };
  const refuses = async (over: Partial<market.CreateListingRequest>, field: string, sellerId = alice) => {
    const before = await rowCount();
    const err = await grpcError(h.client.call.createListing(listing(sellerId, over)));
    expect({ code: err.code, details: err.details }).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(new RegExp(`^${field.replace('.', '\\.')}: \\S`)),
    });
    expect(await rowCount()).toBe(before);
    return err;
  };

  test('title: 1 to 120 characters after trimming', async () => {
    await refuses({ title: '' }, 'title');
    await refuses({ title: ' \t\n ' }, 'title');
    expect((await accepts({ title: 'A' })).title).toBe('A');
    expect((await accepts({ title: 'x'.repeat(120) })).title).toBe('x'.repeat(120));
    await refuses({ title: 'x'.repeat(121) }, 'title');
    expect((await accepts({ title: `   ${'y'.repeat(120)}   ` })).title).toBe('y'.repeat(120));
  });

  test('title length counts characters (code points), not bytes or UTF-16 units', async () => {
    expect((await accepts({ title: '😀'.repeat(120) })).title).toBe('😀'.repeat(120));
    await refuses({ title: '😀'.repeat(121) }, 'title');
    expect((await accepts({ title: 'é'.repeat(120) })).title).toBe('é'.repeat(120));
    await refuses({ title: 'é'.repeat(121) }, 'title');
  });

  test('title: no control characters', async () => {
    for (const c of ['\u0000', '\u0007', '\n', '\r', '\t', '\u001b', '\u007f', '\u0085', '\u2028']) {
      await refuses({ title: `Livre${c}rare` }, 'title');
    }
    expect((await accepts({ title: 'Livre rare – édition ½' })).title).toBe('Livre rare – édition ½');
  });

  test('description: at most 2,000 characters, may be empty, keeps line breaks and tabs', async () => {
    expect((await accepts({ description: '' })).description).toBe('');
    expect((await accepts({ description: 'd'.repeat(2000) })).description).toBe('d'.repeat(2000));
    expect((await accepts({ description: '🎓'.repeat(2000) })).description).toBe('🎓'.repeat(2000));
    await refuses({ description: 'd'.repeat(2001) }, 'description');
    await refuses({ description: '🎓'.repeat(2001) }, 'description');
    expect((await accepts({ description: 'l1\nl2\r\n\tl3' })).description).toBe('l1\nl2\r\n\tl3');
    await refuses({ description: 'nul\u0000byte' }, 'description');
  });

  test('price_cents: integer 1 to 1,000,000', async () => {
    await refuses({ priceCents: 0 }, 'price_cents');
    await refuses({ priceCents: -1 }, 'price_cents');
    expect((await accepts({ priceCents: 1 })).priceCents).toBe(1);
    expect((await accepts({ priceCents: 1_000_000 })).priceCents).toBe(1_000_000);
    await refuses({ priceCents: 1_000_001 }, 'price_cents');
    await refuses({ priceCents: 2 ** 40 }, 'price_cents');
  });

  test('category: BOOK, DVD or OTHER only', async () => {
    await refuses({ category: market.Category.CATEGORY_UNSPECIFIED }, 'category');
    for (const c of [BOOK, DVD, OTHER]) expect((await accepts({ category: c })).category).toBe(c);
    await refuses({ category: 4 as market.Category }, 'category');
    await refuses({ category: -1 }, 'category');
  });

  test('condition: required, NEW, VERY_GOOD, GOOD or FAIR only (in French)', async () => {
    const err = await refuses({ condition: market.Condition.CONDITION_UNSPECIFIED }, 'condition');
    expect(err.details).toBe("condition: indiquez l'état : neuf, très bon état, bon état ou état correct.");
    await refuses({ condition: 9 as market.Condition }, 'condition');
    const all = [
      market.Condition.CONDITION_NEW,
      market.Condition.CONDITION_VERY_GOOD,
      market.Condition.CONDITION_GOOD,
      market.Condition.CONDITION_FAIR,
    ];
    for (const c of all) {
      const l = await accepts({ condition: c });
      expect(l.condition).toBe(c);
      // Stored, not only echoed: the driver INSERT (hot-sql.ts) writes the column too.
      expect((await h.client.call.getListing({ id: l.id })).listing!.condition).toBe(c);
    }
  });

  test('photos: at most 3 distinct names of 32 hex digits, kept in order', async () => {
    const names = ['a'.repeat(32), 'b'.repeat(32), '0123456789abcdef0123456789abcdef'];
    const l = await accepts({ photos: names });
    expect(l.photos).toEqual(names);
    expect((await h.client.call.getListing({ id: l.id })).listing!.photos).toEqual(names);
    expect((await accepts({ photos: [] })).photos).toEqual([]);
    await refuses({ photos: [...names, 'c'.repeat(32)] }, 'photos');
    await refuses({ photos: ['A'.repeat(32)] }, 'photos');
    await refuses({ photos: ['../../etc/passwd'] }, 'photos');
    await refuses({ photos: ['a'.repeat(32), 'a'.repeat(32)] }, 'photos');
  });

  test('seller_id: a public id (UUID); an unknown user is FAILED_PRECONDITION', async () => {
    // Row ids (numbers) are refused: a restore can give one to someone else.
    for (const id of ['', 'abc', '0', '1', '-3', '12 ', alice.toUpperCase(), ` ${alice}`]) await refuses({}, 'seller_id', id);
    const before = await rowCount();
    const err = await grpcError(h.client.call.createListing(listing(NOBODY)));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/Vendeur inconnu/);
    expect(await rowCount()).toBe(before);
  });
});

describe('ListListings filters', () => {
  let ids: Record<string, string>;
  let scopeIds: Set<string>;

  beforeAll(async () => {
    const h2 = await h.users(3);
    const [s1, s2, s3] = h2 as [string, string, string];
    const mk = async (name: string, seller: string, category: market.Category) =>
      [name, (await h.client.call.createListing(listing(seller, { title: name, category }))).listing!.id] as const;
    ids = Object.fromEntries([
      await mk('s1-book', s1, BOOK),
      await mk('s1-dvd', s1, DVD),
      await mk('s2-book', s2, BOOK),
      await mk('s2-other', s2, OTHER),
      await mk('s3-dvd', s3, DVD),
      await mk('s3-book', s3, BOOK),
    ]);
    await h.client.call.purchase({ listingId: ids['s1-dvd']!, buyerId: s3 });
    await h.client.call.purchase({ listingId: ids['s2-book']!, buyerId: s1 });
    scopeIds = new Set(Object.values(ids));
    Object.assign(ids, { s1, s2, s3 });
  });

  // Other tests of this file add listings too: look only at this block's own.
  const names = async (filter: Partial<market.ListingFilter>) => {
    const byId = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
    return (await listAll(h.client, filter, 3)).filter((l) => scopeIds.has(l.id)).map((l) => byId.get(l.id));
  };

  test('no filter: everything, newest first', async () => {
    expect(await names({})).toEqual(['s3-book', 's3-dvd', 's2-other', 's2-book', 's1-dvd', 's1-book']);
  });

  test('by category', async () => {
    expect(await names({ category: BOOK })).toEqual(['s3-book', 's2-book', 's1-book']);
    expect(await names({ category: DVD })).toEqual(['s3-dvd', 's1-dvd']);
    expect(await names({ category: OTHER })).toEqual(['s2-other']);
  });

  test('by seller, and excluding a seller', async () => {
    expect(await names({ sellerId: ids.s2 })).toEqual(['s2-other', 's2-book']);
    expect(await names({ excludeSellerId: ids.s2 })).toEqual(['s3-book', 's3-dvd', 's1-dvd', 's1-book']);
    expect(await names({ sellerId: ids.s2, excludeSellerId: ids.s2 })).toEqual([]);
  });

  test('by buyer (« Mes achats »): what each user bought, whoever sold it', async () => {
    expect(await names({ buyerId: ids.s3 })).toEqual(['s1-dvd']);
    expect(await names({ buyerId: ids.s1 })).toEqual(['s2-book']);
    expect(await names({ buyerId: ids.s2 })).toEqual([]);
  });

  test('by status', async () => {
    expect(await names({ status: SOLD })).toEqual(['s2-book', 's1-dvd']);
    expect(await names({ status: AVAILABLE })).toEqual(['s3-book', 's3-dvd', 's2-other', 's1-book']);
  });

  test('combined: available books of others (what a buyer browses)', async () => {
    expect(await names({ status: AVAILABLE, category: BOOK, excludeSellerId: ids.s3 })).toEqual(['s1-book']);
  });

  test('sold listings name their buyer and sale time', async () => {
    const { listing: l } = await h.client.call.getListing({ id: ids['s2-book']! });
    expect(l).toMatchObject({ status: SOLD, buyerId: ids.s1, soldAt: expect.any(Date) });
  });

  test('malformed filters and paging → INVALID_ARGUMENT naming the field', async () => {
    const base = { filter: { category: 0, sellerId: '', excludeSellerId: '', status: 0 }, pageSize: 0, pageToken: '' };
    const cases: [Partial<market.ListListingsRequest>, string][] = [
      [{ filter: { ...base.filter, category: 7 as market.Category } }, 'filter.category'],
      [{ filter: { ...base.filter, status: 5 as market.ListingStatus } }, 'filter.status'],
      [{ filter: { ...base.filter, sellerId: 'x' } }, 'filter.seller_id'],
      [{ filter: { ...base.filter, excludeSellerId: '-1' } }, 'filter.exclude_seller_id'],
      [{ pageSize: -1 }, 'page_size'],
      [{ pageSize: 101 }, 'page_size'],
      [{ pageToken: 'not a token' }, 'page_token'],
      [{ pageToken: Buffer.from('12:abc').toString('base64url') }, 'page_token'],
      [{ pageToken: Buffer.from('1700000000000:0').toString('base64url') }, 'page_token'],
    ];
    for (const [over, field] of cases) {
      const err = await grpcError(h.client.call.listListings({ ...base, ...over }));
      expect([field, err.code, err.details.split(':')[0]]).toEqual([field, grpc.status.INVALID_ARGUMENT, field]);
    }
  });

  test('page_size: 1 and 100 accepted; 0 means 20; no filter message at all means no filter', async () => {
    await h.client.call.createListing(listing(alice)); // enough rows for a full default page
    for (let i = 0; i < 20; i++) await h.client.call.createListing(listing(carol, { title: `Lot ${i}` }));
    expect((await h.client.call.listListings({ pageSize: 1, pageToken: '' })).listings).toHaveLength(1);
    expect((await h.client.call.listListings({ pageSize: 0, pageToken: '' })).listings).toHaveLength(20);
    const total = await rowCount();
    expect((await h.client.call.listListings({ pageSize: 100, pageToken: '' })).listings).toHaveLength(Math.min(100, total));
  });
});

describe('Purchase', () => {
  test('a buyer gets the listing SOLD to them; the row names them; a second buyer is refused', async () => {
    const { listing: l } = await h.client.call.createListing(listing(alice, { priceCents: 2500 }));
    const before = Date.now();
    const { listing: sold } = await h.client.call.purchase({ listingId: l!.id, buyerId: bob });
    expect(sold).toEqual({ ...l, status: SOLD, buyerId: bob, soldAt: expect.any(Date) });
    expect(sold!.soldAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    // The purchase's answer and GetListing's (both read on the driver) are what a Prisma read
    // (ListListings by buyer) says, field by field.
    const viaPrisma = (await listAll(h.client, { buyerId: bob })).find((b) => b.id === l!.id);
    expect(viaPrisma).toEqual(sold);
    expect((await h.client.call.getListing({ id: l!.id })).listing).toEqual(viaPrisma);
    const row = await h.db.listing.findUniqueOrThrow({ where: { id: Number(l!.id) }, include: { buyer: true } });
    expect({ status: row.status, buyerId: row.buyer?.publicId }).toEqual({ status: 'vendu', buyerId: bob });

    const again = await grpcError(h.client.call.purchase({ listingId: l!.id, buyerId: carol }));
    expect({ code: again.code, details: again.details }).toEqual({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'Cet article a déjà été vendu.',
    });
    expect((await h.db.listing.findUniqueOrThrow({ where: { id: Number(l!.id) }, include: { buyer: true } })).buyer?.publicId).toBe(bob);
  });

  test('the buyer retrying a purchase already theirs gets the same listing back, replayed, and nothing changes', async () => {
    const { listing: l } = await h.client.call.createListing(listing(alice));
    const first = await h.client.call.purchase({ listingId: l!.id, buyerId: bob });
    expect(first.replayed).toBe(false);
    const again = await h.client.call.purchase({ listingId: l!.id, buyerId: bob });
    expect(again).toEqual({ listing: first.listing, replayed: true });
    const row = await h.db.listing.findUniqueOrThrow({ where: { id: Number(l!.id) }, include: { buyer: true } });
    expect({ buyerId: row.buyer?.publicId, soldAt: row.soldAt }).toEqual({ buyerId: bob, soldAt: first.listing!.soldAt });
  });

  test('buying one’s own listing is refused and leaves it available', async () => {
    const { listing: l } = await h.client.call.createListing(listing(alice));
    const err = await grpcError(h.client.call.purchase({ listingId: l!.id, buyerId: alice }));
    expect({ code: err.code, details: err.details }).toEqual({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'Vous ne pouvez pas acheter votre propre article.',
    });
    expect((await h.client.call.getListing({ id: l!.id })).listing).toMatchObject({ status: AVAILABLE, buyerId: '' });
  });

  test('unknown listing → NOT_FOUND; malformed ids → INVALID_ARGUMENT; unknown buyer → FAILED_PRECONDITION', async () => {
    const missing = await grpcError(h.client.call.purchase({ listingId: '424242', buyerId: bob }));
    expect({ code: missing.code, details: missing.details }).toEqual({ code: grpc.status.NOT_FOUND, details: 'Article introuvable.' });

    const { listing: l } = await h.client.call.createListing(listing(alice));
    for (const [req, field] of [
      [{ listingId: '', buyerId: bob }, 'listing_id'],
      [{ listingId: 'abc', buyerId: bob }, 'listing_id'],
      [{ listingId: l!.id, buyerId: '' }, 'buyer_id'],
      [{ listingId: l!.id, buyerId: 'bob' }, 'buyer_id'],
      [{ listingId: l!.id, buyerId: '2' }, 'buyer_id'],
    ] as const) {
      const err = await grpcError(h.client.call.purchase(req));
      expect([field, err.code, err.details.split(':')[0]]).toEqual([field, grpc.status.INVALID_ARGUMENT, field]);
    }
    const ghost = await grpcError(h.client.call.purchase({ listingId: l!.id, buyerId: NOBODY }));
    expect(ghost.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(ghost.details).toMatch(/Acheteur inconnu/);
    expect((await h.client.call.getListing({ id: l!.id })).listing).toMatchObject({ status: AVAILABLE, buyerId: '' });
  });
});

describe('transport', () => {
  test.each([
    ['no token', undefined],
    ['a wrong token', 'Bearer wrong-token-0123456789abcdef'],
  ])('%s → UNAUTHENTICATED on every RPC, and nothing is stored', async (_label, header) => {
    const raw = new market.MarketServiceClient(h.addr, grpc.credentials.createInsecure());
    const md = () => {
      const m = new grpc.Metadata();
      if (header) m.set('authorization', header);
      return m;
    };
    const call = <Req>(fn: (req: Req, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => unknown, req: Req) =>
      new Promise<grpc.ServiceError | null>((resolve) => fn(req, md(), (e) => resolve(e)));
    const before = await rowCount();
    const { listing: l } = await h.client.call.createListing(listing(alice));
    const errs = [
      await call((r, m, cb) => raw.createListing(r, m, cb), listing(alice)),
      await call((r, m, cb) => raw.listListings(r, m, cb), { pageSize: 0, pageToken: '' }),
      await call((r, m, cb) => raw.getListing(r, m, cb), { id: l!.id }),
      await call((r, m, cb) => raw.purchase(r, m, cb), { listingId: l!.id, buyerId: bob }),
    ];
    expect(errs.map((e) => e?.code)).toEqual(Array(4).fill(grpc.status.UNAUTHENTICATED));
    expect(await rowCount()).toBe(before + 1);
    expect((await h.client.call.getListing({ id: l!.id })).listing!.status).toBe(AVAILABLE);
    raw.close();
  });

  test('health is SERVING while the database answers', async () => {
    const deadline = Date.now() + 5000;
    let status = await checkHealth(h.addr, 'etuservices.market.v1.MarketService');
    while (status !== 'SERVING' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = await checkHealth(h.addr, 'etuservices.market.v1.MarketService');
    }
    expect(status).toBe('SERVING');
  });
});

// The seller's changes (issue 19, item 3) through the real gRPC server and database:
// UpdateListing changes the price and the description of an unsold listing of its seller only;
// WithdrawListings with a listing id deletes it; both refuse another seller's listing
// (PERMISSION_DENIED), a sold one (FAILED_PRECONDITION) and an unknown one (NOT_FOUND). Raced
// against purchases on separate channels over two servers, exactly one of each pair wins, and the
// row says which: a purchase names the version the buyer was shown, so an edit and a purchase
// never both succeed. A withdrawal names the photos no remaining listing uses.
import * as grpc from '@grpc/grpc-js';
import { market } from '@etu/proto';
import { grpcError, listing, startHarness, type Harness, type MarketClient } from './helpers';

const PAIRS = 12;

let h: Harness;
let seller: string;
let other: string;
let buyers: string[];
let clients: MarketClient[];

beforeAll(async () => {
  h = await startHarness();
  const second = await h.startServer();
  [seller, other] = (await h.users(2)) as [string, string];
  buyers = await h.users(PAIRS);
  clients = [h.newClient(), h.newClient(`127.0.0.1:${second.port}`)];
  await Promise.all(clients.map((c) => c.call.listListings({ pageSize: 1, pageToken: '' })));
});

afterAll(async () => {
  await h?.close();
});

/** Both calls in flight at once; `bFirst`: the second one is sent first. */
async function race<A, B>(
  a: () => Promise<A>,
  b: () => Promise<B>,
  bFirst: boolean,
): Promise<[PromiseSettledResult<A>, PromiseSettledResult<B>]> {
  if (!bFirst) return Promise.allSettled([a(), b()]);
  const pb = b();
  const pa = a();
  return Promise.allSettled([pa, pb]);
}

const create = async (over: Partial<market.CreateListingRequest> = {}) =>
  (await h.client.call.createListing(listing(seller, over))).listing!;
const change = (id: string, sellerId = seller, priceCents = 2500, description = 'Nouvelle description.') =>
  h.client.call.updateListing({ listingId: id, sellerId, priceCents, description });

test('the seller changes the price and the description; the title, category and condition stay', async () => {
  const l = await create({ title: 'Manuel de chimie' });
  const { listing: after } = await change(l.id, seller, 990, 'Prix baissé, quelques annotations.');
  expect(after).toMatchObject({
    id: l.id,
    title: 'Manuel de chimie',
    priceCents: 990,
    description: 'Prix baissé, quelques annotations.',
    status: market.ListingStatus.LISTING_STATUS_AVAILABLE,
    condition: l.condition,
  });
  expect((await h.client.call.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 990 });
  expect(after?.version).toBe(2);
  // The same values again are a success too.
  expect((await change(l.id, seller, 990, 'Prix baissé, quelques annotations.')).listing).toMatchObject({ priceCents: 990, version: 3 });
  // A purchase naming the version shown before the change buys nothing; the current one buys.
  const stale = await grpcError(h.client.call.purchase({ listingId: l.id, buyerId: buyers[0]!, expectedVersion: 2 }));
  expect(stale.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect((await h.client.call.getListing({ id: l.id })).listing?.status).toBe(market.ListingStatus.LISTING_STATUS_AVAILABLE);
  expect((await h.client.call.purchase({ listingId: l.id, buyerId: buyers[0]!, expectedVersion: 3 })).listing).toMatchObject({
    priceCents: 990,
    buyerId: buyers[0],
  });
});

test('the rules of a sale: price bounds and description length, naming the field; nothing changes', async () => {
  const l = await create();
  for (const [price, description, field] of [
    [0, '', 'price_cents'],
    [1_000_001, '', 'price_cents'],
    [100, 'x'.repeat(2001), 'description'],
    [100, 'a\u202Eb', 'description'],
  ] as const) {
    const e = await grpcError(change(l.id, seller, price, description));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details.startsWith(`${field}: `)).toBe(true);
  }
  expect((await h.client.call.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 1500, description: 'Bon état.' });
});

test('another seller, a sold listing and an unknown one are refused, and nothing changes', async () => {
  const l = await create();
  const notYours = await grpcError(change(l.id, other));
  expect({ code: notYours.code, details: notYours.details }).toEqual({
    code: grpc.status.PERMISSION_DENIED,
    details: 'Seule la personne qui vend cet article peut le modifier ou le retirer.',
  });
  const notYoursEither = await grpcError(h.client.call.withdrawListings({ sellerId: other, listingId: l.id }));
  expect(notYoursEither.code).toBe(grpc.status.PERMISSION_DENIED);
  expect((await h.client.call.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 1500 });

  await h.client.call.purchase({ listingId: l.id, buyerId: buyers[1]! });
  for (const call of [change(l.id), h.client.call.withdrawListings({ sellerId: seller, listingId: l.id })]) {
    const e = await grpcError(call);
    expect({ code: e.code, details: e.details }).toEqual({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'Cet article est vendu : il ne peut plus être modifié ni retiré.',
    });
  }
  expect((await h.client.call.getListing({ id: l.id })).listing).toMatchObject({ priceCents: 1500, buyerId: buyers[1] });

  expect((await grpcError(change('2147483000'))).code).toBe(grpc.status.NOT_FOUND);
  expect((await grpcError(h.client.call.withdrawListings({ sellerId: seller, listingId: '2147483000' }))).code).toBe(grpc.status.NOT_FOUND);
});

test('withdrawing one listing deletes it only; its photos no other listing uses are named', async () => {
  const shared = 'a'.repeat(32);
  const own = 'b'.repeat(32);
  const l = await create({ photos: [shared, own] });
  const keep = await create({ photos: [shared] });
  const res = await h.client.call.withdrawListings({ sellerId: seller, listingId: l.id });
  expect(res).toEqual({ withdrawn: 1, unusedPhotos: [own] });
  expect((await grpcError(h.client.call.getListing({ id: l.id }))).code).toBe(grpc.status.NOT_FOUND);
  expect((await h.client.call.getListing({ id: keep.id })).listing).toMatchObject({ photos: [shared] });
  // Twice: it is gone.
  expect((await grpcError(h.client.call.withdrawListings({ sellerId: seller, listingId: l.id }))).code).toBe(grpc.status.NOT_FOUND);
  // The account-wide withdrawal names the rest.
  const all = await h.client.call.withdrawListings({ sellerId: seller, listingId: '' });
  expect(all.unusedPhotos).toContain(shared);
});

test(`${PAIRS} races of a purchase against a withdrawal, and against an edit: exactly one wins each`, async () => {
  const outcomes: string[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const l = await create({ title: `Objet disputé ${i}` });
    const [buy, pull] = await race(
      () => clients[i % 2]!.call.purchase({ listingId: l.id, buyerId: buyers[i]! }),
      () => clients[(i + 1) % 2]!.call.withdrawListings({ sellerId: seller, listingId: l.id }),
      i % 2 === 1,
    );
    const row = await h.db.listing.findUnique({ where: { id: Number(l.id) } });
    if (buy.status === 'fulfilled') {
      expect(pull.status).toBe('rejected');
      expect((pull as PromiseRejectedResult).reason).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
      expect(row?.status).toBe('vendu');
      outcomes.push('purchase');
    } else {
      expect(pull.status).toBe('fulfilled');
      expect(buy.reason).toMatchObject({ code: grpc.status.NOT_FOUND });
      expect(row).toBeNull();
      outcomes.push('withdrawal');
    }
  }
  // A buyer confirms the version they were shown: the edit and the purchase cannot both succeed.
  for (let i = 0; i < PAIRS; i++) {
    const l = await create({ title: `Objet à prix changeant ${i}` });
    expect(l.version).toBe(1);
    const [buy, edit] = await race(
      () => clients[i % 2]!.call.purchase({ listingId: l.id, buyerId: buyers[i]!, expectedVersion: l.version }),
      () => clients[(i + 1) % 2]!.call.updateListing({ listingId: l.id, sellerId: seller, priceCents: 9999, description: 'Changé.' }),
      i % 2 === 1,
    );
    const row = await h.db.listing.findUniqueOrThrow({ where: { id: Number(l.id) } });
    expect([buy.status, edit.status].sort()).toEqual(['fulfilled', 'rejected']);
    if (buy.status === 'fulfilled') {
      expect((edit as PromiseRejectedResult).reason).toMatchObject({
        code: grpc.status.FAILED_PRECONDITION,
        details: 'Cet article est vendu : il ne peut plus être modifié ni retiré.',
      });
      expect(buy.value.listing).toMatchObject({ priceCents: 1500, version: 1 });
      expect({ status: row.status, priceCents: row.priceCents, version: row.version }).toEqual({
        status: 'vendu',
        priceCents: 1500,
        version: 1,
      });
      outcomes.push('purchase, edit refused');
    } else {
      expect(buy.reason).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
      expect((buy.reason as grpc.ServiceError).details).toMatch(/vient de modifier cet article/);
      expect({ status: row.status, priceCents: row.priceCents, version: row.version }).toEqual({
        status: 'disponible',
        priceCents: 9999,
        version: 2,
      });
      outcomes.push('edit, purchase refused');
    }
  }
  const tally = outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});
  console.log(`seller changes racing purchases (${PAIRS} of each pair): ${JSON.stringify(tally)}`);
});

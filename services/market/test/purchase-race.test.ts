// 20 buyers race for one listing, each on a gRPC channel and TCP connection of its own, spread
// over two server instances (two database pools) on the same database: exactly one wins, the 19
// others get FAILED_PRECONDITION, and the row names the winner. Repeated over several listings.
import * as grpc from '@grpc/grpc-js';
import { market } from '@etu/proto';
import { listing, startHarness, type Harness, type MarketClient } from './helpers';

const BUYERS = 20;
const TRIALS = 5;

let h: Harness;
let seller: string;
let buyers: string[];
let clients: MarketClient[];

beforeAll(async () => {
  h = await startHarness();
  const second = await h.startServer();
  seller = (await h.users(1))[0]!;
  buyers = await h.users(BUYERS);
  clients = buyers.map((_, i) => h.newClient(i % 2 ? `127.0.0.1:${second.port}` : h.addr));
  // Warm every channel so that the purchases leave at once instead of queueing behind connects.
  await Promise.all(clients.map((c) => c.call.listListings({ pageSize: 1, pageToken: '' })));
});

afterAll(async () => {
  await h?.close();
});

test(`${TRIALS} trials of ${BUYERS} concurrent buyers: exactly one wins each time`, async () => {
  const observed: string[] = [];
  for (let trial = 1; trial <= TRIALS; trial++) {
    const { listing: l } = await h.client.call.createListing(listing(seller!, { title: `Objet convoité ${trial}` }));
    const results = await Promise.allSettled(clients.map((c, i) => c.call.purchase({ listingId: l!.id, buyerId: buyers[i]! })));

    const wins = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, listing: r.value.listing! }] : []));
    const losses = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
    observed.push(`trial ${trial}: ${wins.length} success, ${losses.length} FAILED_PRECONDITION`);

    expect(wins).toHaveLength(1);
    expect(losses).toHaveLength(BUYERS - 1);
    for (const e of losses)
      expect({ code: e.code, details: e.details }).toEqual({
        code: grpc.status.FAILED_PRECONDITION,
        details: 'Cet article a déjà été vendu.',
      });

    const winner = buyers[wins[0]!.i]!;
    expect(wins[0]!.listing).toMatchObject({ id: l!.id, status: market.ListingStatus.LISTING_STATUS_SOLD, buyerId: winner });
    const row = await h.db.listing.findUniqueOrThrow({ where: { id: Number(l!.id) }, include: { buyer: true } });
    expect({ status: row.status, buyerId: row.buyer?.publicId, sold: row.soldAt instanceof Date }).toEqual({
      status: 'vendu',
      buyerId: winner,
      sold: true,
    });
  }
  // The report of what was observed (kept in the test output on purpose).
  console.log(`purchase race, ${BUYERS} buyers on separate channels over 2 servers:\n  ${observed.join('\n  ')}`);
});

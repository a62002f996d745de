// CreateListing with an idempotency key and FindSale, through a real gRPC server and MariaDB:
// one key makes one listing per seller, even when sent many times at once from two servers;
// another seller's same key is another sale; a key that breaks the rules stores nothing.
import * as grpc from '@grpc/grpc-js';
import { grpcError, listing, startHarness, type Harness } from './helpers';

let h: Harness;
let alice: string;
let bob: string;

beforeAll(async () => {
  h = await startHarness();
  [alice, bob] = (await h.users(2)) as [string, string];
});

afterAll(async () => {
  await h?.close();
});

const countOf = (sellerId: string) => h.db.listing.count({ where: { seller: { publicId: sellerId } } });

test('the same key twice: one listing; the second answer is that listing, replayed', async () => {
  const key = '2f1d4c0e-8a7b-4c55-9d0e-3b6a1f2e4d5c';
  const first = await h.client.call.createListing(listing(alice, { title: 'Premier envoi', idempotencyKey: key }));
  expect(first.replayed).toBe(false);
  // Even with other contents, the key names the sale already made.
  const second = await h.client.call.createListing(listing(alice, { title: 'Second envoi', idempotencyKey: key }));
  expect(second).toEqual({ listing: first.listing, replayed: true });
  expect(await countOf(alice)).toBe(1);
  expect(await h.client.call.findSale({ sellerId: alice, idempotencyKey: key })).toEqual({ listing: first.listing });
  // Another seller's same key is another sale; FindSale is per seller.
  expect(await h.client.call.findSale({ sellerId: bob, idempotencyKey: key })).toEqual({});
  const bobs = await h.client.call.createListing(listing(bob, { idempotencyKey: key }));
  expect(bobs.replayed).toBe(false);
  expect(bobs.listing!.id).not.toBe(first.listing!.id);
});

test('no key: every call is a new listing (as before)', async () => {
  const before = await countOf(bob);
  await h.client.call.createListing(listing(bob));
  await h.client.call.createListing(listing(bob));
  expect(await countOf(bob)).toBe(before + 2);
});

test('one key sent 20 times at once through two servers → one listing, every answer names it', async () => {
  const other = await h.startServer();
  const clients = Array.from({ length: 20 }, (_, i) => h.newClient(i % 2 ? h.addr : `127.0.0.1:${other.port}`));
  // Warm every channel and both pools (as purchase-race.test.ts does): a fresh pool opening ten
  // connections at once on a busy machine can pass its 1 s acquire timeout.
  await Promise.all(clients.map((c) => c.call.listListings({ pageSize: 1, pageToken: '' })));
  const key = 'form-concurrent-1';
  const before = await countOf(alice);
  const answers = await Promise.all(
    clients.map((c) => c.call.createListing(listing(alice, { title: 'Double clic', idempotencyKey: key }))),
  );
  expect(await countOf(alice)).toBe(before + 1);
  expect(new Set(answers.map((a) => a.listing!.id)).size).toBe(1);
  expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
});

test('keys that break the rules → INVALID_ARGUMENT in French, nothing stored', async () => {
  const before = await h.db.listing.count();
  for (const key of ['k'.repeat(65), 'avec espace', 'clé', 'a/b', '"quoted"']) {
    const err = await grpcError(h.client.call.createListing(listing(alice, { idempotencyKey: key })));
    expect([key, err.code]).toEqual([key, grpc.status.INVALID_ARGUMENT]);
    expect(err.details).toMatch(/^idempotency_key: la clé d'idempotence/);
    expect((await grpcError(h.client.call.findSale({ sellerId: alice, idempotencyKey: key }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  }
  expect(await h.db.listing.count()).toBe(before);
  // 64 characters of every allowed kind are accepted.
  const longest = 'Az09-_.:'.repeat(8);
  expect((await h.client.call.createListing(listing(alice, { idempotencyKey: longest }))).replayed).toBe(false);
  expect((await grpcError(h.client.call.findSale({ sellerId: alice, idempotencyKey: '' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
});

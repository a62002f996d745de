// Database unreachable → UNAVAILABLE fast and health NOT_SERVING; back → recovers by itself.
// The shared MariaDB is never stopped: one server points at a closed port, another reaches the
// database through a TCP relay of this test's own that is cut and restored, goes silent (holds
// every answer, the handshake's included), or cuts each new connection during its handshake.
import * as grpc from '@grpc/grpc-js';
import { checkHealth, createServiceClient } from '@etu/common';
import { freePort, startTcpRelay, TEST_TOKEN, testLogger, type TcpRelay } from '@etu/testkit';
import { createPrismaClient, guardDriverRejections, parseDatabaseUrl, withDatabase } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { market } from '@etu/proto';
import { DB_DOWN_MESSAGE } from '../src/database';
import { startMarketServer, type MarketServer } from '../src/server';
import { grpcError, listing, NOBODY } from './helpers';

const SERVICE = 'etuservices.market.v1.MarketService';
/**
 * Any call, the first of an outage included, answers UNAVAILABLE within the gate's timeouts
 * (600 + 300 ms, one window of 600 more when an older query's answer was read while it waited)
 * or the pool's (1 s): under the caller's 2 s deadline.
 */
const FIRST_MS = 1900;
/** Once the outage is known, calls are refused without touching the pool. */
const FAST_MS = 500;
/**
 * A server started without any database: its very first query also waits for the client to
 * start (the pool's 1 s, twice: the driver probes the server's capabilities first).
 */
const COLD_MS = 3000;

async function waitHealth(addr: string, want: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let got = await checkHealth(addr, SERVICE);
  while (got !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    got = await checkHealth(addr, SERVICE);
  }
  return got;
}

function clientFor(port: number) {
  return createServiceClient(market.MarketServiceClient, `127.0.0.1:${port}`, { token: TEST_TOKEN, timeoutMs: 10_000 });
}

test('pointed at a closed port: every RPC answers UNAVAILABLE fast, health NOT_SERVING', async () => {
  const dead = await freePort();
  const srv = await startMarketServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    databaseUrl: `mysql://root@127.0.0.1:${dead}/etuservices`,
    // No waiting for a database that will never answer before listening (WARM_UP_MS).
    warmUpMs: 0,
    healthIntervalMs: 200,
    graceMs: 200,
  });
  const c = clientFor(srv.port);
  try {
    const calls: [string, () => Promise<unknown>][] = [
      ['createListing', () => c.call.createListing(listing(NOBODY))],
      ['listListings', () => c.call.listListings({ pageSize: 0, pageToken: '' })],
      ['getListing', () => c.call.getListing({ id: '1' })],
      ['purchase', () => c.call.purchase({ listingId: '1', buyerId: NOBODY })],
    ];
    let first = true;
    for (const [name, call] of [...calls, ...calls]) {
      const started = Date.now();
      const err = await grpcError(call());
      const ms = Date.now() - started;
      expect([name, err.code, ms < (first ? COLD_MS : FAST_MS)]).toEqual([name, grpc.status.UNAVAILABLE, true]);
      expect(err.details).toMatch(/indisponible/);
      first = false;
    }
    // Invalid input is still refused as such: the rules need no database.
    expect((await grpcError(c.call.createListing(listing(NOBODY, { title: '' })))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await waitHealth(`127.0.0.1:${srv.port}`, 'NOT_SERVING')).toBe('NOT_SERVING');
  } finally {
    c.close();
    await srv.close();
  }
});

describe('the database goes away and comes back', () => {
  let tdb: TestDatabase;
  let relay: TcpRelay;
  let srv: MarketServer;
  let sellerId: string;
  let unguard: () => void;

  beforeAll(async () => {
    // As main.ts does: a connection cut during its opening handshake leaves an orphaned driver
    // rejection (see src/database.ts).
    unguard = guardDriverRejections(testLogger());
    tdb = await createTestDatabase();
    const db = createPrismaClient(tdb.url, { connectionLimit: 1 });
    sellerId = (await db.user.create({ data: { lastName: 'L', firstName: 'F', email: 'f@l.test', passwordHash: 'x' } })).publicId;
    await db.$disconnect();
    const s = parseDatabaseUrl(tdb.url);
    relay = await startTcpRelay({ host: s.host, port: s.port });
    const viaRelay = new URL(withDatabase(tdb.url, tdb.name));
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    srv = await startMarketServer({
      addr: '127.0.0.1:0',
      log: testLogger(),
      token: TEST_TOKEN,
      databaseUrl: viaRelay.toString(),
      healthIntervalMs: 200,
      graceMs: 200,
    });
  });

  afterAll(async () => {
    await srv?.close();
    await relay?.cut();
    await tdb?.drop();
    unguard?.();
  });

  test('UNAVAILABLE fast while it is away, then serving again by itself', async () => {
    const addr = `127.0.0.1:${srv.port}`;
    const c = clientFor(srv.port);
    try {
      expect(await waitHealth(addr, 'SERVING')).toBe('SERVING');
      const { listing: before } = await c.call.createListing(listing(sellerId, { title: 'Avant la panne' }));

      await relay.cut();
      const started = Date.now();
      const err = await grpcError(c.call.getListing({ id: before!.id }));
      expect([err.code, Date.now() - started < FIRST_MS]).toEqual([grpc.status.UNAVAILABLE, true]);
      const again = Date.now();
      expect((await grpcError(c.call.createListing(listing(sellerId)))).code).toBe(grpc.status.UNAVAILABLE);
      expect(Date.now() - again).toBeLessThan(FAST_MS);
      expect(await waitHealth(addr, 'NOT_SERVING')).toBe('NOT_SERVING');

      await relay.restore();
      expect(await waitHealth(addr, 'SERVING')).toBe('SERVING');
      const { listing: after } = await c.call.createListing(listing(sellerId, { title: 'Après la panne' }));
      expect((await c.call.getListing({ id: before!.id })).listing!.title).toBe('Avant la panne');
      expect(await c.call.purchase({ listingId: after!.id, buyerId: sellerId }).catch((e: unknown) => (e as grpc.ServiceError).code)).toBe(
        grpc.status.FAILED_PRECONDITION,
      );
    } finally {
      c.close();
    }
  });

  test('silent (it accepts connections and never answers): UNAVAILABLE in under a second, then at once; serving again once it answers', async () => {
    const addr = `127.0.0.1:${srv.port}`;
    const c = clientFor(srv.port);
    try {
      expect(await waitHealth(addr, 'SERVING')).toBe('SERVING');
      const { listing: before } = await c.call.createListing(listing(sellerId, { title: 'Avant le silence' }));

      relay.holdReplies(true);
      const started = Date.now();
      const err = await grpcError(c.call.getListing({ id: before!.id }));
      expect([err.code, err.details, Date.now() - started < FIRST_MS]).toEqual([grpc.status.UNAVAILABLE, DB_DOWN_MESSAGE, true]);
      expect(await waitHealth(addr, 'NOT_SERVING')).toBe('NOT_SERVING');
      const again = Date.now();
      expect((await grpcError(c.call.listListings({ pageSize: 0, pageToken: '' }))).code).toBe(grpc.status.UNAVAILABLE);
      expect(Date.now() - again).toBeLessThan(FAST_MS);

      relay.holdReplies(false);
      expect(await waitHealth(addr, 'SERVING')).toBe('SERVING');
      expect((await c.call.getListing({ id: before!.id })).listing!.title).toBe('Avant le silence');
    } finally {
      c.close();
    }
  });

  test('a connection cut during its handshake (the driver reports 45033): UNAVAILABLE, never INTERNAL, nothing left unhandled', async () => {
    const addr = `127.0.0.1:${srv.port}`;
    const c = clientFor(srv.port);
    try {
      expect(await waitHealth(addr, 'SERVING')).toBe('SERVING');
      // Every pooled connection dies; each new one is cut right after authenticating, as the
      // driver sends SET time_zone (a database restarting, a proxy dropping links).
      relay.cutWhenClientSends('time_zone');
      await relay.cut();
      await relay.restore();
      const err = await grpcError(c.call.listListings({ pageSize: 0, pageToken: '' }));
      expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, DB_DOWN_MESSAGE]);
      expect(await waitHealth(addr, 'NOT_SERVING')).toBe('NOT_SERVING');
      relay.cutWhenClientSends(null);
      expect(await waitHealth(addr, 'SERVING', 15_000)).toBe('SERVING');
      // A connection the pool kept from the cut may fail its first query once; then it serves.
      let listed = await c.call.listListings({ pageSize: 0, pageToken: '' }).catch(() => undefined);
      listed ??= await c.call.listListings({ pageSize: 0, pageToken: '' });
      expect(listed.listings.length).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  });
});

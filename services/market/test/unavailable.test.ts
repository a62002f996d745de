// Database unreachable → UNAVAILABLE fast and health NOT_SERVING; back → recovers by itself.
// The shared MariaDB is never stopped: one server points at a closed port, another reaches the
// database through a TCP relay of this test's own that is cut and restored.
import * as grpc from '@grpc/grpc-js';
import { checkHealth, createServiceClient } from '@etu/common';
import { freePort, startTcpRelay, TEST_TOKEN, testLogger, type TcpRelay } from '@etu/testkit';
import { createPrismaClient, guardDriverRejections, parseDatabaseUrl, withDatabase } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { market } from '@etu/proto';
import { startMarketServer, type MarketServer } from '../src/server';
import { grpcError, listing, NOBODY } from './helpers';

// The mariadb driver (under @prisma/adapter-mariadb) can surface a connection cut during its
// opening handshake as a raw SqlError 45033/08S01 ("setting timezone fails") on a loaded
// machine, outside what the test controls; the cause is tracked in issue 14 (one database
// gate with socket timeouts). One retry keeps CI honest about real regressions meanwhile.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

const SERVICE = 'etuservices.market.v1.MarketService';
/** The first call may wait for the pool's acquire timeout (1 s, twice on a client's very first query). */
const FIRST_MS = 3000;
/** Once the outage is known, calls are refused without touching the pool. */
const FAST_MS = 500;

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
      expect([name, err.code, ms < (first ? FIRST_MS : FAST_MS)]).toEqual([name, grpc.status.UNAVAILABLE, true]);
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
    sellerId = String((await db.user.create({ data: { lastName: 'L', firstName: 'F', email: 'f@l.test', passwordHash: 'x' } })).publicId);
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
      expect((await c.call.purchase({ listingId: after!.id, buyerId: sellerId }).catch((e: grpc.ServiceError) => e.code))).toBe(
        grpc.status.FAILED_PRECONDITION,
      );
    } finally {
      c.close();
    }
  });
});

// Test support for the market: a fresh migrated database of the file's own, users inserted with
// Prisma (the auth service is not needed), a real market gRPC server on port 0, and clients.
import * as grpc from '@grpc/grpc-js';
import { createServiceClient, type ServiceClient } from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { market } from '@etu/proto';
import { startMarketServer, type MarketServer } from '../src/server';

export type MarketClient = ServiceClient<market.MarketServiceClient>;

export interface Harness {
  tdb: TestDatabase;
  db: PrismaClient;
  server: MarketServer;
  addr: string;
  client: MarketClient;
  /** Another server on the same database (its own pool), started on demand. */
  startServer(): Promise<MarketServer>;
  /** A client on its own channel and TCP connection. */
  newClient(addr?: string): MarketClient;
  /** Inserts STUDENT users and returns their public ids, as the wire names users. */
  users(n: number): Promise<string[]>;
  close(): Promise<void>;
}

let clientSeq = 0;

export async function startHarness(): Promise<Harness> {
  const tdb = await createTestDatabase();
  const db = createPrismaClient(tdb.url, { connectionLimit: 2 });
  const servers: MarketServer[] = [];
  const clients: MarketClient[] = [];
  const startServer = async () => {
    const s = await startMarketServer({
      addr: '127.0.0.1:0',
      log: testLogger(),
      token: TEST_TOKEN,
      databaseUrl: tdb.url,
      graceMs: 200,
      // The driver path by default, as in production; MARKET_SQL=prisma runs the suite on the other.
      sql: process.env.MARKET_SQL === 'prisma' ? 'prisma' : 'driver',
    });
    servers.push(s);
    return s;
  };
  const server = await startServer();
  const addr = `127.0.0.1:${server.port}`;
  const newClient = (a = addr) => {
    // Distinct options per client: a channel (and TCP connection) of its own.
    const c = createServiceClient(market.MarketServiceClient, a, {
      token: TEST_TOKEN,
      timeoutMs: 15_000,
      channelOptions: { 'grpc.use_local_subchannel_pool': 1, 'grpc.primary_user_agent': `market-test-${++clientSeq}` },
    });
    clients.push(c);
    return c;
  };
  let userSeq = 0;
  return {
    tdb,
    db,
    server,
    addr,
    client: newClient(),
    startServer,
    newClient,
    async users(n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const u = await db.user.create({
          data: { lastName: 'Martin', firstName: `Étudiant${++userSeq}`, email: `etudiant${userSeq}@example.test`, passwordHash: 'x' },
        });
        ids.push(u.publicId);
      }
      return ids;
    },
    async close() {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.close()));
      await db.$disconnect();
      await tdb.drop();
    },
  };
}

/** A well-formed public id that names no account. */
export const NOBODY = '00000000-0000-4000-8000-000000000000';

export function listing(sellerId: string, over: Partial<market.CreateListingRequest> = {}): market.CreateListingRequest {
  return {
    sellerId,
    title: 'Manuel de physique',
    category: market.Category.CATEGORY_BOOK,
    priceCents: 1500,
    description: 'Bon état.',
    idempotencyKey: '',
    condition: market.Condition.CONDITION_GOOD,
    photos: [],
    ...over,
  };
}

/** The gRPC error a promise rejects with (fails the test when it resolves). */
export async function grpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Walks every page of ListListings; returns the ids in the order received. */
export async function listAll(c: MarketClient, filter: Partial<market.ListingFilter> = {}, pageSize = 0): Promise<market.Listing[]> {
  const out: market.Listing[] = [];
  let pageToken = '';
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await c.call.listListings({
      filter: { category: 0, sellerId: '', excludeSellerId: '', status: 0, ...filter },
      pageSize,
      pageToken,
    });
    out.push(...res.listings);
    if (!res.nextPageToken) return out;
    pageToken = res.nextPageToken;
  }
  throw new Error('pagination never ended');
}

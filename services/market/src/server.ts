// The market's gRPC server: MarketService over the domain (market.ts), grpc.health.v1 following
// the database (SERVING while `SELECT 1` answers), internal token required on every RPC, and
// UNAVAILABLE at once while the database is unreachable (the gate, database.ts).
import {
  DomainError,
  grpcCodeName,
  Metrics,
  serveGrpc,
  type AsyncService,
  type RunningService,
  type ServiceBaseOptions,
} from '@etu/common';
import { market } from '@etu/proto';
import { createDriverPool, keepDriverPoolWarm, keepPoolWarm } from '@etu/db';
import { createMarketPrisma, marketGate } from './database';
import { driverHotSql } from './hot-sql';
import { Market } from './market';

export const SERVICE_NAME = 'etuservices.market.v1.MarketService';

export interface MarketServerOptions extends ServiceBaseOptions {
  databaseUrl: string;
  /** The Vente INSERT and the Achat UPDATE on the mariadb driver (default) or through Prisma (MARKET_SQL). */
  sql?: 'driver' | 'prisma';
}

export type MarketServer = RunningService;

export function marketHandlers(m: Market, metrics: Metrics = new Metrics({ enabled: false })): AsyncService<market.MarketServiceServer> {
  const created = metrics
    .counter(
      'etu_market_listings_created_total',
      'Listings put on sale (Vente); a replayed Vente (same idempotency key) is not counted again.',
    )
    .child({});
  const purchases = metrics.counter(
    'etu_market_purchases_total',
    'Purchases (Achat) by outcome: ok, replayed (a retried purchase already done), or the refusal (NotFound, FailedPrecondition, InvalidArgument, ...).',
    ['outcome'],
  );
  purchases.inc({ outcome: 'ok' }, 0);
  return {
    createListing: async (req) => {
      const res = await m.createListing(req);
      if (!res.replayed) created.inc();
      return res;
    },
    findSale: async (req) => m.findSale(req),
    listListings: async (req) => m.listListings(req),
    searchListings: async (req) => m.searchListings(req),
    getListing: async (req) => ({ listing: await m.getListing(req.id) }),
    withdrawListings: async (req) => m.withdrawListings(req),
    updateListing: async (req) => m.updateListing(req),
    purchase: async (req) => {
      try {
        const res = await m.purchase(req);
        purchases.inc({ outcome: res.replayed ? 'replayed' : 'ok' });
        return res;
      } catch (err) {
        purchases.inc({ outcome: err instanceof DomainError ? grpcCodeName(err.code) : 'Internal' });
        throw err;
      }
    },
  };
}

export async function startMarketServer(opts: MarketServerOptions): Promise<MarketServer> {
  // The same 10 connections in all: with the driver, 5 for its two statements and 5 for Prisma.
  const driver = opts.sql !== 'prisma';
  const prismaConnections = driver ? 5 : 10;
  const db = createMarketPrisma(opts.databaseUrl, prismaConnections);
  const gate = marketGate(db, opts.log);
  const pool = driver ? createDriverPool(opts.databaseUrl, { connectionLimit: 5 }) : undefined;
  const hot = pool ? driverHotSql(pool) : undefined;
  // Neither pool's idle connections may reach the socket timeout (keepPoolWarm says why).
  const stopWarm = [
    keepPoolWarm(
      () => db.$queryRaw`SELECT 1`,
      () => prismaConnections,
    ),
    ...(pool ? [keepDriverPoolWarm(pool)] : []),
  ];
  const domain = new Market(db, { log: opts.log, gate, hot });
  return serveGrpc({
    ...opts,
    name: 'market',
    serviceName: SERVICE_NAME,
    definition: market.MarketServiceService,
    handlers: marketHandlers(domain, opts.metrics),
    probe: () => gate.probe(),
    release: async () => {
      for (const stop of stopWarm) stop();
      await Promise.all([db.$disconnect(), hot?.close()]);
    },
  });
}

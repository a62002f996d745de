// The market's gRPC server: MarketService over the domain (market.ts), grpc.health.v1 following
// the database (SERVING while `SELECT 1` answers), internal token required on every RPC, and
// UNAVAILABLE at once while the database is unreachable (the gate, database.ts).
import { serveGrpc, type AsyncService, type RunningService, type ServiceBaseOptions } from '@etu/common';
import { market } from '@etu/proto';
import { createMarketPrisma, DatabaseGate } from './database';
import { Market } from './market';

export const SERVICE_NAME = 'etuservices.market.v1.MarketService';

export interface MarketServerOptions extends ServiceBaseOptions {
  databaseUrl: string;
}

export type MarketServer = RunningService;

export function marketHandlers(m: Market): AsyncService<market.MarketServiceServer> {
  return {
    createListing: async (req) => m.createListing(req),
    findSale: async (req) => m.findSale(req),
    listListings: async (req) => m.listListings(req),
    getListing: async (req) => ({ listing: await m.getListing(req.id) }),
    purchase: async (req) => m.purchase(req),
  };
}

export async function startMarketServer(opts: MarketServerOptions): Promise<MarketServer> {
  const db = createMarketPrisma(opts.databaseUrl);
  const gate = new DatabaseGate();
  const domain = new Market(db, { log: opts.log, gate });
  return serveGrpc({
    ...opts,
    name: 'market',
    serviceName: SERVICE_NAME,
    definition: market.MarketServiceService,
    handlers: marketHandlers(domain),
    probe: () => gate.probe(db),
    release: () => db.$disconnect(),
  });
}

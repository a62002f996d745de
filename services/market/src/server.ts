// The market's gRPC server: MarketService over the domain (market.ts), grpc.health.v1 following
// the database (SERVING while `SELECT 1` answers), internal token required on every RPC, and
// UNAVAILABLE at once while the database is unreachable.
import { createGrpcServer, watchHealth, wrapService, type AsyncService, type GrpcServer, type Logger } from '@etu/common';
import { market } from '@etu/proto';
import { createMarketPrisma, DatabaseGate } from './database';
import { Market } from './market';

export const SERVICE_NAME = 'etuservices.market.v1.MarketService';

export interface MarketServerOptions {
  /** host:port to listen on (port 0 = any free port). */
  addr: string;
  log: Logger;
  /** The internal token every caller must present. */
  token: string;
  databaseUrl: string;
  /** How often health re-checks the database (ms); default 1000. */
  healthIntervalMs?: number;
  /** Grace period of close() for in-flight calls (ms); default 5000. */
  graceMs?: number;
}

export interface MarketServer {
  port: number;
  grpc: GrpcServer;
  /** Stops health checks, shuts the gRPC server down gracefully, closes the database pool. Idempotent. */
  close(): Promise<void>;
}

/** Every handler: errors meaning "database unreachable" become UNAVAILABLE (and close the gate). */
function guarded<S>(impl: AsyncService<S>, gate: DatabaseGate): AsyncService<S> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(impl as Record<string, (req: unknown, ctx: unknown) => Promise<unknown>>)) {
    out[name] = async (req: unknown, ctx: unknown) => {
      try {
        return await fn(req, ctx);
      } catch (err) {
        throw gate.translate(err);
      }
    };
  }
  return out as AsyncService<S>;
}

export function marketHandlers(m: Market, gate: DatabaseGate): AsyncService<market.MarketServiceServer> {
  return guarded<market.MarketServiceServer>(
    {
      createListing: async (req) => ({ listing: await m.createListing(req) }),
      listListings: async (req) => m.listListings(req),
      getListing: async (req) => ({ listing: await m.getListing(req.id) }),
      purchase: async (req) => ({ listing: await m.purchase(req) }),
    },
    gate,
  );
}

export async function startMarketServer(opts: MarketServerOptions): Promise<MarketServer> {
  const log = opts.log;
  const db = createMarketPrisma(opts.databaseUrl);
  const gate = new DatabaseGate();
  const domain = new Market(db, { log, beforeQuery: () => gate.check() });
  const srv = createGrpcServer({ serviceNames: [SERVICE_NAME], log });
  srv.server.addService(
    market.MarketServiceService,
    wrapService<market.MarketServiceServer>(marketHandlers(domain, gate), { token: opts.token, log, service: 'market' }),
  );
  let port: number;
  try {
    port = await srv.listen(opts.addr);
  } catch (err) {
    await db.$disconnect();
    throw err;
  }
  const stopHealth = watchHealth(srv, () => gate.probe(db), { intervalMs: opts.healthIntervalMs ?? 1000, log });
  let closing: Promise<void> | undefined;
  return {
    port,
    grpc: srv,
    close: () =>
      (closing ??= (async () => {
        stopHealth();
        await srv.shutdown(opts.graceMs ?? 5000);
        await db.$disconnect();
      })()),
  };
}

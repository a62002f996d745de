// The gateway's gRPC clients: one per service, each call with the internal token and a
// deadline. The limiter goes through @etu/limiter's coalescing client: Consume calls made in
// the same turn of the event loop (e.g. a burst of sales) share one ConsumeBatch RPC, each
// keeping its own decision, error and deadline.
import { createServiceClient, type Metrics, type PromiseClient } from '@etu/common';
import { createLimiterClient, type LimiterClient } from '@etu/limiter';
import { auth, market, stats, store } from '@etu/proto';

/** What the gateway needs from the limiter (consume / peek / reset); errors reject with `{ code, details }`. */
export type { LimiterClient };

export interface Clients {
  auth: PromiseClient<auth.AuthServiceClient>;
  market: PromiseClient<market.MarketServiceClient>;
  stats: PromiseClient<stats.StatsServiceClient>;
  limiter: LimiterClient;
  /** StoreService of the parts that own a store (auth: MariaDB; limiter, stats: Redis), for /readyz. */
  stores: {
    auth: PromiseClient<store.StoreServiceClient>;
    limiter: PromiseClient<store.StoreServiceClient>;
    stats: PromiseClient<store.StoreServiceClient>;
  };
  /** gRPC addresses, for the readiness probe. */
  addrs: { auth: string; market: string; limiter: string; stats: string };
  close(): void;
}

export interface ClientsConfig {
  AUTH_ADDR: string;
  MARKET_ADDR: string;
  LIMITER_ADDR: string;
  STATS_ADDR: string;
  INTERNAL_TOKEN: string;
  GRPC_TIMEOUT_MS: number;
  /** Limiter batches in flight at once (the limiter client's default when absent). */
  LIMITER_BATCH_WINDOW?: number;
  /** Limiter batches over one stream (the limiter client's default when absent). */
  LIMITER_BATCH_STREAM?: boolean;
}

/** `metrics`: where the grpc_client_* families go (the gateway's part metrics); not counted when absent. */
export function createClients(cfg: ClientsConfig, metrics?: Metrics): Clients {
  const opts = { token: cfg.INTERNAL_TOKEN, timeoutMs: cfg.GRPC_TIMEOUT_MS, metrics };
  const a = createServiceClient(auth.AuthServiceClient, cfg.AUTH_ADDR, opts);
  const m = createServiceClient(market.MarketServiceClient, cfg.MARKET_ADDR, opts);
  const s = createServiceClient(stats.StatsServiceClient, cfg.STATS_ADDR, opts);
  const l = createLimiterClient(cfg.LIMITER_ADDR, { ...opts, window: cfg.LIMITER_BATCH_WINDOW, stream: cfg.LIMITER_BATCH_STREAM });
  const stores = {
    auth: createServiceClient(store.StoreServiceClient, cfg.AUTH_ADDR, opts),
    limiter: createServiceClient(store.StoreServiceClient, cfg.LIMITER_ADDR, opts),
    stats: createServiceClient(store.StoreServiceClient, cfg.STATS_ADDR, opts),
  };
  return {
    auth: a.call,
    market: m.call,
    stats: s.call,
    limiter: l,
    stores: { auth: stores.auth.call, limiter: stores.limiter.call, stats: stores.stats.call },
    addrs: { auth: cfg.AUTH_ADDR, market: cfg.MARKET_ADDR, limiter: cfg.LIMITER_ADDR, stats: cfg.STATS_ADDR },
    close() {
      a.close();
      m.close();
      s.close();
      l.close();
      for (const c of Object.values(stores)) c.close();
    },
  };
}

// The gateway's gRPC clients: one per service, each call with the internal token and a
// deadline (createServiceClient). The limiter is used through the LimiterClient interface
// (consume / peek / reset) so that the coalescing client of @etu/limiter can replace the
// adapter below in one line.
import { createServiceClient, type PromiseClient } from '@etu/common';
import { auth, limiter, market, stats } from '@etu/proto';

export interface LimiterCallOpts {
  timeoutMs?: number;
}

/** What the gateway needs from the limiter. Errors reject with a gRPC-style `{ code, details }`. */
export interface LimiterClient {
  consume(policy: string, subject: string, cost?: number, opts?: LimiterCallOpts): Promise<limiter.Decision>;
  peek(policy: string, subject: string, opts?: LimiterCallOpts): Promise<limiter.Decision>;
  reset(policy: string, subject: string, opts?: LimiterCallOpts): Promise<void>;
  close(): void;
}

export interface Clients {
  auth: PromiseClient<auth.AuthServiceClient>;
  market: PromiseClient<market.MarketServiceClient>;
  stats: PromiseClient<stats.StatsServiceClient>;
  limiter: LimiterClient;
  /** gRPC addresses, for the readiness probe. */
  addrs: { auth: string; market: string; limiter: string; stats: string };
  close(): void;
}

function missingDecision(): never {
  throw Object.assign(new Error('limiter answered without a decision'), { code: 13, details: 'no decision' });
}

/** Adapter over the generated stub with the interface of @etu/limiter's createLimiterClient. */
export function createPlainLimiterClient(addr: string, opts: { token: string; timeoutMs?: number }): LimiterClient {
  const c = createServiceClient(limiter.LimiterServiceClient, addr, opts);
  return {
    async consume(policy, subject, cost, o) {
      const res = await c.call.consume({ policy, subject, cost }, o);
      return res.decision ?? missingDecision();
    },
    async peek(policy, subject, o) {
      const res = await c.call.peek({ policy, subject }, o);
      return res.decision ?? missingDecision();
    },
    async reset(policy, subject, o) {
      await c.call.reset({ policy, subject }, o);
    },
    close: () => c.close(),
  };
}

export interface ClientsConfig {
  AUTH_ADDR: string;
  MARKET_ADDR: string;
  LIMITER_ADDR: string;
  STATS_ADDR: string;
  INTERNAL_TOKEN: string;
  GRPC_TIMEOUT_MS: number;
}

export function createClients(cfg: ClientsConfig): Clients {
  const opts = { token: cfg.INTERNAL_TOKEN, timeoutMs: cfg.GRPC_TIMEOUT_MS };
  const a = createServiceClient(auth.AuthServiceClient, cfg.AUTH_ADDR, opts);
  const m = createServiceClient(market.MarketServiceClient, cfg.MARKET_ADDR, opts);
  const s = createServiceClient(stats.StatsServiceClient, cfg.STATS_ADDR, opts);
  const l = createPlainLimiterClient(cfg.LIMITER_ADDR, opts);
  return {
    auth: a.call,
    market: m.call,
    stats: s.call,
    limiter: l,
    addrs: { auth: cfg.AUTH_ADDR, market: cfg.MARKET_ADDR, limiter: cfg.LIMITER_ADDR, stats: cfg.STATS_ADDR },
    close() {
      a.close();
      m.close();
      s.close();
      l.close();
    },
  };
}

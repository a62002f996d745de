// The limiter's gRPC server: LimiterService over the sliding-window store, health that follows
// Redis (NOT_SERVING while it cannot be reached), one Redis connection without offline queue
// and with a command timeout so that an outage answers UNAVAILABLE at once and heals by itself.
import { createGrpcServer, createRedis, wrapService, watchHealth, type AsyncService, type GrpcServer, type Logger } from '@etu/common';
import { limiter } from '@etu/proto';
import { Limiter, itemError } from './limiter';
import { DEFAULT_POLICIES, formatPolicies, parsePolicies } from './policies';
import { SlidingWindowStore } from './sliding-window';

export const SERVICE_NAME = 'etuservices.limiter.v1.LimiterService';

export interface LimiterServerOptions {
  /** host:port to listen on (port 0 = any free port). */
  addr: string;
  log: Logger;
  /** The internal token every call must carry. */
  token: string;
  redisUrl: string;
  /** LIMIT_POLICIES syntax; the default policies when absent. */
  policies?: string;
  /**
   * ms before a Redis call without an answer fails as UNAVAILABLE (default 150: the caller
   * hears UNAVAILABLE within 250 ms, gRPC and a busy event loop included).
   */
  redisTimeoutMs?: number;
  /** Redis calls waiting for an answer beyond which new calls fail at once (default 10,000). */
  maxPendingRedisCalls?: number;
  /** How often health re-checks Redis, ms (default 1000; connection events update it at once). */
  healthIntervalMs?: number;
}

export interface LimiterServer {
  port: number;
  grpc: GrpcServer;
  /** Stops serving (grace for in-flight calls) and closes the Redis connection. */
  close(graceMs?: number): Promise<void>;
}

export async function startLimiterServer(opts: LimiterServerOptions): Promise<LimiterServer> {
  const policies = parsePolicies(opts.policies ?? DEFAULT_POLICIES);
  const log = opts.log;
  // No offline queue (createRedis): while disconnected a call fails at once. The store times
  // calls out itself, so ioredis's commandTimeout is off (undefined; 0 would time out at once).
  const redis = createRedis(opts.redisUrl, { name: 'etu-limiter', extra: { commandTimeout: undefined } });
  // ioredis reports every failed reconnect attempt; one line per state change is enough.
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'limiter redis unreachable');
    down = true;
  });
  const store = new SlidingWindowStore(redis, { timeoutMs: opts.redisTimeoutMs ?? 150, maxPending: opts.maxPendingRedisCalls });
  const lim = new Limiter(policies, store);

  const srv = createGrpcServer({ serviceNames: [SERVICE_NAME], log });
  const impl: AsyncService<limiter.LimiterServiceServer> = {
    consume: async (req) => ({ decision: await lim.consume(req) }),
    consumeBatch: async (req, ctx) => {
      const results = await lim.consumeMany(req.requests);
      return {
        items: results.map((r) => {
          if (!(r instanceof Error)) return { decision: r };
          const e = itemError(r);
          if (e.code === 13) ctx.log.error({ err: r }, 'unexpected error in a batch item');
          return { error: e };
        }),
      };
    },
    peek: async (req) => ({ decision: await lim.peek(req) }),
    reset: async (req) => {
      await lim.reset(req);
      return {};
    },
  };
  srv.server.addService(limiter.LimiterServiceService, wrapService(impl, { token: opts.token, log, service: 'limiter' }));

  // Health follows Redis: connection events flip it at once, a periodic PING catches the rest.
  const markDown = () => srv.setServing(false);
  const markUp = () => {
    if (down) log.info('limiter redis reachable again');
    down = false;
    srv.setServing(true);
  };
  redis.on('close', markDown);
  redis.on('ready', markUp);
  const stopWatch = watchHealth(
    srv,
    () => store.ping(),
    { intervalMs: opts.healthIntervalMs ?? 1000, log },
  );

  let port: number;
  try {
    port = await srv.listen(opts.addr);
  } catch (err) {
    stopWatch();
    redis.disconnect();
    throw err;
  }
  log.info({ policies: formatPolicies(policies) }, 'limiter policies');

  let closing: Promise<void> | undefined;
  return {
    port,
    grpc: srv,
    close: (graceMs = 5000) =>
      (closing ??= (async () => {
        stopWatch();
        redis.off('close', markDown);
        redis.off('ready', markUp);
        await srv.shutdown(graceMs);
        redis.disconnect();
      })()),
  };
}

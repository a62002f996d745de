// The limiter's gRPC server: LimiterService over the sliding-window store, health that follows
// Redis (NOT_SERVING while it cannot be reached), one Redis connection without offline queue
// and with a command timeout so that an outage answers UNAVAILABLE at once and heals by itself.
import {
  createGrpcServer,
  createRedis,
  redisStoreService,
  serveGrpc,
  StoreMarker,
  watchHealth,
  wrapService,
  type AsyncService,
  type RedisClient,
  type GrpcServer,
  type RunningService,
  type ServiceBaseOptions,
} from '@etu/common';
import { envoyRls, limiter, limiterEnvoyAdmin } from '@etu/proto';
import { EnvoyRateLimiter } from './envoy';
import { EnvoyConfigSource } from './envoy-watch';
import { Limiter } from './limiter';
import { LimiterMetrics } from './metrics';
import { DEFAULT_POLICIES, formatPolicies, parsePolicies } from './policies';
import { SlidingWindowStore } from './sliding-window';
import { batchItems, ConsumeStreams } from './stream';

export const SERVICE_NAME = 'etuservices.limiter.v1.LimiterService';

export interface LimiterServerOptions extends ServiceBaseOptions {
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
  /**
   * A directory of envoyproxy/ratelimit YAML files: serves Envoy's RateLimitService on the same
   * port and token, and reloads the files when they change. Absent: Envoy's API is not served.
   */
  envoyConfigDir?: string | undefined;
  /** ms between a change in envoyConfigDir and its reload (default 100). */
  envoyReloadDebounceMs?: number;
  /** Envoy's responses carry the IETF RateLimit-Policy/RateLimit headers (default false). */
  envoyRateLimitHeaders?: boolean;
  /**
   * A second listener (host:port) serving only Envoy's RateLimitService, WITHOUT the internal
   * token, for a proxy on a network only it reaches. Absent (the default): no such listener.
   */
  envoyTrustedAddr?: string | undefined;
}

export const ENVOY_SERVICE_NAME = 'envoy.service.ratelimit.v3.RateLimitService';

export interface LimiterServer extends RunningService {
  /** The Envoy rules' source, when envoyConfigDir is set. */
  envoyConfig: EnvoyConfigSource | undefined;
  /** The port of the tokenless listener for Envoy, when envoyTrustedAddr is set. */
  envoyTrustedPort: number | undefined;
}

/**
 * The limiter's Redis connection (a single Redis or a Cluster, from the URL), as the server and
 * the bench make it.
 */
export function connectLimiterRedis(url: string): RedisClient {
  // No offline queue (createRedis): while disconnected a call fails at once. The store times
  // calls out itself, so ioredis's commandTimeout is off.
  // neverResend: a script sent before the connection dropped may have run (the call was counted,
  // the caller was told UNAVAILABLE); sending it again after the reconnect (ioredis's
  // autoResendUnfulfilledCommands) or, on a cluster, to another node after the node's connection
  // closed (ioredis's retryDelayOnFailover) would count that one call twice. Unanswered commands
  // fail with the connection instead. On a cluster, MOVED/ASK/TRYAGAIN/CLUSTERDOWN replies are
  // still followed: the node refused the script, nothing was counted (docs/operations.md).
  // One redirection at most (MOVED, or ASK, or TRYAGAIN retried at once), well within the
  // store's deadline on a busy machine: a longer chain — typically a batch whose slot is being
  // migrated, its keys on both nodes — ends with ioredis's "Too many Cluster redirections", and
  // the store then decides that batch's items one key at a time (sliding-window.ts).
  return createRedis(url, {
    name: 'etu-limiter',
    commandTimeoutMs: null,
    neverResend: true,
    cluster: { retryDelayOnTryAgain: 0, maxRedirections: 1 },
  });
}

export async function startLimiterServer(opts: LimiterServerOptions): Promise<LimiterServer> {
  const policies = parsePolicies(opts.policies ?? DEFAULT_POLICIES);
  const log = opts.log;
  const redis = connectLimiterRedis(opts.redisUrl);
  // ioredis reports every failed reconnect attempt; one line per state change is enough.
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'limiter redis unreachable');
    down = true;
  });
  const metrics = new LimiterMetrics(opts.metrics, [...policies.keys()]);
  const store = new SlidingWindowStore(redis, { timeoutMs: opts.redisTimeoutMs ?? 150, maxPending: opts.maxPendingRedisCalls, metrics });
  const lim = new Limiter(policies, store);
  let envoyConfig: EnvoyConfigSource | undefined;
  try {
    envoyConfig =
      opts.envoyConfigDir === undefined ? undefined : new EnvoyConfigSource(opts.envoyConfigDir, log, metrics, opts.envoyReloadDebounceMs);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const also = [];
  let trusted: { srv: GrpcServer; port: number; stopHealth: () => void } | undefined;
  if (opts.envoyTrustedAddr !== undefined && !envoyConfig) {
    redis.disconnect();
    throw new Error('a listener for Envoy without the token needs Envoy rules (envoyConfigDir)');
  }
  if (envoyConfig) {
    const source = envoyConfig;
    const envoy = new EnvoyRateLimiter(
      store,
      () => source.current,
      (o) => metrics.envoy(o),
      { rateLimitHeaders: opts.envoyRateLimitHeaders },
    );
    const envoyHandlers: AsyncService<envoyRls.RateLimitServiceServer> = { shouldRateLimit: (req) => envoy.shouldRateLimit(req) };
    also.push({ name: 'limiter-envoy', definition: envoyRls.RateLimitServiceService, handlers: envoyHandlers });
    const adminHandlers: AsyncService<limiterEnvoyAdmin.RateLimitAdminServiceServer> = {
      peekRateLimit: (req) => envoy.peek(req),
      resetRateLimit: (req) => envoy.reset(req),
    };
    also.push({ name: 'limiter-envoy-admin', definition: limiterEnvoyAdmin.RateLimitAdminServiceService, handlers: adminHandlers });
    if (opts.envoyTrustedAddr !== undefined) {
      // Envoy's call only: never the limiter's own API nor the operators' companion.
      const srv = createGrpcServer({ serviceNames: [ENVOY_SERVICE_NAME], log });
      const definition = envoyRls.RateLimitServiceService;
      srv.server.addService(
        definition,
        wrapService<envoyRls.RateLimitServiceServer>(envoyHandlers, {
          token: null,
          log,
          service: 'limiter-envoy-trusted',
          definition,
          metrics: opts.metrics,
        }),
      );
      try {
        const port = await srv.listen(opts.envoyTrustedAddr);
        trusted = { srv, port, stopHealth: watchHealth(srv, () => store.ping(), { intervalMs: opts.healthIntervalMs ?? 1000, log }) };
      } catch (err) {
        envoyConfig.close();
        redis.disconnect();
        throw err;
      }
    }
  }

  const handlers: AsyncService<limiter.LimiterServiceServer> = {
    consume: async (req) => {
      const decision = await lim.consume(req);
      metrics.decision(decision);
      return { decision };
    },
    consumeBatch: async (req, ctx) => ({ items: batchItems(await lim.consumeMany(req.requests), metrics, ctx.log) }),
    peek: async (req) => ({ decision: await lim.peek(req) }),
    reset: async (req) => {
      await lim.reset(req);
      return {};
    },
  };

  const streams = new ConsumeStreams(lim, metrics, opts.token, log, opts.metrics);

  // Health follows Redis: connection events flip it at once, the periodic PING catches the rest.
  let srv: GrpcServer | undefined;
  const markDown = () => srv?.setServing(false);
  const markUp = () => {
    if (down) log.info('limiter redis reachable again');
    down = false;
    srv?.setServing(true);
  };
  const service = await serveGrpc({
    ...opts,
    name: 'limiter',
    serviceName: SERVICE_NAME,
    definition: limiter.LimiterServiceService,
    handlers,
    // An empty database means every quota starts again (for at most one window).
    // on SIGTERM the streams stop taking batches, answer those they took, and end (stream.ts)
    streaming: [{ definition: limiter.LimiterStreamServiceService, implementation: streams.service(), drain: () => streams.close() }],
    also: [redisStoreService(redis, new StoreMarker(redis, 'limiter', log, 'quotas count only the calls made since'), { log }), ...also],
    probe: () => store.ping(),
    beforeHealth: (s) => {
      srv = s;
      redis.on('close', markDown);
      redis.on('ready', markUp);
      return Promise.resolve();
    },
    release: async () => {
      trusted?.stopHealth();
      await trusted?.srv.shutdown(opts.graceMs ?? 5000);
      envoyConfig?.close();
      redis.off('close', markDown);
      redis.off('ready', markUp);
      redis.disconnect();
    },
  });
  envoyConfig?.watch();
  log.info({ policies: formatPolicies(policies), envoy: envoyConfig ? envoyConfig.dir : 'off' }, 'limiter policies');
  if (trusted)
    log.warn(
      { port: trusted.port },
      'envoy rate limit API also served WITHOUT the internal token on a listener of its own (LIMITER_ENVOY_TRUSTED_ADDR): keep it on a network only the proxy reaches',
    );
  return { ...service, envoyConfig, envoyTrustedPort: trusted?.port };
}

// The one start-up of every gRPC service: listen (bindAsync), health NOT_SERVING until the
// store answers then SERVING (grpc-health-check), the internal token and error mapping on every
// RPC (wrapService), and a close() that goes NOT_SERVING → tryShutdown with a grace period →
// forceShutdown, then releases the store. `runService` is what a main.ts calls: it logs, and
// closes the service on SIGTERM/SIGINT.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from './logger';
import { Metrics, hostOf, serveMetrics, type MetricsListener } from './metrics';
import { createGrpcServer, handleShutdownSignals, watchHealth, wrapService, type AsyncService, type GrpcServer } from './server';
import { initTracing, shutdownTracing } from './tracing';

/** Options every service server takes, under the same names. */
export interface ServiceBaseOptions {
  /** host:port to listen on (port 0 = any free port). */
  addr: string;
  log: Logger;
  /** The internal token every caller must present. */
  token: string;
  /** How often health re-checks the store (ms); default 1000. */
  healthIntervalMs?: number;
  /** Grace period of close() for in-flight calls (ms); default 5000. */
  graceMs?: number;
  /** Where the service's metrics go (runService gives the one it serves); none are kept by default. */
  metrics?: Metrics;
  /** Maximum age of a client connection (ms) before the client is asked to reconnect; default CONNECTION_AGE_MS. */
  connectionAgeMs?: number;
  /** How long calls in flight may go on after that request before the connection is cut (ms); default CONNECTION_AGE_GRACE_MS. */
  connectionAgeGraceMs?: number;
  /** How long to wait for the store before listening (ms); default WARM_UP_MS. */
  warmUpMs?: number;
}

export interface ServeGrpcOptions<S> extends ServiceBaseOptions {
  /** Short name for logs and the rpc field ('auth', 'market', ...). */
  name: string;
  /** Full gRPC service name, e.g. 'etuservices.auth.v1.AuthService' (the health service name). */
  serviceName: string;
  definition: grpc.ServiceDefinition;
  handlers: AsyncService<S>;
  /** Resolves when the store answers (health: SERVING), rejects when it does not (NOT_SERVING). */
  probe: () => Promise<void>;
  /** Releases the store; called once, after the gRPC server stopped (or failed to listen). */
  release: () => Promise<void> | void;
  /** Runs once listening, before the first health probe (e.g. wait a moment for a connection). */
  beforeHealth?: (srv: GrpcServer) => Promise<void>;
  /** Further services on the same server and token (e.g. StoreService, store-marker.ts). */
  also?: ExtraService[];
  /**
   * Services with streaming calls, added as they are: wrapService wraps unary calls only, so
   * these check the token themselves (hasValidToken) and map their own errors. `drain` runs when
   * shutdown starts (SIGTERM or close()), before tryShutdown: long-lived streams must end there,
   * or they hold the shutdown for the whole grace period and are then cut.
   */
  streaming?: Array<{ definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation; drain?: () => void }>;
}

/** A further gRPC service served beside the main one. */
export interface ExtraService {
  name: string;
  definition: grpc.ServiceDefinition;
  /** The service's AsyncService handlers (typed by the caller against its generated interface). */
  handlers: object;
}

export interface RunningService {
  port: number;
  /** The host of the listen address (the metrics listener binds the same one). */
  host: string;
  metrics: Metrics;
  grpc: GrpcServer;
  /** NOT_SERVING, in-flight calls finish within the grace period, then the store is released. Idempotent. */
  close(): Promise<void>;
}

export async function serveGrpc<S extends grpc.UntypedServiceImplementation>(opts: ServeGrpcOptions<S>): Promise<RunningService> {
  const { log } = opts;
  const metrics = opts.metrics ?? new Metrics({ enabled: false });
  const srv = createGrpcServer({
    serviceNames: [opts.serviceName],
    log,
    connectionAgeMs: opts.connectionAgeMs,
    connectionAgeGraceMs: opts.connectionAgeGraceMs,
  });
  srv.server.addService(
    opts.definition,
    wrapService<S>(opts.handlers, { token: opts.token, log, service: opts.name, definition: opts.definition, metrics }),
  );
  for (const x of opts.also ?? [])
    srv.server.addService(
      x.definition,
      wrapService(x.handlers as unknown as AsyncService<grpc.UntypedServiceImplementation>, {
        token: opts.token,
        log,
        service: x.name,
        definition: x.definition,
        metrics,
      }),
    );
  for (const x of opts.streaming ?? []) {
    srv.server.addService(x.definition, x.implementation);
    if (x.drain) srv.onShutdown(x.drain);
  }
  // A restarted process listens once its store answers (up to WARM_UP_MS): callers waiting for
  // it (client.ts) then find a process that serves at once, not one still opening its pool.
  await warmUp(opts.probe, opts.warmUpMs ?? WARM_UP_MS);
  let port: number;
  try {
    port = await srv.listen(opts.addr);
  } catch (err) {
    await opts.release();
    throw err;
  }
  await opts.beforeHealth?.(srv);
  const stopHealth = watchHealth(srv, opts.probe, { intervalMs: opts.healthIntervalMs ?? 1000, log });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopHealth();
      await srv.shutdown(opts.graceMs ?? 5000);
      await opts.release();
    })());
  return { port, host: hostOf(opts.addr), metrics, grpc: srv, close };
}

/**
 * How long a starting service waits for its store before it listens anyway (NOT_SERVING then).
 * A restarted process whose store is up listens as soon as the store answered once (its pool
 * open, its query compiler loaded): callers waiting for it meet a process that serves at once.
 */
export const WARM_UP_MS = 10_000;

/** Tries `probe` every 50 ms until it resolves or `ms` pass; never rejects. */
async function warmUp(probe: () => Promise<void>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      probe().then(
        () => true,
        () => false,
      ),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), left))),
    ]);
    clearTimeout(timer);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What runService needs besides the start-up itself. */
export interface RunOptions {
  graceMs: number;
  /** Port of the /metrics listener (0 = any free port); null = metrics off (nothing counted, nothing served). */
  metricsPort: number | null;
  /** OTLP/HTTP endpoint of the traces; unset = traces off (no OpenTelemetry module loaded). */
  otlpEndpoint?: string | undefined;
}

/**
 * A main.ts in one call: traces on when an endpoint is set, starts the service with the part's
 * Metrics, serves them on METRICS_PORT (same host as the gRPC address), logs where both
 * listen, closes everything on SIGTERM/SIGINT (exit 0), or logs why it cannot start (exit 1).
 */
export function runService(name: string, log: Logger, start: (metrics: Metrics) => Promise<RunningService>, opts: RunOptions): void {
  const traced = initTracing({ serviceName: name, endpoint: opts.otlpEndpoint });
  const metrics = new Metrics({ enabled: opts.metricsPort !== null });
  let listener: MetricsListener | undefined;
  start(metrics)
    .then(async (s) => {
      try {
        if (opts.metricsPort !== null) listener = await serveMetrics(metrics, { host: s.host, port: opts.metricsPort, log });
      } catch (err) {
        await s.close();
        throw err;
      }
      return s;
    })
    .then(
      (s) => {
        log.info(
          { port: s.port, metrics: listener ? `http://${s.host}:${listener.port}/metrics` : 'off', traces: traced ? 'on' : 'off' },
          `${name} listening`,
        );
        // close() is idempotent: the signal handler shuts gRPC down first, then close() finds it
        // done and releases the store; the metrics listener and the trace exporter go last.
        handleShutdownSignals(s.grpc, {
          graceMs: opts.graceMs,
          log,
          close: async () => {
            await s.close();
            await listener?.close();
            await shutdownTracing();
          },
        });
      },
      (err: unknown) => {
        log.fatal({ err }, 'cannot start');
        process.exit(1);
      },
    );
}

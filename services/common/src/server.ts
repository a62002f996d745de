// gRPC server bootstrap shared by every service: typed async handlers wrapped once (internal
// token check + domain error mapping), grpc.health.v1, explicit message sizes, graceful
// shutdown on SIGTERM/SIGINT.
import { timingSafeEqual, createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from './logger';
import { DomainError } from './errors';
import { incomingContext, logCall, splitMethodPath } from './grpc-observe';
import { Metrics, grpcCallMetrics, secondsSince } from './metrics';
import { inSpan, tracingEnabled } from './tracing';

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** What a handler gets besides its request. */
export interface CallContext {
  metadata: grpc.Metadata;
  /** The caller's deadline, when it set one. */
  deadline: grpc.Deadline | undefined;
  log: Logger;
  /** The caller's request id (x-request-id metadata), when it sent a well-formed one. */
  requestId: string | undefined;
  /** True once the caller cancelled or the deadline passed. */
  readonly cancelled: boolean;
}

type UnaryOf<H> = H extends grpc.handleUnaryCall<infer Req, infer Res> ? (req: Req, ctx: CallContext) => Promise<Res> : never;

/** The async form of a ts-proto `...Server` interface: each unary RPC is `(req, ctx) => Promise<res>`. */
export type AsyncService<S> = { [K in keyof S]: UnaryOf<S[K]> };

/** Metadata key and scheme carrying the internal token between parts. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time check of `authorization: Bearer <token>`. */
export function hasValidToken(md: grpc.Metadata, token: string): boolean {
  const got = md.get('authorization')[0];
  if (typeof got !== 'string') return false;
  return timingSafeEqual(digest(got), digest(bearer(token)));
}

/**
 * Wraps async handlers into grpc-js unary handlers: rejects calls without the internal token
 * (UNAUTHENTICATED), maps DomainErrors to their status, and turns anything else into INTERNAL
 * with a generic message (the details go to the log, never to the caller). Every call, refused
 * or not, is counted (`grpc_server_handled_total`, `grpc_server_handling_seconds`), logged in
 * one line with the caller's request id (logCall), and, when traces are on, is a server span
 * continuing the caller's trace.
 */
export function wrapService<S extends grpc.UntypedServiceImplementation>(
  impl: AsyncService<S>,
  /** token null: no token asked (a listener the operator keeps on a trusted network, e.g. the limiter's for Envoy). */
  opts: { token: string | null; log: Logger; service: string; definition?: grpc.ServiceDefinition; metrics?: Metrics },
): S {
  const out: Record<string, grpc.handleUnaryCall<unknown, unknown>> = {};
  const families = grpcCallMetrics(opts.metrics ?? new Metrics({ enabled: false }), 'server');
  for (const [name, fn] of Object.entries(impl as Record<string, (req: unknown, ctx: CallContext) => Promise<unknown>>)) {
    // '/etuservices.limiter.v1.LimiterService/Consume' from the definition; the handler's name otherwise.
    const path = opts.definition?.[name]?.path ?? `/${opts.service}/${name}`;
    const [grpcService, grpcMethod] = splitMethodPath(path);
    const record = families.forMethod(grpcService, grpcMethod);
    const rpc = `${opts.service}/${grpcMethod}`;
    const spanAttributes = { 'rpc.system': 'grpc', 'rpc.service': grpcService, 'rpc.method': grpcMethod, 'etu.part': opts.service };
    out[name] = (call, callback) => {
      const started = performance.now();
      const incoming = incomingContext(call.metadata);
      const finish = (code: number) => {
        const seconds = secondsSince(started);
        record(code, seconds);
        logCall(opts.log, rpc, code, seconds, incoming.requestId);
      };
      if (opts.token !== null && !hasValidToken(call.metadata, opts.token)) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'missing or invalid internal token' });
        finish(grpc.status.UNAUTHENTICATED);
        return;
      }
      const log = opts.log.child(incoming.requestId ? { rpc, requestId: incoming.requestId } : { rpc });
      const ctx: CallContext = {
        metadata: call.metadata,
        deadline: call.getDeadline(),
        log,
        requestId: incoming.requestId,
        get cancelled() {
          return call.cancelled;
        },
      };
      const run = (): Promise<unknown> => {
        try {
          return fn(call.request, ctx);
        } catch (err) {
          return Promise.reject(err);
        }
      };
      const result = tracingEnabled()
        ? inSpan(
            path.slice(1),
            {
              kind: 'server',
              parent: incoming.traceparent,
              attributes: spanAttributes,
              onEnd: (span, r) => span.setAttribute('rpc.grpc.status_code', r.ok ? 0 : codeOf(r.error)),
            },
            run,
          )
        : run();
      result.then(
        (res) => {
          callback(null, res);
          finish(grpc.status.OK);
        },
        (err: unknown) => {
          if (err instanceof DomainError) {
            callback({ code: err.code, details: err.message });
            finish(err.code);
            return;
          }
          log.error({ err }, 'unexpected error in handler');
          callback({ code: grpc.status.INTERNAL, details: 'internal error' });
          finish(grpc.status.INTERNAL);
        },
      );
    };
  }
  return out as S;
}

function codeOf(err: unknown): number {
  return err instanceof DomainError ? err.code : grpc.status.INTERNAL;
}

/**
 * Connections live at most CONNECTION_AGE_MS (plus a grace for calls in flight), then the
 * server asks the client to reconnect (GOAWAY). Clients re-resolve the service's name when they
 * reconnect, so replicas started after a client (compose --scale, a rolling restart) get their
 * share of calls within about one age instead of never. The reconnection is transparent: calls
 * in flight finish, new ones go over the new connection. A stream that outlives the grace is cut
 * (UNAVAILABLE): the limiter's batch stream client opens a new stream every
 * STREAM_ROTATE_MS, well within the grace (services/limiter/src/client.ts).
 */
export const CONNECTION_AGE_MS = 30_000;
export const CONNECTION_AGE_GRACE_MS = 5_000;

export interface GrpcServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** Sets every registered health service (and '') to the status. */
  setServing(serving: boolean): void;
  /** Binds to host:port (port 0 = any free port) and resolves with the bound port. */
  listen(addr: string): Promise<number>;
  /** NOT_SERVING, then tryShutdown; forceShutdown when the grace period ends first. */
  shutdown(graceMs: number): Promise<void>;
  /** Runs `end` when shutdown starts, before tryShutdown (to end long-lived streams, as the health Watch streams are). */
  onShutdown(end: () => void): void;
}

export function createGrpcServer(opts: {
  serviceNames: string[];
  log: Logger;
  connectionAgeMs?: number;
  connectionAgeGraceMs?: number;
}): GrpcServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_connection_age_ms': opts.connectionAgeMs ?? CONNECTION_AGE_MS,
    'grpc.max_connection_age_grace_ms': opts.connectionAgeGraceMs ?? CONNECTION_AGE_GRACE_MS,
  });
  const names = ['', ...opts.serviceNames];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'NOT_SERVING'])));
  const watches = addHealthService(server, health);
  const onShutdown: Array<() => void> = [];
  let current: boolean | undefined;
  // Once shutting down, nothing (a health watcher's timer, a store's `ready` event) may say
  // SERVING again: callers must keep sending elsewhere until the process is gone.
  let stopping = false;
  const setServing = (serving: boolean) => {
    if (stopping && serving) return;
    if (current === serving) return;
    current = serving;
    for (const n of names) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    opts.log.info({ serving }, serving ? 'health: SERVING' : 'health: NOT_SERVING');
  };
  return {
    server,
    health,
    setServing,
    onShutdown: (end) => void onShutdown.push(end),
    listen: (addr) =>
      new Promise((resolve, reject) => {
        server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, port) => {
          if (err) reject(new Error(`cannot listen on ${addr}: ${err.message}`));
          else resolve(port);
        });
      }),
    shutdown: (graceMs) =>
      new Promise((resolve) => {
        setServing(false);
        stopping = true;
        // Watchers have just been told NOT_SERVING; their streams never end by themselves and
        // would hold tryShutdown for the whole grace period.
        for (const call of watches) call.end();
        watches.clear();
        for (const end of onShutdown) end();
        const timer = setTimeout(() => {
          opts.log.warn({ graceMs }, 'grace period over, forcing shutdown');
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/**
 * grpc.health.v1 on the server, as grpc-health-check serves it, keeping the open Watch streams
 * so that shutdown can end them.
 */
function addHealthService(server: grpc.Server, health: HealthImplementation): Set<grpc.ServerWritableStream<unknown, unknown>> {
  const handlers: grpc.UntypedServiceImplementation = {};
  let definition: grpc.ServiceDefinition | undefined;
  health.addToServer({
    addService: (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
      definition = def;
      Object.assign(handlers, impl);
    },
  });
  const watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const watch = handlers.watch as grpc.handleServerStreamingCall<unknown, unknown>;
  server.addService(definition!, {
    ...handlers,
    watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      watches.add(call);
      const forget = () => watches.delete(call);
      call.on('cancelled', forget);
      call.on('finish', forget);
      watch(call);
    },
  });
  return watches;
}

/**
 * Polls a dependency check and reflects it in health: SERVING while it answers, NOT_SERVING
 * when it fails. Returns a stop function.
 */
export function watchHealth(srv: GrpcServer, check: () => Promise<void>, opts: { intervalMs?: number; log: Logger }): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await check();
      if (!stopped) srv.setServing(true);
    } catch (err) {
      if (!stopped) {
        srv.setServing(false);
        opts.log.debug({ err: (err as Error).message }, 'dependency check failed');
      }
    }
    if (!stopped) {
      timer = setTimeout(() => void tick(), opts.intervalMs ?? 1000);
      timer.unref();
    }
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * Installs SIGTERM/SIGINT handling: health NOT_SERVING, let in-flight calls finish (up to
 * graceMs), close resources, exit 0.
 */
export function handleShutdownSignals(srv: GrpcServer, opts: { graceMs: number; log: Logger; close?: () => Promise<void> }): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    opts.log.info({ signal }, 'shutting down');
    srv
      .shutdown(opts.graceMs)
      .then(() => opts.close?.())
      .then(
        () => {
          opts.log.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          opts.log.error({ err }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

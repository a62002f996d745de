// gRPC client factory: every call carries the internal token, a deadline, and the caller's
// request context (request id, traceparent); every call is counted under grpc_client_* by the
// interceptor installed here (grpc-observe.ts), calls made on `raw` included.
import * as grpc from '@grpc/grpc-js';
import { observeClientCalls, setContextMetadata } from './grpc-observe';
import { Metrics } from './metrics';
import { tracingEnabled } from './tracing';
import type { RequestContext } from './request-context';
import { bearer, MAX_MESSAGE_BYTES } from './server';

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: Callback<Res>,
) => grpc.ClientUnaryCall;

export interface CallOpts {
  /** Deadline for this call, in ms from now (overrides the client's default). */
  timeoutMs?: number;
  /** Extra metadata. */
  metadata?: Record<string, string>;
  /** The request this call serves: its id and traceparent go in the metadata. */
  context?: RequestContext;
}

/** The promise form of a ts-proto client: each unary RPC is `(req, opts?) => Promise<res>`. */
export type PromiseClient<C> = {
  [K in keyof C as C[K] extends UnaryMethod<infer _Req, infer _Res> ? K : never]: C[K] extends UnaryMethod<infer Req, infer Res>
    ? (req: Req, opts?: CallOpts) => Promise<Res>
    : never;
};

export interface ServiceClient<C> {
  call: PromiseClient<C>;
  raw: C;
  /**
   * Resolves when a call may be sent: at once while connected, or when the service was never
   * reached or has been away for long (the call then fails fast, as grpc-js does). During a
   * restart (the connection worked within RECONNECT_GRACE_MS) it waits for the new process, at
   * most until `deadline` (ms since the epoch). Nothing is sent before it resolves, so waiting is
   * safe even for a call that must never be sent twice.
   */
  ready(deadline: number): Promise<void>;
  /**
   * A new Metadata for a call (on `raw` too). During a restart (the connection worked within
   * RECONNECT_GRACE_MS) it asks grpc-js to wait for a connection when the call is dispatched
   * (waitForReady), so a connection that drops between `ready()` and the send delays the call
   * instead of failing it: a pick that finds no connection sends nothing, so waiting is safe.
   */
  metadata(): grpc.Metadata;
  /** Tells the client a call succeeded (the connection works): `raw` callers report it here. */
  succeeded(): void;
  close(): void;
}

/**
 * A restart of a service (SIGTERM, the new process binds 0.3–0.6 s later) must cost no call:
 * for this long after the connection was last seen working, a call waits for it to come back
 * instead of failing at once.
 */
export const RECONNECT_GRACE_MS = 10_000;
/**
 * Reconnect attempts after a lost connection start 100 ms apart and grow to 1 s at most (grpc-js
 * defaults: 1 s, up to 120 s), so a restarted service is reached again within ~0.1–1 s.
 */
export const RECONNECT_BACKOFF = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 } as const;
/**
 * A service name is resolved again at most once a second (grpc-js: every 30 s at most). When a
 * replica stops, a client that knew only that replica's address (it resolved the name before the
 * other replicas started) must learn the others at once, not up to 30 s later: calls wait for
 * them only until their deadline (2 s), and a deploy-check run failed a login that way.
 */
export const DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS = 1000;

type ClientCtor<C> = (new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C) & {
  service: grpc.ServiceDefinition;
};

export interface ClientOptions {
  token: string;
  /** Default deadline per call, in ms. */
  timeoutMs?: number;
  channelOptions?: Partial<grpc.ClientOptions>;
  /** Where the grpc_client_* families go; not counted when absent. */
  metrics?: Metrics;
}

export function createServiceClient<C extends grpc.Client>(Ctor: ClientCtor<C>, addr: string, opts: ClientOptions): ServiceClient<C> {
  const raw = new Ctor(addr, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 5_000,
    // A service name that resolves to several replicas (compose --scale, Kubernetes headless
    // services) gets its calls spread over all of them instead of pinned to the first address.
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    ...RECONNECT_BACKOFF,
    'grpc.dns_min_time_between_resolutions_ms': DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS,
    ...opts.channelOptions,
    // Counted when metrics are on, traced when traces are on; neither: no interceptor at all.
    interceptors: [
      ...(opts.metrics?.enabled || tracingEnabled() ? [observeClientCalls(opts.metrics ?? new Metrics({ enabled: false }))] : []),
      ...(opts.channelOptions?.interceptors ?? []),
    ],
  });
  const auth = bearer(opts.token);
  const defaultTimeout = opts.timeoutMs ?? 2000;
  const channel = raw.getChannel();
  /** When the connection was last seen working (0: never). */
  let lastUp = 0;
  const succeeded = () => {
    lastUp = Date.now();
  };
  const ready = (deadline: number): Promise<void> => {
    if (channel.getConnectivityState(false) === grpc.connectivityState.READY) {
      lastUp = Date.now();
      return Promise.resolve();
    }
    // Never reached, or away for long: no waiting, the call fails fast (UNAVAILABLE).
    if (Date.now() - lastUp > RECONNECT_GRACE_MS) return Promise.resolve();
    return new Promise((resolve) => {
      raw.waitForReady(deadline, (err) => {
        if (!err) lastUp = Date.now();
        resolve();
      });
    });
  };
  const metadata = () => new grpc.Metadata(lastUp > 0 && Date.now() - lastUp <= RECONNECT_GRACE_MS ? { waitForReady: true } : undefined);
  const call: Record<string, (req: unknown, o?: CallOpts) => Promise<unknown>> = {};
  for (const name of Object.keys(Ctor.service)) {
    const method = (raw as unknown as Record<string, UnaryMethod<unknown, unknown>>)[name];
    if (typeof method !== 'function') continue;
    call[name] = (req, o) =>
      new Promise((resolve, reject) => {
        const md = metadata();
        md.set('authorization', auth);
        setContextMetadata(md, o?.context);
        if (o?.metadata) for (const [k, v] of Object.entries(o.metadata)) md.set(k, v);
        const deadline = new Date(Date.now() + (o?.timeoutMs ?? defaultTimeout));
        void ready(deadline.getTime()).then(() =>
          method.call(raw, req, md, { deadline }, (err, res) => {
            if (err) {
              reject(err);
              return;
            }
            succeeded();
            resolve(res);
          }),
        );
      });
  }
  return { call: call as PromiseClient<C>, raw, ready, metadata, succeeded, close: () => raw.close() };
}

/** Asks a server's grpc.health.v1 for a service's status ('' = the whole server). */
export function checkHealth(
  addr: string,
  service = '',
  timeoutMs = 1000,
): Promise<'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN'> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily: only health probes need it
  const { service: healthService } = require('grpc-health-check') as { service: grpc.ServiceDefinition };
  const Ctor = grpc.makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
  const client = new Ctor(addr, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    (client as unknown as { check: UnaryMethod<{ service: string }, { status: string | number }> }).check(
      { service },
      new grpc.Metadata(),
      { deadline },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(normaliseStatus(res.status));
      },
    );
  });
}

function normaliseStatus(s: string | number): 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' {
  const names = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
  return typeof s === 'number' ? (names[s] ?? 'UNKNOWN') : (s as (typeof names)[number]);
}

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
  close(): void;
}

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
    ...opts.channelOptions,
    // Counted when metrics are on, traced when traces are on; neither: no interceptor at all.
    interceptors: [
      ...(opts.metrics?.enabled || tracingEnabled() ? [observeClientCalls(opts.metrics ?? new Metrics({ enabled: false }))] : []),
      ...(opts.channelOptions?.interceptors ?? []),
    ],
  });
  const auth = bearer(opts.token);
  const defaultTimeout = opts.timeoutMs ?? 2000;
  const call: Record<string, (req: unknown, o?: CallOpts) => Promise<unknown>> = {};
  for (const name of Object.keys(Ctor.service)) {
    const method = (raw as unknown as Record<string, UnaryMethod<unknown, unknown>>)[name];
    if (typeof method !== 'function') continue;
    call[name] = (req, o) =>
      new Promise((resolve, reject) => {
        const md = new grpc.Metadata();
        md.set('authorization', auth);
        setContextMetadata(md, o?.context);
        if (o?.metadata) for (const [k, v] of Object.entries(o.metadata)) md.set(k, v);
        const deadline = new Date(Date.now() + (o?.timeoutMs ?? defaultTimeout));
        method.call(raw, req, md, { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
      });
  }
  return { call: call as PromiseClient<C>, raw, close: () => raw.close() };
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

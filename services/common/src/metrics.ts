// Prometheus metrics of one part (prom-client, text format). Each part owns one Metrics: its
// own registry (several parts started in one test process never collide), Node/process default
// metrics, and the families its code declares. `new Metrics({ enabled: false })` hands out
// no-op families: nothing is counted, nothing is served (the bench's metrics-off side).
// The gRPC families keep the names of grpc-ecosystem's Prometheus interceptors, so the
// dashboards written for them work as is.
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger';

export type Labels<L extends string> = Record<L, string>;

export interface CounterFamily<L extends string> {
  /** Adds `by` (default 1) to the series of these labels. */
  inc(labels: Labels<L>, by?: number): void;
  /** The series of these labels, looked up once (for hot paths). */
  child(labels: Labels<L>): { inc(by?: number): void };
}

export interface HistogramFamily<L extends string> {
  observe(labels: Labels<L>, value: number): void;
  child(labels: Labels<L>): { observe(value: number): void };
}

const NOOP_CHILD = { inc(): void {}, observe(): void {} };
const NOOP_FAMILY = { inc(): void {}, observe(): void {}, child: () => NOOP_CHILD };

/** Latency buckets (seconds) for calls across the network: 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  /** Undefined when metrics are off. */
  readonly registry: Registry | undefined;

  constructor(opts: { enabled?: boolean; defaultMetrics?: boolean } = {}) {
    if (opts.enabled === false) return;
    this.registry = new Registry();
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get enabled(): boolean {
    return this.registry !== undefined;
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): CounterFamily<L> {
    const registry = this.registry;
    if (!registry) return NOOP_FAMILY;
    const existing = registry.getSingleMetric(name);
    const c =
      existing instanceof Counter
        ? (existing as Counter<L>)
        : new Counter<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
    return {
      inc: (labels, by = 1) => c.inc(labels, by),
      child: (labels) => {
        const ch = c.labels(labels);
        return { inc: (by = 1) => ch.inc(by) };
      },
    };
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[] = LATENCY_BUCKETS,
  ): HistogramFamily<L> {
    const registry = this.registry;
    if (!registry) return NOOP_FAMILY;
    const existing = registry.getSingleMetric(name);
    const h =
      (existing as Histogram<L> | undefined) ??
      new Histogram<L>({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers: [registry] });
    return {
      observe: (labels, value) => h.observe(labels, value),
      child: (labels) => {
        const ch = h.labels(labels);
        return { observe: (v) => ch.observe(v) };
      },
    };
  }

  /** The Prometheus text exposition of every family ('' when off). */
  async text(): Promise<string> {
    return this.registry ? this.registry.metrics() : '';
  }
}

/** Seconds since `startedMs` (a performance.now() reading). */
export function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

// ---------------------------------------------------------------------------------------------
// gRPC families (grpc-ecosystem names and labels).

/** gRPC status codes as grpc-ecosystem labels them (Go's codes.Code.String()). */
export const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? 'Unknown';
}

type GrpcLabel = 'grpc_type' | 'grpc_service' | 'grpc_method';

/** Records one finished call of one method (a unary call, or one batch of the limiter's stream): its status code and its duration. */
export type CallRecorder = (code: number, seconds: number) => void;

/**
 * `grpc_<side>_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}` and
 * `grpc_<side>_handling_seconds{grpc_type,grpc_service,grpc_method}`; `forMethod` binds the
 * series of one method once, so a call costs two array reads and two increments.
 */
export function grpcCallMetrics(
  m: Metrics,
  side: 'server' | 'client',
): {
  /** `type` 'bidi_stream': the limiter's batch stream, where each batch message counts as one call (docs/architecture.md). */
  forMethod(service: string, method: string, type?: 'unary' | 'bidi_stream'): CallRecorder;
} {
  const what = side === 'server' ? 'completed on the server' : 'completed by the client';
  const handled = m.counter<GrpcLabel | 'grpc_code'>(
    `grpc_${side}_handled_total`,
    `Total number of RPCs ${what}, regardless of success or failure.`,
    ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
  );
  const handling = m.histogram<GrpcLabel>(
    `grpc_${side}_handling_seconds`,
    side === 'server'
      ? 'Histogram of response latency (seconds) of gRPC calls handled by the server.'
      : 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.',
    ['grpc_type', 'grpc_service', 'grpc_method'],
  );
  return {
    forMethod(service, method, type = 'unary') {
      const base = { grpc_type: type, grpc_service: service, grpc_method: method };
      const byCode: { inc(by?: number): void }[] = [];
      // OK exists from the start, so rates and ratios have a series before the first call.
      byCode[0] = handled.child({ ...base, grpc_code: 'OK' });
      byCode[0].inc(0);
      const latency = handling.child(base);
      return (code, seconds) => {
        (byCode[code] ??= handled.child({ ...base, grpc_code: grpcCodeName(code) })).inc();
        latency.observe(seconds);
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The listener.

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on host:port (port 0 = any free port), apart from the part's own port so
 * that the public site never shows it. Anything else is 404.
 */
export function serveMetrics(m: Metrics, opts: { host: string; port: number; log: Logger }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics' || !m.registry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    m.text().then(
      (body) => res.writeHead(200, { 'content-type': m.registry!.contentType, 'cache-control': 'no-store' }).end(body),
      (err: unknown) => {
        opts.log.error({ err }, 'metrics: cannot render');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scraper's keep-alive connection must not hold the process at shutdown.
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on ${opts.host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** The host part of a `host:port` listen address ('[::]:50051' → '::'). */
export function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  const host = i < 0 ? addr : addr.slice(0, i);
  return host.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
}

// OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Off means no work per
// request: no OpenTelemetry module is even loaded (the SDK is required lazily by initTracing),
// and inSpan() is a plain call of its function after one boolean test.
//
// On, each part exports its spans over OTLP/HTTP (JSON) to the endpoint, in batches. Spans are
// made by hand at the boundaries that matter (HTTP in the gateway, the gRPC client factory and
// server wrapper, the Redis and SQL store adapters) instead of by auto-instrumentation, which
// patches modules at load time and would cost on every call of every library.
import type { Attributes, Context, Span, SpanKind, Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { formatTraceparent, parseTraceparent } from './request-context';

/** The span kinds used here, by name (so that callers need not load @opentelemetry/api). */
export type SpanKindName = 'internal' | 'server' | 'client';

function spanKind(api: typeof import('@opentelemetry/api'), name: SpanKindName = 'internal'): SpanKind {
  return { internal: api.SpanKind.INTERNAL, server: api.SpanKind.SERVER, client: api.SpanKind.CLIENT }[name];
}

interface TracingState {
  api: typeof import('@opentelemetry/api');
  tracer: Tracer;
  shutdown(): Promise<void>;
}

let state: TracingState | undefined;

/** True once initTracing has installed a tracer provider in this process. */
export function tracingEnabled(): boolean {
  return state !== undefined;
}

export interface TracingOptions {
  /** service.name of the spans ('gateway', 'limiter', ...). */
  serviceName: string;
  /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to <endpoint>/v1/traces. */
  endpoint?: string;
  /** Instead of OTLP (tests): an exporter such as the SDK's InMemorySpanExporter, spans exported one by one. */
  exporter?: SpanExporter;
}

/**
 * Installs the tracer provider when an endpoint (or an exporter) is given; does nothing, and
 * loads nothing, otherwise. Call once, at start, before serving.
 */
export function initTracing(opts: TracingOptions): boolean {
  if (state) return true;
  if (!opts.endpoint && !opts.exporter) return false;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when traces are on */
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor, SimpleSpanProcessor } =
    require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  let processor;
  if (opts.exporter) {
    processor = new SimpleSpanProcessor(opts.exporter);
  } else {
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.endpoint!.replace(/(?<!\/)\/+$/, '')}/v1/traces` }));
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors: [processor],
  });
  // Registers the provider globally with the AsyncLocalStorage context manager: a span made
  // active by inSpan is the parent of the spans started under it, across awaits.
  provider.register();
  state = { api, tracer: provider.getTracer('etuservices'), shutdown: () => provider.shutdown() };
  return true;
}

/** Flushes and stops the exporter (at shutdown); nothing when traces are off. */
export async function shutdownTracing(): Promise<void> {
  const s = state;
  state = undefined;
  if (!s) return;
  await s.shutdown();
  s.api.trace.disable();
  s.api.context.disable();
}

export interface SpanOptions {
  kind?: SpanKindName;
  attributes?: Attributes;
  /** A traceparent received from the caller: the span continues that trace. */
  parent?: string;
  /** Sets attributes from the result or the error once the call settled (e.g. a status code). */
  onEnd?: (span: Span, result: { ok: true; value: unknown } | { ok: false; error: unknown }) => void;
}

/**
 * Runs `fn` inside a new span made current for everything it awaits; the span ends when the
 * promise settles (status ERROR when it rejects). Traces off: just `fn()`.
 */
export function inSpan<T>(name: string, opts: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const s = state;
  if (!s) return fn();
  const { api } = s;
  const parentCtx = parentContext(s, opts.parent);
  const span = s.tracer.startSpan(name, { kind: spanKind(api, opts.kind), attributes: opts.attributes }, parentCtx);
  return api.context.with(api.trace.setSpan(parentCtx, span), () => {
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.then(
      (value) => {
        opts.onEnd?.(span, { ok: true, value });
        span.end();
        return value;
      },
      (error: unknown) => {
        opts.onEnd?.(span, { ok: false, error });
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 200) : undefined });
        span.end();
        throw error;
      },
    );
  });
}

/** The traceparent of the current span (to send to the next part); undefined when traces are off or no span is current. */
export function currentSpanTraceparent(): string | undefined {
  const s = state;
  if (!s) return undefined;
  const sc = s.api.trace.getSpanContext(s.api.context.active());
  if (!sc || !s.api.isSpanContextValid(sc)) return undefined;
  return formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: (sc.traceFlags & 1) === 1 ? '01' : '00' });
}

export interface OpenSpan {
  /** The traceparent naming this span, to send to the next part. */
  traceparent: string;
  /** Ends the span; an error status when `error` is given. */
  end(attributes?: Attributes, error?: string): void;
}

/** The context a span starts in: the caller's traceparent when given and well-formed, else the current one. */
function parentContext(s: TracingState, parent: string | undefined): Context {
  const { api } = s;
  const remote = parent !== undefined ? parseTraceparent(parent) : undefined;
  if (!remote) return api.context.active();
  return api.trace.setSpanContext(api.ROOT_CONTEXT, {
    traceId: remote.traceId,
    spanId: remote.spanId,
    traceFlags: parseInt(remote.flags, 16) & 1,
    isRemote: true,
  });
}

/**
 * A span for callback-style code (a gRPC client call, one decision of a streamed batch): child of
 * `parent` (a traceparent received from a caller) when given, else of the current span; ended by
 * the caller. Undefined when traces are off.
 */
export function startSpan(name: string, opts: { kind?: SpanKindName; attributes?: Attributes; parent?: string }): OpenSpan | undefined {
  const s = state;
  if (!s) return undefined;
  const { api } = s;
  const span = s.tracer.startSpan(name, { kind: spanKind(api, opts.kind), attributes: opts.attributes }, parentContext(s, opts.parent));
  const sc = span.spanContext();
  return {
    traceparent: formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: (sc.traceFlags & 1) === 1 ? '01' : '00' }),
    end(attributes, error) {
      if (attributes) span.setAttributes(attributes);
      if (error !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.slice(0, 200) });
      span.end();
    },
  };
}

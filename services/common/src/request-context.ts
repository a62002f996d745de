// One request's identity across the parts: a request id (shown on error pages, in every log
// line) and a W3C trace context. The gateway opens the context for each HTTP request; the gRPC
// client factory copies it into the metadata of every call (`x-request-id`, `traceparent`); the
// gRPC server wrapper reads it back and opens the same context around the handler, so a call a
// service makes in turn carries it on.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';

export interface RequestContext {
  requestId: string;
  /** W3C traceparent of the current operation (version 00). */
  traceparent: string;
}

export const REQUEST_ID_HEADER = 'x-request-id';
export const TRACEPARENT_HEADER = 'traceparent';

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `rc` as the current request context (and everything it awaits). */
export function withRequestContext<T>(rc: RequestContext, fn: () => T): T {
  return storage.run(rc, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * An id from outside is used only when it is short and made of safe characters (letters,
 * digits, `.`, `_`, `-`, `:`; 8 to 128): it reaches logs and pages, so anything else is
 * replaced by our own.
 */
export function isWellFormedRequestId(v: unknown): v is string {
  return typeof v === 'string' && /^[\w.:-]{8,128}$/.test(v);
}

/**
 * What a service accepts in x-request-id: one well-formed id, or the ids of a batch serving
 * several requests (comma-separated, at most 32, then `+N` for the ones not named).
 */
export function isWellFormedRequestIdList(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 33 * 129) return false;
  const ids = v.split(',');
  if (ids.length > 33) return false;
  return ids.every((id, i) => isWellFormedRequestId(id) || (i === ids.length - 1 && i > 0 && /^\+\d{1,4}$/.test(id)));
}

export function newRequestId(): string {
  return randomUUID();
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: string;
}

/** Parses a version-00 traceparent; undefined when malformed or all-zero ids. */
export function parseTraceparent(v: unknown): TraceParent | undefined {
  if (typeof v !== 'string') return undefined;
  const m = TRACEPARENT_RE.exec(v);
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

export function formatTraceparent(t: TraceParent): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

/** A new trace (sampled flag set: the ids are logged, whether or not spans are exported). */
export function newTraceparent(): string {
  return formatTraceparent({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), flags: '01' });
}

// Reading gRPC failures on the client side, and the one map from a service's failure to what
// the user sees (grpcProblem).
import { status as Status } from '@grpc/grpc-js';
import type { CallOpts, Logger } from '@etu/common';
import type { Ctx } from '../context';
import { busy, unavailable } from './problem';

export { Status };

/** What every gRPC call of a request carries: the request's id and traceparent (metadata). */
export function callOpts(ctx: Ctx): CallOpts {
  return { context: ctx.state.trace };
}

export function grpcCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const c = (err as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

/** The server's message (`details`), meant for the caller; empty when absent. */
export function grpcDetails(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const d = (err as { details?: unknown }).details;
  return typeof d === 'string' ? d : '';
}

/** True when the service could not answer (down, overloaded, too slow): the page says 503. */
export function isUnavailable(err: unknown): boolean {
  const c = grpcCode(err);
  return c === Status.UNAVAILABLE || c === Status.DEADLINE_EXCEEDED || c === Status.RESOURCE_EXHAUSTED || c === Status.CANCELLED;
}

/** Short description for logs: code name and details, never the request. */
export function describeGrpcError(err: unknown): { code: string; details: string } {
  const c = grpcCode(err);
  const name = c === undefined ? 'NO_CODE' : (Status[c] ?? String(c));
  return { code: name, details: grpcDetails(err) || (err instanceof Error ? err.message : String(err)) };
}

/** French names of the fields the services name in INVALID_ARGUMENT ("field: reason"). */
const FIELD_LABELS: Record<string, string> = {
  last_name: 'Nom',
  first_name: 'Prénom',
  email: 'Adresse e-mail',
  password: 'Mot de passe',
  title: 'Titre',
  category: 'Catégorie',
  price_cents: 'Prix',
  description: 'Description',
  listing_id: 'Article',
  page_token: 'Page',
};

/**
 * The service's message, made readable: "password: 8 caractères au minimum." becomes
 * "Mot de passe : 8 caractères au minimum.". Falls back when the message is empty or odd.
 */
export function userMessage(err: unknown, fallback: string): string {
  const d = grpcDetails(err).trim();
  if (d.length === 0 || d.length > 300) return fallback;
  const m = /^([a-z_.]+): (.+)$/s.exec(d);
  if (!m) return d;
  const label = FIELD_LABELS[m[1]!.split('.').pop()!];
  return label ? `${label} : ${m[2]}` : m[2]!.charAt(0).toUpperCase() + m[2]!.slice(1);
}

/**
 * What a failed call to `dependency` (auth, market, stats) becomes for the user: a service that
 * could not answer → 503 naming it (logged as an error), or 503 "réessayez dans un instant" with
 * Retry-After: 1 when it was only busy (RESOURCE_EXHAUSTED); anything else is returned as is (the
 * caller has already handled the refusals it expects, so it is a 500).
 */
export function grpcProblem(log: Logger, dependency: string, err: unknown): unknown {
  if (!isUnavailable(err)) return err;
  if (grpcCode(err) === Status.RESOURCE_EXHAUSTED) {
    // Busy, not down (e.g. auth's bounded password hashing): a fast "réessayez dans un instant".
    log.warn({ err: describeGrpcError(err) }, `${dependency} busy`);
    return busy(dependency);
  }
  log.error({ err: describeGrpcError(err) }, `${dependency} unavailable`);
  return unavailable(dependency);
}

/** A call whose failures go through grpcProblem (for calls with no refusal to expect). */
export async function callService<T>(log: Logger, dependency: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw grpcProblem(log, dependency, err);
  }
}

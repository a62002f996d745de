// Reading gRPC failures on the client side.
import { status as Status } from '@grpc/grpc-js';

export { Status };

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
  return { code: String(name), details: grpcDetails(err) || (err instanceof Error ? err.message : String(err)) };
}

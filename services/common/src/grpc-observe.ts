// What every gRPC call leaves behind, on both sides: the grpc-ecosystem metrics, the request
// id and trace context in its metadata, a span when traces are on, and (server side) one log
// line per call. The client side is a grpc-js interceptor installed by createServiceClient, so
// it also sees the calls made on the raw client (the limiter's batching client); the server
// side is used by wrapService, the one handler wrapper.
import { InterceptingCall, status as GrpcStatus, type Interceptor, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from './logger';
import { grpcCallMetrics, grpcCodeName, secondsSince, type CallRecorder, type Metrics } from './metrics';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, isWellFormedRequestIdList, type RequestContext } from './request-context';
import { startSpan, tracingEnabled } from './tracing';

/** '/etuservices.limiter.v1.LimiterService/Consume' → ['etuservices.limiter.v1.LimiterService', 'Consume']. */
export function splitMethodPath(path: string): [service: string, method: string] {
  const i = path.lastIndexOf('/');
  return [path.slice(1, i), path.slice(i + 1)];
}

/** Copies a request context into outgoing metadata (the caller's explicit one wins). */
export function setContextMetadata(md: Metadata, rc: RequestContext | undefined): void {
  if (!rc) return;
  md.set(REQUEST_ID_HEADER, rc.requestId);
  md.set(TRACEPARENT_HEADER, rc.traceparent);
}

/**
 * The client interceptor: counts every call under `grpc_client_*` by service, method and code,
 * and, when traces are on, opens a client span (child of the current one) whose traceparent
 * replaces the one in the metadata.
 */
export function observeClientCalls(metrics: Metrics): Interceptor {
  const families = grpcCallMetrics(metrics, 'client');
  const known = new Map<string, { record: CallRecorder; service: string; method: string }>();
  return (options, nextCall) => {
    const path = options.method_definition.path;
    let m = known.get(path);
    if (!m) {
      const [service, method] = splitMethodPath(path);
      m = { record: families.forMethod(service, method), service, method };
      known.set(path, m);
    }
    const started = performance.now();
    const span =
      tracingEnabled() &&
      startSpan(path.slice(1), { kind: 'client', attributes: { 'rpc.system': 'grpc', 'rpc.service': m.service, 'rpc.method': m.method } });
    const rec = m.record;
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (span) metadata.set(TRACEPARENT_HEADER, span.traceparent);
        next(metadata, {
          onReceiveStatus(status: StatusObject, nextStatus: (s: StatusObject) => void) {
            rec(status.code, secondsSince(started));
            if (span)
              span.end(
                { 'rpc.grpc.status_code': status.code },
                status.code === GrpcStatus.OK ? undefined : `${grpcCodeName(status.code)}: ${status.details}`,
              );
            nextStatus(status);
          },
        });
      },
    });
  };
}

/** The request context a caller sent: its request id (when well-formed) and traceparent. */
export function incomingContext(md: Metadata): { requestId: string | undefined; traceparent: string | undefined } {
  const rid = md.get(REQUEST_ID_HEADER)[0];
  const tp = md.get(TRACEPARENT_HEADER)[0];
  return { requestId: isWellFormedRequestIdList(rid) ? rid : undefined, traceparent: typeof tp === 'string' ? tp : undefined };
}

/** Codes that mean the server (or what it depends on) failed, logged at warn; the others are answers. */
const SERVER_SIDE_CODES = new Set([2, 4, 13, 14, 15, 16]); // Unknown, DeadlineExceeded, Internal, Unavailable, DataLoss, Unauthenticated

/**
 * One line per call: method, code, duration and the caller's request id. Level info for answers
 * (OK and the refusals a caller expects), warn for server-side failures and a wrong token — a
 * call is one line, about as many as the gateway's own per-request lines, so info is affordable
 * and LOG_LEVEL=warn keeps only the failures.
 */
export function logCall(log: Logger, rpc: string, code: number, seconds: number, requestId: string | undefined): void {
  const fields = { rpc, code: grpcCodeName(code), ms: Math.round(seconds * 10_000) / 10, requestId };
  if (SERVER_SIDE_CODES.has(code)) log.warn(fields, 'call');
  else log.info(fields, 'call');
}

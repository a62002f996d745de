// First middleware: who this request is for the rest of the system. Its request id (the
// caller's X-Request-Id when TRUST_PROXY says a proxy we trust sets it and it is well-formed,
// else a new UUID) and its W3C trace context, which every gRPC call of the request carries
// (ctx.state.trace, lib/grpc callOpts); the answer's X-Request-Id; the HTTP metrics by route
// template; and, when traces are on, the HTTP server span every other span of the request
// descends from.
import type { Middleware } from 'koa';
import { inSpan, isWellFormedRequestId, newRequestId, newTraceparent, currentSpanTraceparent, tracingEnabled } from '@etu/common';
import type { Ctx, GatewayState } from '../context';
import type { Metrics } from '../lib/metrics';

/** The route template the router matched; requests no route took are grouped, never by raw path. */
function routeOf(ctx: Ctx): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  if (ctx.status === 404) return 'unmatched';
  // Static files and the probes' own answers are the only ones served without a route.
  return ctx.status < 400 ? 'static' : 'other';
}

export function observeMiddleware(metrics: Metrics, opts: { trustProxy: boolean }): Middleware<GatewayState> {
  return async (ctx, next) => {
    const started = performance.now();
    const incoming = opts.trustProxy ? ctx.get('X-Request-Id') : '';
    const requestId = incoming && isWellFormedRequestId(incoming) ? incoming : newRequestId();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      if (tracingEnabled()) {
        await inSpan(
          `${ctx.method} request`,
          {
            kind: 'server',
            // A trusted proxy's trace is continued; anyone else's is not.
            parent: opts.trustProxy ? ctx.get('traceparent') || undefined : undefined,
            attributes: { 'http.request.method': ctx.method, 'etu.part': 'gateway', 'etu.request_id': requestId },
            onEnd: (span) => {
              span.setAttribute('http.route', routeOf(ctx));
              span.setAttribute('http.response.status_code', ctx.status);
              span.updateName(`${ctx.method} ${routeOf(ctx)}`);
            },
          },
          async () => {
            ctx.state.trace = { requestId, traceparent: currentSpanTraceparent() ?? newTraceparent() };
            await next();
          },
        );
      } else {
        ctx.state.trace = { requestId, traceparent: newTraceparent() };
        await next();
      }
    } finally {
      metrics.httpRequest(routeOf(ctx), ctx.method, ctx.status, (performance.now() - started) / 1000);
    }
  };
}

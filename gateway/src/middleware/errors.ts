// First middleware: gives each request an id and a child logger, logs one line per request,
// and turns every failure into a friendly French page (or JSON) carrying the request id —
// never a stack trace. Expected failures are HttpProblems; anything else is a 500, logged in
// full on the server side only.
import type { Middleware } from 'koa';
import type { Logger } from '@etu/common';
import { HttpProblem, statusText, unavailable } from '../lib/problem';
import type { Ctx, GatewayState } from '../context';
import { wantsJson, type Views } from '../lib/views';
import { SessionStoreUnavailable } from './session';
import type { Metrics } from '../lib/metrics';

function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof SessionStoreUnavailable) return unavailable('sessions');
  const e = err as { status?: unknown; statusCode?: unknown; expose?: boolean; type?: string } | null | undefined;
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 600 && status !== 500) {
    // http-errors from Koa, the router or the body parser (413 too large, 400 malformed, 415).
    const t = statusText(status);
    return new HttpProblem(status, t.code, t.message, { title: t.title });
  }
  const t = statusText(500);
  return new HttpProblem(500, t.code, t.message, { title: t.title });
}

export function errorMiddleware(views: Views, baseLog: Logger, metrics: Metrics): Middleware<GatewayState> {
  return async (ctx, next) => {
    // The request id comes from observeMiddleware, just before.
    const { requestId } = ctx.state;
    const started = process.hrtime.bigint();
    ctx.state.log = baseLog.child({ requestId });
    try {
      await next();
      if (ctx.status >= 400 && (ctx.body === undefined || ctx.body === null)) {
        // An unmatched route (404) or a wrong method (405, Allow set by the router): same pages.
        const t = statusText(ctx.status);
        throw new HttpProblem(ctx.status, t.code, t.message, { title: t.title });
      }
    } catch (err) {
      if (err instanceof SessionStoreUnavailable) metrics.sessionStoreError();
      const p = toProblem(err);
      if (p.status >= 500 && !(err instanceof HttpProblem)) ctx.state.log.error({ err }, 'request failed');
      else if (p.status >= 500) ctx.state.log.warn({ status: p.status, code: p.code, ...p.opts.details }, 'request refused');
      render(views, ctx, p);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      ctx.state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}

function render(views: Views, ctx: Ctx, p: HttpProblem): void {
  ctx.status = p.status;
  for (const [k, v] of Object.entries(p.opts.headers ?? {})) ctx.set(k, v);
  if (wantsJson(ctx)) {
    const fields = p.opts.fields && Object.keys(p.opts.fields).length > 0 ? { champs: p.opts.fields } : {};
    ctx.body = { error: p.code, message: p.message, requestId: ctx.state.requestId, ...p.opts.details, ...fields };
    return;
  }
  const title = p.opts.title ?? statusText(p.status).title;
  try {
    if (p.opts.view) {
      ctx.type = 'html';
      const retryAt = p.opts.details?.reessayerA;
      ctx.body = views.render(ctx, p.opts.view.name, {
        ...p.opts.view.data,
        error: { status: p.status, title, message: p.message, retryAt, fields: p.opts.fields ?? {} },
      });
      return;
    }
    ctx.type = 'html';
    ctx.body = views.render(ctx, 'erreur.njk', { status: p.status, title, message: p.message, details: p.opts.details ?? {} });
  } catch (renderErr) {
    // A broken template must not leak anything either.
    ctx.state.log.error({ err: renderErr }, 'error page failed to render');
    ctx.type = 'text';
    ctx.body = `${title}. Identifiant de la requête : ${ctx.state.requestId}\n`;
  }
}

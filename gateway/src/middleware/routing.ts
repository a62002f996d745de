// Routing before anything else that could refuse a request: a path no router knows → 404 for
// every method (TRACE included), a method a known path does not support → 405 with `Allow`,
// OPTIONS → 204 with `Allow`. Only then do the session, the body parser and the CSRF check run,
// so a client's mistake is never answered 403 "formulaire expiré" (nor counted as a CSRF
// refusal), and never 501 or another 5xx.
import type { Router } from '@koa/router';
import type { Middleware } from 'koa';
import { HttpProblem, statusText } from '../lib/problem';

export function routeFirst<S>(routers: Router<S>[]): Middleware<S> {
  return async (ctx, next) => {
    const matches = routers.map((r) => r.match(ctx.path, ctx.method));
    if (matches.some((m) => m.route)) {
      await next();
      return;
    }
    const allowed = new Set(matches.flatMap((m) => m.path.flatMap((layer) => layer.methods)));
    if (allowed.size === 0) {
      const t = statusText(404);
      throw new HttpProblem(404, t.code, t.message, { title: t.title });
    }
    const allow = [...allowed, 'OPTIONS'].sort().join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    const t = statusText(405);
    throw new HttpProblem(405, t.code, t.message, { title: t.title, headers: { Allow: allow } });
  };
}

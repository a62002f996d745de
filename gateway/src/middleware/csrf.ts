// Synchronizer-token CSRF protection (OWASP): every session holds a random token; every form
// carries it in `_csrf` (programs may send it as `X-CSRF-Token`); any state-changing request
// whose token is missing or differs from the session's is refused with 403 before a route runs.
// A request without a session has no token to match, so it is refused too (login included:
// the login form's GET creates the anonymous session that holds the token).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Session } from '../lib/session';
import { HttpProblem } from '../lib/problem';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function tokensMatch(expected: string | undefined, got: unknown): boolean {
  if (typeof expected !== 'string' || expected.length === 0 || typeof got !== 'string' || got.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(got).digest();
  return timingSafeEqual(a, b);
}

export function csrfMiddleware<S extends { session: Session }>(onRefused?: () => void): Middleware<S> {
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const body = (ctx.request as unknown as { body?: unknown }).body;
      const fromBody = body && typeof body === 'object' ? (body as Record<string, unknown>)._csrf : undefined;
      const got = fromBody ?? ctx.get('x-csrf-token');
      if (!tokensMatch(ctx.state.session.csrf, got)) {
        onRefused?.();
        throw new HttpProblem(403, 'csrf', 'Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.', {
          title: 'Formulaire expiré',
        });
      }
    }
    await next();
  };
}

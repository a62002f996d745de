// CSRF protection (OWASP) of every state-changing request, refused with 403 before a route runs
// when its token (`_csrf` in the form, or `X-CSRF-Token` for programs) is missing or wrong:
// - a request with a session (a logged-in user) must carry the session's synchronizer token;
// - a request without one (a visitor: the login and sign-up forms) must carry the form token of
//   its `etu_form` cookie (lib/form-token.ts: an HMAC of the cookie with SESSION_KEYS), so that
//   no visitor needs server-side state (issue 21). A visitor without that cookie is refused.
// Exactly one token is acceptable for a request, as before: a session's token is never
// replaced by a form token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware, ParameterizedContext } from 'koa';
import { formCookieName, formTokenMatches } from '../lib/form-token';
import type { Session } from '../lib/session';
import { HttpProblem } from '../lib/problem';

/** The methods that change nothing: no CSRF token, same-origin or body-format check for them. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export function tokensMatch(expected: string | undefined, got: unknown): boolean {
  if (typeof expected !== 'string' || expected.length === 0 || typeof got !== 'string' || got.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(got).digest();
  return timingSafeEqual(a, b);
}

export interface CsrfOptions {
  /** SESSION_KEYS: the first signs form tokens, every one verifies. */
  keys: readonly string[];
  /** Whether this request's cookies are Secure (as the session cookie's). */
  secure: (ctx: ParameterizedContext) => boolean;
  onRefused?: () => void;
}

export function csrfMiddleware<S extends { session: Session }>(opts: CsrfOptions): Middleware<S> {
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const body = (ctx.request as unknown as { body?: unknown }).body;
      const fromBody = body && typeof body === 'object' ? (body as Record<string, unknown>)._csrf : undefined;
      const got = fromBody ?? ctx.get('x-csrf-token');
      const session = ctx.state.session;
      const ok = session.exists
        ? tokensMatch(session.csrf, got)
        : formTokenMatches(opts.keys, ctx.cookies.get(formCookieName(opts.secure(ctx))), got);
      if (!ok) {
        opts.onRefused?.();
        throw new HttpProblem(403, 'csrf', 'Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.', {
          title: 'Formulaire expiré',
        });
      }
    }
    await next();
  };
}

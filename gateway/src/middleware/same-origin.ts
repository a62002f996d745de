// Defence in depth before the CSRF token check: a state-changing request that a browser says
// comes from another site (`Sec-Fetch-Site: cross-site`), or whose `Origin` is not this site's
// own origin (scheme, host and port as this request reached us, `null` included), is refused.
// Requests without either header (older browsers, scripts) are left to the token check.
import type { Middleware } from 'koa';
import { HttpProblem } from '../lib/problem';
import { SAFE_METHODS } from './csrf';

export const CROSS_SITE_MESSAGE =
  'Ce formulaire ne vient pas de ce site : la demande est refusée. Ouvrez le site directement et réessayez.';

export function sameOriginMiddleware(onRefused?: () => void): Middleware {
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin').toLowerCase();
      // Koa 3's ctx.origin is the Origin header itself: ours is rebuilt from the request.
      const ours = `${ctx.protocol}://${ctx.host}`.toLowerCase();
      if (ctx.get('sec-fetch-site') === 'cross-site' || (origin !== '' && origin !== ours)) {
        onRefused?.();
        throw new HttpProblem(403, 'origine_refusee', CROSS_SITE_MESSAGE, { title: 'Formulaire refusé' });
      }
    }
    await next();
  };
}

// Browsing (free for everyone, visitors included): the search, one item, and the purchase
// confirmation. The confirmation's form posts to /services/achat, the one counted Achat call.
import { Router } from '@koa/router';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { POLICY, quotaLine } from '../lib/limits';
import { listingJson } from '../lib/market-view';
import { requireUser } from '../lib/views';
import { itemPage, searchJson, searchPage } from '../pages/articles';

export function articlesRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();

  router.get('/articles', async (ctx) => {
    const page = await searchPage(w, ctx);
    w.views.respond(ctx, 200, 'articles.njk', page, () => searchJson(page, ctx.state.session.user?.id));
  });

  router.get('/articles/:id', async (ctx) => {
    const page = await itemPage(w, ctx, ctx.params.id ?? '');
    w.views.respond(ctx, 200, 'article.njk', page, () => ({
      article: listingJson(page.raw, ctx.state.session.user?.id),
      vendeur: page.item.sellerName || null,
      vendeurSupprime: page.sellerDeleted,
    }));
  });

  // The confirmation step: a summary and one button. Showing it counts nothing; its POST does.
  router.get('/articles/:id/acheter', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const [page, decision] = await Promise.all([itemPage(w, ctx, ctx.params.id ?? ''), w.quota.show(ctx, POLICY.service, user.id)]);
    const data = { ...page, quota: quotaLine(decision, w.config.DISPLAY_TIME_ZONE) };
    w.views.respond(ctx, 200, 'acheter.njk', data, () => ({
      article: listingJson(page.raw, user.id),
      achetable: !page.own && !page.item.sold,
      csrfToken: ctx.state.session.csrf,
    }));
  });

  return router;
}

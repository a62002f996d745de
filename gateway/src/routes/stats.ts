// /statistiques (pages/statistics.ts): admins only.
import { Router } from '@koa/router';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { requireUser } from '../lib/views';
import { statisticsJson, statisticsPage } from '../pages/statistics';

export function statsRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  router.get('/statistiques', async (ctx) => {
    const me = requireUser(ctx);
    if (!me) return;
    const data = await statisticsPage(w, ctx, me);
    w.views.respond(ctx, 200, 'statistiques.njk', data, () => statisticsJson(data));
  });
  return router;
}

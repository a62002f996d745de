// Accueil: what EtuServices is and its rule, the latest items; links to log in or sign up, or to the services.
import { Router } from '@koa/router';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { userJson } from '../lib/users';
import { latestItems } from '../pages/articles';

export function homeRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  router.get('/', async (ctx) => {
    const user = ctx.state.session.user;
    // The latest items, for visitors too (browsing is free); the page stays up without them.
    const latest = await latestItems(w, ctx);
    w.views.respond(ctx, 200, 'accueil.njk', { latest }, () => ({
      nom: 'EtuServices',
      regle: { appels: 10, fenetreMinutes: 10 },
      utilisateur: user ? userJson(user) : null,
      liens: user
        ? { services: '/services', articles: '/articles' }
        : { connexion: '/login', inscription: '/inscription', articles: '/articles' },
      derniersArticles: latest
        ? latest.items.map((i) => ({ id: i.id, titre: i.title, prixCentimes: i.priceCents, lien: `/articles/${i.id}` }))
        : null,
    }));
  });
  return router;
}

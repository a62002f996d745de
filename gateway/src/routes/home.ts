// Accueil: what EtuServices is and its rule; links to log in or sign up, or to the services.
import { Router } from '@koa/router';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { userJson } from '../lib/users';

export function homeRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  router.get('/', (ctx) => {
    const user = ctx.state.session.user;
    w.views.respond(ctx, 200, 'accueil.njk', {}, () => ({
      nom: 'EtuServices',
      regle: { appels: 10, fenetreMinutes: 10 },
      utilisateur: user ? userJson(user) : null,
      liens: user ? { services: '/services' } : { connexion: '/login', inscription: '/inscription' },
    }));
  });
  return router;
}

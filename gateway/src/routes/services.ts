// The services page and its two services, Vente and Achat (flows/service-call.ts). Only a form
// the gateway cannot even read (a price that is not a number, an unknown category, no article
// id) is refused before counting.
import { Router } from '@koa/router';
import { stats } from '@etu/proto';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { serviceCall } from '../flows/service-call';
import { formatEuros, parseEuros } from '../lib/format';
import { field } from '../lib/forms';
import { categoryFromWord, listingJson } from '../lib/market-view';
import { HttpProblem } from '../lib/problem';
import { flash, requireUser, seeOther } from '../lib/views';
import { servicesJson, servicesPage, servicesPageView, type VenteForm } from '../pages/services';

export function servicesRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const { market } = w.clients;

  router.get('/services', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await servicesPage(w, ctx, user);
    ctx.state.session.ensure();
    w.views.respond(ctx, 200, 'services.njk', page, () => servicesJson(ctx, user, page));
  });

  router.post('/services/vente', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const form: VenteForm = {
      titre: field(ctx, 'titre'),
      categorie: field(ctx, 'categorie').trim().toLowerCase(),
      prix: field(ctx, 'prix').trim(),
      description: field(ctx, 'description'),
    };
    const category = categoryFromWord(form.categorie);
    const priceCents = parseEuros(form.prix);
    if (category === undefined || priceCents === null) {
      const message = category === undefined ? 'Choisissez une catégorie : livre, DVD ou autre.' : 'Indiquez un prix en euros, par exemple 12,50.';
      const view = await servicesPageView(w, ctx, user, form);
      throw new HttpProblem(400, category === undefined ? 'categorie_invalide' : 'prix_invalide', message, { title: 'Vente', view });
    }
    const { listing } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () => market.createListing({ sellerId: user.id, title: form.titre, category, priceCents, description: form.description }),
      () => servicesPageView(w, ctx, user, form),
    );
    ctx.state.log.info({ userId: user.id, listingId: listing?.id }, 'listing created');
    flash(ctx, { kind: 'succes', text: `Votre article « ${listing?.title ?? form.titre} » est en vente pour ${formatEuros(priceCents)}.` });
    seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined });
  });

  router.post('/services/achat', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const articleId = field(ctx, 'article_id').trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(articleId)) {
      throw new HttpProblem(400, 'article_invalide', 'Article inconnu : choisissez un article dans la liste.', { title: 'Achat' });
    }
    const { listing } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_ACHAT,
      () => market.purchase({ listingId: articleId, buyerId: user.id }),
      () => servicesPageView(w, ctx, user),
    );
    ctx.state.log.info({ userId: user.id, listingId: articleId }, 'listing bought');
    flash(ctx, {
      kind: 'succes',
      text: listing ? `Vous avez acheté « ${listing.title} » pour ${formatEuros(listing.priceCents)}.` : 'Achat effectué.',
    });
    seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined });
  });

  return router;
}

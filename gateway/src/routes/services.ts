// The services page and its two services, Vente and Achat (flows/service-call.ts). Only a form
// the gateway cannot even read (a price that is not a number, an unknown category, no article
// id), or one holding a character market refuses in every listing, is refused before counting.
import { Router } from '@koa/router';
import { market as mk, stats } from '@etu/proto';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import { serviceCall } from '../flows/service-call';
import { formatEuros, parseEuros } from '../lib/format';
import { field, fieldOfMessage, hiddenCharacterMistake, idempotencyKey } from '../lib/forms';
import { CATEGORIES, categoryFromWord, listingJson } from '../lib/market-view';
import { callOpts, isUnavailable } from '../lib/grpc';
import { HttpProblem } from '../lib/problem';
import { flash, requireUser, seeOther } from '../lib/views';
import { purchasesJson, purchasesPage, saleMail } from '../pages/purchases';
import { servicesJson, servicesPage, servicesPageView, type VenteForm } from '../pages/services';

/** The sale form's labels, as the market's messages start, and their fields. */
export const VENTE_LABELS = { Titre: 'titre', Description: 'description', Prix: 'prix', Catégorie: 'categorie' } as const;

export function servicesRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const { market } = w.clients;

  router.get('/services', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await servicesPage(w, ctx, user);
    w.views.respond(ctx, 200, 'services.njk', page, () => servicesJson(ctx, user, page));
  });

  router.get('/achats', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await purchasesPage(w, ctx, user);
    w.views.respond(ctx, 200, 'achats.njk', page, () => purchasesJson(page));
  });

  router.post('/services/vente', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const form: VenteForm = {
      titre: field(ctx, 'titre'),
      categorie: field(ctx, 'categorie').trim().toLowerCase(),
      prix: field(ctx, 'prix').trim(),
      description: field(ctx, 'description'),
      cle: idempotencyKey(ctx, 'cle'),
    };
    const category = categoryFromWord(form.categorie);
    const priceCents = parseEuros(form.prix);
    // market refuses the same characters; the gateway says so before a call is counted.
    const hidden = hiddenCharacterMistake([
      [form.titre, 'Titre', 'le titre'],
      [form.description, 'Description', 'la description'],
    ]);
    if (category === undefined || priceCents === null || hidden) {
      const [code, message, name] =
        category === undefined
          ? ['categorie_invalide', 'Choisissez une catégorie : livre, DVD ou autre.', 'categorie']
          : priceCents === null
            ? ['prix_invalide', 'Indiquez un prix en euros, par exemple 12,50.', 'prix']
            : ['champ_invalide', hidden!, undefined];
      const fields = name ? { [name]: message } : fieldOfMessage(message, VENTE_LABELS);
      const view = await servicesPageView(w, ctx, user, form);
      throw new HttpProblem(400, code, message, { title: 'Vente', view, fields });
    }
    // The form (or the Idempotency-Key header) names this sale: sent again, it is answered with
    // the listing it created, uncounted.
    const { listing, replayed } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () =>
        market.createListing(
          { sellerId: user.id, title: form.titre, category, priceCents, description: form.description, idempotencyKey: form.cle },
          callOpts(ctx),
        ),
      () => servicesPageView(w, ctx, user, form),
      form.cle
        ? async () => {
            const found = await market.findSale({ sellerId: user.id, idempotencyKey: form.cle }, callOpts(ctx));
            return found.listing ? { listing: found.listing, replayed: true } : undefined;
          }
        : undefined,
      // A quota refusal shows the sale form alone, as filled in: no market call for a refusal.
      { labels: VENTE_LABELS, keepForm: () => Promise.resolve({ name: 'vente-refusee.njk', data: { form, categories: CATEGORIES } }) },
    );
    ctx.state.log.info(
      { userId: user.id, listingId: listing?.id, replayed },
      replayed ? 'listing already created by this form' : 'listing created',
    );
    flash(ctx, {
      kind: 'succes',
      text: `Votre article « ${listing?.title ?? form.titre} » est en vente pour ${formatEuros(listing?.priceCents ?? priceCents)}.`,
    });
    seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined, rejoue: replayed });
  });

  router.post('/services/achat', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const articleId = field(ctx, 'article_id').trim();
    if (articleId.length > 64 || !/^[\w-]{1,64}$/.test(articleId)) {
      throw new HttpProblem(400, 'article_invalide', 'Article inconnu : choisissez un article dans la liste.', { title: 'Achat' });
    }
    // Already this user's (a retry after a lost answer): a success, uncounted. Any other state
    // (available, sold to another, unknown) is the purchase's to decide and count.
    const { listing, replayed } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_ACHAT,
      () => market.purchase({ listingId: articleId, buyerId: user.id }, callOpts(ctx)),
      () => servicesPageView(w, ctx, user),
      async () => {
        const found = await market.getListing({ id: articleId }, callOpts(ctx)).catch((err: unknown) => {
          if (isUnavailable(err)) throw err;
          return undefined;
        });
        const l = found?.listing;
        return l?.status === mk.ListingStatus.LISTING_STATUS_SOLD && l.buyerId === user.id ? { listing: l, replayed: true } : undefined;
      },
    );
    ctx.state.log.info(
      { userId: user.id, listingId: articleId, replayed },
      replayed ? 'listing already bought by this user' : 'listing bought',
    );
    // The seller is told by e-mail after this answer; a mail that cannot go never touches the purchase.
    if (listing && !replayed) w.mail.enqueue('achat', () => saleMail(w, listing));
    flash(ctx, {
      kind: 'succes',
      text: listing
        ? `Vous avez acheté « ${listing.title} » pour ${formatEuros(listing.priceCents)}. Les coordonnées du vendeur sont dans « Mes achats ».`
        : 'Achat effectué.',
    });
    seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined, rejoue: replayed });
  });

  return router;
}

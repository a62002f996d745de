// The seller's changes to a listing (issue 19, item 3): the price and the description of an unsold
// listing, and its withdrawal. Each POST is one counted Vente call (flows/service-call.ts), like a
// sale: they are writes to the selling service, and uncounted they would be an unlimited stream
// of writes past the quota (docs/rapport.md). The market's conditional UPDATE or DELETE decides
// whether the listing is still the seller's and unsold, so a purchase racing them wins or loses
// whole. The forms are plain HTML forms with the CSRF token, as every other form.
import { Router } from '@koa/router';
import { stats } from '@etu/proto';
import type { Ctx, GatewayState } from '../context';
import type { Wiring } from '../deps';
import { serviceCall } from '../flows/service-call';
import { formatEuros, parseEuros } from '../lib/format';
import { field, fieldOfMessage, listingMistake } from '../lib/forms';
import { callOpts } from '../lib/grpc';
import { listingJson } from '../lib/market-view';
import { removePhotoFiles } from '../lib/photo-files';
import { HttpProblem } from '../lib/problem';
import { flash, requireUser, seeOther } from '../lib/views';
import { editPageView, ownListingPage, refusedEditView, refusedWithdrawView, type EditForm } from '../pages/seller';

/** The edit form's labels, as the market's messages start, and their fields. */
const EDIT_LABELS = { Prix: 'prix', Description: 'description' } as const;

/** The listing id of the path; anything but a positive number is an unknown item (404). */
function listingId(ctx: Ctx): string {
  const id = (ctx.params as Record<string, string | undefined>).id ?? '';
  if (!/^[1-9]\d{0,9}$/.test(id)) {
    throw new HttpProblem(404, 'article_introuvable', "Cet article n'existe pas ou plus. Il a peut-être été retiré.", {
      title: 'Article introuvable',
    });
  }
  return id;
}

export function sellerRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const { market } = w.clients;

  // Showing the forms counts nothing; their POSTs do.
  router.get('/articles/:id/modifier', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await ownListingPage(w, ctx, user, listingId(ctx));
    w.views.respond(ctx, 200, 'article-modifier.njk', page, () => ({
      article: listingJson(page.raw, user.id),
      csrfToken: ctx.state.session.csrf,
    }));
  });

  router.get('/articles/:id/retirer', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await ownListingPage(w, ctx, user, listingId(ctx));
    w.views.respond(ctx, 200, 'article-retirer.njk', page, () => ({
      article: listingJson(page.raw, user.id),
      csrfToken: ctx.state.session.csrf,
    }));
  });

  router.post('/articles/:id/modifier', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const id = listingId(ctx);
    const form: EditForm = { prix: field(ctx, 'prix').trim(), description: field(ctx, 'description') };
    const priceCents = parseEuros(form.prix);
    // Refused before a call is counted: a price the gateway cannot read, anything market refuses.
    const mistake = priceCents === null ? undefined : listingMistake({ priceCents, description: form.description });
    if (priceCents === null || mistake) {
      const message = priceCents === null ? 'Indiquez un prix en euros, par exemple 12,50.' : mistake!;
      const fields = priceCents === null ? { prix: message } : fieldOfMessage(message, EDIT_LABELS);
      const view = await editPageView(w, ctx, user, id, form);
      throw new HttpProblem(400, priceCents === null ? 'prix_invalide' : 'champ_invalide', message, {
        title: 'Modifier l’article',
        view,
        fields,
      });
    }
    const { listing } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () => market.updateListing({ listingId: id, sellerId: user.id, priceCents, description: form.description }, callOpts(ctx)),
      () => editPageView(w, ctx, user, id, form),
      undefined,
      { labels: EDIT_LABELS, keepForm: () => Promise.resolve(refusedEditView(id, form)) },
    );
    ctx.state.log.info({ userId: user.id, listingId: id }, 'listing updated');
    const title = listing?.title ?? '';
    flash(ctx, { kind: 'succes', text: `Votre article « ${title} » est modifié : il est en vente pour ${formatEuros(priceCents)}.` });
    seeOther(ctx, `/articles/${id}`, { article: listing ? listingJson(listing, user.id) : undefined });
  });

  router.post('/articles/:id/retirer', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const id = listingId(ctx);
    const { unusedPhotos } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () => market.withdrawListings({ sellerId: user.id, listingId: id }, callOpts(ctx)),
      () => Promise.resolve(undefined),
      undefined,
      { keepForm: () => Promise.resolve(refusedWithdrawView(id)) },
    );
    await removePhotoFiles(w, ctx, unusedPhotos);
    ctx.state.log.info({ userId: user.id, listingId: id, photosRemoved: unusedPhotos.length }, 'listing withdrawn');
    flash(ctx, {
      kind: 'succes',
      text: 'Votre article est retiré de la vente : il n’apparaît plus sur le site et ses photos sont effacées.',
    });
    seeOther(ctx, '/services', { retire: id });
  });

  return router;
}

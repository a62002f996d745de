// The services page and its two services, Vente and Achat (flows/service-call.ts). Only a form
// the gateway cannot even read (a price that is not a number, an unknown category, no article
// id), or one holding a character market refuses in every listing, is refused before counting.
import { Router } from '@koa/router';
import { market as mk, stats } from '@etu/proto';
import type { GatewayState, Uploads } from '../context';
import type { Wiring } from '../deps';
import { serviceCall } from '../flows/service-call';
import { formatEuros, parseEuros } from '../lib/format';
import { field, fieldOfMessage, idempotencyKey, listingMistake } from '../lib/forms';
import { CATEGORIES, categoryFromWord, CONDITIONS, conditionFromWord, listingJson } from '../lib/market-view';
import { callOpts, grpcCode, isUnavailable, Status } from '../lib/grpc';
import { PhotoRefused, PHOTOS_MAX, processPhoto, type ProcessedPhoto } from '@etu/common/photos';
import { HttpProblem } from '../lib/problem';
import { flash, requireUser, seeOther } from '../lib/views';
import { purchasesJson, purchasesPage, saleMail } from '../pages/purchases';
import { servicesJson, servicesPage, servicesPageView, type VenteForm } from '../pages/services';

/** The sale form's labels, as the market's messages start, and their fields. */
export const VENTE_LABELS = { Titre: 'titre', Description: 'description', Prix: 'prix', Catégorie: 'categorie', État: 'etat' } as const;

/** The form's files, checked and re-encoded (@etu/common/photos); PhotoRefused names the first bad one. */
async function readPhotos(uploads: Uploads | undefined): Promise<ProcessedPhoto[]> {
  if (!uploads) return [];
  if (uploads.tooMany) throw new PhotoRefused(`Au plus ${PHOTOS_MAX} photos par article : choisissez-en ${PHOTOS_MAX} au maximum.`);
  const out: ProcessedPhoto[] = [];
  for (const [i, f] of uploads.files.entries()) {
    const label = uploads.files.length > 1 ? `La photo n° ${i + 1}` : 'La photo';
    if (f.truncated) throw new PhotoRefused(`${label} dépasse 5 Mo.`);
    const p = await processPhoto(f.bytes, label);
    // The same picture chosen twice is one photo.
    if (!out.some((o) => o.name === p.name)) out.push(p);
  }
  return out;
}

/**
 * Stores the photos' files, then runs `create` with their names. When the market refuses the
 * sale, the files this call wrote are removed again (a shared file stays); when the outcome is
 * unknown (the market unreachable, a deadline), they stay: the sale may have been made.
 */
async function withStoredPhotos<T>(w: Wiring, photos: ProcessedPhoto[], create: (names: string[]) => Promise<T>): Promise<T> {
  const created = await w.photos.save(photos);
  try {
    return await create(photos.map((p) => p.name));
  } catch (err) {
    const refused: (number | undefined)[] = [Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.NOT_FOUND, Status.ALREADY_EXISTS];
    if (refused.includes(grpcCode(err))) await w.photos.remove(created);
    throw err;
  }
}

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
    w.views.respond(ctx, 200, 'achats.njk', page, () => purchasesJson(page, user));
  });

  router.post('/services/vente', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const form: VenteForm = {
      titre: field(ctx, 'titre'),
      categorie: field(ctx, 'categorie').trim().toLowerCase(),
      etat: field(ctx, 'etat').trim().toLowerCase().slice(0, 32),
      prix: field(ctx, 'prix').trim(),
      description: field(ctx, 'description'),
      cle: idempotencyKey(ctx, 'cle'),
    };
    const category = categoryFromWord(form.categorie);
    const condition = conditionFromWord(form.etat);
    const priceCents = parseEuros(form.prix);
    // What market would refuse (lengths, price range, control and invisible characters) is said
    // before a call is counted.
    const mistake = priceCents === null ? undefined : listingMistake({ title: form.titre, priceCents, description: form.description });
    if (category === undefined || condition === undefined || priceCents === null || mistake) {
      const [code, message, name] =
        category === undefined
          ? ['categorie_invalide', 'Choisissez une catégorie : livre, DVD ou autre.', 'categorie']
          : condition === undefined
            ? ['etat_invalide', "Indiquez l'état de l'article : neuf, très bon état, bon état ou état correct.", 'etat']
            : priceCents === null
              ? ['prix_invalide', 'Indiquez un prix en euros, par exemple 12,50.', 'prix']
              : ['champ_invalide', mistake!, undefined];
      const fields = name ? { [name]: message } : fieldOfMessage(message, VENTE_LABELS);
      const view = await servicesPageView(w, ctx, user, form);
      throw new HttpProblem(400, code, message, { title: 'Vente', view, fields });
    }
    // The photos are checked and re-encoded before the quota is asked: a refused file costs no call.
    let photos: ProcessedPhoto[];
    try {
      photos = await readPhotos(ctx.state.uploads);
    } catch (err) {
      if (!(err instanceof PhotoRefused)) throw err;
      const view = await servicesPageView(w, ctx, user, form);
      const fields = { photos: `${err.message} Choisissez à nouveau vos photos : le reste du formulaire est conservé.` };
      throw new HttpProblem(400, 'photo_invalide', err.message, { title: 'Vente', view, fields });
    }
    // The form (or the Idempotency-Key header) names this sale: sent again, it is answered with
    // the listing it created, uncounted.
    const { listing, replayed } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () =>
        withStoredPhotos(w, photos, (names) =>
          market.createListing(
            {
              sellerId: user.id,
              title: form.titre,
              category,
              condition,
              priceCents,
              description: form.description,
              idempotencyKey: form.cle,
              photos: names,
            },
            callOpts(ctx),
          ),
        ),
      () => servicesPageView(w, ctx, user, form),
      form.cle
        ? {
            key: form.cle,
            done: async () => {
              const found = await market.findSale({ sellerId: user.id, idempotencyKey: form.cle }, callOpts(ctx));
              return found.listing ? { listing: found.listing, replayed: true } : undefined;
            },
          }
        : undefined,
      // A quota refusal shows the sale form alone, as filled in: no market call for a refusal.
      {
        labels: VENTE_LABELS,
        keepForm: () => Promise.resolve({ name: 'vente-refusee.njk', data: { form, categories: CATEGORIES, conditions: CONDITIONS } }),
      },
    );
    ctx.state.log.info(
      { userId: user.id, listingId: listing?.id, replayed },
      replayed ? 'listing already created by this form' : 'listing created',
    );
    flash(ctx, {
      kind: 'succes',
      text: `Votre article « ${listing?.title ?? form.titre} » est en vente pour ${formatEuros(listing?.priceCents ?? priceCents)}.`,
    });
    seeOther(ctx, '/services', { article: listing ? listingJson(listing, user.id) : undefined, rejoue: replayed });
  });

  router.post('/services/achat', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const articleId = field(ctx, 'article_id').trim();
    if (articleId.length > 64 || !/^[\w-]{1,64}$/.test(articleId)) {
      throw new HttpProblem(400, 'article_invalide', 'Article inconnu : choisissez un article dans la liste.', { title: 'Achat' });
    }
    // The version of the listing the form showed (hidden field `version`): changed by the seller
    // since, nothing is bought. Absent (an API client that does not send it): no check.
    const seen = field(ctx, 'version').trim();
    const expectedVersion = /^[1-9]\d{0,8}$/.test(seen) ? Number(seen) : undefined;
    // Already this user's (a retry after a lost answer): a success, uncounted. Any other state
    // (available, sold to another, unknown) is the purchase's to decide and count.
    const { listing, replayed } = await serviceCall(
      w,
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_ACHAT,
      () => market.purchase({ listingId: articleId, buyerId: user.id, expectedVersion }, callOpts(ctx)),
      () => servicesPageView(w, ctx, user),
      {
        key: articleId,
        done: async () => {
          const found = await market.getListing({ id: articleId }, callOpts(ctx)).catch((err: unknown) => {
            if (isUnavailable(err)) throw err;
            return undefined;
          });
          const l = found?.listing;
          return l?.status === mk.ListingStatus.LISTING_STATUS_SOLD && l.buyerId === user.id ? { listing: l, replayed: true } : undefined;
        },
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
    seeOther(ctx, '/services', { article: listing ? listingJson(listing, user.id) : undefined, rejoue: replayed });
  });

  return router;
}

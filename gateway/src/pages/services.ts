// What the services page shows: the user's quota line, the listings of others (by category, a
// page at a time), the user's own listings, and the sale form.
import { randomUUID } from 'node:crypto';
import { market, type auth } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { queryParam } from '../lib/forms';
import { callOpts, callService, grpcCode, Status } from '../lib/grpc';
import { POLICY, quotaLine } from '../lib/limits';
import { CATEGORIES, categoryFromWord, CONDITIONS, listingJson, listingView } from '../lib/market-view';
import type { SessionUser } from '../lib/session';
import type { View } from '../lib/views';
import { contactOf, knownUsers } from './purchases';

const PAGE_SIZE = 12;
const MY_LISTINGS = 50;

export interface VenteForm {
  titre: string;
  categorie: string;
  /** The condition's form word (neuf, tres_bon, bon, correct); '' until chosen. */
  etat: string;
  prix: string;
  description: string;
  /** The form's idempotency key (hidden field `cle`): one per sale form shown. */
  cle: string;
}

/** A blank sale form with a key of its own, so sending it twice makes one listing. */
const emptyForm = (): VenteForm => ({ titre: '', categorie: 'livre', etat: '', prix: '', description: '', cle: randomUUID() });

/** "Prénom N." of each seller, best effort (the page shows no name when auth cannot answer). */
export async function sellerNames(w: Wiring, ctx: Ctx, ids: string[]): Promise<Map<string, string>> {
  return shortNames(await knownUsers(w, ctx, ids));
}

export function shortNames(users: Map<string, auth.User> | undefined): Map<string, string> {
  return new Map([...(users ?? new Map<string, auth.User>()).values()].map((u) => [u.id, `${u.firstName} ${u.lastName.slice(0, 1)}.`]));
}

/** Everything the services page shows. Market unavailable → 503. */
export async function servicesPage(w: Wiring, ctx: Ctx, user: SessionUser, form: VenteForm = emptyForm()) {
  const { market: mk } = w.clients;
  const categorie = queryParam(ctx, 'categorie');
  const category = categoryFromWord(categorie) ?? market.Category.CATEGORY_UNSPECIFIED;
  const pageToken = queryParam(ctx, 'page').slice(0, 512);
  const others = (token: string) =>
    mk.listListings(
      {
        filter: { category, sellerId: '', excludeSellerId: user.id, status: market.ListingStatus.LISTING_STATUS_AVAILABLE },
        pageSize: PAGE_SIZE,
        pageToken: token,
      },
      callOpts(ctx),
    );
  const [decision, theirs, mine] = await Promise.all([
    w.quota.show(ctx, POLICY.service, user.id),
    callService(ctx.state.log, 'market', () =>
      others(pageToken).catch((err: unknown) => {
        // A stale or forged page cursor: start over from the first page.
        if (grpcCode(err) === Status.INVALID_ARGUMENT && pageToken) return others('');
        throw err;
      }),
    ),
    callService(ctx.state.log, 'market', () =>
      mk.listListings(
        {
          filter: {
            category: market.Category.CATEGORY_UNSPECIFIED,
            sellerId: user.id,
            excludeSellerId: '',
            status: market.ListingStatus.LISTING_STATUS_UNSPECIFIED,
          },
          pageSize: MY_LISTINGS,
          pageToken: '',
        },
        callOpts(ctx),
      ),
    ),
  ]);
  // One lookup: the sellers of the items to buy, and the buyers of the user's sold items
  // (« vendu à … »: the seller sees the buyer's contact, to arrange the handover).
  const users = await knownUsers(w, ctx, [...theirs.listings.map((l) => l.sellerId), ...mine.listings.map((l) => l.buyerId)]);
  const names = shortNames(users);
  return {
    quota: quotaLine(decision, w.config.DISPLAY_TIME_ZONE),
    categories: CATEGORIES,
    conditions: CONDITIONS,
    categorie: categoryFromWord(categorie) ? categorie : '',
    others: theirs.listings.map((l) => listingView(l, names)),
    nextPage: theirs.nextPageToken,
    firstPage: pageToken !== '',
    mine: mine.listings.map((l) => ({ ...listingView(l, names), buyer: l.buyerId ? contactOf(users, l.buyerId) : undefined })),
    form,
    raw: { others: theirs, mine },
  };
}

export type ServicesPage = Awaited<ReturnType<typeof servicesPage>>;

/** The services page to show a refusal on, or `undefined` when it cannot be built (the plain error page then). */
export async function servicesPageView(w: Wiring, ctx: Ctx, user: SessionUser, form?: VenteForm): Promise<View | undefined> {
  try {
    return { name: 'services.njk', data: await servicesPage(w, ctx, user, form) };
  } catch {
    return undefined;
  }
}

/** The JSON form of the services page. */
export function servicesJson(ctx: Ctx, user: SessionUser, page: ServicesPage) {
  const q = page.quota;
  return {
    user: { id: user.id, prenom: user.firstName, nom: user.lastName },
    quota: q.available
      ? { limite: q.limit, restants: q.remaining, prochainDansMs: q.nextFreeMs, completDansMs: q.fullMs, texte: q.sentence }
      : null,
    articles: page.raw.others.listings.map((l) => listingJson(l, user.id)),
    pageSuivante: page.nextPage || null,
    mesArticles: page.raw.mine.listings.map((l, i) => {
      const buyer = page.mine[i]?.buyer;
      return {
        ...listingJson(l, user.id),
        acheteur: buyer ? { nom: buyer.name, email: buyer.email || null, supprime: buyer.deleted } : undefined,
      };
    }),
    csrfToken: ctx.state.session.csrf,
  };
}

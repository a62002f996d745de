// After a purchase (issue 19, item 4): the buyer's « Mes achats » and the contacts « Mes articles »
// shows beside a sold item. Buyer and seller each see the other's full name and e-mail address to
// arrange the handover; nobody else does: the contact is looked up only for the listings the
// market returns for the logged-in user as buyer (filter.buyer_id) or as seller (filter.seller_id).
import { market, type auth } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { formatEuros } from '../lib/format';
import { callOpts, callService, describeGrpcError } from '../lib/grpc';
import { listingJson, listingView, type ListingView } from '../lib/market-view';
import type { SessionUser } from '../lib/session';

const MY_PURCHASES = 50;

/** The other party of a sale, as the buyer or the seller sees them. */
export interface Contact {
  /** « Prénom Nom », or « compte supprimé » for an erased account. */
  name: string;
  /** Empty when erased or unknown. */
  email: string;
  deleted: boolean;
}

/** What the page shows when auth cannot answer: the sale, without the contact for now. */
export const CONTACT_UNAVAILABLE: Contact = { name: 'coordonnées momentanément indisponibles', email: '', deleted: false };
/** An account that no longer exists (erased at its owner's request, issue 19 item 5). */
export const CONTACT_DELETED: Contact = { name: 'compte supprimé', email: '', deleted: true };

/** The accounts among `ids`, best effort: `undefined` when auth cannot answer (logged). */
export async function knownUsers(w: Wiring, ctx: Ctx, ids: string[]): Promise<Map<string, auth.User> | undefined> {
  const unique = [...new Set(ids.filter(Boolean))];
  if (unique.length === 0) return new Map();
  try {
    const res = await w.clients.auth.getUsers({ ids: unique }, callOpts(ctx));
    return new Map(res.users.map((u) => [u.id, u]));
  } catch (err) {
    ctx.state.log.warn({ err: describeGrpcError(err) }, 'user names unavailable');
    return undefined;
  }
}

/** The contact of `id` in `users` (see knownUsers). */
export function contactOf(users: Map<string, auth.User> | undefined, id: string): Contact {
  if (!users) return CONTACT_UNAVAILABLE;
  const u = users.get(id);
  return u ? { name: `${u.firstName} ${u.lastName}`, email: u.email, deleted: false } : CONTACT_DELETED;
}

export interface PurchaseView extends ListingView {
  seller: Contact;
}

/** « Mes achats »: what `user` bought, newest listing first, each with its seller's contact. Market down → 503. */
export async function purchasesPage(w: Wiring, ctx: Ctx, user: SessionUser) {
  const res = await callService(ctx.state.log, 'market', () =>
    w.clients.market.listListings(
      {
        filter: {
          category: market.Category.CATEGORY_UNSPECIFIED,
          sellerId: '',
          excludeSellerId: '',
          status: market.ListingStatus.LISTING_STATUS_SOLD,
          buyerId: user.id,
        },
        pageSize: MY_PURCHASES,
        pageToken: '',
      },
      callOpts(ctx),
    ),
  );
  const users = await knownUsers(
    w,
    ctx,
    res.listings.map((l) => l.sellerId),
  );
  const purchases: PurchaseView[] = res.listings.map((l) => {
    const seller = contactOf(users, l.sellerId);
    return { ...listingView(l, new Map([[l.sellerId, seller.name]])), seller };
  });
  return { purchases, raw: res.listings };
}

export type PurchasesPage = Awaited<ReturnType<typeof purchasesPage>>;

export function purchasesJson(page: PurchasesPage, user: SessionUser) {
  return {
    achats: page.purchases.map((p, i) => ({
      ...listingJson(page.raw[i]!, user.id),
      vendeur: { nom: p.seller.name, email: p.seller.email || null, supprime: p.seller.deleted },
    })),
  };
}

/**
 * The mail that tells a seller their item was bought, with the buyer's contact; `undefined` when
 * the seller's account is gone. Built in the mail queue, after the purchase was answered.
 */
export async function saleMail(w: Wiring, listing: market.Listing): Promise<{ to: string; subject: string; text: string } | undefined> {
  const { users } = await w.users.getUsers({ ids: [listing.sellerId, listing.buyerId] });
  const seller = users.find((u) => u.id === listing.sellerId);
  const buyer = users.find((u) => u.id === listing.buyerId);
  if (!seller || !buyer) return undefined;
  const price = formatEuros(listing.priceCents);
  return {
    to: seller.email,
    subject: `Votre article « ${listing.title} » a été acheté`,
    text: [
      `Bonjour ${seller.firstName},`,
      '',
      `Bonne nouvelle : votre article « ${listing.title} » (${price}) vient d’être acheté sur EtuServices.`,
      '',
      `Acheteur·euse : ${buyer.firstName} ${buyer.lastName}`,
      `Adresse e-mail : ${buyer.email}`,
      '',
      'Écrivez-lui pour convenir de la remise de l’article (lieu, jour, heure).',
      `Vos ventes : ${w.config.PUBLIC_ORIGIN}/services`,
      '',
      '— EtuServices',
    ].join('\n'),
  };
}

// Listings as the pages show them, and the form words ↔ proto enums.
import { market } from '@etu/proto';

export const CATEGORIES = [
  { value: 'livre', label: 'Livre', proto: market.Category.CATEGORY_BOOK },
  { value: 'dvd', label: 'DVD', proto: market.Category.CATEGORY_DVD },
  { value: 'autre', label: 'Autre', proto: market.Category.CATEGORY_OTHER },
] as const;

export const CONDITIONS = [
  { value: 'neuf', label: 'Neuf', proto: market.Condition.CONDITION_NEW },
  { value: 'tres_bon', label: 'Très bon état', proto: market.Condition.CONDITION_VERY_GOOD },
  { value: 'bon', label: 'Bon état', proto: market.Condition.CONDITION_GOOD },
  { value: 'correct', label: 'État correct', proto: market.Condition.CONDITION_FAIR },
] as const;

export function conditionFromWord(word: string): market.Condition | undefined {
  return CONDITIONS.find((c) => c.value === word)?.proto;
}

/** The form word of a condition; '' for none (a listing older than conditions). */
export function conditionWord(c: market.Condition): string {
  return CONDITIONS.find((x) => x.proto === c)?.value ?? '';
}

/** « Très bon état »…; '' for none. */
export function conditionLabel(c: market.Condition): string {
  return CONDITIONS.find((x) => x.proto === c)?.label ?? '';
}

export type CategoryWord = (typeof CATEGORIES)[number]['value'];

export function categoryFromWord(word: string): market.Category | undefined {
  return CATEGORIES.find((c) => c.value === word)?.proto;
}

export function categoryWord(c: market.Category): CategoryWord | '' {
  return CATEGORIES.find((x) => x.proto === c)?.value ?? '';
}

export function categoryLabel(c: market.Category): string {
  return CATEGORIES.find((x) => x.proto === c)?.label ?? 'Autre';
}

export interface ListingView {
  id: string;
  title: string;
  category: string;
  categoryLabel: string;
  /** '' when the listing predates conditions. */
  condition: string;
  conditionLabel: string;
  priceCents: number;
  description: string;
  sold: boolean;
  sellerId: string;
  sellerName: string;
  createdAt: Date | undefined;
  soldAt: Date | undefined;
  /** Photo names: /photos/<name>-l.webp (large) and -t.webp (thumbnail). */
  photos: string[];
  /** Changes by the seller + 1: a purchase form names the version it shows. */
  version: number;
}

export function listingView(l: market.Listing, names: Map<string, string>): ListingView {
  return {
    id: l.id,
    title: l.title,
    category: categoryWord(l.category),
    categoryLabel: categoryLabel(l.category),
    condition: conditionWord(l.condition),
    conditionLabel: conditionLabel(l.condition),
    priceCents: l.priceCents,
    description: l.description,
    sold: l.status === market.ListingStatus.LISTING_STATUS_SOLD,
    sellerId: l.sellerId,
    sellerName: names.get(l.sellerId) ?? '',
    createdAt: l.createdAt,
    soldAt: l.soldAt,
    photos: l.photos,
    version: l.version,
  };
}

/**
 * The JSON form of a listing in the API. Who bought it (`acheteurId`) is told only to its seller
 * and its buyer (`viewerId`, the logged-in user's id): beside every listing's `vendeurId`, it would
 * let anyone list what each student bought.
 */
export function listingJson(l: market.Listing, viewerId: string | undefined) {
  return {
    id: l.id,
    titre: l.title,
    categorie: categoryWord(l.category),
    etat: conditionWord(l.condition) || null,
    prixCentimes: l.priceCents,
    description: l.description,
    statut: l.status === market.ListingStatus.LISTING_STATUS_SOLD ? 'vendu' : 'disponible',
    vendeurId: l.sellerId,
    acheteurId: l.buyerId && (viewerId === l.buyerId || viewerId === l.sellerId) ? l.buyerId : undefined,
    creeLe: l.createdAt?.toISOString(),
    venduLe: l.soldAt?.toISOString(),
    photos: l.photos.map((p) => ({ grande: `/photos/${p}-l.webp`, vignette: `/photos/${p}-t.webp` })),
    version: l.version,
  };
}

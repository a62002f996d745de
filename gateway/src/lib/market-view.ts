// Listings as the pages show them, and the form words ↔ proto enums.
import { market } from '@etu/proto';

export const CATEGORIES = [
  { value: 'livre', label: 'Livre', proto: market.Category.CATEGORY_BOOK },
  { value: 'dvd', label: 'DVD', proto: market.Category.CATEGORY_DVD },
  { value: 'autre', label: 'Autre', proto: market.Category.CATEGORY_OTHER },
] as const;

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
  priceCents: number;
  description: string;
  sold: boolean;
  sellerId: string;
  sellerName: string;
  createdAt: Date | undefined;
  soldAt: Date | undefined;
}

export function listingView(l: market.Listing, names: Map<string, string>): ListingView {
  return {
    id: l.id,
    title: l.title,
    category: categoryWord(l.category),
    categoryLabel: categoryLabel(l.category),
    priceCents: l.priceCents,
    description: l.description,
    sold: l.status === market.ListingStatus.LISTING_STATUS_SOLD,
    sellerId: l.sellerId,
    sellerName: names.get(l.sellerId) ?? '',
    createdAt: l.createdAt,
    soldAt: l.soldAt,
  };
}

/** The JSON form of a listing in the API. */
export function listingJson(l: market.Listing) {
  return {
    id: l.id,
    titre: l.title,
    categorie: categoryWord(l.category),
    prixCentimes: l.priceCents,
    description: l.description,
    statut: l.status === market.ListingStatus.LISTING_STATUS_SOLD ? 'vendu' : 'disponible',
    vendeurId: l.sellerId,
    acheteurId: l.buyerId || undefined,
    creeLe: l.createdAt?.toISOString(),
    venduLe: l.soldAt?.toISOString(),
  };
}

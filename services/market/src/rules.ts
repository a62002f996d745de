// The rules a listing must follow, checked before anything touches the database. Each broken
// rule is an InvalidArgument naming the proto field (`title: …`), with a reason in French that
// the gateway may show as is. Lengths count Unicode code points, as MariaDB's VARCHAR(120) in
// utf8mb4 does, so "120 characters" means the same thing here and in the column.
import { descriptionMistake, InvalidArgument, priceMistake, titleMistake } from '@etu/common';
import { Category as DbCategory, ListingCondition as DbCondition, ListingStatus as DbStatus } from '@etu/db';
import { market } from '@etu/proto';

export const PAGE_SIZE_DEFAULT = 20;
export const PAGE_SIZE_MAX = 100;
/** Ids are MariaDB INT (signed): 1 .. 2^31 - 1. */
const ID_MAX = 2_147_483_647;

// The title, description and price rules are @etu/common's (text.ts), which the gateway's forms
// also check before a call is counted. Bidirectional controls and invisible characters (a U+202E
// can make "€ 01" read "10 €") are among them.

/**
 * A user id: the user's public id (a UUID in lower case, `utilisateurs.public_id`). The market
 * never takes or returns the users' row ids, which a restore from an older dump can reuse.
 */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseUserId(field: string, value: string, what: string): string {
  if (value === '') throw new InvalidArgument(field, `${what} est obligatoire.`);
  if (!USER_ID.test(value)) throw new InvalidArgument(field, `${what} n’est pas un identifiant de compte valide.`);
  return value;
}

/** A listing id: the decimal string of a positive database id. */
export function parseId(field: string, value: string, what = "l'identifiant"): number {
  if (value === '') throw new InvalidArgument(field, `${what} est obligatoire.`);
  if (value.length > 10 || !/^[1-9]\d{0,9}$/.test(value) || Number(value) > ID_MAX) {
    throw new InvalidArgument(field, `${what} doit être un nombre entier positif.`);
  }
  return Number(value);
}

export function parseTitle(raw: string): string {
  const mistake = titleMistake(raw);
  if (mistake) throw new InvalidArgument('title', mistake);
  return raw.trim();
}

export function parseDescription(raw: string): string {
  const mistake = descriptionMistake(raw);
  if (mistake) throw new InvalidArgument('description', mistake);
  return raw;
}

export function parsePrice(cents: number): number {
  const mistake = priceMistake(cents);
  if (mistake) throw new InvalidArgument('price_cents', mistake);
  return cents;
}

const CATEGORY_TO_DB: Partial<Record<number, DbCategory>> = {
  [market.Category.CATEGORY_BOOK]: DbCategory.BOOK,
  [market.Category.CATEGORY_DVD]: DbCategory.DVD,
  [market.Category.CATEGORY_OTHER]: DbCategory.OTHER,
};
const CATEGORY_FROM_DB: Record<DbCategory, market.Category> = {
  BOOK: market.Category.CATEGORY_BOOK,
  DVD: market.Category.CATEGORY_DVD,
  OTHER: market.Category.CATEGORY_OTHER,
};
const STATUS_TO_DB: Partial<Record<number, DbStatus>> = {
  [market.ListingStatus.LISTING_STATUS_AVAILABLE]: DbStatus.disponible,
  [market.ListingStatus.LISTING_STATUS_SOLD]: DbStatus.vendu,
};
const STATUS_FROM_DB: Record<DbStatus, market.ListingStatus> = {
  disponible: market.ListingStatus.LISTING_STATUS_AVAILABLE,
  vendu: market.ListingStatus.LISTING_STATUS_SOLD,
};

/** BOOK, DVD or OTHER; UNSPECIFIED and unknown numbers are refused. */
export function parseCategory(c: market.Category, field = 'category'): DbCategory {
  const db = CATEGORY_TO_DB[c];
  if (!db) throw new InvalidArgument(field, 'choisissez une catégorie : livre, DVD ou autre.');
  return db;
}

/** A category filter: UNSPECIFIED means "all" (undefined). */
export function parseCategoryFilter(c: market.Category): DbCategory | undefined {
  return c === market.Category.CATEGORY_UNSPECIFIED ? undefined : parseCategory(c, 'filter.category');
}

/** A status filter: UNSPECIFIED means "all" (undefined). */
export function parseStatusFilter(s: market.ListingStatus): DbStatus | undefined {
  if (s === market.ListingStatus.LISTING_STATUS_UNSPECIFIED) return undefined;
  const db = STATUS_TO_DB[s];
  if (!db) throw new InvalidArgument('filter.status', 'statut inconnu (disponible ou vendu).');
  return db;
}

const CONDITION_TO_DB: Partial<Record<number, DbCondition>> = {
  [market.Condition.CONDITION_NEW]: DbCondition.neuf,
  [market.Condition.CONDITION_VERY_GOOD]: DbCondition.tres_bon_etat,
  [market.Condition.CONDITION_GOOD]: DbCondition.bon_etat,
  [market.Condition.CONDITION_FAIR]: DbCondition.etat_correct,
};
const CONDITION_FROM_DB: Record<DbCondition, market.Condition> = {
  neuf: market.Condition.CONDITION_NEW,
  tres_bon_etat: market.Condition.CONDITION_VERY_GOOD,
  bon_etat: market.Condition.CONDITION_GOOD,
  etat_correct: market.Condition.CONDITION_FAIR,
};

/** NEW, VERY_GOOD, GOOD or FAIR; UNSPECIFIED (not given) and unknown numbers are refused. */
export function parseCondition(c: market.Condition, field = 'condition'): DbCondition {
  const db = CONDITION_TO_DB[c];
  if (!db) throw new InvalidArgument(field, "indiquez l'état : neuf, très bon état, bon état ou état correct.");
  return db;
}

/** A listing's condition; UNSPECIFIED for a listing older than conditions (NULL). */
export function conditionFromDb(c: DbCondition | null): market.Condition {
  return c === null ? market.Condition.CONDITION_UNSPECIFIED : CONDITION_FROM_DB[c];
}

export function categoryFromDb(c: DbCategory): market.Category {
  return CATEGORY_FROM_DB[c];
}

export function statusFromDb(s: DbStatus): market.ListingStatus {
  return STATUS_FROM_DB[s];
}

/** 0 means the default (20); otherwise 1-100. */
export function parsePageSize(n: number): number {
  if (n === 0) return PAGE_SIZE_DEFAULT;
  if (!Number.isInteger(n) || n < 1 || n > PAGE_SIZE_MAX) {
    throw new InvalidArgument('page_size', `la taille de page doit être comprise entre 1 et ${PAGE_SIZE_MAX}.`);
  }
  return n;
}

export const IDEMPOTENCY_KEY_MAX = 64;
const IDEMPOTENCY_KEY = /^[\w.:-]+$/;

/**
 * An idempotency key (the sale form's hidden id, or the JSON API's Idempotency-Key header): empty
 * means none (`null`); otherwise 1-64 letters, digits, '-', '_', '.', ':' (a UUID fits).
 */
export function parseIdempotencyKey(raw: string): string | null {
  if (raw === '') return null;
  if (raw.length > IDEMPOTENCY_KEY_MAX) {
    throw new InvalidArgument('idempotency_key', `la clé d'idempotence ne doit pas dépasser ${IDEMPOTENCY_KEY_MAX} caractères.`);
  }
  if (!IDEMPOTENCY_KEY.test(raw)) {
    throw new InvalidArgument(
      'idempotency_key',
      "la clé d'idempotence ne peut contenir que des lettres sans accent, des chiffres et « - _ . : ».",
    );
  }
  return raw;
}

export interface NewListing {
  /** The seller's public id. */
  sellerId: string;
  title: string;
  category: DbCategory;
  priceCents: number;
  description: string;
  idempotencyKey: string | null;
  condition: DbCondition;
  /** Photo names joined by one space ('' = none), as the column holds them. */
  photos: string;
}

export const PHOTOS_MAX = 3;
const PHOTO_NAME = /^[0-9a-f]{32}$/;

/** At most 3 distinct names of 32 lower-case hex digits; joined by one space for the column. */
export function parsePhotos(names: readonly string[]): string {
  if (names.length > PHOTOS_MAX) throw new InvalidArgument('photos', `un article a au plus ${PHOTOS_MAX} photos.`);
  if (names.some((n) => !PHOTO_NAME.test(n))) throw new InvalidArgument('photos', 'nom de photo invalide.');
  if (new Set(names).size !== names.length) throw new InvalidArgument('photos', 'la même photo est donnée deux fois.');
  return names.join(' ');
}

/** The photo names of a row's column. */
export function photosFromDb(column: string): string[] {
  return column === '' ? [] : column.split(' ');
}

/** Checks every field of a CreateListing request, in proto field order; the first broken rule wins. */
export function parseNewListing(req: market.CreateListingRequest): NewListing {
  return {
    sellerId: parseUserId('seller_id', req.sellerId, "l'identifiant du vendeur"),
    title: parseTitle(req.title),
    category: parseCategory(req.category),
    priceCents: parsePrice(req.priceCents),
    description: parseDescription(req.description),
    idempotencyKey: parseIdempotencyKey(req.idempotencyKey),
    condition: parseCondition(req.condition),
    photos: parsePhotos(req.photos),
  };
}

export interface ListingChange {
  id: number;
  /** The seller's public id. */
  seller: string;
  priceCents: number;
  description: string;
}

/** Checks an UpdateListing request: the same price and description rules as a sale. */
export function parseListingChange(req: market.UpdateListingRequest): ListingChange {
  return {
    id: parseId('listing_id', req.listingId, "l'identifiant de l'article"),
    seller: parseUserId('seller_id', req.sellerId, "l'identifiant du vendeur"),
    priceCents: parsePrice(req.priceCents),
    description: parseDescription(req.description),
  };
}

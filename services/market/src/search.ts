// Search over the available listings (SearchListings): the rules of its parameters, and the SQL.
// Browsing is read-only and free of quota; the gateway calls it for visitors too.
//
// Words: the FULLTEXT index `articles_titre_description_idx` (migration 20261127190000) answers
// each word as a prefix (`+mot*` in boolean mode), compared with the columns' collation
// (utf8mb4_unicode_ci), so case and accents do not matter. InnoDB indexes no word shorter than
// innodb_ft_min_token_size (3) and none of its default stopwords (English, plus « de », « la »,
// « en »): such a word is matched with LIKE '%mot%' instead (same collation, so also case- and
// accent-insensitive), which scans the rows the other conditions leave.
import { codePoints, InvalidArgument, PRICE_MAX_CENTS } from '@etu/common';
import { Category as DbCategory, ListingCondition as DbCondition, ListingStatus as DbStatus, Prisma } from '@etu/db';
import { market } from '@etu/proto';
import { parseCategory, parseCondition } from './rules';

export const QUERY_MAX = 100;
export const QUERY_WORDS_MAX = 8;
export const SEARCH_PAGE_SIZE_DEFAULT = 20;
export const SEARCH_PAGE_SIZE_MAX = 50;
/** Deeper pages cost an ever larger OFFSET: past 500 pages, narrow the search instead. */
export const SEARCH_PAGE_MAX = 500;

/** innodb_ft_min_token_size's default: shorter words are not in the FULLTEXT index. */
const FT_MIN_WORD = 3;
/** INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD (MariaDB 10.11, MySQL 8): never in the index. */
const FT_STOPWORDS = new Set(
  'a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www'.split(
    ' ',
  ),
);

export type SearchOrder = 'newest' | 'price_asc' | 'price_desc';

export interface SearchParams {
  /** Words matched through the FULLTEXT index (as prefixes). */
  indexedWords: string[];
  /** Words matched with LIKE (too short for the index, or stopwords). */
  scannedWords: string[];
  category: DbCategory | undefined;
  condition: DbCondition | undefined;
  minCents: number | undefined;
  maxCents: number | undefined;
  order: SearchOrder;
  page: number;
  pageSize: number;
}

function parsePriceBound(field: string, cents: number, what: string): number | undefined {
  if (cents === 0) return undefined;
  if (!Number.isInteger(cents) || cents < 0 || cents > PRICE_MAX_CENTS) {
    throw new InvalidArgument(field, `${what} doit être compris entre 0 € et 10 000 €.`);
  }
  return cents;
}

/** The words of a query: runs of letters and digits (anything else separates), in lower case. */
export function queryWords(query: string): string[] {
  const words =
    query
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)];
}

/** Checks every parameter of a SearchListings request, in proto field order. */
export function parseSearch(req: market.SearchListingsRequest): SearchParams {
  if (codePoints(req.query) > QUERY_MAX) {
    throw new InvalidArgument('query', `la recherche ne doit pas dépasser ${QUERY_MAX} caractères.`);
  }
  const words = queryWords(req.query);
  if (words.length > QUERY_WORDS_MAX) {
    throw new InvalidArgument('query', `la recherche ne doit pas compter plus de ${QUERY_WORDS_MAX} mots.`);
  }
  const indexed = words.filter((w) => codePoints(w) >= FT_MIN_WORD && !FT_STOPWORDS.has(w));
  const category = req.category === market.Category.CATEGORY_UNSPECIFIED ? undefined : parseCategory(req.category, 'category');
  const minCents = parsePriceBound('min_price_cents', req.minPriceCents, 'le prix minimum');
  const maxCents = parsePriceBound('max_price_cents', req.maxPriceCents, 'le prix maximum');
  if (minCents !== undefined && maxCents !== undefined && minCents > maxCents) {
    throw new InvalidArgument('max_price_cents', 'le prix maximum doit être supérieur ou égal au prix minimum.');
  }
  const order = ORDERS[req.sort];
  if (!order) throw new InvalidArgument('sort', 'tri inconnu : plus récents, prix croissant ou prix décroissant.');
  if (!Number.isInteger(req.page) || req.page < 0 || req.page > SEARCH_PAGE_MAX) {
    throw new InvalidArgument('page', `le numéro de page doit être compris entre 1 et ${SEARCH_PAGE_MAX}.`);
  }
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > SEARCH_PAGE_SIZE_MAX) {
    throw new InvalidArgument('page_size', `la taille de page doit être comprise entre 1 et ${SEARCH_PAGE_SIZE_MAX}.`);
  }
  const condition = req.condition === market.Condition.CONDITION_UNSPECIFIED ? undefined : parseCondition(req.condition);
  return {
    indexedWords: indexed,
    scannedWords: words.filter((w) => !indexed.includes(w)),
    category,
    condition,
    minCents,
    maxCents,
    order,
    page: req.page || 1,
    pageSize: req.pageSize || SEARCH_PAGE_SIZE_DEFAULT,
  };
}

const ORDERS: Partial<Record<number, SearchOrder>> = {
  [market.SearchSort.SEARCH_SORT_UNSPECIFIED]: 'newest',
  [market.SearchSort.SEARCH_SORT_NEWEST]: 'newest',
  [market.SearchSort.SEARCH_SORT_PRICE_ASC]: 'price_asc',
  [market.SearchSort.SEARCH_SORT_PRICE_DESC]: 'price_desc',
};

const ORDER_SQL: Record<SearchOrder, Prisma.Sql> = {
  newest: Prisma.sql`a.created_at DESC, a.id DESC`,
  price_asc: Prisma.sql`a.prix_centimes ASC, a.id ASC`,
  price_desc: Prisma.sql`a.prix_centimes DESC, a.id DESC`,
};

/** The WHERE clause of a search: available listings, then each condition given. All values are bound parameters. */
function whereSql(p: SearchParams): Prisma.Sql {
  const conds: Prisma.Sql[] = [Prisma.sql`a.statut = ${DbStatus.disponible}`];
  if (p.category) conds.push(Prisma.sql`a.categorie = ${p.category}`);
  if (p.condition) conds.push(Prisma.sql`a.etat = ${p.condition}`);
  if (p.minCents !== undefined) conds.push(Prisma.sql`a.prix_centimes >= ${p.minCents}`);
  if (p.maxCents !== undefined) conds.push(Prisma.sql`a.prix_centimes <= ${p.maxCents}`);
  if (p.indexedWords.length > 0) {
    // Words hold only letters and digits, so no boolean-mode operator can come from the user.
    const against = p.indexedWords.map((w) => `+${w}*`).join(' ');
    conds.push(Prisma.sql`MATCH(a.titre, a.description) AGAINST(${against} IN BOOLEAN MODE)`);
  }
  for (const w of p.scannedWords) {
    // Letters and digits only: no LIKE wildcard (% _) or escape character to neutralise.
    const pattern = `%${w}%`;
    conds.push(Prisma.sql`(a.titre LIKE ${pattern} OR a.description LIKE ${pattern})`);
  }
  return Prisma.join(conds, ' AND ');
}

/** The page's listing ids, in order. */
export function pageSql(p: SearchParams): Prisma.Sql {
  const offset = (p.page - 1) * p.pageSize;
  return Prisma.sql`SELECT a.id FROM articles a WHERE ${whereSql(p)} ORDER BY ${ORDER_SQL[p.order]} LIMIT ${p.pageSize} OFFSET ${offset}`;
}

/** How many listings match, over all pages. */
export function countSql(p: SearchParams): Prisma.Sql {
  return Prisma.sql`SELECT COUNT(*) AS n FROM articles a WHERE ${whereSql(p)}`;
}

// What the browsing pages show: the search (/articles), the latest items (home page), one item
// (/articles/:id) and the purchase confirmation (/articles/:id/acheter). Browsing is free: no page
// here consumes quota (docs/architecture.md, "Browsing"); only the confirmation's POST to
// /services/achat is a counted Achat call.
import { market } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { formatEuros, parseEuros } from '../lib/format';
import { queryParam } from '../lib/forms';
import { callOpts, describeGrpcError, grpcCode, grpcProblem, Status, userMessage } from '../lib/grpc';
import { CATEGORIES, categoryFromWord, CONDITIONS, conditionFromWord, listingJson, listingView } from '../lib/market-view';
import { HttpProblem } from '../lib/problem';
import { knownUsers } from './purchases';
import { sellerNames, shortNames } from './services';

export const SEARCH_PAGE_SIZE = 12;
export const LATEST_ON_HOME = 6;
const QUERY_MAX = 100;
const PAGE_MAX = 500;

export const SORTS = [
  { value: 'recent', label: 'Plus récents', proto: market.SearchSort.SEARCH_SORT_NEWEST },
  { value: 'prix_croissant', label: 'Prix croissant', proto: market.SearchSort.SEARCH_SORT_PRICE_ASC },
  { value: 'prix_decroissant', label: 'Prix décroissant', proto: market.SearchSort.SEARCH_SORT_PRICE_DESC },
] as const;

/** The search form as typed (shown back as is) — never trusted beyond display. */
export interface SearchForm {
  q: string;
  categorie: string;
  etat: string;
  prix_min: string;
  prix_max: string;
  tri: string;
}

function readForm(ctx: Ctx): SearchForm {
  return {
    q: queryParam(ctx, 'q').slice(0, 2 * QUERY_MAX),
    categorie: queryParam(ctx, 'categorie').trim().toLowerCase().slice(0, 32),
    etat: queryParam(ctx, 'etat').trim().toLowerCase().slice(0, 32),
    prix_min: queryParam(ctx, 'prix_min').trim().slice(0, 32),
    prix_max: queryParam(ctx, 'prix_max').trim().slice(0, 32),
    tri: queryParam(ctx, 'tri').trim().slice(0, 32),
  };
}

/** "prix_min=…&q=…": the form's non-empty fields, for the pager's links. */
function formQuery(form: SearchForm): string {
  const p = new URLSearchParams();
  for (const k of Object.keys(form) as (keyof SearchForm)[]) if (form[k] !== '') p.set(k, form[k]);
  return p.toString();
}

/** The page number of `?page=`: empty → 1; anything but 1..500 → null. */
function parsePage(raw: string): number | null {
  if (raw === '') return 1;
  if (!/^[1-9]\d{0,2}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= PAGE_MAX ? n : null;
}

/** The search page's data; a parameter the gateway cannot read → 400 on the search page itself. */
export async function searchPage(w: Wiring, ctx: Ctx) {
  const form = readForm(ctx);
  const base = {
    form,
    categories: CATEGORIES,
    conditions: CONDITIONS,
    sorts: SORTS,
    results: [],
    total: 0,
    page: 1,
    pages: 0,
    searched: false,
    query: '',
  };
  const refuse = (code: string, message: string) =>
    new HttpProblem(400, code, message, { title: 'Recherche', view: { name: 'articles.njk', data: base } });

  const category = form.categorie === '' ? market.Category.CATEGORY_UNSPECIFIED : categoryFromWord(form.categorie);
  if (category === undefined) throw refuse('categorie_invalide', 'Catégorie inconnue : choisissez livre, DVD ou autre.');
  const condition = form.etat === '' ? market.Condition.CONDITION_UNSPECIFIED : conditionFromWord(form.etat);
  if (condition === undefined) throw refuse('etat_invalide', 'État inconnu : choisissez neuf, très bon état, bon état ou état correct.');
  const min = form.prix_min === '' ? 0 : parseEuros(form.prix_min);
  if (min === null) throw refuse('prix_invalide', 'Prix minimum : indiquez un montant en euros, par exemple 5 ou 12,50.');
  const max = form.prix_max === '' ? 0 : parseEuros(form.prix_max);
  if (max === null) throw refuse('prix_invalide', 'Prix maximum : indiquez un montant en euros, par exemple 5 ou 12,50.');
  const sort = form.tri === '' ? market.SearchSort.SEARCH_SORT_NEWEST : SORTS.find((s) => s.value === form.tri)?.proto;
  if (sort === undefined) throw refuse('tri_invalide', 'Tri inconnu : plus récents, prix croissant ou prix décroissant.');
  const page = parsePage(queryParam(ctx, 'page').trim());
  if (page === null) throw refuse('page_invalide', `Numéro de page invalide : choisissez une page entre 1 et ${PAGE_MAX}.`);

  let res: market.SearchListingsResponse;
  try {
    res = await w.clients.market.searchListings(
      { query: form.q, category, condition, minPriceCents: min, maxPriceCents: max, sort, page, pageSize: SEARCH_PAGE_SIZE },
      callOpts(ctx),
    );
  } catch (err) {
    // The market's own rules (too long, too many words, min above max…), in its words.
    if (grpcCode(err) === Status.INVALID_ARGUMENT) throw refuse('recherche_invalide', userMessage(err, 'Cette recherche est invalide.'));
    throw grpcProblem(ctx.state.log, 'market', err);
  }
  const names = await sellerNames(
    w,
    ctx,
    res.listings.map((l) => l.sellerId),
  );
  const pages = Math.min(PAGE_MAX, Math.ceil(res.totalCount / res.pageSize));
  const qs = formQuery(form);
  const link = (n: number) => `/articles?${qs ? `${qs}&` : ''}page=${n}`;
  return {
    ...base,
    results: res.listings.map((l) => listingView(l, names)),
    total: res.totalCount,
    page: res.page,
    pages,
    // past the last page (an old link, a hand-typed number): back to the last one, not page - 1
    prev: res.page > 1 && pages > 0 ? link(Math.min(res.page - 1, pages)) : '',
    beyond: pages > 0 && res.page > pages,
    first: link(1),
    last: link(Math.max(1, pages)),
    next: res.page < pages ? link(res.page + 1) : '',
    searched: form.q !== '' || form.categorie !== '' || form.etat !== '' || form.prix_min !== '' || form.prix_max !== '',
    raw: res,
  };
}

export type SearchPage = Awaited<ReturnType<typeof searchPage>>;

export function searchJson(page: SearchPage, viewerId: string | undefined) {
  return {
    total: page.total,
    page: page.page,
    pages: page.pages,
    articles: page.raw.listings.map((l) => listingJson(l, viewerId)),
  };
}

/** The latest items for the home page; best effort (the home page stays up without them). */
export async function latestItems(w: Wiring, ctx: Ctx) {
  try {
    const res = await w.clients.market.searchListings(
      {
        query: '',
        category: market.Category.CATEGORY_UNSPECIFIED,
        condition: market.Condition.CONDITION_UNSPECIFIED,
        minPriceCents: 0,
        maxPriceCents: 0,
        sort: market.SearchSort.SEARCH_SORT_NEWEST,
        page: 1,
        pageSize: LATEST_ON_HOME,
      },
      callOpts(ctx),
    );
    const names = await sellerNames(
      w,
      ctx,
      res.listings.map((l) => l.sellerId),
    );
    return { items: res.listings.map((l) => listingView(l, names)), total: res.totalCount };
  } catch (err) {
    ctx.state.log.warn({ err: describeGrpcError(err) }, 'latest items unavailable');
    return undefined;
  }
}

const notFound = () =>
  new HttpProblem(404, 'article_introuvable', "Cet article n'existe pas ou plus. Il a peut-être été retiré.", {
    title: 'Article introuvable',
  });

/** One listing by the id in the path; unknown or malformed → the French 404 page. */
export async function itemPage(w: Wiring, ctx: Ctx, id: string) {
  if (!/^[1-9]\d{0,9}$/.test(id)) throw notFound();
  let listing: market.Listing | undefined;
  try {
    listing = (await w.clients.market.getListing({ id }, callOpts(ctx))).listing;
  } catch (err) {
    const code = grpcCode(err);
    // NOT_FOUND, or an id beyond the column's range (INVALID_ARGUMENT): no such item.
    if (code === Status.NOT_FOUND || code === Status.INVALID_ARGUMENT) throw notFound();
    throw grpcProblem(ctx.state.log, 'market', err);
  }
  if (!listing) throw notFound();
  const users = await knownUsers(w, ctx, [listing.sellerId]);
  const user = ctx.state.session.user;
  const item = listingView(listing, shortNames(users));
  return {
    item,
    // auth answered without this account: deleted (its sold items stay), not a name unavailable
    sellerDeleted: users !== undefined && !users.has(listing.sellerId),
    own: user?.id === listing.sellerId,
    boughtByMe: !!user && listing.buyerId === user.id,
    raw: listing,
    priceText: formatEuros(listing.priceCents),
  };
}

export type ItemPage = Awaited<ReturnType<typeof itemPage>>;

// The two services, Vente and Achat, and the page that offers them.
//
// Each POST is one `service` call of the logged-in user: Consume first; denied → 429 with
// Retry-After, RateLimit-Policy and RateLimit, stats DENIED; admitted → the market call, stats
// ALLOWED, 303 /services with a message. A market refusal (bad input, already sold, own item,
// unknown item) is shown with its status, and the call it cost stays counted: the limiter
// counts calls, not successes (README.md). Only a form the gateway cannot even read (a price
// that is not a number, an unknown category, no article id) is refused before counting.
import { Router } from '@koa/router';
import { market, stats } from '@etu/proto';
import type { Ctx, GatewayState, Kit } from '../kit';
import { rateLimitHeaders } from '../kit';
import { formatDuration, formatEuros, parseEuros, quotaSentence } from '../lib/format';
import { field, queryParam } from '../lib/forms';
import { describeGrpcError, grpcCode, isUnavailable, Status, userMessage } from '../lib/grpc';
import { CATEGORIES, categoryFromWord, listingJson, listingView } from '../lib/market-view';
import { HttpProblem, unavailable } from '../lib/problem';
import type { SessionUser } from '../middleware/session';
import { POLICY, tooMany } from './auth';

const PAGE_SIZE = 12;
const MY_LISTINGS = 50;

interface VenteForm {
  titre: string;
  categorie: string;
  prix: string;
  description: string;
}

const emptyForm: VenteForm = { titre: '', categorie: 'livre', prix: '', description: '' };

export function servicesRouter(kit: Kit): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const { clients } = kit;

  /** The logged-in user, or a 303 to /login (then `undefined`). */
  const requireUser = (ctx: Ctx): SessionUser | undefined => {
    const u = ctx.state.session.user;
    if (!u) kit.seeOther(ctx, '/login', { ok: false, error: 'non_connecte' });
    return u;
  };

  /** The quota line (limiter Peek); a limiter outage hides it instead of failing the page. */
  const quota = async (ctx: Ctx, user: SessionUser) => {
    try {
      const d = await clients.limiter.peek(POLICY.service, user.id);
      const nextFreeMs = d.remaining <= 0 ? d.retryAfterMs : d.nextReleaseMs > 0 ? d.nextReleaseMs : undefined;
      return {
        available: true,
        limit: d.limit,
        remaining: Math.max(0, d.remaining),
        windowMs: d.windowMs,
        nextFreeMs,
        fullMs: d.resetAfterMs,
        sentence: quotaSentence({ limit: d.limit, remaining: d.remaining, nextFreeMs, fullMs: d.resetAfterMs }),
      };
    } catch (err) {
      kit.count('limiter_peek_failed');
      ctx.state.log.warn({ err: describeGrpcError(err) }, 'quota peek failed');
      return { available: false, sentence: 'Votre quota est momentanément indisponible.' };
    }
  };

  /** Everything the services page shows. Market unavailable → 503. */
  const loadPage = async (ctx: Ctx, user: SessionUser, extra: { form?: VenteForm } = {}) => {
    const categorie = queryParam(ctx, 'categorie');
    const category = categoryFromWord(categorie) ?? market.Category.CATEGORY_UNSPECIFIED;
    const pageToken = queryParam(ctx, 'page').slice(0, 512);
    let others: market.ListListingsResponse;
    let mine: market.ListListingsResponse;
    let q: Awaited<ReturnType<typeof quota>>;
    try {
      [q, others, mine] = await Promise.all([
        quota(ctx, user),
        clients.market
          .listListings({
            filter: { category, sellerId: '', excludeSellerId: user.id, status: market.ListingStatus.LISTING_STATUS_AVAILABLE },
            pageSize: PAGE_SIZE,
            pageToken,
          })
          .catch((err: unknown) => {
            // A stale or forged page cursor: start over from the first page.
            if (grpcCode(err) === Status.INVALID_ARGUMENT && pageToken) {
              return clients.market.listListings({
                filter: { category, sellerId: '', excludeSellerId: user.id, status: market.ListingStatus.LISTING_STATUS_AVAILABLE },
                pageSize: PAGE_SIZE,
                pageToken: '',
              });
            }
            throw err;
          }),
        clients.market.listListings({
          filter: { category: market.Category.CATEGORY_UNSPECIFIED, sellerId: user.id, excludeSellerId: '', status: market.ListingStatus.LISTING_STATUS_UNSPECIFIED },
          pageSize: MY_LISTINGS,
          pageToken: '',
        }),
      ]);
    } catch (err) {
      if (isUnavailable(err)) {
        ctx.state.log.error({ err: describeGrpcError(err) }, 'market unavailable');
        throw unavailable('market');
      }
      throw err;
    }
    const names = await sellerNames(ctx, others.listings.map((l) => l.sellerId));
    return {
      quota: q,
      categories: CATEGORIES,
      categorie: categoryFromWord(categorie) ? categorie : '',
      others: others.listings.map((l) => listingView(l, names)),
      nextPage: others.nextPageToken,
      firstPage: pageToken !== '',
      mine: mine.listings.map((l) => listingView(l, names)),
      form: extra.form ?? emptyForm,
      raw: { others, mine },
    };
  };

  /** "Prénom N." of each seller, best effort (the page shows no name when auth cannot answer). */
  const sellerNames = async (ctx: Ctx, ids: string[]): Promise<Map<string, string>> => {
    const unique = [...new Set(ids)];
    const names = new Map<string, string>();
    if (unique.length === 0) return names;
    try {
      const res = await clients.auth.getUsers({ ids: unique });
      for (const u of res.users) names.set(u.id, `${u.firstName} ${u.lastName.slice(0, 1)}.`);
    } catch (err) {
      ctx.state.log.warn({ err: describeGrpcError(err) }, 'seller names unavailable');
    }
    return names;
  };

  router.get('/services', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = await loadPage(ctx, user);
    ctx.state.session.ensure();
    kit.respond(ctx, 200, 'services.njk', page, () => ({
      user: { id: user.id, prenom: user.firstName, nom: user.lastName },
      quota: page.quota.available
        ? { limite: page.quota.limit, restants: page.quota.remaining, prochainDansMs: page.quota.nextFreeMs, completDansMs: page.quota.fullMs, texte: page.quota.sentence }
        : null,
      articles: page.raw.others.listings.map(listingJson),
      pageSuivante: page.nextPage || null,
      mesArticles: page.raw.mine.listings.map(listingJson),
      csrfToken: ctx.state.session.csrf,
    }));
  });

  /** One `service` call: Consume, 429 when denied (stats DENIED), else the RateLimit headers. */
  const admit = async (ctx: Ctx, user: SessionUser, kind: stats.ServiceKind) => {
    const d = await kit.limit(ctx, 'consume service', () => clients.limiter.consume(POLICY.service, user.id));
    if (!d) return; // limiter down, LIMITER_FAIL_MODE=open: admitted unchecked
    const headers = rateLimitHeaders(d);
    if (!d.allowed) {
      kit.count('service_quota_refused');
      await kit.record(ctx, 'RecordServiceCall', (eventId, timeoutMs) =>
        clients.stats.recordServiceCall({ eventId, userId: user.id, service: kind, outcome: stats.Outcome.OUTCOME_DENIED }, { timeoutMs }),
      );
      ctx.state.log.info({ userId: user.id, service: stats.ServiceKind[kind] }, 'service call refused: quota');
      throw tooMany(
        ctx,
        d.retryAfterMs,
        'quota_atteint',
        'Quota atteint',
        `Vous avez utilisé vos ${d.limit} appels autorisés sur ${formatDuration(d.windowMs)}. Le prochain se libère dans ${formatDuration(d.retryAfterMs)}.`,
        undefined,
        headers,
      );
    }
    for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  };

  /** After admission: record the call (best effort), then map the market's answer. */
  const marketCall = async <T>(ctx: Ctx, user: SessionUser, kind: stats.ServiceKind, call: () => Promise<T>, form?: VenteForm): Promise<T> => {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      await recordAllowed(ctx, user, kind);
      throw await marketProblem(ctx, user, err, form);
    }
    await recordAllowed(ctx, user, kind);
    return result;
  };

  const recordAllowed = (ctx: Ctx, user: SessionUser, kind: stats.ServiceKind) =>
    kit.record(ctx, 'RecordServiceCall', (eventId, timeoutMs) =>
      clients.stats.recordServiceCall({ eventId, userId: user.id, service: kind, outcome: stats.Outcome.OUTCOME_ALLOWED }, { timeoutMs }),
    );

  /** A market refusal, shown on the services page with its status (400, 404, 409). */
  const marketProblem = async (ctx: Ctx, user: SessionUser, err: unknown, form?: VenteForm): Promise<unknown> => {
    const code = grpcCode(err);
    const mapped =
      code === Status.INVALID_ARGUMENT
        ? { status: 400, code: 'champ_invalide', message: userMessage(err, 'Un des champs est invalide.') }
        : code === Status.FAILED_PRECONDITION
          ? { status: 409, code: 'impossible', message: userMessage(err, "Cet article n'est plus disponible.") }
          : code === Status.NOT_FOUND
            ? { status: 404, code: 'article_introuvable', message: "Cet article n'existe pas." }
            : undefined;
    if (!mapped) {
      if (isUnavailable(err)) {
        ctx.state.log.error({ err: describeGrpcError(err) }, 'market unavailable');
        return unavailable('market');
      }
      return err;
    }
    ctx.state.log.info({ err: describeGrpcError(err) }, 'market refused the call');
    let view: { name: string; data: Record<string, unknown> } | undefined;
    try {
      view = { name: 'services.njk', data: await loadPage(ctx, user, { form }) };
    } catch {
      view = undefined; // the plain error page then
    }
    return new HttpProblem(mapped.status, mapped.code, mapped.message, { title: 'Action impossible', view });
  };

  router.post('/services/vente', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const form: VenteForm = {
      titre: field(ctx, 'titre'),
      categorie: field(ctx, 'categorie').trim().toLowerCase(),
      prix: field(ctx, 'prix').trim(),
      description: field(ctx, 'description'),
    };
    const category = categoryFromWord(form.categorie);
    const priceCents = parseEuros(form.prix);
    if (category === undefined || priceCents === null) {
      const message = category === undefined ? 'Choisissez une catégorie : livre, DVD ou autre.' : 'Indiquez un prix en euros, par exemple 12,50.';
      let view;
      try {
        view = { name: 'services.njk', data: await loadPage(ctx, user, { form }) };
      } catch {
        view = undefined;
      }
      throw new HttpProblem(400, category === undefined ? 'categorie_invalide' : 'prix_invalide', message, { title: 'Vente', view });
    }
    await admit(ctx, user, stats.ServiceKind.SERVICE_KIND_VENTE);
    const res = await marketCall(
      ctx,
      user,
      stats.ServiceKind.SERVICE_KIND_VENTE,
      () => clients.market.createListing({ sellerId: user.id, title: form.titre, category, priceCents, description: form.description }),
      form,
    );
    const listing = res.listing;
    ctx.state.log.info({ userId: user.id, listingId: listing?.id }, 'listing created');
    kit.flash(ctx, { kind: 'succes', text: `Votre article « ${listing?.title ?? form.titre} » est en vente pour ${formatEuros(priceCents)}.` });
    kit.seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined });
  });

  router.post('/services/achat', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const articleId = field(ctx, 'article_id').trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(articleId)) {
      throw new HttpProblem(400, 'article_invalide', 'Article inconnu : choisissez un article dans la liste.', { title: 'Achat' });
    }
    await admit(ctx, user, stats.ServiceKind.SERVICE_KIND_ACHAT);
    const res = await marketCall(ctx, user, stats.ServiceKind.SERVICE_KIND_ACHAT, () => clients.market.purchase({ listingId: articleId, buyerId: user.id }));
    const listing = res.listing;
    ctx.state.log.info({ userId: user.id, listingId: articleId }, 'listing bought');
    kit.flash(ctx, {
      kind: 'succes',
      text: listing ? `Vous avez acheté « ${listing.title} » pour ${formatEuros(listing.priceCents)}.` : 'Achat effectué.',
    });
    kit.seeOther(ctx, '/services', { article: listing ? listingJson(listing) : undefined });
  });

  return router;
}

// Phase 4's reference monolith (issue 16, item 1): what a team would build instead of the
// microservices — ONE Koa process doing exactly the site's Vente and Achat, with the project's
// own pieces in-process instead of behind gRPC:
//
// - the session read from Redis (`sess:<id>`, the signed `etu_sid` cookie, SESSION_KEYS through
//   Koa's keygrip, the absolute timeout) read and renewed with one GETEX, as gateway/src/middleware/
//   session.ts does; the same body parser, helmet headers and Cache-Control as the gateway;
// - the CSRF check of the session's synchronizer token (sha256 + timingSafeEqual, middleware/csrf.ts);
// - the gateway's validation of the form (category word, price in euros, the listing rules of
//   @etu/common that market enforces: lib/forms.js listingMistake) and
//   the market's (services/market/dist/rules.js parseNewListing / parseId / parseUserId);
// - the limiter's own Lua script through ioredis: @etu/limiter's SlidingWindowStore (the class
//   the limiter service runs, the script file it loads), one decision per request;
// - the replay check as the gateway makes it: the sale form's key (`cle`) or the Achat's listing
//   claimed in the session Redis (gateway/dist/lib/call-claims.js, one SET NX); only a key claimed
//   before reads the database to answer a call already done again, uncounted (the sale by its
//   key, the listing bought by this user), after waiting while the first call with it is in
//   flight; a call that ends settles its claim, a refused call gives its key back;
// - the SQL with the `mariadb` driver directly, a pool of 10 (the market's), through the market's
//   own statements (services/market/dist/hot-sql.js): Vente = one INSERT … SELECT (the seller's
//   row id read by the INSERT) with the form's key; Achat = the conditional UPDATE joined to the
//   buyer's row (available and not the buyer's own: of two buyers one wins) and the row read
//   back, as Market.purchase does;
// - the seller's mail after each purchase, as the gateway sends it: the same MailQueue, sender
//   (the outbox folder: MAIL_OUTBOX_DIR) and text, the two users read with auth's statement;
// - the statistics recorded by the stats service's own script (StatsStore.recordCall: one EVALSHA,
//   deduplicated by a fresh event id), awaited before answering, as the gateway does.
//
// Same answers: 303 with { ok, location, article, rejoue } to a JSON client, 429 with Retry-After
// and the RateLimit headers when the quota is spent, 400/404/409 for the market's refusals.
// Environment: PORT, HOST, SESSION_KEYS, SESSION_REDIS_URL, LIMITER_REDIS_URL, STATS_REDIS_URL,
// DATABASE_URL, MONOLITH_POOL (default 10).
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { require } from '../lib/project.mjs';
import { ROOT } from '../lib/util.mjs';

const Koa = require('koa');
const { bodyParser } = require('@koa/bodyparser');
const helmet = require('koa-helmet');
const mariadb = require('mariadb');
const { createRedis, FailedPrecondition, NotFound } = require(join(ROOT, 'services/common/dist/index.js'));
const { SlidingWindowStore, connectLimiterRedis, parsePolicies, DEFAULT_POLICIES } = require(join(ROOT, 'services/limiter/dist/index.js'));
const { StatsStore } = require(join(ROOT, 'services/stats/dist/store.js'));
const rules = require(join(ROOT, 'services/market/dist/rules.js'));
const { toProto, MSG } = require(join(ROOT, 'services/market/dist/market.js'));
const { driverHotSql, isDuplicateKey } = require(join(ROOT, 'services/market/dist/hot-sql.js'));
const { driverUsersLookup } = require(join(ROOT, 'services/auth/dist/accounts.js'));
const { MailQueue, createSender } = require(join(ROOT, 'gateway/dist/lib/mailer.js'));
const { batchedUsers } = require(join(ROOT, 'gateway/dist/lib/user-lookup.js'));
const { saleMail } = require(join(ROOT, 'gateway/dist/pages/purchases.js'));
const { parseEuros } = require(join(ROOT, 'gateway/dist/lib/format.js'));
const { listingMistake } = require(join(ROOT, 'gateway/dist/lib/forms.js'));
const { categoryFromWord, conditionFromWord, listingJson } = require(join(ROOT, 'gateway/dist/lib/market-view.js'));
const { rateLimitHeaders } = require(join(ROOT, 'gateway/dist/lib/limits.js'));
const { callClaims } = require(join(ROOT, 'gateway/dist/lib/call-claims.js'));
const { retryAfterSeconds, formatDuration } = require(join(ROOT, 'gateway/dist/lib/format.js'));

const env = process.env;
const KEYS = (env.SESSION_KEYS ?? '')
  .split(',')
  .map((k) => k.trim())
  .filter(Boolean);
const IDLE_MS = 30 * 60_000;
const ABSOLUTE_MS = 12 * 3_600_000;
const ID_FORMAT = /^[\w-]{43}$/;
const POLICY = parsePolicies(DEFAULT_POLICIES).get('service');

// each client as its part makes it (gateway/src/main.ts, limiter and stats servers)
const sessions = createRedis(env.SESSION_REDIS_URL, { commandTimeoutMs: 500, connectTimeoutMs: 1000 });
const limiterRedis = connectLimiterRedis(env.LIMITER_REDIS_URL);
const statsRedis = createRedis(env.STATS_REDIS_URL, { commandTimeoutMs: 500, neverResend: true });
const store = new SlidingWindowStore(limiterRedis);
const claims = callClaims(sessions); // PENDING_MS: the gateway's bound with its default GRPC_TIMEOUT_MS
const stats = new StatsStore(statsRedis);
const u = new URL(env.DATABASE_URL);
const pool = mariadb.createPool({
  host: u.hostname,
  port: Number(u.port || 3306),
  user: decodeURIComponent(u.username || 'root'),
  password: decodeURIComponent(u.password),
  database: u.pathname.slice(1),
  connectionLimit: Number(env.MONOLITH_POOL ?? 10),
  timezone: 'Z',
});
// the market's own statements (services/market/src/hot-sql.ts): the INSERT and the conditional
// UPDATE each read the user's row id themselves; the row read with both users' public ids
const sql = driverHotSql(pool);
// the seller's mail after a purchase, as the gateway sends it (lib/mailer.ts): the same queue and
// sender (the outbox folder), the same text (pages/purchases.ts saleMail), the two users read
// with auth's own statement (driverUsersLookup) in-process, batched per turn as the gateway's
const lookup = driverUsersLookup(pool);
const users = batchedUsers({
  getUsers: async (req) => ({
    users: (await lookup(req.ids)).map(({ publicId, ...u }) => ({ id: publicId, ...u })),
  }),
});
const mailCfg = {
  MAIL_FROM: 'EtuServices <ne-pas-repondre@etuservices.example>',
  MAIL_OUTBOX_DIR: env.MAIL_OUTBOX_DIR ?? join(ROOT, 'bench', 'tmp', 'outbox'),
  MAIL_QUEUE_SIZE: 1000,
  MAIL_TIMEOUT_MS: 10_000,
};
const mail = new MailQueue({ send: createSender(mailCfg), log: { info: () => undefined, warn: () => undefined }, max: 1000 });
const mailWiring = { users, config: { PUBLIC_ORIGIN: 'http://127.0.0.1' } };

class Problem extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    Object.assign(this, { status, code, headers });
  }
}

function tokensMatch(expected, got) {
  if (typeof expected !== 'string' || !expected || typeof got !== 'string' || !got) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(got).digest();
  return timingSafeEqual(a, b);
}

function field(ctx, name) {
  const v = ctx.request.body?.[name];
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
}

function seeOther(ctx, user, listing, replayed) {
  ctx.status = 303;
  ctx.redirect('/services');
  ctx.body = { ok: true, location: '/services', article: listing ? listingJson(listing, user.id) : undefined, rejoue: replayed };
}

/** The market's refusal (a typed @etu/common error) as the gateway shows it. */
function marketRefusal(err) {
  switch (err?.constructor?.name) {
    case 'InvalidArgument':
      return new Problem(400, 'champ_invalide', err.message);
    case 'FailedPrecondition':
      return new Problem(409, 'impossible', err.message);
    case 'NotFound':
      return new Problem(404, 'article_introuvable', "Cet article n'existe pas.");
    default:
      return err;
  }
}

/**
 * One service call: the replay check, then (countedCall) the quota (429 + DENIED), `call`, and
 * ALLOWED recorded. `replay` ({ key, done }): the first call with its key goes on; another waits
 * while the first is in flight, then asks `done` (a result: answered again, uncounted); the first
 * settles its claim when it ends, or gives its key back when refused (the gateway's serviceCall).
 */
async function serviceCall(ctx, user, service, call, replay) {
  const kind = `SERVICE_KIND_${service}`;
  const claimed = replay !== undefined && (await claims.begin(user.id, kind, replay.key)).state === 'first';
  if (replay && !claimed) {
    const done = await replay.done().catch((err) => Promise.reject(marketRefusal(err)));
    if (done) return { listing: done, replayed: true };
  }
  let listing;
  try {
    listing = await countedCall(ctx, user, service, call);
  } catch (err) {
    if (claimed && err instanceof Problem && err.status < 500) void claims.release(user.id, kind, replay.key);
    else if (claimed) void claims.settle(user.id, kind, replay.key);
    throw err;
  }
  if (claimed) void claims.settle(user.id, kind, replay.key);
  return { listing, replayed: false };
}

async function countedCall(ctx, user, service, call) {
  const d = await store.decide({ policy: POLICY, subject: user.id, cost: 1 });
  const headers = rateLimitHeaders({ ...d, policy: POLICY.name, limit: POLICY.limit, windowMs: POLICY.windowMs });
  const record = (outcome) =>
    stats.recordCall(randomUUID(), user.id, service, outcome).catch(() => undefined /* best effort, as the gateway */);
  if (!d.allowed) {
    await record('denied');
    throw new Problem(
      429,
      'quota_atteint',
      `Vous avez utilisé vos ${POLICY.limit} appels autorisés sur ${formatDuration(POLICY.windowMs)}. Le prochain se libère dans ${formatDuration(d.retryAfterMs)}.`,
      { 'Retry-After': String(retryAfterSeconds(d.retryAfterMs)), ...headers },
    );
  }
  ctx.set(headers);
  try {
    return await call();
  } catch (err) {
    throw marketRefusal(err);
  } finally {
    await record('allowed');
  }
}

async function vente(ctx, user) {
  const titre = field(ctx, 'titre');
  const description = field(ctx, 'description');
  const category = categoryFromWord(field(ctx, 'categorie').trim().toLowerCase());
  const priceCents = parseEuros(field(ctx, 'prix').trim());
  const condition = conditionFromWord(field(ctx, 'etat').trim());
  const mistake = priceCents === null ? undefined : listingMistake({ title: titre, priceCents, description });
  if (category === undefined) throw new Problem(400, 'categorie_invalide', 'Choisissez une catégorie : livre, DVD ou autre.');
  if (priceCents === null) throw new Problem(400, 'prix_invalide', 'Indiquez un prix en euros, par exemple 12,50.');
  if (condition === undefined) throw new Problem(400, 'etat_invalide', "Choisissez l'état de l'article.");
  if (mistake) throw new Problem(400, 'champ_invalide', mistake);
  const cle = field(ctx, 'cle').trim();
  // the market's FindSale: the sale of this seller made with this key, if any
  const sale = async () => {
    const key = rules.parseIdempotencyKey(cle);
    const [row] = await pool.execute(
      'SELECT a.id FROM articles a JOIN utilisateurs u ON u.id = a.vendeur_id WHERE u.public_id = ? AND a.cle_idempotence = ?',
      [user.id, key],
    );
    const found = row ? await sql.readListing(row.id) : undefined;
    return found ? toProto(found) : undefined;
  };
  const { listing, replayed } = await serviceCall(
    ctx,
    user,
    'VENTE',
    async () => {
      const n = rules.parseNewListing({
        sellerId: user.id,
        title: titre,
        category,
        condition,
        photos: [],
        priceCents,
        description,
        idempotencyKey: cle,
      });
      const createdAt = new Date();
      let id;
      try {
        id = await sql.insertListing(n.sellerId, n, createdAt);
      } catch (err) {
        // the same key sent at once by two requests: the first one's sale
        const first = isDuplicateKey(err) ? await sale() : undefined;
        if (first) return first;
        throw err;
      }
      if (id === undefined) throw new FailedPrecondition(MSG.unknownSeller);
      return toProto({
        id,
        ...n,
        buyerId: null,
        status: 'disponible',
        createdAt,
        soldAt: null,
        version: 1,
        seller: { publicId: n.sellerId },
        buyer: null,
      });
    },
    cle ? { key: cle, done: sale } : undefined,
  );
  seeOther(ctx, user, listing, replayed);
}

async function achat(ctx, user) {
  const articleId = field(ctx, 'article_id').trim();
  if (articleId.length > 64 || !/^[\w-]{1,64}$/.test(articleId)) {
    throw new Problem(400, 'article_invalide', 'Article inconnu : choisissez un article dans la liste.');
  }
  // a retried Achat already done: answered again, uncounted (the gateway's GetListing check)
  const bought = async () => {
    const id = /^\d{1,10}$/.test(articleId) ? Number(articleId) : null;
    const first = id === null ? undefined : await sql.readListing(id);
    return first?.status === 'vendu' && first.buyer?.publicId === user.id ? toProto(first) : undefined;
  };
  const { listing, replayed } = await serviceCall(
    ctx,
    user,
    'ACHAT',
    async () => {
      const listingId = rules.parseId('listing_id', articleId, "l'identifiant de l'article");
      const buyer = rules.parseUserId('buyer_id', user.id, "l'identifiant de l'acheteur");
      const count = await sql.buy(listingId, buyer, new Date());
      const row = await sql.readListing(listingId);
      if (count === 1 && row) return toProto(row);
      if (row?.status === 'vendu' && row.buyer?.publicId === buyer) return toProto(row);
      if (!row) throw new NotFound(MSG.notFound);
      if (row.seller.publicId === buyer) throw new FailedPrecondition(MSG.ownListing);
      throw new FailedPrecondition(MSG.alreadySold);
    },
    { key: articleId, done: bought },
  );
  if (!replayed) mail.enqueue('achat', () => saleMail(mailWiring, listing));
  seeOther(ctx, user, listing, replayed);
}

const app = new Koa({ keys: KEYS });
app.silent = true;
app.use(async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    const p = err instanceof Problem ? err : new Problem(500, 'erreur_interne', 'Une erreur est survenue.');
    if (!(err instanceof Problem)) process.stderr.write(`${err?.stack ?? err}\n`);
    ctx.status = p.status;
    ctx.set(p.headers);
    ctx.body = { ok: false, error: p.code, message: p.message };
  }
});
app.use(
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], formAction: ["'self'"], frameAncestors: ["'none'"] },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: false,
  }),
);
app.use(async (ctx, next) => {
  await next();
  if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
});
app.use(async (ctx, next) => {
  if (ctx.path === '/healthz') {
    ctx.body = { status: 'ok' };
    return;
  }
  const route = ctx.method === 'POST' && (ctx.path === '/services/vente' ? vente : ctx.path === '/services/achat' ? achat : null);
  if (!route) throw new Problem(404, 'introuvable', 'Page introuvable.');
  // the session: signed cookie, read and renewed at once (GETEX), absolute timeout; a PEXPIRE
  // bounds the TTL only in its last idle period, as the gateway does
  const id = ctx.cookies.get('etu_sid', { signed: true });
  let data;
  if (id && ID_FORMAT.test(id)) {
    try {
      data = JSON.parse((await sessions.getex(`sess:${id}`, 'PX', IDLE_MS)) ?? 'null');
    } catch {
      data = null;
    }
  }
  if (!data?.user || data.createdAt + ABSOLUTE_MS <= Date.now()) {
    ctx.status = 303;
    ctx.redirect('/login');
    ctx.body = { ok: false, location: '/login', error: 'non_connecte' };
    return;
  }
  await next(); // the body parser
  if (!tokensMatch(data.csrf, ctx.request.body?._csrf ?? ctx.get('x-csrf-token'))) {
    throw new Problem(403, 'csrf', 'Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.');
  }
  try {
    await route(ctx, data.user);
  } finally {
    const ttl = data.createdAt + ABSOLUTE_MS - Date.now();
    if (ttl < IDLE_MS) await sessions.pexpire(`sess:${id}`, Math.max(1, ttl));
  }
});
app.use(bodyParser({ enableTypes: ['form', 'json'], formLimit: 16 * 1024, jsonLimit: 16 * 1024, encoding: 'utf-8' }));

const server = createServer(app.callback());
server.keepAliveTimeout = 5_000;
server.listen(Number(env.PORT), env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () =>
  server.close(() => {
    void Promise.allSettled([pool.end(), sessions.quit(), limiterRedis.quit(), statsRedis.quit()]).then(() => process.exit(0));
  }),
);

// The gateway's Koa application. main.ts wires real clients and listens; tests inject clients
// pointed at test servers. Middleware order (CONVENTIONS.md): error handler and request log →
// security headers → static files and probes → session → body parser (size limits) → CSRF →
// routers.
import { join } from 'node:path';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import type { GatewayState } from './context';
import type { AppDeps, Wiring } from './deps';
import { DenialTally } from './flows/denials';
import { StatsBatch } from './flows/stats-batch';
import { secureCookies } from './lib/device-cookie';
import { createSender, MailQueue } from './lib/mailer';
import { Metrics } from './lib/metrics';
import { StoreCheck } from './lib/stores';
import { GATEWAY_ROOT, Views } from './lib/views';
import { bodyTypeMiddleware } from './middleware/body-type';
import { csrfMiddleware } from './middleware/csrf';
import { errorMiddleware } from './middleware/errors';
import { identityMiddleware } from './middleware/identity';
import { batchedUsers } from './lib/user-lookup';
import { callClaims, pendingMsFor } from './lib/call-claims';
import { routeFirst } from './middleware/routing';
import { sameOriginMiddleware } from './middleware/same-origin';
import { observeMiddleware } from './middleware/observe';
import { SessionStoreProbe, sessionMiddleware } from './middleware/session';
import { staticMiddleware } from './middleware/static';
import { accountRouter } from './routes/account';
import { multipartMiddleware } from './middleware/multipart';
import { photosMiddleware } from './middleware/photos';
import { PhotoStore } from '@etu/common/photos';
import { articlesRouter } from './routes/articles';
import { sellerRouter } from './routes/seller';
import { authRouter } from './routes/auth';
import { healthRouter } from './routes/health';
import { homeRouter } from './routes/home';
import { servicesRouter } from './routes/services';
import { statsRouter } from './routes/stats';
import { POLICY } from './lib/limits';
import { Quota, type PolicyCheck } from './quota';

export type { AppDeps } from './deps';

export interface GatewayApp extends Koa<GatewayState> {
  metrics: Metrics;
  /** Peeks every limiter policy the gateway uses (main.ts calls it at start; /readyz on each probe). */
  checkPolicies(): Promise<PolicyCheck>;
  /** Sends what waits for the statistics (summed refusals, queued records); main.ts calls it at shutdown. */
  flushPending(): Promise<void>;
  /** The e-mails waiting to be sent (`idle()` resolves once none is left). */
  mail: MailQueue;
}

export function createApp(deps: AppDeps): GatewayApp {
  const { config } = deps;
  const metrics = deps.metrics ?? new Metrics();
  const views = new Views(config);
  metrics.declarePolicies(Object.values(POLICY));
  const quota = new Quota(deps.clients.limiter, config.LIMITER_FAIL_MODE, metrics, deps.log, config.REFUSAL_CACHE_SIZE);
  const denials = new DenialTally({
    stats: deps.clients.stats,
    metrics,
    log: deps.log,
    flushMs: config.STATS_DENIAL_FLUSH_MS,
    timeoutMs: config.STATS_TIMEOUT_MS,
  });
  const statsBatch =
    config.STATS_BATCH === 'off'
      ? undefined
      : new StatsBatch({ stats: deps.clients.stats, metrics, log: deps.log, timeoutMs: config.STATS_TIMEOUT_MS });
  const sessionStore = new SessionStoreProbe(deps.sessionRedis);
  const mail = new MailQueue({
    send: deps.sendMail ?? createSender(config),
    log: deps.log,
    max: config.MAIL_QUEUE_SIZE,
    retryMs: config.MAIL_RETRY_MS,
    onOutcome: (kind, outcome) => metrics.mail(kind, outcome),
  });
  const photos = new PhotoStore(config.PHOTOS_DIR);
  const users = batchedUsers(deps.clients.auth);
  const w: Wiring = {
    config,
    clients: deps.clients,
    sessionRedis: deps.sessionRedis,
    sessionStore,
    metrics,
    views,
    quota,
    denials,
    statsBatch,
    mail,
    photos,
    users,
    claims: callClaims(deps.sessionRedis, { pendingMs: pendingMsFor(config.GRPC_TIMEOUT_MS) }),
  };
  const app = new Koa<GatewayState>({
    keys: config.SESSION_KEYS,
    proxy: config.TRUST_PROXY > 0,
    maxIpsCount: config.TRUST_PROXY,
    env: config.NODE_ENV,
  }) as GatewayApp;
  app.metrics = metrics;
  app.checkPolicies = () => quota.checkPolicies();
  app.flushPending = async () => {
    await Promise.all([denials.flush(), statsBatch?.flush()]);
  };
  app.mail = mail;
  // Errors are logged once, with the request id, by errorMiddleware; Koa's own printer stays quiet.
  app.silent = true;

  app.use(observeMiddleware(metrics, { trustProxy: config.TRUST_PROXY > 0 }));
  app.use(errorMiddleware(views, deps.log, metrics));
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
          manifestSrc: ["'self'"],
        },
      },
      crossOriginEmbedderPolicy: false,
      referrerPolicy: { policy: 'same-origin' },
      // HSTS only means something over TLS; a plain-HTTP local run must not pin it on 127.0.0.1.
      strictTransportSecurity: config.COOKIE_SECURE === 'true' ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    }),
  );
  app.use(async (ctx, next) => {
    await next();
    // Pages carry per-user content (names, CSRF tokens): never cache them in shared caches.
    if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
  });
  app.use(staticMiddleware(join(GATEWAY_ROOT, 'public')));
  app.use(photosMiddleware(photos));
  const health = healthRouter(w, new StoreCheck(deps.clients.stores, deps.sessionRedis, deps.log));
  app.use(health.routes());
  // 404 and 405 (with Allow) before the session, the body and the CSRF check (issue 15).
  const routers = [homeRouter(w), articlesRouter(w), sellerRouter(w), authRouter(w), accountRouter(w), servicesRouter(w), statsRouter(w)];
  app.use(routeFirst([health, ...routers]));

  app.use(
    sessionMiddleware<GatewayState>({
      redis: deps.sessionRedis,
      idleMs: config.SESSION_IDLE_MS,
      absoluteMs: config.SESSION_ABSOLUTE_MS,
      secure: config.COOKIE_SECURE,
      // Still answered, as for a visitor and with a notice, while the session store is down.
      // An item page is public too; its confirmation step (/articles/:id/acheter) needs a session.
      publicPages: ['/', '/articles', /^\/articles\/[^/]+$/, '/login', '/inscription', '/mot-de-passe-oublie', '/mentions-legales'],
      onStoreDown: () => metrics.sessionStoreError(),
      probe: sessionStore,
    }),
  );
  // Before anything reads the session's user: its account must still exist (docs/architecture.md, "One identity").
  app.use(identityMiddleware<GatewayState>({ auth: users, onDropped: () => metrics.sessionUserUnknown() }));
  app.use(
    bodyParser({
      enableTypes: ['form', 'json'],
      formLimit: config.BODY_LIMIT_BYTES,
      jsonLimit: config.BODY_LIMIT_BYTES,
      encoding: 'utf-8',
      // Parse errors propagate: 400 malformed, 413 too large, rendered by the error handler.
    }),
  );
  app.use(sameOriginMiddleware(() => metrics.csrfRefused()));
  // A body the parser left alone because no route reads its format: 415, not an « expired form ».
  app.use(bodyTypeMiddleware());
  // The sale form with its photos (multipart/form-data, which the parser above leaves alone),
  // under fixed bounds, after the same-origin check and before the CSRF token's.
  app.use(multipartMiddleware({ paths: ['/services/vente'], fieldBytes: config.BODY_LIMIT_BYTES }));
  app.use(
    csrfMiddleware<GatewayState>({
      keys: config.SESSION_KEYS,
      secure: (ctx) => secureCookies(ctx, config.COOKIE_SECURE),
      onRefused: () => metrics.csrfRefused(),
    }),
  );

  for (const r of routers) app.use(r.routes());
  return app;
}

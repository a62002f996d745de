// What every router shares: the dependencies, the templates, the way to answer (page or JSON),
// the limiter calls with their failure mode, and best-effort stats recording.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ParameterizedContext } from 'koa';
import nunjucks from 'nunjucks';
import type Redis from 'ioredis';
import type { Logger } from '@etu/common';
import type { limiter } from '@etu/proto';
import type { Clients } from './clients';
import type { GatewayConfig } from './config';
import { formatDateTime, formatDuration, formatEuros, retryAfterSeconds } from './lib/format';
import { describeGrpcError } from './lib/grpc';
import type { CounterName, Metrics } from './lib/metrics';
import { unavailable } from './lib/problem';
import type { Flash, Session } from './middleware/session';

export interface GatewayState {
  requestId: string;
  log: Logger;
  session: Session;
}

export type Ctx = ParameterizedContext<GatewayState>;

/** The configuration the app reads (loadConfig's output satisfies it). */
export type AppConfig = Pick<
  GatewayConfig,
  | 'NODE_ENV'
  | 'LIMITER_FAIL_MODE'
  | 'TRUST_PROXY'
  | 'COOKIE_SECURE'
  | 'SESSION_KEYS'
  | 'SESSION_IDLE_MS'
  | 'SESSION_ABSOLUTE_MS'
  | 'STATS_TIMEOUT_MS'
  | 'BODY_LIMIT_BYTES'
  | 'DISPLAY_TIME_ZONE'
>;

export interface AppDeps {
  config: AppConfig;
  clients: Clients;
  /** Redis connection of the session store (db 2). */
  sessionRedis: Redis;
  log: Logger;
  metrics?: Metrics;
}

export const GATEWAY_ROOT = join(__dirname, '..');

export function createViews(config: AppConfig): nunjucks.Environment {
  const loader = new nunjucks.FileSystemLoader(join(GATEWAY_ROOT, 'views'), { noCache: config.NODE_ENV === 'development' });
  const env = new nunjucks.Environment(loader, { autoescape: true, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true });
  env.addFilter('euros', (cents: number) => formatEuros(Number(cents)));
  env.addFilter('dateTime', (d: Date | undefined) => formatDateTime(d, config.DISPLAY_TIME_ZONE));
  env.addFilter('duration', (ms: number) => formatDuration(Number(ms)));
  return env;
}

/** Programs that ask for JSON (`Accept: application/json`) get JSON; browsers get pages. */
export function wantsJson(ctx: Ctx): boolean {
  return ctx.accepts('html', 'json') === 'json';
}

export class Kit {
  readonly views: nunjucks.Environment;
  constructor(
    readonly deps: AppDeps,
    readonly metrics: Metrics,
  ) {
    this.views = createViews(deps.config);
  }

  get clients(): Clients {
    return this.deps.clients;
  }

  get config(): AppConfig {
    return this.deps.config;
  }

  /** Variables every page gets (the logged-in user, the CSRF token, a flash message...). */
  locals(ctx: Ctx): Record<string, unknown> {
    const session = ctx.state.session as Session | undefined;
    return {
      user: session?.user,
      csrf: session?.csrf,
      flash: session?.takeFlash(),
      requestId: ctx.state.requestId,
      path: ctx.path,
    };
  }

  renderString(ctx: Ctx, view: string, data: Record<string, unknown>): string {
    return this.views.render(view, { ...this.locals(ctx), ...data });
  }

  /** Answers with a page, or with `json` when the client asked for JSON. */
  respond(ctx: Ctx, status: number, view: string, data: Record<string, unknown>, json: () => unknown): void {
    ctx.status = status;
    if (wantsJson(ctx)) {
      ctx.body = json();
      return;
    }
    ctx.type = 'html';
    ctx.body = this.renderString(ctx, view, data);
  }

  /** A message for the next page (pages only: programs get the result in the JSON answer). */
  flash(ctx: Ctx, flash: Flash): void {
    if (!wantsJson(ctx)) ctx.state.session.setFlash(flash);
  }

  /** 303 See Other (after a successful POST, or to the login page); JSON clients get `json` too. */
  seeOther(ctx: Ctx, location: string, json?: Record<string, unknown>): void {
    ctx.status = 303;
    ctx.redirect(location);
    if (wantsJson(ctx)) ctx.body = { ok: true, location, ...json };
  }

  /**
   * A limiter call, applying LIMITER_FAIL_MODE when the limiter cannot answer: closed → 503,
   * open → `undefined` (admitted unchecked). Both are logged and counted.
   */
  async limit(ctx: Ctx, what: string, call: () => Promise<limiter.Decision>): Promise<limiter.Decision | undefined> {
    try {
      return await call();
    } catch (err) {
      const open = this.config.LIMITER_FAIL_MODE === 'open';
      this.metrics.inc(open ? 'limiter_unavailable_admitted' : 'limiter_unavailable_refused');
      ctx.state.log.error({ what, err: describeGrpcError(err), failMode: this.config.LIMITER_FAIL_MODE }, 'limiter unavailable');
      if (open) return undefined;
      throw unavailable('limiter');
    }
  }

  /**
   * Best-effort statistics: the user's action never fails because stats are down or slow (the
   * call has its own short deadline). A loss is logged and counted (`stats_record_lost`).
   */
  async record(ctx: Ctx, what: string, call: (eventId: string, timeoutMs: number) => Promise<unknown>): Promise<void> {
    try {
      await call(randomUUID(), this.config.STATS_TIMEOUT_MS);
    } catch (err) {
      this.count('stats_record_lost');
      ctx.state.log.warn({ what, err: describeGrpcError(err) }, 'stats recording lost');
    }
  }

  count(name: CounterName): void {
    this.metrics.inc(name);
  }
}

/** IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers) for a decision. */
export function rateLimitHeaders(d: limiter.Decision): Record<string, string> {
  const windowS = Math.round(d.windowMs / 1000);
  // With calls left, t is when the whole quota is back; with none left, when the next call is
  // possible (retry_after_ms on a denial, next_release_ms when this call took the last one).
  const resetS = d.remaining > 0 ? Math.ceil(d.resetAfterMs / 1000) : retryAfterSeconds(d.retryAfterMs || d.nextReleaseMs);
  return {
    'RateLimit-Policy': `"${d.policy}";q=${d.limit};w=${windowS}`,
    RateLimit: `"${d.policy}";r=${Math.max(0, d.remaining)};t=${Math.max(0, resetS)}`,
  };
}

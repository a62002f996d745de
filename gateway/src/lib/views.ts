// The templates (nunjucks, autoescaped) and the ways to answer: a page for browsers, JSON for
// programs (`Accept: application/json`), 303 after a POST, a flash message for the next page.
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import type { Ctx } from '../context';
import { formatClock, formatDateTime, formatDuration, formatEuros, formatTime } from './format';
import { withReturn } from './return-path';
import type { Flash, SessionUser } from './session';

export const GATEWAY_ROOT = join(__dirname, '..', '..');

/** A page to render instead of the error page (e.g. the form again, with the message). */
export interface View {
  name: string;
  data: Record<string, unknown>;
}

/** Programs that ask for JSON (`Accept: application/json`) get JSON; browsers get pages. */
export function wantsJson(ctx: Ctx): boolean {
  return ctx.accepts('html', 'json') === 'json';
}

export class Views {
  private readonly env: nunjucks.Environment;

  constructor(config: { NODE_ENV: string; DISPLAY_TIME_ZONE: string }) {
    const loader = new nunjucks.FileSystemLoader(join(GATEWAY_ROOT, 'views'), { noCache: config.NODE_ENV === 'development' });
    this.env = new nunjucks.Environment(loader, { autoescape: true, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true });
    this.env.addFilter('euros', (cents: unknown) => formatEuros(Number(cents)));
    this.env.addFilter('dateTime', (d: Date | undefined) => formatDateTime(d, config.DISPLAY_TIME_ZONE));
    this.env.addFilter('time', (d: Date | undefined) => (d ? formatTime(d, config.DISPLAY_TIME_ZONE) : '—'));
    this.env.addFilter('duration', (ms: unknown) => formatDuration(Number(ms)));
    // "14 h 32" of an ISO time (a 429's `reessayerA`), rounded up to the minute.
    this.env.addFilter('clock', (iso: unknown) => formatClock(Date.parse(String(iso)), config.DISPLAY_TIME_ZONE));
  }

  /** Variables every page gets (the logged-in user, the CSRF token, a flash message...). */
  private locals(ctx: Ctx): Record<string, unknown> {
    const session = ctx.state.session as Ctx['state']['session'] | undefined;
    return {
      user: session?.user,
      csrf: session?.csrf,
      flash: session?.takeFlash(),
      // Public pages answered without the session store: a notice, forms that cannot be sent.
      sessionsDown: session?.storeDown ?? false,
      requestId: ctx.state.requestId,
      path: ctx.path,
      // A visitor who logs in or signs up from this page comes back to it (lib/return-path.ts).
      loginHref: withReturn('/login', ctx.path),
      signupHref: withReturn('/inscription', ctx.path),
    };
  }

  render(ctx: Ctx, view: string, data: Record<string, unknown>): string {
    return this.env.render(view, { ...this.locals(ctx), ...data });
  }

  /** Answers with a page, or with `json` when the client asked for JSON. */
  respond(ctx: Ctx, status: number, view: string, data: Record<string, unknown>, json: () => unknown): void {
    ctx.status = status;
    if (wantsJson(ctx)) {
      ctx.body = json();
      return;
    }
    ctx.type = 'html';
    ctx.body = this.render(ctx, view, data);
  }
}

/** A message for the next page (pages only: programs get the result in the JSON answer). */
export function flash(ctx: Ctx, message: Flash): void {
  if (!wantsJson(ctx)) ctx.state.session.setFlash(message);
}

/** 303 See Other (after a successful POST, or to the login page); JSON clients get `json` too. */
export function seeOther(ctx: Ctx, location: string, json?: Record<string, unknown>): void {
  ctx.status = 303;
  ctx.redirect(location);
  if (wantsJson(ctx)) ctx.body = { ok: true, location, ...json };
}

/**
 * The logged-in user, or a 303 to /login (then `undefined`) that brings a page asked for with GET
 * back after the login when it is one of the known return paths (lib/return-path.ts).
 */
export function requireUser(ctx: Ctx): SessionUser | undefined {
  const u = ctx.state.session.user;
  if (!u) seeOther(ctx, withReturn('/login', ctx.method === 'GET' ? ctx.path : undefined), { ok: false, error: 'non_connecte' });
  return u;
}

// Stateless CSRF protection for visitors who have no session (the login and sign-up forms):
// OWASP's "signed double-submit cookie", bound to a short-lived cookie instead of a session.
//
// - The cookie `etu_form` (`__Host-etu_form` over HTTPS; HttpOnly, SameSite=Lax) holds
//   `<nonce>.<issued at>`: 32 random bytes (base64url) and the time in seconds. Nothing secret.
// - The form token is HMAC-SHA256(first of SESSION_KEYS, "etu-form\0<nonce>.<issued at>"),
//   base64url (43 characters, the same shape as a session's token). A POST is accepted when its
//   token is the HMAC of the cookie it carries under one of SESSION_KEYS (rotation as for the
//   session cookie) and the cookie is younger than FORM_TOKEN_TTL_MS.
// - A cross-site page can neither read the cookie nor compute the HMAC without the key, so it
//   cannot produce a matching pair; nothing is stored on the server, so a flood of form views
//   costs no memory anywhere (issue 21).
// - A valid cookie younger than half its lifetime is kept (several tabs share one token); an
//   older or missing one is replaced.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const FORM_COOKIE = 'etu_form';
export const SECURE_FORM_COOKIE = '__Host-etu_form';
/** How long a login or sign-up form stays valid after the cookie was issued. */
export const FORM_TOKEN_TTL_MS = 2 * 3600_000;
const COOKIE_FORMAT = /^[\w-]{43}\.(\d{1,12})$/;
const TOKEN_FORMAT = /^[\w-]{43}$/;

export interface FormCookie {
  /** The cookie's value, `<nonce>.<issued at in seconds>`. */
  value: string;
  /** Issue time in ms since the epoch. */
  issuedAt: number;
}

function mac(key: string, cookieValue: string): Buffer {
  return createHmac('sha256', key).update(`etu-form\0${cookieValue}`).digest();
}

/** A new cookie value. */
export function newFormCookie(now = Date.now()): FormCookie {
  const issuedAt = Math.floor(now / 1000) * 1000;
  return { value: `${randomBytes(32).toString('base64url')}.${issuedAt / 1000}`, issuedAt };
}

/** The cookie when well formed and not expired (its authenticity is the token's HMAC). */
export function readFormCookie(value: string | undefined, now = Date.now()): FormCookie | undefined {
  if (!value || value.length > 60) return undefined;
  const m = COOKIE_FORMAT.exec(value);
  if (!m) return undefined;
  const issuedAt = Number(m[1]) * 1000;
  if (issuedAt > now + 60_000 || now - issuedAt >= FORM_TOKEN_TTL_MS) return undefined;
  return { value, issuedAt };
}

/** The form token that goes with a cookie value (signed with the first key). */
export function formToken(keys: readonly string[], cookieValue: string): string {
  return mac(keys[0]!, cookieValue).toString('base64url');
}

/** Whether `token` is the token of `cookieValue` under one of `keys`, the cookie being valid. */
export function formTokenMatches(keys: readonly string[], cookieValue: string | undefined, token: unknown, now = Date.now()): boolean {
  const cookie = readFormCookie(cookieValue, now);
  if (!cookie || typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return false;
  const given = Buffer.from(token, 'base64url');
  let ok = false;
  // Every key is tried (no early exit), each comparison in constant time.
  for (const k of keys) {
    const want = mac(k, cookie.value);
    if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
  }
  return ok;
}

/** Whether a valid cookie should be replaced (past half its lifetime). */
export function formCookieAging(cookie: FormCookie, now = Date.now()): boolean {
  return now - cookie.issuedAt >= FORM_TOKEN_TTL_MS / 2;
}

/** What the cookie helpers need of a Koa context. */
interface CookieCtx {
  secure: boolean;
  cookies: {
    get(name: string): string | undefined;
    set(name: string, value: string, opts: Record<string, unknown>): unknown;
  };
}

/** The form cookie's name for this request (`__Host-` prefixed when cookies are Secure). */
export function formCookieName(secure: boolean): string {
  return secure ? SECURE_FORM_COOKIE : FORM_COOKIE;
}

/**
 * The CSRF token a page's forms carry: the session's when logged in, else a visitor's form token
 * (above); none while the session store is down (the form cannot be sent; the page says why).
 */
export function formCsrf(
  ctx: CookieCtx & { state: { session: { storeDown: boolean; csrf: string | undefined } } },
  keys: readonly string[],
  secure: boolean,
): string | undefined {
  const session = ctx.state.session;
  return session.storeDown ? undefined : (session.csrf ?? visitorFormToken(ctx, keys, secure));
}

/** The cookie value each request issued, so that every form of one page carries one token. */
const issued = new WeakMap<object, string>();

/**
 * The form token for this visitor: the one of the cookie the browser holds while it is valid and
 * young, else of a new cookie set on this answer. `secure`: as for the session cookie.
 */
export function visitorFormToken(ctx: CookieCtx, keys: readonly string[], secure: boolean, now = Date.now()): string {
  let value = issued.get(ctx);
  if (!value) {
    const held = readFormCookie(ctx.cookies.get(formCookieName(secure)), now);
    if (held && !formCookieAging(held, now)) {
      value = held.value;
    } else {
      value = newFormCookie(now).value;
      // Behind a TLS-terminating proxy, Koa refuses Secure cookies unless told the connection is secure.
      if (secure) (ctx.cookies as unknown as { secure: boolean }).secure = true;
      ctx.cookies.set(formCookieName(secure), value, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        path: '/',
        maxAge: FORM_TOKEN_TTL_MS,
        signed: false,
        overwrite: true,
      });
    }
    issued.set(ctx, value);
  }
  return formToken(keys, value);
}

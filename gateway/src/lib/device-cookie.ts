// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a successful
// login gives the browser a signed token bound to the account. At the next login, a valid token
// for the email typed makes the attempt "trusted": it is counted on that device's own failure
// budget instead of the account's shared one, so the owner keeps logging in while the account
// is being guessed at from elsewhere.
//
// The value holds nothing secret: `v1.<account tag>.<nonce>.<issued at>.<signature>`, where the
// account tag is a hash of the normalised email (not the email itself), the nonce 16 random
// bytes, the time in seconds, and the signature an HMAC-SHA256 of the rest with the first of
// SESSION_KEYS. Every key verifies (rotation: add the new key first, drop the old one later).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const DEVICE_COOKIE = 'etu_device';
export const SECURE_DEVICE_COOKIE = '__Host-etu_device';
/** How long a browser stays trusted after its last successful login. */
export const DEVICE_MAX_AGE_MS = 180 * 24 * 3600_000;
/** Longest cookie value read; anything longer is ignored before it is split. */
const MAX_VALUE_LENGTH = 200;
const B64URL = /^[\w-]+$/;

export interface DeviceToken {
  /** Which account the browser logged into (a hash of the normalised email). */
  accountTag: string;
  /** This browser's identity: the subject of its own failure budget. */
  nonce: string;
  /** When the token was issued (ms since epoch). */
  issuedAt: number;
}

/** The account tag of a normalised email (public: a browser only ever holds its own). */
export function accountTag(email: string): string {
  return createHash('sha256').update(`etu-device-account\0${email}`).digest('base64url').slice(0, 22);
}

/**
 * The limiter subject of an account's shared failure budget: an HMAC of the normalised email
 * with the first session key, so that Redis holds neither the email nor a hash anyone can
 * recompute from a list of addresses.
 */
export function accountSubject(keys: readonly string[], email: string): string {
  return createHmac('sha256', keys[0]!).update(`etu-login-account\0${email}`).digest('base64url').slice(0, 32);
}

function sign(key: string, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** A new device cookie value for the account with this normalised email. */
export function issueDeviceToken(keys: readonly string[], email: string, now = Date.now()): string {
  const payload = `v1.${accountTag(email)}.${randomBytes(16).toString('base64url')}.${Math.floor(now / 1000)}`;
  return `${payload}.${sign(keys[0]!, payload).toString('base64url')}`;
}

/** The token in a cookie value, when well formed, signed by one of `keys` and not expired. */
export function readDeviceToken(keys: readonly string[], value: string | undefined, now = Date.now()): DeviceToken | undefined {
  if (!value || value.length > MAX_VALUE_LENGTH) return undefined;
  const parts = value.split('.');
  if (parts.length !== 5 || parts[0] !== 'v1') return undefined;
  const [, tag, nonce, iat, sig] = parts as [string, string, string, string, string];
  if (![tag, nonce, sig].every((p) => B64URL.test(p)) || !/^\d{1,12}$/.test(iat)) return undefined;
  const given = Buffer.from(sig, 'base64url');
  const payload = parts.slice(0, 4).join('.');
  if (
    !keys.some((k) => {
      const want = sign(k, payload);
      return want.length === given.length && timingSafeEqual(want, given);
    })
  )
    return undefined;
  const issuedAt = Number(iat) * 1000;
  if (issuedAt > now + 60_000 || now - issuedAt > DEVICE_MAX_AGE_MS) return undefined;
  return { accountTag: tag, nonce, issuedAt };
}

/** The device token when it was issued for this account (normalised email), else undefined. */
export function trustedDevice(
  keys: readonly string[],
  value: string | undefined,
  email: string,
  now = Date.now(),
): DeviceToken | undefined {
  const t = readDeviceToken(keys, value, now);
  return t && t.accountTag === accountTag(email) ? t : undefined;
}

/** What the cookie helpers need of a Koa context. */
interface CookieCtx {
  secure: boolean;
  cookies: {
    get(name: string): string | undefined;
    set(name: string, value: string, opts: Record<string, unknown>): unknown;
  };
}

/** Whether this request's cookies are Secure (and `__Host-` prefixed), as for the session cookie. */
export function secureCookies(ctx: CookieCtx, mode: 'auto' | 'true' | 'false'): boolean {
  return mode === 'auto' ? ctx.secure : mode === 'true';
}

/** The device token this browser holds for the account `email`, if valid. */
export function deviceOf(ctx: CookieCtx, keys: readonly string[], mode: 'auto' | 'true' | 'false', email: string): DeviceToken | undefined {
  return trustedDevice(keys, ctx.cookies.get(secureCookies(ctx, mode) ? SECURE_DEVICE_COOKIE : DEVICE_COOKIE), email);
}

/** Gives this browser a new device token for `email` (after a successful login). */
export function trustDevice(ctx: CookieCtx, keys: readonly string[], mode: 'auto' | 'true' | 'false', email: string): void {
  const secure = secureCookies(ctx, mode);
  // Behind a TLS-terminating proxy, Koa refuses Secure cookies unless told the connection is secure.
  if (secure) (ctx.cookies as unknown as { secure: boolean }).secure = true;
  ctx.cookies.set(secure ? SECURE_DEVICE_COOKIE : DEVICE_COOKIE, issueDeviceToken(keys, email), {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    maxAge: DEVICE_MAX_AGE_MS,
    signed: false,
    overwrite: true,
  });
}

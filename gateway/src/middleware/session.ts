// Server-side sessions in Redis (`sess:<id>`, SESSION_REDIS_URL, db 2 by default).
//
// - The id is 32 random bytes (256 bits), base64url; the cookie carries it, signed with
//   SESSION_KEYS (Koa's keygrip: the first key signs, every key verifies, for rotation).
// - Idle timeout: the Redis key's TTL, renewed on each request that uses the session.
//   Absolute timeout: `createdAt` is checked at load and bounds the TTL.
// - A session exists only once something is stored in it (a CSRF token for the login form, a
//   logged-in user); anonymous visitors of the home page get none.
// - `regenerate()` (at login) deletes the old key and issues a new id and a new CSRF token;
//   `destroy()` (at logout) deletes the key and clears the cookie.
// - Updates of an existing session use SET XX / PEXPIRE, so a request racing a logout can
//   never bring the destroyed session back.
// - When the store cannot be reached, the public pages (`publicPages`: the home page and the
//   login and sign-up forms) answer as for a visitor, with a notice, and write nothing; any
//   other request fails with SessionStoreUnavailable (503).
// koa-session is not used: koa-session cannot refuse to resurrect a destroyed session
// and has no absolute timeout; this file is small and tested instead.
import type Redis from 'ioredis';
import type { Middleware, ParameterizedContext } from 'koa';
import { newSessionId, Session, type SessionData } from '../lib/session';

export interface SessionOptions {
  redis: Redis;
  /** Idle timeout in ms (default 30 min). */
  idleMs: number;
  /** Absolute lifetime in ms (default 12 h). */
  absoluteMs: number;
  /** Whether cookies are Secure (and `__Host-` prefixed): always, never, or when ctx.secure. */
  secure: 'auto' | 'true' | 'false';
  /** Paths whose GET answers as for a visitor while the store is down (instead of 503). */
  publicPages?: readonly string[];
  /** Called once for each request answered without the store (public pages). */
  onStoreDown?: () => void;
}

export const COOKIE_NAME = 'etu_sid';
export const SECURE_COOKIE_NAME = '__Host-etu_sid';
const KEY_PREFIX = 'sess:';
const ID_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Thrown when the session store cannot be reached (rendered as a 503). */
export class SessionStoreUnavailable extends Error {
  override name = 'SessionStoreUnavailable';
}

function parse(raw: string | null): SessionData | undefined {
  if (!raw) return undefined;
  try {
    const d = JSON.parse(raw) as SessionData;
    if (typeof d.csrf !== 'string' || typeof d.createdAt !== 'number') return undefined;
    return d;
  } catch {
    return undefined;
  }
}

interface SessionState {
  session: Session;
}

/** The session middleware: loads `ctx.state.session`, then saves what changed. */
export function sessionMiddleware<S extends SessionState>(opts: SessionOptions): Middleware<S> {
  const { redis } = opts;
  const cookieName = (ctx: ParameterizedContext<S>) => (isSecure(ctx) ? SECURE_COOKIE_NAME : COOKIE_NAME);
  const isSecure = (ctx: ParameterizedContext<S>) => (opts.secure === 'auto' ? ctx.secure : opts.secure === 'true');
  const ttlFor = (data: SessionData) => Math.max(1, Math.min(opts.idleMs, data.createdAt + opts.absoluteMs - Date.now()));

  return async (ctx, next) => {
    const name = cookieName(ctx);
    const secure = isSecure(ctx);
    // Behind a TLS-terminating proxy that is not trusted, Koa would refuse to set a Secure cookie.
    if (secure) (ctx.cookies as unknown as { secure: boolean }).secure = true;
    const cookieOpts = { httpOnly: true, sameSite: 'lax' as const, secure, path: '/', signed: true, overwrite: true };

    const isPublic = (ctx.method === 'GET' || ctx.method === 'HEAD') && (opts.publicPages ?? []).includes(ctx.path);
    let session = new Session();
    const id = ctx.cookies.get(name, { signed: true });
    let staleCookie = false;
    let loaded = true;
    if (id && id.length === 43 && ID_FORMAT.test(id)) {
      let raw: string | null = null;
      try {
        raw = await redis.get(KEY_PREFIX + id);
      } catch (err) {
        if (!isPublic) throw new SessionStoreUnavailable((err as Error).message);
        loaded = false;
      }
      const data = parse(raw);
      if (data && data.createdAt + opts.absoluteMs > Date.now()) session = new Session({ id, data });
      else if (loaded) {
        staleCookie = true;
        if (data) await redis.del(KEY_PREFIX + id).catch(() => undefined);
      }
    } else if (id !== undefined || ctx.cookies.get(name)) {
      staleCookie = true; // bad signature or format
    }
    // A public page whose session could not be read: a visitor's page, and nothing is written.
    if (!loaded) session.markStoreDown();
    ctx.state.session = session;

    let touched = false;
    const commit = async () => {
      if (session.storeDown) return;
      const p = session.pending();
      try {
        if (p.dropped.length) await redis.del(...p.dropped.map((d) => KEY_PREFIX + d));
        if (p.id && p.data) {
          const ttl = ttlFor(p.data);
          if (p.isNew) {
            await redis.set(KEY_PREFIX + p.id, JSON.stringify(p.data), 'PX', ttl, 'NX');
            ctx.cookies.set(name, p.id, cookieOpts);
          } else if (p.dirty) {
            await redis.set(KEY_PREFIX + p.id, JSON.stringify(p.data), 'PX', ttl, 'XX');
          } else if (!touched) {
            await redis.pexpire(KEY_PREFIX + p.id, ttl);
          }
          touched = true;
        } else if (p.clear || staleCookie) {
          ctx.cookies.set(name, '', { ...cookieOpts, expires: new Date(0) });
          staleCookie = false;
        }
        p.done();
      } catch (err) {
        throw new SessionStoreUnavailable((err as Error).message);
      }
    };
    session.save = commit;

    try {
      await next();
    } catch (err) {
      // The request failed already: keep what can be kept, report the first error.
      await commit().catch(() => undefined);
      throw err;
    }
    if (session.storeDown) {
      opts.onStoreDown?.();
      return;
    }
    // The response is not sent yet: a session that cannot be written fails the request (503),
    // rather than handing out a form whose CSRF token was never stored.
    await commit();
  };
}

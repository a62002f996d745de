// Server-side sessions in Redis (`sess:<id>`, SESSION_REDIS_URL, db 2 by default, or a Redis
// Cluster: every command below names one key).
//
// - The id is 32 random bytes (256 bits), base64url; the cookie carries it, signed with
//   SESSION_KEYS (Koa's keygrip: the first key signs, every key verifies, for rotation).
// - Idle timeout: the Redis key's TTL, renewed on each request that uses the session (GETEX reads
//   and renews it at once). Absolute timeout: `createdAt` is checked at load and bounds the TTL.
// - A session exists only for a logged-in user: it is created at login, never for a visitor
//   (issue 21: a flood of anonymous page views stores nothing). The login and sign-up forms are
//   protected without it (lib/form-token.ts, middleware/csrf.ts).
// - Flash messages travel in a signed cookie (`etu_flash`, 10 minutes), for visitors and
//   logged-in users alike: a logged-in user's session is written only at login, so a full
//   session Redis fails logins only, while logged-in users keep acting (GETEX, PEXPIRE).
// - `regenerate()` (at login) deletes the old key and issues a new id and a new CSRF token;
//   `destroy()` (at logout) deletes the key and clears the cookie.
// - Updates of an existing session use SET XX / PEXPIRE, so a request racing a logout can
//   never bring the destroyed session back.
// - When the store cannot be reached, the public pages (`publicPages`: the home page and the
//   login and sign-up forms) answer as for a visitor, with a notice, and write nothing; any
//   other request fails with SessionStoreUnavailable (503). A visitor's form page does not touch
//   the store, so it asks `SessionStoreProbe` (the last outcome seen, else one PING: nothing
//   written) whether a login could store its session.
// koa-session is not used: koa-session cannot refuse to resurrect a destroyed session
// and has no absolute timeout; this file is small and tested instead.
import type { RedisClient } from '@etu/common';
import type { Middleware, ParameterizedContext } from 'koa';
import { Session, type Flash, type SessionData } from '../lib/session';

export interface SessionOptions {
  redis: RedisClient;
  /** Idle timeout in ms (default 30 min). */
  idleMs: number;
  /** Absolute lifetime in ms (default 12 h). */
  absoluteMs: number;
  /** Whether cookies are Secure (and `__Host-` prefixed): always, never, or when ctx.secure. */
  secure: 'auto' | 'true' | 'false';
  /** Paths (exact, or a pattern for pages with an id) whose GET answers as for a visitor while
   * the store is down (instead of 503). */
  publicPages?: readonly (string | RegExp)[];
  /** Called once for each request answered without the store (public pages). */
  onStoreDown?: () => void;
  /** Told the outcome of every store command, so that visitors' pages know without asking. */
  probe?: SessionStoreProbe;
}

/**
 * Whether the session store answers, for pages that store nothing (a visitor's login form): the
 * outcome of the last command any request sent, when under `freshMs` old, else one PING shared
 * by the requests that ask meanwhile. A PING writes nothing, so anonymous views stay free.
 */
export class SessionStoreProbe {
  private last: { ok: boolean; at: number } | undefined;
  private pending: Promise<boolean> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly freshMs = 1000,
  ) {}

  record(ok: boolean): void {
    this.last = { ok, at: Date.now() };
  }

  async available(): Promise<boolean> {
    if (this.last && Date.now() - this.last.at < this.freshMs) return this.last.ok;
    this.pending ??= this.redis
      .ping()
      .then(
        () => true,
        () => false,
      )
      .then((ok) => {
        this.record(ok);
        this.pending = undefined;
        return ok;
      });
    return this.pending;
  }
}

export const COOKIE_NAME = 'etu_sid';
export const SECURE_COOKIE_NAME = '__Host-etu_sid';
export const FLASH_COOKIE = 'etu_flash';
export const SECURE_FLASH_COOKIE = '__Host-etu_flash';
const FLASH_MAX_AGE_MS = 10 * 60_000;
const FLASH_KINDS = new Set(['succes', 'info', 'erreur']);
const KEY_PREFIX = 'sess:';
/** set `sessu:<user id>` → the ids of that user's sessions, so that all can be ended at once. */
const USER_KEY_PREFIX = 'sessu:';
const ID_FORMAT = /^[\w-]{43}$/;

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

function readFlash(raw: string | undefined): Flash | undefined {
  if (!raw || raw.length > 4000) return undefined;
  try {
    const f = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Flash;
    return FLASH_KINDS.has(f.kind) && typeof f.text === 'string' && f.text.length <= 2000 ? { kind: f.kind, text: f.text } : undefined;
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

    const isPublic =
      (ctx.method === 'GET' || ctx.method === 'HEAD') &&
      (opts.publicPages ?? []).some((p) => (typeof p === 'string' ? p === ctx.path : p.test(ctx.path)));
    const flashName = secure ? SECURE_FLASH_COOKIE : FLASH_COOKIE;
    const flash = readFlash(ctx.cookies.get(flashName, { signed: true }));
    let session = new Session(undefined, flash);
    const id = ctx.cookies.get(name, { signed: true });
    let staleCookie = false;
    let loaded = true;
    /** Whether the key's TTL is already the one this request should leave (no PEXPIRE needed). */
    let touched = false;
    if (id && id.length === 43 && ID_FORMAT.test(id)) {
      let raw: string | null = null;
      try {
        // Read and renewed for the idle timeout in one command (GETEX, Redis 6.2+), instead of
        // a GET now and a PEXPIRE when the response is written: one round trip per request.
        raw = await redis.getex(KEY_PREFIX + id, 'PX', opts.idleMs);
        opts.probe?.record(true);
      } catch (err) {
        opts.probe?.record(false);
        if (!isPublic) throw new SessionStoreUnavailable((err as Error).message);
        loaded = false;
      }
      const data = parse(raw);
      if (data && data.createdAt + opts.absoluteMs > Date.now()) {
        session = new Session({ id, data }, flash);
        // Within its last idle period before the absolute timeout the TTL must be shorter than
        // the idle timeout GETEX set: the commit's PEXPIRE bounds it (ttlFor).
        touched = ttlFor(data) >= opts.idleMs;
      } else if (loaded) {
        staleCookie = true;
        if (raw !== null) await redis.del(KEY_PREFIX + id).catch(() => undefined);
      }
    } else if (id !== undefined || ctx.cookies.get(name)) {
      staleCookie = true; // bad signature or format
    }
    // A public page whose session could not be read: a visitor's page, and nothing is written.
    if (!loaded) session.markStoreDown();
    ctx.state.session = session;

    const commit = async () => {
      if (session.storeDown) return;
      const p = session.pending();
      try {
        // One DEL per key: on a Redis Cluster two sessions' keys are in different slots.
        if (p.dropped.length) await Promise.all(p.dropped.map((d) => redis.del(KEY_PREFIX + d)));
        if (p.id && p.data) {
          const ttl = ttlFor(p.data);
          if (p.isNew) {
            await redis.set(KEY_PREFIX + p.id, JSON.stringify(p.data), 'PX', ttl, 'NX');
            if (p.data.user) {
              // Indexed by user (password reset, account deleted: endUserSessions). Ids of
              // sessions already gone stay until the set expires: deleting them is a no-op.
              const index = USER_KEY_PREFIX + p.data.user.id;
              await redis.sadd(index, p.id);
              await redis.pexpire(index, opts.absoluteMs);
            }
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
        if (p.flash)
          ctx.cookies.set(flashName, Buffer.from(JSON.stringify(p.flash)).toString('base64url'), {
            ...cookieOpts,
            maxAge: FLASH_MAX_AGE_MS,
          });
        else if (p.flash === null) ctx.cookies.set(flashName, '', { ...cookieOpts, expires: new Date(0) });
        p.done();
      } catch (err) {
        opts.probe?.record(false);
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
    // rather than answering as if the login had opened one.
    await commit();
  };
}

/**
 * Ends every session of a user (their password was reset, their account deleted): each one's key
 * is deleted, one DEL per key (on a Redis Cluster they live in different slots); a request of
 * theirs already running can no longer write it back (SET XX). Returns how many ids were indexed.
 */
export async function endUserSessions(redis: RedisClient, userId: string): Promise<number> {
  const index = USER_KEY_PREFIX + userId;
  const ids = await redis.smembers(index);
  await Promise.all(ids.filter((id) => ID_FORMAT.test(id)).map((id) => redis.del(KEY_PREFIX + id)));
  await redis.del(index);
  return ids.length;
}

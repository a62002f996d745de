// A session is trusted only while auth still knows its user. The session stores the user's public
// id (a random UUID that is never reused), and at each request the gateway asks auth whether
// that account exists, remembering a yes for a few seconds per process; the ids asked in the same
// turn of the event loop go to auth in one GetUsers (lib/user-lookup.ts: one query for many sessions
// under load, shared with the sale mails). A session whose account
// is gone — a database restored from a dump older than the session, an account removed by hand —
// is dropped and the visitor sent to the login page with a French message, before any route,
// quota or statistic sees it.
//
// When auth cannot answer the session is trusted as it is: its public id can never name
// another account, so the worst case is a vanished account acting for a few more requests
// (its listings and purchases are refused by the market, which checks the id itself).
import type { Middleware } from 'koa';
import type { Logger } from '@etu/common';
import type { UsersSource } from '../lib/user-lookup';

export const SESSION_USER_GONE = 'Votre session n’est plus valide (compte introuvable) : veuillez vous reconnecter.';

interface SessionLike {
  readonly user?: { id: string };
  destroy(): void;
  setFlash(flash: { kind: 'erreur'; text: string }): void;
}

export interface IdentityOptions {
  /** auth's GetUsers; the app gives the batcher (lib/user-lookup.ts), so that the sessions checked in one turn share one call. */
  auth: UsersSource;
  /** How long a confirmed account is not asked again (ms). */
  cacheMs?: number;
  /** Deadline of the check; past it the session is trusted (see above). */
  timeoutMs?: number;
  /** Called for each dropped session (a counter on /readyz). */
  onDropped?: () => void;
}

const MAX_CACHED = 10_000;

export function identityMiddleware<S extends { session: SessionLike; log: Logger }>(opts: IdentityOptions): Middleware<S> {
  const cacheMs = opts.cacheMs ?? 10_000;
  /** public id → until when it is known to exist. */
  const confirmed = new Map<string, number>();

  const exists = async (id: string, log: Logger): Promise<boolean> => {
    const until = confirmed.get(id);
    if (until !== undefined && until > Date.now()) return true;
    let found: boolean;
    try {
      const { users } = await opts.auth.getUsers({ ids: [id] }, { timeoutMs: opts.timeoutMs ?? 1000 });
      found = users.some((u) => u.id === id);
    } catch (err) {
      log.warn({ err: (err as { details?: string }).details ?? (err as Error).message }, 'session user not checked: auth did not answer');
      return true;
    }
    if (found) {
      if (confirmed.size >= MAX_CACHED) confirmed.clear();
      confirmed.set(id, Date.now() + cacheMs);
    } else {
      confirmed.delete(id);
    }
    return found;
  };

  return async (ctx, next) => {
    const session = ctx.state.session;
    const user = session.user;
    if (user && !(await exists(user.id, ctx.state.log))) {
      ctx.state.log.warn({ userId: user.id }, 'session dropped: its account does not exist');
      opts.onDropped?.();
      session.destroy();
      session.setFlash({ kind: 'erreur', text: SESSION_USER_GONE });
      ctx.status = 303;
      ctx.redirect('/login');
      return;
    }
    await next();
  };
}

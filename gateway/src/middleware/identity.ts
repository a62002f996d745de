// A session is trusted only while auth still knows its user. The session stores the user's public
// id (a random UUID that is never reused), and at each request the gateway asks auth whether
// that account exists, remembering a yes for a few seconds per process; the ids asked in the same
// turn of the event loop go to auth in one GetUsers (one query for many sessions under load). A session whose account
// is gone — a database restored from a dump older than the session, an account removed by hand —
// is dropped and the visitor sent to the login page with a French message, before any route,
// quota or statistic sees it.
//
// When auth cannot answer the session is trusted as it is: its public id can never name
// another account, so the worst case is a vanished account acting for a few more requests
// (its listings and purchases are refused by the market, which checks the id itself).
import type { Middleware } from 'koa';
import type { Logger } from '@etu/common';
import type { auth } from '@etu/proto';

export const SESSION_USER_GONE = 'Votre session n’est plus valide (compte introuvable) : veuillez vous reconnecter.';

interface SessionLike {
  readonly user?: { id: string };
  destroy(): void;
  setFlash(flash: { kind: 'erreur'; text: string }): void;
}

export interface IdentityOptions {
  auth: { getUsers(req: auth.GetUsersRequest, opts?: { timeoutMs?: number }): Promise<auth.GetUsersResponse> };
  /** How long a confirmed account is not asked again (ms). */
  cacheMs?: number;
  /** Deadline of the check; past it the session is trusted (see above). */
  timeoutMs?: number;
  /** Called for each dropped session (a counter on /readyz). */
  onDropped?: () => void;
}

const MAX_CACHED = 10_000;
/** Ids per GetUsers (auth accepts up to 1,000). */
const MAX_IDS_PER_LOOKUP = 500;

export function identityMiddleware<S extends { session: SessionLike; log: Logger }>(opts: IdentityOptions): Middleware<S> {
  const cacheMs = opts.cacheMs ?? 10_000;
  /** public id → until when it is known to exist. */
  const confirmed = new Map<string, number>();

  /** The ids asked in this turn of the event loop: one GetUsers for all of them, sent on the next. */
  let batch: { ids: Set<string>; known: Promise<Set<string>> } | undefined;
  const lookup = (id: string): Promise<Set<string>> => {
    if (!batch || batch.ids.size >= MAX_IDS_PER_LOOKUP) {
      const ids = new Set<string>();
      const known = new Promise<Set<string>>((resolve, reject) => {
        setImmediate(() => {
          if (batch?.ids === ids) batch = undefined;
          opts.auth.getUsers({ ids: [...ids] }, { timeoutMs: opts.timeoutMs ?? 1000 }).then((r) => {
            resolve(new Set(r.users.map((u) => u.id)));
          }, reject);
        });
      });
      batch = { ids, known };
    }
    batch.ids.add(id);
    return batch.known;
  };

  const exists = async (id: string, log: Logger): Promise<boolean> => {
    const until = confirmed.get(id);
    if (until !== undefined && until > Date.now()) return true;
    let found: boolean;
    try {
      found = (await lookup(id)).has(id);
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

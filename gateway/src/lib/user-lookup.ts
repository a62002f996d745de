// auth's GetUsers as the gateway asks it: the calls made in one turn of the event loop go to auth
// as ONE call (up to MAX_IDS_PER_LOOKUP ids), and each caller gets the users among its own ids.
// The identity check of every request (middleware/identity.ts) and the sale mails built together
// (lib/mailer.ts, pages/purchases.ts) share it: under load one query for many sessions and mails
// instead of one call each (issue 16).
import type { auth } from '@etu/proto';

/** What answers GetUsers: auth's client, or this batcher. */
export interface UsersSource {
  getUsers(req: auth.GetUsersRequest, opts?: { timeoutMs?: number }): Promise<auth.GetUsersResponse>;
}

/** Ids per GetUsers (auth accepts up to 1,000). */
export const MAX_IDS_PER_LOOKUP = 500;

interface Batch {
  ids: Set<string>;
  found: Promise<Map<string, auth.User>>;
}

/**
 * GetUsers through `source`, batched per turn of the event loop. `timeoutMs` is the batch's
 * deadline (a caller's own is not used: callers share the call). A failed call fails every caller
 * of its batch, each with the same error.
 */
export function batchedUsers(source: UsersSource, timeoutMs = 1000): UsersSource {
  let batch: Batch | undefined;
  const open = (): Batch => {
    const ids = new Set<string>();
    const found = new Promise<Map<string, auth.User>>((resolve, reject) => {
      setImmediate(() => {
        if (batch?.ids === ids) batch = undefined;
        source.getUsers({ ids: [...ids] }, { timeoutMs }).then((r) => resolve(new Map(r.users.map((u) => [u.id, u]))), reject);
      });
    });
    return { ids, found };
  };
  return {
    async getUsers(req) {
      const wanted = [...new Set(req.ids)];
      if (wanted.length === 0) return { users: [] };
      if (wanted.length > MAX_IDS_PER_LOOKUP) return source.getUsers({ ids: wanted }, { timeoutMs });
      if (!batch || batch.ids.size + wanted.length > MAX_IDS_PER_LOOKUP) batch = open();
      for (const id of wanted) batch.ids.add(id);
      const found = await batch.found;
      return { users: wanted.flatMap((id) => found.get(id) ?? []) };
    },
  };
}

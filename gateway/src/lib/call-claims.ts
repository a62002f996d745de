// Which service calls were already started (issue 16). A Vente form's key or an Achat's listing
// is claimed with one `SET NX` in the session store when the call starts. A call whose key nobody
// claimed within CLAIM_TTL_MS cannot repeat one already done, so it skips the replay pre-check
// (a market call: FindSale or GetListing, and its SQL) that used to run before every Vente and
// Achat. A key claimed before (a form sent again, a retry after a lost answer, a double click)
// asks the market as before, and the market stays the judge: a claim only decides whether to ask.
//
// What a lost claim costs (expired, evicted by the store's LRU, the store down): the call is
// taken for a new one, so it is counted; the market still answers it as the replay it is (a
// sale's key is unique per seller, a listing sold to this buyer is reported as such), so the user
// sees the same page. A claim whose call failed (quota refusal, market refusal, a dependency down)
// is given back, so the next try skips the pre-check again; a claim left behind (the gateway
// stopped mid-call, a failed release) only costs that pre-check.
import type { RedisClient } from '@etu/common';

export const CLAIM_PREFIX = 'once:';
/** How long a started call's key is remembered: a retry after a lost answer comes within it. */
export const CLAIM_TTL_MS = 3600_000;
/** The keys a claim is made for: a listing id, or a form key the market accepts (at most 64). */
const CLAIMABLE_KEY = /^[\w.:-]{1,64}$/;

export interface CallClaims {
  /**
   * True when no call of `user` named `key` (for `kind`) started within CLAIM_TTL_MS: this one
   * claims it and cannot be a replay. False when it was claimed before, when the key is not one
   * a claim is made for, or when the store does not answer: the caller asks the market.
   */
  claim(userId: string, kind: string, key: string): Promise<boolean>;
  /** Gives a claim back after its call failed (best effort). */
  release(userId: string, kind: string, key: string): Promise<void>;
}

export function callClaims(redis: RedisClient): CallClaims {
  const name = (userId: string, kind: string, key: string) => `${CLAIM_PREFIX}${userId}:${kind}:${key}`;
  return {
    async claim(userId, kind, key) {
      if (!CLAIMABLE_KEY.test(key)) return false;
      try {
        return (await redis.set(name(userId, kind, key), '1', 'PX', CLAIM_TTL_MS, 'NX')) === 'OK';
      } catch {
        return false;
      }
    },
    async release(userId, kind, key) {
      await redis.del(name(userId, kind, key)).catch(() => undefined);
    },
  };
}

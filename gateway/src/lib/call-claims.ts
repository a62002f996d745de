// Which service calls were already started (issue 16). A Vente form's key or an Achat's listing
// is claimed with one `SET NX` in the session store when the call starts. A call whose key nobody
// claimed within CLAIM_TTL_MS cannot repeat one already done, so it skips the replay pre-check
// (a market call: FindSale or GetListing, and its SQL) that used to run before every Vente and
// Achat. A key claimed before (a form sent again, a retry after a lost answer, a double click)
// asks the market as before, and the market stays the judge: a claim only decides whether to ask.
//
// A claim has three states, in its value:
// - pending, `p:<epoch ms>`: the first call is in flight, until that deadline at most (PENDING_MS
//   after it started). A second call with the key (a double click, a form sent twice at once)
//   waits for its outcome, polling every POLL_MS, instead of asking the market while the first is
//   still running, being told "not done" and being counted too;
// - settled, `1` (the value claims had before they had states): the first call ended with a
//   result, or with an outcome unknown (a 503, a deadline: the market may have done it); a call
//   with the key asks the market whether it is done;
// - gone: the first call was refused (quota, market refusal), so nothing was done; the next call
//   with the key claims it and is a new call.
// A waiting call stops waiting at the pending deadline (the first call's gateway stopped mid-call)
// or after its own PENDING_MS, whichever comes first, and then asks the market, as a call that
// finds the claim settled does.
//
// What a lost claim costs (expired, evicted by the store's LRU, the store down): the call is
// taken for a new one, so it is counted; the market still answers it as the replay it is (a
// sale's key is unique per seller, a listing sold to this buyer is reported as such), so the user
// sees the same page. A claim left behind (the gateway stopped mid-call, a failed release) only
// costs that pre-check, and a wait until its pending deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '@etu/common';

export const CLAIM_PREFIX = 'once:';
/** How long a started call's key is remembered: a retry after a lost answer comes within it. */
export const CLAIM_TTL_MS = 3600_000;
/** The keys a claim is made for: a listing id, or a form key the market accepts (at most 64). */
const CLAIMABLE_KEY = /^[\w.:-]{1,64}$/;
const PENDING = 'p:';
const SETTLED = '1';
/** How often a call waiting for the first call with its key reads the claim again. */
const POLL_MS = 25;

/**
 * How long a first call may stay in flight, when each dependency call has `grpcTimeoutMs`: the
 * limiter's Consume and the market's call, each up to its deadline, and a second for the rest.
 */
export function pendingMsFor(grpcTimeoutMs: number): number {
  return 2 * grpcTimeoutMs + 1000;
}
/** PENDING_MS with the gateway's default GRPC_TIMEOUT_MS (2 s). */
export const PENDING_MS = pendingMsFor(2000);

/** How a call with a key starts (CallClaims.begin). */
export interface Claim {
  /**
   * `first`: no call with this key started within CLAIM_TTL_MS, or the one before was refused:
   * this call claimed the key and cannot be a replay; it must `settle` or `release` it.
   * `settled`: a call with this key ended before (or the store cannot tell): ask the market.
   */
  state: 'first' | 'settled';
  /** This call found the first call with its key in flight and waited for its outcome. */
  waited: boolean;
}

export interface CallClaims {
  /**
   * Claims `key` for a call of `user` (for `kind`), waiting while the first call with it is in
   * flight (bounded: see above). `settled` also when the key is not one a claim is made for, or
   * when the store does not answer: never waits on a store that is down.
   */
  begin(userId: string, kind: string, key: string): Promise<Claim>;
  /** The first call ended with a result or an unknown outcome: the next calls ask the market (best effort). */
  settle(userId: string, kind: string, key: string): Promise<void>;
  /** The first call was refused, nothing was done: the key is given back (best effort). */
  release(userId: string, kind: string, key: string): Promise<void>;
}

/** The deadline of a pending claim's value, or undefined when it is settled (`1`, or anything else). */
function pendingUntil(value: string): number | undefined {
  if (!value.startsWith(PENDING)) return undefined;
  const until = Number(value.slice(PENDING.length));
  return Number.isFinite(until) ? until : undefined;
}

/** `pendingMs`: how long a first call may stay in flight (pendingMsFor the gRPC deadline). */
export function callClaims(redis: RedisClient, { pendingMs = PENDING_MS }: { pendingMs?: number } = {}): CallClaims {
  const name = (userId: string, kind: string, key: string) => `${CLAIM_PREFIX}${userId}:${kind}:${key}`;
  return {
    async begin(userId, kind, key) {
      let waited = false;
      if (!CLAIMABLE_KEY.test(key)) return { state: 'settled', waited };
      const claim = name(userId, kind, key);
      // This call waits no longer than its own call would be given.
      const giveUpAt = Date.now() + pendingMs;
      try {
        for (;;) {
          const pending = `${PENDING}${Date.now() + pendingMs}`;
          if ((await redis.set(claim, pending, 'PX', CLAIM_TTL_MS, 'NX')) === 'OK') return { state: 'first', waited };
          // Claimed before: read its state (one GET, only for a key used before).
          for (;;) {
            const value = await redis.get(claim);
            if (value === null) break; // released after a refusal: claim it again
            const until = pendingUntil(value);
            const left = Math.min(until ?? 0, giveUpAt) - Date.now();
            if (left <= 0) return { state: 'settled', waited }; // settled, or its call died mid-call
            waited = true;
            await sleep(Math.min(POLL_MS, left));
          }
          if (Date.now() >= giveUpAt) return { state: 'settled', waited };
        }
      } catch {
        return { state: 'settled', waited };
      }
    },
    async settle(userId, kind, key) {
      await redis.set(name(userId, kind, key), SETTLED, 'KEEPTTL', 'XX').catch(() => undefined);
    },
    async release(userId, kind, key) {
      await redis.del(name(userId, kind, key)).catch(() => undefined);
    },
  };
}

// Every Redis key of the stats service (database 1 by default), in one place. The README
// lists each with its type, its size per user and its TTL.

/**
 * On a Redis Cluster, the prefix of every key below (ioredis keyPrefix, set by server.ts): a hash
 * tag, so that all of them are in one slot and each event stays one atomic script. The price:
 * the statistics live on one master (one hot slot); README "On a Redis Cluster".
 */
export const STATS_CLUSTER_TAG = '{stats}';

/** zset user id → number of logins. */
export const LOGINS = 'stats:logins';
/** zset user id → time of the latest login (ms since the epoch). */
export const LAST_LOGIN = 'stats:last_login';
/** zset VENTE|ACHAT → allowed calls. */
export const CALLS_SERVICE = 'stats:calls:service';
/** zset user id → allowed calls; every known user is present, with 0 until a first call. */
export const CALLS_USER = 'stats:calls:user';
/** zset VENTE|ACHAT → denied calls. */
export const DENIED_SERVICE = 'stats:denied:service';
/** zset user id → denied calls (only users denied at least once). */
export const DENIED_USER = 'stats:denied:user';
/** hash of grand totals that no zset gives cheaply: `logins`. */
export const TOTALS = 'stats:totals';

/** hash of one user's calls: vente:allowed, achat:allowed, vente:denied, achat:denied. */
export const userKey = (userId: string) => `stats:user:${userId}`;
/** string: a login or allowed call's event id already recorded (dedup), expiring after EVENT_TTL_MS. */
export const eventKey = (eventId: string) => `stats:event:${eventId}`;

/**
 * A recorded event id is remembered this long: a retry within it is counted once. Sized to the
 * retry horizon of the producers (README "Deduplication"): the gateway sends each record once
 * within STATS_TIMEOUT_MS (500 ms) and never retries, and the stats server's own Redis
 * connection never re-sends a script; 5 minutes leaves a wide margin for a producer that does
 * retry, while a user's allowed calls and logins (10 each per 10 minutes) keep at most ~20
 * keys alive per user.
 */
export const EVENT_TTL_MS = 5 * 60 * 1000;
/** The most calls one denied record may stand for (a gateway's per-minute sum). */
export const MAX_RECORD_COUNT = 1_000_000;
/** A minute bucket lives this long after its minute ends (the dashboard shows the last 60). */
export const MINUTE_RETENTION_MS = 2 * 60 * 60 * 1000;
export const MINUTE_MS = 60_000;
/** Minutes in the dashboard's series. */
export const SERIES_MINUTES = 60;

export type ServiceName = 'VENTE' | 'ACHAT';
export type OutcomeName = 'allowed' | 'denied';
/** Field of a user hash and of a minute bucket: `vente:allowed`, `achat:denied`, ... */
export const countField = (service: ServiceName, outcome: OutcomeName) => `${service.toLowerCase()}:${outcome}`;
export const COUNT_FIELDS = ['vente:allowed', 'achat:allowed', 'vente:denied', 'achat:denied'] as const;

/** Start (ms) of the UTC minute holding `ms`. */
export const minuteStart = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** hash of one UTC minute's calls, `stats:minute:<yyyymmddHHMM>`, fields as in a user hash. */
export function minuteKey(ms: number): string {
  const iso = new Date(minuteStart(ms)).toISOString(); // 2026-11-26T14:05:00.000Z
  return `stats:minute:${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

// The statistics store: the Redis side of the stats service. Writes go through one Lua script
// per event (scripts.ts); reads of the dashboard are one read-only script, so every list and
// total of one answer comes from the same instant.
import { isRedisUnavailable, Unavailable, inSpan, type RedisClient } from '@etu/common';
import type { Result } from 'ioredis';
import {
  CALLS_SERVICE,
  CALLS_USER,
  countField,
  DENIED_SERVICE,
  DENIED_USER,
  EVENT_TTL_MS,
  eventKey,
  LAST_LOGIN,
  LOGINS,
  MINUTE_MS,
  MINUTE_RETENTION_MS,
  minuteKey,
  minuteStart,
  SERIES_MINUTES,
  TOTALS,
  userKey,
  type OutcomeName,
  type ServiceName,
} from './keys';
import { randomBytes } from 'node:crypto';
import { DASHBOARD, FORGET_USER, RECORD_CALL, RECORD_LOGIN } from './scripts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    statsRecordLogin(...args: (string | number)[]): Result<number, Context>;
    statsRecordCall(...args: (string | number)[]): Result<number, Context>;
    statsDashboard(numKeys: number, ...keys: string[]): Result<unknown[], Context>;
    statsForgetUser(...args: string[]): Result<number, Context>;
  }
}

export interface UserCountRow {
  userId: string;
  count: number;
}
export interface MinuteRow {
  /** Start of the minute, ms since the epoch. */
  minute: number;
  venteAllowed: number;
  achatAllowed: number;
  venteDenied: number;
  achatDenied: number;
}
export interface Dashboard {
  /** Newest first; `at` in ms. */
  lastLogins: { userId: string; at: number }[];
  topConnectors: UserCountRow[];
  leastServiceUsers: UserCountRow[];
  allowed: Record<ServiceName, number>;
  denied: Record<ServiceName, number>;
  topDeniedUsers: UserCountRow[];
  /** SERIES_MINUTES rows, oldest first, the minute of `now` last. */
  lastHour: MinuteRow[];
  totalLogins: number;
  knownUsers: number;
}
/** The store adapter's one rule: Redis unreachable or too slow is the typed Unavailable error. */
async function fromRedis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await inSpan('redis stats', { kind: 'client', attributes: { 'db.system': 'redis' } }, op);
  } catch (err) {
    if (isRedisUnavailable(err)) throw new Unavailable('statistics store unavailable');
    throw err;
  }
}

export class StatsStore {
  constructor(
    private readonly redis: RedisClient,
    /** The clock for events without a time and for the series (the stats server's clock). */
    private readonly now: () => number = Date.now,
    /** How long a login's or allowed call's event id is remembered (STATS_DEDUP_TTL_MS). */
    private readonly dedupTtlMs: number = EVENT_TTL_MS,
  ) {
    redis.defineCommand('statsRecordLogin', { numberOfKeys: 5, lua: RECORD_LOGIN });
    redis.defineCommand('statsRecordCall', { numberOfKeys: 6, lua: RECORD_CALL });
    redis.defineCommand('statsDashboard', { lua: DASHBOARD });
    redis.defineCommand('statsForgetUser', { numberOfKeys: 6, lua: FORGET_USER });
  }

  /** A time in the future (a caller's clock ahead of ours) counts as now. */
  private eventTime(at: number | undefined): number {
    const now = this.now();
    return at === undefined || at > now ? now : at;
  }

  /** Records a login; false when `eventId` was already recorded (nothing changed). */
  async recordLogin(eventId: string, userId: string, at?: number): Promise<boolean> {
    return fromRedis(async () => {
      const dup = await this.redis.statsRecordLogin(
        eventKey(eventId),
        LOGINS,
        LAST_LOGIN,
        CALLS_USER,
        TOTALS,
        userId,
        this.eventTime(at),
        this.dedupTtlMs,
      );
      return dup === 0;
    });
  }

  /**
   * Records `count` Vente/Achat calls of one outcome; false when `eventId` was already recorded
   * (nothing changed). An allowed call is deduplicated by `eventId`; denials are not (no key per
   * denial: a flood of refused calls adds nothing that grows), so they are never retried.
   */
  async recordCall(eventId: string, userId: string, service: ServiceName, outcome: OutcomeName, at?: number, count = 1): Promise<boolean> {
    return fromRedis(async () => {
      const t = this.eventTime(at);
      const expiresAt = minuteStart(t) + MINUTE_MS + MINUTE_RETENTION_MS;
      const allowed = outcome === 'allowed';
      const dup = await this.redis.statsRecordCall(
        eventKey(eventId),
        allowed ? CALLS_SERVICE : DENIED_SERVICE,
        allowed ? CALLS_USER : DENIED_USER,
        CALLS_USER,
        userKey(userId),
        minuteKey(t),
        userId,
        service,
        countField(service, outcome),
        allowed ? this.dedupTtlMs : 0,
        expiresAt > this.now() ? expiresAt : 0,
        count,
      );
      return dup === 0;
    });
  }

  /** Makes a user known (present with 0 allowed calls); idempotent. */
  async registerUser(userId: string): Promise<void> {
    return fromRedis(async () => {
      await this.redis.zadd(CALLS_USER, 'NX', 0, userId);
    });
  }

  /**
   * An erased account: `userId` becomes a new anonymous id (`supprime-<16 hex>`) in every ranking
   * and per-user hash, in one script. Returns it, or `undefined` when the user was unknown.
   */
  async forgetUser(userId: string): Promise<string | undefined> {
    const anonymous = `supprime-${randomBytes(8).toString('hex')}`;
    return fromRedis(async () => {
      const known = await this.redis.statsForgetUser(
        LOGINS,
        LAST_LOGIN,
        CALLS_USER,
        DENIED_USER,
        userKey(userId),
        userKey(anonymous),
        userId,
        anonymous,
      );
      return known === 1 ? anonymous : undefined;
    });
  }

  /** How many users the statistics know (registered or active). */
  async knownUsers(): Promise<number> {
    return fromRedis(() => this.redis.zcard(CALLS_USER));
  }

  async dashboard(): Promise<Dashboard> {
    return fromRedis(async () => {
      const current = minuteStart(this.now());
      const minutes: number[] = [];
      for (let i = SERIES_MINUTES - 1; i >= 0; i--) minutes.push(current - i * MINUTE_MS);
      const keys = [LOGINS, LAST_LOGIN, CALLS_SERVICE, CALLS_USER, DENIED_SERVICE, DENIED_USER, TOTALS, ...minutes.map(minuteKey)];
      const res = (await this.redis.statsDashboard(keys.length, ...keys)) as [
        string[],
        string[],
        string[],
        string[],
        string[],
        string[],
        (string | null)[][],
        string,
        number,
      ];
      const [last, top, least, calls, denied, topDenied, rows, totalLogins, knownUsers] = res;
      return {
        lastLogins: pairs(last).map(([userId, at]) => ({ userId, at })),
        topConnectors: counts(top),
        leastServiceUsers: counts(least),
        allowed: perService(calls),
        denied: perService(denied),
        topDeniedUsers: counts(topDenied),
        lastHour: minutes.map((minute, i) => {
          const r = rows[i] ?? [];
          return {
            minute,
            venteAllowed: Number(r[0] ?? 0),
            achatAllowed: Number(r[1] ?? 0),
            venteDenied: Number(r[2] ?? 0),
            achatDenied: Number(r[3] ?? 0),
          };
        }),
        totalLogins: Number(totalLogins),
        knownUsers,
      };
    });
  }
}

function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

const counts = (flat: string[]): UserCountRow[] => pairs(flat).map(([userId, count]) => ({ userId, count }));

function perService(flat: string[]): Record<ServiceName, number> {
  const out: Record<ServiceName, number> = { VENTE: 0, ACHAT: 0 };
  for (const [name, n] of pairs(flat)) if (name === 'VENTE' || name === 'ACHAT') out[name] = n;
  return out;
}

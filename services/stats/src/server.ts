// The stats gRPC server: validates requests, maps them onto the store, reflects Redis in
// health. Decides nothing: it records facts and answers rankings.
import {
  codePoints,
  createRedis,
  parseRedisUrl,
  redisStoreService,
  StoreMarker,
  InvalidArgument,
  Metrics,
  serveGrpc,
  waitReady,
  type AsyncService,
  type RunningService,
  type ServiceBaseOptions,
} from '@etu/common';
import { stats } from '@etu/proto';
import { MAX_RECORD_COUNT, STATS_CLUSTER_TAG, type OutcomeName, type ServiceName } from './keys';
import { StatsStore, type UserCountRow } from './store';

const { ServiceKind, Outcome } = stats;

export const SERVICE_NAME = 'etuservices.stats.v1.StatsService';

export interface StatsServerOptions extends ServiceBaseOptions {
  /** Redis holding the statistics (database 1 by default). */
  redisUrl: string;
  /**
   * Redis command timeout (default 500 ms): a Redis that stops answering makes calls fail with
   * UNAVAILABLE after this; a refused or closed connection fails at once (no offline queue).
   */
  redisTimeoutMs?: number;
  /** How long a login's or allowed call's event id is remembered (default 5 minutes). */
  dedupTtlMs?: number;
}

export type StatsServer = RunningService;

const MAX_ID = 128;

function checkId(field: string, v: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgument(field, 'is required');
  if (codePoints(v) > MAX_ID) throw new InvalidArgument(field, `must be at most ${MAX_ID} characters`);
  return v;
}

function checkTime(field: string, at: Date | undefined): number | undefined {
  if (at === undefined) return undefined;
  const ms = at.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidArgument(field, 'must be a time after 1970-01-01T00:00:00Z');
  return ms;
}

function checkCount(count: number | undefined, outcome: OutcomeName): number {
  if (count === undefined) return 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_RECORD_COUNT)
    throw new InvalidArgument('count', `must be between 1 and ${MAX_RECORD_COUNT}`);
  if (count > 1 && outcome !== 'denied') throw new InvalidArgument('count', 'may exceed 1 only for OUTCOME_DENIED');
  return count;
}

function serviceName(v: stats.ServiceKind): ServiceName {
  if (v === ServiceKind.SERVICE_KIND_VENTE) return 'VENTE';
  if (v === ServiceKind.SERVICE_KIND_ACHAT) return 'ACHAT';
  throw new InvalidArgument('service', 'must be SERVICE_KIND_VENTE or SERVICE_KIND_ACHAT');
}

function outcomeName(v: stats.Outcome): OutcomeName {
  if (v === Outcome.OUTCOME_ALLOWED) return 'allowed';
  if (v === Outcome.OUTCOME_DENIED) return 'denied';
  throw new InvalidArgument('outcome', 'must be OUTCOME_ALLOWED or OUTCOME_DENIED');
}

/** Most items in one RecordServiceCalls. */
const MAX_BATCH = 1000;

/** One RecordServiceCall's fields, checked. */
function checkCall(req: stats.RecordServiceCallRequest) {
  const eventId = checkId('event_id', req.eventId);
  const userId = checkId('user_id', req.userId);
  const service = serviceName(req.service);
  const outcome = outcomeName(req.outcome);
  const at = checkTime('at', req.at);
  const count = checkCount(req.count, outcome);
  return { eventId, userId, service, outcome, at, count, kind: `${service === 'VENTE' ? 'vente' : 'achat'}_${outcome}` };
}

const perService = (c: Record<ServiceName, number>): stats.ServiceCount[] => [
  { service: ServiceKind.SERVICE_KIND_VENTE, count: c.VENTE },
  { service: ServiceKind.SERVICE_KIND_ACHAT, count: c.ACHAT },
];

const userCounts = (rows: UserCountRow[]): stats.UserCount[] => rows.map((r) => ({ userId: r.userId, count: r.count }));

export async function startStatsServer(opts: StatsServerOptions): Promise<StatsServer> {
  const { log } = opts;
  // neverResend: a script written before the connection dropped may have
  // run, so it is never sent again after the reconnect (ioredis would, whenever Redis comes
  // back); the caller got UNAVAILABLE (the command timeout settles every call). So each
  // RecordServiceCall runs at most once, which denials, not deduplicated, rely on (README).
  // On a Redis Cluster every key gets the `{stats}` prefix: one hash slot, so each event stays one
  // atomic script over all the keys it touches (README, "On a Redis Cluster").
  const target = parseRedisUrl(opts.redisUrl);
  const redis = createRedis(target, {
    commandTimeoutMs: opts.redisTimeoutMs ?? 500,
    name: 'stats',
    neverResend: true,
    keyPrefix: target.kind === 'cluster' ? STATS_CLUSTER_TAG : undefined,
  });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
  const st = new StatsStore(redis, Date.now, opts.dedupTtlMs);

  // Events recorded by kind (login, vente_allowed, achat_denied, ..., user), duplicates ignored
  // (a retried record whose event id was already seen), and records that failed.
  const m = opts.metrics ?? new Metrics({ enabled: false });
  const recorded = m.counter(
    'etu_stats_events_recorded_total',
    'Events recorded, by kind (login, vente_allowed, vente_denied, achat_allowed, achat_denied, user).',
    ['kind'],
  );
  const duplicates = m.counter(
    'etu_stats_duplicates_ignored_total',
    'Records ignored because their event id was already recorded (a retry), by kind.',
    ['kind'],
  );
  const failed = m.counter('etu_stats_errors_total', 'Records that failed (Redis down or refusing), by kind.', ['kind']);
  for (const kind of ['login', 'vente_allowed', 'vente_denied', 'achat_allowed', 'achat_denied', 'user']) {
    recorded.inc({ kind }, 0);
    duplicates.inc({ kind }, 0);
    failed.inc({ kind }, 0);
  }
  /** `fresh` = the store recorded it; returns whether it was a duplicate. */
  const counted = (kind: string, fresh: boolean): boolean => {
    (fresh ? recorded : duplicates).inc({ kind });
    return !fresh;
  };
  const observed = <T>(kind: string, p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed.inc({ kind });
      throw err;
    });

  const handlers: AsyncService<stats.StatsServiceServer> = {
    recordLogin: async (req) => {
      const eventId = checkId('event_id', req.eventId);
      const userId = checkId('user_id', req.userId);
      const at = checkTime('at', req.at);
      return { duplicate: counted('login', await observed('login', st.recordLogin(eventId, userId, at))) };
    },
    recordServiceCall: async (req) => {
      const c = checkCall(req);
      return {
        duplicate: counted(c.kind, await observed(c.kind, st.recordCall(c.eventId, c.userId, c.service, c.outcome, c.at, c.count))),
      };
    },
    // Every item checked before any is recorded; then one script call per item, all sent at once
    // (one write to Redis, answered together). A failed item fails the RPC after the others settled.
    recordServiceCalls: async (req) => {
      if (req.calls.length > MAX_BATCH) throw new InvalidArgument('calls', `must hold at most ${MAX_BATCH} items`);
      const calls = req.calls.map((c, i) => {
        try {
          return checkCall(c);
        } catch (err) {
          if (err instanceof InvalidArgument)
            throw new InvalidArgument(`calls[${i}].${err.field}`, err.message.slice(err.field.length + 2));
          throw err;
        }
      });
      const settled = await Promise.allSettled(
        calls.map((c) => observed(c.kind, st.recordCall(c.eventId, c.userId, c.service, c.outcome, c.at, c.count))),
      );
      let dups = 0;
      settled.forEach((r, i) => {
        if (r.status === 'fulfilled' && counted(calls[i]!.kind, r.value)) dups++;
      });
      const failure = settled.find((r) => r.status === 'rejected');
      if (failure) throw failure.reason;
      return { duplicates: dups };
    },
    registerUser: async (req) => {
      const userId = checkId('user_id', req.userId);
      counted(
        'user',
        await observed(
          'user',
          st.registerUser(userId).then(() => true),
        ),
      );
      return {};
    },
    forgetUser: async (req) => {
      const userId = checkId('user_id', req.userId);
      return { anonymousId: (await observed('forget', st.forgetUser(userId))) ?? '' };
    },
    getDashboard: async () => {
      const d = await st.dashboard();
      // Most used: the service with the most allowed calls; on a tie the first declared (VENTE).
      const best = d.allowed.ACHAT > d.allowed.VENTE ? 'ACHAT' : 'VENTE';
      return {
        lastLogins: d.lastLogins.map((l) => ({ userId: l.userId, at: new Date(l.at) })),
        topConnectors: userCounts(d.topConnectors),
        leastServiceUsers: userCounts(d.leastServiceUsers),
        mostUsedService:
          d.allowed[best] > 0
            ? { service: best === 'VENTE' ? ServiceKind.SERVICE_KIND_VENTE : ServiceKind.SERVICE_KIND_ACHAT, count: d.allowed[best] }
            : undefined,
        serviceTotals: perService(d.allowed),
        deniedTotals: perService(d.denied),
        topDeniedUsers: userCounts(d.topDeniedUsers),
        lastHour: d.lastHour.map((m) => ({
          minute: new Date(m.minute),
          venteAllowed: m.venteAllowed,
          achatAllowed: m.achatAllowed,
          venteDenied: m.venteDenied,
          achatDenied: m.achatDenied,
        })),
        totalLogins: d.totalLogins,
        knownUsers: d.knownUsers,
      };
    },
  };

  return serveGrpc({
    ...opts,
    name: 'stats',
    serviceName: SERVICE_NAME,
    definition: stats.StatsServiceService,
    handlers,
    // An empty database means the statistics before it are gone; `users` lets the gateway compare
    // the accounts known here with the database's (register-users fills the gap).
    also: [
      redisStoreService(redis, new StoreMarker(redis, 'stats', log, 'statistics count only what happened since; run register-users'), {
        log,
        users: () => st.knownUsers(),
      }),
    ],
    // Serve at once; health says NOT_SERVING (and calls UNAVAILABLE) until Redis answers.
    beforeHealth: () => waitReady(redis, 2000).catch(() => log.warn('Redis not ready yet; NOT_SERVING until it answers')),
    probe: async () => {
      await redis.ping();
    },
    release: () =>
      redis.quit().then(
        () => undefined,
        () => redis.disconnect(),
      ),
  });
}

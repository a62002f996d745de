// The stats gRPC server: validates requests, maps them onto the store, reflects Redis in
// health. Decides nothing: it records facts and answers rankings.
import {
  createGrpcServer,
  createRedis,
  InvalidArgument,
  isRedisUnavailable,
  Unavailable,
  waitReady,
  watchHealth,
  wrapService,
  type AsyncService,
  type GrpcServer,
  type Logger,
} from '@etu/common';
import { stats } from '@etu/proto';
import { MAX_RECORD_COUNT, type OutcomeName, type ServiceName } from './keys';
import { StatsStore, type UserCountRow } from './store';

const { ServiceKind, Outcome } = stats;

export interface StatsServerOptions {
  /** host:port; port 0 = any free port. */
  addr: string;
  log: Logger;
  /** The internal token every call must carry. */
  token: string;
  /** Redis holding the statistics (database 1 by default). */
  redisUrl: string;
  /**
   * Redis command timeout (default 500 ms): a Redis that stops answering makes calls fail with
   * UNAVAILABLE after this; a refused or closed connection fails at once (no offline queue).
   */
  commandTimeoutMs?: number;
  /** How long a login's or allowed call's event id is remembered (default 5 minutes). */
  dedupTtlMs?: number;
  /** How often health checks Redis. */
  healthIntervalMs?: number;
  /** Grace period for in-flight calls in close(). */
  shutdownGraceMs?: number;
}

export interface StatsServer {
  port: number;
  grpc: GrpcServer;
  /** Stops serving (in-flight calls finish), then closes Redis. Idempotent. */
  close(): Promise<void>;
}

const MAX_ID = 128;

function checkId(field: string, v: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgument(field, 'is required');
  if ([...v].length > MAX_ID) throw new InvalidArgument(field, `must be at most ${MAX_ID} characters`);
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
  if (!Number.isInteger(count) || count < 1 || count > MAX_RECORD_COUNT) throw new InvalidArgument('count', `must be between 1 and ${MAX_RECORD_COUNT}`);
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

const perService = (c: Record<ServiceName, number>): stats.ServiceCount[] => [
  { service: ServiceKind.SERVICE_KIND_VENTE, count: c.VENTE },
  { service: ServiceKind.SERVICE_KIND_ACHAT, count: c.ACHAT },
];

const userCounts = (rows: UserCountRow[]): stats.UserCount[] => rows.map((r) => ({ userId: r.userId, count: r.count }));

/** Redis errors that mean "cannot be reached" become UNAVAILABLE; the rest stay internal. */
async function fromRedis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isRedisUnavailable(err)) throw new Unavailable('statistics store unavailable');
    throw err;
  }
}

export async function startStatsServer(opts: StatsServerOptions): Promise<StatsServer> {
  const { log } = opts;
  // autoResendUnfulfilledCommands off: a script written before the connection dropped may have
  // run, so it is never sent again after the reconnect (ioredis would, whenever Redis comes
  // back); the caller got UNAVAILABLE (the command timeout settles every call). So each
  // RecordServiceCall runs at most once, which denials, not deduplicated, rely on (README).
  const redis = createRedis(opts.redisUrl, { commandTimeoutMs: opts.commandTimeoutMs ?? 500, name: 'stats', extra: { autoResendUnfulfilledCommands: false } });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
  const st = new StatsStore(redis, Date.now, opts.dedupTtlMs);

  const impl: AsyncService<stats.StatsServiceServer> = {
    recordLogin: async (req) => {
      const eventId = checkId('event_id', req.eventId);
      const userId = checkId('user_id', req.userId);
      const at = checkTime('at', req.at);
      return { duplicate: !(await fromRedis(() => st.recordLogin(eventId, userId, at))) };
    },
    recordServiceCall: async (req) => {
      const eventId = checkId('event_id', req.eventId);
      const userId = checkId('user_id', req.userId);
      const service = serviceName(req.service);
      const outcome = outcomeName(req.outcome);
      const at = checkTime('at', req.at);
      const count = checkCount(req.count, outcome);
      return { duplicate: !(await fromRedis(() => st.recordCall(eventId, userId, service, outcome, at, count))) };
    },
    registerUser: async (req) => {
      const userId = checkId('user_id', req.userId);
      await fromRedis(() => st.registerUser(userId));
      return {};
    },
    getDashboard: async () => {
      const d = await fromRedis(() => st.dashboard());
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
    getUserUsage: async (req) => {
      const userId = checkId('user_id', req.userId);
      const u = await fromRedis(() => st.userUsage(userId));
      return {
        userId,
        logins: u.logins,
        lastLoginAt: u.lastLoginAt === undefined ? undefined : new Date(u.lastLoginAt),
        allowed: perService(u.allowed),
        denied: perService(u.denied),
      };
    },
  };

  const srv = createGrpcServer({ serviceNames: ['etuservices.stats.v1.StatsService'], log });
  srv.server.addService(stats.StatsServiceService, wrapService(impl, { token: opts.token, log, service: 'stats' }));
  let port: number;
  try {
    port = await srv.listen(opts.addr);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  // Serve at once; health says NOT_SERVING (and calls UNAVAILABLE) until Redis answers.
  await waitReady(redis, 2000).catch(() => log.warn('Redis not ready yet; NOT_SERVING until it answers'));
  const stopHealth = watchHealth(
    srv,
    async () => {
      await redis.ping();
    },
    { intervalMs: opts.healthIntervalMs ?? 1000, log },
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopHealth();
      await srv.shutdown(opts.shutdownGraceMs ?? 5000);
      await redis.quit().catch(() => redis.disconnect());
    })());
  return { port, grpc: srv, close };
}

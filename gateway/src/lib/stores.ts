// Are the stores the ones they should be? For /readyz (`stores`, `storeWarnings`) and the log.
// MariaDB's identity and account count come from auth; each Redis database's marker from the
// part that owns it (limiter, stats; the session database here). A Redis database is
//   empty    — it had no marker: new, flushed, or restarted without its data;
//   foreign  — its marker names another database: Redis and MariaDB do not belong together;
//   behind   — (stats) it knows fewer users than the database has accounts;
//   ok, or unknown when its part did not answer.
// None of these makes the gateway unready (the site works; it has forgotten things); the
// operator is told what each means in docs/operations.md, "Noticing an empty or stale store".
import { StoreMarker, type Logger, type PromiseClient, type RedisClient } from '@etu/common';
import type { store } from '@etu/proto';

export type StoreState = 'ok' | 'empty' | 'foreign' | 'behind' | 'unknown';

export interface StoreReport {
  state: StoreState;
  initializedAt?: string;
  users?: number;
}

export interface StoresReport {
  database: { id: string; createdAt: string; accounts: number } | null;
  stores: Record<'limiter' | 'stats' | 'sessions', StoreReport>;
  warnings: string[];
}

type StoreClient = PromiseClient<store.StoreServiceClient>;

const MEANING: Record<string, Partial<Record<StoreState, string>>> = {
  limiter: {
    empty: 'quotas count only the calls made since then (up to one window)',
    foreign: 'its quotas belong to another database',
  },
  stats: {
    empty: 'the statistics before then are gone',
    foreign: 'its statistics belong to another database',
    behind: 'the statistics lack accounts: run node services/auth/dist/register-users.js',
  },
  sessions: { empty: 'everyone was logged out', foreign: 'its sessions belong to another database' },
};

export class StoreCheck {
  private readonly sessions: StoreMarker;
  private last: { at: number; report: Promise<StoresReport> } | undefined;
  private lastWarnings = '';

  constructor(
    private readonly clients: { auth: StoreClient; limiter: StoreClient; stats: StoreClient },
    sessionRedis: RedisClient,
    private readonly log: Logger,
    private readonly cacheMs = 10_000,
  ) {
    this.sessions = new StoreMarker(sessionRedis, 'sessions', log, 'everyone was logged out');
    const onReady = () => void this.sessions.check().catch(() => undefined);
    sessionRedis.on('ready', onReady);
    if (sessionRedis.status === 'ready') onReady();
  }

  /** The report, at most `cacheMs` old. */
  report(): Promise<StoresReport> {
    if (!this.last || Date.now() - this.last.at > this.cacheMs) {
      const report = this.compute();
      this.last = { at: Date.now(), report };
      // A report with a part that did not answer is not kept: the next probe asks again.
      void report.then((r) => {
        if (this.last?.report === report && (r.database === null || Object.values(r.stores).some((s) => s.state === 'unknown')))
          this.last = undefined;
      });
    }
    return this.last.report;
  }

  private async compute(): Promise<StoresReport> {
    const opts = { timeoutMs: 1000 };
    const db = await this.clients.auth.describeStore({ databaseId: '' }, opts).catch(() => undefined);
    const databaseId = db?.databaseId ?? '';
    const judge = (s: store.DescribeStoreResponse | undefined, name: string): StoreReport => {
      if (!s || !db) return { state: 'unknown' };
      const base = { initializedAt: s.initializedAt?.toISOString(), ...(s.users >= 0 ? { users: s.users } : {}) };
      // The most actionable finding first.
      if (s.databaseId !== '' && s.databaseId !== databaseId) return { state: 'foreign', ...base };
      if (name === 'stats' && s.users < db.users) return { state: 'behind', ...base };
      if (!s.markerFound) return { state: 'empty', ...base };
      return { state: 'ok', ...base };
    };
    const [limiter, stats, sessions] = await Promise.all([
      this.clients.limiter.describeStore({ databaseId }, opts).catch(() => undefined),
      this.clients.stats.describeStore({ databaseId }, opts).catch(() => undefined),
      db
        ? this.sessions.check(databaseId).then(
            ({ found, marker }) => ({
              store: 'sessions',
              markerFound: found,
              initializedAt: new Date(marker.createdAt),
              databaseId: marker.database,
              users: -1,
            }),
            () => undefined,
          )
        : Promise.resolve(undefined),
    ]);
    const stores = { limiter: judge(limiter, 'limiter'), stats: judge(stats, 'stats'), sessions: judge(sessions, 'sessions') };
    const warnings = Object.entries(stores)
      .filter(([, r]) => r.state !== 'ok' && r.state !== 'unknown')
      .map(([name, r]) => {
        const what =
          r.state === 'behind'
            ? `knows ${r.users} of ${db!.users} accounts`
            : r.state === 'empty'
              ? `initialised at ${r.initializedAt}`
              : 'marker of another database';
        return `${name}: ${r.state} (${what}): ${MEANING[name]?.[r.state] ?? ''}`;
      });
    const key = warnings.join('\n');
    if (key !== this.lastWarnings) {
      this.lastWarnings = key;
      if (warnings.length)
        this.log.warn({ storeWarnings: warnings }, 'a store is empty or stale (docs/operations.md, Noticing an empty or stale store)');
      else this.log.info('stores consistent again');
    }
    return {
      database: db ? { id: db.databaseId, createdAt: db.initializedAt?.toISOString() ?? '', accounts: db.users } : null,
      stores,
      warnings,
    };
  }
}

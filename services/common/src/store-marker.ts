// The initialisation marker of a Redis database (`etu:store:init`): written when the part that
// owns the database finds it missing, with the time and the identity of the MariaDB database it
// goes with. A missing marker means the database was empty — new, flushed, or a Redis restarted
// without its data — so quotas, statistics or sessions started again from nothing; a marker
// naming another database means Redis and MariaDB do not belong together (a restore of one
// without the other). The gateway reports both on /readyz (docs/operations.md).
import { store } from '@etu/proto';
import type { Logger } from './logger';
import { Unavailable } from './errors';
import { isCluster, isRedisUnavailable, pingAll, type RedisClient } from './redis';
import type { AsyncService } from './server';
import type { ExtraService } from './service';

export const STORE_MARKER_KEY = 'etu:store:init';

/**
 * The marker's key: `etu:store:init` in a store's own database; on a Redis Cluster (one database
 * that several stores may share) one per store, `etu:store:init:<store>`.
 */
export function storeMarkerKey(redis: RedisClient, store: string): string {
  return isCluster(redis) ? `${STORE_MARKER_KEY}:${store}` : STORE_MARKER_KEY;
}

export interface Marker {
  /** When the marker was written (ms since the epoch). */
  createdAt: number;
  /** The MariaDB identity (etu_instance.id) this database goes with; '' until known. */
  database: string;
}

function parse(raw: string | null): Marker | undefined {
  if (!raw) return undefined;
  try {
    const m = JSON.parse(raw) as Partial<Marker>;
    return typeof m.createdAt === 'number'
      ? { createdAt: m.createdAt, database: typeof m.database === 'string' ? m.database : '' }
      : undefined;
  } catch {
    return undefined;
  }
}

export interface MarkerState {
  /** False once this process found the marker missing (until it restarts). */
  found: boolean;
  marker: Marker;
}

export class StoreMarker {
  private missingSeen = false;
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    /** limiter, stats, sessions. */
    readonly store: string,
    private readonly log: Logger,
    /** What an empty database means, for the log line. */
    private readonly meaning: string,
  ) {
    this.key = storeMarkerKey(redis, store);
  }

  /**
   * Reads the marker, writes it when missing (SET NX: of concurrent writers one wins), and records
   * `databaseId` in a marker that has none yet.
   */
  async check(databaseId = ''): Promise<MarkerState> {
    let marker = parse(await this.redis.get(this.key));
    if (!marker) {
      const fresh: Marker = { createdAt: Date.now(), database: databaseId };
      if ((await this.redis.set(this.key, JSON.stringify(fresh), 'NX')) === 'OK') {
        marker = fresh;
        this.missingSeen = true;
        this.log.warn(
          { store: this.store },
          `Redis database of ${this.store} had no initialisation marker: it was new or lost its data (${this.meaning}); marker written`,
        );
      } else {
        marker = parse(await this.redis.get(this.key)) ?? fresh;
      }
    } else if (marker.database === '' && databaseId !== '') {
      marker = { ...marker, database: databaseId };
      await this.redis.set(this.key, JSON.stringify(marker), 'XX');
    }
    return { found: !this.missingSeen, marker };
  }
}

/**
 * StoreService.DescribeStore for a part that owns a Redis database (to pass in serveGrpc's
 * `also`); also checks the marker each time the connection becomes ready (start, and a Redis
 * that came back — maybe empty).
 */
export function redisStoreService(
  redis: RedisClient,
  marker: StoreMarker,
  opts: { log: Logger; users?: () => Promise<number> },
): ExtraService {
  // On a cluster, once every master's connection answers: a command for a node whose connection
  // is still opening would be refused (no offline queue) and the marker left unchecked.
  const onReady = () =>
    void pingAll(redis)
      .then(() => marker.check())
      .catch((err: unknown) => opts.log.warn({ err: (err as Error).message }, 'store marker not checked'));
  redis.on('ready', onReady);
  if (redis.status === 'ready') onReady();
  const handlers: AsyncService<store.StoreServiceServer> = {
    describeStore: async (req) => {
      try {
        const { found, marker: m } = await marker.check(req.databaseId);
        return {
          store: marker.store,
          markerFound: found,
          initializedAt: new Date(m.createdAt),
          databaseId: m.database,
          users: opts.users ? await opts.users() : -1,
        };
      } catch (err) {
        if (isRedisUnavailable(err)) throw new Unavailable(`${marker.store} store unavailable`);
        throw err;
      }
    },
  };
  return { name: 'store', definition: store.StoreServiceService, handlers };
}

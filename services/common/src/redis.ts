// ioredis connections for the parts that own Redis data. Settings make an outage fail calls
// fast instead of queueing them: no offline queue, a command timeout, one retry at most, and
// a capped reconnect backoff so the part recovers by itself when Redis returns.
import Redis, { type RedisOptions } from 'ioredis';

export interface RedisConnOptions {
  /** Milliseconds before a command fails with a timeout. */
  commandTimeoutMs?: number;
  /** Milliseconds to establish a connection. */
  connectTimeoutMs?: number;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
  extra?: RedisOptions;
}

export function createRedis(url: string, opts: RedisConnOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs ?? 200,
    connectTimeout: opts.connectTimeoutMs ?? 500,
    maxRetriesPerRequest: 1,
    // Reconnect forever, 50 ms apart at first, at most 500 ms apart.
    retryStrategy: (times) => Math.min(times * 50, 500),
    connectionName: opts.name,
    lazyConnect: false,
    ...opts.extra,
  });
}

/** Resolves once the connection is ready, or rejects after timeoutMs. */
export function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** True when an ioredis error means "Redis cannot be reached / did not answer in time". */
export function isRedisUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; message?: string; code?: string };
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    /Command timed out|Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|^OOM |READONLY/i.test(
      e.message ?? '',
    )
  );
}

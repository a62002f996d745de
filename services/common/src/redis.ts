// ioredis connections for the parts that own Redis data. Settings make an outage fail calls
// fast instead of queueing them: no offline queue, a command timeout, one retry at most, and
// a capped reconnect backoff so the part recovers by itself when Redis returns.
//
// One URL form names either a single Redis or a Redis Cluster, for every part (parsed once, at
// start, by `vars.redisUrl` in config.ts, with parseRedisUrl below):
//   redis://[user:password@]host:port[/db]            one Redis (TLS: rediss://)
//   redis+cluster://[user:password@]h1:p1,h2:p2,...   a Redis Cluster, from any of its nodes (TLS: rediss+cluster://)
// A cluster has only database 0, so a cluster URL has no /db. docs/operations.md, "Running on
// Redis Cluster", says what each part does on a cluster.
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A single Redis or a Redis Cluster: the parts use either through the same commands. */
export type RedisClient = Redis | Cluster;

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; tls: boolean; username?: string; password?: string };

const CLUSTER_SCHEMES = new Set(['redis+cluster', 'rediss+cluster']);
const NODE = /^(\[[\d.:a-f]+\]|[\d.a-z-]+):(\d{1,5})$/i;

/**
 * Parses a Redis URL (see the header). Throws an Error whose message says what is wrong without
 * repeating the value (it may hold a password).
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = /^([a-z+]+):\/\/(.*)$/.exec(url);
  if (!m) throw new Error('expected a URL like redis://127.0.0.1:6379/0 or redis+cluster://h1:7000,h2:7001');
  const scheme = m[1]!;
  if (scheme === 'redis' || scheme === 'rediss') {
    try {
      new URL(url);
    } catch {
      throw new Error('expected a URL like redis://127.0.0.1:6379/0');
    }
    return { kind: 'standalone', url };
  }
  if (!CLUSTER_SCHEMES.has(scheme)) throw new Error('expected a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL');
  let rest = m[2]!;
  const q = rest.search(/[?#]/);
  if (q >= 0) throw new Error('a cluster URL takes no query: redis+cluster://[user:password@]host:port,host:port');
  const at = rest.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(':');
    try {
      username = decodeURIComponent(colon >= 0 ? auth.slice(0, colon) : auth) || undefined;
      password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) || undefined : undefined;
    } catch {
      throw new Error('the user or password of the cluster URL is not percent-encoded properly');
    }
  }
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    if (rest.slice(slash) !== '/' && rest.slice(slash) !== '/0')
      throw new Error('Redis Cluster has only database 0: a cluster URL takes no /db');
    rest = rest.slice(0, slash);
  }
  const nodes = rest.split(',').map((n) => {
    const hp = NODE.exec(n);
    if (!hp || Number(hp[2]) > 65535) throw new Error('expected redis+cluster://host:port,host:port (at least one node)');
    return { host: hp[1]!.replace(/^\[|\]$/g, ''), port: Number(hp[2]) };
  });
  return { kind: 'cluster', nodes, tls: scheme === 'rediss+cluster', username, password };
}

export interface RedisConnOptions {
  /** Milliseconds before a command fails with a timeout; null for none (the caller times out). */
  commandTimeoutMs?: number | null;
  /** Milliseconds to establish a connection. */
  connectTimeoutMs?: number;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
  /**
   * Never send a command again once it may have reached Redis (for scripts that count: a
   * second run would count twice). Single Redis: no re-send of unanswered commands after a
   * reconnect. Cluster: the same on every node, and no re-send on another node after a node's
   * connection closed (ioredis's `retryDelayOnFailover` re-sends those).
   */
  neverResend?: boolean;
  /** Keep reconnecting (default) or give up at the first lost connection (one-shot tools). */
  reconnect?: boolean;
  /** Prefix of every key (ioredis keyPrefix, applied to script KEYS too): `{stats}` on a cluster. */
  keyPrefix?: string;
  /** Further ioredis options of each connection (on a cluster: of each node's connection). */
  extra?: RedisOptions;
  /** Further ioredis Cluster options (a cluster URL only). */
  cluster?: Partial<ClusterOptions>;
}

/** How long a closing connection waits for its server to close its side before it is destroyed. */
export const DISCONNECT_TIMEOUT_MS = 250;

/** The connection a part uses: a Redis, or a Cluster when the URL names one (redis+cluster://). */
export function createRedis(url: string | RedisTarget, opts: RedisConnOptions = {}): RedisClient {
  const target = typeof url === 'string' ? parseRedisUrl(url) : url;
  const commandTimeout = opts.commandTimeoutMs === null ? undefined : (opts.commandTimeoutMs ?? 200);
  const common: RedisOptions = {
    commandTimeout,
    connectTimeout: opts.connectTimeoutMs ?? 500,
    // A connection being closed whose server does not close its side (a host that crashed) is
    // destroyed after this long (ioredis: 2 s, a timer that kept a stopping process alive).
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    connectionName: opts.name,
    ...(opts.neverResend ? { autoResendUnfulfilledCommands: false } : {}),
    ...(opts.keyPrefix ? { keyPrefix: opts.keyPrefix } : {}),
    ...opts.extra,
  };
  // Reconnect forever, 50 ms apart at first, at most 500 ms apart.
  const retry = opts.reconnect === false ? () => null : (times: number) => Math.min(times * 50, 500);
  if (target.kind === 'standalone') {
    return new Redis(target.url, { enableOfflineQueue: false, retryStrategy: retry, lazyConnect: false, ...common });
  }
  const { keyPrefix, ...nodeOptions } = common;
  const options: ClusterOptions = {
    // A call while no node of its slot can be reached fails at once (no queue), like a single Redis.
    enableOfflineQueue: false,
    scaleReads: 'master',
    keyPrefix,
    // MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies mean the node did not run the command: ioredis
    // sends it again (to the node named, after ASKING, or after a pause), up to maxRedirections.
    maxRedirections: 16,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: 20,
    retryDelayOnClusterDown: 100,
    // A command whose node connection closed may have run: never re-sent when neverResend.
    retryDelayOnFailover: opts.neverResend ? 0 : 100,
    slotsRefreshTimeout: 1000,
    slotsRefreshInterval: 2000,
    clusterRetryStrategy: retry,
    redisOptions: {
      ...nodeOptions,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
    // TLS managed clusters announce host names their certificates carry: connect to the name.
    ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    ...opts.cluster,
  };
  const cluster = new Cluster(target.nodes, options);
  // ioredis opens a node's connection at the first command for it, and without an offline queue
  // it refuses ("Connection is closed.") the commands that arrive for that node while it is still
  // connecting. Open each node's connection as soon as the node is known instead.
  cluster.on('+node', (node: Redis) => {
    if (node.status === 'wait') node.connect().catch(() => undefined);
  });
  return cluster;
}

/**
 * Answers when Redis does: a single Redis, or every master a cluster client knows (each node's
 * connection open and answering), so that a part reports itself ready only once it can reach
 * every slot it may be asked about.
 */
export async function pingAll(redis: RedisClient): Promise<void> {
  if (!isCluster(redis)) {
    await redis.ping();
    return;
  }
  const masters = redis.nodes('master');
  if (masters.length === 0) throw new Error("Cluster isn't ready: no master known");
  await Promise.all(masters.map((n) => n.ping()));
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/** Resolves once the connection is ready, or rejects after timeoutMs. */
export function waitReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
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
    e.name === 'ClusterAllFailedError' ||
    /Command timed out|Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|^OOM |READONLY|Cluster isn't ready|Cluster is ended|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/i.test(
      e.message ?? '',
    )
  );
}

// CRC16/XMODEM, the hash of Redis Cluster (keys are mapped to slot = CRC16(key) mod 16384).
const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * The Redis Cluster hash slot of a key (0..16383): of the part between the first `{` and the next
 * `}` when that part is not empty (a hash tag), else of the whole key — as CLUSTER KEYSLOT says.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc & 16383;
}

import { PrismaMariaDb, type PrismaMariadbOptions } from '@prisma/adapter-mariadb';
import { createPool, type Pool } from 'mariadb';
import { PrismaClient } from './generated/prisma/client';
import { parseDatabaseUrl } from './url';

/** The pool configuration of the mariadb driver the adapter bundles (its own copy of the types). */
type DriverPoolConfig = Extract<ConstructorParameters<typeof PrismaMariaDb>[0], { acquireTimeout?: number }>;

export interface PrismaClientOptions {
  /** Pool size per process. */
  connectionLimit?: number;
  /** Milliseconds to open a TCP connection before giving up. */
  connectTimeoutMs?: number;
  /** Milliseconds a query may wait for a pooled connection (fails fast when the DB is down). */
  acquireTimeoutMs?: number;
  /**
   * Milliseconds a connection may go without hearing from the server before the driver closes
   * it: a connection stuck on a server that went silent is not kept for ever. The driver counts
   * idle time too: keepPoolWarm keeps a pool's idle connections from reaching it.
   */
  socketTimeoutMs?: number;
  /**
   * The MariaDB driver's own settings, passed through unchanged: `pool` is merged over the pool
   * configuration above, `adapter` is the driver adapter's options. Empty by default; nothing in
   * production sets them (bench/experiments uses them to measure driver tuning).
   */
  driver?: { pool?: Partial<DriverPoolConfig>; adapter?: PrismaMariadbOptions };
}

/** A pool's size (PrismaClientOptions.connectionLimit) unless a caller sets one. */
export const DEFAULT_CONNECTIONS = 10;
/** The driver's socket timeout (PrismaClientOptions.socketTimeoutMs) unless a caller sets one. */
export const SOCKET_TIMEOUT_MS = 30_000;

/**
 * The adapter's options unless a caller sets them. `useTextProtocol`: each Prisma statement is
 * one COM_QUERY (the driver escapes the values) instead of the adapter's default PREPARE, EXECUTE
 * and CLOSE, three round trips (the adapter keeps no prepared statement: `prepareCacheLength` 0).
 * Measured in bench/ (issue 16): MariaDB and market CPU per request down, results unchanged (the
 * adapter reads both protocols' rows through the same column types).
 */
export const PRISMA_ADAPTER_DEFAULTS: PrismaMariadbOptions = { useTextProtocol: true };

/**
 * A Prisma client over the MariaDB driver adapter (no binary query engine). Pool settings are
 * explicit so that a database outage fails calls fast instead of hanging: a new connection
 * gives up after 1 s (a silent server accepts TCP and never greets), a query waits at most 1 s
 * for a pooled connection, and a connection that has heard nothing for 30 s is closed.
 * How long one query may take is the DatabaseGate's business (gate.ts): the driver's own
 * `queryTimeout` is a server-side limit that a silent server never applies.
 */
export function createPrismaClient(url: string, opts: PrismaClientOptions = {}): PrismaClient {
  const adapter = new PrismaMariaDb(
    { ...poolConfig(url, opts), ...opts.driver?.pool },
    { ...PRISMA_ADAPTER_DEFAULTS, ...opts.driver?.adapter },
  );
  return new PrismaClient({ adapter });
}

function poolConfig(url: string, opts: PrismaClientOptions) {
  const s = parseDatabaseUrl(url);
  return {
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    connectionLimit: opts.connectionLimit ?? DEFAULT_CONNECTIONS,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    acquireTimeout: opts.acquireTimeoutMs ?? 1000,
    socketTimeout: opts.socketTimeoutMs ?? SOCKET_TIMEOUT_MS,
    // Keep DATETIME values in UTC on both sides.
    timezone: 'Z',
  };
}

/**
 * A pool of the mariadb driver itself, with the same settings (fail fast, UTC), for the few hot
 * statements a service runs without Prisma (the market's INSERT and conditional UPDATE: issue 16).
 * Errors are the driver's own; isDatabaseUnavailable reads them too.
 */
export function createDriverPool(url: string, opts: Omit<PrismaClientOptions, 'driver'> = {}): Pool {
  return createPool(poolConfig(url, opts));
}

/**
 * Runs `ping` (a `SELECT 1`) once per connection the pool may hold idle, every `intervalMs`, so
 * that no pooled connection stays idle up to the driver's socket timeout. That timeout counts
 * idle time too: a pool nobody used for 30 s had every connection closed at once (MariaDB logs
 * "Aborted connection"), and the next query paid for reconnecting, which took over a second in a
 * CPU-limited container under load: past the pool's acquire timeout, a 503 for the user. The pool
 * hands out its idle connections in order (first in, first out), so `connections()` queries at
 * once reach each of them. Failures are the health probe's business: ignored here. Returns stop().
 */
export function keepPoolWarm(ping: () => Promise<unknown>, connections: () => number, intervalMs = SOCKET_TIMEOUT_MS / 3): () => void {
  const timer = setInterval(() => {
    for (let i = connections(); i > 0; i--) ping().catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** keepPoolWarm for a pool of the driver itself (createDriverPool): a `SELECT 1` per idle connection. */
export function keepDriverPoolWarm(pool: Pool): () => void {
  return keepPoolWarm(
    () => pool.query('SELECT 1'),
    () => pool.idleConnections(),
  );
}

/**
 * The mariadb driver's own codes that mean "no working connection": the connection was closed,
 * cut or timed out, the pool gave none, or the handshake was cut while the session was being set
 * up (45033 is what the driver reports when `SET time_zone` fails because the link dropped).
 */
const DRIVER_UNAVAILABLE = new Set([
  45001, // ER_CONNECTION_ALREADY_CLOSED
  45009, // ER_SOCKET_UNEXPECTED_CLOSE
  45012, // ER_CONNECTION_TIMEOUT
  45013, // ER_CMD_CONNECTION_CLOSED
  45019, // ER_SOCKET
  45026, // ER_SOCKET_TIMEOUT
  45027, // ER_POOL_ALREADY_CLOSED
  45028, // ER_GET_CONNECTION_TIMEOUT
  45029, // ER_SETTING_SESSION_ERROR
  45033, // ER_WRONG_IANA_TIMEZONE (the link dropped during SET time_zone)
  45035, // ER_ADD_CONNECTION_CLOSED_POOL
  45037, // ER_CLOSING_POOL
  45039, // ER_INITIAL_TIMEOUT_ERROR
  45061, // ER_POOL_NO_CONNECTION
]);

/**
 * True when an error from a Prisma call means "the database cannot be reached right now"
 * (connection refused, cut or silent, pool timeout, server gone), as opposed to a query or data
 * error. Reads the driver's error code and SQLSTATE where Prisma keeps them
 * (`meta.driverAdapterError.cause`), the raw driver error, and the messages of older shapes.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as {
    name?: string;
    code?: unknown;
    errno?: unknown;
    sqlState?: unknown;
    state?: unknown;
    message?: string;
    cause?: unknown;
    meta?: { driverAdapterError?: { cause?: unknown } };
  };
  if (e.name === 'PrismaClientInitializationError') return true;
  if (typeof e.code === 'string' && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024'].includes(e.code)) return true;
  // The driver's code (raw SqlError: errno; Prisma's adapter error: code) and SQLSTATE class 08
  // (connection exception).
  const driverCode = typeof e.errno === 'number' ? e.errno : typeof e.code === 'number' ? e.code : undefined;
  if (driverCode !== undefined && DRIVER_UNAVAILABLE.has(driverCode)) return true;
  const state = typeof e.sqlState === 'string' ? e.sqlState : typeof e.state === 'string' ? e.state : undefined;
  if (state?.startsWith('08')) return true;
  const msg = e.message ?? '';
  if (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|pool timeout|retrieve (?:a )?connection|Connection closed|socket has unexpectedly been closed|connect ETIMEDOUT|closed connection|Can't reach database|DatabaseNotReachable|SocketTimeout|server has gone away|ER_CONNECTION|ER_GET_CONNECTION_TIMEOUT|Pool is closed|ER_SOCKET_UNEXPECTED_CLOSE/i.test(
      msg,
    )
  ) {
    return true;
  }
  const adapterCause = e.meta?.driverAdapterError?.cause;
  if (adapterCause !== undefined && adapterCause !== err && isDatabaseUnavailable(adapterCause)) return true;
  return e.cause !== undefined && e.cause !== err ? isDatabaseUnavailable(e.cause) : false;
}

import { PrismaMariaDb, type PrismaMariadbOptions } from '@prisma/adapter-mariadb';
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
   * The MariaDB driver's own settings, passed through unchanged: `pool` is merged over the pool
   * configuration above, `adapter` is the driver adapter's options. Empty by default; nothing in
   * production sets them (bench/experiments uses them to measure driver tuning).
   */
  driver?: { pool?: Partial<DriverPoolConfig>; adapter?: PrismaMariadbOptions };
}

/**
 * A Prisma client over the MariaDB driver adapter (no binary query engine). Pool settings are
 * explicit so that a database outage fails calls within a couple of seconds instead of hanging.
 */
export function createPrismaClient(url: string, opts: PrismaClientOptions = {}): PrismaClient {
  const s = parseDatabaseUrl(url);
  const adapter = new PrismaMariaDb({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    connectionLimit: opts.connectionLimit ?? 10,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    acquireTimeout: opts.acquireTimeoutMs ?? 2000,
    // Keep DATETIME values in UTC on both sides.
    timezone: 'Z',
    ...opts.driver?.pool,
  }, opts.driver?.adapter);
  return new PrismaClient({ adapter });
}

/**
 * True when an error from a Prisma call means "the database cannot be reached right now"
 * (connection refused, pool timeout, server gone), as opposed to a query or data error.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  if (e.name === 'PrismaClientInitializationError') return true;
  if (e.code && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024'].includes(e.code)) return true;
  const msg = String(e.message ?? '');
  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|pool timeout|retrieve connection|Connection closed|socket has unexpectedly been closed|connect ETIMEDOUT|closed connection|Can't reach database|DatabaseNotReachable|SocketTimeout|server has gone away|ER_CONNECTION|ER_GET_CONNECTION_TIMEOUT|Pool is closed|ER_SOCKET_UNEXPECTED_CLOSE|ER_CONNECTION_TIMEOUT/i.test(msg)) {
    return true;
  }
  return e.cause !== undefined && e.cause !== err ? isDatabaseUnavailable(e.cause) : false;
}

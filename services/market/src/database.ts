// The market's view of its database: a Prisma client whose pool fails fast, a gate that answers
// UNAVAILABLE at once while the database is known to be unreachable (instead of making every
// call wait for the pool's acquire timeout), and a guard against a driver defect.
import { Unavailable, type Logger } from '@etu/common';
import { createPrismaClient, isDatabaseUnavailable, type PrismaClient } from '@etu/db';

export const DB_DOWN_MESSAGE = 'Service momentanément indisponible (base de données injoignable), réessayez dans un instant.';

/**
 * Pool settings: a query waits at most 1 s for a connection, so that even the first call after
 * an outage begins answers before a caller's usual 2 s deadline.
 */
export function createMarketPrisma(url: string): PrismaClient {
  return createPrismaClient(url, { connectionLimit: 10, connectTimeoutMs: 1000, acquireTimeoutMs: 1000 });
}

/**
 * Open while the database answers. Closed by a call or a health probe that finds it unreachable;
 * opened again only by a health probe that succeeds (`SELECT 1`), so recovery needs no restart.
 */
export class DatabaseGate {
  private down = false;

  get isDown(): boolean {
    return this.down;
  }

  /** Throws UNAVAILABLE at once while the database is known to be unreachable. */
  check(): void {
    if (this.down) throw new Unavailable(DB_DOWN_MESSAGE);
  }

  /** Maps "database unreachable" to UNAVAILABLE (and closes the gate); other errors unchanged. */
  translate(err: unknown): unknown {
    if (err instanceof Unavailable) return err;
    if (!isDatabaseUnavailable(err)) return err;
    this.down = true;
    return new Unavailable(DB_DOWN_MESSAGE);
  }

  /** Health probe: runs `SELECT 1`; opens the gate when it answers, closes it when not. */
  async probe(db: PrismaClient): Promise<void> {
    try {
      await db.$queryRaw`SELECT 1`;
      this.down = false;
    } catch (err) {
      this.down = true;
      throw err;
    }
  }
}

/**
 * mariadb 3.4.x (under @prisma/adapter-mariadb) drops the promise of a new connection's
 * initialisation: when the server goes away between authentication and the `SET time_zone`
 * that follows, the rejection is never handled, and Node 20 would end the process on it. The
 * failed connection itself is handled by the pool (the caller gets its error), so that one
 * rejection, a fatal SqlError of SQLState 08S01 (communication link failure), is logged and
 * ignored; any other unhandled rejection still ends the process, as by default.
 */
export function isOrphanedConnectionFailure(reason: unknown): boolean {
  if (!reason || typeof reason !== 'object') return false;
  const e = reason as { name?: unknown; fatal?: unknown; sqlState?: unknown };
  return e.name === 'SqlError' && e.fatal === true && e.sqlState === '08S01';
}

export function guardDriverRejections(log: Logger): () => void {
  const onRejection = (reason: unknown) => {
    if (isOrphanedConnectionFailure(reason)) {
      log.warn({ err: (reason as Error).message }, 'database connection lost while opening; ignored (the pool retries)');
      return;
    }
    throw reason;
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}

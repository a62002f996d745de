// The market's store adapter: a Prisma client whose pool fails fast, and a gate through which
// every query runs. The gate turns "database unreachable" into the one typed Unavailable error,
// and answers it at once while the database is known to be down (instead of making every call
// wait for the pool's acquire timeout).
import { inSpan, Unavailable } from '@etu/common';
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
 * Open while the database answers. Closed by a query or a health probe that finds it
 * unreachable; opened again only by a health probe that succeeds (`SELECT 1`), so recovery
 * needs no restart.
 */
export class DatabaseGate {
  private down = false;

  /**
   * Runs a query: Unavailable at once while the database is known to be down; "database
   * unreachable" becomes Unavailable (and closes the gate); other errors pass unchanged.
   */
  async run<T>(query: () => Promise<T>): Promise<T> {
    if (this.down) throw new Unavailable(DB_DOWN_MESSAGE);
    try {
      return await inSpan('SQL market', { kind: 'client', attributes: { 'db.system': 'mariadb' } }, query);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      this.down = true;
      throw new Unavailable(DB_DOWN_MESSAGE);
    }
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

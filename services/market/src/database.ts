// The market's view of its database: a Prisma client whose pool fails fast, a gate that answers
// UNAVAILABLE at once while the database is known to be unreachable (instead of making every
// call wait for the pool's acquire timeout), and a guard against a driver defect.
import { Unavailable, type Logger } from '@etu/common';
import { createPrismaClient, guardDriverRejections as guardDbDriverRejections, isDatabaseUnavailable, type PrismaClient } from '@etu/db';

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

/** The driver guard lives in @etu/db (every database user needs it); this adapts it to pino. */
export function guardDriverRejections(log: Logger): () => void {
  return guardDbDriverRejections((message) =>
    log.warn({ err: message }, 'database connection lost while opening; ignored (the pool retries)'),
  );
}

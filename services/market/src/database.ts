// The market's store adapter: a Prisma client whose pool fails fast, and the one database gate
// (@etu/db's DatabaseGate, shared with auth) through which every query runs: "database
// unreachable" — refused, cut or silent — is the typed Unavailable error, in under a second, and
// answered at once while the database is known to be down.
import { inSpan, Unavailable } from '@etu/common';
import { createPrismaClient, DatabaseGate, type PrismaClient, type WarnLogger } from '@etu/db';

export const DB_DOWN_MESSAGE = 'Service momentanément indisponible (base de données injoignable), réessayez dans un instant.';

export function createMarketPrisma(url: string, connectionLimit = 10): PrismaClient {
  return createPrismaClient(url, { connectionLimit });
}

/** The market's gate over `db`; every query is a client span "SQL market" when traces are on. */
export function marketGate(db: PrismaClient, log?: WarnLogger & { info(obj: object, msg: string): void }): MarketGate {
  const gate = new DatabaseGate(db, { unavailable: () => new Unavailable(DB_DOWN_MESSAGE), log });
  return {
    run: (query) => gate.run(() => inSpan('SQL market', { kind: 'client', attributes: { 'db.system': 'mariadb' } }, query)),
    probe: () => gate.probe(),
  };
}

/** What the market's domain and health need of the gate. */
export interface MarketGate {
  run<T>(query: () => Promise<T>): Promise<T>;
  probe(): Promise<void>;
}

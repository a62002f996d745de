/**
 * mariadb 3.4.5, which @prisma/adapter-mariadb 7.10 pins, drops the promise of a new
 * connection's initialisation (`authSucceedHandler` returns a rejection nobody holds): when the
 * server goes away between authentication and the `SET time_zone` that follows, the rejection
 * is never handled, and Node would end the process on it (under jest, which takes over the
 * process's handlers while a test runs, it failed whichever test was running: the cause of the
 * outage tests' old flake). mariadb 3.5 no longer does that, and the root package.json makes
 * the adapter use it (`overrides`); this guard stays for a driver that regresses. The failed
 * connection itself is handled by the pool (the caller gets its error), so that one rejection,
 * a fatal SqlError of SQLState 08S01 (communication link failure), is reported and ignored; any
 * other unhandled rejection still ends the process, as by default.
 * Every process that talks to the database through @etu/db installs this guard.
 */
export function isOrphanedConnectionFailure(reason: unknown): boolean {
  if (!reason || typeof reason !== 'object') return false;
  const e = reason as { name?: unknown; fatal?: unknown; sqlState?: unknown; errno?: unknown };
  if (e.name !== 'SqlError') return false;
  // The link dropped during initialisation…
  if (e.fatal === true && e.sqlState === '08S01') return true;
  // …or while setting the session time zone, which the driver reports as ER_WRONG_IANA_TIMEZONE
  // (45033, not fatal) from the same orphaned promise.
  return e.errno === 45033;
}

/** What the guard logs with (a pino logger fits). */
export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/** Installs the guard; the ignored rejection is logged as a warning. Returns a function removing it. */
export function guardDriverRejections(log: WarnLogger): () => void {
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

import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as mariadb from 'mariadb';
import { parseDatabaseUrl } from './url';

/** Folder holding the committed migrations, in Prisma's layout (<timestamp>_<name>/migration.sql). */
export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface LocalMigration {
  name: string;
  sql: string;
  /** sha256 of the file, hex, as Prisma records it. */
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The committed migrations, oldest first. */
export function readMigrations(dir = MIGRATIONS_DIR): LocalMigration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d{14}_\w+$/.test(d.name))
    .map((d) => d.name)
    .sort()
    .filter((name) => existsSync(join(dir, name, 'migration.sql')))
    .map((name) => {
      const buf = readFileSync(join(dir, name, 'migration.sql'));
      return { name, sql: buf.toString('utf8'), checksum: createHash('sha256').update(buf).digest('hex') };
    });
}

// Prisma's own bookkeeping table, column for column, so that `prisma migrate deploy` and this
// applier can take turns on one database.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS \`_prisma_migrations\` (
    \`id\`                  VARCHAR(36) PRIMARY KEY NOT NULL,
    \`checksum\`            VARCHAR(64) NOT NULL,
    \`finished_at\`         DATETIME(3),
    \`migration_name\`      VARCHAR(255) NOT NULL,
    \`logs\`                TEXT,
    \`rolled_back_at\`      DATETIME(3),
    \`started_at\`          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    \`applied_steps_count\` INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const s = parseDatabaseUrl(url);
  const conn = await mariadb.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 3000 });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${s.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}

/**
 * Applies the pending migrations, recording each in `_prisma_migrations` exactly as
 * `prisma migrate deploy` does. Idempotent. Refuses to run when an applied migration's file was
 * changed (checksum mismatch) or when an earlier run failed half-way (as Prisma's P3009).
 * Serialised across processes with the same advisory lock name Prisma uses.
 */
export async function applyMigrations(url: string, opts: { dir?: string; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const local = readMigrations(opts.dir);
  const s = parseDatabaseUrl(url);
  const conn = await mariadb.createConnection({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    multipleStatements: true,
    connectTimeout: 3000,
  });
  try {
    const [lock] = await conn.query<[{ got: unknown }]>("SELECT GET_LOCK('prisma_migrate', 10) AS got");
    if (Number(lock.got) !== 1) throw new MigrationError('another migration run holds the lock prisma_migrate; try again');
    try {
      await conn.query(CREATE_MIGRATIONS_TABLE);
      const rows = await conn.query<AppliedRow[]>(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM `_prisma_migrations` ORDER BY started_at',
      );
      const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
      if (failed.length > 0) {
        throw new MigrationError(
          `migration ${failed[0]!.migration_name} failed in an earlier run; fix the database by hand, then mark it rolled back (rolled_back_at) before migrating again`,
        );
      }
      const applied = new Map(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => [r.migration_name, r]));
      for (const m of local) {
        const row = applied.get(m.name);
        if (row && row.checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.name} was modified after it was applied (checksum ${m.checksum.slice(0, 12)}… differs from the recorded ${row.checksum.slice(0, 12)}…); never edit an applied migration, add a new one`,
          );
        }
      }
      for (const name of applied.keys()) {
        if (!local.some((m) => m.name === name)) log(`warning: applied migration ${name} is not in ${opts.dir ?? MIGRATIONS_DIR}`);
      }
      const result: MigrateResult = { applied: [], alreadyApplied: [] };
      for (const m of local) {
        if (applied.has(m.name)) {
          result.alreadyApplied.push(m.name);
          continue;
        }
        const id = randomUUID();
        await conn.query(
          'INSERT INTO `_prisma_migrations` (id, checksum, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3), 0)',
          [id, m.checksum, m.name],
        );
        try {
          await conn.query(m.sql);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          await conn.query('UPDATE `_prisma_migrations` SET logs = ? WHERE id = ?', [reason, id]);
          throw new MigrationError(`migration ${m.name} failed: ${reason}`);
        }
        await conn.query('UPDATE `_prisma_migrations` SET finished_at = CURRENT_TIMESTAMP(3), applied_steps_count = 1 WHERE id = ?', [id]);
        log(`applied ${m.name}`);
        result.applied.push(m.name);
      }
      return result;
    } finally {
      await conn.query("SELECT RELEASE_LOCK('prisma_migrate')").catch(() => {});
    }
  } finally {
    await conn.end();
  }
}

// Test support: a fresh, uniquely named database per test file, migrated, dropped afterwards.
// The server comes from TEST_DATABASE_URL (default: the local MariaDB, user root).
import { randomBytes } from 'node:crypto';
import * as mariadb from 'mariadb';
import { applyMigrations, ensureDatabase, parseDatabaseUrl, withDatabase } from '@etu/db';

export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates `etu_t_<random>` on the test server; `migrate: false` leaves it empty. */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `etu_t_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(TEST_SERVER_URL, name);
  await ensureDatabase(url);
  if (opts.migrate !== false) await applyMigrations(url);
  return {
    url,
    name,
    async drop() {
      const s = parseDatabaseUrl(url);
      const conn = await mariadb.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password });
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await conn.end();
      }
    },
  };
}

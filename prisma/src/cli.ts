#!/usr/bin/env node
// `node prisma/dist/cli.js migrate`: creates the database when missing, then applies pending
// migrations with `prisma migrate deploy` when Prisma's schema engine is available on this
// machine, and otherwise with our own applier (./migrate.ts), which records them identically.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMigrations, ensureDatabase } from './migrate';

/** The local database (`make run`), from parts.json at the repository root. */
function defaultUrl(): string {
  const { localStores } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'parts.json'), 'utf8')) as {
    localStores: Record<string, string>;
  };
  return localStores.DATABASE_URL!;
}

/** Path of a usable schema-engine binary, or undefined when this machine has none. */
export function findSchemaEngine(root = join(__dirname, '..', '..')): string | undefined {
  const fromEnv = process.env.PRISMA_SCHEMA_ENGINE_BINARY;
  if (fromEnv && fromEnv !== '/bin/false' && fromEnv !== '/bin/true') {
    try {
      accessSync(fromEnv, constants.X_OK);
      return fromEnv;
    } catch {
      return undefined;
    }
  }
  for (const dir of [join(root, 'node_modules', '@prisma', 'engines'), join(root, 'node_modules', 'prisma')]) {
    if (!existsSync(dir)) continue;
    const hit = readdirSync(dir).find((f) => f.startsWith('schema-engine'));
    if (hit) return join(dir, hit);
  }
  return undefined;
}

/** DATABASE_URL, or else the content of the file DATABASE_URL_FILE names (compose secrets). */
function databaseUrl(env = process.env): string {
  if (!env.DATABASE_URL && env.DATABASE_URL_FILE) return readFileSync(env.DATABASE_URL_FILE, 'utf8').replace(/\r?\n$/, '');
  return env.DATABASE_URL || defaultUrl();
}

async function migrate(): Promise<void> {
  const url = databaseUrl();
  await ensureDatabase(url);
  const engine = findSchemaEngine();
  if (engine) {
    console.log('migrate: using prisma migrate deploy');
    const r = spawnSync(join(__dirname, '..', '..', 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: url, PRISMA_SCHEMA_ENGINE_BINARY: engine },
      stdio: 'inherit',
    });
    process.exitCode = r.status ?? 1;
    return;
  }
  console.log('migrate: Prisma schema engine not available here, applying SQL migrations with the project applier');
  const res = await applyMigrations(url, { log: (l) => console.log(`migrate: ${l}`) });
  console.log(`migrate: ${res.applied.length} applied, ${res.alreadyApplied.length} already applied`);
}

if (require.main === module) {
  const cmd = process.argv[2];
  if (cmd !== 'migrate') {
    console.error('usage: node prisma/dist/cli.js migrate   (DATABASE_URL or DATABASE_URL_FILE selects the database)');
    process.exit(2);
  }
  migrate().catch((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    if (/ECONNREFUSED|connect/i.test(msg)) {
      console.error(
        `migrate: cannot reach MariaDB/MySQL (${msg}).\n` +
          '  Start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
          '  Install it (Debian): apt-get install -y mariadb-server\n' +
          '  Or in containers: docker compose -f deploy/compose.yaml up -d mariadb redis',
      );
    } else {
      console.error(`migrate: ${msg}`);
    }
    process.exit(1);
  });
}

// Runs `prisma generate` for @etu/db. The Prisma CLI downloads its schema-engine binary before
// every command; on machines without internet access that download fails, so when no engine is
// available we point PRISMA_SCHEMA_ENGINE_BINARY at /bin/false: `generate` (pure WASM) still
// works and engine commands fail loudly instead of silently (see README, "Offline builds").
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = '/bin/false';
// prisma.config.ts reads DATABASE_URL; generate never connects, so any syntactically valid URL will do.
if (!env.DATABASE_URL) env.DATABASE_URL = JSON.parse(readFileSync(join(root, 'parts.json'), 'utf8')).localStores.DATABASE_URL;
const prismaBin = join(root, 'node_modules', '.bin', 'prisma');
const r = spawnSync(prismaBin, ['generate', '--schema', join(root, 'prisma', 'schema.prisma')], {
  cwd: join(root, 'prisma'),
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);

// `node services/stats/dist/register-seeded.js`: makes the seeded demo accounts known to the
// statistics. The seed creates them straight in the database, so stats has not seen them; once
// registered they rank in "least service users" with 0 calls. RegisterUser is idempotent, so
// running it again is harmless. Used by `make run` (scripts/dev.mjs) and by the container seed
// (deploy/start.sh, SERVICE=seed). Reads STATS_ADDR and INTERNAL_TOKEN (generated for local runs).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localAddress, createServiceClient, loadOrExit, parseConfig, REPO_ROOT, requireSecret, vars, z } from '@etu/common';
import { stats } from '@etu/proto';

export const registerSeededShape = {
  NODE_ENV: vars.nodeEnv(),
  STATS_ADDR: vars.addr(localAddress('stats')),
  INTERNAL_TOKEN: z.string().optional(),
};

/** Registers every account of `file` (demo-accounts.json); returns how many. */
export async function registerSeededUsers(file: string, addr: string, token: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const accounts = JSON.parse(readFileSync(file, 'utf8')) as Array<{ id: number | string }>;
  const client = createServiceClient(stats.StatsServiceClient, addr, { token, timeoutMs: 5000 });
  try {
    for (const a of accounts) await client.call.registerUser({ userId: String(a.id) });
  } finally {
    client.close();
  }
  return accounts.length;
}

async function main(): Promise<void> {
  const cfg = loadOrExit('seed(stats)', () => {
    const c = parseConfig(registerSeededShape);
    return { ...c, INTERNAL_TOKEN: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
  });
  const file = join(REPO_ROOT, '.secrets', 'demo-accounts.json');
  const n = await registerSeededUsers(file, cfg.STATS_ADDR, cfg.INTERNAL_TOKEN);
  console.log(n === 0 ? `seed(stats): no demo accounts in ${file}, nothing to register` : `seed(stats): ${n} demo account(s) registered with the statistics`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const e = err as { details?: string; message?: string };
    console.error(`seed(stats): ${e?.details ?? e?.message ?? String(err)}`);
    process.exit(1);
  });
}

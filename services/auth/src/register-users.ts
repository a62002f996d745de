// `node services/auth/dist/register-users.js`: makes every account of the database known to the
// statistics (RegisterUser, idempotent: ZADD NX, so counts already there are never touched).
// Needed whenever the statistics may lack accounts: after the seed (it creates accounts straight
// in the database), after a restore (users who signed up between the Redis copy and the SQL
// dump), after a Redis that lost its data. Run by `make run` and the container seed after the
// services start, and by `make restore` in compose. Reads DATABASE_URL, STATS_ADDR, INTERNAL_TOKEN.
import { createLogger, createServiceClient, loadOrExit, localAddress, parseConfig, requireSecret, vars, z } from '@etu/common';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { stats } from '@etu/proto';
import { Accounts } from './accounts';

export const registerUsersShape = {
  NODE_ENV: vars.nodeEnv(),
  DATABASE_URL: vars.databaseUrl(),
  STATS_ADDR: vars.addr(localAddress('stats')),
  INTERNAL_TOKEN: z.string().optional(),
};

const PAGE = 500;
const IN_FLIGHT = 16;

/** Registers every account with the statistics; returns how many accounts were registered. */
export async function registerAllUsers(prisma: PrismaClient, statsAddr: string, token: string): Promise<number> {
  const accounts = new Accounts(prisma, createLogger('register-users', 'silent'));
  const client = createServiceClient(stats.StatsServiceClient, statsAddr, { token, timeoutMs: 5000 });
  let n = 0;
  try {
    let after = 0;
    for (;;) {
      const page = await accounts.publicIdsPage(after, PAGE);
      if (page.last === undefined) break;
      for (let i = 0; i < page.ids.length; i += IN_FLIGHT) {
        await Promise.all(page.ids.slice(i, i + IN_FLIGHT).map((userId) => client.call.registerUser({ userId })));
      }
      n += page.ids.length;
      after = page.last;
    }
  } finally {
    client.close();
  }
  return n;
}

async function main(): Promise<void> {
  const cfg = loadOrExit('register-users', () => {
    const c = parseConfig(registerUsersShape);
    return { ...c, INTERNAL_TOKEN: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
  });
  const prisma = createPrismaClient(cfg.DATABASE_URL);
  try {
    const n = await registerAllUsers(prisma, cfg.STATS_ADDR, cfg.INTERNAL_TOKEN);
    console.log(`register-users: ${n} account(s) known to the statistics`);
  } finally {
    await prisma.$disconnect();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const e = err as { details?: string; message?: string } | null | undefined;
    console.error(`register-users: ${e?.details ?? e?.message ?? String(err)}`);
    process.exit(1);
  });
}

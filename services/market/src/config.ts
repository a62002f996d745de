import { z } from 'zod';
import { localAddress, baseServiceShape, parseConfig, vars, type Env } from '@etu/common';

/** The market's environment: the common variables, its address and its database. */
export const configShape = {
  ...baseServiceShape(),
  MARKET_ADDR: vars.addr(localAddress('market')),
  METRICS_PORT: vars.metricsPort('market'),
  DATABASE_URL: vars.databaseUrl(),
  /** The two hot statements (Vente INSERT, Achat UPDATE) on the mariadb driver, or through Prisma (hot-sql.ts). */
  MARKET_SQL: z.enum(['driver', 'prisma'], { error: 'expected driver or prisma' }).default('driver'),
};

export function loadConfig(env: Env = process.env) {
  return parseConfig(configShape, env);
}

export type MarketConfig = ReturnType<typeof loadConfig>;

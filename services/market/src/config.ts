import { localAddress, baseServiceShape, parseConfig, vars, type Env } from '@etu/common';

/** The market's environment: the common variables, its address and its database. */
export const configShape = {
  ...baseServiceShape(),
  MARKET_ADDR: vars.addr(localAddress('market')),
  METRICS_PORT: vars.metricsPort('market'),
  DATABASE_URL: vars.databaseUrl(),
};

export function loadConfig(env: Env = process.env) {
  return parseConfig(configShape, env);
}

export type MarketConfig = ReturnType<typeof loadConfig>;

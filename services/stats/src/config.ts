// Configuration of the stats service, parsed once at start (the rest of the code never reads
// process.env).
import { localAddress, localStore, baseServiceShape, parseConfig, vars, type Env } from '@etu/common';

export const configShape = {
  ...baseServiceShape(),
  STATS_ADDR: vars.addr(localAddress('stats')),
  /** Database 1 by default, as the brief asks. */
  STATS_REDIS_URL: vars.redisUrl(localStore('STATS_REDIS_URL')),
};

export type StatsConfig = ReturnType<typeof loadConfig>;

export function loadConfig(env: Env = process.env) {
  return parseConfig(configShape, env);
}

// Configuration of the stats service, parsed once at start (the rest of the code never reads
// process.env).
import { localAddress, localStore, baseServiceShape, parseConfig, vars, type Env } from '@etu/common';
import { EVENT_TTL_MS } from './keys';

export const configShape = {
  ...baseServiceShape(),
  STATS_ADDR: vars.addr(localAddress('stats')),
  METRICS_PORT: vars.metricsPort('stats'),
  /** Database 1 by default, as the brief asks. */
  STATS_REDIS_URL: vars.redisUrl(localStore('STATS_REDIS_URL')),
  /**
   * How long a login's or allowed call's event id is remembered (a retry within it counts once):
   * the producers' retry horizon (README, "Deduplication"). 5 minutes.
   */
  STATS_DEDUP_TTL_MS: vars.millis(EVENT_TTL_MS),
};

export type StatsConfig = ReturnType<typeof loadConfig>;

export function loadConfig(env: Env = process.env) {
  return parseConfig(configShape, env);
}

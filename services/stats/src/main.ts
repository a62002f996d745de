// Wiring only: configuration, logger, then the service (services/common runService).
import { createLogger, loadOrExit, requireSecret, runService } from '@etu/common';
import { loadConfig } from './config';
import { startStatsServer } from './server';

const cfg = loadOrExit('stats', () => {
  const c = loadConfig();
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('stats', cfg.LOG_LEVEL);

runService(
  'stats',
  log,
  (metrics) =>
    startStatsServer({
      addr: cfg.STATS_ADDR,
      log,
      token: cfg.token,
      redisUrl: cfg.STATS_REDIS_URL,
      dedupTtlMs: cfg.STATS_DEDUP_TTL_MS,
      graceMs: cfg.SHUTDOWN_GRACE_MS,
      metrics,
    }),
  { graceMs: cfg.SHUTDOWN_GRACE_MS, metricsPort: cfg.METRICS_PORT, otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT },
);

// Wiring only: configuration, logger, driver guard, then the service (services/common runService).
import { createLogger, loadOrExit, requireSecret, runService } from '@etu/common';
import { guardDriverRejections } from '@etu/db';
import { loadConfig } from './config';
import { startMarketServer } from './server';

const cfg = loadOrExit('market', () => {
  const c = loadConfig();
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('market', cfg.LOG_LEVEL);
guardDriverRejections(log);

runService(
  'market',
  log,
  (metrics) =>
    startMarketServer({
      addr: cfg.MARKET_ADDR,
      log,
      token: cfg.token,
      databaseUrl: cfg.DATABASE_URL,
      sql: cfg.MARKET_SQL,
      graceMs: cfg.SHUTDOWN_GRACE_MS,
      metrics,
    }),
  { graceMs: cfg.SHUTDOWN_GRACE_MS, metricsPort: cfg.METRICS_PORT, otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT },
);

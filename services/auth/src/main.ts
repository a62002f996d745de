// Wiring only: configuration, logger, driver guard, then the service (services/common runService).
import { createLogger, loadOrExit, requireSecret, runService } from '@etu/common';
import { guardDriverRejections } from '@etu/db';
import { loadConfig } from './config';
import { startAuthServer } from './server';

const cfg = loadOrExit('auth', () => {
  const c = loadConfig();
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('auth', cfg.LOG_LEVEL);
guardDriverRejections(log);

runService(
  'auth',
  log,
  (metrics) =>
    startAuthServer({
      addr: cfg.AUTH_ADDR,
      log,
      token: cfg.token,
      databaseUrl: cfg.DATABASE_URL,
      healthIntervalMs: cfg.HEALTH_INTERVAL_MS,
      graceMs: cfg.SHUTDOWN_GRACE_MS,
      db: { acquireTimeoutMs: cfg.DB_ACQUIRE_TIMEOUT_MS, connectTimeoutMs: cfg.DB_CONNECT_TIMEOUT_MS },
      hashLimits: { concurrency: cfg.AUTH_HASH_CONCURRENCY, queue: cfg.AUTH_HASH_QUEUE, maxWaitMs: cfg.AUTH_HASH_MAX_WAIT_MS },
      metrics,
    }),
  { graceMs: cfg.SHUTDOWN_GRACE_MS, metricsPort: cfg.METRICS_PORT, otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT },
);

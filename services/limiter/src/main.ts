// Wiring only: configuration, logger, then the service (services/common runService).
import { createLogger, loadOrExit, requireSecret, runService } from '@etu/common';
import { loadConfig } from './config';
import { startLimiterServer } from './server';

const cfg = loadOrExit('limiter', () => {
  const c = loadConfig(process.env);
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('limiter', cfg.LOG_LEVEL);

runService(
  'limiter',
  log,
  (metrics) =>
    startLimiterServer({
      addr: cfg.LIMITER_ADDR,
      log,
      token: cfg.token,
      redisUrl: cfg.LIMITER_REDIS_URL,
      policies: cfg.LIMIT_POLICIES,
      envoyConfigDir: cfg.LIMITER_ENVOY_CONFIG_DIR,
      envoyRateLimitHeaders: cfg.LIMITER_ENVOY_RATELIMIT_HEADERS,
      envoyTrustedAddr: cfg.LIMITER_ENVOY_TRUSTED_ADDR,
      graceMs: cfg.SHUTDOWN_GRACE_MS,
      metrics,
    }),
  { graceMs: cfg.SHUTDOWN_GRACE_MS, metricsPort: cfg.METRICS_PORT, otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT },
);

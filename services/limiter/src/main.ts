// Wiring only: configuration, logger, server, signals.
import { createLogger, handleShutdownSignals, loadOrExit, requireSecret } from '@etu/common';
import { loadConfig } from './config';
import { startLimiterServer } from './server';

const cfg = loadOrExit('limiter', () => {
  const c = loadConfig(process.env);
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('limiter', cfg.LOG_LEVEL);
startLimiterServer({ addr: cfg.LIMITER_ADDR, log, token: cfg.token, redisUrl: cfg.LIMITER_REDIS_URL, policies: cfg.LIMIT_POLICIES }).then(
  (s) => {
    log.info({ port: s.port }, 'limiter listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log, close: () => s.close(0) });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

// Wiring only: configuration, secret, logger, server, signals.
import { createLogger, handleShutdownSignals, loadOrExit, requireSecret } from '@etu/common';
import { loadConfig } from './config';
import { startStatsServer } from './server';

const cfg = loadOrExit('stats', () => {
  const c = loadConfig();
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('stats', cfg.LOG_LEVEL);
startStatsServer({ addr: cfg.STATS_ADDR, log, token: cfg.token, redisUrl: cfg.STATS_REDIS_URL, dedupTtlMs: cfg.STATS_DEDUP_TTL_MS, shutdownGraceMs: cfg.SHUTDOWN_GRACE_MS }).then(
  (s) => {
    log.info({ port: s.port }, 'stats listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log, close: s.close });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

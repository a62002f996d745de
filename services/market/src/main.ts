// Wiring only: configuration, secret, logger, server, signals.
import { createLogger, handleShutdownSignals, loadOrExit, requireSecret } from '@etu/common';
import { loadConfig } from './config';
import { guardDriverRejections } from './database';
import { startMarketServer } from './server';

const cfg = loadOrExit('market', () => {
  const c = loadConfig();
  return { ...c, token: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('market', cfg.LOG_LEVEL);
guardDriverRejections(log);
startMarketServer({ addr: cfg.MARKET_ADDR, log, token: cfg.token, databaseUrl: cfg.DATABASE_URL, graceMs: cfg.SHUTDOWN_GRACE_MS }).then(
  (s) => {
    log.info({ port: s.port }, 'market listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log, close: () => s.close() });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

// Wiring only: configuration, logger, server, health on the database, signals.
import { createLogger, handleShutdownSignals, loadOrExit, requireSecret } from '@etu/common';
import { guardDriverRejections } from '@etu/db';
import { loadConfig } from './config';
import { startAuthServer } from './server';

const cfg = loadOrExit('auth', () => {
  const c = loadConfig();
  return { ...c, INTERNAL_TOKEN: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV) };
});
const log = createLogger('auth', cfg.LOG_LEVEL);
guardDriverRejections((message) => log.warn({ err: message }, 'database connection lost while opening; ignored (the pool retries)'));

startAuthServer({
  addr: cfg.AUTH_ADDR,
  log,
  token: cfg.INTERNAL_TOKEN,
  databaseUrl: cfg.DATABASE_URL,
  healthIntervalMs: cfg.HEALTH_INTERVAL_MS,
  db: { acquireTimeoutMs: cfg.DB_ACQUIRE_TIMEOUT_MS, connectTimeoutMs: cfg.DB_CONNECT_TIMEOUT_MS },
  graceMs: cfg.SHUTDOWN_GRACE_MS,
}).then(
  (s) => {
    log.info({ port: s.port }, 'auth listening');
    // The server's own close() is idempotent: the signal handler shuts gRPC first, then
    // close() finds it done and releases the database pool.
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log, close: s.close });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

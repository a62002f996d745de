import { baseServiceShape, createLogger, handleShutdownSignals, loadOrExit, parseConfig, vars } from '@etu/common';
import { startAuthServer } from './server';

const cfg = loadOrExit('auth', () => parseConfig({ ...baseServiceShape(), AUTH_ADDR: vars.addr('127.0.0.1:50051') }));
const log = createLogger('auth', cfg.LOG_LEVEL);
startAuthServer({ addr: cfg.AUTH_ADDR, log }).then(
  (s) => {
    log.info({ port: s.port }, 'auth listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

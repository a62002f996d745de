import { baseServiceShape, createLogger, handleShutdownSignals, loadOrExit, parseConfig, vars } from '@etu/common';
import { startLimiterServer } from './server';

const cfg = loadOrExit('limiter', () => parseConfig({ ...baseServiceShape(), LIMITER_ADDR: vars.addr('127.0.0.1:50053') }));
const log = createLogger('limiter', cfg.LOG_LEVEL);
startLimiterServer({ addr: cfg.LIMITER_ADDR, log }).then(
  (s) => {
    log.info({ port: s.port }, 'limiter listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

import { baseServiceShape, createLogger, handleShutdownSignals, loadOrExit, parseConfig, vars } from '@etu/common';
import { startStatsServer } from './server';

const cfg = loadOrExit('stats', () => parseConfig({ ...baseServiceShape(), STATS_ADDR: vars.addr('127.0.0.1:50054') }));
const log = createLogger('stats', cfg.LOG_LEVEL);
startStatsServer({ addr: cfg.STATS_ADDR, log }).then(
  (s) => {
    log.info({ port: s.port }, 'stats listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

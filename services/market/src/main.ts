import { baseServiceShape, createLogger, handleShutdownSignals, loadOrExit, parseConfig, vars } from '@etu/common';
import { startMarketServer } from './server';

const cfg = loadOrExit('market', () => parseConfig({ ...baseServiceShape(), MARKET_ADDR: vars.addr('127.0.0.1:50052') }));
const log = createLogger('market', cfg.LOG_LEVEL);
startMarketServer({ addr: cfg.MARKET_ADDR, log }).then(
  (s) => {
    log.info({ port: s.port }, 'market listening');
    handleShutdownSignals(s.grpc, { graceMs: cfg.SHUTDOWN_GRACE_MS, log });
  },
  (err: unknown) => {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

// The gateway process: configuration, clients, session store, the app; listens on
// HOST:PORT (127.0.0.1:3000 by default) and stops cleanly on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { createLogger, createRedis, loadOrExit } from '@etu/common';
import { createApp } from './app';
import { createClients } from './clients';
import { loadConfig } from './config';

const config = loadOrExit('gateway', () => loadConfig(process.env));
const log = createLogger('gateway', config.LOG_LEVEL);
const clients = createClients(config);
const sessionRedis = createRedis(config.SESSION_REDIS_URL, { name: 'gateway-sessions', commandTimeoutMs: 500, connectTimeoutMs: 1000 });
sessionRedis.on('error', (err: Error) => log.warn({ err: err.message }, 'session Redis error'));

const app = createApp({ config, clients, sessionRedis, log });
const server = createServer(app.callback());
// Slow clients cannot hold sockets forever.
server.requestTimeout = 30_000;
server.headersTimeout = 15_000;
server.keepAliveTimeout = 5_000;

server.on('error', (err) => {
  log.fatal({ err: err.message }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  log.info({ url: `http://${config.HOST}:${port}/`, failMode: config.LIMITER_FAIL_MODE }, 'gateway listening');
  // A policy missing from the limiter's LIMIT_POLICIES is logged now (and keeps /readyz at 503).
  void app.checkPolicies();
});

let stopping = false;
function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.warn('grace period over, closing remaining connections');
    server.closeAllConnections();
  }, config.SHUTDOWN_GRACE_MS);
  force.unref();
  server.close(() => {
    clearTimeout(force);
    clients.close();
    sessionRedis.disconnect();
    log.info('stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

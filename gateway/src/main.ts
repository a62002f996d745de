// The gateway process: configuration, clients, session store, the app; listens on
// HOST:PORT (127.0.0.1:3000 by default) and stops cleanly on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { createLogger, createRedis, initTracing, loadOrExit, serveMetrics, shutdownTracing, type MetricsListener } from '@etu/common';
import { createApp } from './app';
import { createClients } from './clients';
import { loadConfig } from './config';
import { Metrics } from './lib/metrics';

const config = loadOrExit('gateway', () => loadConfig(process.env));
const log = createLogger('gateway', config.LOG_LEVEL);
// Traces first (nothing loaded when OTEL_EXPORTER_OTLP_ENDPOINT is unset), then the metrics the clients and the app count into.
const traced = initTracing({ serviceName: 'gateway', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
const metrics = new Metrics({ enabled: config.METRICS_PORT !== null });
const clients = createClients(config, metrics.part);
const sessionRedis = createRedis(config.SESSION_REDIS_URL, { name: 'gateway-sessions', commandTimeoutMs: 500, connectTimeoutMs: 1000 });
sessionRedis.on('error', (err: Error) => log.warn({ err: err.message }, 'session Redis error'));

const app = createApp({ config, clients, sessionRedis, log, metrics });
let metricsListener: MetricsListener | undefined;
const server = createServer(app.callback());
// Slow clients cannot hold sockets forever.
server.requestTimeout = 30_000;
server.headersTimeout = 15_000;
server.keepAliveTimeout = 5_000;

server.on('error', (err) => {
  log.fatal({ err: err.message }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, async () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  if (config.METRICS_PORT !== null) {
    try {
      metricsListener = await serveMetrics(metrics.part, { host: config.HOST, port: config.METRICS_PORT, log });
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'cannot serve metrics');
      process.exit(1);
    }
  }
  log.info(
    {
      url: `http://${config.HOST}:${port}/`,
      metrics: metricsListener ? `http://${config.HOST}:${metricsListener.port}/metrics` : 'off',
      traces: traced ? 'on' : 'off',
      failMode: config.LIMITER_FAIL_MODE,
    },
    'gateway listening',
  );
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
    void Promise.all([metricsListener?.close(), shutdownTracing()]).finally(() => {
      log.info('stopped');
      process.exit(0);
    });
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

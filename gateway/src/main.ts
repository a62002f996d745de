// The gateway process: configuration, clients, session store, the app; listens on
// HOST:PORT (127.0.0.1:3000 by default) and stops cleanly on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { createLogger, createRedis, initTracing, loadOrExit, serveMetrics, shutdownTracing, type MetricsListener } from '@etu/common';
import { createApp } from './app';
import { createClients } from './clients';
import { loadConfig } from './config';
import { mailDestination, pruneOutbox } from './lib/mailer';
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
let stopping = false;
// Koa's handler settles its own errors (the error middleware answers, app.onerror logs the rest).
const handle = app.callback();
const server = createServer((req, res) => void handle(req, res));
// Slow clients cannot hold sockets forever.
server.requestTimeout = 30_000;
server.headersTimeout = 15_000;
server.keepAliveTimeout = 5_000;

server.on('error', (err) => {
  log.fatal({ err: err.message }, 'cannot listen');
  process.exit(1);
});
/**
 * Resolves once the session Redis answers a PING. Until then the gateway does not listen: a
 * load balancer or a browser finds nothing rather than a 503 for every page that needs a session.
 */
async function sessionStoreAnswers(): Promise<void> {
  let warned = false;
  for (let attempt = 0; ; attempt++) {
    if (sessionRedis.status === 'ready') {
      try {
        await sessionRedis.ping();
        if (warned) log.info('session Redis answers');
        return;
      } catch {
        /* not answering yet */
      }
    }
    // At start the connection is usually still being made: say so only once it takes a while.
    if (attempt > 0 && !warned) {
      log.warn('session Redis does not answer yet: listening once it does');
      warned = true;
    }
    // The next `ready` event, or one second, whichever comes first (a connected but silent Redis emits no event).
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sessionRedis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      sessionRedis.on('ready', done);
    });
    if (stopping) return;
  }
}

void sessionStoreAnswers().then(() => {
  if (stopping) return;
  server.listen(config.PORT, config.HOST, () => void onListening());
});

async function onListening(): Promise<void> {
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
      mail: mailDestination(config),
    },
    'gateway listening',
  );
  // A policy missing from the limiter's LIMIT_POLICIES is logged now (and keeps /readyz at 503).
  void app.checkPolicies();
  // The outbox keeps MAIL_OUTBOX_KEEP_DAYS days of mails (they hold names and addresses).
  void pruneOutbox(config.MAIL_OUTBOX_DIR, config.MAIL_OUTBOX_KEEP_DAYS).then((removed) => {
    if (removed > 0) log.info({ removed, keepDays: config.MAIL_OUTBOX_KEEP_DAYS }, 'old mails deleted from the outbox');
  });
}

function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.warn('grace period over, closing remaining connections');
    server.closeAllConnections();
  }, config.SHUTDOWN_GRACE_MS);
  force.unref();
  const finish = async () => {
    clearTimeout(force);
    // Summed refusals still waiting for the statistics (best effort, STATS_TIMEOUT_MS).
    await app.flushPending();
    // The mails still queued (a purchase's, a reset link), within what is left of the grace period;
    // a retry not yet due is given up.
    app.mail.stop();
    await Promise.race([app.mail.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
    clients.close();
    sessionRedis.disconnect();
    void Promise.all([metricsListener?.close(), shutdownTracing()]).finally(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  // Still waiting for the session store: nothing listens, nothing to drain.
  if (!server.listening) void finish();
  else server.close(() => void finish());
  server.closeIdleConnections();
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

// Experiments only (BENCH_PATCHES=...): measures a change to another part WITHOUT editing it,
// by preloading this file into that part's process (node --require). `make bench` never loads
// it; a run with patches writes to bench/tmp/results and says so in its report.
//
//   limiter-unary          gateway: one unary Consume per decision instead of @etu/limiter's
//                          coalescing client (the gateway before dc8b668), for an A/B
//   stats-off              gateway: no statistics calls (upper bound of batching/deferring them)
//   mariadb-binary         @etu/db createPrismaClient: PrismaMariaDb(config, { useTextProtocol: false }),
//                          the adapter's own default (PREPARE + EXECUTE + CLOSE per statement) that
//                          the text protocol (PRISMA_ADAPTER_DEFAULTS, one COM_QUERY) replaced
//   mariadb-prepare-cache  @etu/db createPrismaClient: binary protocol with prepareCacheLength 256
//                          in the pool config (statements prepared once per connection, then only EXECUTE)
//   market-readback-prisma market: an Achat reads its row back, and GetListing reads its row, through
//                          Prisma (findUnique with the users) instead of one driver SELECT (the
//                          market before those changes)
//   session-get-pexpire    gateway: a session is read with GET and renewed with a PEXPIRE (two round
//                          trips, the gateway before GETEX) instead of one GETEX
//   pino-redact            every part: the logger censors REDACT_PATHS with pino's `redact` option
//                          (before issue 16) instead of @etu/common's redactSecrets
//   replay-always          gateway: every Achat and keyed Vente first asks the market whether it is
//                          already done (GetListing, FindSale), as before call claims (lib/call-claims.ts)
//   mail-nodemailer        gateway: the sale mails composed by nodemailer (streamTransport) for the
//                          outbox, as before lib/mime.ts
//   market-in-process      gateway: runs the market's handlers itself (its classes, pools and SQL, on
//                          DATABASE_URL) instead of the gRPC call: what the market's hop costs
'use strict';
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const patches = new Set(
  (process.env.BENCH_PATCHES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

if (patches.has('limiter-unary') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // the gateway as it was before dc8b668: one unary Consume per decision (for an A/B of the
  // coalescing client the gateway now uses)
  const clients = require(join(ROOT, 'gateway/dist/clients.js'));
  const { createServiceClient } = require(join(ROOT, 'services/common/dist/index.js'));
  const { limiter } = require(join(ROOT, 'proto/dist/src/index.js'));
  const original = clients.createClients;
  clients.createClients = (cfg) => {
    const c = original(cfg);
    c.limiter.close();
    const u = createServiceClient(limiter.LimiterServiceClient, cfg.LIMITER_ADDR, {
      token: cfg.INTERNAL_TOKEN,
      timeoutMs: cfg.GRPC_TIMEOUT_MS,
    });
    const l = {
      consume: async (policy, subject, cost, o) => (await u.call.consume({ policy, subject, cost }, o)).decision,
      peek: async (policy, subject, o) => (await u.call.peek({ policy, subject }, o)).decision,
      reset: async (policy, subject, o) => void (await u.call.reset({ policy, subject }, o)),
      close: () => u.close(),
    };
    const close = c.close;
    return {
      ...c,
      limiter: l,
      close: () => {
        close();
        l.close();
      },
    };
  };
}

if (patches.has('stats-off') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // the upper bound of what batching or deferring the statistics could save: the gateway's
  // RecordServiceCall(s)/RecordLogin answer at once without a call (nothing is recorded)
  const clients = require(join(ROOT, 'gateway/dist/clients.js'));
  const original = clients.createClients;
  clients.createClients = (cfg) => {
    const c = original(cfg);
    const stats = {
      ...c.stats,
      recordServiceCall: async () => ({ duplicate: false }),
      recordServiceCalls: async () => ({ duplicates: 0 }),
      recordLogin: async () => ({ duplicate: false }),
    };
    return { ...c, stats };
  };
}

if (patches.has('mariadb-binary') || patches.has('mariadb-prepare-cache')) {
  const client = require(join(ROOT, 'prisma/dist/client.js'));
  const original = client.createPrismaClient;
  // through the factory's generic pass-through of the driver's own settings (`driver`)
  client.createPrismaClient = (url, opts = {}) =>
    original(url, {
      ...opts,
      driver: {
        pool: { ...opts.driver?.pool, ...(patches.has('mariadb-prepare-cache') ? { prepareCacheLength: 256 } : {}) },
        // the binary protocol the adapter uses unless told otherwise (the default before issue 16's text protocol)
        adapter: { ...opts.driver?.adapter, useTextProtocol: false },
      },
    });
}

if (patches.has('market-readback-prisma') && process.argv[1]?.endsWith(join('market', 'dist', 'main.js'))) {
  // without HotSql.readListing the market reads the purchased row (and GetListing its row) through Prisma, as before
  const hotSql = require(join(ROOT, 'services/market/dist/hot-sql.js'));
  const original = hotSql.driverHotSql;
  hotSql.driverHotSql = (pool) => {
    const { readListing: _dropped, ...rest } = original(pool);
    return rest;
  };
}

if (patches.has('session-get-pexpire') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // GETEX (read and renew in one command) replaced by what the gateway sent before: a GET, then a
  // PEXPIRE of the same TTL (when the response was written; the cost is the same round trip)
  const ioredis = require(require.resolve('ioredis', { paths: [join(ROOT, 'services', 'common')] }));
  for (const C of [ioredis.Redis, ioredis.Cluster]) {
    C.prototype.getex = async function getex(key, _px, ms) {
      const v = await this.get(key);
      if (v !== null) await this.pexpire(key, ms);
      return v;
    };
  }
}

if (patches.has('pino-redact')) {
  // the parts' logger as it was before issue 16's own redaction: pino's `redact` option over the
  // same REDACT_PATHS (its wildcard paths run over every key of every line)
  const logger = require(join(ROOT, 'services/common/dist/logger.js'));
  const pino = require(require.resolve('pino', { paths: [join(ROOT, 'services', 'common')] }));
  logger.createLogger = (name, level = 'info', destination) =>
    pino(
      {
        name,
        level,
        redact: { paths: logger.REDACT_PATHS, censor: '[redacted]' },
        base: { part: name },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination,
    );
}

if (patches.has('replay-always') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // the gateway before call claims (lib/call-claims.ts): every Achat and every keyed Vente first
  // asks the market whether it is already done (GetListing, FindSale), as if every key had been
  // claimed before
  const claims = require(join(ROOT, 'gateway/dist/lib/call-claims.js'));
  claims.callClaims = () => ({
    begin: async () => ({ state: 'settled', waited: false }),
    settle: async () => undefined,
    release: async () => undefined,
  });
}

if (patches.has('mail-nodemailer') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // the outbox sender before lib/mime.ts: nodemailer composes each mail (streamTransport), then
  // the .eml file is written as now
  const { mkdirSync, writeFileSync } = require('node:fs');
  const { randomBytes } = require('node:crypto');
  const nodemailer = require(require.resolve('nodemailer', { paths: [join(ROOT, 'gateway')] }));
  const mailer = require(join(ROOT, 'gateway/dist/lib/mailer.js'));
  mailer.createSender = (cfg) => {
    const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    mkdirSync(cfg.MAIL_OUTBOX_DIR, { recursive: true, mode: 0o700 });
    return async (mail) => {
      const info = await composer.sendMail({ from: cfg.MAIL_FROM, ...mail });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
      writeFileSync(join(cfg.MAIL_OUTBOX_DIR, name), info.message, { mode: 0o600, flag: 'wx' });
    };
  };
}

if (patches.has('market-in-process') && process.argv[1]?.endsWith(join('gateway', 'dist', 'main.js'))) {
  // the gateway runs the market's handlers itself (the market's own classes, pools and SQL, the
  // database at DATABASE_URL) instead of calling the market over gRPC: what the market's hop costs,
  // the upper bound of any cheaper transport to it (never a proposal to merge the two)
  const clients = require(join(ROOT, 'gateway/dist/clients.js'));
  const { marketHandlers } = require(join(ROOT, 'services/market/dist/server.js'));
  const { Market } = require(join(ROOT, 'services/market/dist/market.js'));
  const { createMarketPrisma, marketGate } = require(join(ROOT, 'services/market/dist/database.js'));
  const { driverHotSql } = require(join(ROOT, 'services/market/dist/hot-sql.js'));
  const { createDriverPool } = require(join(ROOT, 'prisma/dist/client.js'));
  const { DomainError } = require(join(ROOT, 'services/common/dist/index.js'));
  const url = process.env.DATABASE_URL;
  const db = createMarketPrisma(url, 5);
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => quiet };
  const handlers = marketHandlers(
    new Market(db, { log: quiet, gate: marketGate(db, quiet), hot: driverHotSql(createDriverPool(url, { connectionLimit: 5 })) }),
  );
  const asGrpc = (err) =>
    err instanceof DomainError ? Object.assign(new Error(err.message), { code: err.code, details: err.message }) : err;
  const original = clients.createClients;
  clients.createClients = (cfg) => {
    const c = original(cfg);
    const market = {};
    for (const name of Object.keys(handlers)) market[name] = (req) => handlers[name](req).catch((err) => Promise.reject(asGrpc(err)));
    return { ...c, market };
  };
}

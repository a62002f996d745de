// The test harness: the four real services started in-process on port 0 with a database and
// Redis dbs of this test file's own, and gateways (createApp) served on port 0 in front of
// them. Each gateway may get its own configuration or clients (e.g. a dead limiter address).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, waitReady, type RedisClient } from '@etu/common';
import { createPrismaClient, Role } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { claimRedisDbs, freePort, testLogger, TEST_TOKEN, type ClaimedRedisDbs } from '@etu/testkit';
import { Accounts, startAuthServer } from '@etu/auth';
import { startMarketServer } from '@etu/market';
import { startLimiterServer } from '@etu/limiter';
import { startStatsServer } from '@etu/stats';
import { createApp, type GatewayApp } from '../src/app';
import { createClients, type Clients, type ClientsConfig } from '../src/clients';
import { loadConfig } from '../src/config';
import { Metrics } from '../src/lib/metrics';

export const SESSION_KEY = 'test-session-key-0123456789abcdef';

export interface Gateway {
  app: GatewayApp;
  server: Server;
  clients: Clients;
  metrics: Metrics;
  logLines: string[];
}

export interface System {
  db: TestDatabase;
  redis: ClaimedRedisDbs;
  /** Redis db of the sessions (the third claimed db, or the Redis Cluster given). */
  sessionRedis: RedisClient;
  statsRedisUrl: string;
  limiterRedisUrl: string;
  addrs: ClientsConfig;
  /** This system's mail outbox (MAIL_OUTBOX_DIR of its gateways unless told otherwise). */
  outbox: string;
  /** The mails in the outbox, oldest first, as text (once every gateway's queue is idle). */
  mails(): Promise<string[]>;
  /** A gateway in front of the services; `env` is gateway configuration, `addrs` overrides addresses. */
  gateway(env?: Record<string, string>, addrs?: Partial<ClientsConfig>, sessionRedis?: RedisClient): Promise<Gateway>;
  /** Creates an account directly (an admin when asked), as the seed does. */
  createUser(u: { firstName: string; lastName: string; email: string; password: string; admin?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function deadAddr(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/**
 * `redisUrl`: every Redis store (limiter, stats, sessions) on that one Redis instead of three
 * claimed databases — a Redis Cluster (redis+cluster://…) in the cluster tests.
 */
export async function startSystem(opts: { policies?: string; redisUrl?: string } = {}): Promise<System> {
  const log = testLogger();
  const [db, redis] = await Promise.all([
    createTestDatabase(),
    opts.redisUrl ? { urls: [opts.redisUrl, opts.redisUrl, opts.redisUrl], dbs: [], release: () => Promise.resolve() } : claimRedisDbs(3),
  ]);
  const [limiterRedisUrl, statsRedisUrl, sessionRedisUrl] = redis.urls as [string, string, string];
  const common = { addr: '127.0.0.1:0', log, token: TEST_TOKEN };
  const [auth, market, limiter, stats] = await Promise.all([
    startAuthServer({ ...common, databaseUrl: db.url }),
    startMarketServer({ ...common, databaseUrl: db.url }),
    startLimiterServer({ ...common, redisUrl: limiterRedisUrl, policies: opts.policies }),
    startStatsServer({ ...common, redisUrl: statsRedisUrl }),
  ]);
  const addrs: ClientsConfig = {
    AUTH_ADDR: `127.0.0.1:${auth.port}`,
    MARKET_ADDR: `127.0.0.1:${market.port}`,
    LIMITER_ADDR: `127.0.0.1:${limiter.port}`,
    STATS_ADDR: `127.0.0.1:${stats.port}`,
    INTERNAL_TOKEN: TEST_TOKEN,
    GRPC_TIMEOUT_MS: 3000,
  };
  const sessionRedis = createRedis(sessionRedisUrl, { name: 'gateway-sessions', commandTimeoutMs: 2000, connectTimeoutMs: 2000 });
  await waitReady(sessionRedis, 10_000);
  const gateways: Gateway[] = [];
  const outbox = mkdtempSync(join(tmpdir(), 'etu-outbox-'));
  const prisma = createPrismaClient(db.url);
  const accounts = new Accounts(prisma, log);

  return {
    db,
    redis,
    sessionRedis,
    statsRedisUrl,
    limiterRedisUrl,
    addrs,
    outbox,
    async mails() {
      await Promise.all(gateways.map((g) => g.app.mail.idle()));
      return readdirSync(outbox)
        .filter((f) => f.endsWith('.eml'))
        .sort()
        .map((f) => readFileSync(join(outbox, f), 'utf8'));
    },
    async gateway(env = {}, over = {}, ownSessionRedis) {
      const config = loadConfig({
        INTERNAL_TOKEN: TEST_TOKEN,
        SESSION_KEYS: SESSION_KEY,
        TRUST_PROXY: '1',
        MAIL_OUTBOX_DIR: outbox,
        ...env,
      });
      const metrics = new Metrics({ defaultMetrics: false });
      const clients = createClients({ ...addrs, ...over }, metrics.part);
      const logLines: string[] = [];
      const app = createApp({ config, clients, sessionRedis: ownSessionRedis ?? sessionRedis, log: testLogger(logLines), metrics });
      const handle = app.callback();
      const server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const g = { app, server, clients, metrics, logLines };
      gateways.push(g);
      return g;
    },
    async createUser(u) {
      const a = await accounts.register(
        { firstName: u.firstName, lastName: u.lastName, email: u.email, password: u.password },
        { role: u.admin ? Role.ADMIN : Role.STUDENT },
      );
      return a.id;
    },
    async close() {
      for (const g of gateways) {
        await new Promise((r) => g.server.close(r));
        await g.app.flushPending();
        g.app.mail.stop();
        await g.app.mail.idle();
        g.clients.close();
      }
      await Promise.all([auth.close(), market.close(), limiter.close(), stats.close()]);
      await prisma.$disconnect();
      sessionRedis.disconnect();
      await Promise.all([db.drop(), redis.release()]);
      rmSync(outbox, { recursive: true, force: true });
    },
  };
}

/**
 * jest hooks for a file whose gateway stores photos: the system and one gateway with a photos
 * folder of the file's own (PHOTOS_DIR), started before its tests, closed after them, the folder
 * removed; `ready` gets them once they are up.
 */
export function usePhotosGateway(prefix: string, ready: (s: { sys: System; gw: Gateway; dir: string }) => void): void {
  let sys: System | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    sys = await startSystem();
    ready({ sys, gw: await sys.gateway({ PHOTOS_DIR: dir }), dir });
  });
  afterAll(async () => {
    await sys?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

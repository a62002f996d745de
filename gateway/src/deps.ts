// What the app is built from (AppDeps, given by main.ts or a test) and what flows, pages and
// routers receive (Wiring). Types only.
import type { Logger, RedisClient } from '@etu/common';
import type { Clients } from './clients';
import type { GatewayConfig } from './config';
import type { Metrics } from './lib/metrics';
import type { SessionStoreProbe } from './middleware/session';
import type { Views } from './lib/views';
import type { MailQueue, SendMail } from './lib/mailer';
import type { UsersSource } from './lib/user-lookup';
import type { CallClaims } from './lib/call-claims';
import type { DenialTally } from './flows/denials';
import type { StatsBatch } from './flows/stats-batch';
import type { Quota } from './quota';
import type { PhotoStore } from '@etu/common/photos';

/** The configuration the app reads (loadConfig's output satisfies it). */
export type AppConfig = Pick<
  GatewayConfig,
  | 'NODE_ENV'
  | 'LIMITER_FAIL_MODE'
  | 'TRUST_PROXY'
  | 'COOKIE_SECURE'
  | 'SESSION_KEYS'
  | 'SESSION_IDLE_MS'
  | 'SESSION_ABSOLUTE_MS'
  | 'GRPC_TIMEOUT_MS'
  | 'STATS_TIMEOUT_MS'
  | 'REFUSAL_CACHE_SIZE'
  | 'STATS_DENIAL_FLUSH_MS'
  | 'STATS_BATCH'
  | 'BODY_LIMIT_BYTES'
  | 'DISPLAY_TIME_ZONE'
  | 'INTERNAL_TOKEN'
  | 'PUBLIC_ORIGIN'
  | 'SMTP_URL'
  | 'MAIL_FROM'
  | 'MAIL_OUTBOX_DIR'
  | 'MAIL_QUEUE_SIZE'
  | 'MAIL_TIMEOUT_MS'
  | 'MAIL_RETRY_MS'
  | 'PHOTOS_DIR'
>;

export interface AppDeps {
  config: AppConfig;
  clients: Clients;
  /** Redis connection of the session store (db 2). */
  sessionRedis: RedisClient;
  log: Logger;
  metrics?: Metrics;
  /** How mails are sent (tests: a failing or slow sender); default SMTP_URL or the outbox. */
  sendMail?: SendMail;
}

/** What flows, pages and routers use. The limiter is reached through `quota` only. */
export interface Wiring {
  config: AppConfig;
  clients: Omit<Clients, 'limiter'>;
  sessionRedis: RedisClient;
  /** Whether the session store answers, for visitors' pages that do not touch it. */
  sessionStore: SessionStoreProbe;
  metrics: Metrics;
  views: Views;
  quota: Quota;
  /** E-mails, sent after the answer (lib/mailer.ts). */
  mail: MailQueue;
  /** Refusals answered from the refusal cache, on their way to the statistics. */
  denials: DenialTally;
  /** Vente/Achat records on their way to the statistics; undefined with STATS_BATCH=off. */
  statsBatch: StatsBatch | undefined;
  /** The listings' photo files (PHOTOS_DIR). */
  photos: PhotoStore;
  /** auth's GetUsers, the calls of one turn of the event loop sent as one (lib/user-lookup.ts). */
  users: UsersSource;
  /** Which Vente/Achat keys were already used, and whose call is still in flight: only those ask the market for a replay (lib/call-claims.ts). */
  claims: CallClaims;
}

// Gateway configuration: parsed once at start (zod through @etu/common's parseConfig). A bad
// value stops the process with a message naming the variable; secrets are never echoed.
import { join } from 'node:path';
import { DEFAULT_BATCH_STREAM, DEFAULT_BATCH_WINDOW } from '@etu/limiter';
import { photosDirVar } from '@etu/common/photos';
import { localAddress, localStore, ConfigError, parseConfig, REPO_ROOT, requireSecret, vars, z, type Env } from '@etu/common';

/** An optional URL variable that `ok` accepts once parsed. */
function optionalUrl(ok: (u: URL) => boolean, message: string) {
  return z
    .string()
    .optional()
    .refine((v) => {
      if (v === undefined) return true;
      try {
        return ok(new URL(v));
      } catch {
        return false;
      }
    }, message);
}

export const configShape = {
  NODE_ENV: vars.nodeEnv(),
  LOG_LEVEL: vars.logLevel(),
  /** HTTP port of the gateway (0 = any free port). */
  /** Port of the /metrics listener (same HOST; never the public port); `off` = no metrics. */
  METRICS_PORT: vars.metricsPort('gateway'),
  /** OTLP/HTTP endpoint of the traces; unset = traces off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: vars.otlpEndpoint(),
  PORT: vars.port(3000),
  /** Interface to listen on; 127.0.0.1 for a local run, 0.0.0.0 in a container. */
  HOST: z.string().min(1).default('127.0.0.1'),
  AUTH_ADDR: vars.addr(localAddress('auth')),
  MARKET_ADDR: vars.addr(localAddress('market')),
  LIMITER_ADDR: vars.addr(localAddress('limiter')),
  STATS_ADDR: vars.addr(localAddress('stats')),
  SESSION_REDIS_URL: vars.redisUrl(localStore('SESSION_REDIS_URL')),
  INTERNAL_TOKEN: z.string().optional(),
  /** Comma-separated keys signing the session cookie; the first signs, all verify (rotation). */
  SESSION_KEYS: z.string().optional(),
  /** What to do when the limiter cannot answer: refuse (503, default) or admit. */
  LIMITER_FAIL_MODE: z.enum(['closed', 'open'], { error: 'expected closed or open' }).default('closed'),
  /**
   * Limiter batches the gateway keeps in flight at once (1-64, default 4): above 1, the batches
   * overlap, so the gateway, the limiter and Redis work at the same time (docs/operations.md).
   */
  LIMITER_BATCH_WINDOW: z.coerce
    .number({ error: 'expected a whole number from 1 to 64' })
    .int('expected a whole number from 1 to 64')
    .min(1, 'expected a whole number from 1 to 64')
    .max(64, 'expected a whole number from 1 to 64')
    .default(DEFAULT_BATCH_WINDOW),
  /**
   * The limiter batches travel over one long-lived ConsumeStream (true, the default) or as one
   * ConsumeBatch RPC each (false): docs/operations.md.
   */
  LIMITER_BATCH_STREAM: vars.bool(DEFAULT_BATCH_STREAM),
  /**
   * Whether X-Forwarded-For / X-Forwarded-Proto come from a proxy we trust: false (default:
   * the socket's address), true (one proxy in front), or the number of proxies in front.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine((v) => /^(?:true|false|\d{1,2})$/.test(v), 'expected true, false or a number of proxies (e.g. 1)')
    .transform((v): number => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v))),
  /**
   * Secure cookies (with the __Host- prefix): auto (when the request came over TLS, directly or
   * through a trusted proxy), true (always; the site is only served over HTTPS), false (never).
   */
  COOKIE_SECURE: z.enum(['auto', 'true', 'false'], { error: 'expected auto, true or false' }).default('auto'),
  /** Session idle timeout (default 30 min) and absolute lifetime (default 12 h). */
  SESSION_IDLE_MS: vars.millis(30 * 60_000),
  SESSION_ABSOLUTE_MS: vars.millis(12 * 3600_000),
  /** Deadline of each gRPC call. */
  GRPC_TIMEOUT_MS: vars.millis(2000),
  /** Deadline of best-effort stats recordings (the user's action never waits longer). */
  STATS_TIMEOUT_MS: vars.millis(500),
  /**
   * Subjects the refusal cache remembers as "over quota until t" (docs/architecture.md, "Refused
   * calls cost almost nothing"); about 200 bytes each; 0 turns it off.
   */
  REFUSAL_CACHE_SIZE: z.coerce.number({ error: 'expected a number of entries' }).int().min(0).max(1_000_000).default(10_000),
  /** Longest a refusal answered from that cache waits before it is sent to the statistics, summed. */
  STATS_DENIAL_FLUSH_MS: vars.millis(5000),
  /**
   * Vente/Achat statistics queued and sent in batches off the response path (flows/stats-batch.ts,
   * `on`), or one RecordServiceCall awaited before answering (`off`, the bench's A/B).
   */
  STATS_BATCH: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  /** Largest accepted form or JSON body. */
  BODY_LIMIT_BYTES: z.coerce
    .number({ error: 'expected a number of bytes' })
    .int()
    .min(1024)
    .max(1_048_576)
    .default(16 * 1024),
  /** Time zone used to show dates. */
  DISPLAY_TIME_ZONE: z
    .string()
    .default('Europe/Paris')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('fr-FR', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'expected an IANA time zone such as Europe/Paris'),
  SHUTDOWN_GRACE_MS: vars.millis(10_000),
  /**
   * The site's address as its users reach it (scheme, host, port, no path), for the links in
   * e-mails. Never taken from the request's Host header, which a client chooses (a reset link
   * pointing at another site would hand it the token). Default: http://HOST:PORT.
   */
  PUBLIC_ORIGIN: optionalUrl(
    (u) => ['http:', 'https:'].includes(u.protocol) && (u.pathname === '/' || u.pathname === '') && !u.search && !u.username,
    'expected the site origin, e.g. https://etuservices.example',
  ),
  /**
   * SMTP server of the e-mails, e.g. smtps://user:password@smtp.example:465 (a secret: give it as
   * SMTP_URL_FILE in production). Unset: mails are written into MAIL_OUTBOX_DIR instead.
   */
  SMTP_URL: optionalUrl((u) => ['smtp:', 'smtps:'].includes(u.protocol), 'expected smtp://host:port or smtps://user:password@host:465'),
  /** Sender of the e-mails. */
  MAIL_FROM: z
    .string()
    .default('EtuServices <ne-pas-repondre@etuservices.example>')
    .refine((v) => v.length <= 200 && !/[\r\n]/.test(v), 'expected one address, e.g. EtuServices <ne-pas-repondre@example.org>'),
  /** Folder the mails are written to when SMTP_URL is unset (local runs, tests): one .eml file each. */
  MAIL_OUTBOX_DIR: z.string().min(1).default(join(REPO_ROOT, 'outbox')),
  /** Mails that may wait to be sent; one more is dropped (logged). */
  MAIL_QUEUE_SIZE: z.coerce.number({ error: 'expected a number of mails' }).int().min(1).max(100_000).default(1000),
  /** Bound on each step of an SMTP exchange (connect, greeting, any socket silence). */
  MAIL_TIMEOUT_MS: vars.millis(10_000),
  /** A mail that could not be sent is tried once more this long after; 0: never. */
  MAIL_RETRY_MS: z.coerce.number({ error: 'expected a number of milliseconds' }).int().min(0).max(86_400_000).default(60_000),
  /** Days the outbox keeps its .eml files: older ones are deleted when the gateway starts; 0: kept forever. */
  MAIL_OUTBOX_KEEP_DAYS: z.coerce.number({ error: 'expected a number of days' }).int().min(0).max(3650).default(14),
  /** Folder of the listings' photos (written by the sale form, served at /photos/), writable by the gateway. */
  PHOTOS_DIR: photosDirVar(),
};

type Parsed = z.output<z.ZodObject<typeof configShape>>;

export interface GatewayConfig extends Omit<Parsed, 'INTERNAL_TOKEN' | 'SESSION_KEYS' | 'PUBLIC_ORIGIN'> {
  INTERNAL_TOKEN: string;
  SESSION_KEYS: string[];
  /** Without a trailing slash. */
  PUBLIC_ORIGIN: string;
}

/** Parses and validates the gateway's environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const c = parseConfig(configShape, env);
  const keys = requireSecret('SESSION_KEYS', c.SESSION_KEYS, c.NODE_ENV)
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.some((k) => k.length < 16)) throw new ConfigError(['SESSION_KEYS: every key must be at least 16 characters']);
  const publicUrl = (c.PUBLIC_ORIGIN ?? `http://${c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST}:${c.PORT}`).replace(/\/$/, '');
  return {
    ...c,
    INTERNAL_TOKEN: requireSecret('INTERNAL_TOKEN', c.INTERNAL_TOKEN, c.NODE_ENV),
    SESSION_KEYS: keys,
    PUBLIC_ORIGIN: publicUrl,
  };
}

// Configuration of the auth service and of its seed, parsed once at start (see @etu/common).
// zod is not a declared dependency of this package: schemas use @etu/common's builders and its z.
import { localAddress, baseServiceShape, parseConfig, vars, z, type Env } from '@etu/common';

/** An optional string variable (same schema as the base shape's optional secret). */
const optionalString = () => baseServiceShape().INTERNAL_TOKEN;

/** A whole number variable of at least `min`. */
const count = (fallback: number, min = 1) =>
  z.coerce.number({ error: 'expected a whole number' }).int().min(min).max(1000).default(fallback);

/** Variables read by the auth server (main.ts). */
export const configShape = {
  ...baseServiceShape(),
  AUTH_ADDR: vars.addr(localAddress('auth')),
  METRICS_PORT: vars.metricsPort('auth'),
  DATABASE_URL: vars.databaseUrl(),
  /** How often health re-checks the database with `SELECT 1`. */
  HEALTH_INTERVAL_MS: vars.millis(1000),
  /** How long a query waits for a pooled connection before failing with UNAVAILABLE. */
  DB_ACQUIRE_TIMEOUT_MS: vars.millis(1000),
  /** How long opening one database connection may take. */
  DB_CONNECT_TIMEOUT_MS: vars.millis(1000),
  /** Password hashes (argon2id) computed at once; more wait in the queue below. */
  AUTH_HASH_CONCURRENCY: count(4),
  /** Most hashes that may wait for a slot (a memory bound); the next one gets RESOURCE_EXHAUSTED at once. */
  AUTH_HASH_QUEUE: count(256, 0),
  /** Longest expected wait for a hashing slot (never past the caller's deadline either); longer: RESOURCE_EXHAUSTED at once. */
  AUTH_HASH_MAX_WAIT_MS: vars.millis(5000),
};

export function loadConfig(env: Env = process.env) {
  return parseConfig(configShape, env);
}

export type AuthConfig = ReturnType<typeof loadConfig>;

/** Variables read by the seed (`make seed`): the database and the optional admin account. */
export const seedConfigShape = {
  NODE_ENV: vars.nodeEnv(),
  DATABASE_URL: vars.databaseUrl(),
  /** Email of the ADMIN account (default admin@etuservices.example). */
  ADMIN_EMAIL: optionalString(),
  /** Its password (default: generated once and kept in .secrets/demo-accounts.json). */
  ADMIN_PASSWORD: optionalString(),
};

export function loadSeedConfig(env: Env = process.env) {
  return parseConfig(seedConfigShape, env);
}

export type SeedConfig = ReturnType<typeof loadSeedConfig>;

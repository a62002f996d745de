// Configuration: parsed once at start with zod into a typed object. A missing or malformed
// variable stops the process with a message naming it and saying what is expected; values are
// never echoed (they may be secrets). The rest of the code never reads process.env.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { localStore, partInfo } from './parts';
import { parseRedisUrl } from './redis';
import { resolveSecret } from './secrets';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export type Env = Record<string, string | undefined>;

const HOST_PORT = /^(?:\[[0-9a-f:.]+\]|[A-Z0-9.-]+):(\d{1,5})$/i;

/** Variable builders shared by every part, each with its default for a local run. */
export const vars = {
  /** A gRPC address `host:port`. */
  addr: (def: string) =>
    z
      .string()
      .default(def)
      .refine((v) => {
        const m = HOST_PORT.exec(v);
        return !!m && Number(m[1]) <= 65535;
      }, 'expected host:port, e.g. 127.0.0.1:50051'),
  /** A TCP port, 0-65535 (0 = any free port). */
  port: (def: number) => z.coerce.number({ error: 'expected a port number 0-65535' }).int().min(0).max(65535).default(def),
  /** A URL with one of the given schemes. */
  url: (def: string, schemes: string[], example: string) =>
    z
      .string()
      .default(def)
      .refine((v) => {
        try {
          return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      }, `expected a URL like ${example}`),
  /**
   * METRICS_PORT of a part: where its /metrics listener binds (0 = any free port), `off` for no
   * metrics at all; the default comes from parts.json. Parsed to a port or null (off).
   */
  metricsPort: (part: string) =>
    z
      .string()
      .default(String(partInfo(part).metricsPort))
      .refine((v) => v === 'off' || (/^\d{1,5}$/.test(v) && Number(v) <= 65535), 'expected a port number 0-65535 or off')
      .transform((v): number | null => (v === 'off' ? null : Number(v))),
  /** OTEL_EXPORTER_OTLP_ENDPOINT: traces are sent there (OTLP/HTTP) when set, and off otherwise. */
  otlpEndpoint: () =>
    z
      .string()
      .optional()
      .refine((v) => {
        if (v === undefined) return true;
        try {
          return ['http:', 'https:'].includes(new URL(v).protocol);
        } catch {
          return false;
        }
      }, 'expected an http(s) URL like http://otel-collector:4318'),
  /**
   * A Redis URL: one Redis (redis://, rediss://) or a Redis Cluster (redis+cluster://h1:p1,h2:p2,
   * rediss+cluster://), checked with parseRedisUrl (redis.ts), the one parser createRedis uses.
   */
  redisUrl: (def: string) =>
    z
      .string()
      .default(def)
      .superRefine((v, ctx) => {
        try {
          parseRedisUrl(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
  databaseUrl: () => vars.url(localStore('DATABASE_URL'), ['mysql', 'mariadb'], 'mysql://user:password@127.0.0.1:3306/etuservices'),
  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  nodeEnv: () =>
    z.enum(['development', 'production', 'test'], { error: 'expected development, production or test' }).default('development'),
  /** A positive integer of milliseconds. */
  millis: (def: number) => z.coerce.number({ error: 'expected a number of milliseconds' }).int().positive().default(def),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};

/** Formats zod issues as "VAR: what is expected". */
function describe(issues: z.core.$ZodIssue[], input: Record<string, string | undefined>): string[] {
  return issues.map((i) => {
    const name = i.path.join('.') || '(config)';
    if (i.code === 'invalid_type' && input[name] === undefined) return `${name}: is required`;
    return `${name}: ${i.message}`;
  });
}

/**
 * The value of `key`, or else the content of the file named by `<key>_FILE` (compose and
 * Kubernetes secrets), one trailing newline dropped. Both set is an error: which one wins would
 * be a guess.
 */
function valueOrFile(env: Env, key: string): string | undefined {
  const value = env[key] === '' ? undefined : env[key];
  const file = env[`${key}_FILE`] === '' ? undefined : env[`${key}_FILE`];
  if (file === undefined) return value;
  if (value !== undefined) throw new Error(`${key}: set either ${key} or ${key}_FILE, not both`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '') || undefined;
  } catch (err) {
    throw new Error(`${key}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/**
 * Parses the environment against a zod shape whose keys are variable names; each may instead
 * be given as `<NAME>_FILE`, a file holding the value. Throws a ConfigError naming every bad variable.
 */
export function parseConfig<S extends z.ZodRawShape>(shape: S, env: Env = process.env): z.output<z.ZodObject<S>> {
  const input: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const key of Object.keys(shape)) {
    try {
      input[key] = valueOrFile(env, key);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const res = z.object(shape).safeParse(input);
  if (!res.success) throw new ConfigError(describe(res.error.issues, input));
  return res.data;
}

/** The variables every gRPC service reads (each adds its own `<SVC>_ADDR` and stores). */
export function baseServiceShape() {
  return {
    NODE_ENV: vars.nodeEnv(),
    LOG_LEVEL: vars.logLevel(),
    INTERNAL_TOKEN: z.string().optional(),
    SHUTDOWN_GRACE_MS: vars.millis(10_000),
    OTEL_EXPORTER_OTLP_ENDPOINT: vars.otlpEndpoint(),
  };
}

/**
 * Resolves a secret that must exist: taken from the environment when set; in production a
 * missing secret is a configuration error; otherwise generated once into a git-ignored file.
 */
export function requireSecret(name: string, value: string | undefined, nodeEnv: string, minLength = 16): string {
  if (value !== undefined && value !== '') {
    if (value.length < minLength) throw new ConfigError([`${name}: must be at least ${minLength} characters`]);
    return value;
  }
  if (nodeEnv === 'production') throw new ConfigError([`${name}: is required when NODE_ENV=production`]);
  return resolveSecret(name);
}

/**
 * Runs a config loader; on a ConfigError prints the message and exits with status 1
 * (Online Boutique's mustMapEnv, for every variable at once).
 */
export function loadOrExit<T>(part: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${part}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

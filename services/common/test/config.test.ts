// Configuration parsing: every bad or missing variable is named, values are never echoed, and
// secrets follow the local/production rules.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, ensureLocalSecrets, parseConfig, requireSecret, vars } from '@etu/common';

const shape = {
  AUTH_ADDR: vars.addr('127.0.0.1:50051'),
  PORT: vars.port(3000),
  DATABASE_URL: vars.databaseUrl(),
  LIMITER_REDIS_URL: vars.redisUrl('redis://127.0.0.1:6379/0'),
  LOG_LEVEL: vars.logLevel(),
  TRUST_PROXY: vars.bool(false),
  NEEDED: z.string({ error: 'is required' }),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(shape, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

test('defaults serve a local run', () => {
  const cfg = parseConfig(shape, { NEEDED: 'x' });
  expect(cfg).toEqual({
    AUTH_ADDR: '127.0.0.1:50051',
    PORT: 3000,
    DATABASE_URL: 'mysql://root@127.0.0.1:3306/etuservices',
    LIMITER_REDIS_URL: 'redis://127.0.0.1:6379/0',
    LOG_LEVEL: 'info',
    TRUST_PROXY: false,
    NEEDED: 'x',
  });
  expect(parseConfig(shape, { NEEDED: 'x', PORT: '8080', TRUST_PROXY: 'true', AUTH_ADDR: 'auth:50051' })).toMatchObject({
    PORT: 8080,
    TRUST_PROXY: true,
    AUTH_ADDR: 'auth:50051',
  });
});

test('a Redis Cluster is named in the same variable', () => {
  expect(parseConfig(shape, { NEEDED: 'x', LIMITER_REDIS_URL: 'rediss+cluster://u:p@h1:7000,h2:7001' }).LIMITER_REDIS_URL).toBe(
    'rediss+cluster://u:p@h1:7000,h2:7001',
  );
});

test('a missing required variable is named', () => {
  expect(problemsOf({})).toEqual(['NEEDED: is required']);
});

test.each([
  ['AUTH_ADDR', 'localhost', /AUTH_ADDR: expected host:port/],
  ['AUTH_ADDR', '127.0.0.1:99999', /AUTH_ADDR: expected host:port/],
  ['PORT', 'eighty', /PORT: expected a port number/],
  ['PORT', '70000', /PORT:/],
  ['DATABASE_URL', 'postgres://x@y/z', /DATABASE_URL: expected a URL like mysql:\/\//],
  ['LIMITER_REDIS_URL', 'not a url', /LIMITER_REDIS_URL: expected a URL like redis:\/\//],
  ['LIMITER_REDIS_URL', 'redis+cluster://:pw-secret@h1:7000/1', /LIMITER_REDIS_URL: Redis Cluster has only database 0/],
  ['LIMITER_REDIS_URL', 'redis+cluster://h1:7000,nope', /LIMITER_REDIS_URL: expected redis\+cluster:\/\/host:port/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of/],
  ['TRUST_PROXY', 'maybe', /TRUST_PROXY: expected true or false/],
])('%s=%s is rejected with a message naming it', (name, value, re) => {
  const problems = problemsOf({ NEEDED: 'x', [name]: value });
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(re);
  expect(problems[0]).not.toContain(value); // values may be secrets: never echoed
});

test('every bad variable is reported at once', () => {
  const problems = problemsOf({ PORT: 'x', AUTH_ADDR: 'y' });
  expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['AUTH_ADDR', 'NEEDED', 'PORT']);
});

describe('<NAME>_FILE (compose secrets)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etu-config-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a variable can be given as a file, one trailing newline dropped', () => {
    const file = join(dir, 'database_url');
    writeFileSync(file, 'mysql://etu:s3cret@mariadb:3306/etuservices\n');
    const cfg = parseConfig(shape, { NEEDED_FILE: file, DATABASE_URL_FILE: file });
    expect(cfg.DATABASE_URL).toBe('mysql://etu:s3cret@mariadb:3306/etuservices');
    expect(cfg.NEEDED).toBe('mysql://etu:s3cret@mariadb:3306/etuservices');
  });

  test('the file content is validated like the variable', () => {
    const file = join(dir, 'bad_url');
    writeFileSync(file, 'not a url');
    expect(problemsOf({ NEEDED: 'x', DATABASE_URL_FILE: file })).toEqual([expect.stringMatching(/^DATABASE_URL: expected a URL/)]);
  });

  test('an unreadable file and a variable set twice are named, the value never echoed', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'do-not-print-me');
    const problems = problemsOf({ NEEDED: 'x', NEEDED_FILE: file, PORT_FILE: join(dir, 'missing') });
    expect(problems).toEqual([
      `PORT_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`,
      'NEEDED: set either NEEDED or NEEDED_FILE, not both',
    ]);
    expect(problems.join('\n')).not.toContain('do-not-print-me');
  });
});

describe('secrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etu-secrets-'));
    process.env.ETU_SECRETS_FILE = join(dir, 'local.env');
  });
  afterEach(() => {
    delete process.env.ETU_SECRETS_FILE;
    rmSync(dir, { recursive: true, force: true });
  });

  test('production refuses a missing secret', () => {
    expect(() => requireSecret('INTERNAL_TOKEN', undefined, 'production')).toThrow(/INTERNAL_TOKEN: is required when NODE_ENV=production/);
  });

  test('a secret from the environment is used as is, and a short one is refused without echoing it', () => {
    expect(requireSecret('INTERNAL_TOKEN', 'a'.repeat(32), 'production')).toBe('a'.repeat(32));
    expect(() => requireSecret('INTERNAL_TOKEN', 'short', 'production')).toThrow(/INTERNAL_TOKEN: must be at least 16 characters/);
  });

  test('a local run generates the secrets once, privately, and every part reads the same ones', () => {
    const a = requireSecret('INTERNAL_TOKEN', undefined, 'development');
    const b = requireSecret('INTERNAL_TOKEN', undefined, 'development');
    const keys = requireSecret('SESSION_KEYS', undefined, 'development');
    expect(a).toBe(b);
    expect(a).toMatch(/^[\w-]{43}$/); // 256 bits, base64url
    expect(keys).not.toBe(a);
    expect(statSync(process.env.ETU_SECRETS_FILE!).mode & 0o777).toBe(0o600);
    expect(ensureLocalSecrets()).toEqual({ INTERNAL_TOKEN: a, SESSION_KEYS: keys });
    expect(readFileSync(process.env.ETU_SECRETS_FILE!, 'utf8')).toContain(`INTERNAL_TOKEN=${a}`);
  });
});

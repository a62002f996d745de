// Every part's real entry point (dist/main.js, built by `make test` before jest) refuses a bad
// or missing variable: it exits non-zero at once with a message naming the variable.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const token = 'x'.repeat(32);

const cases: Array<[part: string, env: Record<string, string>, variable: string]> = [
  ['services/auth', { AUTH_ADDR: 'nope' }, 'AUTH_ADDR'],
  ['services/auth', { DATABASE_URL: 'postgres://u@h/db' }, 'DATABASE_URL'],
  ['services/auth', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ['services/auth', { NODE_ENV: 'production', INTERNAL_TOKEN: '' }, 'INTERNAL_TOKEN'],
  ['services/market', { MARKET_ADDR: '127.0.0.1:abc' }, 'MARKET_ADDR'],
  ['services/market', { DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
  ['services/market', { NODE_ENV: 'production', INTERNAL_TOKEN: '' }, 'INTERNAL_TOKEN'],
  ['services/limiter', { LIMITER_ADDR: 'nope' }, 'LIMITER_ADDR'],
  ['services/limiter', { LIMITER_REDIS_URL: 'http://x' }, 'LIMITER_REDIS_URL'],
  ['services/limiter', { LIMIT_POLICIES: 'login=ten/10m' }, 'LIMIT_POLICIES'],
  ['services/limiter', { NODE_ENV: 'production', INTERNAL_TOKEN: '' }, 'INTERNAL_TOKEN'],
  ['services/stats', { STATS_ADDR: 'nope' }, 'STATS_ADDR'],
  ['services/stats', { STATS_REDIS_URL: 'mysql://x' }, 'STATS_REDIS_URL'],
  ['services/stats', { NODE_ENV: 'production', INTERNAL_TOKEN: '' }, 'INTERNAL_TOKEN'],
  ['gateway', { PORT: 'eighty' }, 'PORT'],
  ['gateway', { AUTH_ADDR: 'nope' }, 'AUTH_ADDR'],
  ['gateway', { LIMITER_ADDR: 'nope' }, 'LIMITER_ADDR'],
  ['gateway', { SESSION_REDIS_URL: 'nope' }, 'SESSION_REDIS_URL'],
  ['gateway', { LIMITER_FAIL_MODE: 'sometimes' }, 'LIMITER_FAIL_MODE'],
  ['gateway', { TRUST_PROXY: 'perhaps' }, 'TRUST_PROXY'],
  ['gateway', { NODE_ENV: 'production', INTERNAL_TOKEN: token, SESSION_KEYS: '' }, 'SESSION_KEYS'],
  ['gateway', { NODE_ENV: 'production', INTERNAL_TOKEN: '', SESSION_KEYS: token }, 'INTERNAL_TOKEN'],
];

test.each(cases)('%s with %j exits non-zero naming %s', (part, env, variable) => {
  const main = join(root, part, 'dist', 'main.js');
  expect(existsSync(main)).toBe(true);
  const r = spawnSync(process.execPath, [main], {
    env: { PATH: process.env.PATH, INTERNAL_TOKEN: token, SESSION_KEYS: token, ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
  expect(r.error).toBeUndefined(); // it did not hang until the timeout
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  expect(r.stderr).toContain(variable);
  // The bad value itself is not echoed (it could be a secret).
  const bad = env[variable];
  if (bad && bad.length > 3) expect(r.stderr).not.toContain(bad);
});

import { ConfigError } from '@etu/common';
import { loadConfig } from '../src/config';

test('defaults serve a local run', () => {
  expect(loadConfig({})).toMatchObject({
    MARKET_ADDR: '127.0.0.1:50052',
    DATABASE_URL: 'mysql://root@127.0.0.1:3306/etuservices',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
  });
});

test('a malformed variable is refused with its name, never its value', () => {
  let err: unknown;
  try {
    loadConfig({ MARKET_ADDR: 'localhost', DATABASE_URL: 'postgres://u:hunter2@h/db' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['MARKET_ADDR', 'DATABASE_URL']);
  expect((err as Error).message).not.toContain('hunter2');
});

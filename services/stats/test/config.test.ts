import { ConfigError } from '@etu/common';
import { loadConfig } from '../src/config';

test('defaults serve a local run: stats on 127.0.0.1:50054, Redis database 1', () => {
  expect(loadConfig({})).toMatchObject({ STATS_ADDR: '127.0.0.1:50054', STATS_REDIS_URL: 'redis://127.0.0.1:6379/1', LOG_LEVEL: 'info' });
});

test('event ids are remembered 5 minutes unless STATS_DEDUP_TTL_MS says otherwise (a positive number of ms)', () => {
  expect(loadConfig({}).STATS_DEDUP_TTL_MS).toBe(300_000);
  expect(loadConfig({ STATS_DEDUP_TTL_MS: '5000' }).STATS_DEDUP_TTL_MS).toBe(5000);
  expect(() => loadConfig({ STATS_DEDUP_TTL_MS: '0' })).toThrow(/STATS_DEDUP_TTL_MS/);
});

test('a malformed variable is named, its value never echoed', () => {
  const err = (() => {
    try {
      loadConfig({ STATS_ADDR: 'nowhere', STATS_REDIS_URL: 'http://secret@host/1' });
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('accepted');
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual(['STATS_ADDR', 'STATS_REDIS_URL']);
  expect(err.message).not.toContain('secret');
});

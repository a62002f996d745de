// Which Redis errors mean "the store cannot serve right now" (→ UNAVAILABLE) and which are bugs.
import { isRedisUnavailable, keySlot, parseRedisUrl } from '@etu/common';

test.each([
  ['Command timed out'],
  ["Stream isn't writeable and enableOfflineQueue options is false"],
  ['Connection is closed.'],
  ['connect ECONNREFUSED 127.0.0.1:6390'],
  ['LOADING Redis is loading the dataset in memory'],
  ["OOM command not allowed when used memory > 'maxmemory'."],
  ["READONLY You can't write against a read only replica."],
])('%s → unavailable', (message) => {
  expect(isRedisUnavailable(new Error(message))).toBe(true);
});

test.each([
  ['ERR wrong number of arguments'],
  ['WRONGTYPE Operation against a key holding the wrong kind of value'],
  ['NOSCRIPT No matching script'],
])('%s → not unavailable (a bug to surface)', (message) => {
  expect(isRedisUnavailable(new Error(message))).toBe(false);
});

describe('parseRedisUrl: one form names a Redis or a Redis Cluster', () => {
  test('a single Redis stays a URL for ioredis', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://u:p@redis.example:6380/0').kind).toBe('standalone');
  });

  test('a cluster: its nodes, TLS, user and percent-encoded password', () => {
    expect(parseRedisUrl('redis+cluster://h1:7000,10.0.0.2:7001,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
      username: undefined,
      password: undefined,
    });
    expect(parseRedisUrl('rediss+cluster://etu:p%40ss%3Aw0rd@c1.example:6379')).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'c1.example', port: 6379 }],
      tls: true,
      username: 'etu',
      password: 'p@ss:w0rd',
    });
    expect(parseRedisUrl('redis+cluster://:secret@h1:7000/0')).toMatchObject({ username: undefined, password: 'secret' });
  });

  test.each([
    ['redis+cluster://h1:7000/1', /only database 0/],
    ['redis+cluster://h1', /host:port/],
    ['redis+cluster://h1:7000,', /host:port/],
    ['redis+cluster://h1:99999', /host:port/],
    ['redis+cluster://h1:7000?tls=1', /no query/],
    ['memcached://h1:11211', /redis:\/\/, rediss:\/\/, redis\+cluster/],
    ['not a url', /expected a URL/],
  ])('%s is refused, without repeating the value', (url, why) => {
    let message = '';
    try {
      parseRedisUrl(url);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(why);
    expect(message).not.toContain(url);
  });

  test('a refused password is not echoed', () => {
    expect(() => parseRedisUrl('redis+cluster://u:hunter2-secret@h1:7000/3')).toThrow(/^((?!hunter2).)*$/);
  });
});

test('cluster errors that mean "try later" are unavailable', () => {
  for (const m of [
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Too many Cluster redirections. Last error: Error: CLUSTERDOWN',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
  ])
    expect(isRedisUnavailable(new Error(m))).toBe(true);
});

test('keySlot: Redis Cluster test vectors and hash tags', () => {
  expect(keySlot('123456789')).toBe(0x31c3); // CRC16/XMODEM check value
  expect(keySlot('foo')).toBe(12182);
  expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
  expect(keySlot('rl:{service:42}')).toBe(keySlot('service:42'));
  expect(keySlot('a{}{b}')).toBe(keySlot('a{}{b}'));
  expect(keySlot('{}x')).not.toBe(keySlot('x'));
});

// The backup tool's connection to a store: a name that resolves to several addresses (an old
// container's among them, as podman's DNS can answer right after a compose `up`) is reached
// through the one that answers; none answering fails within the wait, naming what was tried.
import { connectStore } from '../src/redis-snapshot';
import { claimRedisDbs, type ClaimedRedisDbs } from '@etu/testkit';

let claimed: ClaimedRedisDbs;

beforeAll(async () => {
  claimed = await claimRedisDbs(1);
});

afterAll(async () => {
  await claimed?.release();
});

/** The claimed database's URL under a name that only the test's resolver knows. */
function byName(): string {
  const u = new URL(claimed.urls[0]!);
  u.hostname = 'redis-stats.invalid';
  return u.toString();
}

test('a name resolving to a dead address first and a live one second: connected through the live one', async () => {
  const resolved: string[] = [];
  const redis = await connectStore(byName(), {
    waitMs: 5000,
    resolve: (host) => {
      resolved.push(host);
      return Promise.resolve(['127.0.0.2', '127.0.0.1']);
    },
  });
  try {
    expect(await redis.ping()).toBe('PONG');
    expect(resolved).toEqual(['redis-stats.invalid']);
  } finally {
    redis.disconnect();
  }
});

test('no address answers: refused after the wait, naming the host and each address with its error', async () => {
  const started = Date.now();
  const err = await connectStore(byName(), { waitMs: 1500, resolve: () => Promise.resolve(['127.0.0.2']) }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err?.message).toMatch(/^Redis at redis-stats\.invalid did not answer within 2 s \(127\.0\.0\.2: .*ECONNREFUSED/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
});

// Hermetic stores for the whole suite (jest globalSetup / globalTeardown, jest.config.js): with
// TESTCONTAINERS=1 and a reachable container engine (Docker, or podman's Docker API through
// DOCKER_HOST), the suite gets a MariaDB and a Redis of its own from testcontainers, and every
// test reaches them through TEST_DATABASE_URL and TEST_REDIS_URL, which the worker processes
// inherit. Otherwise nothing changes: those variables, or the local defaults, as always. The
// images are the compose file's variables: MARIADB_IMAGE (default mariadb:11.4) and REDIS_IMAGE
// (default redis:7.4-bookworm).

import { randomBytes } from 'node:crypto';

interface Started {
  stop(): Promise<unknown>;
}

const KEY = Symbol.for('etu.testcontainers');
type Holder = { [KEY]?: Started[] };

export async function startTestContainers(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<boolean> {
  if (env.TESTCONTAINERS !== '1') return false;
  // Loaded only in this mode (testcontainers wants Node >= 22 and talks to an engine).
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch (err) {
    log(
      `TESTCONTAINERS=1, but no container engine answers (${(err as Error).message.split('\n')[0]}): the tests use TEST_DATABASE_URL / TEST_REDIS_URL or the local defaults`,
    );
    return false;
  }
  const { MariaDbContainer } = await import('@testcontainers/mariadb');
  const { RedisContainer } = await import('@testcontainers/redis');
  const mariadbImage = env.MARIADB_IMAGE || 'mariadb:11.4';
  const redisImage = env.REDIS_IMAGE || 'redis:7.4-bookworm';
  const rootPassword = randomBytes(12).toString('hex');
  const t0 = Date.now();
  const [db, redis] = await Promise.all([
    new MariaDbContainer(mariadbImage).withRootPassword(rootPassword).withDatabase('test').start(),
    new RedisContainer(redisImage).start(),
  ]);
  (globalThis as Holder)[KEY] = [db, redis];
  env.TEST_DATABASE_URL = `mysql://root:${rootPassword}@${db.getHost()}:${db.getPort()}/test`;
  env.TEST_REDIS_URL = `redis://${redis.getHost()}:${redis.getPort()}`;
  log(
    `testcontainers: ${mariadbImage} at ${db.getHost()}:${db.getPort()}, ${redisImage} at ${redis.getHost()}:${redis.getPort()} (started in ${Date.now() - t0} ms)`,
  );
  return true;
}

export async function stopTestContainers(): Promise<void> {
  const started = (globalThis as Holder)[KEY] ?? [];
  (globalThis as Holder)[KEY] = [];
  await Promise.all(started.map((c) => c.stop()));
}

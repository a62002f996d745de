// @etu/testkit: what tests share (Redis databases of their own, a private redis-server, free
// ports, TCP relays, a quiet logger, a fresh MariaDB database per file). Dev-only: no production
// package depends on it, and the production image removes it (deploy/test/image.test.ts).
export * from './redis';
export * from './database';
export * from './redis-cluster';

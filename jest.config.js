// One jest run for the whole repository. TypeScript is transpiled on the fly as CommonJS
// (tsconfig.jest.json); type checking is `tsc --build`, which `make test` runs first.
// Workspace packages map to their sources so tests never depend on a stale dist/.
const { parts } = require('./parts.json');
const services = parts.filter((p) => p.folder.startsWith('services/')).map((p) => p.name);

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  moduleNameMapper: {
    '^@etu/common$': '<rootDir>/services/common/src/index.ts',
    '^@etu/common/photos$': '<rootDir>/services/common/src/photos.ts',
    '^@etu/db$': '<rootDir>/prisma/src/index.ts',
    '^@etu/testkit$': '<rootDir>/testkit/src/index.ts',
    '^@etu/proto$': '<rootDir>/proto/src/index.ts',
    [`^@etu/(${services.join('|')})$`]: '<rootDir>/services/$1/src/index.ts',
  },
  roots: [
    '<rootDir>/proto',
    '<rootDir>/prisma',
    '<rootDir>/services',
    '<rootDir>/gateway',
    '<rootDir>/e2e',
    '<rootDir>/deploy',
    '<rootDir>/testkit',
  ],
  testMatch: ['**/?(*.)test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60_000,
  // TESTCONTAINERS=1: a MariaDB and a Redis of the suite's own (testkit/src/containers.ts).
  globalSetup: '<rootDir>/testkit/src/jest-global-setup.ts',
  globalTeardown: '<rootDir>/testkit/src/jest-global-teardown.ts',
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
};

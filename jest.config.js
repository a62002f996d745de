// One jest run for the whole repository. TypeScript is transpiled on the fly as CommonJS
// (tsconfig.test.json); type checking is `tsc --build`, which `make test` runs first.
// Workspace packages map to their sources so tests never depend on a stale dist/.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  moduleNameMapper: {
    '^@etu/common$': '<rootDir>/services/common/src/index.ts',
    '^@etu/common/testing$': '<rootDir>/services/common/src/testing.ts',
    '^@etu/db$': '<rootDir>/prisma/src/index.ts',
    '^@etu/db/testing$': '<rootDir>/prisma/src/testing.ts',
    '^@etu/proto$': '<rootDir>/proto/src/index.ts',
    '^@etu/(auth|market|limiter|stats)$': '<rootDir>/services/$1/src/index.ts',
  },
  roots: ['<rootDir>/proto', '<rootDir>/prisma', '<rootDir>/services', '<rootDir>/gateway', '<rootDir>/e2e', '<rootDir>/deploy'],
  testMatch: ['**/?(*.)test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60_000,
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
};

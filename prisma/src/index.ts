export { PrismaClient, Prisma } from './generated/prisma/client';
export type { User, Listing } from './generated/prisma/client';
export { Role, Category, ListingCondition, ListingStatus } from './generated/prisma/enums';
export type { Pool as DriverPool } from 'mariadb';
export {
  createDriverPool,
  createPrismaClient,
  isDatabaseUnavailable,
  keepPoolWarm,
  keepDriverPoolWarm,
  DEFAULT_CONNECTIONS,
  SOCKET_TIMEOUT_MS,
  type PrismaClientOptions,
} from './client';
export { applyMigrations, ensureDatabase, readMigrations, MigrationError, MIGRATIONS_DIR } from './migrate';
export { parseDatabaseUrl, withDatabase, type DbSettings } from './url';
export { DatabaseGate, DatabaseTimeout, QUERY_TIMEOUT_MS, CHECK_TIMEOUT_MS, type DatabaseGateOptions } from './gate';
export { guardDriverRejections, isOrphanedConnectionFailure, type WarnLogger } from './driver-guard';

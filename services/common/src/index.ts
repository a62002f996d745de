export * from './config';
export * from './errors';
export * from './logger';
export * from './server';
export * from './service';
export type { DemoAccount } from './demo-accounts';
export * from './client';
export * from './metrics';
export * from './grpc-observe';
export * from './request-context';
export * from './tracing';
export * from './redis';
export * from './text';
export { ensureLocalSecrets, secretsFile, REPO_ROOT } from './secrets';
export { listParts, partInfo, localAddress, localStore, PARTS_FILE, type PartInfo } from './parts';
/** zod, re-exported so that every part builds its config shape with the same instance. */
export { z } from 'zod';
export * from './store-marker';

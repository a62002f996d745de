export { startLimiterServer, SERVICE_NAME, type LimiterServer, type LimiterServerOptions } from './server';
export {
  createLimiterClient,
  statusError,
  type Decision,
  type LimiterClient,
  type LimiterClientOptions,
  type LimiterCallOptions,
} from './client';
export { configShape, loadConfig, type LimiterConfig } from './config';
export { DEFAULT_POLICIES, parsePolicies, type Policy } from './policies';
export { keyFor, decodeLog } from './sliding-window';
export { MAX_SUBJECT_BYTES, MAX_BATCH_ITEMS } from './limiter';

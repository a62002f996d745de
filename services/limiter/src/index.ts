export { connectLimiterRedis, startLimiterServer, SERVICE_NAME, type LimiterServer, type LimiterServerOptions } from './server';
export {
  createLimiterClient,
  DEFAULT_BATCH_WINDOW,
  DEFAULT_BATCH_STREAM,
  statusError,
  type Decision,
  type LimiterClient,
  type LimiterClientOptions,
  type LimiterCallOptions,
} from './client';
export { configShape, loadConfig, type LimiterConfig } from './config';
export { DEFAULT_POLICIES, parsePolicies, type Policy } from './policies';
export { keyFor, decodeLog } from './sliding-window';
// What the bench may use to run the limiter's script itself: the Lua source, how one decision
// calls it (KEYS + ARGV), and the store that calls it through ioredis.
export { SLIDING_WINDOW_LUA } from './sliding-window-script';
export { scriptCall, SlidingWindowStore, type WindowRequest, type WindowDecision } from './sliding-window';
export { MAX_SUBJECT_BYTES, MAX_BATCH_ITEMS } from './limiter';

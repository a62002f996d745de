export { startStatsServer, type StatsServer, type StatsServerOptions } from './server';
export { configShape, loadConfig, type StatsConfig } from './config';

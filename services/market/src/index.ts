export { startMarketServer, type MarketServer, type MarketServerOptions } from './server';
export { configShape, loadConfig, type MarketConfig } from './config';

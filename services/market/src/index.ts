export { startMarketServer } from './server';

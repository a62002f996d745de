export { startStatsServer } from './server';

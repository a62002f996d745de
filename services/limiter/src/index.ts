export { startLimiterServer } from './server';

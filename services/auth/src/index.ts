export { startAuthServer } from './server';

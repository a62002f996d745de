// jest globalTeardown (jest.config.js): see containers.ts.
import { stopTestContainers } from './containers';

export default async function globalTeardown(): Promise<void> {
  await stopTestContainers();
}

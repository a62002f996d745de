// jest globalSetup (jest.config.js): see containers.ts.
import { startTestContainers } from './containers';

export default async function globalSetup(): Promise<void> {
  await startTestContainers();
}

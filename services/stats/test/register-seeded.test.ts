// The seeded demo accounts made known to the statistics (what `make run` and the container seed
// run after the services start): each ranks with 0 calls, and running it again changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TOKEN } from '@etu/testkit';
import { registerSeededUsers } from '../src/register-seeded';
import { useTestStats } from './helpers';

const env = useTestStats();

test('every account of demo-accounts.json is registered once, with 0 calls; a missing file registers nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'etu-seeded-'));
  try {
    const file = join(dir, 'demo-accounts.json');
    expect(await registerSeededUsers(file, env.t.addr, TEST_TOKEN)).toBe(0);
    writeFileSync(file, JSON.stringify([{ id: 7, email: 'a@etu.example' }, { id: 8, email: 'b@etu.example' }]));
    expect(await registerSeededUsers(file, env.t.addr, TEST_TOKEN)).toBe(2);
    expect(await registerSeededUsers(file, env.t.addr, TEST_TOKEN)).toBe(2);
    const d = await env.t.call.getDashboard({});
    expect(d.knownUsers).toBe(2);
    expect(d.leastServiceUsers).toEqual([
      { userId: '7', count: 0 },
      { userId: '8', count: 0 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

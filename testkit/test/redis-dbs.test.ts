// Test support: the Redis databases a test file claims for itself on the shared server.
import Redis from 'ioredis';
import { claimRedisDbs, TEST_REDIS_URL } from '@etu/testkit';

test('a claim left by a process that died is taken over; a live one is not', async () => {
  const admin = new Redis(`${TEST_REDIS_URL}/15`);
  const first = await claimRedisDbs(1);
  const db = first.dbs[0]!;
  // Pretend a killed run (a pid that cannot exist) holds the database we hold.
  await admin.set(`etu:test-claim:${db}`, '2147483646:dead', 'EX', 900);
  const again = await claimRedisDbs(1, 5000, [db]);
  expect(again.dbs).toEqual([db]); // dead owner → taken over
  await again.release();
  // A live owner (this process) is never dispossessed.
  await admin.set(`etu:test-claim:${db}`, `${process.pid}:alive`, 'EX', 900);
  await expect(claimRedisDbs(1, 300, [db])).rejects.toThrow(/no free Redis test database/);
  await admin.del(`etu:test-claim:${db}`);
  await first.release(); // no longer its owner: leaves the database alone
  admin.disconnect();
});

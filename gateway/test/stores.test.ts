// /readyz's `stores`: each Redis database of the parts judged against MariaDB's identity and
// account count. Services started on fresh databases report them empty; an account the
// statistics lack makes them "behind" until register-users runs; a marker naming another
// database is "foreign". None of it makes the gateway unready.
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { TEST_TOKEN } from '@etu/testkit';
import { registerAllUsers } from '@etu/auth';
import { STORE_MARKER_KEY } from '@etu/common';
import { startSystem, type System } from './system';
import { WebClient } from './browser';

let sys: System;
let prisma: PrismaClient;

beforeAll(async () => {
  sys = await startSystem();
  prisma = createPrismaClient(sys.db.url, { connectionLimit: 2 });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await sys?.close();
});

/** /readyz of a new gateway (its store report is computed afresh), once its channels are up. */
async function readyz() {
  const gw = await sys.gateway();
  const c = new WebClient(gw.server);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await c.get('/readyz', 'application/json');
    if (res.status === 200 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('fresh databases are reported empty, without making the gateway unready', async () => {
  const res = await readyz();
  expect(res.status).toBe(200);
  expect(res.body.stores).toMatchObject({ limiter: { state: 'empty' }, stats: { state: 'empty', users: 0 }, sessions: { state: 'empty' } });
  expect(res.body.storeWarnings).toHaveLength(3);
});

test('accounts unknown to the statistics: "behind", until register-users registers them', async () => {
  await sys.createUser({ firstName: 'Hors', lastName: 'Stats', email: 'hors.stats@etu.example', password: 'correct-horse-battery' });
  const before = await readyz();
  expect(before.body.stores.stats).toMatchObject({ state: 'behind', users: 0 });
  expect(before.body.storeWarnings.join('\n')).toMatch(/stats: behind \(knows 0 of 1 accounts\).*register-users/);

  expect(await registerAllUsers(prisma, sys.addrs.STATS_ADDR, TEST_TOKEN)).toBe(1);
  const after = await readyz();
  expect(after.body.stores.stats).toMatchObject({ state: 'empty', users: 1 }); // this stats process began on an empty database
});

test('a marker naming another database: "foreign"', async () => {
  await sys.sessionRedis.set(STORE_MARKER_KEY, JSON.stringify({ createdAt: Date.now(), database: '00000000-0000-4000-8000-000000000000' }));
  const res = await readyz();
  expect(res.status).toBe(200);
  expect(res.body.stores.sessions.state).toBe('foreign');
  expect(res.body.storeWarnings.join('\n')).toMatch(/sessions: foreign/);
});

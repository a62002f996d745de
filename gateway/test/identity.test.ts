// One identity across every store, seen from the site.
// 1. /readyz's `stores`: each Redis database of the parts judged against MariaDB's identity and
//    account count. Services started on fresh databases report them empty; an account the
//    statistics lack makes them "behind" until register-users runs; a marker naming another
//    database is "foreign". None of it makes the gateway unready.
// 2. The drill's scenario: user A signs up and logs in; the database is restored to a point
//    before A (A's row gone, AUTO_INCREMENT back, as a restore from an older dump leaves it);
//    user B signs up and gets A's old row id. A's old cookie must not act as B: no listing for B,
//    none of B's quota used, nothing in B's statistics — and A is logged out with a French message.
// (One file, one system: each system claims three of the tests' twelve Redis databases.)
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { TEST_TOKEN } from '@etu/testkit';
import { registerAllUsers } from '@etu/auth';
import { STORE_MARKER_KEY } from '@etu/common';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let prisma: PrismaClient;
const PASSWORD = 'correct-horse-battery';

beforeAll(async () => {
  sys = await startSystem();
  prisma = createPrismaClient(sys.db.url, { connectionLimit: 2 });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await sys?.close();
});

describe('stores on /readyz', () => {
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
    expect(res.body.stores).toMatchObject({
      limiter: { state: 'empty' },
      stats: { state: 'empty', users: 0 },
      sessions: { state: 'empty' },
    });
    expect(res.body.storeWarnings).toHaveLength(3);
  });

  test('accounts unknown to the statistics: "behind", until register-users registers them', async () => {
    await sys.createUser({
      firstName: 'Inconnu',
      lastName: 'Statistiques',
      email: 'inconnu.stats@etu.example',
      password: 'correct-horse-battery',
    });
    const before = await readyz();
    expect(before.body.stores.stats).toMatchObject({ state: 'behind', users: 0 });
    expect(before.body.storeWarnings.join('\n')).toMatch(/stats: behind \(knows 0 of 1 accounts\).*register-users/);

    expect(await registerAllUsers(prisma, sys.addrs.STATS_ADDR, TEST_TOKEN)).toBe(1);
    const after = await readyz();
    expect(after.body.stores.stats).toMatchObject({ state: 'empty', users: 1 }); // this stats process began on an empty database
  });

  test('a marker naming another database: "foreign"', async () => {
    await sys.sessionRedis.set(
      STORE_MARKER_KEY,
      JSON.stringify({ createdAt: Date.now(), database: '00000000-0000-4000-8000-000000000000' }),
    );
    const res = await readyz();
    expect(res.status).toBe(200);
    expect(res.body.stores.sessions.state).toBe('foreign');
    expect(res.body.storeWarnings.join('\n')).toMatch(/sessions: foreign/);
  });
});

async function signUpAndLogIn(c: WebClient, prenom: string, email: string) {
  await c.get('/inscription');
  const res = await c.post('/inscription', { nom: 'Restauré', prenom, email, password: PASSWORD });
  // The sign-up logs in directly.
  expect([res.status, res.headers.location]).toEqual([303, '/services']);
  await c.get('/services');
}

test("after a restore that reuses A's row id for B, A's old session never acts as B", async () => {
  gw = await sys.gateway();
  const a = new WebClient(gw.server, '10.7.0.1');
  await signUpAndLogIn(a, 'Alice', 'alice.restore@etu.example');
  const rowA = await prisma.user.findUniqueOrThrow({ where: { email: 'alice.restore@etu.example' } });

  // The restore from a dump older than A: A's row is gone and its number is free again.
  await prisma.$executeRawUnsafe('DELETE FROM utilisateurs WHERE id = ?', rowA.id);
  await prisma.$executeRawUnsafe(`ALTER TABLE utilisateurs AUTO_INCREMENT = ${rowA.id}`);

  // The parts are restarted after a restore: a fresh gateway (no account remembered as confirmed).
  gw = await sys.gateway();
  const old = a;
  const aAfter = new WebClient(gw.server, '10.7.0.1').adopt(old);
  const b = new WebClient(gw.server, '10.7.0.2');
  await signUpAndLogIn(b, 'Bruno', 'bruno.restore@etu.example');
  const rowB = await prisma.user.findUniqueOrThrow({ where: { email: 'bruno.restore@etu.example' } });
  expect(rowB.id).toBe(rowA.id); // the drill's condition: B has A's old number
  expect(rowB.publicId).not.toBe(rowA.publicId); // ...but never A's identity

  // A's old cookie and CSRF token try to sell: refused, logged out, nothing created.
  const sale = await aAfter.post('/services/vente', {
    titre: 'Vendu par qui ?',
    categorie: 'livre',
    etat: 'bon',
    prix: '5',
    description: '',
  });
  expect([sale.status, sale.headers.location]).toEqual([303, '/login']);
  const login = await aAfter.get('/login');
  expect(textOf(login.text)).toContain('Votre session n’est plus valide (compte introuvable) : veuillez vous reconnecter.');
  expect((await aAfter.get('/services')).headers.location).toBe('/login'); // no session any more
  expect(await prisma.listing.count()).toBe(0);
  expect(await gw.metrics.value('etu_sessions_dropped_unknown_user_total')).toBe(1);

  // B's quota and statistics are B's own: untouched by A's attempt.
  const quota = await gw.clients.limiter.peek('service', rowB.publicId);
  expect(quota.remaining).toBe(quota.limit);
  const dash = await gw.clients.stats.getDashboard({});
  const count = (list: { userId: string; count: number }[]) => list.find((u) => u.userId === rowB.publicId)?.count;
  expect(count(dash.leastServiceUsers)).toBe(0); // no call counted for B
  expect(count(dash.topDeniedUsers)).toBeUndefined();
  expect(count(dash.topConnectors)).toBe(1); // B's own login only

  // B works normally.
  const own = await b.post('/services/vente', { titre: 'Le mien', categorie: 'livre', etat: 'bon', prix: '5', description: '' });
  expect([own.status, own.headers.location]).toEqual([303, '/services']);
  const mine = await gw.clients.market.listListings({
    filter: { sellerId: rowB.publicId, excludeSellerId: '', category: 0, status: 0 },
    pageSize: 10,
    pageToken: '',
  });
  expect(mine.listings.map((l) => l.title)).toEqual(['Le mien']);
});

test('when auth cannot answer, a session is trusted as it is (its public id names nobody else)', async () => {
  const c = new WebClient(gw.server, '10.7.0.3');
  await signUpAndLogIn(c, 'Chloé', 'chloe.restore@etu.example');
  const dead = await sys.gateway({}, { AUTH_ADDR: '127.0.0.1:1' });
  const seen = new WebClient(dead.server, '10.7.0.3').adopt(c);
  const page = await seen.get('/services');
  expect(page.status).toBe(200);
  expect(textOf(page.text)).toContain('Chloé');
});

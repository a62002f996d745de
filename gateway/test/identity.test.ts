// The drill's scenario: user A signs up and logs in; the database is restored to a point before A
// (A's row gone, AUTO_INCREMENT back, as a restore from an older dump leaves it); user B signs up
// and gets A's old row id. A's old cookie must not act as B: no listing for B, none of B's quota
// used, nothing in B's statistics — and A is logged out with a French message.
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let prisma: PrismaClient;
const PASSWORD = 'correct-horse-battery';

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
  prisma = createPrismaClient(sys.db.url, { connectionLimit: 2 });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await sys?.close();
});

async function signUpAndLogIn(c: WebClient, prenom: string, email: string) {
  await c.get('/inscription');
  expect((await c.post('/inscription', { nom: 'Restauré', prenom, email, password: PASSWORD })).status).toBe(303);
  expect((await c.login(email, PASSWORD)).headers.location).toBe('/services');
  await c.get('/services');
}

test("after a restore that reuses A's row id for B, A's old session never acts as B", async () => {
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
  const sale = await aAfter.post('/services/vente', { titre: 'Vendu par qui ?', categorie: 'livre', prix: '5', description: '' });
  expect([sale.status, sale.headers.location]).toEqual([303, '/login']);
  const login = await aAfter.get('/login');
  expect(textOf(login.text)).toContain('Votre session n’est plus valide (compte introuvable) : veuillez vous reconnecter.');
  expect((await aAfter.get('/services')).headers.location).toBe('/login'); // no session any more
  expect(await prisma.listing.count()).toBe(0);
  expect(gw.metrics.get('session_user_unknown')).toBe(1);

  // B's quota and statistics are B's own: untouched by A's attempt.
  const quota = await gw.clients.limiter.peek('service', rowB.publicId);
  expect(quota.remaining).toBe(quota.limit);
  const dash = await gw.clients.stats.getDashboard({});
  const count = (list: { userId: string; count: number }[]) => list.find((u) => u.userId === rowB.publicId)?.count;
  expect(count(dash.leastServiceUsers)).toBe(0); // no call counted for B
  expect(count(dash.topDeniedUsers)).toBeUndefined();
  expect(count(dash.topConnectors)).toBe(1); // B's own login only

  // B works normally.
  const own = await b.post('/services/vente', { titre: 'Le mien', categorie: 'livre', prix: '5', description: '' });
  expect([own.status, own.headers.location]).toEqual([303, '/services']);
  const mine = await gw.clients.market.listListings({ filter: { sellerId: rowB.publicId, excludeSellerId: '', category: 0, status: 0 }, pageSize: 10, pageToken: '' });
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

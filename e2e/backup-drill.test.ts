// The backup drill, as an operator runs it: state made through the site (sign-ups, logins,
// listings — one with a photo —, a sale, quota use), `scripts/backup.sh` (what `make backup`
// runs), everything destroyed (database dropped, the three Redis databases flushed, the photos
// folder and the secrets folder deleted), `scripts/restore.sh` (what `make restore` runs), the
// parts started again, then checked: every user logs in, listings and sales are identical, the
// photo is served again byte for byte, quotas are as strict as at backup time, statistics are
// those of the backup, a session made before the backup still opens.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import sharp from 'sharp';
import { createServiceClient, type ServiceClient } from '@etu/common';
import { claimRedisDbs, createTestDatabase, TEST_TOKEN, type ClaimedRedisDbs, type TestDatabase } from '@etu/testkit';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { limiter, stats } from '@etu/proto';
import { textOf, WebClient } from '../gateway/test/browser';
import { startParts, type RunningParts, type Stores } from './system';

jest.setTimeout(300_000);

const ROOT = join(__dirname, '..');
const PASSWORD = 'une phrase de passe solide';

let db: TestDatabase;
let redis: ClaimedRedisDbs;
let stores: Stores;
let parts: RunningParts | undefined;
let work: string;

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), claimRedisDbs(3)]);
  const [limiterRedisUrl, statsRedisUrl, sessionRedisUrl] = redis.urls as [string, string, string];
  stores = { databaseUrl: db.url, limiterRedisUrl, statsRedisUrl, sessionRedisUrl };
  work = mkdtempSync(join(tmpdir(), 'etu-drill-'));
});

afterAll(async () => {
  await parts?.stop();
  await Promise.all([db?.drop(), redis?.release()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A browser-like client of the running gateway (supertest accepts a URL where it takes a server). */
const visitor = (url: string, ip: string) => new WebClient(url as unknown as Server, ip);

/** The scripts' environment: the test's stores, the parts' addresses, a secrets folder of its own. */
function scriptEnv(running: RunningParts): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...running.env,
    BACKUP_TARGET: 'local',
    BACKUP_DIR: join(work, 'backups'),
    ETU_SECRETS_DIR: join(work, 'secrets'),
  };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(join(ROOT, 'scripts', script), args, { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}:\n${r.stderr}`);
  return r;
}

async function signUp(c: WebClient, prenom: string, email: string) {
  await c.get('/inscription');
  const res = await c.post('/inscription', { nom: 'Exercice', prenom, email, password: PASSWORD });
  expect([res.status, res.headers.location]).toEqual([303, '/services']); // logged in directly
  await c.get('/services'); // the CSRF token of the new session
}

async function logIn(c: WebClient, email: string) {
  const res = await c.login(email, PASSWORD);
  expect([res.status, res.headers.location]).toEqual([303, '/services']);
  await c.get('/services'); // the CSRF token of the new session
}

/** Everything the drill compares: listings and sales (every column), the statistics, the quotas. */
async function observe(prisma: PrismaClient, running: RunningParts, userIds: string[]) {
  const token = { token: TEST_TOKEN, timeoutMs: 5000 };
  const statsClient: ServiceClient<stats.StatsServiceClient> = createServiceClient(
    stats.StatsServiceClient,
    running.env.STATS_ADDR!,
    token,
  );
  const limiterClient: ServiceClient<limiter.LimiterServiceClient> = createServiceClient(
    limiter.LimiterServiceClient,
    running.env.LIMITER_ADDR!,
    token,
  );
  try {
    const listings = await prisma.listing.findMany({
      orderBy: { id: 'asc' },
      include: { seller: { select: { publicId: true } }, buyer: { select: { publicId: true } } },
    });
    const users = await prisma.user.findMany({ orderBy: { id: 'asc' } });
    const dashboard = await statsClient.call.getDashboard({});
    const quotas = await Promise.all(
      userIds.map(async (subject) => (await limiterClient.call.peek({ policy: 'service', subject })).decision!.remaining),
    );
    return { listings, users, dashboard, quotas };
  } finally {
    statsClient.close();
    limiterClient.close();
  }
}

test('backup, destroy everything, restore: users, listings, sales, quotas, statistics and sessions come back', async () => {
  const secrets = join(work, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  writeFileSync(join(secrets, 'local.env'), 'SESSION_KEYS=drill-session-key-0123456789abcdef\n', { mode: 0o600 });
  const t0 = Date.now();
  const lap = (what: string) => process.stderr.write(`drill: ${what} at ${Date.now() - t0} ms\n`);
  const photos = join(work, 'photos');
  parts = await startParts(stores, { PHOTOS_DIR: photos });
  lap('parts started');
  // A first start: every Redis database is new, and /readyz says so.
  const fresh = (await (await fetch(`${parts.url}/readyz`)).json()) as { stores: Record<string, { state: string }> };
  expect(Object.values(fresh.stores).map((s) => s.state)).toEqual(['empty', 'empty', 'empty']);

  // --- State, through the site.
  const people = ['Anaïs', 'Bastien', 'Céline'].map((prenom, i) => ({
    prenom,
    email: `drill${i}@etu.example`,
    c: visitor(parts!.url, `10.9.0.${i + 1}`),
  }));
  for (const p of people) await signUp(p.c, p.prenom, p.email);
  for (const p of people) await logIn(p.c, p.email);
  const [anais, bastien, celine] = people as [(typeof people)[0], (typeof people)[0], (typeof people)[0]];
  for (const titre of ['Analyse L1', 'Les Misérables']) {
    const res = await anais.c.post('/services/vente', {
      titre,
      categorie: 'livre',
      etat: 'bon',
      prix: '7,50',
      description: 'Très bon état',
    });
    expect(res.status).toBe(303);
  }
  // One sale with a photo, as the browser sends it (multipart/form-data).
  const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#4a7d9c' } })
    .png()
    .toBuffer();
  const withPhoto = await anais.c.agent
    .post('/services/vente')
    .set('X-Forwarded-For', anais.c.ip!)
    .field('_csrf', anais.c.token!)
    .field('titre', 'Clé USB 32 Go')
    .field('categorie', 'autre')
    .field('etat', 'bon')
    .field('prix', '7,50')
    .field('description', 'Très bon état')
    .attach('photos', png, { filename: 'cle.png', contentType: 'image/png' });
  expect(withPhoto.status).toBe(303);
  const photoFiles = readdirSync(photos).sort();
  expect(photoFiles).toHaveLength(2);
  const photoBytes = photoFiles.map((f) => readFileSync(join(photos, f)));
  await celine.c.post('/services/vente', { titre: 'Amélie (DVD)', categorie: 'dvd', etat: 'bon', prix: '4', description: '' });
  const prisma = createPrismaClient(db.url, { connectionLimit: 2 });
  try {
    const forSale = await prisma.listing.findFirstOrThrow({ where: { title: 'Les Misérables' } });
    const bought = await bastien.c.post('/services/achat', { article_id: String(forSale.id) });
    expect(bought.status).toBe(303);
    const userIds = (await prisma.user.findMany({ orderBy: { id: 'asc' } })).map((u) => u.publicId);
    // The gateway sends its Vente/Achat statistics in batches just after answering: wait (with a
    // deadline) until the five calls are recorded, so the backup holds what `before` saw.
    let before = await observe(prisma, parts, userIds);
    for (const until = Date.now() + 10_000; ;) {
      const totals = before.dashboard.serviceTotals.map((t) => t.count);
      if (totals.join() === '4,1') break;
      if (Date.now() > until) throw new Error(`statistics not recorded: ${totals.join()}`);
      await new Promise((r) => setTimeout(r, 50));
      before = await observe(prisma, parts, userIds);
    }
    expect(before.listings.filter((l) => l.status === 'vendu')).toHaveLength(1);
    expect(before.quotas).toEqual([7, 9, 9]); // 3 ventes, 1 achat, 1 vente out of 10

    lap('state made');
    // --- Backup (the parts keep running, as they would).
    const env = scriptEnv(parts);
    const out = run('backup.sh', [], env);
    const archive = out.stdout.trim().split('\n').at(-1)!;
    expect(archive).toMatch(/etuservices-backup-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const listing = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' }).stdout;
    for (const f of ['manifest.json', 'mariadb.sql', 'redis.jsonl', 'photos.tar', 'secrets/local/local.env']) expect(listing).toContain(f);
    expect(out.stdout).toMatch(/photos +2 files/);

    lap('backed up');
    // --- Disaster: parts stopped, database dropped, Redis databases emptied, secrets gone.
    await parts.stop();
    parts = undefined;
    await prisma.$disconnect();
    await db.drop();
    for (const url of redis.urls) {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      await r.flushdb();
      r.disconnect();
    }
    rmSync(secrets, { recursive: true, force: true });
    rmSync(photos, { recursive: true, force: true });

    // --- Restore, then start the parts again.
    const restored = run('restore.sh', [archive], env);
    expect(restored.stderr).toMatch(/sessions: keep/);
    expect(readFileSync(join(secrets, 'local.env'), 'utf8')).toContain('drill-session-key');
    expect(readdirSync(join(work, 'backups'))).toHaveLength(1);
    expect(restored.stderr).toMatch(/restoring the photo files \(2 files\)/);
    expect(readdirSync(photos).sort()).toEqual(photoFiles);
    expect(photoFiles.map((f) => readFileSync(join(photos, f)))).toEqual(photoBytes);
    lap('restored');
    parts = await startParts(stores, { PHOTOS_DIR: photos });
    lap('parts started again');

    // --- Checks. The stores belong together again: markers restored, every account known.
    const ready = (await (await fetch(`${parts.url}/readyz`)).json()) as {
      status: string;
      stores: Record<string, { state: string }>;
      storeWarnings: string[];
    };
    expect(ready.status).toBe('ready');
    expect(ready.stores).toMatchObject({ limiter: { state: 'ok' }, stats: { state: 'ok' }, sessions: { state: 'ok' } });
    expect(ready.storeWarnings).toEqual([]);
    // The statistics and quotas (logging in below counts and consumes).
    const after = await observe(prisma, parts, userIds);
    expect(after.listings).toEqual(before.listings);
    expect(after.users).toEqual(before.users);
    expect({ ...after.dashboard, lastHour: undefined }).toEqual({ ...before.dashboard, lastHour: undefined });
    // As strict as at backup time: the calls made before it still count (a few seconds passed,
    // far less than the 10-minute window).
    for (const [i, q] of after.quotas.entries()) expect(q).toBeLessThanOrEqual(before.quotas[i]!);

    // A session opened before the backup still works (sessions and SESSION_KEYS restored)...
    const again = visitor(parts.url, anais.c.ip!).adopt(anais.c);
    const page = await again.get('/services');
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('Anaïs');
    // The restored listing's photo is served again.
    const usb = after.listings.find((l) => l.title === 'Clé USB 32 Go')!;
    expect(usb.photos).not.toBe('');
    const served = await fetch(`${parts.url}/photos/${usb.photos}-l.webp`);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(readFileSync(join(photos, `${usb.photos}-l.webp`)));
    // ...and every user logs in.
    for (const p of people) await logIn(visitor(parts.url, p.c.ip!), p.email);
    lap('checked');
  } finally {
    await prisma.$disconnect();
  }
});

test('an encrypted archive needs the passphrase file; the wrong one is refused before anything changes', () => {
  const pass = join(work, 'passphrase');
  writeFileSync(pass, 'une autre phrase de passe, longue\n', { mode: 0o600 });
  const dir = join(work, 'enc');
  // No part runs here: the restore's address check must not find one.
  const env = {
    ...process.env,
    ...stores,
    DATABASE_URL: stores.databaseUrl,
    LIMITER_REDIS_URL: stores.limiterRedisUrl,
    STATS_REDIS_URL: stores.statsRedisUrl,
    SESSION_REDIS_URL: stores.sessionRedisUrl,
    BACKUP_DIR: dir,
    ETU_SECRETS_DIR: join(work, 'secrets'),
    BACKUP_PASSPHRASE_FILE: pass,
    AUTH_ADDR: '127.0.0.1:1',
    MARKET_ADDR: '127.0.0.1:1',
    LIMITER_ADDR: '127.0.0.1:1',
    STATS_ADDR: '127.0.0.1:1',
    PORT: '1',
  };
  expect(existsSync(dir)).toBe(false);
  const archive = run('backup.sh', [], env).stdout.trim().split('\n').at(-1)!;
  expect(archive).toMatch(/\.tar\.gz\.enc$/);
  expect(spawnSync('tar', ['-tzf', archive]).status).not.toBe(0); // not readable without the key
  writeFileSync(pass, 'pas la bonne\n');
  const r = spawnSync(join(ROOT, 'scripts', 'restore.sh'), [archive], { cwd: ROOT, env, encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/cannot decrypt/);
});

// The demo seed: three dozen valid listings dealt to the STUDENT accounts, none to admins,
// idempotent, tolerant of a stale accounts file; with a photo folder, a picture for each.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhotoStore } from '@etu/common/photos';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import sharp from 'sharp';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { DEMO_LISTINGS, readDemoAccounts, seedDemoListings, type DemoSeller } from '../src/demo';
import { Market } from '../src/market';
import { parseNewListing } from '../src/rules';

let tdb: TestDatabase;
let db: PrismaClient;
let accounts: DemoSeller[];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createPrismaClient(tdb.url, { connectionLimit: 2 });
  const mk = async (email: string, role: 'STUDENT' | 'ADMIN') =>
    (await db.user.create({ data: { lastName: 'Demo', firstName: email, email, passwordHash: 'x', role } })).publicId;
  accounts = [
    { id: await mk('admin@etu.test', 'ADMIN'), email: 'admin@etu.test', role: 'ADMIN' },
    { id: await mk('alice@etu.test', 'STUDENT'), email: 'alice@etu.test', role: 'STUDENT' },
    { id: await mk('bruno@etu.test', 'STUDENT'), email: 'bruno@etu.test', role: 'STUDENT' },
    { id: await mk('chloe@etu.test', 'STUDENT'), email: 'chloe@etu.test', role: 'STUDENT' },
  ];
});

afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

test('the demo listings follow every rule, books and DVDs among them', () => {
  expect(DEMO_LISTINGS.length).toBeGreaterThanOrEqual(36);
  for (const l of DEMO_LISTINGS)
    expect(() => parseNewListing({ ...l, sellerId: '00000000-0000-4000-8000-000000000000', idempotencyKey: '', photos: [] })).not.toThrow();
  expect(new Set(DEMO_LISTINGS.map((l) => l.category)).size).toBe(3);
  // Every condition appears, so the search's condition filter finds something for each.
  expect(new Set(DEMO_LISTINGS.map((l) => l.condition)).size).toBe(4);
});

test('with a photo folder, each new listing gets a picture drawn for it, stored as an upload would be', async () => {
  const tdb2 = await createTestDatabase();
  const db2 = createPrismaClient(tdb2.url, { connectionLimit: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'etu-seed-photos-'));
  try {
    const seller = (await db2.user.create({ data: { lastName: 'Demo', firstName: 'P', email: 'p@etu.test', passwordHash: 'x' } })).publicId;
    const r = await seedDemoListings(new Market(db2), db2, [{ id: seller, email: 'p@etu.test', role: 'STUDENT' }], new PhotoStore(dir));
    expect(r.created).toBe(DEMO_LISTINGS.length);
    const rows = await db2.listing.findMany();
    expect(rows.every((l) => /^[0-9a-f]{32}$/.test(l.photos))).toBe(true);
    expect(new Set(rows.map((l) => l.photos)).size).toBe(rows.length);
    const files = readdirSync(dir);
    for (const l of rows) expect(files).toEqual(expect.arrayContaining([`${l.photos}-l.webp`, `${l.photos}-t.webp`]));
    const meta = await sharp(join(dir, `${rows[0]!.photos}-l.webp`)).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 1200, height: 900 });
  } finally {
    await db2.$disconnect();
    await tdb2.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deals the listings to the students only, and adds nothing the second time', async () => {
  const m = new Market(db);
  const first = await seedDemoListings(m, db, accounts);
  expect(first).toEqual({ created: DEMO_LISTINGS.length, skipped: [], unknown: [] });
  const counts: Record<string, number> = {};
  for (const l of await db.listing.findMany({ include: { seller: true } }))
    counts[l.seller.publicId] = (counts[l.seller.publicId] ?? 0) + 1;
  const each = DEMO_LISTINGS.length / 3;
  expect(counts).toEqual({ [accounts[1]!.id]: each, [accounts[2]!.id]: each, [accounts[3]!.id]: each });

  const second = await seedDemoListings(m, db, accounts);
  expect(second).toEqual({ created: 0, skipped: [accounts[1]!.id, accounts[2]!.id, accounts[3]!.id], unknown: [] });
  expect(await db.listing.count()).toBe(DEMO_LISTINGS.length);
});

test('a student unknown to the database (stale file) is reported, the others still seeded', async () => {
  const fresh = await db.user.create({ data: { lastName: 'Demo', firstName: 'D', email: 'dora@etu.test', passwordHash: 'x' } });
  const before = await db.listing.count();
  const r = await seedDemoListings(new Market(db), db, [
    { id: fresh.publicId, email: 'dora@etu.test', role: 'STUDENT' },
    { id: '00000000-0000-4000-8000-000000000000', email: 'ghost@etu.test', role: 'STUDENT' },
  ]);
  expect(r.unknown).toEqual(['00000000-0000-4000-8000-000000000000']);
  expect(r.created).toBe(Math.ceil(DEMO_LISTINGS.length / 2));
  expect(await db.listing.count()).toBe(before + r.created);
});

test('reads the auth seed’s file; a missing file is null, a broken one a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'market-seed-'));
  expect(readDemoAccounts(join(dir, 'absent.json'))).toBeNull();
  const file = join(dir, 'demo-accounts.json');
  const id = '3f6c1c9e-8a0b-4d35-9a57-2c1e0b7f4d21';
  writeFileSync(
    file,
    JSON.stringify([
      { id, email: 'a@b', password: 'secret', role: 'STUDENT', firstName: 'A', lastName: 'B' },
      { id: 3, email: 'old@b', role: 'STUDENT' },
    ]),
  );
  // An entry from before public ids (a number) is left out; the auth seed rewrites the file.
  expect(readDemoAccounts(file)).toEqual([{ id, email: 'a@b', role: 'STUDENT' }]);
  writeFileSync(file, '{oops');
  expect(() => readDemoAccounts(file)).toThrow(/not valid JSON/);
});

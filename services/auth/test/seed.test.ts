// The seed: demo students and one ADMIN created through the accounts domain, passwords kept in a
// secrets folder (a temporary one here) and reused, on a database of the test's own.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testLogger } from '@etu/testkit';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { auth } from '@etu/proto';
import { Accounts } from '../src/accounts';
import { DEFAULT_ADMIN_EMAIL, DEMO_JSON, DEMO_TXT, seedAccounts, type DemoAccount } from '../src/seed';
import { startHarness } from './helpers';

const dbs: TestDatabase[] = [];
const clients: PrismaClient[] = [];
let root: string;
let dir: string;

async function freshAccounts(): Promise<{ db: TestDatabase; prisma: PrismaClient; accounts: Accounts }> {
  const db = await createTestDatabase();
  dbs.push(db);
  const prisma = createPrismaClient(db.url);
  clients.push(prisma);
  return { db, prisma, accounts: new Accounts(prisma, testLogger()) };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'etu-auth-seed-'));
  dir = join(root, 'secrets'); // created by the seed
});

afterAll(async () => {
  for (const p of clients) await p.$disconnect();
  for (const db of dbs) await db.drop();
  rmSync(root, { recursive: true, force: true });
});

const readJson = () => JSON.parse(readFileSync(join(dir, DEMO_JSON), 'utf8')) as DemoAccount[];

test('first run creates six students and one admin, stores their logins, and they log in through the service', async () => {
  const { db, prisma, accounts } = await freshAccounts();
  const warnings: string[] = [];
  const list = await seedAccounts({ accounts, secretsDir: dir, warn: (l) => warnings.push(l) });
  expect(statSync(dir).mode & 0o777).toBe(0o700);

  expect(warnings).toEqual([]);
  expect(list.filter((a) => a.role === 'STUDENT')).toHaveLength(6);
  expect(list.filter((a) => a.role === 'ADMIN').map((a) => a.email)).toEqual([DEFAULT_ADMIN_EMAIL]);
  expect(list.map((a) => a.email)).toContain('camille.martin@etu.example');
  expect(list.map((a) => a.email)).toContain('lea.dubois@etu.example');
  for (const a of list) {
    expect(a.email).toMatch(/^[a-z-]+\.[a-z-]+@etu\.example$|^admin@etuservices\.example$/);
    expect(a.password).toMatch(/^[\w-]{16}$/);
  }
  expect(new Set(list.map((a) => a.password)).size).toBe(list.length);
  expect(await prisma.user.count()).toBe(7);

  expect(readJson()).toEqual(list);
  expect(statSync(join(dir, DEMO_JSON)).mode & 0o777).toBe(0o600);
  const txt = readFileSync(join(dir, DEMO_TXT), 'utf8').trim().split('\n');
  expect(txt).toHaveLength(7);
  expect(txt[0]).toMatch(new RegExp(`^camille\\.martin@etu\\.example +${list[0]!.password}  \\(STUDENT\\)$`));
  expect(txt[6]).toMatch(/^admin@etuservices\.example +\S{16} {2}\(ADMIN\)$/);

  const h = await startHarness(db.url);
  try {
    const admin = list.find((a) => a.role === 'ADMIN')!;
    const res = await h.client.call.authenticate({ email: admin.email, password: admin.password! });
    expect(res.user).toMatchObject({ id: admin.id, role: auth.Role.ROLE_ADMIN, firstName: admin.firstName });
    const lea = list.find((a) => a.email === 'lea.dubois@etu.example')!;
    expect((await h.client.call.authenticate({ email: lea.email, password: lea.password! })).user).toMatchObject({
      id: lea.id,
      firstName: 'Léa',
      lastName: 'Dubois',
      role: auth.Role.ROLE_STUDENT,
    });
  } finally {
    await h.stop();
  }

  // Second run on the same database: same accounts, same passwords, nothing added.
  const again = await seedAccounts({ accounts, secretsDir: dir, warn: (l) => warnings.push(l) });
  expect(again).toEqual(list);
  expect(warnings).toEqual([]);
  expect(await prisma.user.count()).toBe(7);
});

test('after a database reset the same logins are recreated with the stored passwords', async () => {
  const before = readJson();
  const { prisma, accounts } = await freshAccounts();
  const list = await seedAccounts({ accounts, secretsDir: dir, warn: () => {} });
  expect(list.map((a) => [a.email, a.password, a.role])).toEqual(before.map((a) => [a.email, a.password, a.role]));
  for (const a of [list[1]!, list[6]!]) {
    await expect(accounts.authenticate(a.email, a.password!)).resolves.toMatchObject({ id: a.id });
  }
  expect(await prisma.user.count()).toBe(7);
});

test('ADMIN_EMAIL / ADMIN_PASSWORD make that admin; a bad value is refused naming the variable', async () => {
  const { accounts } = await freshAccounts();
  await expect(
    seedAccounts({ accounts, secretsDir: dir, adminEmail: 'ops@etu.example', adminPassword: 'court', warn: () => {} }),
  ).rejects.toThrow(/^ADMIN_PASSWORD: /);
  await expect(seedAccounts({ accounts, secretsDir: dir, adminEmail: 'pas une adresse', warn: () => {} })).rejects.toThrow(
    /^ADMIN_EMAIL: /,
  );

  const list = await seedAccounts({
    accounts,
    secretsDir: dir,
    adminEmail: ' Ops@Etu.example ',
    adminPassword: 'Un mot de passe d’admin',
    warn: () => {},
  });
  const admin = list.find((a) => a.role === 'ADMIN')!;
  expect(admin).toMatchObject({ email: 'ops@etu.example', password: 'Un mot de passe d’admin' });
  await expect(accounts.authenticate('ops@etu.example', 'Un mot de passe d’admin')).resolves.toMatchObject({ role: 'ADMIN' });
});

test('an existing account is never changed: not promoted to ADMIN, password not reset', async () => {
  const { accounts } = await freshAccounts();
  // Someone registered the would-be admin address first, as a student, with their own password.
  await accounts.register({ lastName: 'Intrus', firstName: 'Ivan', email: DEFAULT_ADMIN_EMAIL, password: 'mot de passe à moi' });
  const first = await seedAccounts({ accounts, secretsDir: dir, warn: () => {} });
  const hugo = first.find((a) => a.email === 'hugo.lefevre@etu.example')!;
  // The stored password of one demo student no longer matches its account (edited file).
  writeFileSync(
    join(dir, DEMO_JSON),
    JSON.stringify(readJson().map((a) => (a.email === hugo.email ? { ...a, password: 'encore-un-autre' } : a))),
  );

  const warnings: string[] = [];
  const list = await seedAccounts({ accounts, secretsDir: dir, warn: (l) => warnings.push(l) });
  expect(list.find((a) => a.email === DEFAULT_ADMIN_EMAIL)).toMatchObject({ role: 'STUDENT', password: null });
  expect(list.find((a) => a.email === 'hugo.lefevre@etu.example')).toMatchObject({ password: null });
  expect(warnings.join('\n')).toMatch(/admin@etuservices\.example exists with role STUDENT/);
  expect(warnings.join('\n')).toMatch(/hugo\.lefevre@etu\.example exists and its password is not the one in demo-accounts\.json/);
  await expect(accounts.authenticate(DEFAULT_ADMIN_EMAIL, 'mot de passe à moi')).resolves.toMatchObject({ role: 'STUDENT' });
  await expect(accounts.authenticate(hugo.email, hugo.password!)).resolves.toMatchObject({ id: hugo.id });
});

test('a local run resets the lost password of a demo account of the right role, and only that', async () => {
  const { accounts } = await freshAccounts();
  // The database outlived the checkout's secrets (a fresh clone on a machine that ran it before).
  const first = await seedAccounts({ accounts, secretsDir: dir, warn: () => {} });
  await accounts.register({ lastName: 'Intrus', firstName: 'Ivan', email: 'ops@etu.example', password: 'mot de passe à moi' });
  const fresh = join(root, 'fresh-clone-secrets');
  const warnings: string[] = [];
  const list = await seedAccounts({
    accounts,
    secretsDir: fresh,
    adminEmail: 'ops@etu.example',
    resetUnknownPasswords: true,
    warn: (l) => warnings.push(l),
  });
  for (const a of list.filter((x) => x.email !== 'ops@etu.example')) {
    expect(a.password).not.toBeNull();
    expect(a.id).toBe(first.find((f) => f.email === a.email)?.id); // the same accounts, not new ones
    await expect(accounts.authenticate(a.email, a.password!)).resolves.toMatchObject({ id: a.id });
  }
  // A student holding the admin address is neither promoted nor has its password changed.
  expect(list.find((a) => a.email === 'ops@etu.example')).toMatchObject({ role: 'STUDENT', password: null });
  await expect(accounts.authenticate('ops@etu.example', 'mot de passe à moi')).resolves.toMatchObject({ role: 'STUDENT' });
  expect(warnings.join('\n')).toMatch(/camille\.martin@etu\.example: password unknown to this checkout; a new one was set/);
  rmSync(fresh, { recursive: true, force: true });
});

test('a corrupt demo-accounts.json is left alone and stops the seed', async () => {
  const { accounts } = await freshAccounts();
  const other = mkdtempSync(join(tmpdir(), 'etu-auth-seed-bad-'));
  try {
    writeFileSync(join(other, DEMO_JSON), '{ not json');
    await expect(seedAccounts({ accounts, secretsDir: other, warn: () => {} })).rejects.toThrow(/not valid JSON/);
    expect(readFileSync(join(other, DEMO_JSON), 'utf8')).toBe('{ not json');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

// The migration applier on fresh, uniquely named databases of the local MariaDB, and the
// agreement between schema.prisma (through the generated client) and the committed SQL.
import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as mariadb from 'mariadb';
import {
  applyMigrations,
  createPrismaClient,
  MIGRATIONS_DIR,
  MigrationError,
  parseDatabaseUrl,
  readMigrations,
  withDatabase,
} from '@etu/db';
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase } from '@etu/testkit';

async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const s = parseDatabaseUrl(url);
  const conn = await mariadb.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: s.database });
  try {
    return await conn.query<T[]>(sql, params);
  } finally {
    await conn.end();
  }
}

const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
});

test('applies every migration once; a second run applies nothing', async () => {
  const db = await createTestDatabase({ migrate: false });
  dbs.push(db);
  const names = readMigrations().map((m) => m.name);
  expect(names.length).toBeGreaterThan(0);

  const first = await applyMigrations(db.url);
  expect(first.applied).toEqual(names);
  const second = await applyMigrations(db.url);
  expect(second.applied).toEqual([]);
  expect(second.alreadyApplied).toEqual(names);

  // Recorded the way Prisma records them: sha256 checksum of the file, finished, one step.
  const rows = await query<{
    migration_name: string;
    checksum: string;
    finished_at: Date | null;
    applied_steps_count: number | bigint;
    rolled_back_at: Date | null;
  }>(
    db.url,
    'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
  );
  expect(rows.map((r) => r.migration_name)).toEqual(names);
  for (const [i, r] of rows.entries()) {
    expect(r.checksum).toBe(readMigrations()[i]!.checksum);
    expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(r.finished_at).not.toBeNull();
    expect(r.rolled_back_at).toBeNull();
    expect(Number(r.applied_steps_count)).toBe(1);
  }
  // Prisma's column set, exactly.
  const cols = await query<{ COLUMN_NAME: string }>(
    db.url,
    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '_prisma_migrations' ORDER BY ORDINAL_POSITION",
    [db.name],
  );
  expect(cols.map((c) => c.COLUMN_NAME)).toEqual([
    'id',
    'checksum',
    'finished_at',
    'migration_name',
    'logs',
    'rolled_back_at',
    'started_at',
    'applied_steps_count',
  ]);
});

test('a migration edited after it was applied stops the run with a clear error and changes nothing', async () => {
  const db = await createTestDatabase({ migrate: false });
  dbs.push(db);
  const dir = mkdtempSync(join(tmpdir(), 'etu-migrations-'));
  try {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    await applyMigrations(db.url, { dir });
    const [first] = readMigrations(dir);
    appendFileSync(join(dir, first!.name, 'migration.sql'), '\n-- edited afterwards\n');
    // A new migration waiting behind the tampered one must not be applied either.
    const extra = join(dir, '29991231000000_later');
    cpSync(join(dir, first!.name), extra, { recursive: true });
    writeFileSync(join(extra, 'migration.sql'), 'CREATE TABLE `later_table` (`id` INTEGER NOT NULL PRIMARY KEY);\n');

    const err = await applyMigrations(db.url, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain(first!.name);
    expect((err as Error).message).toMatch(/modified after it was applied/);
    const later = await query(
      db.url,
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'later_table'",
      [db.name],
    );
    expect(later).toHaveLength(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a migration that fails is recorded unfinished and blocks later runs until resolved', async () => {
  const db = await createTestDatabase({ migrate: false });
  dbs.push(db);
  const dir = mkdtempSync(join(tmpdir(), 'etu-migrations-'));
  try {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const bad = join(dir, '29991231000000_broken');
    cpSync(join(dir, readMigrations(dir)[0]!.name), bad, { recursive: true });
    writeFileSync(join(bad, 'migration.sql'), 'CREATE TABLE `utilisateurs` (`id` INTEGER);\n'); // already exists
    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/29991231000000_broken failed/);
    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/failed in an earlier run/);
    const [row] = await query<{ finished_at: Date | null; logs: string }>(
      db.url,
      "SELECT finished_at, logs FROM _prisma_migrations WHERE migration_name = '29991231000000_broken'",
    );
    expect(row!.finished_at).toBeNull();
    expect(row!.logs).toMatch(/exists/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tables and columns of DESIGN.md exist after migrating', async () => {
  const db = await createTestDatabase();
  dbs.push(db);
  const cols = await query<{ TABLE_NAME: string; COLUMN_NAME: string; IS_NULLABLE: string; COLUMN_TYPE: string }>(
    db.url,
    "SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('utilisateurs','articles') ORDER BY TABLE_NAME, ORDINAL_POSITION",
    [db.name],
  );
  const byTable = (t: string) => cols.filter((c) => c.TABLE_NAME === t).map((c) => c.COLUMN_NAME);
  expect(byTable('utilisateurs')).toEqual([
    'id',
    'public_id',
    'nom',
    'prenom',
    'email',
    'mot_de_passe',
    'role',
    'created_at',
    'supprime_at',
  ]);
  expect(byTable('articles')).toEqual([
    'id',
    'vendeur_id',
    'titre',
    'categorie',
    'prix_centimes',
    'description',
    'statut',
    'acheteur_id',
    'created_at',
    'vendu_at',
    'cle_idempotence',
    'etat',
    'photos',
    'version',
  ]);
  const col = (t: string, c: string) => cols.find((x) => x.TABLE_NAME === t && x.COLUMN_NAME === c)!;
  expect(col('articles', 'statut').COLUMN_TYPE).toBe("enum('disponible','vendu')");
  expect(col('articles', 'acheteur_id').IS_NULLABLE).toBe('YES');
  expect(col('articles', 'vendu_at').IS_NULLABLE).toBe('YES');
  expect(col('articles', 'etat').COLUMN_TYPE).toBe("enum('neuf','tres_bon_etat','bon_etat','etat_correct')");
  expect([col('articles', 'version').COLUMN_TYPE, col('articles', 'version').IS_NULLABLE]).toEqual(['int(11)', 'NO']);
  const unique = await query<{ INDEX_NAME: string; NON_UNIQUE: number | bigint }>(
    db.url,
    "SELECT INDEX_NAME, NON_UNIQUE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'utilisateurs' AND COLUMN_NAME = 'email'",
    [db.name],
  );
  expect(unique.map((u) => [u.INDEX_NAME, Number(u.NON_UNIQUE)])).toEqual([['utilisateurs_email_key', 0]]);
  // A sale form's key is unique per seller (issue 22): the index covers (vendeur_id, cle_idempotence).
  const saleKey = await query<{ COLUMN_NAME: string; NON_UNIQUE: number | bigint }>(
    db.url,
    "SELECT COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'articles' AND INDEX_NAME = 'articles_vendeur_id_cle_idempotence_key' ORDER BY SEQ_IN_INDEX",
    [db.name],
  );
  expect(saleKey.map((k) => [k.COLUMN_NAME, Number(k.NON_UNIQUE)])).toEqual([
    ['vendeur_id', 0],
    ['cle_idempotence', 0],
  ]);
  const fks = await query<{ COLUMN_NAME: string; REFERENCED_TABLE_NAME: string }>(
    db.url,
    "SELECT COLUMN_NAME, REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'articles' AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY COLUMN_NAME",
    [db.name],
  );
  expect(fks).toEqual([
    { COLUMN_NAME: 'acheteur_id', REFERENCED_TABLE_NAME: 'utilisateurs' },
    { COLUMN_NAME: 'vendeur_id', REFERENCED_TABLE_NAME: 'utilisateurs' },
  ]);
});

test('accounts that existed before the public ids get distinct random UUIDs v4; the database gets its identity', async () => {
  const db = await createTestDatabase({ migrate: false });
  dbs.push(db);
  const dir = mkdtempSync(join(tmpdir(), 'etu-migrations-'));
  try {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    for (const m of readMigrations(dir).filter((m) => m.name >= '20261127150000')) rmSync(join(dir, m.name), { recursive: true });
    await applyMigrations(db.url, { dir });
    for (let i = 0; i < 50; i++) {
      await query(db.url, "INSERT INTO utilisateurs (nom, prenom, email, mot_de_passe) VALUES ('N', 'P', ?, 'h')", [`u${i}@etu.example`]);
    }
    await applyMigrations(db.url);
    const rows = await query<{ public_id: string }>(db.url, 'SELECT public_id FROM utilisateurs');
    expect(rows).toHaveLength(50);
    for (const r of rows) expect(r.public_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(rows.map((r) => r.public_id)).size).toBe(50);
    const inst = await query<{ id: string }>(db.url, 'SELECT id FROM etu_instance');
    expect(inst).toHaveLength(1);
    expect(inst[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('schema.prisma and the SQL agree: the generated client writes and reads every field', async () => {
  const db = await createTestDatabase();
  dbs.push(db);
  const prisma = createPrismaClient(db.url, { connectionLimit: 2 });
  try {
    const seller = await prisma.user.create({
      data: {
        lastName: 'Martin',
        firstName: 'Camille',
        email: 'camille@etu.example',
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y',
        role: 'ADMIN',
      },
    });
    const buyer = await prisma.user.create({ data: { lastName: 'Petit', firstName: 'Léa', email: 'lea@etu.example', passwordHash: 'h' } });
    expect(buyer.role).toBe('STUDENT');
    const soldAt = new Date('2026-11-26T10:00:00.123Z');
    const title = 'Le Petit Prince <script>"x"</script> 📚';
    const l = await prisma.listing.create({
      data: {
        sellerId: seller.id,
        title,
        category: 'BOOK',
        priceCents: 1250,
        description: 'Très bon état — 🎓',
        status: 'vendu',
        buyerId: buyer.id,
        soldAt,
        idempotencyKey: 'form-1',
        version: 3,
      },
    });
    const back = await prisma.listing.findUniqueOrThrow({ where: { id: l.id }, include: { seller: true, buyer: true } });
    expect(back).toMatchObject({
      title,
      category: 'BOOK',
      priceCents: 1250,
      description: 'Très bon état — 🎓',
      status: 'vendu',
      soldAt,
      idempotencyKey: 'form-1',
      version: 3,
    });
    // One key per seller: the same key again is refused by the unique index.
    await expect(
      prisma.listing.create({
        data: { sellerId: seller.id, title: 'x', category: 'BOOK', priceCents: 1, description: '', idempotencyKey: 'form-1' },
      }),
    ).rejects.toMatchObject({ code: 'P2002' });
    expect(back.seller.email).toBe('camille@etu.example');
    expect(back.buyer?.firstName).toBe('Léa');
    expect(back.createdAt).toBeInstanceOf(Date);
    // A new account gets its public id from the client (uuid(4)), distinct from the other's.
    expect(seller.publicId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(buyer.publicId).not.toBe(seller.publicId);
    expect((await prisma.instance.findMany()).length).toBe(1);
    // The unique index is case-insensitive as the auth service relies on (it also lower-cases).
    await expect(
      prisma.user.create({ data: { lastName: 'X', firstName: 'Y', email: 'CAMILLE@etu.example', passwordHash: 'h' } }),
    ).rejects.toMatchObject({ code: 'P2002' });
  } finally {
    await prisma.$disconnect();
  }
});

test('`node prisma/dist/cli.js migrate` creates a missing database and migrates it', async () => {
  const name = `etu_t_cli_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(TEST_SERVER_URL, name);
  try {
    const run = () =>
      spawnSync(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), 'migrate'], {
        env: { ...process.env, DATABASE_URL: url },
        encoding: 'utf8',
      });
    const r1 = run();
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(r1.stdout).toMatch(new RegExp(`${readMigrations().length} applied, 0 already applied|prisma migrate deploy`));
    const r2 = run();
    expect(r2.status).toBe(0);
    expect(r2.stdout).toMatch(new RegExp(`0 applied, ${readMigrations().length} already applied|prisma migrate deploy`));
    const tables = await query(url, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'articles'", [
      name,
    ]);
    expect(tables).toHaveLength(1);
  } finally {
    await query(withDatabase(TEST_SERVER_URL, 'test'), `DROP DATABASE IF EXISTS \`${name}\``);
  }
});

test('the CLI says how to start MariaDB when it cannot reach it', () => {
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), 'migrate'], {
    env: { ...process.env, DATABASE_URL: 'mysql://root@127.0.0.1:1/etuservices' },
    encoding: 'utf8',
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/cannot reach MariaDB/);
  expect(r.stderr).toMatch(/start-stop-daemon|apt-get install/);
});

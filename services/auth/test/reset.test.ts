// « Mot de passe oublié » and « Supprimer mon compte » in AuthService (issue 19, item 5), through a
// real gRPC server over a database of this file's own: the token is stored as its SHA-256 only,
// works once, for 30 minutes, under the sign-up rules; an erased account keeps its row without
// names, address or hash, is found by nobody, and frees its address.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { createTestDatabase, testLogger, type TestDatabase } from '@etu/testkit';
import { failure, newUser, startHarness, type Harness } from './helpers';

let db: TestDatabase;
let prisma: PrismaClient;
let h: Harness;
const logLines: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = createPrismaClient(db.url);
  h = await startHarness(db.url, { log: testLogger(logLines) });
});

afterAll(async () => {
  await h?.stop();
  await prisma?.$disconnect();
  await db?.drop();
});

async function registered() {
  const req = newUser();
  const { user } = await h.client.call.register(req);
  return { ...req, id: user!.id };
}

describe('password reset', () => {
  test('a token is issued for a known address only, stored as its SHA-256, never logged', async () => {
    const u = await registered();
    const { token, user } = await h.client.call.startPasswordReset({ email: `  ${u.email.toUpperCase()} ` });
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(user).toMatchObject({ id: u.id, email: u.email });
    const rows = await prisma.passwordReset.findMany({ where: { user: { publicId: u.id } } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.tokenHash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime()).toBe(30 * 60_000);
    expect(JSON.stringify(await prisma.passwordReset.findMany())).not.toContain(token);
    expect(logLines.join('\n')).not.toContain(token);

    expect(await h.client.call.startPasswordReset({ email: 'personne@etu.example' })).toEqual({ token: '' });
    expect(await h.client.call.startPasswordReset({ email: '' })).toEqual({ token: '' });
  });

  test('a token sets a password once; the old password stops working; a newer token revokes older ones', async () => {
    const u = await registered();
    const first = (await h.client.call.startPasswordReset({ email: u.email })).token;
    const { token } = await h.client.call.startPasswordReset({ email: u.email });
    expect((await h.client.call.checkPasswordReset({ token: first })).valid).toBe(false);
    expect((await h.client.call.checkPasswordReset({ token })).valid).toBe(true);

    // The sign-up rules apply, and a refused password leaves the token usable.
    const weak = await failure(h.client.call.resetPassword({ token, password: 'court' }));
    expect(weak.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await h.client.call.checkPasswordReset({ token })).valid).toBe(true);

    const res = await h.client.call.resetPassword({ token, password: 'une toute nouvelle phrase' });
    expect(res.user?.id).toBe(u.id);
    expect((await h.client.call.authenticate({ email: u.email, password: 'une toute nouvelle phrase' })).user?.id).toBe(u.id);
    expect((await failure(h.client.call.authenticate({ email: u.email, password: u.password }))).code).toBe(grpc.status.UNAUTHENTICATED);

    // Used up.
    const again = await failure(h.client.call.resetPassword({ token, password: 'encore une autre phrase' }));
    expect(again.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(again.details).toContain('n’est plus valable');
    expect((await failure(h.client.call.resetPassword({ token: first, password: 'encore une autre phrase' }))).code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
    expect((await failure(h.client.call.resetPassword({ token: 'x'.repeat(43), password: 'encore une autre phrase' }))).code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
  });

  test('past 30 minutes a token is refused', async () => {
    const u = await registered();
    const { token } = await h.client.call.startPasswordReset({ email: u.email });
    await prisma.passwordReset.updateMany({ where: { user: { publicId: u.id } }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await h.client.call.checkPasswordReset({ token })).valid).toBe(false);
    expect((await failure(h.client.call.resetPassword({ token, password: 'une toute nouvelle phrase' }))).code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
  });

  test('of concurrent uses of one token, exactly one sets the password', async () => {
    const u = await registered();
    const { token } = await h.client.call.startPasswordReset({ email: u.email });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => h.client.call.resetPassword({ token, password: `phrase concurrente numéro ${i}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('account deletion', () => {
  test('erases names, address and hash, keeps the row, hides it from every lookup, frees the address', async () => {
    const u = await registered();
    await h.client.call.startPasswordReset({ email: u.email });
    await h.client.call.deleteAccount({ id: u.id });
    const row = await prisma.user.findUniqueOrThrow({ where: { publicId: u.id } });
    expect(row).toMatchObject({ email: null, firstName: '', lastName: '', passwordHash: '' });
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect(await prisma.passwordReset.count({ where: { userId: row.id } })).toBe(0);
    expect((await h.client.call.getUsers({ ids: [u.id] })).users).toEqual([]);
    expect((await failure(h.client.call.authenticate({ email: u.email, password: u.password }))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await h.client.call.startPasswordReset({ email: u.email })).toEqual({ token: '' });
    expect((await failure(h.client.call.deleteAccount({ id: u.id }))).code).toBe(grpc.status.NOT_FOUND);
    // The address is free again: a new account, another id.
    const { user } = await h.client.call.register({ ...newUser(), email: u.email });
    expect(user?.id).not.toBe(u.id);
  });
});

// The database going away and coming back, without touching the shared MariaDB: the server
// talks to it through a TCP relay of the test's own, which the test cuts and restores, or
// points at a port where nothing listens.
import * as grpc from '@grpc/grpc-js';
import { checkHealth, createServiceClient } from '@etu/common';
import { freePort, startTcpRelay, TEST_TOKEN, testLogger } from '@etu/testkit';
import { guardDriverRejections, parseDatabaseUrl, withDatabase } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { auth } from '@etu/proto';
import { DB_UNAVAILABLE } from '../src/accounts';
import { eventually, failure, newUser, startHarness, type Harness } from './helpers';

let db: TestDatabase;
let unguard: () => void;

beforeAll(async () => {
  // As main.ts does in production: the driver's orphaned rejection during a cut is logged, not fatal.
  unguard = guardDriverRejections(testLogger());
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
  unguard?.();
});

/**
 * Every RPC answers UNAVAILABLE (not UNKNOWN, not INTERNAL, not DEADLINE_EXCEEDED), well before
 * the caller's deadline: the gate answers within 600 + 300 ms, the pool within 1 s (1.5 s here:
 * margin for a loaded machine). Register and Authenticate hash first (argon2id, slow on a loaded
 * machine), so only GetUsers, which does nothing else, is timed.
 */
async function expectAllUnavailable(h: Harness): Promise<void> {
  const req = newUser();
  for (const call of [
    () => h.client.call.register(req, { timeoutMs: 4000 }),
    () => h.client.call.authenticate({ email: req.email, password: req.password }, { timeoutMs: 4000 }),
    () => h.client.call.getUsers({ ids: ['00000000-0000-4000-8000-000000000000'] }, { timeoutMs: 4000 }),
  ]) {
    const err = await failure(call());
    expect({ code: grpc.status[err.code], details: err.details }).toEqual({ code: 'UNAVAILABLE', details: DB_UNAVAILABLE });
  }
  const started = Date.now();
  const err = await failure(h.client.call.getUsers({ ids: ['00000000-0000-4000-8000-000000000001'] }, { timeoutMs: 4000 }));
  expect([grpc.status[err.code], Date.now() - started < 1500]).toEqual(['UNAVAILABLE', true]);
}

/** A server reaching the test's database through a relay of its own. */
async function viaRelay(): Promise<{ h: Harness; relay: Awaited<ReturnType<typeof startTcpRelay>> }> {
  const s = parseDatabaseUrl(db.url);
  const relay = await startTcpRelay({ host: s.host, port: s.port });
  const url = withDatabase(db.url, s.database).replace(`:${s.port}/`, `:${relay.port}/`);
  expect(parseDatabaseUrl(url).port).toBe(relay.port);
  return { h: await startHarness(url), relay };
}

test('no database at all: calls fail with UNAVAILABLE before their deadline and health stays NOT_SERVING', async () => {
  const closed = await freePort();
  // No waiting for a database that will never answer before listening (WARM_UP_MS).
  const h = await startHarness(`mysql://root@127.0.0.1:${closed}/etuservices`, { warmUpMs: 0 });
  try {
    await expectAllUnavailable(h);
    expect(await checkHealth(h.addr)).toBe('NOT_SERVING');
    expect(await checkHealth(h.addr, 'etuservices.auth.v1.AuthService')).toBe('NOT_SERVING');
  } finally {
    await h.stop();
  }
});

test('a database outage: SERVING → UNAVAILABLE and NOT_SERVING → SERVING again by itself once it is back', async () => {
  const { h, relay } = await viaRelay();
  try {
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING');
    const before = newUser();
    await h.client.call.register(before);

    await relay.cut();
    await expectAllUnavailable(h);
    await eventually(async () => (await checkHealth(h.addr)) === 'NOT_SERVING');

    await relay.restore();
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING', 15_000);
    // The same server process serves again: old account logs in, new ones register.
    await expect(h.client.call.authenticate({ email: before.email, password: before.password })).resolves.toMatchObject({
      user: { email: before.email },
    });
    await expect(h.client.call.register(newUser())).resolves.toMatchObject({ user: { role: auth.Role.ROLE_STUDENT } });
  } finally {
    await h.stop();
    await relay.close();
  }
});

test('a silent database (accepts connections, never answers): UNAVAILABLE in under a second, NOT_SERVING; back by itself', async () => {
  const { h, relay } = await viaRelay();
  try {
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING');
    const before = newUser();
    await h.client.call.register(before);

    relay.holdReplies(true);
    // The first call of the outage too: it is the one that waits for the query timeout.
    const started = Date.now();
    const first = await failure(h.client.call.getUsers({ ids: ['00000000-0000-4000-8000-000000000000'] }, { timeoutMs: 4000 }));
    expect([grpc.status[first.code], first.details, Date.now() - started < 1500]).toEqual(['UNAVAILABLE', DB_UNAVAILABLE, true]);
    await expectAllUnavailable(h);
    await eventually(async () => (await checkHealth(h.addr)) === 'NOT_SERVING');

    relay.holdReplies(false);
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING', 15_000);
    await expect(h.client.call.authenticate({ email: before.email, password: before.password })).resolves.toMatchObject({
      user: { email: before.email },
    });
  } finally {
    await h.stop();
    await relay.close();
  }
});

test('connections cut during their handshake (the driver reports 45033): UNAVAILABLE, never INTERNAL, nothing left unhandled', async () => {
  const { h, relay } = await viaRelay();
  try {
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING');
    relay.cutWhenClientSends('time_zone');
    await relay.cut();
    await relay.restore();
    await expectAllUnavailable(h);
    relay.cutWhenClientSends(null);
    await eventually(async () => (await checkHealth(h.addr)) === 'SERVING', 15_000);
    // A connection the pool kept from the cut may fail its first query once (UNAVAILABLE, as
    // above); then the same process serves again.
    let registered: auth.User | undefined;
    await eventually(async () => {
      registered = (await h.client.call.register(newUser())).user;
      return true;
    });
    expect(registered).toMatchObject({ role: auth.Role.ROLE_STUDENT });
  } finally {
    await h.stop();
    await relay.close();
  }
});

test('close() is idempotent and also works after the signal handler already shut gRPC down', async () => {
  const h = await startHarness(db.url);
  await h.server.grpc.shutdown(500);
  await h.server.close();
  await h.server.close();
  const c = createServiceClient(auth.AuthServiceClient, h.addr, { token: TEST_TOKEN, timeoutMs: 1000 });
  const err = await failure(c.call.getUsers({ ids: [] }));
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  c.close();
  h.client.close();
});

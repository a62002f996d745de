// The database gate on a real MariaDB behind a TCP relay of the test's own: a database that goes
// silent is refused as unavailable even when an answer to an older query arrived while the
// caller's query was waiting (that answer left the database before the silence).
import { createPrismaClient, DatabaseGate, parseDatabaseUrl, withDatabase, type PrismaClient } from '@etu/db';
import { createTestDatabase, startTcpRelay, type TcpRelay, type TestDatabase } from '@etu/testkit';

class Unavailable extends Error {
  override name = 'Unavailable';
}

/** What a gated query ends as, or 'still waiting' after `ms`. */
async function outcome(p: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  const settled = p.then(
    () => 'answered',
    (err: unknown) => (err instanceof Error ? err.name : String(err)),
  );
  try {
    return await Promise.race([settled, waited]);
  } finally {
    clearTimeout(timer);
  }
}

let tdb: TestDatabase;
let relay: TcpRelay;
let db: PrismaClient;

beforeAll(async () => {
  tdb = await createTestDatabase();
  const s = parseDatabaseUrl(tdb.url);
  relay = await startTcpRelay({ host: s.host, port: s.port });
  const viaRelay = new URL(withDatabase(tdb.url, tdb.name));
  viaRelay.hostname = '127.0.0.1';
  viaRelay.port = String(relay.port);
  db = createPrismaClient(viaRelay.toString(), { connectionLimit: 3 });
});

afterAll(async () => {
  relay?.holdReplies(false);
  await db?.$disconnect();
  await relay?.close();
  await tdb?.drop();
});

test('silent right after another query answered: unavailable within one more window, not left waiting', async () => {
  const gate = new DatabaseGate(db, { unavailable: () => new Unavailable('indisponible') });
  await gate.run(() => db.$queryRaw`SELECT 1`);
  // An older query answers while the victim waits; then the database answers nothing more.
  const older = gate.run(() => db.$queryRaw`SELECT SLEEP(0.4)`);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const victim = gate.run(() => db.$queryRaw`SELECT SLEEP(0.5)`);
  await older;
  relay.holdReplies(true);
  expect(await outcome(victim, 5000)).toBe('Unavailable');
  // Two windows of QUERY_TIMEOUT_MS (the first had the older answer) and the check: 1.5 s, and margin.
  expect(Date.now() - started).toBeLessThan(2500);
  expect(gate.isDown).toBe(true);
  await expect(gate.run(() => db.$queryRaw`SELECT 1`)).rejects.toThrow(Unavailable);
  // Answering again: the health probe opens the gate.
  relay.holdReplies(false);
  await gate.probe();
  expect(gate.isDown).toBe(false);
});

test('busy, not silent: a query slower than the timeout still gets its answer', async () => {
  const gate = new DatabaseGate(db, { unavailable: () => new Unavailable('indisponible') });
  await gate.run(() => db.$queryRaw`SELECT 1`);
  expect(
    await outcome(
      gate.run(() => db.$queryRaw`SELECT SLEEP(1.2)`),
      5000,
    ),
  ).toBe('answered');
  expect(gate.isDown).toBe(false);
});

// The driver's socket timeout counts idle time: a pool nobody used for that long has every
// connection closed at once, and the next query pays for reconnecting (in a CPU-limited container
// under load, past the pool's one-second acquire timeout: a 503). keepPoolWarm keeps the idle
// connections in use; the same pools, left alone, show what happens without it.
import { createDriverPool, createPrismaClient, keepPoolWarm, withDatabase, type DriverPool, type PrismaClient } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';

const CONNECTIONS = 3;
const SOCKET_TIMEOUT_MS = 1200;
/** Idle longer than the socket timeout, with room for a slow machine. */
const IDLE_MS = 2500;

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.drop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server-side ids of the connections `CONNECTIONS` simultaneous queries ran on (a pool
 * still opening its connections may serve them on fewer). */
async function connectionIds(query: () => Promise<number>): Promise<number[]> {
  const ids = await Promise.all(Array.from({ length: CONNECTIONS }, query));
  return [...new Set(ids)].sort((a, b) => a - b);
}

describe.each([
  ['the mariadb driver pool', 'driver'],
  ['a Prisma client', 'prisma'],
] as const)('%s idle past its socket timeout', (_label, kind) => {
  let close: () => Promise<void>;
  let ping: () => Promise<unknown>;
  let idOfConnection: () => Promise<number>;

  beforeEach(() => {
    const url = withDatabase(tdb.url, tdb.name);
    const opts = { connectionLimit: CONNECTIONS, socketTimeoutMs: SOCKET_TIMEOUT_MS };
    if (kind === 'driver') {
      const pool: DriverPool = createDriverPool(url, opts);
      ping = () => pool.query('SELECT 1');
      // SLEEP keeps each connection busy, so that simultaneous queries take one each.
      idOfConnection = async () => Number((await pool.query<{ id: bigint }[]>('SELECT CONNECTION_ID() AS id, SLEEP(0.1) AS s'))[0]!.id);
      close = () => pool.end();
    } else {
      const db: PrismaClient = createPrismaClient(url, opts);
      ping = () => db.$queryRaw`SELECT 1`;
      idOfConnection = async () => Number((await db.$queryRaw<{ id: bigint }[]>`SELECT CONNECTION_ID() AS id, SLEEP(0.1) AS s`)[0]!.id);
      close = () => db.$disconnect();
    }
  });
  afterEach(async () => {
    await close();
  });

  test('left alone: its connections are closed and the next queries run on new ones', async () => {
    const before = await connectionIds(idOfConnection);
    await pause(IDLE_MS);
    const after = await connectionIds(idOfConnection);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
  });

  test('kept warm: the queries after the idle time run on the connections opened before it', async () => {
    const before = await connectionIds(idOfConnection);
    const stop = keepPoolWarm(ping, () => CONNECTIONS, SOCKET_TIMEOUT_MS / 3);
    try {
      await pause(IDLE_MS);
      const after = await connectionIds(idOfConnection);
      expect(before.filter((id) => !after.includes(id))).toEqual([]);
    } finally {
      stop();
    }
  });
});

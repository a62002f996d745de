// Issue 15 items 3-5 at the auth service: guessable passwords and passwords resembling the
// account are refused in French with nothing stored (ASVS 5 §6.2.4, §6.2.11), names refuse
// invisible characters, and the argon2 work in progress is bounded (excess → RESOURCE_EXHAUSTED
// at once, not a queue that grows).
import * as grpc from '@grpc/grpc-js';
import * as common from '@zxcvbn-ts/language-common';
import { codePoints } from '@etu/common';
import { createPrismaClient, type PrismaClient } from '@etu/db';
import { createTestDatabase, type TestDatabase } from '@etu/testkit';
import { CURRENT_PARAMS, HashGate, HASHING_BUSY, PASSWORD_MIN, PasswordHasher } from '../src/passwords';
import { weakPasswordReason } from '../src/strength';
import { failure, newUser, startHarness, type Harness } from './helpers';

let db: TestDatabase;
let prisma: PrismaClient;
let h: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = createPrismaClient(db.url);
  h = await startHarness(db.url);
});

afterAll(async () => {
  await h?.stop();
  await prisma?.$disconnect();
  await db?.drop();
});

const refused = async (over: Parameters<typeof newUser>[0]) => {
  const before = await prisma.user.count();
  const err = await failure(h.client.call.register(newUser(over)));
  expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(await prisma.user.count()).toBe(before);
  return err.details;
};

test('common passwords are refused, saying why in French', async () => {
  for (const password of ['12345678', 'motdepasse', 'azertyuiop', 'password1', 'iloveyou', 'soleil123', 'aaaaaaaaaaaa']) {
    expect(await refused({ password })).toMatch(/^password: ce mot de passe est trop facile à deviner/);
  }
  expect(await refused({ password: '12345678' })).toContain('très utilisé');
});

test('the 3,000 most common passwords that are long enough are all refused', () => {
  const top = common.dictionary['passwords-common'].slice(0, 3000).filter((p) => codePoints(p) >= PASSWORD_MIN);
  expect(top.length).toBeGreaterThan(500);
  const accepted = top.filter((p) => weakPasswordReason(p) === undefined);
  expect(accepted).toEqual([]);
});

test('a long password is judged on its first 32 characters, quickly', () => {
  const started = Date.now();
  expect(weakPasswordReason('1234'.repeat(32))).toBeDefined();
  expect(weakPasswordReason('aZ9!'.repeat(32))).toBeDefined();
  expect(weakPasswordReason('une phrase de passe assez longue pour tenir, vraiment')).toBeUndefined();
  // Functional bound with a wide margin (the defaults took 0.9 s to 6 s for each of the first two).
  expect(Date.now() - started).toBeLessThan(2000);
});

test('a password equal to the email, containing its local part or a name is refused in French', async () => {
  const email = `Jeanne.Berthier.${process.pid}@etu.example`;
  const who = { email, firstName: 'Jeanne', lastName: 'Berthier' };
  expect(await refused({ ...who, password: email.toLowerCase() })).toBe('password: le mot de passe ne doit pas être votre adresse e-mail.');
  expect(await refused({ ...who, password: `x-${email.split('@')[0]!.toUpperCase()}-x` })).toContain('adresse e-mail');
  expect(await refused({ ...who, password: 'jéanne et ses 3 chats' })).toBe('password: le mot de passe ne doit pas contenir votre prénom.');
  expect(await refused({ ...who, password: 'la famille BERTHIER gagne' })).toBe(
    'password: le mot de passe ne doit pas contenir votre nom.',
  );
  // The same password is fine for someone else.
  const { user } = await h.client.call.register(newUser({ password: 'la famille BERTHIER gagne' }));
  expect(user?.id).toBeDefined();
});

test('a name without a letter, or starting with a lone accent, is refused in French', async () => {
  expect(await refused({ firstName: '\u0301\u0301' })).toBe('first_name: le prénom doit contenir au moins une lettre.');
  expect(await refused({ lastName: '…' })).toBe('last_name: le nom doit contenir au moins une lettre.');
  expect(await refused({ firstName: '\u0301Ana' })).toBe('first_name: le prénom ne peut pas commencer par un accent seul.');
});

test('names with an invisible or text-direction character are refused', async () => {
  expect(await refused({ firstName: 'Ca\u200Bmille' })).toMatch(/^first_name: le prénom contient un caractère invisible \(U\+200B\)/);
  expect(await refused({ lastName: 'Martin\u200F' })).toMatch(
    /^last_name: le nom contient un caractère de contrôle de direction du texte \(U\+200F\)/,
  );
});

describe('bounded hashing', () => {
  test('HashGate: at most `concurrency` run, at most `queue` wait, the next is refused at once', async () => {
    const gate = new HashGate({ concurrency: 2, queue: 1 });
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const work = () =>
      gate.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
        return 'fait';
      });
    const a = work();
    const b = work();
    const c = work(); // waits
    await expect(work()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, message: HASHING_BUSY });
    await new Promise((r) => setImmediate(r));
    expect(releases).toHaveLength(2);
    releases.shift()!();
    await a;
    await new Promise((r) => setImmediate(r));
    expect(releases).toHaveLength(2); // the waiter took the freed slot
    releases.splice(0).forEach((r) => r());
    await new Promise((r) => setImmediate(r));
    releases.splice(0).forEach((r) => r());
    expect(await Promise.all([b, c])).toEqual(['fait', 'fait']);
    expect(most).toBe(2);
    // Everything released: the gate admits again.
    const d = work();
    await new Promise((r) => setImmediate(r));
    releases.splice(0).forEach((r) => r());
    await expect(d).resolves.toBe('fait');
  });

  test('HashGate: a hash waits while its expected wait is within maxWaitMs, measured from the hashes done', async () => {
    // One slot; hashes of about 100 ms once measured; up to 280 ms of expected wait: the 1st
    // waiter (about 100 ms ahead) and the 2nd (about 200 ms) are admitted, the 3rd (about 300 ms)
    // is refused at once, although the count bound (100) is far away.
    const gate = new HashGate({ concurrency: 1, queue: 100, maxWaitMs: 280 });
    const hundredMs = () => gate.run(() => new Promise<string>((r) => setTimeout(() => r('fait'), 100)));
    for (let i = 0; i < 10; i++) await hundredMs(); // the average moves from its first estimate to ~100 ms
    const running = hundredMs();
    const first = hundredMs();
    const second = hundredMs();
    const started = Date.now();
    await expect(hundredMs()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, message: HASHING_BUSY });
    expect(Date.now() - started).toBeLessThan(50); // refused without waiting
    expect(await Promise.all([running, first, second])).toEqual(['fait', 'fait', 'fait']);
    // The queue drained: the next hash is admitted again.
    await expect(hundredMs()).resolves.toBe('fait');
  });

  test("HashGate: a hash waits only if it can be done before its caller's deadline; one whose caller gave up is skipped", async () => {
    const gate = new HashGate({ concurrency: 1, queue: 100, maxWaitMs: 60_000 });
    const timed = (ms: number, deadline?: number, ran?: string[]) =>
      gate.run(() => {
        ran?.push('ran');
        return new Promise<string>((r) => setTimeout(() => r('fait'), ms));
      }, deadline);
    for (let i = 0; i < 10; i++) await timed(100); // the average hash: ~100 ms
    // A 100 ms hash runs; a waiter would start in ~100 ms and end in ~200 ms.
    const running = timed(100);
    await expect(timed(100, Date.now() + 150)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, message: HASHING_BUSY });
    await expect(Promise.all([running, timed(100, Date.now() + 1000)])).resolves.toEqual(['fait', 'fait']);
    // Admitted on the estimate, but the hash ahead takes 600 ms: the caller's deadline (400 ms)
    // has passed when the slot comes, so its hash is not computed and the slot passes on.
    const long = timed(600);
    const ran: string[] = [];
    const late = timed(100, Date.now() + 400, ran);
    const next = timed(100);
    await expect(late).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(ran).toEqual([]);
    await expect(Promise.all([long, next])).resolves.toEqual(['fait', 'fait']);
  });

  test('a burst of sign-ups beyond the bound gets fast RESOURCE_EXHAUSTED; only the admitted ones exist', async () => {
    // One slot, one waiting place, and slow hashes (t = 30 instead of 2), so that the hashes
    // in progress clearly outlast the refusals whatever the machine's load.
    const slow = new PasswordHasher({ ...CURRENT_PARAMS, timeCost: 30 }, new HashGate({ concurrency: 1, queue: 1 }));
    const tight = await startHarness(db.url, { hasher: slow });
    try {
      const reqs = Array.from({ length: 12 }, () => newUser());
      const outcomes = await Promise.all(
        reqs.map(async (r) => {
          const started = Date.now();
          try {
            await tight.client.call.register(r);
            return { ok: true, email: r.email, ms: Date.now() - started };
          } catch (err) {
            const e = err as grpc.ServiceError;
            return { ok: false, email: r.email, code: e.code, details: e.details, ms: Date.now() - started };
          }
        }),
      );
      const refusals = outcomes.filter((o) => !o.ok);
      expect(refusals.length).toBeGreaterThan(0);
      for (const r of refusals) expect(r).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: HASHING_BUSY });
      // A refusal does not wait for the hashes in progress: every one is back before the last admitted sign-up.
      const admitted = outcomes.filter((o) => o.ok);
      expect(admitted.length).toBeGreaterThan(0);
      expect(Math.max(...refusals.map((r) => r.ms))).toBeLessThan(Math.max(...admitted.map((o) => o.ms)));
      const stored = await prisma.user.findMany({ where: { email: { in: reqs.map((r) => r.email) } }, select: { email: true } });
      expect(stored.map((s) => s.email).sort()).toEqual(
        outcomes
          .filter((o) => o.ok)
          .map((o) => o.email)
          .sort(),
      );
      // Once the burst is over, sign-ups are admitted again.
      await expect(tight.client.call.register(newUser())).resolves.toHaveProperty('user.id');
    } finally {
      await tight.stop();
    }
  });
});

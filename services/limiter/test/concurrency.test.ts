// Exactness under real concurrency: 1,000 Consume calls for ONE subject, fired at once over
// gRPC by 4 separate client processes (250 each, all in flight together), admit exactly
// `limit`. Five trials, each on a fresh subject; then once more with a limit of 100.
import { startHarness, type Harness } from './helpers';
import { startBurstClient, stopBurstClients, type BurstClient } from './burst-clients';

const PROCESSES = 4;
const CALLS = 1000;

let h: Harness;
let children: BurstClient[] = [];

beforeAll(async () => {
  h = await startHarness('service=10/10m,wide=100/10m');
  children = Array.from({ length: PROCESSES }, () => startBurstClient('consume-burst.js', h.addr));
  const ready = await Promise.all(children.map((c) => c.next()));
  expect(ready).toEqual(Array(PROCESSES).fill('ready'));
});

afterAll(async () => {
  await stopBurstClients(children);
  await h.close();
});

async function trial(policy: string, subject: string): Promise<{ allowed: number; denied: number; errors: number }> {
  const per = CALLS / PROCESSES;
  for (const c of children) c.proc.stdin.write(`go ${policy} ${subject} ${per}\n`);
  const replies = await Promise.all(children.map((c) => c.next()));
  const sum = { allowed: 0, denied: 0, errors: 0 };
  for (const r of replies) {
    const [verb, a, d, e, first] = r.split(' ');
    expect(verb).toBe('done');
    if (Number(e) > 0) throw new Error(`a client process saw ${e} errors (first code ${first})`);
    sum.allowed += Number(a);
    sum.denied += Number(d);
    sum.errors += Number(e);
  }
  return sum;
}

const admittedPerTrial: number[] = [];

test.each([1, 2, 3, 4, 5])('trial %i: 1,000 concurrent Consume from 4 processes admit exactly 10', async (n) => {
  const subject = `burst-${n}-${process.pid}`;
  const r = await trial('service', subject);
  admittedPerTrial.push(r.allowed);
  expect(r).toEqual({ allowed: 10, denied: 990, errors: 0 });
  expect(await h.storedTimes('service', subject)).toHaveLength(10);
  expect((await h.client.call.peek({ policy: 'service', subject })).decision).toMatchObject({ allowed: false, remaining: 0 });
});

test('with a limit of 100, exactly 100 of 1,000 are admitted', async () => {
  const subject = `wide-${process.pid}`;
  const r = await trial('wide', subject);
  admittedPerTrial.push(r.allowed);
  expect(r).toEqual({ allowed: 100, denied: 900, errors: 0 });
  const times = await h.storedTimes('wide', subject);
  expect(times).toHaveLength(100);
  // Stored oldest first.
  expect([...times].sort((a, b) => a - b)).toEqual(times);
  process.stdout.write(`limiter concurrency: admitted per trial ${admittedPerTrial.join(', ')}\n`);
});

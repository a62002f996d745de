// The limiter on a real Redis Cluster (testkit's startRedisCluster: six redis-server processes,
// three masters and three replicas, started here and killed afterwards). What callers observe:
// exact quotas under concurrency from several processes, batches split by slot and answered in
// order, a slot migrated under load without an error or an over-admission, and a killed master's
// replica taking over (the time to answer again and the decisions lost are measured and printed).
import * as grpc from '@grpc/grpc-js';
import { createRedis, createServiceClient, keySlot, Metrics, waitReady, type RedisClient, type ServiceClient } from '@etu/common';
import { startRedisCluster, TEST_TOKEN, testLogger, type RedisClusterHandle } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { startLimiterServer, type LimiterServer } from '../src/server';
import { decodeLog, keyFor, SlidingWindowStore } from '../src/sliding-window';
import { envoyKey } from '../src/envoy';
import { startEnvoyHarness } from './envoy-harness';
import { startBurstClient, stopBurstClients } from './burst-clients';
import { sleep, waitServing } from './helpers';

let cluster: RedisClusterHandle;
let server: LimiterServer;
let addr: string;
let client: ServiceClient<limiter.LimiterServiceClient>;
/** A cluster client of the test's own, to look at what is stored. */
let look: RedisClient;

const POLICIES = 'service=10/10m,mig=20/10m,big=1000/10m';
const metrics = new Metrics({ defaultMetrics: false });

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
  server = await startLimiterServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    redisUrl: cluster.url,
    policies: POLICIES,
    graceMs: 100,
    healthIntervalMs: 200,
    metrics,
  });
  addr = `127.0.0.1:${server.port}`;
  await waitServing(addr, 'SERVING', 10_000);
  client = createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 10_000 });
  look = createRedis(cluster.url, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 });
  await waitReady(look, 10_000);
}, 60_000);

afterAll(async () => {
  client?.close();
  look?.disconnect();
  await server?.close();
  await cluster?.stop();
});

/** Subjects whose keys (policy `policy`) are served by each master, `perMaster` of each. */
async function subjectsOnEveryMaster(policy: string, perMaster: number, prefix: string): Promise<Map<number, string[]>> {
  const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
  const out = new Map<number, string[]>(masters.map((m) => [m.port, []]));
  for (let i = 0; [...out.values()].some((s) => s.length < perMaster); i++) {
    const subject = `${prefix}-${i}`;
    const slot = keySlot(keyFor(policy, subject));
    const m = masters.find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b))!;
    const list = out.get(m.port)!;
    if (list.length < perMaster) list.push(subject);
  }
  return out;
}

/** Events stored for a subject (read from the master that holds the key). */
async function stored(policy: string, subject: string): Promise<number> {
  const v = await look.getBuffer(keyFor(policy, subject));
  return v ? decodeLog(v).timesUs.length : 0;
}

test('our hash slot of a key is the one Redis computes (CLUSTER KEYSLOT)', async () => {
  const keys = [
    'foo',
    '',
    'rl:{service:42}',
    'rl:{service:élève@etu.example}',
    '{}x',
    'a{}{b}',
    '{user1000}.following',
    'x{y',
    ...Array.from({ length: 50 }, (_, i) => keyFor('login', `u${i * 7919}`)),
  ];
  const n = cluster.node(cluster.ports[0]!);
  try {
    for (const k of keys) expect([k, keySlot(k)]).toEqual([k, await n.cluster('KEYSLOT', k)]);
  } finally {
    n.disconnect();
  }
});

// --- 1,000 concurrent Consume from 4 processes ---------------------------------------------

test('1,000 concurrent Consume from 4 processes, subjects on all three masters → exactly 10 per subject', async () => {
  const bySlotOwner = await subjectsOnEveryMaster('service', 2, `burst-${process.pid}`);
  expect(bySlotOwner.size).toBe(3);
  // 5 subjects (two masters get two, one gets one) x 4 processes x 50 calls = 1,000 calls in flight together.
  const subjects = [...bySlotOwner.values()].flat().slice(0, 5);
  const children = Array.from({ length: 4 }, () => startBurstClient('consume-burst.js', addr));
  try {
    expect(await Promise.all(children.map((c) => c.next()))).toEqual(['ready', 'ready', 'ready', 'ready']);
    for (const c of children) for (const s of subjects) c.proc.stdin.write(`go service ${s} 50\n`);
    const replies = await Promise.all(children.map((c) => Promise.all(subjects.map(() => c.next()))));
    const per = new Map<string, { allowed: number; denied: number; errors: number }>(
      subjects.map((s) => [s, { allowed: 0, denied: 0, errors: 0 }]),
    );
    for (const line of replies.flat()) {
      const [verb, a, d, e, first, subject] = line.split(' ');
      expect(verb).toBe('done');
      if (Number(e) > 0) throw new Error(`a client process saw ${e} errors (first: ${first})`);
      const sum = per.get(subject!)!;
      sum.allowed += Number(a);
      sum.denied += Number(d);
      sum.errors += Number(e);
    }
    for (const s of subjects) {
      expect([s, per.get(s)]).toEqual([s, { allowed: 10, denied: 190, errors: 0 }]);
      expect(await stored('service', s)).toBe(10);
    }
  } finally {
    await stopBurstClients(children);
  }
});

test('a batch over every master (1,000 items, hundreds of slots) answers every item, in order', async () => {
  const p = `batch-${process.pid}`;
  // 988 distinct subjects, then one subject 12 times: its first 10 admitted, the last 2 refused.
  const requests = [
    ...Array.from({ length: 988 }, (_, i) => ({ policy: 'service', subject: `${p}-${i}` })),
    ...Array.from({ length: 12 }, () => ({ policy: 'service', subject: `${p}-same` })),
  ];
  const slots = new Set(requests.map((r) => keySlot(keyFor(r.policy, r.subject))));
  expect(slots.size).toBeGreaterThan(900);
  const masters = new Set(await Promise.all([...slots].slice(0, 60).map(async (s) => (await cluster.masterOf(s)).port)));
  expect(masters.size).toBe(3);

  const { items } = await client.call.consumeBatch({ requests });
  expect(items).toHaveLength(1000);
  items.slice(0, 988).forEach((it) => expect(it.decision).toMatchObject({ allowed: true, remaining: 9, policy: 'service' }));
  expect(items.slice(988).map((it) => [it.decision?.allowed, it.decision?.remaining])).toEqual([
    ...Array.from({ length: 10 }, (_, i) => [true, 9 - i]),
    [false, 0],
    [false, 0],
  ]);
  // each counted once, where its slot lives
  for (const i of [0, 1, 500, 987]) expect(await stored('service', `${p}-${i}`)).toBe(1);
  expect(await stored('service', `${p}-same`)).toBe(10);
});

test("NOSCRIPT (every node's script cache flushed, as after a restart): the next calls are counted once", async () => {
  const subject = `noscript-${process.pid}`;
  expect((await client.call.consume({ policy: 'service', subject })).decision).toMatchObject({ allowed: true, remaining: 9 });
  for (const m of (await cluster.nodes()).filter((n) => n.role === 'master')) {
    const r = cluster.node(m.port);
    await r.script('FLUSH');
    r.disconnect();
  }
  expect((await client.call.consume({ policy: 'service', subject })).decision).toMatchObject({ allowed: true, remaining: 8 });
  const { items } = await client.call.consumeBatch({
    requests: [
      { policy: 'service', subject },
      { policy: 'service', subject: `${subject}-b` },
    ],
  });
  expect(items.map((i) => i.decision?.remaining)).toEqual([7, 9]);
  expect(await stored('service', subject)).toBe(3);
});

test("Envoy's API on a cluster: one descriptor is decided; an all-or-nothing request over several slots is refused, nothing counted", async () => {
  const rules =
    'domain: api\ndescriptors:\n  - key: client\n    rate_limit:\n      window: 10m\n      requests_per_unit: 10\n  - key: tenant\n    rate_limit:\n      window: 90s\n      requests_per_unit: 50\n';
  const h = await startEnvoyHarness({ 'api.yaml': rules }, { redisUrl: cluster.url });
  try {
    const c = `c-${process.pid}`;
    const t = `t-${process.pid}`;
    const one = await h.ask({ domain: 'api', descriptors: [[['client', c]]] });
    expect(one.overall_code).toBe('OK');
    expect(one.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 9 });
    const keys = [envoyKey('api', [{ key: 'client', value: c }], 600_000), envoyKey('api', [{ key: 'tenant', value: t }], 90_000)];
    expect(keySlot(keys[0]!)).not.toBe(keySlot(keys[1]!));
    const err = (await h.ask({ domain: 'api', descriptors: [[['client', c]], [['tenant', t]]] }).then(
      () => null,
      (e: unknown) => e,
    )) as grpc.ServiceError | null;
    expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err?.details).toMatch(/2 Redis Cluster slots and cannot be decided atomically/);
    // the refused request counted nothing: the client still has the one hit of the first request
    const counts = await Promise.all(keys.map(async (k) => ((v) => (v ? decodeLog(v).timesUs.length : 0))(await look.getBuffer(k))));
    expect(counts).toEqual([1, 0]);
    // resetting a request's counters (the admin API's ResetRateLimit) deletes keys of several slots
    await look.set(keys[1]!, 'x');
    await new SlidingWindowStore(look).deleteKeys(keys);
    expect(await Promise.all(keys.map((k) => look.exists(k)))).toEqual([0, 0]);
  } finally {
    await h.close();
  }
});

// --- a slot migrated while the load runs ---------------------------------------------------

test('one slot migrated key by key under load, lone calls and batches: no error reaches a caller, nobody over-admitted', async () => {
  const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
  const source = masters[0]!;
  const target = masters[1]!;
  // a slot that holds no key of the earlier tests: only this test's 20 keys move
  const probe = cluster.node(source.port);
  let slot = source.slots[0]![0] + 7;
  while ((await probe.cluster('COUNTKEYSINSLOT', slot)) > 0) slot++;
  probe.disconnect();
  // 20 subjects whose keys all hash to that slot
  const subjects: string[] = [];
  for (let i = 0; subjects.length < 20; i++)
    if (keySlot(keyFor('mig', `m${process.pid}-${i}`)) === slot) subjects.push(`m${process.pid}-${i}`);

  const allowed = new Map<string, number>(subjects.map((s) => [s, 0]));
  const errors: string[] = [];
  let running = true;
  let waves = 0;
  // 40 waves or more, each one Consume per subject (the policy admits 20 per subject): the first
  // 10 subjects by lone Consume calls, the other 10 in one ConsumeBatch (one script call for the
  // slot; while the slot is half moved, Redis answers it TRYAGAIN and the store decides its
  // items one by one)
  const lone = subjects.slice(0, 10);
  const batched = subjects.slice(10);
  const load = (async () => {
    while (running || waves < 40) {
      if (waves >= 200) break;
      await Promise.all([
        ...lone.map(async (s) => {
          try {
            const { decision } = await client.call.consume({ policy: 'mig', subject: s });
            if (decision?.allowed) allowed.set(s, allowed.get(s)! + 1);
          } catch (err) {
            errors.push(`${(err as grpc.ServiceError).code}: ${(err as Error).message}`);
          }
        }),
        (async () => {
          try {
            const { items } = await client.call.consumeBatch({ requests: batched.map((s) => ({ policy: 'mig', subject: s })) });
            items.forEach((it, i) => {
              if (it.error) errors.push(`item ${it.error.code}: ${it.error.message}`);
              else if (it.decision?.allowed) allowed.set(batched[i]!, allowed.get(batched[i]!)! + 1);
            });
          } catch (err) {
            errors.push(`batch ${(err as grpc.ServiceError).code}: ${(err as Error).message}`);
          }
        })(),
      ]);
      waves++;
      await sleep(5);
    }
  })();

  const src = cluster.node(source.port);
  const dst = cluster.node(target.port);
  const others = masters.slice(2).map((m) => cluster.node(m.port));
  try {
    while (waves < 3) await sleep(10); // the keys exist on the source
    await dst.cluster('SETSLOT', slot, 'IMPORTING', source.id);
    await src.cluster('SETSLOT', slot, 'MIGRATING', target.id);
    let moved = 0;
    for (;;) {
      const keys = await src.cluster('GETKEYSINSLOT', slot, 1);
      if (keys.length === 0) break;
      await src.migrate('127.0.0.1', target.port, keys[0]!, 0, 5000);
      moved++;
      await sleep(15); // calls run between two keys: some keys here, some there
    }
    expect(moved).toBe(20);
    for (const n of [dst, src, ...others]) await n.cluster('SETSLOT', slot, 'NODE', target.id);
    running = false;
    await load;
  } finally {
    running = false;
    await load;
    for (const n of [src, dst, ...others]) n.disconnect();
  }
  expect(errors).toEqual([]);
  expect(waves).toBeGreaterThanOrEqual(40);
  // the batch met the half-moved slot (TRYAGAIN until ioredis gave up) and was decided key by key
  expect(Number(/etu_limiter_redis_errors_total\{kind="redirect"\} (\d+)/.exec(await metrics.text())?.[1])).toBeGreaterThan(0);
  for (const s of subjects) {
    expect([s, allowed.get(s)]).toEqual([s, 20]);
    expect(await stored('mig', s)).toBe(20);
  }
  expect((await cluster.masterOf(slot)).port).toBe(target.port);
});

// --- a master killed -----------------------------------------------------------------------

test('a master killed: its replica takes over, the limiter answers again; decisions lost are counted', async () => {
  const bySlotOwner = await subjectsOnEveryMaster('big', 30, `fo-${process.pid}`);
  const [victimPort, victimSubjects] = [...bySlotOwner.entries()][2]!;
  const otherSubjects = [...bySlotOwner.entries()][0]![1];
  const acked = new Map<string, number>(victimSubjects.map((s) => [s, 0]));
  let killedAt = 0;
  let firstOkAfterKill = 0;
  let errorsAfterKill = 0;
  const otherErrors: number[] = [];
  let otherOkDuringOutage = 0;
  let stop = false;

  // 32 calls in flight at all times on the victim's subjects, until it answers again after the kill
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const s = victimSubjects[(w + i * 32) % victimSubjects.length]!;
      const sentAt = Date.now();
      try {
        const { decision } = await client.call.consume({ policy: 'big', subject: s });
        if (decision?.allowed) acked.set(s, acked.get(s)! + 1);
        if (killedAt && sentAt > killedAt && !firstOkAfterKill) firstOkAfterKill = Date.now();
      } catch (err) {
        expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
        if (killedAt) errorsAfterKill++;
        await sleep(20);
      }
      if (firstOkAfterKill) stop = true;
    }
  };
  // the other masters keep answering meanwhile
  const bystander = async () => {
    while (!stop) {
      try {
        const sentAt = Date.now();
        await client.call.consume({ policy: 'big', subject: otherSubjects[0]! });
        if (killedAt && sentAt > killedAt && !firstOkAfterKill) otherOkDuringOutage++;
      } catch (err) {
        otherErrors.push((err as grpc.ServiceError).code);
      }
      await sleep(20);
    }
  };
  const workers = [...Array.from({ length: 32 }, (_, w) => worker(w)), bystander()];
  await sleep(1000);
  const victim = (await cluster.nodes()).find((n) => n.port === victimPort)!;
  killedAt = Date.now();
  await cluster.kill(victimPort);
  const deadline = setTimeout(() => (stop = true), 30_000);
  await Promise.all(workers);
  clearTimeout(deadline);
  expect(firstOkAfterKill).toBeGreaterThan(0);
  const recoveryMs = firstOkAfterKill - killedAt;

  // The limiter already reached the promoted replica; the node CLUSTER NODES is asked on may
  // learn of the promotion a gossip round later (seen once in CI): wait until every live node
  // agrees the cluster is whole again.
  await cluster.waitOk(15_000);
  const promoted = (await cluster.nodes()).find(
    (n) => n.id !== victim.id && n.role === 'master' && n.slots.some(([a]) => a === victim.slots[0]![0]),
  );
  expect(promoted).toBeDefined();
  // what the new master holds against what callers were told was admitted
  let lost = 0;
  let extra = 0;
  let admitted = 0;
  for (const s of victimSubjects) {
    const n = await stored('big', s);
    const a = acked.get(s)!;
    admitted += a;
    if (n < a) lost += a - n;
    else extra += n - a;
  }
  process.stdout.write(
    `[cluster failover] node-timeout 1000 ms: limiter answered again ${recoveryMs} ms after the master was killed; ` +
      `${errorsAfterKill} calls got UNAVAILABLE meanwhile; of ${admitted} admitted decisions on that master ${lost} were lost ` +
      `(async replication), ${extra} counted without the caller hearing it; other masters: ${otherOkDuringOutage} calls answered during the outage, ${otherErrors.length} errors\n`,
  );
  expect(recoveryMs).toBeLessThan(30_000);
  // cluster-require-full-coverage no: the other masters kept deciding for their subjects
  expect(otherOkDuringOutage).toBeGreaterThan(0);
  // a lost decision under-counts (the subject gets one more call): bounded by what was in flight
  expect(lost).toBeLessThanOrEqual(32);
}, 90_000);

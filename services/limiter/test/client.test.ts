// The coalescing client the gateway uses: concurrent Consume calls travel as one ConsumeBatch
// RPC, each call keeps its own decision, its own error (as a unary call would give it) and its
// own deadline; nothing is retried. Against the real limiter, and against a stand-in server
// whose answers the test holds back (for deadlines).
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, createServiceClient, Unavailable, wrapService, type AsyncService, type GrpcServer } from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { createLimiterClient, type LimiterClient } from '../src/client';
import { rejection, sleep, startHarness, type Harness } from './helpers';

/** Counts the RPCs a client sends, by method name, as seen on its channel. */
function rpcCounter() {
  const counts: Record<string, number> = {};
  const interceptor: grpc.Interceptor = (options, next) => {
    const name = options.method_definition.path.split('/').pop()!;
    counts[name] = (counts[name] ?? 0) + 1;
    return new grpc.InterceptingCall(next(options));
  };
  return { counts, interceptor };
}

describe('against the limiter', () => {
  let h: Harness;
  const opened: LimiterClient[] = [];
  const client = (opts: { maxBatch?: number; window?: number; stream?: boolean } = {}) => {
    const counter = rpcCounter();
    const c = createLimiterClient(h.addr, {
      token: TEST_TOKEN,
      timeoutMs: 5000,
      window: 1,
      stream: false,
      ...opts,
      channelOptions: { interceptors: [counter.interceptor] },
    });
    opened.push(c);
    return { c, counts: counter.counts };
  };

  beforeAll(async () => {
    h = await startHarness('service=10/10m,tiny=2/10m');
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await h.close();
  });

  test('a lone call goes as a plain Consume; its decision is the unary one', async () => {
    const { c, counts } = client();
    expect(await c.consume('service', 'lone')).toEqual({
      allowed: true,
      limit: 10,
      remaining: 9,
      retryAfterMs: 0,
      resetAfterMs: 600_000,
      windowMs: 600_000,
      policy: 'service',
      nextReleaseMs: 600_000,
    });
    expect(await c.consume('service', 'lone', 3)).toMatchObject({ allowed: true, remaining: 6 });
    expect(counts).toEqual({ Consume: 2 });
  });

  test('60 concurrent calls go as one ConsumeBatch and are decided in call order', async () => {
    const { c, counts } = client();
    const calls = Array.from({ length: 60 }, (_, i) => c.consume('service', i % 2 === 0 ? 'even' : `odd-${i}`));
    const ds = await Promise.all(calls);
    expect(counts).toEqual({ ConsumeBatch: 1 });
    const even = ds.filter((_, i) => i % 2 === 0);
    expect(even.map((d) => d.allowed)).toEqual([...Array(10).fill(true), ...Array(20).fill(false)]);
    expect(even.slice(0, 10).map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(ds.filter((_, i) => i % 2 === 1).every((d) => d.allowed && d.remaining === 9)).toBe(true);
    expect(await h.storedTimes('service', 'even')).toHaveLength(10);
  });

  test('maxBatch splits a burst into several batches; the limit still holds across them', async () => {
    const { c, counts } = client({ maxBatch: 16 });
    const ds = await Promise.all(Array.from({ length: 50 }, () => c.consume('service', 'split')));
    expect(counts).toEqual({ ConsumeBatch: 4 }); // 16 + 16 + 16 + 2
    expect(ds.filter((d) => d.allowed)).toHaveLength(10);
  });

  test.each([
    ['ConsumeBatch RPCs', false],
    ['a ConsumeStream', true],
  ])('a window of 4 over %s: batches overlap, each call gets its own decision, the limit holds across them', async (_, stream) => {
    const { c, counts } = client({ window: 4, maxBatch: 64, stream });
    // 200 calls on one subject and 200 on subjects of their own with costs 1..9
    const subject = `windowed-${String(stream)}`;
    const shared = Array.from({ length: 200 }, () => c.consume('service', subject));
    const own = Array.from({ length: 200 }, (_, i) => c.consume('service', `own-${String(stream)}-${i}`, 1 + (i % 9)));
    const [ds, mine] = await Promise.all([Promise.all(shared), Promise.all(own)]);
    if (stream) expect(counts).toEqual({ ConsumeStream: 1 });
    else expect(counts.ConsumeBatch).toBeGreaterThanOrEqual(4);
    expect(ds.filter((d) => d.allowed)).toHaveLength(10);
    expect(await h.storedTimes('service', subject)).toHaveLength(10);
    expect(mine.map((d) => d.remaining)).toEqual(Array.from({ length: 200 }, (_, i) => 10 - (1 + (i % 9))));
  });

  test('over a ConsumeStream, errors are per call as over ConsumeBatch; later batches reuse the stream', async () => {
    const { c, counts } = client({ stream: true });
    const { c: batched } = client();
    const four = (lc: LimiterClient, subject: string) =>
      Promise.all(
        [lc.consume('tiny', subject), lc.consume('nope', 'x'), lc.consume('service', ''), lc.consume('tiny', 'x', 3)].map((x) =>
          x.then(
            (d) => ({ remaining: d.remaining }),
            (e: unknown) => ({ code: (e as grpc.ServiceError).code, details: (e as grpc.ServiceError).details }),
          ),
        ),
      );
    const viaBatch = await four(batched, 'errs-batch');
    expect(viaBatch.map((r) => ('code' in r ? r.code : 0))).toEqual([
      0,
      grpc.status.NOT_FOUND,
      grpc.status.INVALID_ARGUMENT,
      grpc.status.INVALID_ARGUMENT,
    ]);
    expect(await four(c, 'errs-stream')).toEqual(viaBatch);
    expect(await four(c, 'errs-stream-2')).toEqual(viaBatch);
    expect(counts).toEqual({ ConsumeStream: 1 });
  });

  test('errors are per call, with the code and details a unary Consume gives', async () => {
    const { c, counts } = client();
    const unary = createServiceClient(limiter.LimiterServiceClient, h.addr, { token: TEST_TOKEN });
    const cases: Array<[string, string, number | undefined]> = [
      ['nope', 'x', undefined],
      ['service', '', undefined],
      ['service', 'y'.repeat(10_240), undefined],
      ['service', 'x', 0],
      ['tiny', 'x', 3],
    ];
    const good = c.consume('tiny', 'per-item');
    const bad = cases.map(([p, s, cost]) => rejection(c.consume(p, s, cost)));
    const good2 = c.consume('tiny', 'per-item');
    expect(await good).toMatchObject({ allowed: true, remaining: 1 });
    expect(await good2).toMatchObject({ allowed: true, remaining: 0 });
    const errs = await Promise.all(bad);
    expect(counts).toEqual({ ConsumeBatch: 1 });
    for (const [i, [p, s, cost]] of cases.entries()) {
      const u = await rejection(unary.call.consume(cost === undefined ? { policy: p, subject: s } : { policy: p, subject: s, cost }));
      expect(errs[i]).toBeInstanceOf(Error);
      expect({ code: errs[i]!.code, details: errs[i]!.details }).toEqual({ code: u.code, details: u.details });
      expect(errs[i]!.message).toBe(`${u.code} ${grpc.status[u.code]}: ${u.details}`);
    }
    expect(errs.map((e) => e.code)).toEqual([
      grpc.status.NOT_FOUND,
      grpc.status.INVALID_ARGUMENT,
      grpc.status.INVALID_ARGUMENT,
      grpc.status.INVALID_ARGUMENT,
      grpc.status.INVALID_ARGUMENT,
    ]);
    unary.close();
  });

  test('peek and reset', async () => {
    const { c, counts } = client();
    await Promise.all([c.consume('tiny', 'pr'), c.consume('tiny', 'pr')]);
    expect(await c.peek('tiny', 'pr')).toMatchObject({ allowed: false, remaining: 0 });
    await c.reset('tiny', 'pr');
    expect(await c.peek('tiny', 'pr')).toMatchObject({ allowed: true, remaining: 2 });
    expect((await rejection(c.peek('nope', 'pr'))).code).toBe(grpc.status.NOT_FOUND);
    expect(counts).toEqual({ ConsumeBatch: 1, Peek: 3, Reset: 1 });
  });

  test.each([false, true])('a wrong token: every call of the batch is UNAUTHENTICATED (stream: %s)', async (stream) => {
    const c = createLimiterClient(h.addr, { token: 'not-the-token-0123456789', stream });
    opened.push(c);
    const errs = await Promise.all([rejection(c.consume('service', 'a')), rejection(c.consume('service', 'b'))]);
    expect(errs.map((e) => e.code)).toEqual([grpc.status.UNAUTHENTICATED, grpc.status.UNAUTHENTICATED]);
    expect(await h.storedTimes('service', 'a')).toHaveLength(0);
  });

  test('a closed client refuses new calls', async () => {
    const { c } = client();
    c.close();
    expect((await rejection(c.consume('service', 'closed'))).code).toBe(grpc.status.CANCELLED);
  });
});

describe('deadlines (against a stand-in that answers when told)', () => {
  let srv: GrpcServer;
  let addr: string;
  const seen = new Map<string, number>();
  let held: Array<() => void> = [];
  const release = () => {
    const h = held;
    held = [];
    for (const r of h) r();
  };
  const decision = (policy: string, subject: string): limiter.Decision => ({
    allowed: true,
    limit: 10,
    remaining: subject.length,
    retryAfterMs: 0,
    resetAfterMs: 1,
    windowMs: 1,
    policy,
    nextReleaseMs: 1,
  });
  const opened: LimiterClient[] = [];

  beforeAll(async () => {
    const log = testLogger();
    srv = createGrpcServer({ serviceNames: ['etuservices.limiter.v1.LimiterService'], log });
    const hold = () => new Promise<void>((r) => held.push(r));
    const impl: AsyncService<limiter.LimiterServiceServer> = {
      consume: async (req) => {
        seen.set('Consume', (seen.get('Consume') ?? 0) + 1);
        await hold();
        return { decision: decision(req.policy, req.subject) };
      },
      consumeBatch: async (req) => {
        seen.set('ConsumeBatch', (seen.get('ConsumeBatch') ?? 0) + 1);
        // a batch naming the subject "fails" fails whole at once, as when Redis is unreachable
        if (req.requests.some((r) => r.subject === 'fails')) throw new Unavailable('store unreachable');
        await hold();
        return { items: req.requests.map((r) => ({ decision: decision(r.policy, r.subject) })) };
      },
      peek: async (req) => {
        seen.set('Peek', (seen.get('Peek') ?? 0) + 1);
        await hold();
        return { decision: decision(req.policy, req.subject) };
      },
      reset: () => Promise.resolve({}),
    };
    srv.server.addService(limiter.LimiterServiceService, wrapService(impl, { token: TEST_TOKEN, log, service: 'stand-in' }));
    const streamImpl: limiter.LimiterStreamServiceServer = {
      consumeStream: (call) => {
        seen.set('ConsumeStream', (seen.get('ConsumeStream') ?? 0) + 1);
        call.on('data', (req: limiter.ConsumeStreamRequest) => {
          seen.set('streamed batches', (seen.get('streamed batches') ?? 0) + 1);
          if (req.requests.some((r) => r.subject === 'fails')) {
            call.write({
              id: req.id,
              items: req.requests.map(() => ({ error: { code: grpc.status.UNAVAILABLE, message: 'store unreachable' } })),
            });
            return;
          }
          void hold().then(() => call.write({ id: req.id, items: req.requests.map((r) => ({ decision: decision(r.policy, r.subject) })) }));
        });
        call.on('end', () => call.end());
      },
    };
    srv.server.addService(limiter.LimiterStreamServiceService, streamImpl);
    addr = `127.0.0.1:${await srv.listen('127.0.0.1:0')}`;
  });
  afterAll(async () => {
    release();
    for (const c of opened) c.close();
    await srv.shutdown(100);
  });
  beforeEach(() => {
    seen.clear();
  });

  test('a short deadline in a batch rejects on time; the others still get their decisions; nothing is sent twice', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 3000, window: 1, stream: false });
    opened.push(c);
    const started = Date.now();
    const short = rejection(c.consume('p', 'short', 1, { timeoutMs: 150 })).then((e) => ({ e, ms: Date.now() - started }));
    const long1 = c.consume('p', 'long-1');
    const long2 = c.consume('p', 'long-22');
    const { e, ms } = await short;
    expect(e.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(1000);
    release();
    expect(await long1).toMatchObject({ remaining: 6 });
    expect(await long2).toMatchObject({ remaining: 7 });
    expect(Object.fromEntries(seen)).toEqual({ ConsumeBatch: 1 });
  });

  test('when the whole batch outlives its deadlines, every call rejects DEADLINE_EXCEEDED and the batch is not retried', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 150, window: 1, stream: false });
    opened.push(c);
    const errs = await Promise.all([rejection(c.consume('p', 'a')), rejection(c.consume('p', 'b')), rejection(c.consume('p', 'c', 2))]);
    expect(errs.map((e) => e.code)).toEqual(Array(3).fill(grpc.status.DEADLINE_EXCEEDED));
    const lone = await rejection(c.consume('p', 'd'));
    expect(lone.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await sleep(300);
    release();
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeBatch: 1, Consume: 1 });
  });

  test('with a window of 2, two batches overlap; the one that fails rejects only its own calls, at once', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 3000, window: 2, stream: false });
    opened.push(c);
    // four calls in one turn, two places in the window: [a, fails] and [bb, ccc] leave together
    const calls = ['a', 'fails', 'bb', 'ccc'].map((s) =>
      c.consume('p', s).then(
        (d) => d.remaining,
        (e: unknown) => (e as grpc.ServiceError).code,
      ),
    );
    const failed = await Promise.all(calls.slice(0, 2));
    expect(failed).toEqual([grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE]);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeBatch: 2 }); // the other batch is still held
    // a call made meanwhile takes the place the failed batch left
    const later = c.consume('p', 'dddd').then((d) => d.remaining);
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeBatch: 2, Consume: 1 });
    release();
    expect(await Promise.all([...calls.slice(2), later])).toEqual([2, 3, 4]);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeBatch: 2, Consume: 1 });
  });

  test('over a stream with a window of 2: batches overlap; the one that fails rejects only its own calls, at once', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 3000, window: 2, stream: true });
    opened.push(c);
    const calls = ['a', 'fails', 'bb', 'ccc'].map((s) =>
      c.consume('p', s).then(
        (d) => d.remaining,
        (e: unknown) => (e as grpc.ServiceError).code,
      ),
    );
    expect(await Promise.all(calls.slice(0, 2))).toEqual([grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE]);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeStream: 1, 'streamed batches': 2 });
    const later = c.consume('p', 'dddd').then((d) => d.remaining);
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeStream: 1, 'streamed batches': 3 });
    release();
    expect(await Promise.all([...calls.slice(2), later])).toEqual([2, 3, 4]);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeStream: 1, 'streamed batches': 3 });
  });

  test('over a stream, a batch not answered in time rejects DEADLINE_EXCEEDED, is not sent again, and frees its place', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 150, window: 1, stream: true });
    opened.push(c);
    const errs = await Promise.all([rejection(c.consume('p', 'a')), rejection(c.consume('p', 'b'))]);
    expect(errs.map((e) => e.code)).toEqual([grpc.status.DEADLINE_EXCEEDED, grpc.status.DEADLINE_EXCEEDED]);
    // the window's one place is free again: the next call leaves at once
    const next = c.consume('p', 'ccc', 1, { timeoutMs: 3000 }).then((d) => d.remaining);
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeStream: 1, 'streamed batches': 2 });
    release(); // the late answer to the first batch is dropped; the second is next's
    expect(await next).toBe(3);
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ ConsumeStream: 1, 'streamed batches': 2 });
  });

  test('with a window of 1, calls made while a batch is out wait for it, then leave as one batch', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 3000, window: 1, stream: false });
    opened.push(c);
    const first = c.consume('p', 'a');
    await sleep(50);
    const next = ['bb', 'ccc'].map((s) => c.consume('p', s).then((d) => d.remaining));
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ Consume: 1 });
    release();
    expect(await first).toMatchObject({ remaining: 1 });
    await sleep(50);
    expect(Object.fromEntries(seen)).toEqual({ Consume: 1, ConsumeBatch: 1 });
    release();
    expect(await Promise.all(next)).toEqual([2, 3]);
  });

  test('peek carries its own deadline', async () => {
    const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs: 3000, window: 1, stream: false });
    opened.push(c);
    const started = Date.now();
    expect((await rejection(c.peek('p', 's', { timeoutMs: 100 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(1000);
    release();
  });
});

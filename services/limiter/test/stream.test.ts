// The limiter's batch stream (LimiterStreamService.ConsumeStream, the gateway's default transport)
// against the real limiter: a streamed batch leaves what its unary calls would (a `call` line
// naming every request id, grpc_server_* counted), a decision its caller no longer waits for is
// answered DEADLINE_EXCEEDED, not late; a limiter killed mid-stream fails the calls it had not
// answered at once and never counts one twice; a limiter shut down mid-stream answers what it
// decided, and the batch it had not decided is decided once, by its successor.
import * as grpc from '@grpc/grpc-js';
import Redis from 'ioredis';
import { bearer, CONNECTION_AGE_GRACE_MS, Metrics, newTraceparent } from '@etu/common';
import { freePort, startPrivateRedis, startTcpRelay, TEST_TOKEN, testLogger, type PrivateRedis, type TcpRelay } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { createLimiterClient, STREAM_ROTATE_MS, type LimiterClient } from '../src/client';
import { startLimiterServer, type LimiterServer } from '../src/server';
import { decodeLog, keyFor } from '../src/sliding-window';
import { rejection, sleep, waitServing } from './helpers';

let redis: PrivateRedis;
let direct: Redis;
const servers: LimiterServer[] = [];
const clients: LimiterClient[] = [];
const relays: TcpRelay[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis();
  direct = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  for (const r of relays) await r.close();
  direct.disconnect();
  await redis.stop();
});

async function limiterOn(
  opts: {
    redisUrl?: string;
    addr?: string;
    lines?: string[];
    metrics?: Metrics;
    graceMs?: number;
    connectionAgeMs?: number;
    connectionAgeGraceMs?: number;
  } = {},
) {
  const s = await startLimiterServer({
    connectionAgeMs: opts.connectionAgeMs,
    connectionAgeGraceMs: opts.connectionAgeGraceMs,
    addr: opts.addr ?? '127.0.0.1:0',
    log: testLogger(opts.lines),
    token: TEST_TOKEN,
    redisUrl: opts.redisUrl ?? redis.url,
    policies: 'service=10/10m',
    graceMs: opts.graceMs ?? 100,
    healthIntervalMs: 100,
    // the tests hold Redis's replies for a while: no store timeout in the way
    redisTimeoutMs: 5000,
    metrics: opts.metrics,
  });
  servers.push(s);
  await waitServing(`127.0.0.1:${s.port}`);
  return s;
}

function streamClient(addr: string, timeoutMs = 5000, window = 4, streamRotateMs?: number) {
  const c = createLimiterClient(addr, { token: TEST_TOKEN, timeoutMs, window, stream: true, streamRotateMs });
  clients.push(c);
  return c;
}

async function relayTo(port: number) {
  const r = await startTcpRelay({ host: '127.0.0.1', port });
  relays.push(r);
  return r;
}

async function stored(subject: string): Promise<number> {
  const v = await direct.getBuffer(keyFor('service', subject));
  return v ? decodeLog(v).timesUs.length : 0;
}

async function until(what: () => Promise<boolean>, withinMs = 5000): Promise<void> {
  const end = Date.now() + withinMs;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const callLines = (lines: string[]) =>
  lines.map((l) => JSON.parse(l) as { msg: string; rpc?: string; code?: string; requestId?: string }).filter((l) => l.msg === 'call');

test('a streamed batch logs every request id of its calls and counts in grpc_server_* once, as a batch', async () => {
  const lines: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const s = await limiterOn({ lines, metrics });
  const c = streamClient(`127.0.0.1:${s.port}`, 5000, 1);
  const ids = Array.from({ length: 40 }, (_, i) => `req-stream-${String(i).padStart(4, '0')}`);
  const ds = await Promise.all(
    ids.map((requestId, i) => c.consume('service', `logged-${i % 4}`, 1, { context: { requestId, traceparent: newTraceparent() } })),
  );
  expect(ds.every((d) => d.allowed)).toBe(true);
  const calls = callLines(lines);
  // one batch of 40: two lines (32 ids, then 8), the rpc and code of a unary batch's line
  expect(calls.map((l) => [l.rpc, l.code])).toEqual([
    ['limiter/ConsumeStream', 'OK'],
    ['limiter/ConsumeStream', 'OK'],
  ]);
  expect(calls.flatMap((l) => l.requestId!.split(','))).toEqual(ids);
  const text = await metrics.text();
  expect(text).toMatch(
    /^grpc_server_handled_total\{grpc_type="bidi_stream",grpc_service="etuservices.limiter.v1.LimiterStreamService",grpc_method="ConsumeStream",grpc_code="OK"\} 1$/m,
  );
  expect(text).toMatch(/^etu_limiter_decisions_total\{policy="service",outcome="allowed"\} 40$/m);
});

test('a call whose deadline passed while its batch was decided is answered DEADLINE_EXCEEDED, not with the late decision', async () => {
  const lines: string[] = [];
  const relay = await relayTo(redis.port);
  const s = await limiterOn({ redisUrl: `redis://127.0.0.1:${relay.port}`, lines });
  // the raw stream, to see exactly what the limiter answers (the client would have told its caller already)
  const raw = new limiter.LimiterStreamServiceClient(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', bearer(TEST_TOKEN));
  const call = raw.consumeStream(md);
  const answered = new Promise<limiter.ConsumeStreamResponse>((resolve) => call.once('data', resolve));
  relay.holdReplies(true);
  call.write({
    id: 7,
    requests: [
      { policy: 'service', subject: 'late' },
      { policy: 'service', subject: 'late' },
    ],
    calls: [
      { requestId: 'req-late-0001', traceparent: '', timeoutMs: 50 },
      { requestId: 'req-time-0002', traceparent: '', timeoutMs: 60_000 },
    ],
  });
  await until(async () => (await stored('late')) === 2);
  await sleep(100);
  relay.holdReplies(false);
  const res = await answered;
  expect(res.id).toBe(7);
  expect(res.items[0]).toEqual({ error: { code: grpc.status.DEADLINE_EXCEEDED, message: 'deadline exceeded' } });
  expect(res.items[1]?.decision).toMatchObject({ allowed: true, remaining: 8 });
  // each logged under its own outcome; the late one at warn, as a unary call past its deadline
  expect(callLines(lines).map((l) => [l.code, l.requestId])).toEqual(
    expect.arrayContaining([
      ['OK', 'req-time-0002'],
      ['DeadlineExceeded', 'req-late-0001'],
    ]),
  );
  expect(callLines(lines)).toHaveLength(2);
  call.end();
  raw.close();
});

test('the limiter killed mid-stream: the unanswered call fails UNAVAILABLE before its deadline, is not sent again; the 11th call is refused', async () => {
  const s = await limiterOn();
  const relay = await relayTo(s.port);
  const c = streamClient(`127.0.0.1:${relay.port}`, 5000);
  for (let i = 0; i < 9; i++) expect(await c.consume('service', 'killed')).toMatchObject({ allowed: true, remaining: 9 - i });

  // the limiter decides the 10th call (Redis counts it), then dies before its answer leaves
  relay.holdReplies(true);
  const started = Date.now();
  const tenth = rejection(c.consume('service', 'killed'));
  await until(async () => (await stored('killed')) === 10);
  await relay.cut();
  const err = await tenth;
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  expect(Date.now() - started).toBeLessThan(5000); // no hang until the deadline

  // the limiter back: the call that was told UNAVAILABLE was counted once, never twice
  relay.holdReplies(false);
  await relay.restore();
  expect(await c.consume('service', 'killed')).toMatchObject({ allowed: false, remaining: 0 });
  expect(await stored('killed')).toBe(10);
});

test('the limiter shut down mid-stream: it answers what it decided; the batch it had not decided goes to its successor, counted once', async () => {
  const addr = `127.0.0.1:${await freePort()}`;
  const relay = await relayTo(redis.port);
  // a grace period long enough for the held batch: the stream ends when it is answered, not by force
  const a = await limiterOn({ addr, redisUrl: `redis://127.0.0.1:${relay.port}`, graceMs: 10_000 });
  const c = streamClient(addr, 10_000);
  expect(await c.consume('service', 'handover')).toMatchObject({ allowed: true, remaining: 9 });

  relay.holdReplies(true);
  const first = c.consume('service', 'handover');
  await until(async () => (await stored('handover')) === 2);
  const closing = a.close(); // SIGTERM: no new batch is decided, the received ones are answered
  const second = c.consume('service', 'handover');
  await sleep(200); // it reached the closing limiter, which leaves it undecided
  expect(await stored('handover')).toBe(2);
  relay.holdReplies(false);
  expect(await first).toMatchObject({ allowed: true, remaining: 8 });
  await closing;
  servers.splice(servers.indexOf(a), 1);
  await limiterOn({ addr });
  expect(await second).toMatchObject({ allowed: true, remaining: 7 });
  expect(await stored('handover')).toBe(3);
});

test('a stream outliving its connection (the server asks for a new one after CONNECTION_AGE_MS, then cuts it): no call fails, none is counted twice', async () => {
  // connections last 300 ms, then 400 ms of grace before the server cuts them: a stream kept
  // for the client's life would be cut with calls in flight (UNAVAILABLE, a 503 for the user)
  const s = await limiterOn({ connectionAgeMs: 300, connectionAgeGraceMs: 400 });
  // the client opens a new stream every 100 ms, as every STREAM_ROTATE_MS (2 s) against the
  // production grace (5 s): within the grace
  expect(STREAM_ROTATE_MS).toBeLessThan(CONNECTION_AGE_GRACE_MS / 2);
  const c = streamClient(`127.0.0.1:${s.port}`, 5000, 4, 100);
  const subject = `age-${Date.now()}`;
  const policy = 'service';
  const failures: string[] = [];
  let admitted = 0;
  let calls = 0;
  const until = Date.now() + 2500;
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      while (Date.now() < until) {
        calls++;
        try {
          // each call its own subject: admitted unless counted twice
          const d = await c.consume(policy, `${subject}-${worker}-${calls}`, 1);
          if (d.allowed) admitted++;
        } catch (err) {
          failures.push(`${(err as grpc.ServiceError).code} ${(err as grpc.ServiceError).details}`);
        }
      }
    }),
  );
  expect(failures).toEqual([]);
  expect(admitted).toBe(calls);
  expect(calls).toBeGreaterThan(100);
}, 15_000);

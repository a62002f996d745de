// The service kit on a real gRPC server bound to port 0: health, internal token, error
// mapping, deadlines on the client side.
import * as grpc from '@grpc/grpc-js';
import { limiter } from '@etu/proto';
import {
  checkHealth,
  createGrpcServer,
  createServiceClient,
  InvalidArgument,
  NotFound,
  wrapService,
  type AsyncService,
  type GrpcServer,
} from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';

const decision = (policy: string): limiter.Decision => ({
  allowed: true,
  limit: 10,
  remaining: 9,
  retryAfterMs: 0,
  resetAfterMs: 1000,
  windowMs: 600_000,
  policy,
  nextReleaseMs: 1000,
});

let srv: GrpcServer;
let addr: string;
let gate: () => void = () => {};

beforeAll(async () => {
  const log = testLogger();
  srv = createGrpcServer({ serviceNames: ['etuservices.limiter.v1.LimiterService'], log });
  const impl: AsyncService<limiter.LimiterServiceServer> = {
    consume: async (req) => {
      if (req.subject === '') throw new InvalidArgument('subject', 'must not be empty');
      if (req.policy === 'missing') throw new NotFound('unknown policy missing');
      if (req.policy === 'boom') throw new Error('secret internals');
      if (req.policy === 'slow') await new Promise<void>((r) => (gate = r));
      return { decision: decision(req.policy) };
    },
    consumeBatch: () => Promise.resolve({ items: [] }),
    peek: (req) => Promise.resolve({ decision: decision(req.policy) }),
    reset: () => Promise.resolve({}),
  };
  srv.server.addService(limiter.LimiterServiceService, wrapService(impl, { token: TEST_TOKEN, log, service: 'limiter' }));
  const port = await srv.listen('127.0.0.1:0');
  addr = `127.0.0.1:${port}`;
});

afterAll(async () => {
  gate();
  await srv.shutdown(100);
});

test('health starts NOT_SERVING and turns SERVING when told', async () => {
  expect(await checkHealth(addr)).toBe('NOT_SERVING');
  expect(await checkHealth(addr, 'etuservices.limiter.v1.LimiterService')).toBe('NOT_SERVING');
  srv.setServing(true);
  expect(await checkHealth(addr)).toBe('SERVING');
  expect(await checkHealth(addr, 'etuservices.limiter.v1.LimiterService')).toBe('SERVING');
});

test('a call with the token reaches the handler and every field arrives', async () => {
  const c = createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN });
  const res = await c.call.consume({ policy: 'service', subject: 'u1', cost: 2 });
  expect(res.decision).toEqual(decision('service'));
  c.close();
});

test.each([
  ['no token', undefined],
  ['a wrong token', 'Bearer not-the-token'],
  ['the token without its scheme', TEST_TOKEN],
])('a call with %s is UNAUTHENTICATED', async (_label, header) => {
  const raw = new limiter.LimiterServiceClient(addr, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (header) md.set('authorization', header);
  const err = await new Promise<grpc.ServiceError>((resolve) =>
    raw.consume({ policy: 'service', subject: 'u1' }, md, (e) => resolve(e as grpc.ServiceError)),
  );
  expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
  raw.close();
});

test('domain errors map to their status codes; unexpected ones to INTERNAL without details', async () => {
  const c = createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN });
  await expect(c.call.consume({ policy: 'service', subject: '' })).rejects.toMatchObject({
    code: grpc.status.INVALID_ARGUMENT,
    details: 'subject: must not be empty',
  });
  await expect(c.call.consume({ policy: 'missing', subject: 'x' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  const err = await c.call.consume({ policy: 'boom', subject: 'x' }).catch((e: unknown) => e as grpc.ServiceError);
  expect((err as grpc.ServiceError).code).toBe(grpc.status.INTERNAL);
  expect((err as grpc.ServiceError).details).toBe('internal error');
  c.close();
});

test('every client call carries a deadline', async () => {
  const c = createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 150 });
  const started = Date.now();
  await expect(c.call.consume({ policy: 'slow', subject: 'x' })).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  expect(Date.now() - started).toBeLessThan(1000);
  gate();
  c.close();
});

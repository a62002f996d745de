// New replicas get traffic (issue 14, item 6): two replicas of a service behind one name, the
// second started after the client. The name is resolved by a resolver this test controls (as a
// DNS name of a scaled compose service would be): the second replica joins its answer only after
// the client connected. A client resolves the name again when a connection ends; the servers'
// connection age makes connections end, so the second replica gets its share within about one
// age. The same without a connection age leaves it idle: that is what the servers used to do.
import * as grpc from '@grpc/grpc-js';
import { limiter } from '@etu/proto';
import { createGrpcServer, createServiceClient, wrapService, type GrpcServer } from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';

/** The addresses each test name resolves to, as the test says. */
const names = new Map<string, string[]>();

/**
 * Answers each request for resolution with the name's addresses, when they changed since its
 * last answer (as a DNS resolver rate-limits itself: grpc-js asks again at every change of a
 * connection's state).
 */
class TestResolver implements grpc.experimental.Resolver {
  private reported: string | undefined;
  constructor(
    private readonly target: { path: string },
    private readonly listener: grpc.experimental.ResolverListener,
  ) {}
  updateResolution(): void {
    const addrs = names.get(this.target.path) ?? [];
    if (addrs.join(',') === this.reported) return;
    this.reported = addrs.join(',');
    const endpoints = addrs.map((a) => {
      const [host, port] = a.split(':');
      return { addresses: [{ host: host!, port: Number(port) }] };
    });
    process.nextTick(() => this.listener({ ok: true, value: endpoints }, {}, null, ''));
  }
  destroy(): void {
    this.reported = undefined;
  }
  static getDefaultAuthority(target: { path: string }): string {
    return target.path;
  }
}
grpc.experimental.registerResolver('etu-test', TestResolver);

const decision = (replica: string): limiter.Decision => ({
  allowed: true,
  limit: 1,
  remaining: 1,
  retryAfterMs: 0,
  resetAfterMs: 0,
  windowMs: 1,
  policy: replica,
  nextReleaseMs: 0,
});

/** A replica: answers Peek with its own name in `policy`. */
async function replica(name: string, connectionAgeMs: number): Promise<{ addr: string; srv: GrpcServer }> {
  const log = testLogger();
  const srv = createGrpcServer({ serviceNames: ['etuservices.limiter.v1.LimiterService'], log, connectionAgeMs });
  srv.server.addService(
    limiter.LimiterServiceService,
    wrapService<limiter.LimiterServiceServer>(
      {
        consume: () => Promise.resolve({ decision: decision(name) }),
        consumeBatch: () => Promise.resolve({ items: [] }),
        peek: () => Promise.resolve({ decision: decision(name) }),
        reset: () => Promise.resolve({}),
      },
      { token: TEST_TOKEN, log, service: 'limiter' },
    ),
  );
  const port = await srv.listen('127.0.0.1:0');
  srv.setServing(true);
  return { addr: `127.0.0.1:${port}`, srv };
}

/** Which replica answered each of `n` calls, one after the other. */
async function shares(c: ReturnType<typeof createServiceClient<limiter.LimiterServiceClient>>, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const { decision: d } = await c.call.peek({ policy: 'p', subject: 's' });
    seen[d!.policy] = (seen[d!.policy] ?? 0) + 1;
  }
  return seen;
}

async function scenario(
  name: string,
  connectionAgeMs: number,
  waitMs: number,
): Promise<{ before: Record<string, number>; after: Record<string, number> }> {
  const a = await replica('A', connectionAgeMs);
  names.set(name, [a.addr]);
  const c = createServiceClient(limiter.LimiterServiceClient, `etu-test:${name}`, { token: TEST_TOKEN, timeoutMs: 5000 });
  const b = await (async () => {
    const before = await shares(c, 20);
    // B starts after the client is connected, and the name now resolves to both.
    const b = await replica('B', connectionAgeMs);
    names.set(name, [a.addr, b.addr]);
    // Calls go on meanwhile, as a gateway's would.
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      await shares(c, 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { b, before };
  })();
  try {
    return { before: b.before, after: await shares(c, 100) };
  } finally {
    c.close();
    await Promise.all([a.srv.shutdown(100), b.b.srv.shutdown(100)]);
  }
}

test('a replica started after the client gets a fair share of calls within twice the connection age', async () => {
  const AGE_MS = 1000;
  const { before, after } = await scenario('with-age', AGE_MS, 2 * AGE_MS);
  expect(before).toEqual({ A: 20 });
  // Round robin over two replicas: about half each.
  expect(after.B ?? 0).toBeGreaterThanOrEqual(30);
  expect(after.A ?? 0).toBeGreaterThanOrEqual(30);
});

test('without a connection age (what the servers used to do) the late replica stays idle', async () => {
  const { after } = await scenario('without-age', 10 * 60_000, 2000);
  expect(after).toEqual({ A: 100 });
});

// Test support for Envoy's API: a real limiter server whose Envoy rules are YAML files in a
// temporary directory of the test's own, over a Redis db of its own, and a client built as
// Envoy's side would be: from the .proto files at run time (@grpc/proto-loader, snake_case
// names, enums as strings), not from the stubs the server uses, so only the wire is shared.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import Redis from 'ioredis';
import { claimRedisDbs, TEST_TOKEN, testLogger, type ClaimedRedisDbs } from '@etu/testkit';
import { startLimiterServer, type LimiterServer, type LimiterServerOptions } from '../src/server';
import { waitServing } from './helpers';

export const PROTO_ROOT = join(__dirname, '..', '..', '..', 'proto');

export interface Status {
  code: 'UNKNOWN' | 'OK' | 'OVER_LIMIT';
  current_limit: { name: string; requests_per_unit: number; unit: string } | null;
  limit_remaining: number;
  duration_until_reset: { seconds: number; nanos: number } | null;
}
export interface Response {
  overall_code: 'UNKNOWN' | 'OK' | 'OVER_LIMIT';
  statuses: Status[];
  response_headers_to_add: Array<{ key: string; value: string }>;
  request_headers_to_add: Array<{ key: string; value: string }>;
}
/** A descriptor: its entries as [key, value] pairs, and its own hits_addend when set. */
export type Descriptor = Array<[string, string]> | { entries: Array<[string, string]>; hits: number };
export interface Ask {
  domain: string;
  descriptors: Descriptor[];
  hits_addend?: number;
}

type RawClient = grpc.Client & {
  ShouldRateLimit(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Response) => void): void;
};

export function envoyClientConstructor(): new (addr: string, creds: grpc.ChannelCredentials, opts?: object) => RawClient {
  const def = protoLoader.loadSync('envoy/service/ratelimit/v3/rls.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: new (a: string, c: grpc.ChannelCredentials, o?: object) => RawClient } } } };
  };
  return pkg.envoy.service.ratelimit.v3.RateLimitService;
}

/** The wire form of a request. */
export function toRequest(a: Ask): object {
  return {
    domain: a.domain,
    hits_addend: a.hits_addend ?? 0,
    descriptors: a.descriptors.map((d) =>
      Array.isArray(d)
        ? { entries: d.map(([key, value]) => ({ key, value })) }
        : { entries: d.entries.map(([key, value]) => ({ key, value })), hits_addend: { value: d.hits } },
    ),
  };
}

export interface EnvoyClient {
  ask(a: Ask, opts?: { timeoutMs?: number; token?: string | null }): Promise<Response>;
  close(): void;
}

export function envoyClient(addr: string): EnvoyClient {
  const Ctor = envoyClientConstructor();
  const raw = new Ctor(addr, grpc.credentials.createInsecure());
  return {
    ask(a, opts = {}) {
      const md = new grpc.Metadata();
      const token = opts.token === undefined ? TEST_TOKEN : opts.token;
      if (token !== null) md.set('authorization', `Bearer ${token}`);
      return new Promise((resolve, reject) => {
        raw.ShouldRateLimit(toRequest(a), md, { deadline: Date.now() + (opts.timeoutMs ?? 5000) }, (err, res) =>
          err ? reject(err) : resolve(res),
        );
      });
    },
    close: () => raw.close(),
  };
}

/** The operators' companion (etuservices.limiter.v1.RateLimitAdminService), built the same way. */
export interface AdminClient {
  peek(a: Ask, opts?: { token?: string | null }): Promise<Response>;
  reset(a: Ask, opts?: { token?: string | null }): Promise<Response>;
  close(): void;
}

export function adminClient(addr: string): AdminClient {
  const def = protoLoader.loadSync('etuservices/limiter/v1/envoy_admin.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  type Raw = grpc.Client &
    Record<
      'PeekRateLimit' | 'ResetRateLimit',
      (req: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Response) => void) => void
    >;
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    etuservices: { limiter: { v1: { RateLimitAdminService: new (a: string, c: grpc.ChannelCredentials) => Raw } } };
  };
  const raw = new pkg.etuservices.limiter.v1.RateLimitAdminService(addr, grpc.credentials.createInsecure());
  const call = (method: 'PeekRateLimit' | 'ResetRateLimit', a: Ask, token: string | null | undefined) =>
    new Promise<Response>((resolve, reject) => {
      const md = new grpc.Metadata();
      const t = token === undefined ? TEST_TOKEN : token;
      if (t !== null) md.set('authorization', `Bearer ${t}`);
      raw[method](toRequest(a), md, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  return {
    peek: (a, opts = {}) => call('PeekRateLimit', a, opts.token),
    reset: (a, opts = {}) => call('ResetRateLimit', a, opts.token),
    close: () => raw.close(),
  };
}

export interface EnvoyHarness {
  dir: string;
  server: LimiterServer;
  addr: string;
  redisUrl: string;
  redis: Redis;
  client: EnvoyClient;
  ask(a: Ask): Promise<Response>;
  /** Redis TIME in µs. */
  redisNowUs(): Promise<number>;
  writeFile(name: string, text: string): void;
  close(): Promise<void>;
}

export async function startEnvoyHarness(
  files: Record<string, string>,
  opts: Partial<LimiterServerOptions> & { redisUrl?: string } = {},
): Promise<EnvoyHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'etu-envoy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  let claim: ClaimedRedisDbs | undefined;
  let redisUrl = opts.redisUrl;
  if (!redisUrl) {
    claim = await claimRedisDbs(1);
    redisUrl = claim.urls[0]!;
  }
  let server: LimiterServer;
  try {
    server = await startLimiterServer({
      addr: '127.0.0.1:0',
      log: testLogger(),
      token: TEST_TOKEN,
      redisUrl,
      graceMs: 100,
      envoyConfigDir: dir,
      envoyReloadDebounceMs: 20,
      ...opts,
    });
  } catch (err) {
    await claim?.release();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const addr = `127.0.0.1:${server.port}`;
  await waitServing(addr);
  const client = envoyClient(addr);
  // Connected on first use only: a test that never reads Redis leaves no socket behind.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  return {
    dir,
    server,
    addr,
    redisUrl,
    redis,
    client,
    ask: (a) => client.ask(a),
    async redisNowUs() {
      const [s, us] = await redis.time();
      return Number(s) * 1e6 + Number(us);
    },
    writeFile: (name, text) => writeFileSync(join(dir, name), text),
    async close() {
      client.close();
      redis.disconnect();
      await server.close();
      await claim?.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A status's duration_until_reset in ms. */
export function resetMs(s: Status): number {
  return s.duration_until_reset ? s.duration_until_reset.seconds * 1000 + s.duration_until_reset.nanos / 1e6 : 0;
}

// All-or-nothing under real concurrency: 1,000 ShouldRateLimit calls, each with two descriptors
// (a tenant allowed 50 and a user allowed 10 in 10 minutes), fired at once over gRPC by 4
// separate client processes (250 each). Exactly 10 are admitted, and the tenant's counter holds
// exactly those 10: the 990 refused requests counted nothing anywhere.
import { envoyKey } from '../src/envoy';
import { decodeLog } from '../src/sliding-window';
import { startEnvoyHarness, type EnvoyHarness } from './envoy-harness';
import { startBurstClient, stopBurstClients, type BurstClient } from './burst-clients';

const PROCESSES = 4;
const CALLS = 1000;
const RULES = `
domain: burst
descriptors:
  - key: tenant
    rate_limit: {window: 10m, requests_per_unit: 50}
  - key: user
    rate_limit: {window: 10m, requests_per_unit: 10}
`;

let h: EnvoyHarness;
let children: BurstClient[] = [];

beforeAll(async () => {
  h = await startEnvoyHarness({ 'burst.yaml': RULES });
  children = Array.from({ length: PROCESSES }, () => startBurstClient('envoy-burst.js', h.addr));
  expect(await Promise.all(children.map((c) => c.next()))).toEqual(Array(PROCESSES).fill('ready'));
});

afterAll(async () => {
  await stopBurstClients(children);
  await h.close();
});

async function stored(key: string): Promise<number> {
  const v = await h.redis.getBuffer(key);
  return v ? decodeLog(v).timesUs.length : 0;
}

test.each([1, 2, 3])(
  'trial %i: 1,000 concurrent two-descriptor requests from 4 processes admit exactly 10 and count nothing else',
  async (n) => {
    const tenant = `t${n}`;
    const user = `u${n}`;
    const descriptors = JSON.stringify([[['tenant', tenant]], [['user', user]]]);
    for (const c of children) c.proc.stdin.write(`go burst ${descriptors} ${CALLS / PROCESSES}\n`);
    const sum = { ok: 0, over: 0, errors: 0 };
    for (const r of await Promise.all(children.map((c) => c.next()))) {
      const [verb, ok, over, errors, first] = r.split(' ');
      expect(verb).toBe('done');
      if (Number(errors) > 0) throw new Error(`a client process saw ${errors} errors (first ${first})`);
      sum.ok += Number(ok);
      sum.over += Number(over);
    }
    expect(sum).toEqual({ ok: 10, over: 990, errors: 0 });
    expect(await stored(envoyKey('burst', [{ key: 'user', value: user }], 600_000))).toBe(10);
    expect(await stored(envoyKey('burst', [{ key: 'tenant', value: tenant }], 600_000))).toBe(10);
  },
);

// A configuration reload under load loses no decision: while 8 callers keep asking without a
// pause, the rules file is rewritten 12 times (limits changed, two broken versions in between).
// Every call is answered, every admitted call is in Redis exactly once, and the rules in force
// at the end are the last good ones.
import { Metrics } from '@etu/common';
import { envoyKey } from '../src/envoy';
import { decodeLog } from '../src/sliding-window';
import { startEnvoyHarness, type EnvoyHarness } from './envoy-harness';

const rules = (limit: number) => `domain: load\ndescriptors:\n  - key: k\n    rate_limit: {window: 10m, requests_per_unit: ${limit}}\n`;
const BROKEN = 'domain: load\ndescriptors:\n  - key: k\n    rate_limit: {window: 10 minutes, requests_per_unit: 1}\n';

let h: EnvoyHarness;
const metrics = new Metrics({ defaultMetrics: false });
beforeAll(async () => {
  h = await startEnvoyHarness({ 'load.yaml': rules(10_000) }, { metrics });
});
afterAll(async () => {
  await h.close();
});

test('12 rewrites of the rules under load: every call answered, every admitted one counted once, the last good rules in force', async () => {
  const src = h.server.envoyConfig!;
  let running = true;
  const seen = { ok: 0, over: 0, errors: 0, limits: new Set<number>() };
  const caller = async () => {
    while (running) {
      try {
        const r = await h.ask({ domain: 'load', descriptors: [[['k', 'v']]] });
        if (r.overall_code === 'OK') seen.ok++;
        else seen.over++;
        seen.limits.add(r.statuses[0]!.current_limit!.requests_per_unit);
      } catch {
        seen.errors++;
      }
    }
  };
  const callers = Array.from({ length: 8 }, caller);
  const versions = [9_999, 9_998, 0, 9_997, 9_996, -1, 9_995, 9_994, 9_993, -1, 9_992, 9_991];
  const outcomes: boolean[] = [];
  for (const v of versions) {
    const next = src.nextReload();
    h.writeFile('load.yaml', v < 0 ? BROKEN : rules(v === 0 ? 9_990 : v));
    outcomes.push(await next);
    await new Promise((r) => setTimeout(r, 60));
  }
  running = false;
  await Promise.all(callers);

  expect(outcomes).toEqual(versions.map((v) => v >= 0));
  expect(seen.errors).toBe(0);
  expect(seen.over).toBe(0);
  expect(seen.ok).toBeGreaterThan(100);
  // Requests saw the configurations one after the other, never a broken one.
  expect(Math.min(...seen.limits)).toBeGreaterThanOrEqual(9_990);
  const raw = await h.redis.getBuffer(envoyKey('load', [{ key: 'k', value: 'v' }], 600_000));
  expect(decodeLog(raw!).timesUs).toHaveLength(seen.ok);
  expect((await h.ask({ domain: 'load', descriptors: [[['k', 'v']]] })).statuses[0]!.current_limit!.requests_per_unit).toBe(9_991);
  const text = await metrics.text();
  expect(text).toMatch(/^ratelimit_service_config_load_error 2$/m);
  expect(text).toMatch(/^ratelimit_service_config_load_success 11$/m);
  // One series per rule, with envoyproxy/ratelimit's names: every admitted hit counted once.
  expect(text).toContain(`ratelimit_service_rate_limit_total_hits{domain="load",key1="k",key2=""} ${seen.ok + 1}`);
  expect(text).toContain(`ratelimit_service_rate_limit_within_limit{domain="load",key1="k",key2=""} ${seen.ok + 1}`);
  process.stdout.write(`envoy reload under load: ${seen.ok} decisions across 12 rewrites\n`);
});

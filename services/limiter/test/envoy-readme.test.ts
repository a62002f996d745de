// README.md's "Envoy" section: the Envoy configuration is valid YAML naming the filter, the
// domain and the limiter's gRPC service as this limiter serves them, and the rules it pairs with
// load and decide as the README says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startEnvoyHarness, type EnvoyHarness } from './envoy-harness';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Envoy'), readme.indexOf('### What is served, exactly'));
const [envoyYaml, rulesYaml] = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

let h: EnvoyHarness;
beforeAll(async () => {
  h = await startEnvoyHarness({ 'edge.yaml': rulesYaml! });
});
afterAll(async () => {
  await h.close();
});

test("the Envoy configuration asks this limiter for the rules' domain, with the token, a 20 ms timeout and HTTP/2", () => {
  const text = JSON.stringify(parse(envoyYaml!));
  expect(text).toContain('"name":"envoy.filters.http.ratelimit"');
  expect(text).toContain('"domain":"edge"');
  expect(text).toContain('"timeout":"0.02s"');
  expect(text).toContain('"transport_api_version":"V3"');
  expect(text).toContain('"key":"authorization"');
  expect(text).toContain('"http2_protocol_options":{}');
  expect(text).toContain('"port_value":50053');
  expect(parse(rulesYaml!)).toMatchObject({ domain: 'edge' });
});

test('the rules decide as the README says: both descriptors in one call, a blocked address counts nothing, partners only watched', async () => {
  const both = (ip: string, key: string) => h.ask({ domain: 'edge', descriptors: [[['remote_address', ip]], [['client', key]]] });
  const first = await both('198.51.100.4', 'k-1');
  expect(first).toMatchObject({
    overall_code: 'OK',
    statuses: [
      { code: 'OK', current_limit: { name: 'per_second', requests_per_unit: 20, unit: 'SECOND' }, limit_remaining: 19 },
      { code: 'OK', current_limit: { requests_per_unit: 1000, unit: 'DAY' }, limit_remaining: 999 },
    ],
  });
  const blocked = await both('203.0.113.7', 'k-1');
  expect([blocked.overall_code, ...blocked.statuses.map((s) => s.code)]).toEqual(['OVER_LIMIT', 'OVER_LIMIT', 'OK']);
  expect(blocked.statuses[1]).toMatchObject({ limit_remaining: 999 });
  const partner = await h.ask({ domain: 'edge', descriptors: [[['client', 'partner-7']]], hits_addend: 1001 });
  expect(partner).toMatchObject({ overall_code: 'OK', statuses: [{ code: 'OK', current_limit: { requests_per_unit: 1000 } }] });
  // Ten minutes' budget of one address: 300, the per-second limit permitting.
  const burst = await h.ask({ domain: 'edge', descriptors: [[['remote_address', '198.51.100.9']]], hits_addend: 20 });
  expect(burst.statuses[0]).toMatchObject({ code: 'OK', current_limit: { name: 'per_second' }, limit_remaining: 0 });
});

// What a scraper sees of a part's Metrics: the text format on /metrics of its own listener,
// the grpc-ecosystem families, nothing when metrics are off.
import { Writable } from 'node:stream';
import { createLogger } from '../src/logger';
import { Metrics, grpcCallMetrics, hostOf, serveMetrics, type MetricsListener } from '../src/metrics';

const log = createLogger('test', 'silent', new Writable({ write: (_c, _e, cb) => cb() }));

describe('Metrics on their own listener', () => {
  let listener: MetricsListener;
  let m: Metrics;
  beforeAll(async () => {
    m = new Metrics();
    listener = await serveMetrics(m, { host: '127.0.0.1', port: 0, log });
  });
  afterAll(() => listener.close());
  const url = (path: string) => `http://127.0.0.1:${listener.port}${path}`;

  test('GET /metrics shows counters, histograms and the Node/process defaults in the text format', async () => {
    const c = m.counter('etu_test_things_total', 'Things.', ['kind']);
    c.inc({ kind: 'a' });
    c.child({ kind: 'b' }).inc(2);
    m.histogram('etu_test_wait_seconds', 'Waits.', [], [0.1, 1]).observe({}, 0.5);
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE etu_test_things_total counter');
    expect(text).toContain('etu_test_things_total{kind="a"} 1');
    expect(text).toContain('etu_test_things_total{kind="b"} 2');
    expect(text).toContain('etu_test_wait_seconds_bucket{le="0.1"} 0');
    expect(text).toContain('etu_test_wait_seconds_bucket{le="1"} 1');
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  test('declaring a family twice in one registry returns the same series', async () => {
    m.counter('etu_test_twice_total', 'Twice.').inc({});
    m.counter('etu_test_twice_total', 'Twice.').inc({});
    expect(await m.text()).toContain('etu_test_twice_total 2');
  });

  test('any other path or method is 404', async () => {
    expect((await fetch(url('/'))).status).toBe(404);
    expect((await fetch(url('/metrics/x'))).status).toBe(404);
    expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(404);
  });

  test('gRPC calls are counted under the grpc-ecosystem names, code names and labels', async () => {
    const families = grpcCallMetrics(m, 'server');
    families.forMethod('etuservices.x.v1.XService', 'Idle');
    const rec = families.forMethod('etuservices.x.v1.XService', 'DoThing');
    rec(0, 0.002);
    rec(14, 0.2);
    rec(14, 0.3);
    const text = await (await fetch(url('/metrics'))).text();
    const base = 'grpc_type="unary",grpc_service="etuservices.x.v1.XService",grpc_method="DoThing"';
    expect(text).toContain(`grpc_server_handled_total{${base},grpc_code="OK"} 1`);
    // A method never called has its OK series at 0 already (ratios need no first call).
    expect(text).toContain(
      'grpc_server_handled_total{grpc_type="unary",grpc_service="etuservices.x.v1.XService",grpc_method="Idle",grpc_code="OK"} 0',
    );
    expect(text).toContain(`grpc_server_handled_total{${base},grpc_code="Unavailable"} 2`);
    expect(text).toContain(`grpc_server_handling_seconds_count{${base}} 3`);
    expect(text).toContain(`grpc_server_handling_seconds_bucket{le="0.25",${base}} 2`);
  });
});

test('metrics off: every family is a no-op and nothing is rendered', async () => {
  const m = new Metrics({ enabled: false });
  m.counter('etu_off_total', 'Off.', ['k']).inc({ k: 'x' });
  m.histogram('etu_off_seconds', 'Off.', []).child({}).observe(1);
  grpcCallMetrics(m, 'client').forMethod('s', 'm')(0, 1);
  expect(m.enabled).toBe(false);
  expect(await m.text()).toBe('');
});

test('a port already taken is refused with a message naming it', async () => {
  const m = new Metrics({ defaultMetrics: false });
  const first = await serveMetrics(m, { host: '127.0.0.1', port: 0, log });
  try {
    await expect(serveMetrics(m, { host: '127.0.0.1', port: first.port, log })).rejects.toThrow(
      `cannot serve metrics on 127.0.0.1:${first.port}`,
    );
  } finally {
    await first.close();
  }
});

test('hostOf takes the host of a listen address', () => {
  expect(hostOf('0.0.0.0:50051')).toBe('0.0.0.0');
  expect(hostOf('127.0.0.1:0')).toBe('127.0.0.1');
  expect(hostOf('[::]:50051')).toBe('::');
  expect(hostOf(':50051')).toBe('0.0.0.0');
});

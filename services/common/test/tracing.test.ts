// Traces: nothing of OpenTelemetry loaded while off; on, spans nest across awaits and continue
// a trace received as a traceparent.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { currentSpanTraceparent, initTracing, inSpan, shutdownTracing } from '../src/tracing';
import { newTraceparent, parseTraceparent } from '../src/request-context';

const COMMON_DIST = join(__dirname, '..', 'dist', 'index.js');

function loadedSdkModules(endpoint: string | undefined): { enabled: boolean; tp: string | null; sdk: number } {
  // A process of its own: jest's module registry is not require.cache.
  const script = `
    const c = require(${JSON.stringify(COMMON_DIST)});
    const enabled = c.initTracing({ serviceName: 'x', endpoint: ${JSON.stringify(endpoint)} });
    c.inSpan('a', { kind: 'server' }, async () => c.currentSpanTraceparent()).then((tp) => {
      const sdk = Object.keys(require.cache).filter((k) => /@opentelemetry[\\\\/](sdk|exporter|resources|context-async-hooks|otlp)/.test(k));
      console.log(JSON.stringify({ enabled, tp: tp ?? null, sdk: sdk.length }));
      process.exit(0);
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { enabled: boolean; tp: string | null; sdk: number };
}

test('off (no endpoint): spans are plain calls and no OpenTelemetry SDK module is loaded', () => {
  expect(loadedSdkModules(undefined)).toEqual({ enabled: false, tp: null, sdk: 0 });
  // The same probe sees the SDK when an endpoint is set (nothing is sent: the process exits first).
  const on = loadedSdkModules('http://127.0.0.1:9');
  expect(on.enabled).toBe(true);
  expect(on.tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  expect(on.sdk).toBeGreaterThan(10);
});

describe('on, with the in-memory exporter', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    expect(initTracing({ serviceName: 'test-part', exporter })).toBe(true);
  });
  afterAll(() => shutdownTracing());

  test('a span continues the caller trace; spans started under it are its children, across awaits', async () => {
    const caller = parseTraceparent(newTraceparent())!;
    let inner: string | undefined;
    await inSpan('server', { kind: 'server', parent: `00-${caller.traceId}-${caller.spanId}-01` }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      await inSpan('redis', { kind: 'client', attributes: { 'db.system': 'redis' } }, () => {
        inner = currentSpanTraceparent();
        return Promise.resolve();
      });
    });
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === 'server')!;
    const redis = spans.find((s) => s.name === 'redis')!;
    expect(server.spanContext().traceId).toBe(caller.traceId);
    expect(server.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(redis.spanContext().traceId).toBe(caller.traceId);
    expect(redis.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(redis.attributes['db.system']).toBe('redis');
    expect(redis.resource.attributes['service.name']).toBe('test-part');
    expect(inner).toBe(`00-${caller.traceId}-${redis.spanContext().spanId}-01`);
  });

  test('a rejected call ends its span with status ERROR and still rejects', async () => {
    exporter.reset();
    await expect(inSpan('fails', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const [s] = exporter.getFinishedSpans();
    expect(s!.name).toBe('fails');
    expect(s!.status.code).toBe(2);
  });
});

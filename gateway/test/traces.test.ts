// Traces on (the SDK's in-memory exporter, installed before anything starts): one Vente is one
// trace whose spans come from the gateway, the limiter, the market and the stats, each server
// span the child of the gateway's client span that called it (the traceparent travelled in the
// gRPC metadata). The four services run in-process here (gateway/test/system.ts) so that one
// exporter sees every part's spans; which part made a span is its `etu.part` attribute. The
// spawned parts' per-call logs are checked by e2e/observability.test.ts, and that no SDK module
// is loaded while traces are off by services/common/test/tracing.test.ts.
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { initTracing, shutdownTracing } from '@etu/common';
import { startSystem, type Gateway, type System } from './system';
import { WebClient } from './browser';

const exporter = new InMemorySpanExporter();
let sys: System;
let gw: Gateway;

beforeAll(async () => {
  initTracing({ serviceName: 'etuservices-test', exporter });
  sys = await startSystem();
  gw = await sys.gateway();
});

afterAll(async () => {
  await sys?.close();
  await shutdownTracing();
});

test('one Vente is one trace with spans from the gateway, limiter, market and stats', async () => {
  const email = 'tracee@etu.example';
  await sys.createUser({ firstName: 'Trace', lastName: 'Suivie', email, password: 'correct-horse-battery' });
  const c = new WebClient(gw.server, '10.7.0.1');
  expect((await c.login(email, 'correct-horse-battery')).status).toBe(303);
  await c.get('/services');
  exporter.reset();
  const res = await c.post('/services/vente', { titre: 'Livre tracé', categorie: 'livre', etat: 'bon', prix: '9', description: '' });
  expect(res.status).toBe(303);
  const requestId = res.headers['x-request-id'] as string;

  // The stats record may finish just after the answer.
  const byPart = (spans: ReadableSpan[]) => new Set(spans.map((s) => s.attributes['etu.part']));
  const deadline = Date.now() + 5000;
  let spans: ReadableSpan[];
  for (;;) {
    const root = exporter.getFinishedSpans().find((s) => s.attributes['etu.request_id'] === requestId);
    spans = root ? exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId) : [];
    // Complete once stats is in and every server span's client span has finished too (the
    // gateway's client span of the batched stats call ends a moment after the stats server's).
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    const parented = spans.every((s) => s.kind !== SpanKind.SERVER || !s.parentSpanContext || ids.has(s.parentSpanContext.spanId));
    if ((byPart(spans).has('stats') && parented) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const root = spans.find((s) => s.attributes['etu.request_id'] === requestId)!;
  expect(root.name).toBe('POST /services/vente');
  expect(root.parentSpanContext).toBeUndefined();
  expect([...byPart(spans)].filter(Boolean).sort()).toEqual(['gateway', 'limiter', 'market', 'stats']);

  // Each service's server span is the child of the gateway's client span for that call; the
  // limiter's decision travelled in a batch of the limiter stream (the default), with its own
  // client span and traceparent.
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  for (const method of [
    'etuservices.limiter.v1.LimiterStreamService/ConsumeStream',
    'etuservices.market.v1.MarketService/CreateListing',
    'etuservices.stats.v1.StatsService/RecordServiceCalls',
  ]) {
    const server = spans.find((s) => s.name === method && s.kind === SpanKind.SERVER)!;
    const client = byId.get(server.parentSpanContext!.spanId)!;
    expect([method, client.name, client.kind]).toEqual([method, method, 2]);
  }
  // The stores' spans sit under their service: SQL under the market, Redis under the limiter.
  const sql = spans.find((s) => s.name === 'SQL market')!;
  expect(byId.get(sql.parentSpanContext!.spanId)!.attributes['etu.part']).toBe('market');
  const redis = spans.find((s) => s.name === 'redis EVALSHA sliding-window')!;
  expect(byId.get(redis.parentSpanContext!.spanId)!.attributes['etu.part']).toBe('limiter');
});

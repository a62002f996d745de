// ConsumeStream: the coalescing client's batches over one long-lived bidirectional stream per
// connection. Each message is one batch, decided like ConsumeBatch (one script call per slot
// group, items in order) and answered with its id as soon as it is decided, so several batches of
// one stream are in Redis at once and a slow one holds up no other. A batch whose decision fails
// as a whole answers an error on each of its items; the stream goes on. Nothing here retries.
// The token is checked once, when the stream opens. On shutdown, batches already received are
// answered, then the stream ends with OK: a batch that arrives after that is never decided (the
// client sends it again on a new stream; after a broken stream it fails it UNAVAILABLE instead).
//
// Each batch leaves what a unary call leaves (wrapService), from the calls' contexts the batch
// carries (ConsumeStreamCall: request id, traceparent, deadline): `call` log lines naming every
// request id, one server span per traced call (child of that call's traceparent; the Redis
// script's span sits under the first one), and grpc_server_* counted once per batch.
import * as grpc from '@grpc/grpc-js';
import {
  grpcCallMetrics,
  hasValidToken,
  inSpan,
  isWellFormedRequestId,
  logCall,
  Metrics,
  secondsSince,
  startSpan,
  tracingEnabled,
  type Logger,
} from '@etu/common';
import { limiter } from '@etu/proto';
import { itemError, type Limiter } from './limiter';
import type { LimiterMetrics } from './metrics';

/** google.rpc.Code INTERNAL, as itemError gives it for an error that is not a domain error. */
const INTERNAL = 13;
/** google.rpc.Code values as the items carry them (plain numbers on the wire). */
const OK: number = grpc.status.OK;
const DEADLINE_EXCEEDED: number = grpc.status.DEADLINE_EXCEEDED;

const SERVICE = 'etuservices.limiter.v1.LimiterStreamService';
const METHOD = 'ConsumeStream';
/** The `rpc` of the limiter's log lines for streamed batches, as `limiter/ConsumeBatch` for unary ones. */
const RPC = `limiter/${METHOD}`;
const SPAN_ATTRIBUTES = { 'rpc.system': 'grpc', 'rpc.service': SERVICE, 'rpc.method': METHOD, 'etu.part': 'limiter' };
/** Request ids named in one `call` line at most (the unary batch's metadata names as many). */
const IDS_PER_LINE = 32;

/** The items of a batch's answer, as ConsumeBatch and ConsumeStream give them. */
export function batchItems(results: Array<limiter.Decision | Error>, metrics: LimiterMetrics, log: Logger): limiter.ConsumeBatchItem[] {
  return results.map((r) => {
    if (!(r instanceof Error)) {
      metrics.decision(r);
      return { decision: r };
    }
    const e = itemError(r);
    if (e.code === INTERNAL) log.error({ err: r }, 'unexpected error in a batch item');
    return { error: e };
  });
}

type StreamCall = grpc.ServerDuplexStream<limiter.ConsumeStreamRequest, limiter.ConsumeStreamResponse>;

const codeOfItem = (item: limiter.ConsumeBatchItem | undefined): number => item?.error?.code ?? OK;

export class ConsumeStreams {
  private readonly open = new Set<{ call: StreamCall; drain: () => void }>();
  private closing = false;
  private readonly record;

  constructor(
    private readonly lim: Limiter,
    private readonly metrics: LimiterMetrics,
    private readonly token: string,
    private readonly log: Logger,
    grpcMetrics: Metrics = new Metrics({ enabled: false }),
  ) {
    this.record = grpcCallMetrics(grpcMetrics, 'server').forMethod(SERVICE, METHOD, 'bidi_stream');
  }

  /** The grpc-js handler of LimiterStreamService. */
  service(): limiter.LimiterStreamServiceServer {
    return { consumeStream: (call: StreamCall) => this.serve(call) };
  }

  /** Stops deciding new batches; each stream ends once its received batches are answered. */
  close(): void {
    this.closing = true;
    for (const s of this.open) s.drain();
  }

  private serve(call: StreamCall): void {
    if (!hasValidToken(call.metadata, this.token)) {
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'missing or invalid internal token' });
      return;
    }
    let deciding = 0;
    let clientDone = false;
    let ended = false;
    const end = () => {
      if (ended || deciding > 0 || !(clientDone || this.closing)) return;
      ended = true;
      this.open.delete(entry);
      call.end();
    };
    const entry = { call, drain: end };
    this.open.add(entry);
    // opened while shutting down: ended at once, with OK, so that the client sends its batches elsewhere
    if (this.closing) end();
    call.on('data', (req: limiter.ConsumeStreamRequest) => {
      if (this.closing || ended) return;
      deciding++;
      void this.decide(req)
        .then(
          (items) => this.reply(call, req.id, items),
          (err: unknown) => {
            // decide() answers every failure of the store itself; this is a defect in the observing
            this.log.error({ err }, 'unexpected error in a streamed batch');
            this.reply(
              call,
              req.id,
              req.requests.map(() => ({ error: { code: INTERNAL, message: 'internal error' } })),
            );
          },
        )
        .finally(() => {
          deciding--;
          end();
        });
    });
    call.on('end', () => {
      clientDone = true;
      end();
    });
    call.on('error', () => {
      // the client went away (cancelled, connection lost): nothing to answer any more
      ended = true;
      this.open.delete(entry);
    });
  }

  /** One batch: decided, its late calls answered DEADLINE_EXCEEDED, and observed as its unary calls would be. */
  private async decide(req: limiter.ConsumeStreamRequest): Promise<limiter.ConsumeBatchItem[]> {
    const started = performance.now();
    const receivedAt = Date.now();
    // A client that sends no contexts (or not one per request) is served without them.
    const calls = req.calls.length === req.requests.length ? req.calls : [];
    const deadlines = calls.map((c) => (c.timeoutMs > 0 ? receivedAt + c.timeoutMs : Infinity));
    let items: limiter.ConsumeBatchItem[] = [];
    let batchCode = OK;
    const run = async () => {
      try {
        const results = await this.lim.consumeMany(req.requests);
        items = batchItems(results, this.metrics, this.log);
        // A decision its caller no longer waits for is not answered late (a unary call past its
        // deadline gets DEADLINE_EXCEEDED too; it may have been counted, like that call).
        const now = Date.now();
        items = items.map((item, i) =>
          now > (deadlines[i] ?? Infinity) ? { error: { code: DEADLINE_EXCEEDED, message: 'deadline exceeded' } } : item,
        );
        if (deadlines.length > 0 && deadlines.every((d) => now > d)) batchCode = DEADLINE_EXCEEDED;
      } catch (err) {
        const e = itemError(err instanceof Error ? err : new Error(String(err)));
        if (e.code === INTERNAL) this.log.error({ err }, 'unexpected error in a streamed batch');
        items = req.requests.map(() => ({ error: e }));
        batchCode = e.code;
      }
      return items;
    };
    if (tracingEnabled()) await this.traced(calls, run);
    else await run();
    const seconds = secondsSince(started);
    this.record(batchCode, seconds);
    this.logBatch(calls, items, batchCode, seconds);
    return items;
  }

  /**
   * One server span per call that sent a traceparent, child of it (as wrapService opens one per
   * unary call); the batch's one script call runs under the first, so its Redis span is in that
   * call's trace. A batch without any traceparent gets one span, as a unary call without one.
   */
  private async traced(calls: limiter.ConsumeStreamCall[], run: () => Promise<limiter.ConsumeBatchItem[]>): Promise<void> {
    const traced = calls.flatMap((c, i) => (c.traceparent === '' ? [] : [{ i, parent: c.traceparent }]));
    const lead = traced[0];
    const attributes = { ...SPAN_ATTRIBUTES, 'etu.limiter.batch_calls': calls.length };
    const others = traced
      .slice(1)
      .map((t) => ({ i: t.i, span: startSpan(`${SERVICE}/${METHOD}`, { kind: 'server', parent: t.parent, attributes }) }));
    const items = await inSpan(
      `${SERVICE}/${METHOD}`,
      {
        kind: 'server',
        parent: lead?.parent,
        attributes,
        onEnd: (span, r) =>
          span.setAttribute('rpc.grpc.status_code', r.ok && lead ? codeOfItem((r.value as limiter.ConsumeBatchItem[])[lead.i]) : 0),
      },
      run,
    );
    for (const o of others) {
      const code = codeOfItem(items[o.i]);
      o.span?.end({ 'rpc.grpc.status_code': code }, code === OK ? undefined : items[o.i]?.error?.message);
    }
  }

  /**
   * `call` lines as wrapService logs them, naming every request id of the batch (IDS_PER_LINE a
   * line): the calls answered late under DEADLINE_EXCEEDED, the others under the batch's code.
   */
  private logBatch(calls: limiter.ConsumeStreamCall[], items: limiter.ConsumeBatchItem[], batchCode: number, seconds: number): void {
    const byCode = new Map<number, Set<string>>();
    if (calls.length === 0) byCode.set(batchCode, new Set());
    calls.forEach((c, i) => {
      const code = codeOfItem(items[i]) === DEADLINE_EXCEEDED ? DEADLINE_EXCEEDED : batchCode;
      let ids = byCode.get(code);
      if (!ids) byCode.set(code, (ids = new Set()));
      if (isWellFormedRequestId(c.requestId)) ids.add(c.requestId);
    });
    for (const [code, set] of byCode) {
      const ids = [...set];
      if (ids.length === 0) logCall(this.log, RPC, code, seconds, undefined);
      for (let k = 0; k < ids.length; k += IDS_PER_LINE) logCall(this.log, RPC, code, seconds, ids.slice(k, k + IDS_PER_LINE).join(','));
    }
  }

  private reply(call: StreamCall, id: number, items: limiter.ConsumeBatchItem[]): void {
    if (call.cancelled || call.destroyed) return;
    call.write({ id, items });
  }
}

// ConsumeStream: the coalescing client's batches over one long-lived bidirectional stream per
// connection. Each message is one batch, decided like ConsumeBatch (one script call per slot
// group, items in order) and answered with its id as soon as it is decided, so several batches of
// one stream are in Redis at once and a slow one holds up no other. A batch whose decision fails
// as a whole answers an error on each of its items; the stream goes on. Nothing here retries.
// The token is checked once, when the stream opens. On shutdown, batches already received are
// answered, then the stream ends: a batch that arrives after that is never decided (the client
// fails it UNAVAILABLE, never sends it again).
import * as grpc from '@grpc/grpc-js';
import { hasValidToken, type Logger } from '@etu/common';
import { limiter } from '@etu/proto';
import { itemError, type Limiter } from './limiter';
import type { LimiterMetrics } from './metrics';

/** google.rpc.Code INTERNAL, as itemError gives it for an error that is not a domain error. */
const INTERNAL = 13;

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

export class ConsumeStreams {
  private readonly open = new Set<{ call: StreamCall; drain: () => void }>();
  private closing = false;

  constructor(
    private readonly lim: Limiter,
    private readonly metrics: LimiterMetrics,
    private readonly token: string,
    private readonly log: Logger,
  ) {}

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
    call.on('data', (req: limiter.ConsumeStreamRequest) => {
      if (this.closing || ended) return;
      deciding++;
      this.lim
        .consumeMany(req.requests)
        .then(
          (results) => this.reply(call, req.id, batchItems(results, this.metrics, this.log)),
          (err: unknown) => {
            const e = itemError(err instanceof Error ? err : new Error(String(err)));
            if (e.code === INTERNAL) this.log.error({ err }, 'unexpected error in a streamed batch');
            this.reply(
              call,
              req.id,
              req.requests.map(() => ({ error: e })),
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

  private reply(call: StreamCall, id: number, items: limiter.ConsumeBatchItem[]): void {
    if (call.cancelled || call.destroyed) return;
    call.write({ id, items });
  }
}

// Service-call statistics off the response path, in batches (issue 16): a Vente or Achat queues
// its record (with its own event id, made when the call was decided) and the answer goes out at
// once; the queue goes to the stats service as ONE RecordServiceCalls RPC. One batch is in
// flight at a time: while it is, new records wait and leave together when it returns, so an idle
// gateway sends each record within one event-loop turn and a busy one sends fewer, larger
// batches (at most `maxBatch` records each).
// Bounded: at most `maxQueue` records wait; a record that finds the queue full is a loss,
// counted in etu_stats_records_lost_total like any other (never an unbounded buffer).
// A batch that fails is sent once more for its allowed records only: each keeps its event id,
// which the stats service deduplicates, so the retry never counts one twice. Denied records
// have no dedup key there (services/stats/README.md): they are never retried, counted lost.
// The statistics page and shutdown call `flush()`, which resolves once every record queued
// before it was answered or lost: an admin's read after an action on this gateway sees it.
// STATS_BATCH=off keeps the unary RecordServiceCall awaited before answering (the A/B of bench/).
import type { Logger, RequestContext } from '@etu/common';
import { stats } from '@etu/proto';
import type { Clients } from '../clients';
import { describeGrpcError } from '../lib/grpc';
import type { Metrics } from '../lib/metrics';

export interface StatsBatchOptions {
  stats: Pick<Clients['stats'], 'recordServiceCalls'>;
  metrics: Metrics;
  log: Logger;
  /** Deadline of each batch RPC (STATS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Most records per RPC (the service takes up to 1,000). */
  maxBatch?: number;
  /** Most records waiting at once; beyond, a record is counted lost. */
  maxQueue?: number;
}

interface Queued {
  call: stats.RecordServiceCallRequest;
  /** The request it comes from (the batch carries its first record's id and traceparent). */
  context: RequestContext | undefined;
  retried: boolean;
}

export class StatsBatch {
  private queue: Queued[] = [];
  private sending: Promise<void> | undefined;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxQueue: number;

  constructor(private readonly opts: StatsBatchOptions) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxQueue = opts.maxQueue ?? 10_000;
  }

  /** Records waiting (not yet sent), for tests. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Queues one record; never waits, never throws. */
  add(call: stats.RecordServiceCallRequest, context?: RequestContext): void {
    if (this.queue.length >= this.maxQueue) {
      this.opts.metrics.statsRecordLost('service_call');
      return;
    }
    this.queue.push({ call, context, retried: false });
    this.kick();
  }

  /** Resolves once every record queued so far was sent (answered or counted lost). */
  async flush(): Promise<void> {
    while (this.sending || this.queue.length > 0) {
      if (this.sending) await this.sending;
      else this.sending = this.sendNext();
    }
  }

  private kick(): void {
    if (this.sending || this.scheduled) return;
    // the records of this event-loop turn go together
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.sending && this.queue.length > 0) this.sending = this.sendNext();
    });
  }

  private async sendNext(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      await this.opts.stats.recordServiceCalls(
        { calls: batch.map((q) => q.call) },
        { timeoutMs: this.opts.timeoutMs, context: batch[0]?.context },
      );
    } catch (err) {
      const again = batch.filter((q) => !q.retried && q.call.outcome === stats.Outcome.OUTCOME_ALLOWED);
      const lost = batch.length - again.length;
      if (lost > 0) this.opts.metrics.statsRecordLost('service_call', lost);
      this.opts.log.warn(
        { what: 'RecordServiceCalls', records: batch.length, retried: again.length, lost, err: describeGrpcError(err) },
        lost > 0 ? 'stats recording lost' : 'stats batch failed: sent again',
      );
      // back at the head of the queue, within its bound
      const room = Math.max(0, this.maxQueue - this.queue.length);
      if (again.length > room) this.opts.metrics.statsRecordLost('service_call', again.length - room);
      this.queue.unshift(...again.slice(0, room).map((q) => ({ ...q, retried: true })));
    } finally {
      this.sending = undefined;
      if (this.queue.length > 0) this.kick();
    }
  }
}

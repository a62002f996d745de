// Refusals answered from the refusal cache (lib/refusal-cache.ts) still reach the statistics,
// summed: one counter per (user, service, minute) in this process, sent as one
// RecordServiceCall(DENIED, count = n, at = the minute) when the first refusal of a batch is
// `flushMs` old, before the statistics page is read, and at shutdown. The stats service keeps
// no key per denial (services/stats/README.md), so a hammering client adds no key there either,
// and the statistics page counts every refusal, late by at most `flushMs` on another gateway.
// A failed flush is a loss like any other statistics loss: logged, and counted in
// etu_stats_records_lost_total by the number of refusals it stood for (never retried: a denial
// has no dedup key, a retry could count twice).
// Bounded: at most `maxKeys` counters wait; a refusal that finds the table full is counted lost.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@etu/common';
import { stats } from '@etu/proto';
import type { Clients } from '../clients';
import { describeGrpcError } from '../lib/grpc';
import type { Metrics } from '../lib/metrics';

/** The stats service's largest `count` per record. */
const MAX_RECORD_COUNT = 1_000_000;

interface Pending {
  userId: string;
  service: stats.ServiceKind;
  minute: number;
  count: number;
}

export interface DenialTallyOptions {
  stats: Pick<Clients['stats'], 'recordServiceCall'>;
  metrics: Metrics;
  log: Logger;
  /** Longest a refusal waits before it is sent (ms). */
  flushMs: number;
  /** Deadline of each record (STATS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Most (user, service, minute) counters waiting at once. */
  maxKeys?: number;
}

export class DenialTally {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private readonly maxKeys: number;

  constructor(private readonly opts: DenialTallyOptions) {
    this.maxKeys = opts.maxKeys ?? 20_000;
  }

  /** Refusals waiting to be sent (for tests and the bench). */
  get waiting(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.count;
    return n;
  }

  /** One refusal of `userId` on `service`, now. */
  add(userId: string, service: stats.ServiceKind, now = Date.now()): void {
    const minute = Math.floor(now / 60_000) * 60_000;
    const key = `${userId}\0${service}\0${minute}`;
    const p = this.pending.get(key);
    if (p) p.count++;
    else if (this.pending.size >= this.maxKeys) {
      this.opts.metrics.statsRecordLost('service_call');
      return;
    } else this.pending.set(key, { userId, service, minute, count: 1 });
    this.opts.metrics.denialAggregated();
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushMs);
      this.timer.unref();
    }
  }

  /** Sends every waiting counter now (one record each); resolves when all answered or failed. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const sends: Promise<void>[] = [];
    for (const p of batch) {
      for (let left = p.count; left > 0; left -= MAX_RECORD_COUNT) {
        const count = Math.min(left, MAX_RECORD_COUNT);
        sends.push(this.send(p, count));
      }
    }
    await Promise.all(sends);
  }

  private async send(p: Pending, count: number): Promise<void> {
    try {
      await this.opts.stats.recordServiceCall(
        {
          eventId: randomUUID(),
          userId: p.userId,
          service: p.service,
          outcome: stats.Outcome.OUTCOME_DENIED,
          at: new Date(p.minute),
          count,
        },
        { timeoutMs: this.opts.timeoutMs },
      );
    } catch (err) {
      this.opts.metrics.statsRecordLost('service_call', count);
      this.opts.log.warn({ what: 'RecordServiceCall', count, err: describeGrpcError(err) }, 'stats recording lost');
    }
  }
}

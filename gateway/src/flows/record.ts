// Best-effort statistics: the user's action never fails because stats are down or slow (the
// call has its own short deadline, STATS_TIMEOUT_MS). A loss is logged and counted
// (`stats_record_lost`).
import { randomUUID } from 'node:crypto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { describeGrpcError } from '../lib/grpc';

export async function record(w: Wiring, ctx: Ctx, what: string, call: (eventId: string, timeoutMs: number) => Promise<unknown>): Promise<void> {
  try {
    await call(randomUUID(), w.config.STATS_TIMEOUT_MS);
  } catch (err) {
    w.metrics.inc('stats_record_lost');
    ctx.state.log.warn({ what, err: describeGrpcError(err) }, 'stats recording lost');
  }
}

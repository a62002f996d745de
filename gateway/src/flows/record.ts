// Best-effort statistics: the user's action never fails because stats are down or slow (the
// call has its own short deadline, STATS_TIMEOUT_MS). A loss is logged and counted
// (`etu_stats_records_lost_total`).
import { randomUUID } from 'node:crypto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import type { StatsEvent } from '../lib/metrics';

const EVENT: Record<string, StatsEvent> = { RecordLogin: 'login', RecordServiceCall: 'service_call', RegisterUser: 'user' };
import { describeGrpcError } from '../lib/grpc';

export async function record(
  w: Wiring,
  ctx: Ctx,
  what: 'RecordLogin' | 'RecordServiceCall' | 'RegisterUser',
  call: (eventId: string, timeoutMs: number) => Promise<unknown>,
): Promise<void> {
  try {
    await call(randomUUID(), w.config.STATS_TIMEOUT_MS);
  } catch (err) {
    w.metrics.statsRecordLost(EVENT[what]!);
    ctx.state.log.warn({ what, err: describeGrpcError(err) }, 'stats recording lost');
  }
}

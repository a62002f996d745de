// The limiter's own metrics (beside grpc_server_*): decisions by policy and outcome, near-limit
// decisions (as envoyproxy/ratelimit counts them: allowed with at most 10 % of the limit left),
// decisions per Redis script call, the script's duration, and Redis errors by kind.
import { Metrics } from '@etu/common';
import type { Decision } from './limiter';

export type RedisErrorKind = 'unavailable' | 'timeout' | 'oom' | 'readonly' | 'overloaded' | 'other';

type Child = { inc(by?: number): void };

export class LimiterMetrics {
  private readonly perPolicy = new Map<string, { allowed: Child; denied: Child; near: Child }>();
  private readonly decisions;
  private readonly nearLimit;
  private readonly batch;
  private readonly script;
  private readonly errors;

  constructor(m: Metrics = new Metrics({ enabled: false }), policies: readonly string[] = []) {
    this.decisions = m.counter('etu_limiter_decisions_total', 'Consume decisions by policy and outcome (allowed, denied).', ['policy', 'outcome']);
    this.nearLimit = m.counter('etu_limiter_near_limit_total', 'Allowed decisions that left at most 10 % of the limit, by policy.', ['policy']);
    this.batch = m.histogram('etu_limiter_batch_size', 'Decisions taken by one Redis script call.', [], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]).child({});
    this.script = m.histogram('etu_limiter_redis_script_duration_seconds', 'Duration of one limiter script call to Redis (seconds), one decision or a batch.', [], [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]).child({});
    this.errors = m.counter('etu_limiter_redis_errors_total', 'Limiter calls to Redis that failed, by kind (unavailable, timeout, oom, readonly, overloaded, other).', ['kind']);
    for (const p of policies) this.series(p);
    for (const kind of ['unavailable', 'timeout', 'oom', 'readonly', 'overloaded', 'other'] as const) this.errors.inc({ kind }, 0);
  }

  private series(policy: string) {
    let s = this.perPolicy.get(policy);
    if (!s) {
      s = {
        allowed: this.decisions.child({ policy, outcome: 'allowed' }),
        denied: this.decisions.child({ policy, outcome: 'denied' }),
        near: this.nearLimit.child({ policy }),
      };
      this.perPolicy.set(policy, s);
      // The series exist (at 0) from the start: rates and alerts need no first event.
      s.allowed.inc(0);
      s.denied.inc(0);
      s.near.inc(0);
    }
    return s;
  }

  decision(d: Decision): void {
    const s = this.series(d.policy);
    if (!d.allowed) {
      s.denied.inc();
      return;
    }
    s.allowed.inc();
    if (d.remaining <= d.limit / 10) s.near.inc();
  }

  scriptCall(decisions: number, seconds: number): void {
    this.batch.observe(decisions);
    this.script.observe(seconds);
  }

  redisError(kind: RedisErrorKind): void {
    this.errors.inc({ kind });
  }
}

/** The kind of a failed Redis call, from the store's error (its message names the cause). */
export function redisErrorKind(err: unknown): RedisErrorKind {
  const msg = err instanceof Error ? err.message : String(err);
  if (/no answer within/.test(msg)) return 'timeout';
  if (/too many calls waiting/.test(msg)) return 'overloaded';
  if (/\bOOM\b/.test(msg)) return 'oom';
  if (/READONLY/.test(msg)) return 'readonly';
  if (/unavailable/i.test(msg)) return 'unavailable';
  return 'other';
}

// The limiter's own metrics (beside grpc_server_*): decisions by policy and outcome, near-limit
// decisions (as envoyproxy/ratelimit counts them: allowed with at most 10 % of the limit left),
// decisions per Redis script call, the script's duration, and Redis errors by kind.
import { Metrics } from '@etu/common';
import type { EnvoyLimit, EnvoyRule } from './envoy-config';

export type RedisErrorKind = 'unavailable' | 'timeout' | 'oom' | 'readonly' | 'overloaded' | 'redirect' | 'other';

type Child = { inc(by?: number): void };

export class LimiterMetrics {
  private readonly perPolicy = new Map<string, { allowed: Child; denied: Child; near: Child }>();
  private readonly decisions;
  private readonly nearLimit;
  private readonly batch;
  private readonly script;
  private readonly errors;
  private readonly envoyStats;
  private readonly configLoads;
  private readonly envoySeries = new Map<string, Record<EnvoyStat, Child>>();

  constructor(m: Metrics = new Metrics({ enabled: false }), policies: readonly string[] = []) {
    this.decisions = m.counter('etu_limiter_decisions_total', 'Consume decisions by policy and outcome (allowed, denied).', [
      'policy',
      'outcome',
    ]);
    this.nearLimit = m.counter('etu_limiter_near_limit_total', 'Allowed decisions that left at most 10 % of the limit, by policy.', [
      'policy',
    ]);
    this.batch = m
      .histogram('etu_limiter_batch_size', 'Decisions taken by one Redis script call.', [], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000])
      .child({});
    this.script = m
      .histogram(
        'etu_limiter_redis_script_duration_seconds',
        'Duration of one limiter script call to Redis (seconds), one decision or a batch.',
        [],
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      )
      .child({});
    this.errors = m.counter(
      'etu_limiter_redis_errors_total',
      'Limiter calls to Redis that failed, by kind (unavailable, timeout, oom, readonly, overloaded, redirect, other).',
      ['kind'],
    );
    // Envoy's API: envoyproxy/ratelimit's statistics under the names its Prometheus mapping
    // gives them (ratelimit.service.rate_limit.<domain>.<key1>.<key2>.<stat>), so its dashboards
    // and alerts work unchanged; one series per configured rule, never per request value.
    this.envoyStats = Object.fromEntries(
      ENVOY_STATS.map((stat) => [stat, m.counter(`ratelimit_service_rate_limit_${stat}`, ENVOY_HELP[stat], ['domain', 'key1', 'key2'])]),
    ) as Record<EnvoyStat, ReturnType<Metrics['counter']>>;
    this.configLoads = {
      ok: m
        .counter('ratelimit_service_config_load_success', 'Envoy rate limit configuration loads that succeeded (start and reloads).')
        .child({}),
      error: m
        .counter(
          'ratelimit_service_config_load_error',
          'Envoy rate limit configuration reloads refused (the last good configuration stayed in force).',
        )
        .child({}),
    };
    this.configLoads.ok.inc(0);
    this.configLoads.error.inc(0);
    for (const p of policies) this.series(p);
    for (const kind of ['unavailable', 'timeout', 'oom', 'readonly', 'overloaded', 'redirect', 'other'] as const)
      this.errors.inc({ kind }, 0);
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

  /** Counts one decision (the fields of limiter.ts's Decision it reads). */
  decision(d: { policy: string; allowed: boolean; remaining: number; limit: number }): void {
    const s = this.series(d.policy);
    if (!d.allowed) {
      s.denied.inc();
      return;
    }
    s.allowed.inc();
    if (d.remaining <= d.limit / 10) s.near.inc();
  }

  /** One limit of one Envoy descriptor decided (envoy.ts's LimitOutcome; hits 0 = a peek: nothing counted). */
  envoy(o: { rule: EnvoyRule; limit: EnvoyLimit; allowed: boolean; hits: number; remaining: number }): void {
    if (o.hits === 0) return;
    const key = o.rule.statKey;
    let s = this.envoySeries.get(key);
    if (!s) {
      const [domain = '', key1 = '', ...rest] = o.rule.statPath;
      const labels = { domain, key1, key2: rest.join('.') };
      s = Object.fromEntries(ENVOY_STATS.map((stat) => [stat, this.envoyStats[stat].child(labels)])) as Record<EnvoyStat, Child>;
      this.envoySeries.set(key, s);
    }
    s.total_hits.inc(o.hits);
    const limit = o.limit.limit;
    if (!o.allowed) {
      s.over_limit.inc(o.hits);
      if (o.rule.shadow) s.shadow_mode.inc(o.hits);
      return;
    }
    s.within_limit.inc(o.hits);
    // near_limit: the hits that took the count above 80 % of the limit (envoyproxy/ratelimit's ratio)
    const after = limit - o.remaining;
    const threshold = Math.floor(limit * 0.8);
    if (after > threshold) s.near_limit.inc(after - Math.max(threshold, after - o.hits));
  }

  configLoad(ok: boolean): void {
    (ok ? this.configLoads.ok : this.configLoads.error).inc();
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
  if (/Cluster redirections/.test(msg)) return 'redirect';
  if (/unavailable/i.test(msg)) return 'unavailable';
  return 'other';
}

const ENVOY_STATS = ['total_hits', 'over_limit', 'near_limit', 'within_limit', 'shadow_mode'] as const;
type EnvoyStat = (typeof ENVOY_STATS)[number];
const ENVOY_HELP: Record<EnvoyStat, string> = {
  total_hits: 'Hits asked of an Envoy rate limit rule (ShouldRateLimit), by domain and descriptor key.',
  over_limit: 'Hits of an Envoy rule that were over its limit (shadow mode included).',
  near_limit: 'Admitted hits of an Envoy rule that took its count above 80 % of the limit.',
  within_limit: 'Hits of an Envoy rule within its limit (not counted when another descriptor of the request was over).',
  shadow_mode: 'Hits of an Envoy rule in shadow_mode that were over its limit and answered OK anyway.',
};

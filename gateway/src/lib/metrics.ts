// The gateway's Prometheus metrics (served on METRICS_PORT by main.ts, never on the public
// port): HTTP answers by route template, quota decisions, refusals and losses that do not stop
// the user, logins by outcome, and the gRPC clients' grpc_client_* families (installed by
// createServiceClient with `part`). Label values are bounded: route templates, never raw paths
// or user ids.
import { LATENCY_BUCKETS, Metrics as PartMetrics, type CounterFamily } from '@etu/common';

/** How a quota decision ended, as etu_quota_decisions_total labels it. */
export type QuotaOutcome = 'allowed' | 'denied' | 'unavailable_refused' | 'unavailable_admitted' | 'misconfigured_refused';
export type LoginOutcome = 'success' | 'bad_credentials' | 'bruteforce_refused' | 'account_refused' | 'quota_refused';
/** The statistics record that was lost. */
export type StatsEvent = 'login' | 'service_call' | 'user';

type Child = { inc(by?: number): void };
type HttpSeries = { count: Child; duration: { observe(v: number): void } };

export class Metrics {
  readonly part: PartMetrics;
  private readonly httpRequests: CounterFamily<'route' | 'method' | 'status_class'>;
  private readonly httpDuration;
  private readonly http = new Map<string, HttpSeries>();
  private readonly quota: CounterFamily<'policy' | 'outcome'>;
  private readonly quotaSeries = new Map<string, Child>();
  private readonly logins: CounterFamily<'outcome'>;
  private readonly bruteforce: CounterFamily<'flow'>;
  private readonly statsLost: CounterFamily<'event'>;
  private readonly csrf: Child;
  private readonly sessionErrors: Child;
  private readonly peekFailures: Child;
  private readonly unknownUsers: Child;
  private readonly refusalHits: CounterFamily<'policy'>;
  private readonly denialsAggregated: Child;
  private readonly mails: CounterFamily<'kind' | 'outcome'>;
  private readonly replayChecks: CounterFamily<'service' | 'result'>;
  private readonly replayWaits: CounterFamily<'service'>;

  /** `enabled: false` = METRICS_PORT=off: every family is a no-op. */
  constructor(opts: { enabled?: boolean; defaultMetrics?: boolean } = {}) {
    this.part = new PartMetrics(opts);
    const m = this.part;
    this.httpRequests = m.counter(
      'http_server_requests_total',
      'HTTP requests answered by the gateway, by route template, method and status class.',
      ['route', 'method', 'status_class'],
    );
    this.httpDuration = m.histogram(
      'http_server_request_duration_seconds',
      'Time to answer an HTTP request (seconds), by route template, method and status class.',
      ['route', 'method', 'status_class'],
      LATENCY_BUCKETS,
    );
    this.quota = m.counter(
      'etu_quota_decisions_total',
      'Quota decisions taken through the limiter, by policy and outcome (unavailable_*: the limiter could not answer; LIMITER_FAIL_MODE chose).',
      ['policy', 'outcome'],
    );
    this.logins = m.counter('etu_logins_total', 'Login attempts by outcome.', ['outcome']);
    this.bruteforce = m.counter(
      'etu_bruteforce_refusals_total',
      'Logins and sign-ups refused without checking anything because a failure policy is exhausted.',
      ['flow'],
    );
    this.statsLost = m.counter(
      'etu_stats_records_lost_total',
      'Statistics records the stats service did not take (down or too slow); the user was served.',
      ['event'],
    );
    this.csrf = m.counter('etu_csrf_refusals_total', 'POSTs refused for a missing or wrong CSRF token.').child({});
    this.sessionErrors = m
      .counter('etu_session_store_errors_total', 'Requests that failed because the session store (Redis) could not answer.')
      .child({});
    this.unknownUsers = m
      .counter(
        'etu_sessions_dropped_unknown_user_total',
        'Sessions dropped because auth no longer knows their account (e.g. after a restore).',
      )
      .child({});
    this.peekFailures = m
      .counter('etu_quota_peek_failures_total', 'Services pages shown without the quota line (the limiter could not be read).')
      .child({});
    this.refusalHits = m.counter(
      'etu_quota_refusal_cache_hits_total',
      'Calls refused by the gateway from its refusal cache (the subject was known to be over quota), without asking the limiter, by policy.',
      ['policy'],
    );
    this.denialsAggregated = m
      .counter(
        'etu_stats_denials_aggregated_total',
        'Refusals answered from the refusal cache, sent to the statistics summed per user, service and minute.',
      )
      .child({});
    this.mails = m.counter(
      'etu_mails_total',
      'E-mails by kind (achat: a seller told of a sale; mot_de_passe: a reset link) and outcome (sent, failed: given up, retried: failed once and tried again later, dropped: queue full, skipped: nothing to send).',
      ['kind', 'outcome'],
    );
    this.replayChecks = m.counter(
      'etu_replay_checks_total',
      'Vente and Achat calls by how their replay check went (first: the key was claimed now, no market call; done: claimed before and already done, answered again uncounted; not_done: claimed before but not done, counted as a new call).',
      ['service', 'result'],
    );
    this.replayWaits = m.counter(
      'etu_replay_waits_total',
      'Vente and Achat calls that found the first call with their key still in flight (a double click) and waited for its outcome before their replay check (then counted in etu_replay_checks_total as any call).',
      ['service'],
    );
    for (const service of ['vente', 'achat']) {
      for (const result of ['first', 'done', 'not_done']) this.replayChecks.inc({ service, result }, 0);
      this.replayWaits.inc({ service }, 0);
    }
    for (const kind of ['achat', 'mot_de_passe'])
      for (const outcome of ['sent', 'failed', 'retried', 'dropped']) this.mails.inc({ kind, outcome }, 0);
    for (const outcome of ['success', 'bad_credentials', 'bruteforce_refused', 'account_refused', 'quota_refused'] as const)
      this.logins.inc({ outcome }, 0);
    for (const event of ['login', 'service_call', 'user'] as const) this.statsLost.inc({ event }, 0);
  }

  /** One answered HTTP request; `route` is the router's template ('/services/vente'), never the raw path. */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const statusClass = `${Math.floor(status / 100)}xx`;
    const key = `${route} ${method} ${statusClass}`;
    let s = this.http.get(key);
    if (!s) {
      const labels = { route, method, status_class: statusClass };
      s = { count: this.httpRequests.child(labels), duration: this.httpDuration.child(labels) };
      this.http.set(key, s);
    }
    s.count.inc();
    s.duration.observe(seconds);
  }

  quotaDecision(policy: string, outcome: QuotaOutcome): void {
    const key = `${policy} ${outcome}`;
    let c = this.quotaSeries.get(key);
    if (!c) {
      c = this.quota.child({ policy, outcome });
      this.quotaSeries.set(key, c);
    }
    c.inc();
  }

  /** The quota series of a policy exist (at 0) before the first decision, for rates and alerts. */
  declarePolicies(policies: readonly string[]): void {
    for (const policy of policies) {
      this.refusalHits.inc({ policy }, 0);
      for (const outcome of ['allowed', 'denied', 'unavailable_refused', 'unavailable_admitted'] as const)
        this.quota.inc({ policy, outcome }, 0);
    }
  }

  login(outcome: LoginOutcome): void {
    this.logins.inc({ outcome });
  }

  bruteforceRefused(flow: 'login' | 'signup'): void {
    this.bruteforce.inc({ flow });
  }

  /** `n`: how many events the lost record stood for (a summed record of refusals). */
  statsRecordLost(event: StatsEvent, n = 1): void {
    this.statsLost.inc({ event }, n);
  }

  refusalCacheHit(policy: string): void {
    this.refusalHits.inc({ policy });
  }

  denialAggregated(): void {
    this.denialsAggregated.inc();
  }

  replayCheck(service: string, result: 'first' | 'done' | 'not_done'): void {
    this.replayChecks.inc({ service, result });
  }

  replayWait(service: string): void {
    this.replayWaits.inc({ service });
  }

  mail(kind: string, outcome: string): void {
    this.mails.inc({ kind, outcome });
  }

  csrfRefused(): void {
    this.csrf.inc();
  }

  sessionStoreError(): void {
    this.sessionErrors.inc();
  }

  sessionUserUnknown(): void {
    this.unknownUsers.inc();
  }

  quotaPeekFailed(): void {
    this.peekFailures.inc();
  }

  /** The sum of a counter's series matching `labels` (what a scraper would read); 0 when off or absent. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.part.registry?.getSingleMetric(name);
    if (!metric) return 0;
    const { values } = await metric.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
      .reduce((sum, v) => sum + v.value, 0);
  }
}

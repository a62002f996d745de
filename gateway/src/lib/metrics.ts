// In-process counters of what went wrong without stopping the user (and what did stop them),
// exposed as JSON on /readyz. Per gateway process; a scraper sums them across instances.

export const COUNTER_NAMES = [
  /** Limiter unreachable and LIMITER_FAIL_MODE=closed: the request got a 503. */
  'limiter_unavailable_refused',
  /** Limiter unreachable and LIMITER_FAIL_MODE=open: the request was admitted unchecked. */
  'limiter_unavailable_admitted',
  /** The limiter refused a call for a configuration error (e.g. an unknown policy): 503, never admitted. */
  'limiter_misconfigured_refused',
  /** The quota line of the services page could not be read. */
  'limiter_peek_failed',
  /** A stats recording (login, service call, new user) was lost. */
  'stats_record_lost',
  /** Login attempts refused because a failure policy was exhausted (no password check). */
  'login_bruteforce_refused',
  /** Login attempts from unknown browsers refused because the account's budget was spent (no password check). */
  'login_account_refused',
  /** Sign-ups refused by the `signup-ip` policy. */
  'signup_refused',
  /** Logins refused by the `login` policy. */
  'login_quota_refused',
  /** Vente/Achat calls refused by the `service` policy. */
  'service_quota_refused',
  /** POSTs refused for a missing or wrong CSRF token, or coming from another site. */
  'csrf_refused',
  /** Sessions dropped because auth no longer knows their account (e.g. after a restore). */
  'session_user_unknown',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

export class Metrics {
  private readonly counters = new Map<CounterName, number>(COUNTER_NAMES.map((n) => [n, 0]));

  inc(name: CounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.counters.get(name) ?? 0;
  }

  snapshot(): Record<CounterName, number> {
    return Object.fromEntries(this.counters) as Record<CounterName, number>;
  }
}

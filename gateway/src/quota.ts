// The only door to the limiter. Every call goes through one error policy:
// - the limiter is unreachable (UNAVAILABLE, DEADLINE_EXCEEDED): LIMITER_FAIL_MODE decides —
//   closed → 503, open → admitted unchecked (`undefined`); logged and counted;
// - the limiter answered with any other error (a policy missing from its LIMIT_POLICIES, a wrong
//   INTERNAL_TOKEN, a bad argument): a configuration error, never admitted whatever the fail
//   mode; 503 for the user, and one error log per policy telling operators what to fix.
// checkPolicies() (at start and on /readyz) Peeks each policy the gateway uses, so a missing one
// keeps the gateway unready instead of being found by the first user.
// A Consume that asks to `remember` its denials goes through the refusal cache
// (lib/refusal-cache.ts): while a subject is known to be refused, the denial is answered here,
// without a limiter call, and marked `fromCache`.
import type { Logger } from '@etu/common';
import type { limiter } from '@etu/proto';
import type { LimiterClient } from './clients';
import type { Ctx } from './context';
import { callOpts, describeGrpcError, grpcCode, Status } from './lib/grpc';
import { POLICY, type PolicyName } from './lib/limits';
import type { Metrics } from './lib/metrics';
import { HttpProblem, STATUS_TEXT, unavailable } from './lib/problem';
import { RefusalCache } from './lib/refusal-cache';

type Decision = limiter.Decision;
/** A decision; `fromCache`: a denial answered by the refusal cache, the limiter not asked. */
export type QuotaDecision = Decision & { fromCache?: boolean };

const CHECK_SUBJECT = 'gateway-readiness';

/** The limiter could not be reached at all: the only case LIMITER_FAIL_MODE applies to. */
function isUnreachable(err: unknown): boolean {
  const c = grpcCode(err);
  return c === Status.UNAVAILABLE || c === Status.DEADLINE_EXCEEDED;
}

/** What operators must fix, by the limiter's answer. */
function operatorHint(policy: string, err: unknown): string {
  switch (grpcCode(err)) {
    case Status.NOT_FOUND:
      return `policy "${policy}" is not defined in the limiter's LIMIT_POLICIES: add it (e.g. ${policy}=10/10m) and restart the limiter`;
    case Status.UNAUTHENTICATED:
    case Status.PERMISSION_DENIED:
      return 'the limiter refused the gateway: INTERNAL_TOKEN must be the same for the gateway and the limiter';
    default:
      return `the limiter refused a call on policy "${policy}": check LIMIT_POLICIES and the gateway's version against the limiter's`;
  }
}

/** The answer to a call refused because of the configuration: 503, in French, naming no internals. */
function misconfigured(): HttpProblem {
  const t = STATUS_TEXT[503]!;
  return new HttpProblem(
    503,
    t.code,
    "Ce service est momentanément indisponible à cause d'un problème de configuration. L'équipe technique est prévenue.",
    {
      title: t.title,
      details: { dependency: 'limiter' },
    },
  );
}

export interface PolicyCheck {
  /** Policies the limiter does not know (or refuses): the gateway is not ready. */
  missing: PolicyName[];
  /** The limiter could not be asked (its own readiness check reports it). */
  unreachable: boolean;
}

export class Quota {
  /** Policies whose configuration error was logged already (logged again after it is fixed). */
  private readonly reported = new Set<string>();

  readonly refusals: RefusalCache;

  constructor(
    private readonly limiter: LimiterClient,
    private readonly failMode: 'open' | 'closed',
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Subjects the refusal cache remembers at most (0: off). */
    refusalCacheSize = 10_000,
  ) {
    this.refusals = new RefusalCache(refusalCacheSize);
  }

  /**
   * Counts one call of `subject` on `policy`; `undefined` = limiter down and fail mode open.
   * `remember`: a denial is remembered until the window frees, and answered from memory till then
   * (only for policies the gateway never Resets: a Reset elsewhere would not reach the cache).
   */
  async consume(ctx: Ctx, policy: PolicyName, subject: string, opts: { remember?: boolean } = {}): Promise<QuotaDecision | undefined> {
    if (opts.remember) {
      const known = this.refusals.check(policy, subject);
      if (known) {
        this.metrics.refusalCacheHit(policy);
        return { ...known, fromCache: true };
      }
    }
    const sentAt = performance.now();
    const d = await this.decide(ctx, policy, `consume ${policy}`, () => this.limiter.consume(policy, subject, undefined, callOpts(ctx)));
    if (opts.remember && d && !d.allowed) this.refusals.remember(policy, subject, d, sentAt, performance.now());
    return d;
  }

  /** Reads the state of `subject` on `policy` without counting; same failure policy as consume. */
  peek(ctx: Ctx, policy: PolicyName, subject: string): Promise<Decision | undefined> {
    return this.decide(ctx, policy, `peek ${policy}`, () => this.limiter.peek(policy, subject, callOpts(ctx)));
  }

  /** A Peek for display only: never fails the page (`undefined` when it cannot be read). */
  async show(ctx: Ctx, policy: PolicyName, subject: string): Promise<Decision | undefined> {
    try {
      return await this.limiter.peek(policy, subject, callOpts(ctx));
    } catch (err) {
      this.metrics.quotaPeekFailed();
      if (isUnreachable(err)) ctx.state.log.warn({ err: describeGrpcError(err) }, 'quota peek failed');
      else this.reportMisconfigured(ctx.state.log, policy, err);
      return undefined;
    }
  }

  /**
   * Counts calls whose answer is already decided (a failed login, a taken email): waits for the
   * counts but never fails the request; a count that could not be made is logged as an error.
   */
  async countAll(ctx: Ctx, what: string, calls: [PolicyName, string][]): Promise<void> {
    const results = await Promise.allSettled(
      calls.map(([policy, subject]) => this.limiter.consume(policy, subject, undefined, callOpts(ctx))),
    );
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      if (isUnreachable(r.reason)) ctx.state.log.error({ err: describeGrpcError(r.reason) }, `could not count ${what}`);
      else this.reportMisconfigured(ctx.state.log, calls[i]![0], r.reason);
    });
  }

  /** Forgets `subject` on `policy` in the background (a successful login clears its failures). */
  resetLater(ctx: Ctx, policy: PolicyName, subject: string): void {
    this.limiter.reset(policy, subject, callOpts(ctx)).catch((err: unknown) => {
      if (isUnreachable(err)) ctx.state.log.warn({ err: describeGrpcError(err) }, `could not reset ${policy}`);
      else this.reportMisconfigured(ctx.state.log, policy, err);
    });
  }

  /** Peeks every policy the gateway uses; a policy the limiter refuses is logged (once) and listed. */
  async checkPolicies(): Promise<PolicyCheck> {
    const policies = Object.values(POLICY);
    const results = await Promise.allSettled(policies.map((p) => this.limiter.peek(p, CHECK_SUBJECT)));
    const check: PolicyCheck = { missing: [], unreachable: false };
    results.forEach((r, i) => {
      const policy = policies[i]!;
      if (r.status === 'fulfilled') {
        this.reported.delete(policy);
      } else if (isUnreachable(r.reason)) {
        check.unreachable = true;
      } else {
        check.missing.push(policy);
        this.reportMisconfigured(this.log, policy, r.reason);
      }
    });
    return check;
  }

  private async decide(ctx: Ctx, policy: PolicyName, what: string, call: () => Promise<Decision>): Promise<Decision | undefined> {
    try {
      const d = await call();
      this.reported.delete(policy);
      this.metrics.quotaDecision(policy, d.allowed ? 'allowed' : 'denied');
      return d;
    } catch (err) {
      if (!isUnreachable(err)) {
        this.metrics.quotaDecision(policy, 'misconfigured_refused');
        this.reportMisconfigured(ctx.state.log, policy, err);
        throw misconfigured();
      }
      const open = this.failMode === 'open';
      this.metrics.quotaDecision(policy, open ? 'unavailable_admitted' : 'unavailable_refused');
      ctx.state.log.error({ what, err: describeGrpcError(err), failMode: this.failMode }, 'limiter unavailable');
      if (open) return undefined;
      throw unavailable('limiter');
    }
  }

  /** One error log per policy while its configuration stays wrong. */
  private reportMisconfigured(log: Logger, policy: string, err: unknown): void {
    if (this.reported.has(policy)) return;
    this.reported.add(policy);
    log.error(
      { policy, err: describeGrpcError(err), fix: operatorHint(policy, err) },
      'limiter configuration error: calls on this policy are refused',
    );
  }
}

// The limiter's rules, transport-free: which policy, which subject, which cost are acceptable,
// and what a Decision says. The store raises Unavailable itself (Redis unreachable or too slow);
// other storage errors stay unexpected (INTERNAL, logged by the server kit).
import { status as Status } from '@grpc/grpc-js';
import { DomainError, InvalidArgument, NotFound } from '@etu/common';
import type { Policy } from './policies';
import type { SlidingWindowStore, WindowDecision } from './sliding-window';

/** A subject is 1 to 512 bytes of UTF-8 (a user id, an IP, an "ip|email" pair all fit). */
export const MAX_SUBJECT_BYTES = 512;
/** Items per ConsumeBatch call. */
export const MAX_BATCH_ITEMS = 1000;

/** What the limiter decided, as its callers see it (the proto's Decision has the same fields). */
export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  retryAfterMs: number;
  resetAfterMs: number;
  windowMs: number;
  policy: string;
  nextReleaseMs: number;
}

export interface ConsumeInput {
  policy: string;
  subject: string;
  cost?: number | undefined;
}

export class Limiter {
  constructor(
    private readonly policies: Map<string, Policy>,
    private readonly store: SlidingWindowStore,
  ) {}

  private policyOf(name: string): Policy {
    const p = this.policies.get(name);
    if (!p) {
      if (name === '') throw new InvalidArgument('policy', 'must not be empty');
      throw new NotFound(`unknown policy "${name.slice(0, 64)}"`);
    }
    return p;
  }

  private checkSubject(subject: string): void {
    if (subject.length === 0) throw new InvalidArgument('subject', 'must not be empty');
    if (subject.length > MAX_SUBJECT_BYTES || Buffer.byteLength(subject, 'utf8') > MAX_SUBJECT_BYTES) {
      throw new InvalidArgument('subject', `must be at most ${MAX_SUBJECT_BYTES} bytes`);
    }
  }

  /** Validates a Consume request; returns the store request or throws a DomainError. */
  private consumeRequest(req: ConsumeInput): { policy: Policy; subject: string; cost: number } {
    const policy = this.policyOf(req.policy);
    this.checkSubject(req.subject);
    const cost = req.cost ?? 1;
    if (!Number.isInteger(cost) || cost < 1) throw new InvalidArgument('cost', 'must be at least 1 (absent means 1)');
    if (cost > policy.limit) throw new InvalidArgument('cost', `must not exceed the policy's limit (${policy.limit})`);
    return { policy, subject: req.subject, cost };
  }

  async consume(req: ConsumeInput): Promise<Decision> {
    const r = this.consumeRequest(req);
    return toDecision(r.policy, await this.store.decide(r));
  }

  /**
   * Independent Consume decisions in one Redis script call, in order. Each item is a Decision or
   * the error Consume would have thrown (a DomainError, or an unexpected Error).
   */
  async consumeMany(reqs: ConsumeInput[]): Promise<Array<Decision | Error>> {
    if (reqs.length > MAX_BATCH_ITEMS) throw new InvalidArgument('requests', `at most ${MAX_BATCH_ITEMS} items per batch`);
    const out = new Array<Decision | Error>(reqs.length);
    const valid: Array<{ policy: Policy; subject: string; cost: number }> = [];
    const at: number[] = [];
    reqs.forEach((req, i) => {
      try {
        valid.push(this.consumeRequest(req));
        at.push(i);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        out[i] = err;
      }
    });
    const results = await this.store.decideMany(valid);
    results.forEach((res, j) => {
      out[at[j]!] = res instanceof Error ? res : toDecision(valid[j]!.policy, res);
    });
    return out;
  }

  /** What a Consume of cost 1 would decide now; counts nothing. */
  async peek(req: { policy: string; subject: string }): Promise<Decision> {
    const policy = this.policyOf(req.policy);
    this.checkSubject(req.subject);
    return toDecision(policy, await this.store.decide({ policy, subject: req.subject, cost: 0 }));
  }

  async reset(req: { policy: string; subject: string }): Promise<void> {
    this.policyOf(req.policy);
    this.checkSubject(req.subject);
    await this.store.reset(req.policy, req.subject);
  }
}

function toDecision(p: Policy, d: WindowDecision): Decision {
  return {
    allowed: d.allowed,
    limit: p.limit,
    remaining: d.remaining,
    retryAfterMs: d.retryAfterMs,
    resetAfterMs: d.resetAfterMs,
    windowMs: p.windowMs,
    policy: p.name,
    nextReleaseMs: d.nextReleaseMs,
  };
}

/** A batch item's error as the proto carries it: the status Consume would have failed with. */
export function itemError(err: Error): { code: number; message: string } {
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: Status.INTERNAL, message: 'internal error' };
}

// "This subject is refused on this policy until t", remembered in the gateway's memory after a
// limiter denial (envoyproxy/ratelimit's local over-limit cache is the model). While it holds,
// the gateway answers 429 itself: a client hammering a full quota costs neither a limiter nor a
// statistics round trip, and writes nothing anywhere (issue 21).
//
// Why admissions stay exact: only a denial fills the cache, and a denial writes nothing in the
// limiter, so until the oldest counted event leaves the window nothing can change the subject's
// state there (no Reset exists for the policies cached; other gateways can only be denied too).
// The limiter's retry_after_ms is measured from its decision, which happened after the gateway
// sent the call and before it read the answer. So the cache refuses only until
//   sentAt + retry_after_ms − 1 ms   (≤ the instant the window frees; −1: the limiter rounds up),
// and tells the client to come back after
//   receivedAt + retry_after_ms      (≥ that instant: waiting that long is always enough),
// both on the monotonic clock. The cache never admits anything: a miss asks the limiter.
//
// Bounded: at most `capacity` subjects, least recently used dropped first (a dropped subject
// just asks the limiter again); an entry is ~200 bytes, so the default 10,000 is ~2 MB.
import type { limiter } from '@etu/proto';

type Decision = limiter.Decision;

interface Entry {
  refuseUntil: number;
  freeBy: number;
  resetBy: number;
  limit: number;
  windowMs: number;
  policy: string;
}

export class RefusalCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** Most subjects remembered; 0 turns the cache off. */
    readonly capacity: number,
    /** Monotonic milliseconds. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Remembers a denial received at `receivedAt` for a call sent at `sentAt` (this.now's clock). */
  remember(policy: string, subject: string, d: Decision, sentAt: number, receivedAt: number): void {
    if (this.capacity <= 0 || d.allowed || d.retryAfterMs <= 1) return;
    const key = `${policy}\0${subject}`;
    this.entries.delete(key);
    this.entries.set(key, {
      refuseUntil: sentAt + d.retryAfterMs - 1,
      freeBy: receivedAt + d.retryAfterMs,
      resetBy: receivedAt + Math.max(d.resetAfterMs, d.retryAfterMs),
      limit: d.limit,
      windowMs: d.windowMs,
      policy: d.policy,
    });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** A denial as the limiter would give it now, while the subject is known to be refused. */
  check(policy: string, subject: string): Decision | undefined {
    if (this.capacity <= 0) return undefined;
    const key = `${policy}\0${subject}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.refuseUntil) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, e);
    const retryAfterMs = Math.max(1, Math.ceil(e.freeBy - now));
    return {
      allowed: false,
      limit: e.limit,
      remaining: 0,
      retryAfterMs,
      resetAfterMs: Math.max(retryAfterMs, Math.ceil(e.resetBy - now)),
      windowMs: e.windowMs,
      policy: e.policy,
      nextReleaseMs: retryAfterMs,
    };
  }
}

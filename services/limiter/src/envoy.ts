// Envoy's global rate limit API (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit)
// over the limiter's sliding-window store: each descriptor finds its rule in the YAML
// configuration (envoy-config.ts), and every limit of every descriptor of one request is decided
// in ONE script call, all or nothing (SlidingWindowStore.decideAll): when any enforced limit is
// over, no hit of the request is counted, and a refused hit is never counted.
import { createHash } from 'node:crypto';
import { InvalidArgument } from '@etu/common';
import { envoyRls } from '@etu/proto';
import type { AtomicRequest, SlidingWindowStore, WindowDecision } from './sliding-window';
import type { EnvoyConfig, EnvoyLimit, EnvoyRule } from './envoy-config';
import { MAX_BATCH_ITEMS } from './limiter';

const Code = envoyRls.RateLimitResponse_Code;
const Unit = envoyRls.RateLimitResponse_RateLimit_Unit;
type DescriptorStatus = envoyRls.RateLimitResponse_DescriptorStatus;

/** limit_remaining of an unlimited descriptor (envoyproxy/ratelimit sends MaxUint32). */
export const UNLIMITED_REMAINING = 4_294_967_295;
/** Bytes of one descriptor's entries (keys and values) beyond which the request is refused. */
export const MAX_DESCRIPTOR_BYTES = 4096;
/** Counter identities longer than this are stored under their SHA-256. */
const MAX_KEY_TEXT = 400;

/** What one limit of one descriptor decided, and how the response shows it. */
export interface LimitOutcome {
  rule: EnvoyRule;
  limit: EnvoyLimit;
  /** Within its limit (a shadow limit may be over and still not block). */
  allowed: boolean;
  /** Hits asked (0 = a peek). */
  hits: number;
  remaining: number;
  /** ms until the oldest counted hit leaves the window (allowed), or until this many hits fit (over). */
  untilResetMs: number;
  /** ms until every counted hit has left the window (0 when none is counted). */
  fullResetMs: number;
}

export interface EnvoyOptions {
  /**
   * Add the IETF RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers,
   * as the gateway sends them) to Envoy's response, for the limit closest to refusing.
   */
  rateLimitHeaders?: boolean;
}

/** Observes each decided descriptor limit (metrics.ts counts them). */
export type EnvoyObserver = (o: LimitOutcome) => void;

/**
 * `rle:{<domain>|<key>=<value>|…}:<window ms>`, keys and values URI-encoded so that no
 * separator is ambiguous; hashed when long. The braces keep one descriptor's limits in one
 * Redis Cluster slot. `rle:` never collides with the policies' `rl:{…}` keys.
 */
export function envoyKey(domain: string, counter: ReadonlyArray<{ key: string; value: string }>, windowMs: number): string {
  let text = [domain, ...counter.map((e) => `${encodeURIComponent(e.key)}=${encodeURIComponent(e.value)}`)]
    .map((s, i) => (i === 0 ? encodeURIComponent(s) : s))
    .join('|');
  if (text.length > MAX_KEY_TEXT) text = `${encodeURIComponent(domain)}|sha256:${createHash('sha256').update(text).digest('hex')}`;
  return `rle:{${text}}:${windowMs}`;
}

function duration(ms: number): { seconds: number; nanos: number } {
  const m = Math.max(0, Math.ceil(ms));
  return { seconds: Math.floor(m / 1000), nanos: (m % 1000) * 1_000_000 };
}

function unitOf(l: EnvoyLimit): envoyRls.RateLimitResponse_RateLimit_Unit {
  return l.unit === undefined ? Unit.UNKNOWN : Unit[l.unit];
}

interface Planned {
  rule: EnvoyRule;
  limit: EnvoyLimit;
  hits: number;
  /** Index in the script call. */
  item: number;
}

export class EnvoyRateLimiter {
  constructor(
    private readonly store: SlidingWindowStore,
    private readonly config: () => EnvoyConfig,
    private readonly observe: EnvoyObserver = () => {},
    private readonly opts: EnvoyOptions = {},
  ) {}

  /** Envoy's call: decides and counts. */
  shouldRateLimit(req: envoyRls.RateLimitRequest): Promise<envoyRls.RateLimitResponse> {
    return this.decide(req, false);
  }

  /** What ShouldRateLimit would answer now for one more hit of each descriptor; counts nothing. */
  peek(req: envoyRls.RateLimitRequest): Promise<envoyRls.RateLimitResponse> {
    return this.decide(req, true);
  }

  /**
   * Forgets every counted hit of the counters the request's descriptors name (every limit of
   * each matched rule), then answers as peek.
   */
  async reset(req: envoyRls.RateLimitRequest): Promise<envoyRls.RateLimitResponse> {
    checkRequest(req);
    const cfg = this.config();
    const keys = new Set<string>();
    for (const d of req.descriptors) {
      const m = cfg.match(req.domain, d.entries);
      if (m) for (const l of m.rule.limits) keys.add(envoyKey(req.domain, m.counter, l.windowMs));
    }
    await this.store.deleteKeys([...keys]);
    return this.decide(req, true);
  }

  private async decide(req: envoyRls.RateLimitRequest, peekOnly: boolean): Promise<envoyRls.RateLimitResponse> {
    checkRequest(req);
    // One snapshot for the whole request: a reload in the middle never mixes two configurations.
    const cfg = this.config();
    const statuses = new Array<DescriptorStatus | undefined>(req.descriptors.length);
    const matched: Array<{ rule: EnvoyRule; counter: Array<{ key: string; value: string }>; hits: number } | undefined> = [];
    const replaced = new Set<string>();

    req.descriptors.forEach((d, i) => {
      // hits_addend of the descriptor (0 = check only), else the request's, where 0 means 1.
      const hits = peekOnly ? 0 : (d.hitsAddend ?? Math.max(1, req.hitsAddend));
      const m = cfg.match(req.domain, d.entries);
      if (!m) {
        statuses[i] = { code: Code.OK, currentLimit: undefined, limitRemaining: 0, durationUntilReset: undefined };
        return;
      }
      for (const l of m.rule.limits) for (const r of l.replaces) replaced.add(r);
      if (m.rule.unlimited) {
        statuses[i] = { code: Code.OK, currentLimit: undefined, limitRemaining: UNLIMITED_REMAINING, durationUntilReset: undefined };
        return;
      }
      matched[i] = { rule: m.rule, counter: m.counter, hits };
    });

    // Plan the store items: every limit not replaced by another matched rule's limit. A limit
    // of 0, or more hits than the limit, never fits: the script reports it over (and, unless
    // in shadow mode, writes nothing for the whole request).
    const plans: Planned[][] = [];
    const items: AtomicRequest[] = [];
    matched.forEach((m, i) => {
      if (!m) return;
      const limits = m.rule.limits.filter((l) => l.name === '' || !replaced.has(l.name));
      if (limits.length === 0) {
        statuses[i] = { code: Code.OK, currentLimit: undefined, limitRemaining: 0, durationUntilReset: undefined };
        return;
      }
      plans[i] = limits.map((limit) => {
        items.push({
          key: envoyKey(req.domain, m.counter, limit.windowMs),
          policy: { name: m.rule.statKey, limit: limit.limit, windowMs: limit.windowMs },
          subject: '',
          cost: Math.min(m.hits, limit.limit + 1),
          shadow: m.rule.shadow,
        });
        return { rule: m.rule, limit, hits: m.hits, item: items.length - 1 };
      });
    });
    if (items.length > MAX_BATCH_ITEMS) throw new InvalidArgument('descriptors', `at most ${MAX_BATCH_ITEMS} limits per request`);
    const results = items.length > 0 ? await this.store.decideAll(items) : [];

    // The limit closest to refusing across the request (an enforced one over, else the least left).
    let closest: LimitOutcome | undefined;
    plans.forEach((ps, i) => {
      const outcomes = ps.map((p) => outcome(p, results[p.item]!));
      for (const o of outcomes) this.observe(o);
      // The descriptor's status shows the first limit over, else the one with the least left.
      const shown = outcomes.find((o) => !o.allowed) ?? outcomes.reduce((a, b) => (b.remaining < a.remaining ? b : a));
      const blocking = (o: LimitOutcome) => !o.allowed && !o.rule.shadow;
      if (
        !closest ||
        (blocking(shown) && !blocking(closest)) ||
        (blocking(shown) === blocking(closest) && shown.remaining < closest.remaining)
      )
        closest = shown;
      statuses[i] = {
        code: shown.allowed || shown.rule.shadow ? Code.OK : Code.OVER_LIMIT,
        currentLimit: { name: shown.limit.name, requestsPerUnit: shown.limit.limit, unit: unitOf(shown.limit) },
        limitRemaining: Math.max(0, shown.remaining),
        durationUntilReset: duration(shown.untilResetMs),
      };
    });
    const over = statuses.some((s) => s!.code === Code.OVER_LIMIT);
    const headers = this.opts.rateLimitHeaders && closest && !peekOnly ? rateLimitHeaders(closest) : [];
    return {
      overallCode: over ? Code.OVER_LIMIT : Code.OK,
      statuses: statuses as DescriptorStatus[],
      responseHeadersToAdd: headers,
      requestHeadersToAdd: [],
    };
  }
}

/**
 * `RateLimit-Policy: "<name>";q=<limit>;w=<window s>` and `RateLimit: "<name>";r=<remaining>;t=<s>`,
 * the gateway's headers (gateway/src/lib/limits.ts): t = when the whole quota is back while some
 * is left, else when the next hit fits. The name is the limit's, else the rule's stats key.
 */
export function rateLimitHeaders(o: LimitOutcome): Array<{ key: string; value: string }> {
  const name = (o.limit.name || o.rule.statKey).replace(/["\\]/g, '_');
  const remaining = Math.max(0, o.remaining);
  const t = Math.ceil((remaining > 0 && o.allowed ? o.fullResetMs : o.untilResetMs) / 1000);
  return [
    { key: 'RateLimit-Policy', value: `"${name}";q=${o.limit.limit};w=${Math.max(1, Math.round(o.limit.windowMs / 1000))}` },
    { key: 'RateLimit', value: `"${name}";r=${remaining};t=${Math.max(0, t)}` },
  ];
}

function checkRequest(req: envoyRls.RateLimitRequest): void {
  if (req.domain === '') throw new InvalidArgument('domain', 'rate limit domain must not be empty');
  if (req.descriptors.length === 0) throw new InvalidArgument('descriptors', 'rate limit descriptor list must not be empty');
  req.descriptors.forEach((d, i) => {
    let bytes = 0;
    for (const e of d.entries) bytes += Buffer.byteLength(e.key) + Buffer.byteLength(e.value);
    if (bytes > MAX_DESCRIPTOR_BYTES)
      throw new InvalidArgument('descriptors', `descriptor ${i + 1} has more than ${MAX_DESCRIPTOR_BYTES} bytes of entries`);
  });
}

function outcome(p: Planned, r: WindowDecision | Error): LimitOutcome {
  if (r instanceof Error) throw r;
  const base = { rule: p.rule, limit: p.limit, hits: p.hits, remaining: r.remaining, fullResetMs: r.resetAfterMs };
  // Over: until this many hits fit (a whole window when they never can). Within: until the
  // oldest counted hit leaves the window, i.e. one more hit frees up.
  if (!r.allowed) return { ...base, allowed: false, untilResetMs: r.retryAfterMs };
  return { ...base, allowed: true, untilResetMs: r.nextReleaseMs };
}

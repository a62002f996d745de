// The storage side of the limiter: runs the sliding-window script (sliding-window-script.ts)
// through ioredis `defineCommand` (EVALSHA, with EVAL on NOSCRIPT after a restart or failover),
// one call for one decision or for a whole batch (one round trip). Knows keys and bytes, not
// gRPC. The store adapter: Redis unreachable or too slow is the typed Unavailable error, raised
// here and nowhere else.
import { inSpan, isCluster, isRedisUnavailable, pingAll, Unavailable, type RedisClient } from '@etu/common';
import { LimiterMetrics, redisErrorKind } from './metrics';
import { SLIDING_WINDOW_LUA } from './sliding-window-script';
import type { Policy } from './policies';
import { assertOneSlot, groupBySlot } from './slot-groups';

/** What the script decided. Times are those of Redis's clock. */
export interface WindowDecision {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
  resetAfterMs: number;
  /** ms until the oldest counted event leaves the window (one more event frees up); 0 if none. */
  nextReleaseMs: number;
  /** Redis TIME of the decision, µs since the epoch (the time stored for admitted events). */
  nowUs: number;
}

export interface WindowRequest {
  policy: Policy;
  subject: string;
  /** 1..limit; 0 = peek. */
  cost: number;
  /** The Redis key, when it is not the policy's `keyFor(policy, subject)` (Envoy limits, envoy.ts). */
  key?: string;
}

/** One key of an all-or-nothing call (decideAll). */
export interface AtomicRequest extends WindowRequest {
  /** Reported but never blocking the others; counted only when it fits. */
  shadow: boolean;
}

/** `rl:{<policy>:<subject>}`: the braces make Redis Cluster hash the pair, so the key has one slot. */
export function keyFor(policy: string, subject: string): string {
  return `rl:{${policy}:${subject}}`;
}

/**
 * Bytes per stored offset for a window: the smallest w with 256^w > 2 x window in µs, so that
 * after a rebase the log takes at least one more window to run out of room (10 min → 4 bytes).
 */
export function offsetWidth(windowMs: number): number {
  const us = 2 * windowMs * 1000;
  let w = 1;
  while (256 ** w <= us) w++;
  return w;
}

/**
 * KEYS[i] and its 4 ARGV for one decision: key, limit, window ms, cost, offset format. Public
 * (index.ts) so that anything calling the script by hand (the bench's redis-benchmark runs)
 * calls it exactly as the store does.
 */
export function scriptCall(r: WindowRequest): [key: string, limit: number, windowMs: number, cost: number, offsetFormat: string] {
  return [r.key ?? keyFor(r.policy.name, r.subject), r.policy.limit, r.policy.windowMs, r.cost, offsetFormat(r.policy.windowMs)];
}

/** 6 numbers per decision: allowed (1, 0, or -1 for a key of another type), remaining, retry, reset, now µs, next release. */
type ScriptReply = number[];

interface WithScript {
  /** numkeys, the keys, then 4 arguments per key (limit, window ms, cost, offset format). */
  slidingWindow(numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** struct format of one offset for a window, e.g. '>I4' (big-endian, unsigned, w bytes). */
const formatCache = new Map<number, string>();
function offsetFormat(windowMs: number): string {
  let f = formatCache.get(windowMs);
  if (f === undefined) {
    f = `>I${offsetWidth(windowMs)}`;
    formatCache.set(windowMs, f);
  }
  return f;
}

const COMMAND = 'slidingWindow';

function toDecision(r: ScriptReply, i: number, key: string): WindowDecision | Error {
  const o = i * 6;
  if (r[o] === -1) return new Error(`WRONGTYPE ${key} holds a value that is not a limiter log`);
  return {
    allowed: r[o] === 1,
    remaining: r[o + 1]!,
    retryAfterMs: r[o + 2]!,
    resetAfterMs: r[o + 3]!,
    nowUs: r[o + 4]!,
    nextReleaseMs: r[o + 5]!,
  };
}

export interface StoreOptions {
  /** ms before a call without an answer fails as unavailable (default 150). */
  timeoutMs?: number;
  /** Calls sent and not yet answered beyond which new calls fail at once (default 10,000). */
  maxPending?: number;
  /** Script durations, batch sizes and Redis errors go there. */
  metrics?: LimiterMetrics;
}

/** Redis did not answer in time, too many calls wait for it, or it cannot be reached. */
function unavailable(why?: string, cause?: unknown): Unavailable {
  const e = new Unavailable(why ? `limiter store unavailable: ${why}` : 'limiter store unavailable');
  if (cause !== undefined) e.cause = cause;
  return e;
}

/**
 * ioredis gave up following a cluster's redirections (maxRedirections): typically a call whose
 * keys share a slot being migrated, some already on the new node (TRYAGAIN), then MOVED once the
 * move is done. Every reply in such a chain (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) means the script
 * did not run — a closed connection, which may hide a run, ends the chain at once instead
 * (retryDelayOnFailover 0) — so deciding the keys one by one is safe.
 */
function isRedirectionsExhausted(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return (
    cause instanceof Error &&
    /^Too many Cluster redirections\. Last error: (?:ReplyError: )?(?:MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(cause.message)
  );
}

/** Redis answered but refused to run the script: out of memory, or a read-only replica. */
function redisRefusal(err: unknown): string | undefined {
  const msg = err instanceof Error ? err.message : '';
  if (/^OOM /.test(msg)) return 'Redis OOM (maxmemory reached)';
  if (/READONLY/.test(msg)) return 'Redis READONLY (a replica)';
  if (/^Too many Cluster redirections/.test(msg)) return 'Redis Cluster redirections exhausted (a slot moving)';
  return undefined;
}

export class SlidingWindowStore {
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private pending = 0;
  private readonly metrics: LimiterMetrics;
  private readonly cluster: boolean;

  /**
   * `redis` should have no offline queue (a call while disconnected fails at once) and no
   * command timeout of its own: this store times calls out itself (see `bounded`).
   */
  constructor(
    private readonly redis: RedisClient,
    opts: StoreOptions = {},
  ) {
    this.cluster = isCluster(redis);
    this.timeoutMs = opts.timeoutMs ?? 150;
    this.maxPending = opts.maxPending ?? 10_000;
    this.metrics = opts.metrics ?? new LimiterMetrics();
    // No fixed number of keys: each call passes its own (one per decision).
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { lua: SLIDING_WINDOW_LUA });
  }

  /** Calls sent to Redis and not answered yet (including ones already timed out). */
  get pendingCalls(): number {
    return this.pending;
  }

  /**
   * Runs a Redis call with a deadline. When the timer fires, the verdict waits for the check
   * phase of that event-loop turn (setImmediate), after the poll phase has read whatever Redis
   * already sent: a process that was busy or descheduled for a while does not mistake an
   * answer sitting in its socket for a dead Redis (ioredis's own commandTimeout does). Calls
   * still unanswered count against maxPending, so a hung Redis cannot pile up work.
   */
  bounded<T>(n: number, fn: () => Promise<T>): Promise<T> {
    if (this.pending + n > this.maxPending) {
      return Promise.reject(unavailable('too many calls waiting for it'));
    }
    this.pending += n;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (done) return;
            done = true;
            reject(unavailable(`no answer within ${this.timeoutMs} ms`));
          }),
        this.timeoutMs,
      );
      let call: Promise<T>;
      try {
        call = fn();
      } catch (err) {
        call = Promise.reject(err);
      }
      call.then(
        (v) => {
          this.pending -= n;
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          this.pending -= n;
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(isRedisUnavailable(err) ? unavailable(redisRefusal(err), err) : err);
        },
      );
    });
  }

  /** One decision, one round trip. cost 0 = peek. */
  async decide(r: WindowRequest): Promise<WindowDecision> {
    const [d] = await this.decideMany([r]);
    if (d instanceof Error) throw d;
    return d!;
  }

  /**
   * Many decisions, each result its own: a decision, or the error of that key. On a single Redis
   * ONE script call (one round trip, one EVALSHA), decided by Redis in order at one instant. On a
   * Redis Cluster one call per hash slot (slot-groups.ts), the calls in parallel; a call that
   * fails fails its own items only, unless every call failed (then the batch fails, as on a
   * single Redis that cannot be reached).
   */
  async decideMany(rs: WindowRequest[]): Promise<Array<WindowDecision | Error>> {
    if (rs.length === 0) return [];
    if (!this.cluster) return this.decideInOneCall(rs);
    const groups = groupBySlot(
      rs.map((r) => scriptCall(r)[0]),
      true,
    );
    if (groups.length === 1) return this.decideSlotGroup(rs);
    const out = new Array<WindowDecision | Error>(rs.length);
    const settled = await Promise.allSettled(groups.map((g) => this.decideSlotGroup(g.map((i) => rs[i]!))));
    if (settled.every((s) => s.status === 'rejected')) throw (settled[0] as PromiseRejectedResult).reason;
    settled.forEach((s, gi) => {
      const positions = groups[gi]!;
      positions.forEach((at, j) => {
        out[at] = s.status === 'fulfilled' ? s.value[j]! : asError(s.reason);
      });
    });
    return out;
  }

  /**
   * All or nothing, in ONE script call: every key is checked first (two keys of the call that
   * are the same counter see each other's cost), and costs are written only when no enforced
   * key is over its limit; a shadow key never blocks and is written only when it fits. Each
   * decision says what that key alone decided (allowed = within its limit); when another key
   * was over, nothing was written, and `remaining` says so. On a Redis Cluster the keys must
   * share a slot (one script sees them at one instant), or the call is refused with a
   * CrossSlotError (FAILED_PRECONDITION) before anything is sent: never split, never CROSSSLOT.
   */
  async decideAll(rs: AtomicRequest[]): Promise<Array<WindowDecision | Error>> {
    if (rs.length === 0) return [];
    assertOneSlot(
      rs.map((r) => scriptCall(r)[0]),
      this.cluster,
    );
    return this.decideInOneCall(rs, rs.map((r) => (r.shadow ? 's' : 'e')).join(''));
  }

  /**
   * The keys of one cluster slot in one call; while that slot is being migrated with its keys
   * on both nodes (TRYAGAIN until ioredis gives up), one call per item, in order, each routed by
   * ASK to where its key is.
   */
  private async decideSlotGroup(rs: WindowRequest[]): Promise<Array<WindowDecision | Error>> {
    try {
      return await this.decideInOneCall(rs);
    } catch (err) {
      if (rs.length < 2 || !isRedirectionsExhausted(err)) throw err;
      const out: Array<WindowDecision | Error> = [];
      for (const r of rs) out.push(...(await this.decideInOneCall([r]).catch((e: unknown) => [asError(e)])));
      return out;
    }
  }

  /** Decisions in ONE script call (on a cluster, keys of one slot), in order, at one instant. */
  private async decideInOneCall(rs: WindowRequest[], flags?: string): Promise<Array<WindowDecision | Error>> {
    if (rs.length === 0) return [];
    const keys = new Array<string>(rs.length);
    const args = new Array<string | number>(rs.length * 4);
    rs.forEach((r, i) => {
      const [key, ...rest] = scriptCall(r);
      keys[i] = key;
      for (let j = 0; j < 4; j++) args[i * 4 + j] = rest[j]!;
    });
    const started = performance.now();
    let reply: unknown;
    try {
      reply = await inSpan(
        'redis EVALSHA sliding-window',
        { kind: 'client', attributes: { 'db.system': 'redis', 'db.operation': 'EVALSHA', 'etu.batch_size': rs.length } },
        () =>
          this.bounded(rs.length, () =>
            (this.redis as unknown as WithScript).slidingWindow(rs.length, ...keys, ...(flags === undefined ? args : [...args, flags])),
          ),
      );
    } catch (err) {
      this.metrics.redisError(redisErrorKind(err));
      throw err;
    }
    this.metrics.scriptCall(rs.length, (performance.now() - started) / 1000);
    const numbers = Array.isArray(reply) ? reply.length : undefined;
    if (numbers !== rs.length * 6) throw new Error(`limiter script answered ${String(numbers)} numbers for ${rs.length} keys`);
    return rs.map((_, i) => toDecision(reply as ScriptReply, i, keys[i]!));
  }

  /** Forgets every counted event of the subject. */
  async reset(policy: string, subject: string): Promise<void> {
    await this.bounded(1, () => this.redis.del(keyFor(policy, subject)));
  }

  /** Deletes keys (Envoy counters' reset); nothing to do for none. One DEL per key on a cluster (each key its own slot). */
  async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    if (this.cluster) await this.bounded(keys.length, () => Promise.all(keys.map((k) => this.redis.del(k))));
    else await this.bounded(keys.length, () => this.redis.del(...keys));
  }

  /** Answers when Redis does, on a cluster every master (health). */
  async ping(): Promise<void> {
    await this.bounded(1, () => pingAll(this.redis));
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** A stored value decoded. */
export interface DecodedLog {
  /** Bytes per offset. */
  width: number;
  /** Base time, µs since the epoch. */
  baseUs: number;
  /** Event times, µs since the epoch (Redis TIME), oldest first. */
  timesUs: number[];
}

/**
 * Decodes a stored value (the bytes of GET rl:{policy:subject}): byte 0 = offset width w,
 * bytes 1..7 = base time B in µs, then offsets of w bytes; event i happened at B + offset i.
 * All big-endian. Used by the inspect tool and the tests.
 */
export function decodeLog(buf: Buffer): DecodedLog {
  const width = buf[0] ?? 0;
  if (buf.length < 8 || width < 1 || width > 6 || (buf.length - 8) % width !== 0) {
    throw new Error(`not a limiter value (${buf.length} bytes, width ${width})`);
  }
  const baseUs = buf[1]! * 2 ** 48 + buf.readUIntBE(2, 6);
  const timesUs: number[] = [];
  for (let pos = 8; pos < buf.length; pos += width) timesUs.push(baseUs + buf.readUIntBE(pos, width));
  return { width, baseUs, timesUs };
}

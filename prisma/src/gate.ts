// The one gate through which auth and market run every query. A database that cannot be
// reached — refused, cut, or silent (it accepts connections and never answers) — becomes the
// service's typed Unavailable error in under a second, and while it is known to be down every
// call is refused at once instead of waiting for the pool. Health probes (`probe`) open it
// again, so recovery needs no restart.
import { isDatabaseUnavailable } from './client';
import type { WarnLogger } from './driver-guard';

/**
 * A query unanswered this long, while nothing else answered either, makes the gate ask whether the
 * database answers at all (if it does, it is only slow, and the caller's deadline rules).
 */
export const QUERY_TIMEOUT_MS = 600;
/** How long that question (`SELECT 1`) may take before the database is taken as unreachable. */
export const CHECK_TIMEOUT_MS = 300;

/** Raised when the database did not answer in time. */
export class DatabaseTimeout extends Error {
  override name = 'DatabaseTimeout';
}

export interface DatabaseGateOptions {
  /** The error the caller sees while the database is unreachable (the service's typed Unavailable). */
  unavailable: () => Error;
  /** QUERY_TIMEOUT_MS and CHECK_TIMEOUT_MS, for tests. */
  queryTimeoutMs?: number;
  checkTimeoutMs?: number;
  /** Told once when the gate closes and once when it opens again. */
  log?: WarnLogger & { info(obj: object, msg: string): void };
}

/** Anything with `$queryRaw` (a Prisma client). */
interface Probeable {
  $queryRaw(query: TemplateStringsArray): Promise<unknown>;
}

const TIMED_OUT = Symbol('timed out');
/**
 * The timer fired this much later than asked: this process was not running (a CPU-starved
 * machine, a long synchronous task), so the wait proves nothing about the database.
 */
export const STARVED_MS = 200;
const STARVED = Symbol('starved');

export class DatabaseGate {
  private down = false;
  /** performance.now() when the database last answered anything (a result or an SQL error). */
  private lastAnswer = -Infinity;
  /** The `SELECT 1` in flight, shared by every query that waits on it. */
  private checking: Promise<boolean> | undefined;
  private readonly queryTimeoutMs: number;
  private readonly checkTimeoutMs: number;

  constructor(
    private readonly db: Probeable,
    private readonly opts: DatabaseGateOptions,
  ) {
    this.queryTimeoutMs = opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? CHECK_TIMEOUT_MS;
  }

  /** True while the database is known to be unreachable (calls are refused at once). */
  get isDown(): boolean {
    return this.down;
  }

  /**
   * Runs a query. Refused at once while the database is known to be down. A failure that means
   * "unreachable" closes the gate; other errors pass unchanged. A query unanswered after
   * QUERY_TIMEOUT_MS, while nothing else answered either, makes the gate run `SELECT 1`: no
   * answer within CHECK_TIMEOUT_MS closes the gate and the query fails as unavailable (under a
   * second in all; one window more when an answer read late kept it waiting); an answer means the
   * database is only slow, and the query goes on (the caller's deadline, and the pool's and
   * socket's timeouts, bound it).
   */
  async run<T>(query: () => Promise<T>): Promise<T> {
    if (this.down) throw this.opts.unavailable();
    const started = performance.now();
    const p = this.watch(query());
    try {
      // Each window of QUERY_TIMEOUT_MS without its answer: if nothing else answered in that
      // window either, ask; otherwise the database is busy, and the next window decides. (An
      // answer read during a window may have left the database before it went silent, read late
      // by a busy event loop: it keeps the query waiting one more window, never for good.)
      for (let window = started; ; window = performance.now()) {
        const r = await raceTimer(p, this.queryTimeoutMs);
        if (r === STARVED) continue;
        if (r !== TIMED_OUT) return r;
        // Before the database first answered, a slow query is the client starting (loading its
        // query compiler, opening the pool): the health probe, timed, finds a silent database then.
        if (this.lastAnswer === -Infinity) break;
        if (this.answeredSince(window)) continue;
        const verdict = await Promise.race([p.then(() => true), this.answers()]);
        if (!verdict && !this.answeredSince(window)) {
          const err = new DatabaseTimeout(`no answer from the database within ${this.queryTimeoutMs + this.checkTimeoutMs} ms`);
          this.close(err);
          throw this.opts.unavailable();
        }
      }
      return await p;
    } catch (err) {
      if (err instanceof DatabaseTimeout || !isDatabaseUnavailable(err)) throw err;
      // A failure older than the database's last answer (a query left over from an outage that
      // ends after the recovery) says nothing about now: it fails its call but closes nothing.
      if (!this.answeredSince(started)) this.close(err);
      throw this.opts.unavailable();
    }
  }

  /**
   * Health probe: `SELECT 1`; opens the gate when it answers, closes it when it fails or does not
   * answer within QUERY_TIMEOUT_MS + CHECK_TIMEOUT_MS while nothing else answered either (a
   * database busy answering other queries is slow, not down).
   */
  async probe(): Promise<void> {
    const started = performance.now();
    try {
      const r = await raceTimer(this.watch(this.db.$queryRaw`SELECT 1`), this.queryTimeoutMs + this.checkTimeoutMs);
      // Starved: no verdict, the gate stays as it is (closed: this probe fails; open: it passes).
      if (r === STARVED) {
        if (this.down) throw new DatabaseTimeout('no verdict on SELECT 1: this process was starved of CPU');
        return;
      }
      if (r === TIMED_OUT && !this.answeredSince(started))
        throw new DatabaseTimeout(`no answer to SELECT 1 within ${this.queryTimeoutMs + this.checkTimeoutMs} ms`);
    } catch (err) {
      if (!this.answeredSince(started)) this.close(err);
      throw err;
    }
    if (this.down) this.opts.log?.info({}, 'database reachable again');
    this.down = false;
  }

  private answeredSince(t: number): boolean {
    return this.lastAnswer >= t;
  }

  /** Notes when the database answers; a late failure of an abandoned query is never unhandled. */
  private watch<T>(p: Promise<T>): Promise<T> {
    p.then(
      () => (this.lastAnswer = performance.now()),
      (err: unknown) => {
        if (!isDatabaseUnavailable(err)) this.lastAnswer = performance.now();
      },
    );
    return p;
  }

  /** One shared `SELECT 1`: does the database answer within CHECK_TIMEOUT_MS? */
  private answers(): Promise<boolean> {
    this.checking ??= raceTimer(this.watch(this.db.$queryRaw`SELECT 1`), this.checkTimeoutMs)
      .then(
        (r) => r !== TIMED_OUT, // an answer, or no verdict (starved): not silent
        () => false,
      )
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private close(err: unknown): void {
    if (!this.down) {
      const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
      this.opts.log?.warn({ err: what }, 'database unreachable: calls refused until it answers again');
    }
    this.down = true;
  }
}

/**
 * `p`, or TIMED_OUT after `ms` (STARVED when the timer fired more than STARVED_MS late). The
 * verdict waits for the I/O already received: on a busy event loop the timer and the answer can
 * be due together, and the answer must win.
 */
function raceTimer<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT | typeof STARVED> {
  let timer: NodeJS.Timeout | undefined;
  const asked = performance.now();
  const timeout = new Promise<typeof TIMED_OUT | typeof STARVED>((resolve) => {
    timer = setTimeout(() => setImmediate(() => resolve(performance.now() - asked > ms + STARVED_MS ? STARVED : TIMED_OUT)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

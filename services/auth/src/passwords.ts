// Password hashing: argon2id through @node-rs/argon2 (prebuilt N-API binary, no install script).
// Hashes are PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so the algorithm and its
// parameters travel with each hash and can be raised later: a successful login rehashes a
// password whose stored parameters are weaker than the current ones.
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm, type Options, type Version } from '@node-rs/argon2';
import { ResourceExhausted } from '@etu/common';

// The package's enums are ambient `const enum`s, which isolated-module transpilers cannot inline.
const ARGON2ID = 2 as Algorithm; // eslint-disable-line @typescript-eslint/no-unsafe-enum-assignment -- Algorithm.Argon2id, not importable (ambient const enum)
const V0x13 = 1 as Version; // eslint-disable-line @typescript-eslint/no-unsafe-enum-assignment -- Version.V0x13, same reason

export interface HashParams {
  /** Memory in KiB (m). */
  memoryCost: number;
  /** Passes (t). */
  timeCost: number;
  /** Lanes (p). */
  parallelism: number;
}

/** OWASP's first recommended argon2id configuration: m = 19 MiB, t = 2, p = 1. */
export const CURRENT_PARAMS: HashParams = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
const OUTPUT_LEN = 32;
const SALT_LEN = 16;

/** 8-128 code points: the bounds live in @etu/common, where the gateway's form reads them too. */
export { PASSWORD_MAX, PASSWORD_MIN } from '@etu/common';

/**
 * The form a password is hashed in: Unicode NFC, so that "é" typed as one code point or as
 * "e" + combining acute gives the same hash. Never trimmed, never truncated.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

/** What a caller is told when every hashing slot and every waiting place is taken. */
export const HASHING_BUSY = 'Trop de demandes en cours : réessayez dans un instant.';

export interface HashLimits {
  /** Hashes computed at once (each holds m = 19 MiB and a libuv thread). */
  concurrency: number;
  /** Most hashes allowed to wait for a slot: a memory bound (a waiter holds its call, not 19 MiB). */
  queue: number;
  /**
   * Longest expected wait for a slot. The expectation is the rounds of hashes ahead times the
   * measured average hash duration, so the bound is in time, whatever the machine's speed.
   */
  maxWaitMs: number;
}

/**
 * Defaults: libuv's 4 threads; at most 256 waiting, each for at most 5 s and never past its
 * caller's deadline (the gateway's is 2 s). The logins the gateway held while auth restarted
 * reach the new process at once: they are served, not refused for being many.
 */
export const DEFAULT_HASH_LIMITS: HashLimits = { concurrency: 4, queue: 256, maxWaitMs: 5000 };

/** The average hash duration assumed before the first one is measured (argon2id m = 19 MiB, t = 2). */
const FIRST_ESTIMATE_MS = 50;
/** Weight of the newest duration in the moving average. */
const EWMA_WEIGHT = 0.2;

/**
 * Bounds the argon2 work in progress: at most `concurrency` hashes run; the next ones wait while
 * they can be done before their caller's deadline, within `maxWaitMs` and `queue`. Beyond that a
 * hash fails fast with ResourceExhausted instead of joining a queue whose wait grows without
 * bound (a sign-up or login flood then costs the service nothing more than a refusal), and a
 * waiter whose caller gave up (deadline past) when its turn comes is skipped, not computed.
 */
export class HashGate {
  readonly limits: HashLimits;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private averageMs = FIRST_ESTIMATE_MS;

  constructor(limits: Partial<HashLimits> = {}) {
    this.limits = { ...DEFAULT_HASH_LIMITS, ...limits };
  }

  /** Expected wait of one more waiter: the rounds of hashes ahead of it times the average duration. */
  private expectedWaitMs(): number {
    return Math.ceil((this.waiting.length + 1) / this.limits.concurrency) * this.averageMs;
  }

  /** Runs `work` in a slot; `deadline` (ms since the epoch) is when its caller stops waiting. */
  async run<T>(work: () => Promise<T>, deadline = Infinity): Promise<T> {
    if (this.active < this.limits.concurrency) this.active++;
    else {
      if (!this.mayWait(deadline)) throw new ResourceExhausted(HASHING_BUSY);
      await new Promise<void>((resume) => this.waiting.push(resume));
      if (Date.now() >= deadline) {
        this.release();
        throw new ResourceExhausted(HASHING_BUSY);
      }
    }
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.averageMs += EWMA_WEIGHT * (performance.now() - started - this.averageMs);
      this.release();
    }
  }

  /** A place in the queue, whose hash can start within maxWaitMs and end before the deadline. */
  private mayWait(deadline: number): boolean {
    if (this.waiting.length >= this.limits.queue) return false;
    const wait = this.expectedWaitMs();
    return wait <= this.limits.maxWaitMs && Date.now() + wait + this.averageMs <= deadline;
  }

  /** The slot passes to the next waiter, or is freed. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** Where the durations of hashing and verifying go (seconds). */
export interface HashTimers {
  hash(seconds: number): void;
  verify(seconds: number): void;
}

export class PasswordHasher {
  private readonly options: Options;
  private dummy: Promise<string> | undefined;
  private timers: HashTimers | undefined;

  constructor(
    readonly params: HashParams = CURRENT_PARAMS,
    readonly gate: HashGate = new HashGate(),
  ) {
    this.options = { algorithm: ARGON2ID, version: V0x13, outputLen: OUTPUT_LEN, ...params };
  }

  /** Measures every hash and verification from now on. */
  observe(timers: HashTimers): void {
    this.timers = timers;
  }

  /** Hashes an already normalised password into a PHC string; `deadline`: see HashGate.run. */
  hash(normalized: string, deadline?: number): Promise<string> {
    return this.gate.run(() => {
      const started = performance.now();
      return hash(normalized, this.options).finally(() => this.timers?.hash((performance.now() - started) / 1000));
    }, deadline);
  }

  /** True when `normalized` matches the stored PHC string. Throws on an unreadable hash. */
  verify(stored: string, normalized: string, deadline?: number): Promise<boolean> {
    return this.gate.run(() => {
      const started = performance.now();
      return verify(stored, normalized).finally(() => this.timers?.verify((performance.now() - started) / 1000));
    }, deadline);
  }

  /**
   * Spends one verification against a fixed hash of a random secret, so that an unknown email
   * costs as much as a wrong password. Always false.
   */
  async verifyDummy(normalized: string, deadline?: number): Promise<false> {
    this.dummy ??= hash(randomBytes(24).toString('base64url'), this.options);
    const dummy = await this.dummy;
    await this.verify(dummy, normalized, deadline);
    return false;
  }

  /** Computes the dummy hash ahead of the first unknown-email login. */
  async warmUp(): Promise<void> {
    this.dummy ??= hash(randomBytes(24).toString('base64url'), this.options);
    await this.dummy;
  }

  /** True when the stored hash was made with another algorithm or weaker parameters. */
  needsRehash(stored: string): boolean {
    let o;
    try {
      o = parseOptions(stored);
    } catch {
      return true;
    }
    return (
      o.algorithm !== ARGON2ID ||
      o.version !== V0x13 ||
      o.memoryCost < this.params.memoryCost ||
      o.timeCost < this.params.timeCost ||
      o.outputLen < OUTPUT_LEN ||
      o.saltLen < SALT_LEN
    );
  }
}

/** Replaces anything shaped like a PHC hash in a text (error messages may quote SQL values). */
export function scrubHashes(text: string): string {
  return text.replace(/\$argon2[a-z]*\$[^\s'"`,)]*/gi, '[redacted]');
}

// The gateway's e-mails (issue 19, items 4 and 5): a seller told that their item was bought, a
// password reset link. docs/architecture.md ("E-mails") says why the gateway sends them.
//
// - Transport: SMTP when SMTP_URL is set (smtp:// or smtps://, credentials in the URL, which may
//   come from a file through SMTP_URL_FILE), otherwise the outbox: each message is written as one
//   `.eml` file (RFC 5322, what a mail client opens) into MAIL_OUTBOX_DIR, 0600 in a 0700 folder.
// - Never on the request's path: `MailQueue.enqueue` only stores a job and returns; the job runs
//   after the answer (setImmediate). Up to 32 waiting messages are built together (their
//   GetUsers look-ups share one call to auth, lib/user-lookup.ts), then sent one at a time; at
//   most MAIL_QUEUE_SIZE wait. A full queue drops the new job (logged, counted); a slow or dead
//   SMTP server delays only the queue (MAIL_TIMEOUT_MS bounds each connection step). A purchase
//   or a reset request never waits for a mail and never fails because of one. A mail that fails is tried once more, MAIL_RETRY_MS
//   later (an SMTP server restarting, a DNS hiccup); failing again, it is given up (logged).
// - The outbox keeps MAIL_OUTBOX_KEEP_DAYS days of mails: older .eml files are deleted when the
//   gateway starts (pruneOutbox): they hold names and addresses.
// - Logs name the kind of mail and the error's code, never an address, a token or the SMTP URL.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '@etu/common';
import { composeMail, parseMailbox } from './mime';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface MailConfig {
  SMTP_URL?: string | undefined;
  MAIL_FROM: string;
  MAIL_OUTBOX_DIR: string;
  MAIL_QUEUE_SIZE: number;
  MAIL_TIMEOUT_MS: number;
}

/** The kinds of mail, for logs and metrics (bounded label values). */
export type MailKind = 'achat' | 'mot_de_passe';

/** Sends one message. */
export type SendMail = (mail: Mail) => Promise<void>;

/** Where mails go, in words for the logs and `make run` (never the SMTP URL: it may hold a password). */
export function mailDestination(cfg: MailConfig): string {
  return cfg.SMTP_URL ? 'SMTP' : `outbox ${cfg.MAIL_OUTBOX_DIR}`;
}

/**
 * A sender over SMTP (SMTP_URL) or into the outbox folder. The message is composed once
 * (lib/mime.ts) and sent as it is: nodemailer only carries it to the SMTP server.
 */
export function createSender(cfg: MailConfig): SendMail {
  if (cfg.SMTP_URL) {
    const sender = parseMailbox(cfg.MAIL_FROM).address;
    const t = cfg.MAIL_TIMEOUT_MS;
    const transport = nodemailer.createTransport({ url: cfg.SMTP_URL, connectionTimeout: t, greetingTimeout: t, socketTimeout: t });
    return async (mail) => {
      const raw = composeMail({ from: cfg.MAIL_FROM, ...mail });
      await transport.sendMail({ envelope: { from: sender, to: [parseMailbox(mail.to).address] }, raw });
    };
  }
  let made = false;
  // synchronous work; a throw (a full disk) rejects the promise
  return (mail) =>
    new Promise<void>((resolve) => {
      const message = composeMail({ from: cfg.MAIL_FROM, ...mail });
      if (!made) {
        mkdirSync(cfg.MAIL_OUTBOX_DIR, { recursive: true, mode: 0o700 });
        made = true;
      }
      // Sortable by time; the random part keeps two mails of one millisecond apart.
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
      writeFileSync(join(cfg.MAIL_OUTBOX_DIR, name), message, { mode: 0o600, flag: 'wx' });
      resolve();
    });
}

/** The error's code (ECONNREFUSED, EAUTH, ETIMEDOUT, EENVELOPE...): never its message, which can quote an address. */
export function mailErrorCode(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; name?: unknown };
  const code = typeof e.code === 'string' && /^[\w-]{1,40}$/.test(e.code) ? e.code : typeof e.name === 'string' ? e.name : 'error';
  return typeof e.responseCode === 'number' ? `${code} ${e.responseCode}` : code;
}

/**
 * Deletes the `.eml` files of `dir` last written more than `days` days before `now` (0 keeps every
 * file); other files are left. Returns how many were deleted. A missing folder is no error.
 */
export async function pruneOutbox(dir: string, days: number, now = Date.now()): Promise<number> {
  if (days <= 0) return 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const before = now - days * 86_400_000;
  let removed = 0;
  for (const name of names.filter((n) => n.endsWith('.eml'))) {
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.mtimeMs >= before) continue;
      await rm(path);
      removed++;
    } catch {
      // Deleted meanwhile: nothing to do.
    }
  }
  return removed;
}

interface Job {
  kind: MailKind;
  /** Builds the message (it may ask auth for an address); `undefined` = nothing to send. */
  build: () => Promise<Mail | undefined>;
  /** 1, then 2 for the one retry. */
  attempt: number;
}

export interface MailQueueOptions {
  send: SendMail;
  log: Logger;
  /** Jobs that may wait; one more is dropped. */
  max: number;
  /** A failed mail is tried once more this long after (0: never). */
  retryMs?: number;
  onOutcome?: (kind: MailKind, outcome: 'sent' | 'failed' | 'retried' | 'dropped' | 'skipped') => void;
}

/** Messages built at once by the queue (their look-ups share one GetUsers); sent one at a time. */
const BUILD_BATCH = 32;

/** A bounded queue of mails sent one at a time, after the answers that asked for them. */
export class MailQueue {
  private readonly jobs: Job[] = [];
  private running: Promise<void> | undefined;
  /** Jobs taken from `jobs` by the running drain and not yet sent or given up. */
  private inFlight = 0;
  /** Failed mails waiting for their retry: the timer, and what ends the wait early (stop). */
  private readonly retries = new Map<NodeJS.Timeout, () => void>();
  private retryDone: Promise<void>[] = [];

  constructor(private readonly opts: MailQueueOptions) {}

  /** Number of jobs waiting (for their turn or their retry) or running. */
  get pending(): number {
    return this.jobs.length + this.retries.size + this.inFlight;
  }

  /** Queues a mail; false (logged) when the queue is full. Returns at once. */
  enqueue(kind: MailKind, build: () => Promise<Mail | undefined>): boolean {
    return this.push({ kind, build, attempt: 1 });
  }

  private push(job: Job): boolean {
    if (this.jobs.length >= this.opts.max) {
      this.opts.log.warn({ kind: job.kind, max: this.opts.max }, 'mail dropped: queue full');
      this.opts.onOutcome?.(job.kind, 'dropped');
      return false;
    }
    this.jobs.push(job);
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
    return true;
  }

  /** Resolves once every queued mail was sent or given up, retries included (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.retryDone.length) {
      if (this.running) await this.running;
      const waiting = this.retryDone;
      this.retryDone = [];
      await Promise.all(waiting);
    }
  }

  /** Gives up the retries not yet due (a gateway stopping). */
  stop(): void {
    for (const [timer, end] of this.retries) {
      clearTimeout(timer);
      end();
    }
    this.retries.clear();
  }

  /** The one retry of a failed job, `retryMs` later; the built mail is sent as it is. */
  private retryLater(job: Job, mail: Mail | undefined): void {
    let end!: () => void;
    this.retryDone.push(new Promise<void>((resolve) => (end = resolve)));
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.push({ kind: job.kind, attempt: 2, build: mail ? () => Promise.resolve(mail) : job.build });
      // idle() waits for this retry's turn in the queue too.
      void (this.running ?? Promise.resolve()).then(end);
    }, this.opts.retryMs);
    timer.unref();
    this.retries.set(timer, end);
  }

  private async drain(): Promise<void> {
    while (this.jobs.length) {
      // Up to BUILD_BATCH messages are built together, so that their look-ups (auth's GetUsers,
      // lib/user-lookup.ts) go in one call; they are then sent one at a time, in order.
      const batch = this.jobs.splice(0, BUILD_BATCH);
      this.inFlight = batch.length;
      const built = await Promise.allSettled(batch.map((job) => job.build()));
      for (const [i, job] of batch.entries()) {
        await this.deliver(job, built[i]!);
        this.inFlight--;
      }
    }
    this.running = undefined;
  }

  private async deliver(job: Job, built: PromiseSettledResult<Mail | undefined>): Promise<void> {
    let mail: Mail | undefined;
    try {
      if (built.status === 'rejected') throw built.reason;
      mail = built.value;
      if (!mail) {
        this.opts.onOutcome?.(job.kind, 'skipped');
        return;
      }
      await this.opts.send(mail);
      this.opts.log.info({ kind: job.kind, attempt: job.attempt }, 'mail sent');
      this.opts.onOutcome?.(job.kind, 'sent');
    } catch (err) {
      const retryMs = this.opts.retryMs ?? 0;
      if (job.attempt === 1 && retryMs > 0) {
        this.opts.log.warn({ kind: job.kind, err: mailErrorCode(err), retryInMs: retryMs }, 'mail not sent: tried again later');
        this.opts.onOutcome?.(job.kind, 'retried');
        this.retryLater(job, mail);
      } else {
        this.opts.log.warn({ kind: job.kind, err: mailErrorCode(err), attempt: job.attempt }, 'mail not sent');
        this.opts.onOutcome?.(job.kind, 'failed');
      }
    }
  }
}

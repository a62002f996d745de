// The limiter's policies the gateway uses, and how a decision is shown: RateLimit headers and
// the quota line of the services page. Pure functions.
import type { limiter } from '@etu/proto';
import { formatClock, quotaSentence, retryAfterSeconds } from './format';

/** Every policy the gateway asks the limiter about (they must exist in the limiter's LIMIT_POLICIES). */
export const POLICY = {
  login: 'login',
  failure: 'login-failure',
  failureIp: 'login-failure-ip',
  /** Failed logins from browsers without a device cookie for the account (subject: accountSubject). */
  failureAccount: 'login-failure-account',
  /** Failed logins from one trusted browser (subject: its device cookie's nonce). */
  failureDevice: 'login-failure-device',
  /** Sign-ups per client address. */
  signupIp: 'signup-ip',
  /** « Mot de passe oublié » requests per client address (a 429 past it). */
  resetIp: 'password-reset-ip',
  /** « Mot de passe oublié » mails per address (subject: accountSubject; past it, silently no mail). */
  resetAccount: 'password-reset-account',
  service: 'service',
} as const;

export type PolicyName = (typeof POLICY)[keyof typeof POLICY];

/** IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers) for a decision. */
export function rateLimitHeaders(d: limiter.Decision): Record<string, string> {
  const windowS = Math.round(d.windowMs / 1000);
  // With calls left, t is when the whole quota is back; with none left, when the next call is
  // possible (retry_after_ms on a denial, next_release_ms when this call took the last one).
  const resetS = d.remaining > 0 ? Math.ceil(d.resetAfterMs / 1000) : retryAfterSeconds(d.retryAfterMs || d.nextReleaseMs);
  return {
    'RateLimit-Policy': `"${d.policy}";q=${d.limit};w=${windowS}`,
    RateLimit: `"${d.policy}";r=${Math.max(0, d.remaining)};t=${Math.max(0, resetS)}`,
  };
}

export type QuotaLine =
  | {
      available: true;
      limit: number;
      remaining: number;
      windowMs: number;
      nextFreeMs: number | undefined;
      fullMs: number;
      /** Clock time ("14 h 32") when the next action is free again; undefined when none is used. */
      nextAt: string | undefined;
      sentence: string;
    }
  | { available: false; sentence: string };

/** The quota line of the services page from a Peek; no decision (limiter down) → "indisponible". */
export function quotaLine(d: limiter.Decision | undefined, timeZone: string, now = Date.now()): QuotaLine {
  if (!d) return { available: false, sentence: 'Votre quota est momentanément indisponible.' };
  const nextFreeMs = d.remaining <= 0 ? d.retryAfterMs : d.nextReleaseMs > 0 ? d.nextReleaseMs : undefined;
  return {
    available: true,
    limit: d.limit,
    remaining: Math.max(0, d.remaining),
    windowMs: d.windowMs,
    nextFreeMs,
    fullMs: d.resetAfterMs,
    nextAt: d.remaining >= d.limit ? undefined : formatClock(now + (nextFreeMs ?? d.resetAfterMs), timeZone),
    sentence: quotaSentence({ limit: d.limit, remaining: d.remaining, nextFreeMs, fullMs: d.resetAfterMs }, now, timeZone),
  };
}

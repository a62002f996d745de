// Liveness and readiness. /healthz: the process answers (liveness). /readyz: can this gateway
// serve users? 503 only for what stops it: the session store, auth, market, the limiter when
// LIMITER_FAIL_MODE=closed (open admits unchecked), and a limiter policy the limiter does not
// know (refused whatever the fail mode). Stats down is a degradation (records are lost, pages
// work): 200, listed in `degraded`. The public answer is only {status}; which dependencies
// exist and how they fare is shown to loopback callers and to callers presenting the internal
// token (`Authorization: Bearer <INTERNAL_TOKEN>`) only; the details also say which stores are empty or
// stale (lib/stores.ts), never a reason to be unready.
import { Router } from '@koa/router';
import { createHash, timingSafeEqual } from 'node:crypto';
import { bearer, checkHealth } from '@etu/common';
import type { Ctx } from '../context';
import type { GatewayState } from '../context';
import type { Wiring } from '../deps';
import type { StoreCheck } from '../lib/stores';

const CHECK_TIMEOUT_MS = 1000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function isLoopback(ip: string | undefined): boolean {
  return !!ip && (/^127\./.test(ip) || ip === '::1' || /^::ffff:127\./.test(ip));
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * May this caller see the details? A loopback caller (the socket and, behind a trusted proxy,
 * the client it names: a local proxy does not make the whole internet local), or one that
 * presents the internal token.
 */
function maySeeDetails(ctx: Ctx, token: string): boolean {
  if (isLoopback(ctx.req.socket.remoteAddress) && isLoopback(ctx.ip)) return true;
  const auth = ctx.get('Authorization');
  return auth !== '' && timingSafeEqual(digest(auth), digest(bearer(token)));
}

export function healthRouter(w: Wiring, stores: StoreCheck): Router<GatewayState> {
  const router = new Router<GatewayState>();

  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const { addrs } = w.clients;
    const grpcChecks = Object.entries<string>(addrs).map(async ([name, addr]) => {
      try {
        const s = await checkHealth(addr, '', CHECK_TIMEOUT_MS);
        return [name, s === 'SERVING' ? 'ok' : s.toLowerCase()] as const;
      } catch {
        return [name, 'unreachable'] as const;
      }
    });
    const redisCheck = withTimeout(w.sessionRedis.ping(), CHECK_TIMEOUT_MS).then(
      () => ['sessions', 'ok'] as const,
      () => ['sessions', 'unreachable'] as const,
    );
    const policyCheck = withTimeout(w.quota.checkPolicies(), CHECK_TIMEOUT_MS).catch(() => ({ missing: [], unreachable: true }));
    const [results, policies, storeReport] = await Promise.all([Promise.all([...grpcChecks, redisCheck]), policyCheck, stores.report()]);
    const checks: Record<string, string> = Object.fromEntries(results);
    // Unknown while the limiter is unreachable (the limiter check reports that).
    checks['limiter-policies'] = policies.missing.length ? 'missing' : policies.unreachable ? 'unknown' : 'ok';
    const failing = Object.entries(checks)
      .filter(([, v]) => v !== 'ok' && v !== 'unknown')
      .map(([k]) => k);
    const critical = new Set([
      'sessions',
      'auth',
      'market',
      'limiter-policies',
      ...(w.config.LIMITER_FAIL_MODE === 'closed' ? ['limiter'] : []),
    ]);
    const down = failing.filter((k) => critical.has(k));
    const degraded = failing.filter((k) => !critical.has(k));
    const status = down.length ? 'unavailable' : 'ready';
    ctx.set('Cache-Control', 'no-store');
    ctx.status = down.length ? 503 : 200;
    ctx.body = maySeeDetails(ctx, w.config.INTERNAL_TOKEN)
      ? {
          status,
          down,
          degraded,
          checks,
          missingPolicies: policies.missing,
          failMode: w.config.LIMITER_FAIL_MODE,
          // Empty or stale stores: reported, never a reason to be unready (docs/operations.md).
          stores: storeReport.stores,
          storeWarnings: storeReport.warnings,
        }
      : { status };
  });

  return router;
}

// Liveness and readiness. /readyz asks every dependency (each gRPC service's grpc.health.v1,
// the session Redis) and names the ones that are down; it also shows this process's counters
// of degraded answers (limiter fail mode, lost stats, refusals), and which stores are empty or
// stale (lib/stores.ts). It also Peeks every limiter policy the gateway uses: one the limiter
// does not know keeps the gateway unready (`limiter-policies` in `down`, the policies in
// `missingPolicies`, an error log per policy).
import { Router } from '@koa/router';
import { checkHealth } from '@etu/common';
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

export function healthRouter(w: Wiring, stores: StoreCheck): Router<GatewayState> {
  const router = new Router<GatewayState>();

  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const { addrs } = w.clients;
    const grpcChecks = (Object.entries(addrs) as [string, string][]).map(async ([name, addr]) => {
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
    const down = Object.entries(checks)
      .filter(([, v]) => v !== 'ok' && v !== 'unknown')
      .map(([k]) => k);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = down.length ? 503 : 200;
    ctx.body = {
      status: down.length ? 'unavailable' : 'ready',
      down,
      checks,
      missingPolicies: policies.missing,
      failMode: w.config.LIMITER_FAIL_MODE,
      counters: w.metrics.snapshot(),
      // Empty or stale stores: reported, never a reason to be unready (docs/operations.md).
      stores: storeReport.stores,
      storeWarnings: storeReport.warnings,
    };
  });

  return router;
}

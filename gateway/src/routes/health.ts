// Liveness and readiness. /readyz asks every dependency (each gRPC service's grpc.health.v1,
// the session Redis) and names the ones that are down; it also shows this process's counters
// of degraded answers (limiter fail mode, lost stats, refusals).
import { Router } from '@koa/router';
import { checkHealth } from '@etu/common';
import type { GatewayState, Kit } from '../kit';

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

export function healthRouter(kit: Kit): Router<GatewayState> {
  const router = new Router<GatewayState>();

  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const { addrs } = kit.clients;
    const grpcChecks = (Object.entries(addrs) as [string, string][]).map(async ([name, addr]) => {
      try {
        const s = await checkHealth(addr, '', CHECK_TIMEOUT_MS);
        return [name, s === 'SERVING' ? 'ok' : s.toLowerCase()] as const;
      } catch {
        return [name, 'unreachable'] as const;
      }
    });
    const redisCheck = withTimeout(kit.deps.sessionRedis.ping(), CHECK_TIMEOUT_MS).then(
      () => ['sessions', 'ok'] as const,
      () => ['sessions', 'unreachable'] as const,
    );
    const checks = Object.fromEntries(await Promise.all([...grpcChecks, redisCheck]));
    const down = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k]) => k);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = down.length ? 503 : 200;
    ctx.body = { status: down.length ? 'unavailable' : 'ready', down, checks, failMode: kit.config.LIMITER_FAIL_MODE, counters: kit.metrics.snapshot() };
  });

  return router;
}

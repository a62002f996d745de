// Phase 2 — the peer: rate-limiter-flexible's RateLimiterRedis (points 10, duration 600, a
// fixed window) against the project's script called directly through ioredis
// (SlidingWindowStore, the limiter's own storage class), 64 decisions in flight from a load
// process of their own, same Redis, same subjects (same seeded sequence), same connection
// settings (@etu/common createRedis). Also the script with ioredis enableAutoPipelining,
// which the toolchain notes measured slower: measured again here.
import { rounds, summarizeRuns } from '../lib/phase.mjs';
import { cpuOfPid, runWorker } from '../lib/util.mjs';

export default {
  id: 'peer',
  title: 'Phase 2 — peer: rate-limiter-flexible vs our script through ioredis, 64 in flight',
  async run(ctx) {
    const { redis } = ctx;
    const variants = [
      { id: 'rlf', label: 'rate-limiter-flexible RateLimiterRedis (fixed window)', target: 'rlf' },
      { id: 'script', label: 'our script via ioredis (SlidingWindowStore)', target: 'script' },
      { id: 'script-autopipeline', label: 'our script via ioredis, enableAutoPipelining', target: 'script-autopipeline' },
    ];
    if (process.env.BENCH_BATCHED_SCRIPT) {
      variants.push({
        id: 'script-batched',
        label: 'EXPERIMENT: our script, one EVALSHA per batch of keys (standalone Redis only)',
        target: 'script-batched',
      });
    }
    if (ctx.variantsFilter) variants.splice(0, variants.length, ...variants.filter((v) => ctx.variantsFilter.test(v.id)));
    const res = await rounds(ctx, variants, async (v, r) => {
      await redis.ctl.flushall();
      let redis0 = 0;
      let redisCpu = 0;
      const result = await runWorker(
        'load.mjs',
        {
          target: v.target,
          redisPort: redis.port,
          inflight: 64,
          warmupMs: ctx.warmupMs,
          durationMs: ctx.durationMs,
          subjects: 100_000,
          seed: 1000 + r,
        },
        {
          onEvent: (e) => {
            if (e === 'start') redis0 = cpuOfPid(redis.pid);
            if (e === 'end') redisCpu = cpuOfPid(redis.pid) - redis0;
          },
        },
      );
      return {
        ...result,
        redisCpuUsPerDecision: result.decisions ? redisCpu / result.decisions : null,
        redisCpuShare: redisCpu / 1e6 / result.seconds,
      };
    });
    return {
      figures: variants.map((v) => ({
        id: `peer.${v.id}`,
        label: v.label,
        unit: 'decisions/s',
        ...summarizeRuns(res[v.id]),
        inflight: 64,
        errorKinds: mergeKinds(res[v.id]),
      })),
    };
  },
};

export function mergeKinds(results) {
  const out = {};
  for (const r of results) for (const [k, n] of Object.entries(r.errorKinds ?? {})) out[k] = (out[k] ?? 0) + n;
  return out;
}

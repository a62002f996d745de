// Phase 3 — our limiter through gRPC: the limiter service (its built dist/main.js, on the
// bench's Redis) and a load client in a separate process, Consume on random subjects, 64 and
// 256 decisions in flight, through @etu/limiter's coalescing client (concurrent consumes sent
// as one ConsumeBatch), and through plain unary Consume calls for comparison. Envoy's API
// (ShouldRateLimit, one unary call per request as Envoy makes it; 1 and 2 descriptors, every
// descriptor a 10-per-10-minutes limit like the service policy) on the same limiter process.
import { abEnv, rounds, summarizeRuns } from '../lib/phase.mjs';
import { startGrpcPart } from '../lib/parts.mjs';
import { limiterClientFactory } from '../lib/project.mjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, cpuOfPid, runWorker } from '../lib/util.mjs';
import { mergeKinds } from './peer.mjs';

export default {
  id: 'grpc',
  title: 'Phase 3 — our limiter through gRPC, load client in another process',
  async run(ctx) {
    const { redis } = ctx;
    const variants = [];
    let coalescing = null;
    try {
      limiterClientFactory();
      coalescing = true;
    } catch (e) {
      ctx.note(`coalescing client not measured: ${e.message}`);
    }
    if (coalescing) {
      variants.push({ id: 'coalescing-64', label: 'coalescing client, 64 in flight', target: 'grpc-coalescing', inflight: 64 });
      variants.push({ id: 'coalescing-256', label: 'coalescing client, 256 in flight', target: 'grpc-coalescing', inflight: 256 });
      // exploration: BENCH_GRPC_MAXBATCH=8,16 adds the coalescing client with that maxBatch
      for (const mb of (process.env.BENCH_GRPC_MAXBATCH ?? '').split(',').filter(Boolean).map(Number)) {
        for (const inflight of [64, 256]) {
          variants.push({
            id: `coalescing-${inflight}-maxbatch-${mb}`,
            label: `coalescing client, ${inflight} in flight, maxBatch ${mb}`,
            target: 'grpc-coalescing',
            inflight,
            clientOptions: { maxBatch: mb },
          });
        }
      }
    }
    // BENCH_AB=NAME=value,...: a second limiter ("B") started with those variables, and the
    // coalescing client of its variants made with them too (LIMITER_BATCH_WINDOW: the client's
    // window, as the gateway reads it), measured round-robin with A (the committed defaults)
    const envB = abEnv(process.env.BENCH_AB);
    if (coalescing && envB) {
      for (const inflight of [64, 256]) {
        variants.push({
          id: `coalescing-${inflight}-b`,
          label: `B (${process.env.BENCH_AB}): coalescing client, ${inflight} in flight`,
          target: 'grpc-coalescing',
          inflight,
          b: true,
          clientOptions: {
            ...(envB.LIMITER_BATCH_WINDOW ? { window: Number(envB.LIMITER_BATCH_WINDOW) } : {}),
            ...(envB.LIMITER_BATCH_STREAM ? { stream: ['true', '1', 'yes'].includes(envB.LIMITER_BATCH_STREAM) } : {}),
          },
        });
      }
    }
    variants.push({ id: 'unary-64', label: 'plain unary Consume, 64 in flight', target: 'grpc-unary', inflight: 64 });
    variants.push({
      id: 'envoy-64',
      label: "Envoy's ShouldRateLimit, 1 descriptor, 64 in flight",
      target: 'envoy',
      inflight: 64,
      descriptors: 1,
    });
    variants.push({
      id: 'envoy-2-64',
      label: "Envoy's ShouldRateLimit, 2 descriptors (all or nothing), 64 in flight",
      target: 'envoy',
      inflight: 64,
      descriptors: 2,
    });
    if (coalescing) {
      // the transport floor: same client, same server kit, constant answers, no Redis
      variants.push({
        id: 'stub-coalescing-64',
        label: 'transport floor: coalescing client → stub server (no Redis), 64 in flight',
        target: 'grpc-coalescing',
        inflight: 64,
        stub: true,
      });
    }
    if (ctx.variantsFilter) variants.splice(0, variants.length, ...variants.filter((v) => ctx.variantsFilter.test(v.id)));

    // four variants × runs: a window of at most 3 s keeps the phase under a minute
    const windowMs = Math.min(ctx.durationMs, variants.length > 3 && !process.env.BENCH_SECONDS ? 3000 : ctx.durationMs);
    // Envoy's rules for the envoy variants: the same 10 per 10 minutes as the service policy.
    const envoyDir = join(BENCH_DIR, 'tmp', 'envoy-rules');
    mkdirSync(envoyDir, { recursive: true });
    writeFileSync(
      join(envoyDir, 'bench.yaml'),
      'domain: bench\ndescriptors:\n  - key: remote_address\n    rate_limit: {window: 10m, requests_per_unit: 10}\n  - key: client\n    rate_limit: {window: 10m, requests_per_unit: 10}\n',
    );
    const limiter = await startGrpcPart(
      ctx,
      'limiter',
      { LIMITER_REDIS_URL: redis.url(0), LIMITER_ENVOY_CONFIG_DIR: envoyDir },
      ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=limiter-${Date.now()}.cpuprofile`] : [],
    );
    const limiterB = variants.some((v) => v.b)
      ? await startGrpcPart(
          ctx,
          'limiter',
          { LIMITER_REDIS_URL: redis.url(0), ...envB },
          ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=limiter-b-${Date.now()}.cpuprofile`] : [],
          null,
          'limiter-b',
        )
      : null;
    const stub = variants.some((v) => v.stub)
      ? await startGrpcPart(ctx, 'limiter', {}, [], join(BENCH_DIR, 'workers/grpc-stub-server.mjs'), 'limiter-stub')
      : null;
    ctx.progress(`limiter serving on ${limiter.addr} (pid ${limiter.pid})${stub ? `, stub on ${stub.addr}` : ''}`);
    try {
      const res = await rounds(ctx, variants, async (v, r) => {
        await redis.ctl.flushall();
        const s0 = {};
        const d = {};
        const result = await runWorker(
          'load.mjs',
          {
            target: v.target,
            descriptors: v.descriptors,
            clientOptions: v.clientOptions,
            addr: (v.stub ? stub : v.b ? limiterB : limiter).addr,
            token: ctx.token,
            inflight: v.inflight,
            warmupMs: ctx.warmupMs,
            durationMs: windowMs,
            subjects: 100_000,
            seed: 2000 + r,
          },
          {
            nodeArgs: ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=load-${v.id}-${r}.cpuprofile`] : [],
            onEvent: (e) => {
              const pid = (v.stub ? stub : v.b ? limiterB : limiter).pid;
              if (e === 'start') Object.assign(s0, { server: cpuOfPid(pid), redis: cpuOfPid(redis.pid) });
              if (e === 'end') Object.assign(d, { server: cpuOfPid(pid) - s0.server, redis: cpuOfPid(redis.pid) - s0.redis });
            },
          },
        );
        const n = result.decisions || null;
        return {
          ...result,
          limiterCpuUsPerDecision: n && d.server / n,
          limiterCpuShare: d.server / 1e6 / result.seconds,
          redisCpuUsPerDecision: n && d.redis / n,
          redisCpuShare: d.redis / 1e6 / result.seconds,
        };
      });
      return {
        figures: variants.map((v) => ({
          id: `grpc.${v.id}`,
          label: v.label,
          unit: 'decisions/s',
          ...summarizeRuns(res[v.id]),
          inflight: v.inflight,
          errorKinds: mergeKinds(res[v.id]),
        })),
      };
    } finally {
      await limiter.stop();
      await limiterB?.stop();
      await stub?.stop();
    }
  },
};

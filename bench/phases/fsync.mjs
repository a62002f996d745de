// Phase 6 — the cost of the limiter Redis's fsync policy (issue 22): the same load with the
// limiter's own deploy files (deploy/redis-common.conf + redis-limiter.conf: AOF on), once with
// `appendfsync always` (the limiter's setting: every admitted call on disk before it is
// answered) and once with `everysec` (the statistics' setting), A/B interleaved. Measured through
// the limiter service (coalescing client, 64 in flight: what the gateway does) and straight to
// Redis (one script call per decision, 16 in flight: the worst case for `always`). Each variant
// gets a redis-server of its own in a fresh folder under bench/tmp; the AOF is on the disk of
// that folder, so the figures say as much about the disk as about Redis.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { rounds, summarizeRuns } from '../lib/phase.mjs';
import { startGrpcPart } from '../lib/parts.mjs';
import { BENCH_DIR, ROOT, freePort, runWorker, spawnTracked, stopChild, waitFor } from '../lib/util.mjs';
import { mergeKinds } from './peer.mjs';

async function limiterRedis(appendfsync) {
  const port = await freePort();
  const dir = join(BENCH_DIR, 'tmp', `redis-fsync-${appendfsync}-${port}`);
  mkdirSync(dir, { recursive: true });
  const deploy = join(ROOT, 'deploy');
  const child = spawnTracked('redis-server', [
    join(deploy, 'redis-common.conf'),
    '--include',
    join(deploy, 'redis-limiter.conf'),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendfsync',
    appendfsync,
    '--save',
    '',
  ]);
  await waitFor(`limiter redis-server (${appendfsync}) on ${port}`, () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${child.tail}`);
    return /Ready to accept connections/.test(child.tail);
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export default {
  id: 'fsync',
  title: 'Phase 6 — the limiter Redis with appendfsync always vs everysec (AOF on, deploy files)',
  async run(ctx) {
    const variants = [];
    for (const fsync of ['always', 'everysec']) {
      variants.push({
        id: `grpc-coalescing-64-${fsync}`,
        label: `limiter service, coalescing client, 64 in flight, appendfsync ${fsync}`,
        target: 'grpc-coalescing',
        inflight: 64,
        fsync,
      });
      variants.push({
        id: `script-16-${fsync}`,
        label: `script calls straight to Redis, 16 in flight, appendfsync ${fsync}`,
        target: 'script',
        inflight: 16,
        fsync,
      });
    }
    if (ctx.variantsFilter) variants.splice(0, variants.length, ...variants.filter((v) => ctx.variantsFilter.test(v.id)));
    const windowMs = Math.min(ctx.durationMs, 3000);
    const res = await rounds(ctx, variants, async (v, r) => {
      const redis = await limiterRedis(v.fsync);
      const limiter = v.target.startsWith('grpc') ? await startGrpcPart(ctx, 'limiter', { LIMITER_REDIS_URL: redis.url }) : null;
      try {
        return await runWorker('load.mjs', {
          target: v.target,
          addr: limiter?.addr,
          token: ctx.token,
          redisPort: redis.port,
          inflight: v.inflight,
          warmupMs: ctx.warmupMs,
          durationMs: windowMs,
          subjects: 100_000,
          seed: 6000 + r,
        });
      } finally {
        await limiter?.stop();
        await redis.stop();
      }
    });
    const figures = variants.map((v) => ({
      id: `fsync.${v.id}`,
      label: v.label,
      unit: 'decisions/s',
      ...summarizeRuns(res[v.id]),
      inflight: v.inflight,
      errorKinds: mergeKinds(res[v.id]),
    }));
    // always / everysec, by the medians
    const ratio = (a, b) => {
      const fa = figures.find((f) => f.id === `fsync.${a}`)?.perSecond?.median;
      const fb = figures.find((f) => f.id === `fsync.${b}`)?.perSecond?.median;
      return fa && fb ? fa / fb : null;
    };
    for (const kind of ['grpc-coalescing-64', 'script-16']) {
      const q = ratio(`${kind}-always`, `${kind}-everysec`);
      if (q != null) ctx.note(`${kind}: appendfsync always runs at ×${q.toFixed(2)} the rate of everysec`);
    }
    return { figures };
  },
};

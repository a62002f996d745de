// Phase 1 — the ceiling: redis-benchmark runs the project's own limiter script by EVALSHA on
// ~100,000 random subjects (KEYS and ARGV exactly as SlidingWindowStore passes them), with and
// without pipelining (-P 16), plus plain INCR for reference. One Redis core's physical limit
// for our algorithm on this machine; redis-benchmark itself takes the other core.
import { limiterScript, SERVICE_POLICY } from '../lib/project.mjs';
import { commandStats, parseBenchmarkCsv } from '../lib/redis.mjs';
import { rounds, summarizeRuns } from '../lib/phase.mjs';
import { cpuOfPid, spawnTracked } from '../lib/util.mjs';

const CLIENTS = 64;
const SUBJECTS = 100_000;

async function redisBenchmark(port, n, pipeline, args) {
  const child = spawnTracked(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(CLIENTS),
      '-n',
      String(n),
      '-r',
      String(SUBJECTS),
      '-P',
      String(pipeline),
      '--csv',
      ...args,
    ],
    { keepStdout: true },
  );
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`redis-benchmark exited ${code}: ${child.tail}`);
  return parseBenchmarkCsv(text);
}

export default {
  id: 'ceiling',
  title: 'Phase 1 — ceiling: redis-benchmark, our script by EVALSHA and INCR',
  async run(ctx) {
    const { redis } = ctx;
    const sw = limiterScript();
    const sha = await redis.ctl.script('LOAD', sw.lua);
    const key = sw.keyFor(SERVICE_POLICY.name, '__rand_int__');
    const argv = sw.argv(SERVICE_POLICY).map(String);
    const k = ctx.quick ? 0.15 : 1;
    const variants = [
      { id: 'evalsha', label: 'EVALSHA our script', cmd: 'evalsha', pipeline: 1, n: 180_000, args: ['EVALSHA', sha, '1', key, ...argv] },
      {
        id: 'evalsha-p16',
        label: 'EVALSHA our script, -P 16',
        cmd: 'evalsha',
        pipeline: 16,
        n: 300_000,
        args: ['EVALSHA', sha, '1', key, ...argv],
      },
      { id: 'incr', label: 'INCR (reference)', cmd: 'incr', pipeline: 1, n: 200_000, args: ['INCR', 'fw:{service:__rand_int__}'] },
      {
        id: 'incr-p16',
        label: 'INCR, -P 16 (reference)',
        cmd: 'incr',
        pipeline: 16,
        n: 1_000_000,
        args: ['INCR', 'fw:{service:__rand_int__}'],
      },
    ];
    ctx.note(
      `script from services/limiter/${sw.from}; command: redis-benchmark -c ${CLIENTS} -r ${SUBJECTS} [-P 16] EVALSHA <sha> 1 ${key} ${argv.join(' ')}`,
    );
    const res = await rounds(ctx, variants, async (v) => {
      await redis.ctl.flushall();
      await redis.ctl.config('RESETSTAT');
      const cpu0 = cpuOfPid(redis.pid);
      const b = await redisBenchmark(redis.port, Math.round(v.n * k), v.pipeline, v.args);
      const cpu1 = cpuOfPid(redis.pid);
      const st = (await commandStats(redis.ctl))[v.cmd] ?? {};
      return {
        perSecond: b.rps,
        p50Ms: b.p50Ms,
        p99Ms: b.p99Ms,
        redisUsPerCall: st.usec_per_call ?? null,
        redisProcessCpuUsPerCall: st.calls ? (cpu1 - cpu0) / st.calls : null,
        subjects: await redis.ctl.dbsize(),
      };
    });
    return {
      figures: variants.map((v) => ({
        id: `ceiling.${v.id}`,
        label: v.label,
        unit: 'decisions/s',
        inflight: v.pipeline === 1 ? CLIENTS : CLIENTS * v.pipeline,
        ...summarizeRuns(res[v.id]),
      })),
    };
  },
};

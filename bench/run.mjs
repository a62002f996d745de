#!/usr/bin/env node
// `make bench` (issue 9): measures the limiter and the site against the physical ceiling and a
// peer, side by side, in one invocation, against 127.0.0.1 only, each phase bounded (< 60 s).
// Starts its own Redis (a private redis-server on a free port), its own database (etu_bench)
// and its own copies of the parts (their built dist/main.js); never touches the shared Redis.
//
//   node bench/run.mjs                 full run: 3 runs per figure → bench/results/<date>-<commit>.{md,json,svg}
//   BENCH_QUICK=1 node bench/run.mjs   development: 1 run per figure, short phases → bench/tmp/results/
//   BENCH_PHASES=ceiling,grpc          only these phases (ids or numbers 1-6; fsync = the limiter Redis's fsync A/B)
//   BENCH_PROFILE=1                    node --cpu-prof on the parts and load clients; summaries in the report
//   BENCH_VARIANTS=regex               only the variants whose id matches (e.g. vente-achat)
//   BENCH_PATCHES / BENCH_AB / BENCH_LOG_LEVEL   experiments: see bench/README.md
//   BENCH_RUNS, BENCH_SECONDS, BENCH_OUT   override runs per figure, seconds per measured window, output dir
//   node bench/run.mjs --render bench/results/<file>.json   re-render a run's report, chart and README section
//   BENCH_WAIT_QUIET=<s>               wait up to s seconds for other processes to go quiet first
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BENCH_DIR, ROOT, killAllChildren, measuredWindows } from './lib/util.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { gitCommit } from './lib/project.mjs';
import { jestProcesses, loadMeter, machineFacts } from './lib/machine.mjs';
import { evaluateTargets } from './lib/targets.mjs';
import { markdown, svgChart, updateReadme } from './lib/report.mjs';
import { profilesIn } from './lib/cpuprofile.mjs';
import ceiling from './phases/ceiling.mjs';
import peer from './phases/peer.mjs';
import grpc from './phases/grpc.mjs';
import site from './phases/site.mjs';
import memory from './phases/memory.mjs';
import fsync from './phases/fsync.mjs';

const PHASES = [ceiling, peer, grpc, site, memory, fsync];
/** Other processes using at most this many cores on average in every phase: a quiet machine. */
const QUIET_CORES = 0.25;
const env = process.env;
const quick = env.BENCH_QUICK === '1';
const requestedRuns = Number(env.BENCH_RUNS ?? (quick ? 1 : 3));
// An A/B needs an even number of rounds: every other round runs its variants in reverse order
// (bench/lib/phase.mjs, rounds), so A and B are each measured first equally often.
const runs = env.BENCH_AB && requestedRuns % 2 ? requestedRuns + 1 : requestedRuns;
const durationMs = Number(env.BENCH_SECONDS ?? (quick ? 2 : 4)) * 1000;
const warmupMs = quick ? 500 : 1000;
const profile = env.BENCH_PROFILE === '1';
const selected = env.BENCH_PHASES
  ? env.BENCH_PHASES.split(',')
      .map((s) => s.trim())
      .map((s) => (/^[1-6]$/.test(s) ? PHASES[Number(s) - 1].id : s))
  : PHASES.map((p) => p.id);
// an experiment (BENCH_PATCHES, BENCH_LOG_LEVEL) measures code that is not the project's as committed
const experiment = [
  env.BENCH_PATCHES && `patches ${env.BENCH_PATCHES}`,
  env.BENCH_LOG_LEVEL && `LOG_LEVEL=${env.BENCH_LOG_LEVEL}`,
  env.BENCH_SITE_CONNECTIONS && `site connections ${env.BENCH_SITE_CONNECTIONS}`,
  env.BENCH_SITE_USERS && `site users ${env.BENCH_SITE_USERS}`,
  env.BENCH_GRPC_MAXBATCH && `limiter client maxBatch ${env.BENCH_GRPC_MAXBATCH}`,
  env.BENCH_AB && `A/B of the site with ${env.BENCH_AB}`,
  env.BENCH_BATCHED_SCRIPT && 'one EVALSHA per batch (bench/experiments/batched-script.mjs)',
  env.BENCH_NODE_OPTIONS && `NODE_OPTIONS=${env.BENCH_NODE_OPTIONS} for parts and load clients`,
]
  .filter(Boolean)
  .join(', ');
const outDir = env.BENCH_OUT ?? join(BENCH_DIR, quick || experiment ? 'tmp/results' : 'results');

// `node bench/run.mjs --render results/<file>.json`: writes the report, chart and README section
// again from a run's JSON (after a change to the report's format or to the targets' wording)
if (process.argv[2] === '--render') {
  const { readFileSync } = await import('node:fs');
  const { dirname, basename } = await import('node:path');
  const file = process.argv[3];
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const figs = {};
  for (const p of r.phases) for (const f of p.figures ?? []) figs[f.id] = f;
  r.targets = evaluateTargets(figs, r.machine.nproc);
  const maxOther = Math.max(0, ...r.phases.map((p) => p.load?.otherCores ?? 0));
  const jest = r.quiet.detail.match(/at start (\d+), at end (\d+)/);
  const quiet = maxOther <= QUIET_CORES && (!jest || (jest[1] === '0' && jest[2] === '0'));
  r.quiet = {
    quiet,
    verdict: quiet ? 'yes' : 'no — figures are lower than on a quiet machine',
    detail: `Other processes used at most ${maxOther} core on average during a phase (quiet: ≤ ${QUIET_CORES})${jest ? `; jest processes at start ${jest[1]}, at end ${jest[2]}` : ''}.`,
  };
  const base = basename(file, '.json');
  writeFileSync(file, JSON.stringify(r, null, 1));
  writeFileSync(join(dirname(file), `${base}.svg`), svgChart(r));
  writeFileSync(join(dirname(file), `${base}.md`), markdown(r));
  if (!r.quick && !r.experiment && dirname(file).endsWith('results') && updateReadme(join(BENCH_DIR, 'README.md'), r, `${base}.md`)) {
    updateReadme(join(ROOT, 'README.md'), r, `${base}.md`, 'bench/');
    console.log('bench/README.md and README.md updated');
  }
  console.log(`re-rendered ${base}.{md,svg,json}`);
  process.exit(0);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the bench's processes`);
    killAllChildren();
    process.exit(130);
  });
}
process.on('exit', killAllChildren);

const fmtBrief = (r) => {
  const parts = [];
  if (r.perSecond != null) parts.push(`${Math.round(r.perSecond).toLocaleString('en-US')}/s`);
  if (r.p50Ms != null) parts.push(`p50 ${r.p50Ms.toFixed(2)} ms`);
  if (r.p99Ms != null) parts.push(`p99 ${r.p99Ms.toFixed(2)} ms`);
  if (r.errorShare) parts.push(`errors ${(r.errorShare * 100).toFixed(1)}%`);
  if (r.admittedShare != null) parts.push(`admitted ${(r.admittedShare * 100).toFixed(0)}%`);
  if (r.redisUsPerCall != null) parts.push(`Redis ${r.redisUsPerCall.toFixed(2)} µs/call`);
  if (r.memoryUsagePerKey != null) parts.push(`${Math.round(r.memoryUsagePerKey)} B/key`);
  if (r.usPerDecision != null) parts.push(`${r.usPerDecision.toFixed(2)} µs/decision`);
  return parts.join(', ');
};

const started = new Date();
const date = started.toISOString().slice(0, 10);
const commit = gitCommit();
let dirty = false;
try {
  dirty = execFileSync('git', ['status', '--porcelain', '--', '.'], { cwd: ROOT }).toString().trim() !== '';
} catch {
  /* not a git checkout */
}
const machine = machineFacts();
// BENCH_WAIT_QUIET=<seconds>: first wait (at most that long) until other processes use less
// than QUIET_CORES over 5 s
if (env.BENCH_WAIT_QUIET) {
  const until = Date.now() + Number(env.BENCH_WAIT_QUIET) * 1000;
  for (;;) {
    const m = loadMeter();
    await new Promise((r) => setTimeout(r, 5000));
    const { otherCores } = m.stop();
    if (otherCores < QUIET_CORES) break;
    if (Date.now() > until) {
      console.log(`  the machine did not get quiet (others use ${otherCores} core): running anyway`);
      break;
    }
    console.log(`  waiting for a quiet machine: other processes use ${otherCores} core`);
  }
}
const jestAtStart = jestProcesses();
console.log(`make bench — ${date} ${commit}${quick ? ' — QUICK MODE (development only)' : ''}`);
console.log(
  `  ${machine.nproc} cores, ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}; runs per figure ${runs}, measured window ${durationMs / 1000} s`,
);
if (experiment) console.log(`  EXPERIMENT: ${experiment} (results go to bench/tmp/results)`);
if (jestAtStart) console.log(`  note: ${jestAtStart} jest processes are running: the machine is not quiet, figures will be low`);

const profileDir = join(BENCH_DIR, 'tmp', 'profiles');
if (profile) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}

const redis = await startPrivateRedis();
console.log(`  private redis-server on 127.0.0.1:${redis.port} (pid ${redis.pid})`);
const ctxBase = {
  quick,
  runs,
  durationMs,
  warmupMs,
  redis,
  profile,
  profileDir,
  token: randomBytes(24).toString('base64url'),
  sessionKeys: randomBytes(24).toString('base64url'),
  brief: fmtBrief,
  // BENCH_VARIANTS=regex: only the variants whose id matches (e.g. to profile one of them)
  variantsFilter: env.BENCH_VARIANTS ? new RegExp(env.BENCH_VARIANTS) : null,
};

const phases = [];
let failed = 0;
for (const [i, ph] of PHASES.entries()) {
  if (!selected.includes(ph.id)) continue;
  console.log(`\n[${i + 1}/5] ${ph.title}`);
  const notes = [];
  const ctx = {
    ...ctxBase,
    progress: (m) => console.log(`    ${m}`),
    note: (m) => {
      notes.push(m);
      console.log(`    note: ${m}`);
    },
  };
  const meter = loadMeter();
  const t0 = Date.now();
  const rec = { id: ph.id, title: ph.title, notes };
  try {
    const res = await ph.run(ctx);
    Object.assign(rec, res);
  } catch (e) {
    if (e.skip) {
      rec.skipped = e.message;
      console.log(`    SKIPPED: ${e.message}`);
    } else {
      rec.error = e.message;
      failed++;
      console.log(`    FAILED: ${e.stack ?? e.message}`);
    }
  }
  rec.seconds = (Date.now() - t0) / 1000;
  rec.load = meter.stop();
  if (profile) {
    // parts stop (and write their profiles) at the end of their phase; only measured windows count
    rec.profiles = profilesIn(profileDir, t0, measuredWindows.length ? measuredWindows : null).map((p) => ({
      name: p.file.split('/').pop(),
      busyMs: p.busyMs,
      packages: p.packages,
      functions: p.functions,
    }));
  }
  console.log(`    phase done in ${rec.seconds.toFixed(1)} s (other processes: ${rec.load.otherCores} core on average)`);
  phases.push(rec);
}
await redis.stop();

const figs = {};
for (const p of phases) for (const f of p.figures ?? []) figs[f.id] = f;
const targets = evaluateTargets(figs, machine.nproc);
const jestAtEnd = jestProcesses();
const maxOther = Math.max(0, ...phases.map((p) => p.load?.otherCores ?? 0));
const isQuiet = jestAtStart === 0 && jestAtEnd === 0 && maxOther <= QUIET_CORES;
const quiet = {
  quiet: isQuiet,
  verdict: isQuiet ? 'yes' : 'no — figures are lower than on a quiet machine',
  detail: `Other processes used at most ${maxOther} core on average during a phase (quiet: ≤ ${QUIET_CORES}); jest processes at start ${jestAtStart}, at end ${jestAtEnd}.`,
};

mkdirSync(outDir, { recursive: true });
const base = `${date}-${commit}`;
const result = {
  date,
  startedAt: started.toISOString(),
  commit,
  dirty,
  quick,
  runs,
  durationMs,
  machine,
  quiet,
  experiment: experiment || null,
  chartFile: `${base}.svg`,
  targets,
  phases,
};
writeFileSync(join(outDir, `${base}.json`), JSON.stringify(result, null, 1));
writeFileSync(join(outDir, `${base}.svg`), svgChart(result));
writeFileSync(join(outDir, `${base}.md`), markdown(result));
console.log(`\nTargets:`);
for (const t of targets)
  console.log(
    `  ${t.met === true ? 'MET   ' : t.met === false ? 'MISSED' : 'info  '} ${t.name}: ${t.measured} (goal ${t.target})${t.gap ? ` — ${t.gap}` : ''}`,
  );
console.log(`\nResults: ${join(outDir, base)}.{md,json,svg}  (machine quiet: ${quiet.verdict})`);
const complete = selected.length === PHASES.length && phases.every((p) => !p.error && !p.skipped);
if (!quick && !experiment && !env.BENCH_OUT && complete && updateReadme(join(BENCH_DIR, 'README.md'), result, `${base}.md`)) {
  updateReadme(join(ROOT, 'README.md'), result, `${base}.md`, 'bench/');
  console.log('bench/README.md and README.md: latest results updated');
}
const skipped = phases.filter((p) => p.skipped);
if (skipped.length) console.log(`Skipped phases: ${skipped.map((p) => `${p.id} (${p.skipped})`).join('; ')}`);
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// Smoke test of the bench pipeline (not of speed): runs `make bench`'s script in quick mode
// into a temporary directory and checks that it ran end to end — every phase measured (or
// skipped with a reason), every figure numeric, the Markdown, JSON and SVG written, each
// target evaluated. Speed numbers are never asserted here (nor in jest).
//   node bench/smoke.mjs            (about 1.5 minutes; needs make build, MariaDB and Redis)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR } from './lib/util.mjs';

const out = mkdtempSync(join(tmpdir(), 'etu-bench-smoke-'));
const problems = [];
const r = spawnSync(process.execPath, [join(BENCH_DIR, 'run.mjs')], {
  env: { ...process.env, BENCH_QUICK: '1', BENCH_OUT: out, BENCH_SECONDS: '1' },
  stdio: ['ignore', 'inherit', 'inherit'],
  timeout: 600_000,
});
if (r.status !== 0) problems.push(`bench/run.mjs exited ${r.status ?? r.signal}`);
const files = readdirSync(out);
for (const ext of ['md', 'json', 'svg']) if (!files.some((f) => f.endsWith(`.${ext}`))) problems.push(`no .${ext} written`);
const jsonFile = files.find((f) => f.endsWith('.json'));
if (jsonFile) {
  const res = JSON.parse(readFileSync(join(out, jsonFile), 'utf8'));
  for (const k of ['nproc', 'cpuModel', 'node', 'redis']) if (!res.machine?.[k]) problems.push(`machine fact ${k} missing`);
  const ids = res.phases.map((p) => p.id);
  for (const id of ['ceiling', 'peer', 'grpc', 'site', 'memory']) if (!ids.includes(id)) problems.push(`phase ${id} missing`);
  for (const p of res.phases) {
    if (p.error) problems.push(`phase ${p.id} failed: ${p.error}`);
    if (p.skipped) console.log(`(phase ${p.id} skipped: ${p.skipped})`);
    else if (!p.figures?.length) problems.push(`phase ${p.id} has no figures`);
    for (const f of p.figures ?? []) {
      const main = f.perSecond ?? f.memoryUsagePerKey ?? f.bytesPerUser ?? f.usPerDecision;
      if (typeof main?.median !== 'number' || !Number.isFinite(main.median)) problems.push(`figure ${f.id} has no numeric value`);
      if (f.errorShare?.median > 0.01) problems.push(`figure ${f.id}: ${(f.errorShare.median * 100).toFixed(1)}% errors`);
      if (f.failShare?.median > 0.05) problems.push(`figure ${f.id}: ${(f.failShare.median * 100).toFixed(1)}% 4xx/5xx`);
    }
  }
  if (!res.targets?.length) problems.push('no target evaluated');
}
const svg = files.find((f) => f.endsWith('.svg'));
if (svg && !/^<svg[\s\S]*<\/svg>$/.test(readFileSync(join(out, svg), 'utf8').trim())) problems.push('the SVG is not one <svg> element');
const md = files.find((f) => f.endsWith('.md'));
if (md && !readFileSync(join(out, md), 'utf8').includes('## Targets')) problems.push('the report has no targets section');
rmSync(out, { recursive: true, force: true });
if (problems.length) {
  console.error(`\nbench smoke test FAILED:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
console.log('\nbench smoke test passed: every phase ran, results, JSON and chart written');

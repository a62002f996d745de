// What every phase shares: repeating variants round-robin (so slow drift of the machine hits
// each variant alike), and summarizing each numeric field into median and min–max.
import { summarize } from './util.mjs';

/** runs × variants, interleaved; returns { [variant.id]: [result, ...] }. */
export async function rounds(ctx, variants, runOne) {
  const out = Object.fromEntries(variants.map((v) => [v.id, []]));
  for (let r = 0; r < ctx.runs; r++) {
    // Every other round in reverse order: a run leaves work behind in the parts and stores it
    // shares with the next one (a database catching up, a shared auth/limiter/stats), so a
    // variant always measured right after the same other one was measured at a disadvantage
    // (an A/A control, BENCH_AB=<unused variable>, once read B 16 % below A).
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      const res = await runOne(v, r);
      out[v.id].push(res);
      ctx.progress(`${v.id} run ${r + 1}/${ctx.runs}: ${ctx.brief(res)}`);
    }
  }
  return out;
}

/** [{a: 1, b: 2}, {a: 3, b: 4}] → { a: summary, b: summary } for numeric fields. */
export function summarizeRuns(results) {
  const keys = new Set();
  for (const r of results) for (const [k, v] of Object.entries(r)) if (typeof v === 'number') keys.add(k);
  const out = {};
  for (const k of keys) out[k] = summarize(results.map((r) => r[k]));
  return out;
}

/**
 * The environment variables of BENCH_AB (its `NAME=value` items; the other items are patches,
 * bench/experiments/patches.cjs, which only the site phase applies), or null when it names none.
 */
export function abEnv(ab) {
  const items = (ab ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.includes('='));
  return items.length ? Object.fromEntries(items.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)])) : null;
}

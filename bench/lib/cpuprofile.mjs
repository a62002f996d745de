// Reads the .cpuprofile files written by `node --cpu-prof` and says where the time went:
// self time by package (node_modules/<pkg>, the project's own packages, node internals,
// garbage collection) and the hottest functions.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function bucketOf(url, fn) {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (!url) return 'native / V8';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = url.match(/\/(services\/[^/]+|gateway|proto|prisma|bench)\//);
  return own ? own[1] : url;
}

/**
 * Self time by package and function. With `windows` ([start, end] in CLOCK_MONOTONIC µs, the
 * clock of the profile's timestamps), only the samples taken inside a measured window count:
 * start-up, set-up and warm-up are left out.
 */
export function summarizeProfile(file, top = 12, windows = null) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let t = p.startTime;
  const inWindow = (ts) => !windows || windows.some(([a, b]) => ts >= a && ts <= b);
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0; // a sample's weight: the time until the next one
    if (inWindow(t)) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const buckets = new Map();
  const fns = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const { functionName, url, lineNumber } = n.callFrame;
    const b = bucketOf(url, functionName);
    if (b === '(idle)') continue;
    total += us;
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const f = `${functionName || '(anonymous)'} ${b}${url && !url.startsWith('node:') ? `:${lineNumber + 1}` : ''}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, share: +(us / total).toFixed(3) }));
  return { busyMs: Math.round(total / 1000), packages: rank(buckets), functions: rank(fns) };
}

/** Summaries of the profiles written into dir after `since` (ms). */
export function profilesIn(dir, since = 0, windows = null) {
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  return files
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since)
    .map((f) => ({ file: f, ...summarizeProfile(f, 12, windows) }));
}

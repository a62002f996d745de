// Small helpers shared by the bench orchestrator and its workers: statistics, processes,
// free ports, CPU accounting from /proc, a seeded PRNG.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Median and min–max of a list of numbers (the runs of one figure). */
export function summarize(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null, runs: values };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], runs: values };
}

/** Percentile q (0..1) of a sorted typed array. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A growable Float64Array of latencies (ms). */
export class Samples {
  constructor(cap = 1 << 16) {
    this.a = new Float64Array(cap);
    this.n = 0;
  }
  push(x) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  sorted() {
    return this.a.subarray(0, this.n).sort();
  }
}

/** xorshift32: the same seed gives the same subjects to every contender. */
export function prng(seed = 0x9e3779b9) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let clkTck;
/** CPU time (user + system) of a process in µs, from /proc (10 ms resolution). */
export function cpuOfPid(pid) {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm) ": state=0, ..., utime=11, stime=12
    return ((Number(f[11]) + Number(f[12])) / clkTck) * 1e6;
  } catch {
    return null;
  }
}

/** Processes started by the bench, stopped at exit whatever happens. */
const children = new Set();

export function spawnTracked(cmd, args, opts = {}) {
  let stdio = ['ignore', 'pipe', 'pipe'];
  if (opts.logFile) {
    // a part's logs go to a file (cheap for it, nothing for the bench to read); tail() reads it
    mkdirSync(dirname(opts.logFile), { recursive: true });
    const fd = openSync(opts.logFile, 'w');
    stdio = ['ignore', fd, fd];
  }
  const child = spawn(cmd, args, { stdio, ...opts });
  if (opts.logFile) {
    closeSync(stdio[1]); // the child has its own copy
    Object.defineProperty(child, 'tail', {
      get: () => {
        try {
          return readFileSync(opts.logFile, 'utf8').slice(-4000);
        } catch {
          return '';
        }
      },
      set: () => {},
    });
  }
  children.add(child);
  child.tail = '';
  const keep = (d) => {
    child.tail = (child.tail + d.toString()).slice(-4000);
  };
  child.stderr?.on('data', keep);
  if (!opts.keepStdout) child.stdout?.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then(() => children.delete(child));
  return child;
}

export async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(t);
}

export function killAllChildren() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** [start, end] of every measured window, CLOCK_MONOTONIC µs (the clock of .cpuprofile files). */
export const measuredWindows = [];

/**
 * Runs a worker script (bench/workers/*.mjs) in its own Node process with a JSON config.
 * The worker prints JSON lines; `{"event":...}` lines are passed to onEvent (so the
 * orchestrator can sample CPU of other processes at the start and end of the measured window),
 * and the last `{"result":...}` line is the answer.
 */
export function runWorker(script, config, { onEvent, timeoutMs = 120_000, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [...nodeArgs, join(BENCH_DIR, 'workers', script), JSON.stringify(config)], {
      cwd: ROOT,
      keepStdout: true,
      env: process.env.BENCH_NODE_OPTIONS ? { ...process.env, NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : process.env,
    });
    let buf = '';
    let result;
    child.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.event) {
          if (msg.event === 'start') measuredWindows.push([msg.mono, Infinity]);
          if (msg.event === 'end' && measuredWindows.length) measuredWindows[measuredWindows.length - 1][1] = msg.mono;
          onEvent?.(msg.event, msg);
        }
        if (msg.result) result = msg.result;
        if (msg.progress) process.stdout.write(`      ${msg.progress}\n`);
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (result && code === 0) resolve(result);
      else reject(new Error(`${script} failed (${signal ?? `exit ${code}`}): ${child.tail.trim().slice(-1500)}`));
    });
  });
}

/** Polls fn until it returns truthy or the time is up. */
export async function waitFor(what, fn, timeoutMs = 15_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${last ? ` (${last.message})` : ''}`);
}

export const fmt = {
  int: (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US')),
  num: (x, d = 1) => (x == null ? '–' : x.toFixed(d)),
  pct: (x) => (x == null ? '–' : `${(x * 100).toFixed(1)}%`),
};

// Machine facts for the results, and how busy the machine was with work that is not the
// bench's (other engineers' tests share these 2 cores): "other load" = CPU time of the whole
// machine minus the CPU time of this process and its descendants, per wall second.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { redisVersion } from './redis.mjs';

const clk = () => Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function machineFacts() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: cpuinfo.match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memTotalGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    redis: redisVersion(),
    redisBenchmark: sh('redis-benchmark', ['--version'])?.match(/(?<!\d)\d+\.[0-9.]+/)?.[0] ?? null,
    mariadb: sh('mariadb', ['--version'])?.match(/(?<!\d)(\d+\.\d+\.\d+)-MariaDB/)?.[1] ?? sh('mariadb', ['--version']),
    autocannon: (() => {
      try {
        return JSON.parse(readFileSync(new URL('../../node_modules/autocannon/package.json', import.meta.url))).version;
      } catch {
        return null;
      }
    })(),
  };
}

function machineBusyTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - f[3] - f[4]; // minus idle and iowait
}

function procTable() {
  const t = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t.set(Number(d), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch {
      /* gone */
    }
  }
  return t;
}

/** CPU ticks of this process (with its reaped children) and of each live descendant. */
function ourTicks() {
  const t = procTable();
  const ours = new Map();
  const me = t.get(process.pid);
  ours.set(process.pid, me ? me.own + me.reaped : 0);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of t) {
      if (!ours.has(pid) && ours.has(p.ppid)) {
        ours.set(pid, p.own + p.reaped);
        grew = true;
      }
    }
  }
  return ours;
}

/** Starts a meter; stop() → { otherCores, oursCores, seconds, loadavg1 }. */
export function loadMeter() {
  const t0 = Date.now();
  const busy0 = machineBusyTicks();
  const ours0 = ourTicks();
  return {
    stop() {
      const seconds = (Date.now() - t0) / 1000;
      const busy = machineBusyTicks() - busy0;
      let ours = 0;
      for (const [pid, v] of ourTicks()) ours += v - (ours0.get(pid) ?? 0);
      const hz = clk();
      return {
        seconds,
        oursCores: +(ours / hz / seconds).toFixed(2),
        otherCores: +(Math.max(0, busy - ours) / hz / seconds).toFixed(2),
        loadavg1: +os.loadavg()[0].toFixed(2),
      };
    },
  };
}

/** How many jest processes run now (other engineers' test suites). */
export function jestProcesses() {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/jest/.test(readFileSync(`/proc/${d}/cmdline`, 'utf8'))) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

// The bench's own Redis: a private redis-server on a free port, no persistence, so numbers
// are not polluted by other users and INFO commandstats / MEMORY USAGE are clean. It is
// stopped when the bench ends. The shared Redis on :6379 is never touched.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BENCH_DIR, freePort, spawnTracked, stopChild, waitFor } from './util.mjs';
import { require } from './project.mjs';

const Redis = require('ioredis');

export async function startPrivateRedis() {
  const port = await freePort();
  const dir = join(BENCH_DIR, 'tmp', `redis-${port}`);
  mkdirSync(dir, { recursive: true });
  const child = spawnTracked('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--databases',
    '16',
    '--protected-mode',
    'yes',
  ]);
  await waitFor(`private redis-server on ${port}`, () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${child.tail}`);
    return /Ready to accept connections/.test(child.tail);
  });
  const ctl = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  ctl.on('error', () => {}); // reported by the command that fails
  await ctl.ping();
  return {
    port,
    pid: child.pid,
    url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
    ctl,
    /** Redis for a given db (a new connection; the caller closes it). */
    connect: (db = 0, opts = {}) => new Redis({ host: '127.0.0.1', port, db, maxRetriesPerRequest: 1, ...opts }),
    async stop() {
      await ctl.quit().catch(() => {});
      ctl.disconnect();
      await stopChild(child);
    },
  };
}

/** `INFO <section>` parsed into { key: value } (numbers where numeric). */
export async function info(redis, section) {
  const out = {};
  for (const line of (await redis.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.startsWith('#')) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    out[k] = /^-?[0-9.]+$/.test(v) ? Number(v) : v;
  }
  return out;
}

/** `INFO commandstats` → { evalsha: { calls, usec, usec_per_call }, ... } */
export async function commandStats(redis) {
  const out = {};
  for (const [k, v] of Object.entries(await info(redis, 'commandstats'))) {
    const name = k.replace(/^cmdstat_/, '');
    out[name] = Object.fromEntries(
      String(v)
        .split(',')
        .map((kv) => kv.split('='))
        .map(([a, b]) => [a, Number(b)]),
    );
  }
  return out;
}

export function redisVersion() {
  try {
    return (
      execFileSync('redis-server', ['--version'])
        .toString()
        .match(/v=([0-9.]+)/)?.[1] ?? 'unknown'
    );
  } catch {
    return 'not installed';
  }
}

/** Parses `redis-benchmark --csv` output: { rps, avg, p50, p95, p99, max } (latencies in ms). */
export function parseBenchmarkCsv(text) {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('"'));
  const header = lines.find((l) => l.startsWith('"test"'));
  const row = lines.find((l) => !l.startsWith('"test"'));
  if (!header || !row) throw new Error(`unexpected redis-benchmark output: ${text.slice(0, 300)}`);
  const cols = header.split(',').map((s) => s.replace(/"/g, ''));
  const vals = row.match(/"([^"]*)"/g).map((s) => s.replace(/"/g, ''));
  const o = Object.fromEntries(cols.map((c, i) => [c, vals[i]]));
  return {
    rps: Number(o.rps),
    avgMs: Number(o.avg_latency_ms),
    p50Ms: Number(o.p50_latency_ms),
    p95Ms: Number(o.p95_latency_ms),
    p99Ms: Number(o.p99_latency_ms),
    maxMs: Number(o.max_latency_ms),
  };
}

// `node bench/cluster.mjs`: the limiter's decisions per second on a 3-master Redis Cluster
// against a single Redis, in the same run (issue 17). Both are started here on free loopback
// ports, without persistence (testkit's startPrivateRedis and startRedisCluster: six
// redis-server, --cluster-replicas 1), and killed at the end. The load is the limiter's own
// store (SlidingWindowStore over connectLimiterRedis, exactly what the service runs) in this
// process: W concurrent loops, each a call after the other, either ConsumeBatch-sized calls of
// B decisions on random subjects (what the gateways' coalescing client sends under load: on the
// cluster each call becomes one script call per slot, in parallel) or lone decisions. Windows
// alternate single / cluster (ABAB) so that drift of the machine's load hits both alike. Prints a
// table and the machine's load; needs `make build`. BENCH_SECONDS (default 3) per window.
import { loadavg, cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'services', 'limiter', 'package.json'));
const { connectLimiterRedis, SlidingWindowStore } = require(join(root, 'services/limiter/dist/index.js'));
const { pingAll } = require(join(root, 'services/common/dist/index.js'));
const { startPrivateRedis, startRedisCluster } = require(join(root, 'testkit/dist/index.js'));

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const policy = { name: 'service', limit: 10, windowMs: 600_000 };
const modes = [
  { id: 'batch', label: 'batches of 64 decisions, 8 in flight', width: 8, batch: 64 },
  { id: 'lone', label: 'lone decisions, 64 in flight', width: 64, batch: 1 },
];

async function measure(store, mode) {
  let decisions = 0;
  let errors = 0;
  let stop = false;
  let seq = 0;
  const loop = async () => {
    while (!stop) {
      const rs = Array.from({ length: mode.batch }, () => ({ policy, subject: `u${(seq++ * 7919) % 100_000}`, cost: 1 }));
      try {
        const out = await store.decideMany(rs);
        for (const d of out)
          if (d instanceof Error) errors++;
          else decisions++;
      } catch {
        errors += rs.length;
      }
    }
  };
  // warm-up (connections, script caches), then the window
  const warm = Array.from({ length: mode.width }, loop);
  await new Promise((r) => setTimeout(r, 500));
  decisions = 0;
  errors = 0;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const got = decisions;
  const errs = errors;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(warm);
  return { perSecond: got / elapsed, errors: errs };
}

const load0 = loadavg();
const single = await startPrivateRedis();
const cluster = await startRedisCluster({ nodeTimeoutMs: 5000 });
const targets = { single: single.url, cluster: cluster.url };
const results = {};
try {
  for (const round of [1, 2]) {
    for (const mode of modes) {
      for (const [name, url] of Object.entries(targets)) {
        const redis = connectLimiterRedis(url);
        await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${name} not ready`)), 10_000);
          redis.once('ready', () => (clearTimeout(t), resolve()));
        });
        await pingAll(redis);
        const store = new SlidingWindowStore(redis, { timeoutMs: 2000 });
        const r = await measure(store, mode);
        redis.disconnect();
        (results[`${mode.id}/${name}`] ??= []).push(r);
        process.stdout.write(`round ${round}, ${mode.label}, ${name}: ${Math.round(r.perSecond)} decisions/s, ${r.errors} errors\n`);
      }
    }
  }
} finally {
  await cluster.stop();
  await single.stop();
}
const load1 = loadavg();
const fmt = (rs) => rs.map((r) => Math.round(r.perSecond).toLocaleString('en-US')).join(', ');
const mean = (rs) => rs.reduce((a, r) => a + r.perSecond, 0) / rs.length;
process.stdout.write(`\n| load | single Redis (decisions/s) | 3-master cluster (decisions/s) | cluster / single |\n|---|---|---|---|\n`);
for (const mode of modes) {
  const s = results[`${mode.id}/single`];
  const c = results[`${mode.id}/cluster`];
  process.stdout.write(`| ${mode.label} | ${fmt(s)} | ${fmt(c)} | ×${(mean(c) / mean(s)).toFixed(2)} |\n`);
}
process.stdout.write(
  `\n${cpus().length} cores; load average ${load0.map((x) => x.toFixed(1)).join(' / ')} before, ${load1.map((x) => x.toFixed(1)).join(' / ')} after (1/5/15 min); ${seconds} s windows, 2 rounds, single and cluster alternating.\n`,
);

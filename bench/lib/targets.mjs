// The issue's targets (issue 9), each checked against the figures of the same run, and — when
// missed — by how much and what bounds it (from the CPU each process used per decision).
const med = (f, k) => f?.[k]?.median ?? null;
const range = (f, k, d = 0) => (f?.[k]?.min == null ? '' : ` (${f[k].min.toFixed(d)}–${f[k].max.toFixed(d)})`);
const n0 = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
/** CPU µs per request summed over some parts of a site figure. */
const sum = (f, ks) => ks.reduce((a, k) => a + (med(f, `${k}CpuUsPerRequest`) ?? 0), 0);
/** The parts a Vente/Achat crosses (each with its CPU per request), and the monolith's ('gateway' = its one process). */
const SITE_KEYS = ['gateway', 'auth', 'market', 'limiter', 'stats', 'redis', 'mariadb'];
const MONO_KEYS = ['gateway', 'redis', 'mariadb'];

/** Which process limits a load: the CPU shares (cores) measured during the window. */
function cpuBound(f, parts, nproc, unit = 'decision') {
  const shares = parts
    .map(([name, shareKey, usKey]) => ({ name, share: med(f, shareKey), us: med(f, usKey) }))
    .filter((p) => p.share != null);
  if (!shares.length) return '';
  const total = shares.reduce((a, p) => a + p.share, 0);
  const text = shares
    .map((p) => `${p.name} ${p.share.toFixed(2)} core${p.us != null ? ` (${p.us.toFixed(0)} µs CPU/${unit})` : ''}`)
    .join(', ');
  const top = shares.reduce((a, b) => (b.share > a.share ? b : a));
  let verdict;
  if (top.share >= 0.85) verdict = `${top.name} is saturated (one Node/Redis process runs on one core)`;
  else if (total >= 0.85 * nproc) verdict = `the ${nproc} cores are saturated by all processes together`;
  else verdict = 'no process saturated: latency/queueing bound';
  return `${text}; total ${total.toFixed(2)} of ${nproc} cores → ${verdict}`;
}

/**
 * Decisions per RPC, where the RPCs were batches: over the batch stream the client's RPCs are its
 * streams (a new one every STREAM_ROTATE_MS), and a "batch" larger than the calls in flight
 * says so; then there is no such figure.
 */
export function rpcBatch(f) {
  const b = med(f, 'meanBatch');
  return b == null || b > f.inflight ? null : b;
}

/**
 * When every decision in flight rides in the same batch (closed loop: the whole batch returns
 * at once and is re-issued at once), client, limiter and Redis work one after another, so the
 * throughput is about 1 / (sum of their CPU per decision).
 */
function lockstep(f, stub) {
  const batch = rpcBatch(f);
  const parts = ['clientCpuUsPerDecision', 'limiterCpuUsPerDecision', 'redisCpuUsPerDecision'].map((k) => med(f, k));
  if (batch == null || parts.some((x) => x == null)) return '';
  const serial = parts.reduce((a, b) => a + b, 0);
  let t = `. Mean batch ${batch.toFixed(1)} decisions per RPC at ${f.inflight} in flight: ${batch >= 0.9 * f.inflight ? 'one batch in flight at a time, so' : 'few batches in flight, so largely'} client, limiter and Redis run one after another — ${serial.toFixed(1)} µs of CPU per decision in series predicts ${n0(1e6 / serial)}/s (measured ${n0(med(f, 'perSecond'))}/s)`;
  if (stub)
    t += `; the transport alone (same client and server kit, constant answers, no Redis) does ${n0(med(stub, 'perSecond'))}/s at p99 ${med(stub, 'p99Ms')?.toFixed(2)} ms, so the limiter's own work per decision (${(med(f, 'limiterCpuUsPerDecision') - med(stub, 'limiterCpuUsPerDecision')).toFixed(1)} µs above the stub: validation, the script call, reply) and the Redis round trip are what bounds it`;
  return t;
}

export function evaluateTargets(figs, nproc) {
  const out = [];
  const ceiling = figs['ceiling.evalsha-p16'];
  const g64 = figs['grpc.coalescing-64'] ?? null;
  const unary = figs['grpc.unary-64'];
  const grpcParts = [
    ['limiter', 'limiterCpuShare', 'limiterCpuUsPerDecision'],
    ['load client', 'clientCpuShare', 'clientCpuUsPerDecision'],
    ['Redis', 'redisCpuShare', 'redisCpuUsPerDecision'],
  ];
  if (ceiling) {
    const c = med(ceiling, 'perSecond');
    const g = g64 ? med(g64, 'perSecond') : null;
    const share = g != null && c ? g / c : null;
    out.push({
      id: 'grpc-share',
      name: 'Limiter through gRPC (coalescing client, 64 in flight) vs the ceiling (EVALSHA -P 16) of the same run',
      target: '≥ 50%',
      measured: share == null ? 'not measured (no coalescing client)' : `${(share * 100).toFixed(1)}% (${n0(g)} of ${n0(c)} decisions/s)`,
      met: share == null ? null : share >= 0.5,
      gap:
        share != null && share < 0.5
          ? `missed by ${((0.5 - share) * 100).toFixed(1)} points: needs ${n0(0.5 * c)}/s, ${((0.5 * c) / g).toFixed(2)}× more`
          : '',
      bound: share != null && share < 0.5 ? `${cpuBound(g64, grpcParts, nproc)}${lockstep(g64, figs['grpc.stub-coalescing-64'])}` : '',
    });
    if (g64) {
      const p99 = med(g64, 'p99Ms');
      out.push({
        id: 'grpc-p99',
        name: 'Limiter through gRPC, p99 at 64 in flight',
        target: '≤ 3 ms',
        measured: `${p99.toFixed(2)} ms${range(g64, 'p99Ms', 2)}`,
        met: p99 <= 3,
        gap: p99 > 3 ? `missed by ${(p99 - 3).toFixed(2)} ms (${(p99 / 3).toFixed(1)}×)` : '',
        bound:
          p99 > 3
            ? `mean latency by Little's law 64 / ${n0(med(g64, 'perSecond'))}/s = ${((64 / med(g64, 'perSecond')) * 1000).toFixed(2)} ms; ${cpuBound(g64, grpcParts, nproc)}`
            : '',
      });
    }
    if (unary) {
      out.push({
        id: 'grpc-unary',
        name: 'Plain unary gRPC Consume, 64 in flight (the naive baseline, for reference)',
        target: 'naive: ~4.4–5k/s, p99 ~30 ms',
        measured: `${n0(med(unary, 'perSecond'))}/s, p99 ${med(unary, 'p99Ms')?.toFixed(1)} ms`,
        met: null,
        gap: '',
        bound: cpuBound(unary, grpcParts, nproc),
      });
    }
  }
  const ours = figs['memory.ours'];
  const zset = figs['memory.zset'];
  const incr = figs['memory.incr'];
  const floorUs = med(figs['memory.floor'], 'usPerDecision');
  const floorIoUs = med(figs['memory.floor-io'], 'usPerDecision');
  if (ours) {
    const b = med(ours, 'memoryUsagePerKey');
    out.push({
      id: 'bytes',
      name: 'Redis bytes per subject, full window (MEMORY USAGE of the key)',
      target: '≤ 150 B (sorted set 437 B, INCR 101 B)',
      measured: `${n0(b)} B; used_memory growth ${n0(med(ours, 'bytesPerSubject'))} B/subject; sorted set here ${n0(med(zset, 'memoryUsagePerKey'))} B, INCR ${n0(med(incr, 'memoryUsagePerKey'))} B`,
      met: b <= 150,
      gap: b > 150 ? `missed by ${n0(b - 150)} B` : '',
      bound: '',
    });
    const us = med(ours, 'usPerDecision');
    out.push({
      id: 'us',
      name: 'Redis CPU per decision (EVALSHA usec_per_call, mixed workload)',
      target: '≤ 6 µs (sorted set ~12 µs, INCR ~1.1 µs)',
      measured:
        `${us.toFixed(2)} µs${range(ours, 'usPerDecision', 2)} = ${((us / med(zset, 'usPerDecision')) * 100).toFixed(0)}% of the sorted set's ${med(zset, 'usPerDecision')?.toFixed(2)} µs here; ` +
        `full windows ${med(ours, 'usPerDecisionFull')?.toFixed(2)} µs (sorted set ${med(zset, 'usPerDecisionFull')?.toFixed(2)}); INCR ${med(incr, 'usPerDecision')?.toFixed(2)} µs`,
      met: us <= 6,
      gap: us > 6 ? `missed by ${(us - 6).toFixed(2)} µs` : '',
      bound:
        us > 6 && floorUs != null
          ? `an EVALSHA that only reads TIME costs ${floorUs.toFixed(2)} µs here (the Lua call floor)${
              floorIoUs != null
                ? `, one that also does the script's GET and SET PXAT (no logic) ${floorIoUs.toFixed(2)} µs: the script's own Lua (decode, scan, pack) adds ${(us - floorIoUs).toFixed(2)} µs`
                : `; the script adds ${(us - floorUs).toFixed(2)} µs`
            }`
          : '',
    });
  }
  const site = figs['site.vente-achat'];
  const bare = figs['site.koa-bare'];
  if (site) {
    const rps = med(site, 'perSecond');
    const p99 = med(site, 'p99Ms');
    const siteParts = [
      ['gateway', 'gatewayCpuShare', 'gatewayCpuUsPerRequest'],
      ['auth', 'authCpuShare', 'authCpuUsPerRequest'],
      ['market', 'marketCpuShare', 'marketCpuUsPerRequest'],
      ['limiter', 'limiterCpuShare', 'limiterCpuUsPerRequest'],
      ['stats', 'statsCpuShare', 'statsCpuUsPerRequest'],
      ['Redis', 'redisCpuShare', 'redisCpuUsPerRequest'],
      ['MariaDB', 'mariadbCpuShare', 'mariadbCpuUsPerRequest'],
      ['autocannon', 'clientCpuShare', 'clientCpuUsPerRequest'],
    ];
    const mono = figs['site.monolith'];
    const monoRps = med(mono, 'perSecond');
    // the microservices do the monolith's work and more: its throughput on the same cores is their ceiling
    const above =
      monoRps != null && monoRps < 2000
        ? `; 2,000 req/s is above what the reference monolith itself does on this machine (${n0(monoRps)} req/s in this run)`
        : '';
    const bound = cpuBound(site, siteParts, nproc, 'request');
    out.push({
      id: 'site-rps',
      name: 'Site: POST /services/vente + /services/achat by logged-in users',
      target: '≥ 2,000 req/s',
      measured: `${n0(rps)} req/s${range(site, 'perSecond')}${med(site, 'admittedShare') < 0.95 ? ` — only ${(med(site, 'admittedShare') * 100).toFixed(0)}% admitted (429s are cheap): too few users for this rate` : ''}`,
      met: rps >= 2000,
      gap: rps < 2000 ? `missed by ${n0(2000 - rps)} req/s (${(2000 / rps).toFixed(2)}× short)` : '',
      bound: rps < 2000 ? bound + above : '',
    });
    const perRequest = sum(site, SITE_KEYS);
    const stores = sum(site, ['redis', 'mariadb']);
    const monoCost = sum(mono, MONO_KEYS);
    out.push({
      id: 'site-cpu',
      name: 'Site: CPU per Vente/Achat across the parts (gateway, services, Redis, MariaDB)',
      target: '≤ 1,000 µs',
      measured: `${n0(perRequest)} µs (${SITE_KEYS.map((k) => `${k} ${n0(med(site, `${k}CpuUsPerRequest`))}`).join(', ')})`,
      met: perRequest <= 1000,
      gap: perRequest > 1000 ? `missed by ${n0(perRequest - 1000)} µs (${(perRequest / 1000).toFixed(2)}×)` : '',
      bound:
        perRequest > 1000
          ? `Redis and MariaDB alone take ${n0(stores)} µs of it, leaving ${n0(1000 - stores)} µs for five Node processes${mono ? `; the reference monolith, one process doing the same job, costs ${n0(monoCost)} µs in this run` : ''}`
          : '',
    });
    out.push({
      id: 'site-p99',
      name: 'Site: Vente/Achat p99',
      target: '≤ 50 ms',
      measured: `${p99.toFixed(1)} ms${range(site, 'p99Ms', 1)}`,
      met: p99 <= 50,
      gap: p99 > 50 ? `missed by ${(p99 - 50).toFixed(1)} ms` : '',
      bound: p99 > 50 ? (rps < 2000 ? 'the same CPU bound as the throughput above: requests queue for the 2 saturated cores' : bound) : '',
    });
    if (bare) {
      const share = rps / med(bare, 'perSecond');
      out.push({
        id: 'site-share',
        name: 'Site: Vente/Achat vs the bare Koa handler of the same run',
        target: '≥ 20%',
        measured: `${(share * 100).toFixed(1)}% (${n0(rps)} of ${n0(med(bare, 'perSecond'))} req/s)`,
        met: share >= 0.2,
        gap: share < 0.2 ? `missed by ${((0.2 - share) * 100).toFixed(1)} points` : '',
        bound:
          share < 0.2
            ? `the bare handler costs ${n0(med(bare, 'gatewayCpuUsPerRequest'))} µs of CPU per request in its process; a Vente/Achat costs ${n0(perRequest)} µs across the parts (above)`
            : '',
      });
    }
  }
  const mono = figs['site.monolith'];
  if (site && mono) {
    const share = med(site, 'perSecond') / med(mono, 'perSecond');
    // on saturated cores throughput goes as 1 / CPU per request: 60 % of the monolith needs the
    // parts to cost at most its CPU per request / 0.6; what the parts other than the gateway cost
    // is the floor no gateway work can go under
    const budget = sum(mono, MONO_KEYS) / 0.6;
    const notGateway = sum(
      site,
      SITE_KEYS.filter((k) => k !== 'gateway'),
    );
    out.push({
      id: 'site-monolith',
      name: 'Site: Vente/Achat through the microservices vs the reference monolith of the same run (bench/workers/monolith.mjs)',
      target: '≥ 60%',
      // 429s are cheap: a side that used up the users' quotas is not comparable; nor is a side
      // whose answers are not the expected ones (a 400 for every request costs nothing either)
      measured: `${Math.min(med(site, 'admittedShare') ?? 1, med(mono, 'admittedShare') ?? 1) < 0.95 ? `NOT COMPARABLE (under 95% admitted: monolith ${((med(mono, 'admittedShare') ?? 1) * 100).toFixed(0)}%, add users) — ` : ''}${Math.min(med(site, 'okShare') ?? 1, med(mono, 'okShare') ?? 1) < 0.95 ? `NOT COMPARABLE (expected status: site ${((med(site, 'okShare') ?? 1) * 100).toFixed(0)}%, monolith ${((med(mono, 'okShare') ?? 1) * 100).toFixed(0)}%) — ` : ''}${(share * 100).toFixed(1)}% (${n0(med(site, 'perSecond'))} of ${n0(med(mono, 'perSecond'))} req/s; p99 ${med(site, 'p99Ms')?.toFixed(1)} vs ${med(mono, 'p99Ms')?.toFixed(1)} ms)${bare ? `; the monolith is ${((med(mono, 'perSecond') / med(bare, 'perSecond')) * 100).toFixed(1)}% of bare Koa` : ''}`,
      met: share >= 0.6,
      gap: share < 0.6 ? `missed by ${((0.6 - share) * 100).toFixed(1)} points` : '',
      bound: `CPU per request: microservices ${n0(sum(site, SITE_KEYS))} µs (${SITE_KEYS.map((k) => `${k} ${n0(med(site, `${k}CpuUsPerRequest`))}`).join(', ')}); monolith ${n0(sum(mono, MONO_KEYS))} µs (its process ${n0(med(mono, 'gatewayCpuUsPerRequest'))}, Redis ${n0(med(mono, 'redisCpuUsPerRequest'))}, MariaDB ${n0(med(mono, 'mariadbCpuUsPerRequest'))}). 60% needs at most ${n0(budget)} µs across the parts; the services, Redis and MariaDB without the gateway already cost ${n0(notGateway)} µs${notGateway >= budget ? ', over that budget even with a gateway that cost nothing' : `, leaving the gateway ${n0(budget - notGateway)} µs (it used ${n0(med(site, 'gatewayCpuUsPerRequest'))}; the whole monolith process ${n0(med(mono, 'gatewayCpuUsPerRequest'))})`}`,
    });
  }
  // a stream is one RPC for all its batches: decisions per RPC then says nothing of the batches
  const batchOf = (f) => (rpcBatch(f) == null ? 'n/a (stream)' : rpcBatch(f).toFixed(1));
  for (const inflight of [64, 256]) {
    const a = figs[`grpc.coalescing-${inflight}`];
    const gb = figs[`grpc.coalescing-${inflight}-b`];
    if (!a || !gb) continue;
    const c = med(figs['ceiling.evalsha-p16'], 'perSecond');
    const share = (f) => (c ? ` = ${((med(f, 'perSecond') / c) * 100).toFixed(1)}% of the ceiling` : '');
    const cpu = ['clientCpuUsPerDecision', 'limiterCpuUsPerDecision', 'redisCpuUsPerDecision']
      .map((k) => `${k.replace('CpuUsPerDecision', '')} ${med(a, k)?.toFixed(1)} → ${med(gb, k)?.toFixed(1)} µs`)
      .join(', ');
    out.push({
      id: `grpc-ab-${inflight}`,
      name: `A/B, limiter through gRPC at ${inflight} in flight: ${gb.label.replace(/:.*/, '')} vs the code as committed (round-robin, same run)`,
      target: 'experiment',
      measured: `${n0(med(a, 'perSecond'))}${share(a)} → ${n0(med(gb, 'perSecond'))}${share(gb)} decisions/s (${((med(gb, 'perSecond') / med(a, 'perSecond') - 1) * 100).toFixed(0)}%), p99 ${med(a, 'p99Ms')?.toFixed(2)} → ${med(gb, 'p99Ms')?.toFixed(2)} ms, mean batch ${batchOf(a)} → ${batchOf(gb)}; CPU per decision ${cpu}`,
      met: null,
      gap: '',
      bound: '',
    });
  }
  const b = figs['site.vente-achat-b'];
  if (site && b) {
    const parts = ['gateway', 'market', 'mariadb', 'limiter', 'stats'];
    const cpu = parts.map((k) => `${k} ${n0(med(site, `${k}CpuUsPerRequest`))} → ${n0(med(b, `${k}CpuUsPerRequest`))} µs`).join(', ');
    out.push({
      id: 'site-ab',
      name: `A/B: ${b.label.replace(/:.*/, '')} vs the code as committed (round-robin, same run)`,
      target: 'experiment',
      measured: `${Math.min(med(site, 'admittedShare') ?? 1, med(b, 'admittedShare') ?? 1) < 0.95 ? 'NOT COMPARABLE (under 95% admitted: add users) — ' : ''}${n0(med(site, 'perSecond'))} → ${n0(med(b, 'perSecond'))} req/s (${((med(b, 'perSecond') / med(site, 'perSecond') - 1) * 100).toFixed(0)}%), p99 ${med(site, 'p99Ms')?.toFixed(1)} → ${med(b, 'p99Ms')?.toFixed(1)} ms; CPU per request ${cpu}`,
      met: null,
      gap: '',
      bound: '',
    });
  }
  return out;
}

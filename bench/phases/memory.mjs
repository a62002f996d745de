// Phase 5 — memory and Redis cost per decision.
// (a) Redis bytes per active subject, full window (limit events in the window): our packed
//     string vs the sorted-set reference (bench/reference/sorted-set.mjs) vs a fixed-window
//     INCR counter; both as the growth of used_memory per subject and as MEMORY USAGE of a key.
// (b) Redis CPU per decision (INFO commandstats usec_per_call of EVALSHA, which includes the
//     script's own commands), redis-benchmark -P 16 on two workloads: "mixed" (100,000
//     subjects whose windows hold a few events, mostly admitted) and "full" (every window full:
//     denials). A script that only reads TIME gives the floor of any EVALSHA here.
// (c) Redis bytes per active user for the statistics: the stats service (its dist/main.js on
//     the bench's Redis db 1) records, per user, a registration, 1 login and 10 service calls
//     over gRPC; used_memory growth per user, with and without the 5 min event-dedup keys.
// (d) growth of each store under traffic (issue 21): the whole site on three Redis instances of
//     its own (limiter, statistics, sessions, as deploy/compose.yaml runs them), fed by
//     bench/workers/memory-traffic.mjs: hostile traffic for a fixed time — anonymous page views
//     and failed form posts, then one user's refused calls at full speed — must leave every store
//     flat (a small constant); legitimate traffic — N students through a compressed day, time
//     running 60× faster (quota windows 10 s, session idle timeout 30 s, dedup 5 s) — must
//     plateau. Also bytes per session (sessions Redis) and per listing and per user (MariaDB).
//     BENCH_VARIANTS=traffic runs only this part.
import { join } from 'node:path';
import { limiterScript, SERVICE_POLICY, common, mainOf, proto } from '../lib/project.mjs';
import { SORTED_SET_LUA } from '../reference/sorted-set.mjs';
import { commandStats, info, parseBenchmarkCsv, startPrivateRedis } from '../lib/redis.mjs';
import { rounds, summarizeRuns } from '../lib/phase.mjs';
import { startGrpcPart, startHttpPart } from '../lib/parts.mjs';
import { BENCH_DIR, runWorker, sleep, spawnTracked } from '../lib/util.mjs';
import { benchDatabase } from './site.mjs';

const subjectName = (i) => String(i).padStart(12, '0'); // what redis-benchmark's __rand_int__ gives

async function usedMemory(r) {
  return (await info(r, 'memory')).used_memory;
}

async function benchmark(port, n, range, args) {
  const child = spawnTracked(
    'redis-benchmark',
    ['-h', '127.0.0.1', '-p', String(port), '-c', '64', '-n', String(n), '-r', String(range), '-P', '16', '--csv', ...args],
    { keepStdout: true },
  );
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`redis-benchmark exited ${code}: ${child.tail}`);
  return parseBenchmarkCsv(text);
}

/** Fills `n` subjects with a full window (limit admitted events each), pipelined. */
async function fill(r, kind, sha, sw, n) {
  const { limit, windowMs } = SERVICE_POLICY;
  for (let base = 0; base < n; base += 500) {
    const p = r.pipeline();
    for (let i = base; i < Math.min(n, base + 500); i++) {
      if (kind === 'incr') {
        const key = `fw:{service:${subjectName(i)}}`;
        for (let e = 0; e < limit; e++) p.incr(key);
        p.pexpire(key, windowMs);
      } else {
        const key = sw.keyFor(SERVICE_POLICY.name, subjectName(i));
        for (let e = 0; e < limit; e++) p.evalsha(sha, 1, key, ...sw.argv(SERVICE_POLICY));
      }
    }
    const res = await p.exec();
    const bad = res.find(([e]) => e);
    if (bad) throw bad[0];
  }
}

async function keyUsage(r, pattern, n) {
  let total = 0;
  let count = 0;
  for (let i = 0; i < Math.min(n, 200); i++) {
    const key = pattern(subjectName(i));
    const u = await r.memory('USAGE', key, 'SAMPLES', '0');
    if (u != null) {
      total += u;
      count++;
    }
  }
  return count ? total / count : null;
}

export default {
  id: 'memory',
  title: 'Phase 5 — memory per subject and per user, Redis CPU per decision',
  async run(ctx) {
    const { redis } = ctx;
    const r = redis.ctl;
    const sw = limiterScript();
    const ours = await r.script('LOAD', sw.lua);
    const zset = await r.script('LOAD', SORTED_SET_LUA);
    // the floor of any script call here: EVALSHA of a script that only reads the clock
    const floor = await r.script('LOAD', "local t = redis.call('TIME') return {1, 0, 0, 0, t[1]}");
    // ... and of the script's Redis calls without its logic: TIME, GET, SET PXAT of a 24-byte value
    const floorIo = await r.script(
      'LOAD',
      "local t = redis.call('TIME') local v = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], string.rep('x', 24), 'PXAT', t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[2])) return {1, 0, 0, 0, t[1]}",
    );
    const argv = sw.argv(SERVICE_POLICY).map(String);
    const traffic = () => trafficMemory(ctx).catch((e) => (e.skip ? ctx.note(`traffic not measured: ${e.message}`) : Promise.reject(e)));
    if (ctx.variantsFilter?.test('traffic')) return { figures: (await traffic()) ?? [] };
    const N = ctx.quick ? 2000 : 10_000;
    const nBench = ctx.quick ? 60_000 : 150_000;
    const kinds = [
      { id: 'ours', label: 'our packed string (exact sliding window)', sha: ours, key: (s) => sw.keyFor(SERVICE_POLICY.name, s) },
      { id: 'zset', label: 'sorted-set log (naive reference)', sha: zset, key: (s) => sw.keyFor(SERVICE_POLICY.name, s) },
      { id: 'incr', label: 'fixed-window INCR (reference)', key: (s) => `fw:{service:${s}}` },
      {
        id: 'floor',
        label: 'EVALSHA floor: a script that only calls TIME (no key read or written)',
        sha: floor,
        key: (s) => sw.keyFor(SERVICE_POLICY.name, s),
        noMemory: true,
      },
      {
        id: 'floor-io',
        label: 'EVALSHA floor with our Redis calls: TIME, GET, SET PXAT (no logic)',
        sha: floorIo,
        key: (s) => sw.keyFor(SERVICE_POLICY.name, s),
        noMemory: true,
      },
    ];
    const cmdArgs = (k) => (k.sha ? ['EVALSHA', k.sha, '1', k.key('__rand_int__'), ...argv] : ['INCR', k.key('__rand_int__')]);
    const cmdName = (k) => (k.sha ? 'evalsha' : 'incr');

    const res = await rounds(ctx, kinds, async (k) => {
      // (a) memory of N full windows, then (b, full) denials on those full windows
      await r.flushall();
      const out = {};
      if (!k.noMemory) {
        const m0 = await usedMemory(r);
        await fill(r, k.id, k.sha, sw, N);
        const m1 = await usedMemory(r);
        out.bytesPerSubject = (m1 - m0) / N;
        out.memoryUsagePerKey = await keyUsage(r, k.key, N);
      }
      if (k.sha && !k.noMemory) {
        await r.config('RESETSTAT');
        const b = await benchmark(redis.port, nBench, N, cmdArgs(k));
        out.usPerDecisionFull = (await commandStats(r))[cmdName(k)]?.usec_per_call ?? null;
        out.perSecondFull = b.rps;
      }
      // (b, mixed) 100,000 subjects with partly filled windows, mostly admitted: a first pass
      // (not measured) creates the keys and sizes Redis's dictionaries, the second is measured
      await r.flushall();
      await benchmark(redis.port, nBench, 100_000, cmdArgs(k));
      await r.config('RESETSTAT');
      const b = await benchmark(redis.port, nBench, 100_000, cmdArgs(k));
      out.usPerDecision = (await commandStats(r))[cmdName(k)]?.usec_per_call ?? null;
      out.perSecond = b.rps;
      return out;
    });
    const figures = kinds.map((k) => ({ id: `memory.${k.id}`, label: k.label, unit: 'bytes/subject', ...summarizeRuns(res[k.id]) }));

    // (c) statistics per active user
    try {
      figures.push(await statsMemory(ctx));
    } catch (e) {
      ctx.note(`stats memory not measured: ${e.message}`);
    }
    // (d) each store under hostile and legitimate traffic
    figures.push(...((await traffic()) ?? []));
    return { figures };
  },
};

async function statsMemory(ctx) {
  const { redis } = ctx;
  const users = ctx.quick ? 300 : 500;
  const stats = await startGrpcPart(ctx, 'stats', { STATS_REDIS_URL: redis.url(1) });
  const { createServiceClient } = common();
  const { stats: s } = proto();
  const c = createServiceClient(s.StatsServiceClient, stats.addr, { token: ctx.token, timeoutMs: 5000 });
  const db1 = redis.connect(1);
  try {
    const runs = [];
    for (let run = 0; run < ctx.runs; run++) {
      await db1.flushdb();
      const m0 = await usedMemory(db1);
      const tasks = [];
      for (let u = 0; u < users; u++) {
        const userId = `${100000 + u}`;
        tasks.push(async () => {
          await c.call.registerUser({ userId });
          await c.call.recordLogin({ eventId: `r${run}-l-${userId}`, userId });
          for (let i = 0; i < 10; i++) {
            await c.call.recordServiceCall({
              eventId: `r${run}-c-${userId}-${i}`,
              userId,
              service: i % 2 ? s.ServiceKind.SERVICE_KIND_ACHAT : s.ServiceKind.SERVICE_KIND_VENTE,
              outcome: s.Outcome.OUTCOME_ALLOWED,
            });
          }
        });
      }
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < tasks.length) await tasks[next++]();
        }),
      );
      const m1 = await usedMemory(db1);
      // the dedup keys (stats:event:*, 5 min TTL) are per event, not per user: measure without them
      let cursor = '0';
      let events = 0;
      do {
        const [cur, keys] = await db1.scan(cursor, 'MATCH', 'stats:event:*', 'COUNT', 1000);
        cursor = cur;
        if (keys.length) {
          events += keys.length;
          await db1.unlink(...keys);
        }
      } while (cursor !== '0');
      const m2 = await usedMemory(db1);
      runs.push({
        bytesPerUser: (m2 - m0) / users,
        bytesPerUserWithEventKeys: (m1 - m0) / users,
        bytesPerEventKey: events ? (m1 - m2) / events : null,
        keys: await db1.dbsize(),
      });
      ctx.progress(
        `stats run ${run + 1}/${ctx.runs}: ${Math.round(runs.at(-1).bytesPerUser)} B/user (+${Math.round(runs.at(-1).bytesPerUserWithEventKeys - runs.at(-1).bytesPerUser)} B of dedup keys)`,
      );
    }
    return {
      id: 'memory.stats',
      label: `statistics per active user (1 login + 10 calls; ${users} users)`,
      unit: 'bytes/user',
      ...summarizeRuns(runs),
    };
  } finally {
    c.close();
    db1.disconnect();
    await stats.stop();
  }
}

const ROLES = ['limiter', 'stats', 'sessions'];
const DB = { limiter: 0, stats: 1, sessions: 2 };

/** Keys and used_memory of each store (each its own redis-server). */
async function storeSizes(stores) {
  const out = {};
  for (const role of ROLES) {
    const r = stores[role].ctl;
    await r.select(DB[role]);
    out[role] = { keys: await r.dbsize(), bytes: await usedMemory(r) };
  }
  return out;
}

const growth = (a, b) =>
  Object.fromEntries(
    ROLES.flatMap((role) => [
      [`${role}Keys`, b[role].keys - a[role].keys],
      [`${role}Bytes`, b[role].bytes - a[role].bytes],
    ]),
  );

async function trafficMemory(ctx) {
  const stores = {};
  const parts = {};
  try {
    for (const role of ROLES) stores[role] = await startPrivateRedis();
    const db = await benchDatabase(process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
    // Time 60× faster for the legitimate day: windows of 10 s instead of 10 min, sessions idle
    // for 30 s instead of 30 min, dedup keys kept 5 s instead of 5 min.
    [parts.auth, parts.market, parts.limiter, parts.stats] = await Promise.all([
      startGrpcPart(ctx, 'auth', { DATABASE_URL: db.url }, [], null, 'auth-memory'),
      startGrpcPart(ctx, 'market', { DATABASE_URL: db.url }, [], null, 'market-memory'),
      startGrpcPart(
        ctx,
        'limiter',
        {
          LIMITER_REDIS_URL: stores.limiter.url(0),
          LIMIT_POLICIES:
            'login=10/10s,service=10/10s,login-failure=10/10s,login-failure-ip=50/10s,login-failure-account=20/10s,login-failure-device=10/10s,signup-ip=60/10s',
        },
        [],
        null,
        'limiter-memory',
      ),
      startGrpcPart(ctx, 'stats', { STATS_REDIS_URL: stores.stats.url(1), STATS_DEDUP_TTL_MS: '5000' }, [], null, 'stats-memory'),
    ]);
    parts.gateway = await startHttpPart(ctx, 'gateway-memory', mainOf('gateway'), {
      AUTH_ADDR: parts.auth.addr,
      MARKET_ADDR: parts.market.addr,
      LIMITER_ADDR: parts.limiter.addr,
      STATS_ADDR: parts.stats.addr,
      SESSION_REDIS_URL: stores.sessions.url(2),
      SESSION_IDLE_MS: '30000',
      SESSION_ABSOLUTE_MS: '720000',
      // argon2id logins on a shared 2-core machine: what is measured here is memory, not time
      GRPC_TIMEOUT_MS: '15000',
    });
    const nUsers = Number(process.env.BENCH_MEMORY_USERS ?? (ctx.quick ? 60 : 200));
    const usersFile = join(BENCH_DIR, 'tmp', 'memory-users.json');
    await runWorker(
      'site-setup.mjs',
      {
        authAddr: parts.auth.addr,
        url: parts.gateway.url,
        token: ctx.token,
        users: nUsers,
        existing: db.existing,
        password: 'banc-essai-2026!',
        out: usersFile,
        loginConcurrency: 4,
      },
      { timeoutMs: 240_000 },
    );
    const { readFileSync } = await import('node:fs');
    const users = JSON.parse(readFileSync(usersFile, 'utf8'));
    // Bytes per logged-in session, from the set-up's logins, then every store starts empty.
    const sessions = stores.sessions.ctl;
    await sessions.select(2);
    const sessionKeys = (await sessions.keys('sess:*')).slice(0, 100);
    let sessionBytes = 0;
    for (const k of sessionKeys) sessionBytes += Number(await sessions.memory('USAGE', k, 'SAMPLES', '0'));
    for (const role of ROLES) await stores[role].ctl.flushall();
    const seconds = Number(process.env.BENCH_MEMORY_SECONDS ?? (ctx.quick ? 5 : 15));
    const figures = [];

    const hostile = async (id, label, cfg) => {
      let before;
      let atStart;
      const res = await runWorker(
        'memory-traffic.mjs',
        { url: parts.gateway.url, seconds, ...cfg },
        { onEvent: (e) => e === 'start' && (atStart = storeSizes(stores)), timeoutMs: 60_000 + seconds * 1000 },
      );
      before = await atStart;
      const after = await storeSizes(stores);
      const fig = {
        id: `memory.traffic.${id}`,
        label,
        unit: 'requests/s',
        ...summarizeRuns([{ requests: res.requests, perSecond: res.requests / seconds, ...growth(before, after) }]),
        statusCodes: res.statuses,
      };
      ctx.progress(
        `${id}: ${res.requests} requests in ${seconds} s (${JSON.stringify(res.statuses)}); growth ${JSON.stringify(growth(before, after))}`,
      );
      figures.push(fig);
    };
    await hostile('anonymous', `hostile: anonymous page views and failed form posts, ${seconds} s at full speed`, {
      mode: 'anonymous',
      concurrency: 8,
    });
    await hostile('refused', `hostile: one student's refused Achat calls, ${seconds} s at full speed`, {
      mode: 'refused',
      concurrency: 8,
      user: users[0],
    });

    // The legitimate day: sizes every 5 s; the second half must add (almost) nothing.
    for (const role of ROLES) await stores[role].ctl.flushall();
    const daySeconds = Number(process.env.BENCH_MEMORY_DAY_SECONDS ?? (ctx.quick ? 20 : 50));
    const series = [];
    let dayDone = false;
    const sampler = (async () => {
      await sleep(100);
      while (!dayDone) {
        series.push({ t: series.length * 5, ...(await storeSizes(stores)) });
        await sleep(5000);
      }
    })();
    const day = await runWorker(
      'memory-traffic.mjs',
      { url: parts.gateway.url, mode: 'day', seconds: daySeconds, users: users.slice(0, nUsers), thinkMs: 2000 },
      { timeoutMs: 120_000 + daySeconds * 1000 },
    );
    dayDone = true;
    await sampler;
    const end = await storeSizes(stores);
    const mid = series[Math.floor(series.length / 2)] ?? end;
    ctx.progress(
      `day: ${day.requests} requests, ${day.sales} sales, ${day.logouts} logouts, ${day.failedLogins} logins refused (busy); keys every 5 s: ${series.map((x) => ROLES.map((r) => x[r].keys).join('/')).join(' ')} (limiter/stats/sessions)`,
    );
    // MariaDB: bytes per listing and per user (InnoDB data + indexes over rows, after ANALYZE)
    const dbBytes = await mariadbBytes(db.url);
    figures.push({
      id: 'memory.traffic.day',
      label: `legitimate: ${nUsers} students through a compressed day (${daySeconds} s ≙ ${daySeconds} min)`,
      unit: 'keys',
      ...summarizeRuns([
        {
          requests: day.requests,
          perSecond: day.requests / daySeconds,
          ...Object.fromEntries(ROLES.map((r) => [`${r}KeysEnd`, end[r].keys])),
          ...Object.fromEntries(ROLES.map((r) => [`${r}KeysLateGrowth`, end[r].keys - mid[r].keys])),
          bytesPerSession: sessionKeys.length ? sessionBytes / sessionKeys.length : null,
          bytesPerListing: dbBytes.listing,
          bytesPerUserRow: dbBytes.user,
        },
      ]),
      series: series.map((x) => ({ t: x.t, ...Object.fromEntries(ROLES.map((r) => [r, x[r]])) })),
      statusCodes: day.statuses,
    });
    return figures;
  } finally {
    await Promise.all(Object.values(parts).map((p) => p.stop()));
    for (const s of Object.values(stores)) await s.stop();
  }
}

async function mariadbBytes(url) {
  const { require } = await import('../lib/project.mjs');
  const mariadb = require('mariadb');
  const u = new URL(url);
  const conn = await mariadb.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
  });
  try {
    const out = {};
    for (const [k, table] of [
      ['listing', 'articles'],
      ['user', 'utilisateurs'],
    ]) {
      await conn.query(`ANALYZE TABLE \`${table}\``);
      const [row] = await conn.query(
        'SELECT data_length + index_length AS bytes, table_rows AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
        [table],
      );
      const [{ c }] = await conn.query(`SELECT COUNT(*) AS c FROM \`${table}\``);
      out[k] = Number(c) > 0 ? Number(row.bytes) / Number(c) : null;
    }
    return out;
  } finally {
    await conn.end();
  }
}

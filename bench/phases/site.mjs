// Phase 4 — the site, with autocannon from a load process of its own:
// (a) a bare Koa handler (bench/workers/koa-bare.mjs), started like the gateway, as the floor;
// (b) POST /services/vente and /services/achat by thousands of logged-in users (each with its
//     session cookie and CSRF token, round robin), through session lookup, limiter, market and
//     stats — the full gateway and every service, each its built dist/main.js;
// (c) login throughput: GET /login then POST /login (argon2id verification, login quota,
//     session rotation, stats).
// The parts use the bench's Redis (limiter db 0, stats db 1, sessions db 2) and a database of
// the bench's own, etu_bench (its users kept between runs, its articles emptied at each run). The limiter's db 0 is
// emptied before each measured run so that the users' quotas start full (most calls admitted).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { rounds, summarizeRuns } from '../lib/phase.mjs';
import { startGrpcPart, startHttpPart } from '../lib/parts.mjs';
import { mainOf, PARTS, require } from '../lib/project.mjs';
import { BENCH_DIR, ROOT, cpuOfPid, runWorker } from '../lib/util.mjs';

const DB_NAME = process.env.BENCH_DB_NAME ?? 'etu_bench';
const skip = (m) => Object.assign(new Error(m), { skip: true });

function mariadbPid() {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^(?:mariadbd|mysqld)$/.test(readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      /* gone */
    }
  }
  return null;
}

/**
 * The bench's database: etu_bench, migrated. Its `utilisateurs` are kept from one run to the
 * next (registering 2,000 argon2id accounts takes ~40 s), its `articles` emptied, so every run
 * starts from the same state. When migrating fails (say an applied migration was edited), it is
 * dropped and created afresh.
 */
export async function benchDatabase(serverUrl) {
  const u = new URL(serverUrl);
  const mariadb = require('mariadb');
  let conn;
  try {
    conn = await mariadb.createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username || 'root'),
      password: decodeURIComponent(u.password),
      connectTimeout: 3000,
    });
  } catch (e) {
    throw skip(`MariaDB/MySQL does not answer at ${u.host}: ${e.message}`);
  }
  const url = `${serverUrl.replace(/(?<!\/)\/+$/, '')}/${DB_NAME}`;
  const migrate = () =>
    execFileSync(process.execPath, [join(ROOT, 'prisma/dist/cli.js'), 'migrate'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  let fresh = false;
  try {
    migrate();
  } catch {
    await conn.query(`DROP DATABASE IF EXISTS \`${DB_NAME}\``);
    migrate();
    fresh = true;
  }
  await conn.query(`DELETE FROM \`${DB_NAME}\`.articles`);
  const rows = await conn.query(`SELECT email FROM \`${DB_NAME}\`.utilisateurs WHERE email LIKE 'bench-%@bench.etuservices.example'`);
  await conn.end();
  const existing = rows.map((r) => Number(/^bench-(\d+)@/.exec(r.email)?.[1])).filter(Number.isInteger);
  return { url, fresh, existing };
}

export default {
  id: 'site',
  title: 'Phase 4 — the site: bare Koa, Vente/Achat by logged-in users, login (autocannon)',
  async run(ctx) {
    const { redis } = ctx;
    let createApp;
    try {
      ({ createApp } = require(join(ROOT, 'gateway/dist/app.js')));
      for (const p of PARTS) mainOf(p.name);
    } catch (e) {
      throw skip(`the gateway or a service is not built: ${e.message}`);
    }
    if (typeof createApp !== 'function') throw skip('gateway/dist/app.js does not export createApp');

    const db = await benchDatabase(process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
    const dbUrl = db.url;
    ctx.progress(
      `database ${DB_NAME} ${db.fresh ? 'created' : 'reused'} and migrated: ${db.existing.length} bench users kept, articles emptied`,
    );
    // the sale mails of the last run (bench/lib/parts.mjs: MAIL_OUTBOX_DIR) are not kept
    rmSync(join(BENCH_DIR, 'tmp', 'outbox'), { recursive: true, force: true });
    const prof = (name) =>
      ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
    const parts = {};
    try {
      [parts.auth, parts.market, parts.limiter, parts.stats] = await Promise.all([
        startGrpcPart(ctx, 'auth', { DATABASE_URL: dbUrl }, prof('auth')),
        startGrpcPart(ctx, 'market', { DATABASE_URL: dbUrl }, prof('market')),
        startGrpcPart(ctx, 'limiter', { LIMITER_REDIS_URL: redis.url(0) }, prof('limiter')),
        startGrpcPart(ctx, 'stats', { STATS_REDIS_URL: redis.url(1) }, prof('stats')),
      ]);
      parts.gateway = await startHttpPart(
        ctx,
        'gateway',
        mainOf('gateway'),
        {
          AUTH_ADDR: parts.auth.addr,
          MARKET_ADDR: parts.market.addr,
          LIMITER_ADDR: parts.limiter.addr,
          STATS_ADDR: parts.stats.addr,
          SESSION_REDIS_URL: redis.url(2),
        },
        prof('gateway'),
      );
      // BENCH_AB=<patches>: a second market + gateway with those patches (bench/experiments/
      // patches.cjs), measured round-robin with the first, so both see the same machine
      // (items of the form NAME=value are environment variables of B's processes instead)
      const ab = process.env.BENCH_AB;
      if (ab) {
        const items = ab
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        const envB = Object.fromEntries(
          items.filter((x) => x.includes('=')).map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]),
        );
        const patchesB = items.filter((x) => !x.includes('=')).join(',');
        if (patchesB) envB.BENCH_PATCHES = patchesB;
        parts.marketB = await startGrpcPart(ctx, 'market', { DATABASE_URL: dbUrl, ...envB }, prof('market-b'), null, 'market-b');
        parts.gatewayB = await startHttpPart(
          ctx,
          'gateway-b',
          mainOf('gateway'),
          {
            AUTH_ADDR: parts.auth.addr,
            MARKET_ADDR: parts.marketB.addr,
            LIMITER_ADDR: parts.limiter.addr,
            STATS_ADDR: parts.stats.addr,
            SESSION_REDIS_URL: redis.url(2),
            ...envB,
          },
          prof('gateway-b'),
        );
      }
      parts.koa = await startHttpPart(ctx, 'koa-bare', join(BENCH_DIR, 'workers/koa-bare.mjs'), {});
      // the reference monolith (issue 16): one Koa process, same semantics, same stores
      parts.monolith = await startHttpPart(
        ctx,
        'monolith',
        join(BENCH_DIR, 'workers/monolith.mjs'),
        {
          DATABASE_URL: dbUrl,
          SESSION_REDIS_URL: redis.url(2),
          LIMITER_REDIS_URL: redis.url(0),
          STATS_REDIS_URL: redis.url(1),
        },
        prof('monolith'),
      );
      ctx.progress(`gateway ${parts.gateway.url}, bare Koa ${parts.koa.url}, monolith ${parts.monolith.url}, auth/market/limiter/stats up`);

      const nUsers = Number(process.env.BENCH_SITE_USERS ?? (ctx.quick ? 300 : 2000));
      const usersFile = join(BENCH_DIR, 'tmp', 'site-users.json');
      const setup = await runWorker(
        'site-setup.mjs',
        {
          authAddr: parts.auth.addr,
          url: parts.gateway.url,
          token: ctx.token,
          users: nUsers,
          existing: db.existing,
          password: 'banc-essai-2026!',
          out: usersFile,
        },
        { timeoutMs: 240_000 },
      );
      ctx.note(
        `set-up (not measured): ${setup.users} users — ${setup.registered} registered through auth in ${setup.registerSeconds.toFixed(1)} s${setup.registered ? ` (${setup.registerPerSecond.toFixed(0)}/s, argon2id)` : ''}, the others kept from an earlier run — logged in through the gateway in ${setup.loginSeconds.toFixed(1)} s (${setup.loginPerSecond.toFixed(0)}/s)`,
      );

      const CONNS = Number(process.env.BENCH_SITE_CONNECTIONS ?? 32);
      const variants = [
        {
          id: 'koa-bare',
          label: 'bare Koa handler (baseline), form POST',
          mode: 'bare',
          url: parts.koa.url,
          connections: CONNS,
          server: 'koa',
        },
        {
          id: 'vente-achat',
          label: `POST /services/vente + /services/achat, ${nUsers} logged-in users`,
          mode: 'vente-achat',
          url: parts.gateway.url,
          connections: CONNS,
          server: 'gateway',
        },
        {
          id: 'monolith',
          label: 'reference monolith (bench/workers/monolith.mjs): the same Vente/Achat in one Koa process',
          mode: 'vente-achat',
          url: parts.monolith.url,
          connections: CONNS,
          server: 'monolith',
        },
        {
          id: 'login',
          label: 'login: GET /login + POST /login (argon2id)',
          mode: 'login',
          url: parts.gateway.url,
          connections: 16,
          server: 'gateway',
        },
      ];
      if (ab) {
        variants.splice(2, 0, {
          id: 'vente-achat-b',
          label: `B (${ab}): POST /services/vente + /services/achat`,
          mode: 'vente-achat',
          url: parts.gatewayB.url,
          connections: CONNS,
          server: 'gatewayB',
          market: 'marketB',
        });
      }
      if (ctx.variantsFilter) variants.splice(0, variants.length, ...variants.filter((v) => ctx.variantsFilter.test(v.id)));
      const mdb = mariadbPid();
      const watched = (v) => ({
        gateway: parts[v.server].pid,
        ...(v.server === 'monolith' ? { mariadb: mdb } : {}),
        ...(v.server !== 'koa' && v.server !== 'monolith'
          ? {
              auth: parts.auth.pid,
              market: parts[v.market ?? 'market'].pid,
              limiter: parts.limiter.pid,
              stats: parts.stats.pid,
              mariadb: mdb,
            }
          : {}),
        redis: redis.pid,
      });
      // one unmeasured pass first: the first run after the set-up was up to 3× slower than the
      // next ones (JIT of five processes, connection pools, InnoDB); login is warm from the set-up
      for (const v of variants.filter((x) => x.mode !== 'login')) {
        await runWorker('http-load.mjs', {
          mode: v.mode,
          url: v.url,
          connections: v.connections,
          warmupMs: 1000,
          durationMs: ctx.quick ? 1000 : 2000,
          usersFile,
        });
      }
      ctx.progress('warm-up pass done');
      const measureStart = Date.now();
      const res = await rounds(ctx, variants, async (v, r) => {
        await redis.ctl.select(0);
        await redis.ctl.flushdb(); // the limiter's db: every quota full again
        const pids = watched(v);
        const c0 = {};
        const d = {};
        const result = await runWorker(
          'http-load.mjs',
          {
            mode: v.mode,
            url: v.url,
            connections: v.connections,
            warmupMs: ctx.warmupMs,
            durationMs: ctx.durationMs,
            usersFile,
            userOffset: r * 997,
          },
          {
            onEvent: (e) => {
              for (const [k, pid] of Object.entries(pids)) {
                if (!pid) continue;
                if (e === 'start') c0[k] = cpuOfPid(pid);
                if (e === 'end') d[k] = cpuOfPid(pid) - c0[k];
              }
            },
          },
        );
        const cpu = {};
        for (const [k, us] of Object.entries(d)) {
          cpu[`${k}CpuShare`] = us / 1e6 / result.seconds;
          cpu[`${k}CpuUsPerRequest`] = result.requests ? us / result.requests : null;
        }
        return { ...result, ...cpu };
      });
      ctx.note(
        `measured runs took ${((Date.now() - measureStart) / 1000).toFixed(0)} s (the phase's wall time also counts starting the parts, the set-up and the warm-up pass)`,
      );
      return {
        figures: variants.map((v) => {
          const statusCodes = {};
          for (const x of res[v.id]) for (const [s, n] of Object.entries(x.statusCodes)) statusCodes[s] = (statusCodes[s] ?? 0) + n;
          return {
            id: `site.${v.id}`,
            label: v.label,
            unit: 'requests/s',
            ...summarizeRuns(res[v.id]),
            inflight: v.connections,
            statusCodes,
          };
        }),
      };
    } finally {
      await Promise.all(Object.values(parts).map((p) => p.stop()));
    }
  },
};

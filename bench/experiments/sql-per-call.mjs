#!/usr/bin/env node
// How many SQL statements and round trips one market call costs, and its CPU in the market process: starts the market and auth
// services on the bench database (etu_bench_sql, dropped and migrated afresh), makes N
// CreateListing then N Purchase calls over gRPC, and reads MariaDB's global status counters
// (Questions, Com_*) before and after. The counters are server-wide: run it on a quiet
// machine (other test suites add their own statements).
//   node bench/experiments/sql-per-call.mjs [N=2000]
//   BENCH_PATCHES=mariadb-binary node bench/experiments/sql-per-call.mjs   (see patches.cjs)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startGrpcPart } from '../lib/parts.mjs';
import { common, proto, require } from '../lib/project.mjs';
import { ROOT, cpuOfPid, killAllChildren } from '../lib/util.mjs';

const N = Number(process.argv[2] ?? 2000);
const server = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const u = new URL(server);
const mariadb = require('mariadb');
const conn = await mariadb.createConnection({
  host: u.hostname,
  port: Number(u.port || 3306),
  user: decodeURIComponent(u.username || 'root'),
  password: decodeURIComponent(u.password),
});
await conn.query('DROP DATABASE IF EXISTS etu_bench_sql');
const dbUrl = `${server}/etu_bench_sql`;
execFileSync(process.execPath, [join(ROOT, 'prisma/dist/cli.js'), 'migrate'], {
  cwd: ROOT,
  env: { ...process.env, DATABASE_URL: dbUrl },
  stdio: 'ignore',
});
const ctx = { token: randomBytes(24).toString('base64url'), sessionKeys: randomBytes(24).toString('base64url') };
process.on('exit', killAllChildren);
const [auth, market] = await Promise.all([
  startGrpcPart(ctx, 'auth', { DATABASE_URL: dbUrl }),
  startGrpcPart(ctx, 'market', { DATABASE_URL: dbUrl }),
]);
const { createServiceClient } = common();
const p = proto();
const a = createServiceClient(p.auth.AuthServiceClient, auth.addr, { token: ctx.token, timeoutMs: 10_000 });
const m = createServiceClient(p.market.MarketServiceClient, market.addr, { token: ctx.token, timeoutMs: 10_000 });
const seller = (await a.call.register({ lastName: 'S', firstName: 'S', email: 'seller@bench.example', password: 'banc-essai-2026!' })).user
  .id;
const buyer = (await a.call.register({ lastName: 'B', firstName: 'B', email: 'buyer@bench.example', password: 'banc-essai-2026!' })).user
  .id;

async function status() {
  const rows = await conn.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_select','Com_insert','Com_update','Com_begin','Com_commit','Com_rollback','Com_set_option','Com_stmt_prepare','Com_stmt_execute','Com_stmt_close','Bytes_received','Bytes_sent')",
  );
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}
const diff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, +((b[k] - a[k]) / N).toFixed(2)]));

// warm-up (connections, compiled queries)
for (let i = 0; i < 50; i++) await m.call.createListing({ sellerId: seller, title: 'w', category: 1, priceCents: 100, description: '' });

// sequential calls: wall time per call and the market process's CPU per call
const timed = async (name, fn) => {
  const s0 = await status();
  const c0 = cpuOfPid(market.pid);
  const t0 = performance.now();
  const out = await fn();
  const ms = (performance.now() - t0) / N;
  const cpu = (cpuOfPid(market.pid) - c0) / N;
  const s1 = await status();
  console.log(`${name}, per call: ${ms.toFixed(3)} ms wall (sequential), market CPU ${cpu.toFixed(0)} µs; MariaDB counters:`, diff(s0, s1));
  return out;
};
const ids = await timed('CreateListing', async () => {
  const ids = [];
  for (let i = 0; i < N; i++)
    ids.push(
      (await m.call.createListing({ sellerId: seller, title: `Livre ${i}`, category: 1, priceCents: 1250, description: 'x' })).listing.id,
    );
  return ids;
});
await timed('Purchase', async () => {
  for (const id of ids) await m.call.purchase({ listingId: id, buyerId: buyer });
});
a.close();
m.close();
await Promise.all([auth.stop(), market.stop()]);
await conn.query('DROP DATABASE IF EXISTS etu_bench_sql');
await conn.end();
process.exit(0);

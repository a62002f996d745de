// 10,000 events sent at once by 4 separate client processes (plain Node + proto-loader), 5% of
// them deliberate duplicates of logins and allowed calls sent by another process than the
// original: every total is exact and exactly one of the two sends of each duplicated event is
// counted. Denied calls (not deduplicated) come as records of 1 to 5 calls, as a gateway sums them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TOKEN } from '@etu/testkit';
import { ACHAT, prng, readUsage, shuffle, useTestStats, VENTE } from './helpers';

const PROCESSES = 4;
const SENDS = 10_000;
const DUPLICATES = SENDS * 0.05;
const ACTIVE_USERS = 40;
const IDLE_USERS = ['41', '42', '43', '44', '45'];

type PlanEvent = { kind: 'login' | 'call'; event_id: string; user_id: string; service?: string; outcome?: string; count?: number };

const env = useTestStats();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stats-load-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runClient(planFile: string): Promise<{ sent: number; duplicates: number; errorCount: number; errors: string[]; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'load-client.js'), env.t.addr, planFile], {
      env: { ...process.env, INTERNAL_TOKEN: TEST_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}: ${err}`))));
  });
}

test('10,000 concurrent events from 4 processes with 5% duplicates give exact totals', async () => {
  const rnd = prng(20261126);
  // Skewed activity so that the rankings have clear heads and long tails.
  const pickUser = () => String(1 + Math.floor(ACTIVE_USERS * rnd() * rnd()));
  const distinct: PlanEvent[] = [];
  for (let i = 0; i < SENDS - DUPLICATES; i++) {
    const user_id = pickUser();
    if (rnd() < 0.25) distinct.push({ kind: 'login', event_id: `L${i}`, user_id });
    else {
      const service = rnd() < 0.55 ? 'SERVICE_KIND_VENTE' : 'SERVICE_KIND_ACHAT';
      if (rnd() < 0.8) distinct.push({ kind: 'call', event_id: `C${i}`, user_id, service, outcome: 'OUTCOME_ALLOWED' });
      else distinct.push({ kind: 'call', event_id: `C${i}`, user_id, service, outcome: 'OUTCOME_DENIED', count: 1 + (i % 5) });
    }
  }
  const lists: PlanEvent[][] = Array.from({ length: PROCESSES }, () => []);
  distinct.forEach((e, i) => lists[i % PROCESSES]!.push(e));
  // Each duplicate is sent by another process than its original, so the two race.
  // Only logins and allowed calls are deduplicated; nobody retries a denial (README).
  const dupIdx = shuffle(
    distinct.flatMap((e, i) => (e.outcome === 'OUTCOME_DENIED' ? [] : [i])),
    rnd,
  ).slice(0, DUPLICATES);
  for (const i of dupIdx) lists[(i + 1 + Math.floor(rnd() * (PROCESSES - 1))) % PROCESSES]!.push(distinct[i]!);
  expect(lists.reduce((n, l) => n + l.length, 0)).toBe(SENDS);

  for (const u of IDLE_USERS) await env.t.call.registerUser({ userId: u });
  const startAt = Date.now() + 1500;
  const files = lists.map((l, p) => {
    const f = join(dir, `plan-${p}.json`);
    writeFileSync(f, JSON.stringify({ startAt, inFlight: 32, events: shuffle(l, rnd) }));
    return f;
  });
  const results = await Promise.all(files.map(runClient));
  expect(results.map((r) => r.errors)).toEqual([[], [], [], []]);
  expect(results.reduce((n, r) => n + r.sent, 0)).toBe(SENDS);
  expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(DUPLICATES);

  // What the distinct events add up to, counted plainly.
  const logins = new Map<string, number>();
  const calls = new Map<string, { va: number; aa: number; vd: number; ad: number }>();
  const tot = { logins: 0, va: 0, aa: 0, vd: 0, ad: 0 };
  for (const e of distinct) {
    if (e.kind === 'login') {
      logins.set(e.user_id, (logins.get(e.user_id) ?? 0) + 1);
      tot.logins++;
      continue;
    }
    const c = calls.get(e.user_id) ?? { va: 0, aa: 0, vd: 0, ad: 0 };
    const k = `${e.service === 'SERVICE_KIND_VENTE' ? 'v' : 'a'}${e.outcome === 'OUTCOME_ALLOWED' ? 'a' : 'd'}` as const;
    c[k] += e.count ?? 1;
    tot[k] += e.count ?? 1;
    calls.set(e.user_id, c);
  }
  const users = [...new Set(distinct.map((e) => e.user_id)), ...IDLE_USERS];
  const byCountDescThenId = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1);
  const byCountAscThenId = (a: [string, number], b: [string, number]) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1);
  const rows = (list: [string, number][]) => list.map(([userId, count]) => ({ userId, count }));
  const allowedOf = (u: string) => (calls.get(u)?.va ?? 0) + (calls.get(u)?.aa ?? 0);
  const deniedOf = (u: string) => (calls.get(u)?.vd ?? 0) + (calls.get(u)?.ad ?? 0);

  const d = await env.t.call.getDashboard({});
  expect(d.totalLogins).toBe(tot.logins);
  expect(d.knownUsers).toBe(users.length);
  expect(d.serviceTotals).toEqual([
    { service: VENTE, count: tot.va },
    { service: ACHAT, count: tot.aa },
  ]);
  expect(d.deniedTotals).toEqual([
    { service: VENTE, count: tot.vd },
    { service: ACHAT, count: tot.ad },
  ]);
  expect(d.mostUsedService).toEqual(tot.va >= tot.aa ? { service: VENTE, count: tot.va } : { service: ACHAT, count: tot.aa });
  expect(d.topConnectors).toEqual(rows([...logins.entries()].sort(byCountDescThenId).slice(0, 3)));
  expect(d.leastServiceUsers).toEqual(
    rows(
      users
        .map((u): [string, number] => [u, allowedOf(u)])
        .sort(byCountAscThenId)
        .slice(0, 10),
    ),
  );
  expect(d.leastServiceUsers.slice(0, 5)).toEqual(IDLE_USERS.map((userId) => ({ userId, count: 0 })));
  expect(d.topDeniedUsers).toEqual(
    rows(
      users
        .map((u): [string, number] => [u, deniedOf(u)])
        .filter(([, n]) => n > 0)
        .sort(byCountDescThenId)
        .slice(0, 10),
    ),
  );
  // Every event was recorded "now": the last hour's series holds them all.
  const sum = (f: (b: (typeof d.lastHour)[number]) => number) => d.lastHour.reduce((s, b) => s + f(b), 0);
  expect([sum((b) => b.venteAllowed), sum((b) => b.achatAllowed), sum((b) => b.venteDenied), sum((b) => b.achatDenied)]).toEqual([
    tot.va,
    tot.aa,
    tot.vd,
    tot.ad,
  ]);
  // The last logins: 10 distinct users who logged in, newest first, each at its own last login.
  expect(d.lastLogins).toHaveLength(10);
  expect(new Set(d.lastLogins.map((l) => l.userId)).size).toBe(10);
  const times = d.lastLogins.map((l) => l.at!.getTime());
  expect([...times].sort((a, b) => b - a)).toEqual(times);

  const usage = await Promise.all(users.map((userId) => readUsage(env.redis, userId)));
  expect(usage).toEqual(
    users.map((u) => ({
      userId: u,
      logins: logins.get(u) ?? 0,
      ...(logins.has(u) ? { lastLoginAt: expect.any(Date) } : {}),
      allowed: [
        { service: VENTE, count: calls.get(u)?.va ?? 0 },
        { service: ACHAT, count: calls.get(u)?.aa ?? 0 },
      ],
      denied: [
        { service: VENTE, count: calls.get(u)?.vd ?? 0 },
        { service: ACHAT, count: calls.get(u)?.ad ?? 0 },
      ],
    })),
  );
  for (const l of d.lastLogins) expect(usage.find((u) => u.userId === l.userId)?.lastLoginAt).toEqual(l.at);
}, 120_000);

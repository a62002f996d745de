// Restarting a service under load loses no request (issue 14): every part runs as its own
// process (e2e/system.ts); a load of about 50 requests/s of mixed, logged-in traffic runs while
// auth, market, limiter and stats are restarted one after the other (SIGTERM, then started again
// on the same address; auth after 2.5 s away), for about 1.5 s plus the restart each. Every
// answer is checked: a 5xx or a broken connection is a failed request, and there must be none.
// Quota refusals (429) are answers, not failures.
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(240_000);

const PASSWORD = 'une phrase de passe solide';
const USERS = 24;
/** About 50 requests/s: one every 20 ms, each on its own (a slow answer does not slow the load). */
const EVERY_MS = 20;

/** How much longer auth stays away in its restart. */
const SLOW_RESTART_MS = 2500;

let sys: RunningSystem;

/** A browser of the site: keeps its cookie, reads the CSRF token of the JSON answers. */
class Browser {
  private readonly cookies = new Map<string, string>();
  csrf = '';

  async send(path: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ ...form, _csrf: this.csrf }).toString();
    }
    const res = await fetch(`${sys.url}${path}`, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }

  async json(path: string, form?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await this.send(path, form);
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (typeof body.csrfToken === 'string') this.csrf = body.csrfToken;
    return { status: res.status, body };
  }

  async logIn(email: string): Promise<number> {
    await this.json('/login');
    return (await this.json('/login', { email, password: PASSWORD })).status;
  }
}

interface Tally {
  sent: number;
  answered: Record<string, number>;
  failed: string[];
}

/**
 * Runs the mixed load until `stop` resolves, then waits for every request sent: the services
 * page (market, limiter Peek; auth every 10 s per session), a sale (limiter Consume, market,
 * stats), a full login (auth, limiter, stats), the home page.
 */
async function load(students: { browser: Browser; email: string }[], until: Promise<void>): Promise<Tally> {
  const tally: Tally = { sent: 0, answered: {}, failed: [] };
  const inflight = new Set<Promise<void>>();
  let stopped = false;
  void until.then(() => (stopped = true));
  let n = 0;
  const one = async (i: number) => {
    const s = students[i % students.length]!;
    const kind = ['services', 'vente', 'services', 'login', 'home'][i % 5]!;
    let status: number;
    try {
      if (kind === 'services') status = (await s.browser.send('/services')).status;
      else if (kind === 'home') status = (await s.browser.send('/')).status;
      else if (kind === 'vente')
        status = (
          await s.browser.json('/services/vente', { titre: `Livre ${i}`, categorie: 'livre', etat: 'bon', prix: '3', description: '' })
        ).status;
      else status = await new Browser().logIn(s.email);
    } catch (err) {
      tally.failed.push(`${kind}: ${(err as Error).message}`);
      return;
    }
    tally.answered[status] = (tally.answered[status] ?? 0) + 1;
    if (status >= 500) tally.failed.push(`${kind}: ${status}`);
  };
  while (!stopped) {
    const p = one(n++).finally(() => inflight.delete(p));
    inflight.add(p);
    tally.sent++;
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
  await Promise.all(inflight);
  return tally;
}

beforeAll(async () => {
  // The deadline must outlast a restart (SIGTERM, exit, a new node process starting and finding
  // its store): 0.3–0.6 s on a quiet machine, but seen at 5–7 s on this shared 2-core one. A
  // functional margin, not a timing claim: without the fix, requests fail at once whatever the
  // deadline.
  sys = await startWholeSystem({ GRPC_TIMEOUT_MS: '15000' });
});

afterAll(async () => {
  await sys?.stop();
});

test('auth, market, limiter and stats each restarted under ~50 requests/s: not one request fails', async () => {
  const students: { browser: Browser; email: string }[] = [];
  for (let i = 0; i < USERS; i++) {
    const email = `relance.${i}@etu.example`;
    const b = new Browser();
    await b.json('/inscription');
    expect((await b.json('/inscription', { prenom: 'Relance', nom: `Numéro ${i}`, email, password: PASSWORD })).status).toBe(303);
    expect(await b.logIn(email)).toBe(303);
    students.push({ browser: b, email });
  }

  const report: string[] = [];
  const outcomes: { part: string; exitCode: number | null; failed: string[] }[] = [];
  for (const part of ['auth', 'market', 'limiter', 'stats']) {
    let done!: () => void;
    const until = new Promise<void>((r) => (done = r));
    const running = load(students, until);
    await new Promise((r) => setTimeout(r, 500));
    // auth is held away 2.5 s more (a slow restart, as CI machines show): the ~25 logins the
    // gateway holds meanwhile reach the new process at once, and each must still be served.
    const r = await sys.restart(part, part === 'auth' ? SLOW_RESTART_MS : 0);
    // Load goes on a little after the new process said SERVING: the window of issue 14.
    await new Promise((res) => setTimeout(res, 1000));
    done();
    const t = await running;
    report.push(
      `${part}: exit ${r.exitCode}, away ${r.awayMs} ms, SERVING ${r.servingMs} ms later; ${t.sent} requests ${JSON.stringify(t.answered)}, failed ${t.failed.length}`,
    );
    outcomes.push({ part, exitCode: r.exitCode, failed: t.failed });
  }
  process.stdout.write(`${report.join('\n')}\n`);
  if (outcomes.some((o) => o.failed.length > 0)) {
    // Why, for whoever reads a failure: the gateway's warnings and errors.
    for (const p of ['gateway', 'auth', 'market', 'limiter', 'stats']) {
      const lines = sys
        .output(p)
        .split('\n')
        .filter((l) => /"level":"(?:warn|error|fatal)"/.test(l));
      process.stdout.write(`--- ${p}: ${lines.length} warnings and errors, the last ones:\n${lines.slice(-8).join('\n')}\n`);
    }
  }
  expect(outcomes).toEqual(['auth', 'market', 'limiter', 'stats'].map((part) => ({ part, exitCode: 0, failed: [] })));
  // Statistics are best effort (STATS_TIMEOUT_MS, 500 ms): a stats restart longer than that
  // loses the records made meanwhile, counted; said here, not asserted (docs/operations.md).
  const gatewayMetrics = await (await fetch(sys.metricsUrls.gateway!)).text();
  const lost = /^etu_stats_records_lost_total(?:\{[^}]*\})? (\d+)/m.exec(gatewayMetrics)?.[1];
  process.stdout.write(`statistics records lost (best effort): ${lost ?? 0}\n`);
});

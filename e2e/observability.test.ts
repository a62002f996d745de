// What an operator sees of the running system (every part its own process, e2e/system.ts):
// one Vente's request id in the gateway's, limiter's, market's and stats' logs; each part's
// /metrics on its own port with the families the issue lists, and every metric the alert
// rules and the dashboard use; no /metrics on the public port; a public /readyz that says
// only ready or not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(180_000);

const MONITORING = join(__dirname, '..', 'deploy', 'monitoring');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;

/** A cookie-keeping client of the public site that reads the CSRF token of the last form. */
class Visitor {
  private cookies = new Map<string, string>();
  private csrf = '';

  async send(
    path: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'text/html', ...init.headers };
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ ...init.form, _csrf: this.csrf }).toString();
    }
    const res = await fetch(`${sys.url}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const text = await res.clone().text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf = token;
    return res;
  }
}

/** Metric family names of a text exposition (HELP lines), histogram suffixes folded. */
function familiesOf(text: string): Set<string> {
  return new Set([...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]!));
}

/** Metric names the rules and the dashboard use (ours and the grpc-ecosystem ones), histogram suffixes folded. */
function namesUsedByMonitoring(): string[] {
  const text =
    readFileSync(join(MONITORING, 'alerts.yml'), 'utf8') + readFileSync(join(MONITORING, 'grafana/dashboards/etuservices.json'), 'utf8');
  const names = [...text.matchAll(/\b(?:etu|http_server|grpc_server|grpc_client)_[a-z0-9_]+/g)].map((m) =>
    m[0].replace(/_(?:bucket|count|sum)$/, ''),
  );
  return [...new Set(names)].sort();
}

beforeAll(async () => {
  // A generous gRPC deadline: a functional test on a shared, loaded machine (argon2id hashing
  // of the sign-up can take seconds there), not a timing claim.
  sys = await startWholeSystem({ LOG_LEVEL: 'info', TRUST_PROXY: 'true', GRPC_TIMEOUT_MS: '15000' });
});

afterAll(async () => {
  await sys?.stop();
});

test('one Vente: its request id is in the gateway, limiter, market and stats logs; every part shows its metrics', async () => {
  const v = new Visitor();
  await v.send('/inscription');
  const signup = await v.send('/inscription', {
    form: { prenom: 'Olga', nom: 'Observée', email: 'olga.observee@etu.example', password: PASSWORD },
  });
  if (signup.status !== 303) throw new Error(`sign-up answered ${signup.status}:\n${sys.logs()}`);
  // Logged in directly by the sign-up; then once more from another browser (auth's Authenticate).
  expect(signup.headers.get('location')).toBe('/services');
  await v.send('/services');
  const other = new Visitor();
  await other.send('/login');
  const login = await other.send('/login', { form: { email: 'olga.observee@etu.example', password: PASSWORD } });
  expect(login.status).toBe(303);

  // The trusted proxy in front (TRUST_PROXY=true) names the request.
  const requestId = `e2e-vente-${Date.now()}`;
  const vente = await v.send('/services/vente', {
    form: { titre: 'Manuel observé', categorie: 'livre', etat: 'bon', prix: '12,50', description: '' },
    headers: { 'X-Request-Id': requestId },
  });
  expect(vente.status).toBe(303);
  expect(vente.headers.get('x-request-id')).toBe(requestId);

  // The stats record may land just after the answer: wait for it a little.
  const deadline = Date.now() + 10_000;
  const parts = ['gateway', 'limiter', 'market', 'stats'];
  const lineOf = (part: string) =>
    sys
      .output(part)
      .split('\n')
      .find((l) => l.includes(requestId));
  while (parts.some((p) => !lineOf(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const part of parts) expect([part, lineOf(part) !== undefined]).toEqual([part, true]);
  // A service's line is its per-call line: method, code, duration.
  expect(JSON.parse(lineOf('market')!)).toMatchObject({ part: 'market', msg: 'call', rpc: 'market/CreateListing', code: 'OK', requestId });
  // the Consume travelled in a batch of the limiter stream (the gateway's default)
  expect(JSON.parse(lineOf('limiter')!)).toMatchObject({ part: 'limiter', msg: 'call', rpc: 'limiter/ConsumeStream', code: 'OK' });
  expect(typeof JSON.parse(lineOf('stats')!).ms).toBe('number');

  // Each part's /metrics, after that Vente.
  const scraped: Record<string, string> = {};
  for (const [part, url] of Object.entries(sys.metricsUrls)) {
    const res = await fetch(url);
    expect([part, res.status]).toEqual([part, 200]);
    scraped[part] = await res.text();
    expect([part, /^process_cpu_seconds_total /m.test(scraped[part])]).toEqual([part, true]);
  }
  const g = scraped.gateway!;
  expect(g).toMatch(/^http_server_requests_total\{route="\/services\/vente",method="POST",status_class="3xx"\} 1$/m);
  expect(g).toMatch(/^http_server_request_duration_seconds_count\{route="\/services\/vente",method="POST",status_class="3xx"\} 1$/m);
  expect(g).toMatch(/^etu_quota_decisions_total\{policy="service",outcome="allowed"\} 1$/m);
  expect(g).toMatch(/^etu_logins_total\{outcome="success"\} 2$/m); // the sign-up's and the form's
  expect(g).toMatch(
    /^grpc_client_handled_total\{grpc_type="unary",grpc_service="etuservices.market.v1.MarketService",grpc_method="CreateListing",grpc_code="OK"\} 1$/m,
  );
  expect(g).toMatch(/^etu_stats_records_lost_total\{event="service_call"\} 0$/m);
  expect(scraped.market).toMatch(
    /^grpc_server_handled_total\{grpc_type="unary",grpc_service="etuservices.market.v1.MarketService",grpc_method="CreateListing",grpc_code="OK"\} 1$/m,
  );
  expect(scraped.market).toMatch(/^etu_market_listings_created_total 1$/m);
  expect(scraped.limiter).toMatch(/^etu_limiter_decisions_total\{policy="service",outcome="allowed"\} 1$/m);
  // the limiter stream's batches are counted per batch on both sides, as calls of ConsumeStream
  const streamed = 'grpc_type="bidi_stream",grpc_service="etuservices.limiter.v1.LimiterStreamService",grpc_method="ConsumeStream"';
  expect(scraped.limiter).toMatch(new RegExp(`^grpc_server_handled_total\\{${streamed},grpc_code="OK"\\} [1-9]`, 'm'));
  expect(g).toMatch(new RegExp(`^grpc_client_handled_total\\{${streamed},grpc_code="OK"\\} [1-9]`, 'm'));
  expect(scraped.limiter).toMatch(/^etu_limiter_redis_script_duration_seconds_count [1-9]/m);
  expect(scraped.stats).toMatch(/^etu_stats_events_recorded_total\{kind="vente_allowed"\} 1$/m);
  expect(scraped.auth).toMatch(/^etu_auth_authentications_total\{outcome="ok"\} 1$/m);
  expect(scraped.auth).toMatch(/^etu_auth_password_verify_duration_seconds_count [1-9]/m);

  // Every metric the alert rules and the dashboard use exists in some part's /metrics.
  const all = new Set(Object.values(scraped).flatMap((t) => [...familiesOf(t)]));
  const used = namesUsedByMonitoring();
  expect(used.length).toBeGreaterThan(8);
  expect(used.filter((n) => !all.has(n))).toEqual([]);
});

test('the public port shows no metrics, and its /readyz only says ready or not to the outside', async () => {
  expect((await fetch(`${sys.url}/metrics`)).status).toBe(404);
  const outside = await fetch(`${sys.url}/readyz`, { headers: { 'X-Forwarded-For': '198.51.100.7' } });
  expect(outside.status).toBe(200);
  expect(await outside.json()).toEqual({ status: 'ready' });
  const local = await (await fetch(`${sys.url}/readyz`)).json();
  expect(local).toMatchObject({
    status: 'ready',
    down: [],
    degraded: [],
    checks: { auth: 'ok', market: 'ok', limiter: 'ok', stats: 'ok', sessions: 'ok' },
  });
});

// Item 2 of the renovation: a limiter configuration error is never taken for an outage. The real
// limiter runs with a LIMIT_POLICIES that lacks `service` (an operator's typo); even with
// LIMITER_FAIL_MODE=open, a Vente is refused (503), nothing is created, the gateway reports
// itself not ready, and operators get one error log per missing policy, not one per request.
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
const PASSWORD = 'correct-horse-battery';

beforeAll(async () => {
  sys = await startSystem({
    policies:
      'login=10/10m,login-failure=10/10m,login-failure-ip=50/10m,login-failure-account=20/10m,login-failure-device=10/10m,signup-ip=60/10m,password-reset-ip=10/1h,password-reset-account=3/1h',
  });
  gw = await sys.gateway({ LIMITER_FAIL_MODE: 'open' });
});

afterAll(async () => {
  await sys?.close();
});

const configErrors = (g: Gateway, policy: string) =>
  g.logLines.filter((l) => l.includes('limiter configuration error') && l.includes(`"policy":"${policy}"`));

test('LIMITER_FAIL_MODE=open and no `service` policy: a Vente or an Achat is refused (503), not admitted, nothing is created', async () => {
  const email = 'sans.politique@etu.example';
  const signup = new WebClient(gw.server, '10.9.0.1');
  await signup.get('/inscription');
  expect((await signup.post('/inscription', { prenom: 'Sans', nom: 'Politique', email, password: PASSWORD })).status).toBe(303);
  const c = new WebClient(gw.server, '10.9.0.2');
  expect((await c.login(email, PASSWORD)).status).toBe(303);
  await c.get('/services'); // the page's CSRF token

  const page = await c.post('/services/vente', { titre: 'Jamais en vente', categorie: 'livre', etat: 'bon', prix: '5', description: '' });
  expect(page.status).toBe(503);
  expect(textOf(page.text)).toContain('problème de configuration');
  for (let i = 0; i < 3; i++) {
    const json = await c.post(
      '/services/vente',
      { titre: `Essai ${i}`, categorie: 'livre', etat: 'bon', prix: '5' },
      { accept: 'application/json' },
    );
    expect(json.status).toBe(503);
    expect(json.body).toMatchObject({ error: 'indisponible', dependency: 'limiter' });
    expect(json.headers.ratelimit).toBeUndefined();
  }
  expect((await c.post('/services/achat', { article_id: 'abc123' })).status).toBe(503);

  // The page still opens (the quota line says it cannot be read) and shows that nothing was sold.
  const services = await c.get('/services', 'application/json');
  expect(services.status).toBe(200);
  expect(services.body.quota).toBeNull();
  expect(services.body.mesArticles).toEqual([]);
  expect(await gw.metrics.value('etu_quota_decisions_total', { outcome: 'unavailable_admitted' })).toBe(0);
  expect(await gw.metrics.value('etu_quota_decisions_total', { outcome: 'misconfigured_refused' })).toBe(5);
});

test('readiness reports not ready and names the missing policy; operators get one error per policy', async () => {
  const c = new WebClient(gw.server);
  for (let i = 0; i < 2; i++) {
    const ready = await c.get('/readyz', 'application/json');
    expect(ready.status).toBe(503);
    expect(ready.body.down).toEqual(['limiter-policies']);
    expect(ready.body.missingPolicies).toEqual(['service']);
    expect(ready.body.checks).toMatchObject({ limiter: 'ok', 'limiter-policies': 'missing' });
  }
  const errors = configErrors(gw, 'service');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain('LIMIT_POLICIES');
  expect(errors[0]).toContain('"level":"error"');
  expect(configErrors(gw, 'login')).toHaveLength(0);
});

test('at start a fresh gateway checks every policy it uses: the missing one is logged once, before any user comes', async () => {
  const fresh = await sys.gateway({ LIMITER_FAIL_MODE: 'open' });
  expect(await fresh.app.checkPolicies()).toEqual({ missing: ['service'], unreachable: false });
  await fresh.app.checkPolicies();
  expect(configErrors(fresh, 'service')).toHaveLength(1);
});

test('the policies that exist still work: login succeeds', async () => {
  const email = 'connexion.ok@etu.example';
  const c = new WebClient(gw.server, '10.9.0.3');
  await c.get('/inscription');
  // The sign-up logs in (a `login`), and so does the login form of another browser.
  expect((await c.post('/inscription', { prenom: 'Connexion', nom: 'Ok', email, password: PASSWORD })).headers.location).toBe('/services');
  expect((await new WebClient(gw.server, '10.9.0.3').login(email, PASSWORD)).status).toBe(303);
});

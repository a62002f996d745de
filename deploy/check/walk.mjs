#!/usr/bin/env node
// The user's walk of `make deploy-check`, through the published port only, as a browser would
// (cookies, the CSRF token of each form), asking for JSON answers (Accept: application/json).
//
//   walk.mjs user <base url> <state.json>           sign-up, login, Vente, Achat, the 11th call
//                                                   refused with 429, the admin's statistics
//   walk.mjs after-restart <base url> <state.json>  the user's page answers after a restart
//   walk.mjs persisted <base url> <state.json>      after down + up: accounts, listings, statistics
//   walk.mjs before-backup|destroyed|restored <base url> <state.json>
//                                                   the compose backup/restore drill: a session
//                                                   kept across it, the empty stores, the restore
//   walk.mjs replicas <https url> <state.json>      with one replica of each service stopped
//   walk.mjs proxy <https url> <state.json>         through nginx: Secure __Host- cookie, login,
//                                                   (TRUST_PROXY: the gateway sees HTTPS), a Vente
// The state file carries what a later phase checks (the admin login is written by run.sh).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [phase, base, stateFile] = process.argv.slice(2);
const state = JSON.parse(readFileSync(stateFile, 'utf8'));
const save = () => writeFileSync(stateFile, JSON.stringify(state, null, 2));

function check(cond, what, detail) {
  if (!cond) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  console.log(`  ok  ${what}`);
}

/** A browser: one cookie jar, the CSRF token of the last form it loaded. */
class Browser {
  jar = new Map();
  setCookies = [];
  csrf = '';

  async request(method, path, form) {
    const headers = { accept: 'application/json' };
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ ...form, _csrf: this.csrf }).toString();
    }
    const res = await fetch(new URL(path, base), { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(20_000) });
    for (const c of res.headers.getSetCookie()) {
      this.setCookies.push(c);
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json && typeof json.csrfToken === 'string') this.csrf = json.csrfToken;
    return { status: res.status, headers: res.headers, json: json ?? { text: text.slice(0, 200) } };
  }

  get(path) {
    return this.request('GET', path);
  }
  post(path, form) {
    return this.request('POST', path, form);
  }

  async login(email, password) {
    await this.get('/login');
    return this.post('/login', { email, password });
  }
}

async function signup(who) {
  const b = new Browser();
  await b.get('/inscription');
  const email = `deploy-check-${who}-${randomBytes(4).toString('hex')}@etu.example`;
  const password = `Walk-${randomBytes(12).toString('hex')}`;
  // A 503 (a service not reachable yet) stored nothing: retried, and the wait is printed.
  let first503 = '';
  const attempt = async () => {
    const x = await b.post('/inscription', { nom: 'Check', prenom: who, email, password });
    if (x.status === 503 && !first503) first503 = JSON.stringify(x.json);
    return x;
  };
  const { r, attempts, waitedMs } = await until(`sign-up of ${who}`, attempt, (x) => x.status !== 503, 30_000);
  if (attempts > 1) console.log(`  ..  sign-up answered 503 first (${first503}); retried for ${waitedMs} ms`);
  // A sign-up logs in directly (docs/architecture.md, "Sign-up logs in").
  check(r.status === 303 && r.json.location === '/services', `sign-up of ${who} → 303 /services`, r.status === 303 ? undefined : r.json);
  return { email, password, id: r.json.user?.id };
}

async function loggedIn(account, label) {
  const b = new Browser();
  const r = await b.login(account.email, account.password);
  check(r.status === 303 && r.json.location === '/services', `login of ${label} → 303 /services`, r.status === 303 ? undefined : r.json);
  return b;
}

async function vente(b, title) {
  const r = await b.post('/services/vente', {
    titre: title,
    categorie: 'livre',
    etat: 'bon',
    prix: '12,50',
    description: 'Mis en vente par make deploy-check',
  });
  return r;
}

async function statistics() {
  const admin = await loggedIn(state.admin, 'the admin');
  const r = await admin.get('/statistiques');
  check(r.status === 200 && r.json.totaux, 'admin statistics page → 200', r.status === 200 ? undefined : r.json);
  return r.json.totaux;
}

async function user() {
  // The first calls of a fresh gateway resolve the services' names; under load the engine's DNS
  // was once seen to stall past the 2 s deadline (503): signup() retries a 503 and says so.
  const seller = await signup('Vendeur');
  const buyer = await signup('Acheteur');
  state.seller = seller;
  state.buyer = buyer;

  const s = await loggedIn(seller, 'the seller');
  const sold = await vente(s, 'Livre du vendeur');
  check(sold.status === 303 && sold.json.article?.id, 'Vente by the seller → 303 with the new listing', sold.json);

  const b = await loggedIn(buyer, 'the buyer');
  const page = await b.get('/services');
  check(
    page.status === 200 && page.json.articles.some((a) => a.id === sold.json.article.id),
    "the buyer's page lists the seller's article",
  );
  const bought = await b.post('/services/achat', { article_id: sold.json.article.id });
  check(bought.status === 303 && bought.json.article?.statut === 'vendu', 'Achat by the buyer → 303, article sold', bought.json);
  check(
    bought.headers.get('ratelimit-policy') !== null || bought.headers.get('ratelimit') !== null,
    'RateLimit headers on an admitted call',
  );

  const mine = [];
  for (let i = 2; i <= 10; i++) {
    const r = await vente(b, `Annonce ${i}`);
    if (r.status !== 303) throw new Error(`call ${i} of 10 refused: ${r.status} ${JSON.stringify(r.json)}`);
    mine.push(r.json.article.id);
  }
  check(mine.length === 9, 'calls 2-10 of the buyer (Vente) admitted');
  const eleventh = await vente(b, 'Annonce 11');
  check(eleventh.status === 429, '11th call → 429', { status: eleventh.status, body: eleventh.json });
  check(Number(eleventh.headers.get('retry-after')) > 0, '429 carries Retry-After');
  state.buyerListings = mine;
  state.soldListing = sold.json.article.id;

  const totals = await statistics();
  check(totals.vente === 10 && totals.achat === 1 && totals.venteRefus === 1, 'statistics: 10 Vente, 1 Achat, 1 refused Vente', totals);
  check(totals.users >= 3, 'statistics: the seeded admin and both new accounts are known', totals);
  state.totals = totals;
  save();
}

/** Retries `attempt` (a request) until `ok(answer)` or the deadline; returns the answer, the
 * number of attempts and the time since the first one. */
async function until(what, attempt, ok, deadlineMs) {
  const t0 = Date.now();
  for (let attempts = 1; ; attempts++) {
    const r = await attempt();
    if (ok(r)) return { r, attempts, waitedMs: Date.now() - t0 };
    if (Date.now() - t0 > deadlineMs)
      throw new Error(`${what}: not within ${deadlineMs} ms; last answer ${r.status} ${JSON.stringify(r.json)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** The services page, retried until it answers 200 (at most a minute); how long it took is printed. */
async function servicesPageAnswers(b) {
  const { r, attempts, waitedMs } = await until(
    'the services page answers',
    () => b.get('/services'),
    (x) => x.status === 200,
    60_000,
  );
  console.log(
    `  ..  the services page answered 200 ${attempts > 1 ? `after ${attempts - 1} refused attempts, ${waitedMs} ms` : 'at once'}`,
  );
  return r;
}

async function afterRestart() {
  const b = await loggedIn(state.seller, 'the seller');
  // The restarted container may come back with a new address: the gateway's gRPC channel finds
  // it when it resolves the name again. How long users see 503 meanwhile is printed.
  const page = await servicesPageAnswers(b);
  check(
    page.json.mesArticles.some((a) => a.id === state.soldListing),
    "the seller's page lists the sold article",
    page.json.mesArticles,
  );
}

async function persisted() {
  const b = await loggedIn(state.buyer, 'the buyer (account kept)');
  const page = await b.get('/services');
  const ids = new Set(page.json.mesArticles.map((a) => a.id));
  check(
    state.buyerListings.every((id) => ids.has(id)),
    `the buyer's ${state.buyerListings.length} listings are kept`,
  );
  check(page.json.quota && page.json.quota.restants === 0, 'the quota is kept (Redis limiter data): 0 calls left', page.json.quota);
  const totals = await statistics();
  for (const k of ['vente', 'achat', 'venteRefus', 'users'])
    check(totals[k] === state.totals[k], `statistics kept: ${k} = ${state.totals[k]}`, totals);
  check(totals.logins > state.totals.logins, 'statistics: logins count on from the kept total', totals);
}

async function proxy() {
  check(base.startsWith('https:'), 'the proxy is reached over TLS (certificate trusted through NODE_EXTRA_CA_CERTS)');
  const b = new Browser();
  const r0 = await b.get('/login');
  check(r0.status === 200, 'login page through nginx → 200');
  const r = await b.post('/login', { email: state.seller.email, password: state.seller.password });
  check(r.status === 303 && r.json.location === '/services', 'login through nginx → 303 /services', r.json);
  // Every cookie the site set on the way (a visitor's form cookie, then the session at login).
  check(
    b.setCookies.some((c) => c.startsWith('__Host-etu_sid')),
    'a session cookie __Host-etu_sid after login',
    b.setCookies.map((c) => c.split('=')[0]),
  );
  for (const c of b.setCookies) {
    const name = c.split('=')[0];
    check(name.startsWith('__Host-') && /;\s*secure/i.test(c) && /;\s*httponly/i.test(c), `cookie ${name} is __Host-, Secure, HttpOnly`);
  }
  // Several requests: nginx spreads them over both gateways (the check counts them per gateway).
  for (let i = 0; i < 6; i++) {
    const p = await b.get('/services');
    check(p.status === 200, `services page through nginx (${i + 1}/6): the session is shared by both gateways`);
  }
  const v = await vente(b, 'Vendu derrière le proxy');
  check(v.status === 303, 'Vente through nginx → 303', v.json);
  const h = await fetch(new URL('/healthz', base), { signal: AbortSignal.timeout(10_000) });
  check(h.headers.get('strict-transport-security') !== null, 'HSTS header over HTTPS');
}

async function replicas() {
  const b = await loggedIn(state.seller, 'the seller, one replica of each service stopped');
  const page = await servicesPageAnswers(b);
  check(page.json.mesArticles.length >= 2, "the seller's listings are shown");
  const v = await vente(b, 'Vendu avec une réplique arrêtée');
  check(v.status === 303, 'Vente → 303 (auth, limiter, market and stats answered from the other replicas)', v.json);
}

/** Before `make backup`: the seller's logged-in session, kept to be opened after the restore. */
async function beforeBackup() {
  const b = await loggedIn(state.seller, 'the seller (session to keep across the backup)');
  state.sellerJar = [...b.jar];
  save();
}

/** After `down -v` + `up`: the stores are empty, as after losing the volumes. */
async function destroyed() {
  const b = new Browser();
  const r = await b.login(state.buyer.email, state.buyer.password);
  check(r.status !== 303, 'the stores are gone: the buyer cannot log in', { status: r.status });
}

/** After the compose restore: the session taken before the backup opens the seller's own page
 * (the same user, not another), then everything `persisted` checks. */
async function restored() {
  const b = new Browser();
  b.jar = new Map(state.sellerJar);
  const page = await b.get('/services');
  check(page.status === 200, "the seller's session from before the backup opens /services → 200", { status: page.status });
  check(
    page.json.mesArticles.some((a) => a.id === state.soldListing),
    "that session is the seller's: their sold article is listed as theirs",
    page.json.mesArticles,
  );
  await persisted();
}

const phases = { user, 'after-restart': afterRestart, persisted, proxy, replicas, 'before-backup': beforeBackup, destroyed, restored };
if (!phases[phase]) {
  console.error(`usage: walk.mjs ${Object.keys(phases).join('|')} <base url> <state.json>`);
  process.exit(2);
}
phases[phase]().catch((err) => {
  console.error(`walk ${phase} FAILED: ${err.message}`);
  process.exit(1);
});

// Traffic for the memory phase (phase 5, part d), in its own process, with plain fetch loops
// (what matters here is what the traffic leaves in Redis, not its rate). Prints
// {"event":"start"|"end"} around the measured traffic, then {"result": {...}}.
//
// modes:
//   anonymous  visitors without a cookie, at full speed: GET /, /login, /inscription, a login
//              form posted without a token (403), a sign-up with a token but invalid fields
//              (400) and a failed login (wrong password) of one email.
//   refused    one logged-in user (logged in before "start") posting Achat at full speed, past
//              the quota: nearly every answer a 429.
//   day        `users` students through a compressed day: each logs in, looks at the services
//              page, sells and buys a little, logs out or simply leaves (the session then
//              expires), thinks, and comes back; several times over the run.
const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const FORM = 'application/x-www-form-urlencoded';
const statuses = {};
let requests = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cookiesOf = (res) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((c) => !c.endsWith('='));

/** A browser's cookie jar, as small as this needs. */
class Jar {
  map = new Map();
  take(res) {
    for (const c of cookiesOf(res)) this.map.set(c.slice(0, c.indexOf('=')), c);
    for (const c of res.headers.getSetCookie())
      if (/=\s*;/.test(c.split(';')[0] + ';') || /expires=Thu, 01 Jan 1970/i.test(c)) this.map.delete(c.slice(0, c.indexOf('=')));
  }
  get header() {
    return [...this.map.values()].join('; ');
  }
}

async function req(path, { method = 'GET', jar, form, json = true } = {}) {
  const headers = { accept: json ? 'application/json' : 'text/html' };
  if (jar?.header) headers.cookie = jar.header;
  if (form) headers['content-type'] = FORM;
  const res = await fetch(cfg.url + path, {
    method,
    headers,
    redirect: 'manual',
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const text = await res.text();
  requests++;
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  jar?.take(res);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}

async function login(user, jar) {
  const form = await req('/login', { jar });
  const r = await req('/login', {
    method: 'POST',
    jar,
    form: { email: user.email, password: user.password, _csrf: form.body?.csrfToken ?? '' },
  });
  if (r.status !== 303) throw new Error(`login of ${user.email}: HTTP ${r.status}`);
  return r.body?.csrfToken;
}

async function forSeconds(seconds, concurrency, step) {
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; Date.now() < until; i++) await step(w, i);
    }),
  );
}

async function anonymous() {
  out({ event: 'start' });
  await forSeconds(cfg.seconds, cfg.concurrency ?? 8, async (w, i) => {
    switch (i % 6) {
      case 0:
        return req('/', { json: false });
      case 1:
        return req('/login', { json: false });
      case 2:
        return req('/inscription', { json: false });
      case 3:
        return req('/login', { method: 'POST', form: { email: 'x@example.org', password: 'x' } });
      case 4: {
        const jar = new Jar();
        const f = await req('/inscription', { jar });
        return req('/inscription', {
          method: 'POST',
          jar,
          form: { _csrf: f.body?.csrfToken ?? '', email: 'pas-un-email', nom: '', prenom: '', password: 'court' },
        });
      }
      default: {
        const jar = new Jar();
        const f = await req('/login', { jar });
        return req('/login', {
          method: 'POST',
          jar,
          form: { _csrf: f.body?.csrfToken ?? '', email: 'intrus@bench.etuservices.example', password: 'mauvais-mot-de-passe' },
        });
      }
    }
  });
  out({ event: 'end' });
}

async function refused() {
  const jar = new Jar();
  const csrf = await login(cfg.user, jar);
  out({ event: 'start' });
  await forSeconds(cfg.seconds, cfg.concurrency ?? 8, () =>
    req('/services/achat', { method: 'POST', jar, form: { _csrf: csrf, article_id: '999999999' } }),
  );
  out({ event: 'end' });
}

async function day() {
  const users = cfg.users;
  const thinkMs = cfg.thinkMs ?? 2000;
  out({ event: 'start' });
  const until = Date.now() + cfg.seconds * 1000;
  let sales = 0;
  let logouts = 0;
  let failedLogins = 0;
  await Promise.all(
    users.map(async (u, k) => {
      await sleep((k * thinkMs) / users.length); // arrivals spread over one think time
      while (Date.now() < until) {
        const jar = new Jar();
        let csrf;
        try {
          csrf = await login(u, jar);
        } catch {
          failedLogins++; // a busy machine (argon2id): think, then try again
          await sleep(thinkMs);
          continue;
        }
        await req('/services', { jar });
        const v = await req('/services/vente', {
          method: 'POST',
          jar,
          form: { _csrf: csrf, titre: `Livre ${k}`, categorie: 'livre', etat: 'bon', prix: '12,50', description: 'Bon état' },
        });
        if (v.status === 303) sales++;
        await req('/services', { jar });
        if (Math.random() < 0.5) {
          await req('/logout', { method: 'POST', jar, form: { _csrf: csrf } });
          logouts++;
        }
        await sleep(thinkMs * (0.5 + Math.random()));
      }
    }),
  );
  out({ event: 'end' });
  return { sales, logouts, failedLogins };
}

const t0 = Date.now();
const extra = cfg.mode === 'anonymous' ? await anonymous() : cfg.mode === 'refused' ? await refused() : await day();
out({ result: { mode: cfg.mode, requests, seconds: (Date.now() - t0) / 1000, statuses, ...extra } });
process.exit(0);

// HTTP load client for phase 4, run in its own process: autocannon against the gateway (or the
// bare Koa baseline), a warm-up run first, then the measured run. Latency and status codes are
// collected per response; prints {"event":"start"|"end"} around the measured run and then
// {"result":...}.
//
// modes:
//   vente-achat  logged-in users (cookie + CSRF token each, round robin) alternate
//                POST /services/vente (a form) and POST /services/achat of an article put up
//                for sale by another user in this run (taken from the Vente answers), so every
//                purchase is of an available item; with no such item yet, a Vente.
//   bare         the same Vente form POST, against the bare Koa handler.
//   login        GET /login (an anonymous session and its CSRF token) then POST /login with the
//                next user's credentials; latency and status are those of the POST.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Samples, percentile } from '../lib/util.mjs';
import { require } from '../lib/project.mjs';

const autocannon = require('autocannon');
const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const users = cfg.usersFile ? JSON.parse(readFileSync(cfg.usersFile, 'utf8')) : [{ id: '0', cookie: 'etu_sid=x', csrf: 'x' }];
const enc = encodeURIComponent;
const FORM = 'application/x-www-form-urlencoded';

let measuring = false;
let lat = new Samples(1 << 16);
let statuses = {};
let kinds = { vente: 0, achat: 0, login: 0 };
let next = Math.floor((cfg.userOffset ?? 0) % users.length);

// articles for sale by users of this run, oldest first: { id, seller }
const forSale = [];
let forSaleHead = 0;
function takeArticle(buyerId) {
  for (let tries = 0; tries < 4 && forSaleHead < forSale.length; tries++) {
    const a = forSale[forSaleHead++];
    if (a.seller !== buyerId) return a;
    forSale.push(a); // the buyer's own: leave it for someone else
  }
  return null;
}

function cookieHeader(setCookie) {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return list
    .map((c) => c.split(';')[0])
    .filter((c) => !c.endsWith('='))
    .join('; ');
}

function requestsFor(mode) {
  if (mode === 'login') {
    return [
      {
        method: 'GET',
        path: '/login',
        headers: { accept: 'application/json' },
        onResponse(status, body, ctx, headers) {
          ctx.cookie = cookieHeader(headers['set-cookie'] ?? headers['Set-Cookie']);
          try {
            ctx.csrf = JSON.parse(body).csrfToken;
          } catch {
            ctx.csrf = '';
          }
        },
      },
      {
        method: 'POST',
        path: '/login',
        setupRequest(req, ctx) {
          const u = users[next++ % users.length];
          ctx.t0 = performance.now();
          req.headers = { accept: 'application/json', 'content-type': FORM, cookie: ctx.cookie ?? '' };
          req.body = `email=${enc(u.email)}&password=${enc(u.password)}&_csrf=${enc(ctx.csrf ?? '')}`;
          return req;
        },
        onResponse(status, _body, ctx) {
          if (!measuring) return;
          lat.push(performance.now() - ctx.t0);
          statuses[status] = (statuses[status] ?? 0) + 1;
          kinds.login++;
        },
      },
    ];
  }
  let i = 0;
  return [
    {
      method: 'POST',
      setupRequest(req) {
        const u = users[next++ % users.length];
        const a = mode === 'vente-achat' && i++ % 2 === 1 ? takeArticle(u.id) : null;
        req.headers = { accept: 'application/json', 'content-type': FORM, cookie: u.cookie };
        if (a) {
          req.path = '/services/achat';
          req.body = `article_id=${enc(a.id)}&_csrf=${enc(u.csrf)}`;
          if (measuring) kinds.achat++;
        } else {
          req.path = '/services/vente';
          // with the sale form's hidden key, as a browser sends it (a new form each time)
          req.body = `titre=${enc(`Manuel d'algèbre ${next}`)}&categorie=livre&etat=bon&prix=12.50&description=${enc('Bon état, quelques notes au crayon.')}&cle=${randomUUID()}&_csrf=${enc(u.csrf)}`;
          if (measuring) kinds.vente++;
        }
        return req;
      },
      onResponse(status, body) {
        if (mode !== 'vente-achat' || status !== 303) return;
        try {
          const art = JSON.parse(body).article;
          if (art && art.statut === 'disponible') forSale.push({ id: String(art.id), seller: String(art.vendeurId) });
        } catch {
          /* not JSON: nothing to buy */
        }
      },
    },
  ];
}

function run(seconds, record) {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: cfg.url,
        connections: cfg.connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: requestsFor(cfg.mode),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    if (record && cfg.mode !== 'login') {
      inst.on('response', (_client, status, _bytes, ms) => {
        if (!measuring) return;
        lat.push(ms);
        statuses[status] = (statuses[status] ?? 0) + 1;
      });
    }
  });
}

await run(Math.max(1, Math.round(cfg.warmupMs / 1000)), false);
lat = new Samples(1 << 16);
statuses = {};
kinds = { vente: 0, achat: 0, login: 0 };
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
out({ event: 'start', mono: Number(process.hrtime.bigint() / 1000n) });
const res = await run(Math.max(1, Math.round(cfg.durationMs / 1000)), true);
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
out({ event: 'end', mono: Number(process.hrtime.bigint() / 1000n) });

const sorted = lat.sorted();
const n = sorted.length;
const ok = Object.entries(statuses)
  .filter(([s]) => (cfg.okStatuses ?? [303]).includes(Number(s)))
  .reduce((a, [, c]) => a + c, 0);
const denied = statuses[429] ?? 0;
out({
  result: {
    mode: cfg.mode,
    connections: cfg.connections,
    seconds,
    requests: n,
    perSecond: n / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: n ? sorted[n - 1] : null,
    okShare: n ? ok / n : null,
    admittedShare: n && cfg.mode === 'vente-achat' ? 1 - denied / n : null,
    // 4xx/5xx (the expected answers are 303 See Other, as to a browser's form POST)
    failShare: n
      ? Object.entries(statuses)
          .filter(([s]) => Number(s) >= 400)
          .reduce((a, [, c]) => a + c, 0) / n
      : null,
    errors: res.errors + res.timeouts,
    statusCodes: statuses,
    kinds,
    clientCpuUsPerRequest: n ? (cpu.user + cpu.system) / n : null,
    clientCpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
  },
});
process.exit(0);

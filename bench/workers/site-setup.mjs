// Phase 4's setup, in its own process: registers `users` accounts through the auth service
// (gRPC Register: argon2id hashing, the real cost; accounts kept from an earlier run answer
// ALREADY_EXISTS and are reused), then logs each one in through the gateway
// as a browser would (GET /login for the anonymous session and its CSRF token, POST /login)
// and writes [{ id, email, password, cookie, csrf }] for the load client.
import { writeFileSync } from 'node:fs';
import { common, proto } from '../lib/project.mjs';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const { createServiceClient } = common();
const { auth } = proto();
const client = createServiceClient(auth.AuthServiceClient, cfg.authAddr, { token: cfg.token, timeoutMs: 30_000 });

async function pool(n, concurrency, fn) {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < n) await fn(i++);
    }),
  );
}

function cookies(res) {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((c) => !c.endsWith('='))
    .join('; ');
}

const password = cfg.password;
const users = [];
let registered = 0;
const kept = new Set(cfg.existing ?? []);
let t = Date.now();
await pool(cfg.users, cfg.registerConcurrency ?? 8, async (i) => {
  const email = `bench-${i}@bench.etuservices.example`;
  if (kept.has(i)) {
    users[i] = { id: '', email, password }; // its id comes with the login
    return;
  }
  try {
    const res = await client.call.register({ lastName: `Banc${i}`, firstName: 'Test', email, password });
    users[i] = { id: String(res.user.id), email, password };
    registered++;
  } catch (err) {
    if (err?.code !== 6) throw err; // ALREADY_EXISTS: kept from an earlier run (its id comes with the login)
    users[i] = { id: '', email, password };
  }
  if ((i + 1) % 500 === 0) out({ progress: `registered ${i + 1}/${cfg.users}` });
});
const registerSeconds = (Date.now() - t) / 1000;
out({
  progress: `registered ${registered} new users in ${registerSeconds.toFixed(1)} s (${cfg.users - registered} kept from an earlier run)`,
});

t = Date.now();
await pool(cfg.users, cfg.loginConcurrency ?? 16, async (i) => {
  // on a loaded machine argon2id can outlast the gateway's deadline (503): try again, twice
  for (let attempt = 1; ; attempt++) {
    try {
      return await logIn(i);
    } catch (e) {
      if (attempt >= 5 || !/HTTP 503/.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
});

async function logIn(i) {
  const u = users[i];
  const r1 = await fetch(`${cfg.url}/login`, { headers: { accept: 'application/json' } });
  const c1 = cookies(r1);
  const { csrfToken } = await r1.json();
  // no token: the gateway found its session store slow (a loaded machine) — try again
  if (!csrfToken) throw new Error(`login of ${u.email}: HTTP 503 (login form without a token)`);
  const r2 = await fetch(`${cfg.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', cookie: c1 },
    body: new URLSearchParams({ email: u.email, password: u.password, _csrf: csrfToken }).toString(),
  });
  const body = await r2.text();
  if (r2.status !== 303) throw new Error(`login of ${u.email}: HTTP ${r2.status} ${body.slice(0, 200)}`);
  const j = JSON.parse(body);
  u.cookie = cookies(r2);
  u.csrf = j.csrfToken;
  if (j.user?.id) u.id = String(j.user.id);
  if ((i + 1) % 500 === 0) out({ progress: `logged in ${i + 1}/${cfg.users}` });
}
const loginSeconds = (Date.now() - t) / 1000;
out({ progress: `logged in ${cfg.users} users in ${loginSeconds.toFixed(1)} s` });
writeFileSync(cfg.out, JSON.stringify(users));
client.close();
out({
  result: {
    users: users.length,
    registered,
    registerSeconds,
    loginSeconds,
    registerPerSecond: registered / registerSeconds,
    loginPerSecond: cfg.users / loginSeconds,
  },
});
process.exit(0);

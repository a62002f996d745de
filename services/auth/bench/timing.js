#!/usr/bin/env node
// Timing of password hashing on this machine, and of Authenticate for an unknown email versus a
// wrong password through a real server (the enumeration-safety claim). Timing claims live here,
// never in tests. Needs a build (`npx tsc --build services/auth`); the gRPC part needs MariaDB.
//
//   node services/auth/bench/timing.js            # hash / verify only
//   node services/auth/bench/timing.js --grpc     # plus Authenticate through a server
'use strict';
const { join } = require('node:path');

const root = join(__dirname, '..', '..', '..');
const { PasswordHasher, CURRENT_PARAMS } = require(join(root, 'services', 'auth', 'dist', 'passwords.js'));

const N = Number(process.env.N ?? 40);

async function time(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function summary(label, xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  console.log(`${label.padEnd(34)} median ${q(0.5)} ms   p10 ${q(0.1)}   p90 ${q(0.9)}   (n=${s.length})`);
}

async function hashing() {
  const h = new PasswordHasher();
  console.log(
    `argon2id m=${CURRENT_PARAMS.memoryCost} KiB, t=${CURRENT_PARAMS.timeCost}, p=${CURRENT_PARAMS.parallelism}; one call at a time`,
  );
  const pw = 'correct horse battery staple';
  let stored = await h.hash(pw);
  await h.warmUp();
  const th = [];
  const tv = [];
  const tw = [];
  const td = [];
  for (let i = 0; i < N; i++) {
    th.push(await time(async () => (stored = await h.hash(pw))));
    tv.push(await time(() => h.verify(stored, pw)));
    tw.push(await time(() => h.verify(stored, `${pw}!`)));
    td.push(await time(() => h.verifyDummy(pw)));
  }
  summary('hash', th);
  summary('verify (right password)', tv);
  summary('verify (wrong password)', tw);
  summary('verify against the dummy hash', td);
}

async function grpcLogin() {
  const { createServiceClient } = require(join(root, 'services', 'common', 'dist', 'index.js'));
  const { testLogger, TEST_TOKEN } = require(join(root, 'services', 'common', 'dist', 'testing.js'));
  const { createTestDatabase } = require(join(root, 'prisma', 'dist', 'testing.js'));
  const { auth } = require(join(root, 'proto', 'dist', 'src', 'index.js'));
  const { startAuthServer } = require(join(root, 'services', 'auth', 'dist', 'server.js'));
  const db = await createTestDatabase();
  const srv = await startAuthServer({ addr: '127.0.0.1:0', log: testLogger(), token: TEST_TOKEN, databaseUrl: db.url });
  const c = createServiceClient(auth.AuthServiceClient, `127.0.0.1:${srv.port}`, { token: TEST_TOKEN, timeoutMs: 10_000 });
  try {
    const email = 'bench@etu.example';
    await c.call.register({ lastName: 'Bench', firstName: 'Mark', email, password: 'le bon mot de passe' });
    const wrong = [];
    const unknown = [];
    const right = [];
    const fail = (p) =>
      p.then(
        () => Promise.reject(new Error('expected a failure')),
        () => undefined,
      );
    for (let i = 0; i < N; i++) {
      // Interleaved so that machine noise hits both series alike.
      wrong.push(await time(() => fail(c.call.authenticate({ email, password: 'pas le bon' }))));
      unknown.push(await time(() => fail(c.call.authenticate({ email: `x${i}@etu.example`, password: 'pas le bon' }))));
      right.push(await time(() => c.call.authenticate({ email, password: 'le bon mot de passe' })));
    }
    console.log('\nAuthenticate through gRPC (client round trip)');
    summary('wrong password', wrong);
    summary('unknown email', unknown);
    summary('right password', right);
  } finally {
    c.close();
    await srv.close();
    await db.drop();
  }
}

(async () => {
  await hashing();
  if (process.argv.includes('--grpc')) await grpcLogin();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

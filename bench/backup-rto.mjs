// `node bench/backup-rto.mjs`: the recovery time of `make restore` for the demo data, measured
// on this machine without touching the stores of `make run`: a database and a redis-server of
// its own, the seed's 7 accounts (6 students, 1 admin) and 12 listings, every part started as
// `make run` starts it, some logins and calls; then scripts/backup.sh, everything destroyed,
// then timed: scripts/restore.sh (the stores), and until the restarted parts answer /readyz 200.
// Prints the archive's contents and size, and both times. Needs `make build`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'services', 'auth', 'package.json'));
const { Accounts } = require(join(root, 'services/auth/dist/accounts.js'));
const { DEMO_STUDENTS, demoEmail } = require(join(root, 'services/auth/dist/seed.js'));
const { Market } = require(join(root, 'services/market/dist/market.js'));
const { seedDemoListings } = require(join(root, 'services/market/dist/demo.js'));
const { createPrismaClient, Role } = require(join(root, 'prisma/dist/index.js'));
const { createLogger } = require(join(root, 'services/common/dist/index.js'));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), 'etu-rto-'));
const dbName = `etu_rto_${randomBytes(4).toString('hex')}`;
const server = process.env.TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test';
const dbUrl = server.replace(/\/[^/]*$/, `/${dbName}`);
const redisPort = await freePort();
const redisUrl = (db) => `redis://127.0.0.1:${redisPort}/${db}`;

const redis = spawn(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work],
  { stdio: 'ignore' },
);
let parts = [];
const password = 'demo-password-1234';

async function startParts() {
  const [a, m, l, s, g] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    INTERNAL_TOKEN: 'rto-internal-token-0123456789abcdef',
    SESSION_KEYS: 'rto-session-key-0123456789abcdef',
    DATABASE_URL: dbUrl,
    LIMITER_REDIS_URL: redisUrl(0),
    STATS_REDIS_URL: redisUrl(1),
    SESSION_REDIS_URL: redisUrl(2),
    AUTH_ADDR: `127.0.0.1:${a}`,
    MARKET_ADDR: `127.0.0.1:${m}`,
    LIMITER_ADDR: `127.0.0.1:${l}`,
    STATS_ADDR: `127.0.0.1:${s}`,
    PORT: String(g),
    HOST: '127.0.0.1',
  };
  parts = ['services/auth', 'services/market', 'services/limiter', 'services/stats', 'gateway'].map((p) =>
    spawn(process.execPath, [join(root, p, 'dist/main.js')], { env, stdio: 'ignore' }),
  );
  const url = `http://127.0.0.1:${g}`;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  return { url, env };
}

async function stopParts() {
  await Promise.all(parts.map((p) => new Promise((r) => (p.exitCode !== null ? r() : (p.once('exit', r), p.kill('SIGTERM'))))));
  parts = [];
}

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
}

try {
  await sleep(300);
  run(process.execPath, ['prisma/dist/cli.js', 'migrate'], { DATABASE_URL: dbUrl });
  // The demo data, as the seed makes it.
  const prisma = createPrismaClient(dbUrl);
  const accounts = new Accounts(prisma, createLogger('rto', 'silent'));
  const demo = [];
  for (const n of DEMO_STUDENTS) demo.push(await accounts.register({ ...n, email: demoEmail(n.firstName, n.lastName), password }));
  demo.push(
    await accounts.register(
      { firstName: 'Administrateur', lastName: 'EtuServices', email: 'admin@etuservices.example', password },
      { role: Role.ADMIN },
    ),
  );
  await seedDemoListings(
    new Market(prisma),
    prisma,
    demo.map((a) => ({ id: a.id, email: a.email, role: a.role })),
  );
  await prisma.$disconnect();

  let { url, env } = await startParts();
  run(process.execPath, ['services/auth/dist/register-users.js'], env);
  // Some activity: each student logs in and makes one call (statistics, quotas, sessions).
  for (const a of demo.slice(0, 6)) {
    const jar = [];
    const get = async (path) => {
      const r = await fetch(url + path, { headers: { cookie: jar.join('; '), accept: 'application/json' }, redirect: 'manual' });
      for (const c of r.headers.getSetCookie()) jar.push(c.split(';')[0]);
      return r;
    };
    const post = async (path, form) => {
      const r = await fetch(url + path, {
        method: 'POST',
        headers: { cookie: jar.join('; '), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(form),
        redirect: 'manual',
      });
      for (const c of r.headers.getSetCookie()) jar.push(c.split(';')[0]);
      return r;
    };
    const { csrfToken } = await (await get('/login')).json();
    await post('/login', { email: a.email, password, _csrf: csrfToken });
    const page = await (await get('/services')).json();
    await post('/services/vente', {
      titre: `Objet de ${a.firstName}`,
      categorie: 'autre',
      etat: 'bon',
      prix: '3',
      description: '',
      _csrf: page.csrfToken,
    });
  }

  const scriptEnv = { ...env, BACKUP_DIR: join(work, 'backups'), ETU_SECRETS_DIR: join(work, 'secrets') };
  mkdirSync(join(work, 'secrets'), { mode: 0o700 });
  writeFileSync(join(work, 'secrets', 'local.env'), `INTERNAL_TOKEN=${env.INTERNAL_TOKEN}\nSESSION_KEYS=${env.SESSION_KEYS}\n`, {
    mode: 0o600,
  });
  const b0 = Date.now();
  const backupOut = run('scripts/backup.sh', [], scriptEnv).stdout.trim().split('\n');
  const archive = backupOut.at(-1);
  const backupMs = Date.now() - b0;
  const contents = run('tar', ['-tzvf', archive]).stdout;

  await stopParts();
  run('mariadb', ['-uroot', '-h127.0.0.1', '-e', `DROP DATABASE \`${dbName}\``]);
  run('redis-cli', ['-p', String(redisPort), 'FLUSHALL']);

  const t0 = Date.now();
  run('scripts/restore.sh', [archive], scriptEnv);
  const storesMs = Date.now() - t0;
  ({ url } = await startParts());
  const totalMs = Date.now() - t0;

  console.log(`archive: ${archive.split('/').at(-1)}, ${statSync(archive).size} bytes (backup took ${backupMs} ms)`);
  console.log(contents.trim().replace(/^/gm, '  '));
  console.log(backupOut.slice(0, -1).join('\n'));
  console.log(`RTO: stores restored in ${storesMs} ms; parts serving (/readyz 200) ${totalMs} ms after the restore began`);
  console.log(
    `machine: load average ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await stopParts();
  spawnSync('mariadb', ['-uroot', '-h127.0.0.1', '-e', `DROP DATABASE IF EXISTS \`${dbName}\``]);
  redis.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

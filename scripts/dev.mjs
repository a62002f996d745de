// `make run`: starts every part as its own process with logs prefixed by part, waits until each
// is healthy, prints the URL and the demo logins, and stops everything cleanly on Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'services', 'common', 'package.json'));
const { ensureLocalSecrets, checkHealth } = require(join(root, 'services', 'common', 'dist', 'index.js'));

const env = { ...process.env };
if (env.NODE_ENV !== 'production') ensureLocalSecrets(); // generated once, read by every part
// The parts, their local ports and address variables: parts.json, the one list.
const { parts: known } = JSON.parse(readFileSync(join(root, 'parts.json'), 'utf8'));
const port = env[known.find((p) => p.kind === 'http').addrVar] ?? String(known.find((p) => p.kind === 'http').port);
const parts = known.map((p) => ({
  name: p.name,
  main: p.run[0],
  // METRICS_PORT is one name for every part: each gets its own default (parts.json); `off` turns them all off.
  metricsPort: env.METRICS_PORT === 'off' ? 'off' : String(p.metricsPort),
  ...(p.kind === 'grpc' ? { addr: env[p.addrVar] ?? `127.0.0.1:${p.port}` } : {}),
}));
const palette = [36, 33, 35, 32, 34, 31];
const colors = Object.fromEntries(parts.map((p, i) => [p.name, palette[i % palette.length]]));
const width = Math.max(...parts.map((p) => p.name.length));

function pretty(line) {
  // pino JSON → "HH:MM:SS level msg {rest}"; anything else unchanged.
  try {
    const o = JSON.parse(line);
    const { time, level, msg, part, name, pid, hostname, ...rest } = o;
    const t = typeof time === 'string' ? time.slice(11, 19) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${t} ${String(level).padEnd(5)} ${msg ?? ''}${extra}`;
  } catch {
    return line;
  }
}

let stopping = false;
const children = [];
for (const p of parts) {
  const child = spawn(process.execPath, [join(root, p.main)], {
    env: { ...env, METRICS_PORT: p.metricsPort },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `\x1b[${colors[p.name]}m[${p.name.padEnd(width)}]\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        process.stdout.write(prefix + pretty(buf.slice(0, i)) + '\n');
        buf = buf.slice(i + 1);
      }
    });
  }
  child.on('exit', (code, signal) => {
    p.exited = true;
    if (!stopping) {
      console.error(`${prefix}exited unexpectedly (${signal ?? `code ${code}`}); stopping everything`);
      stop(1);
    } else if (children.every((c) => c.part.exited)) {
      process.exit(process.exitCode ?? 0);
    }
  });
  child.part = p;
  children.push(child);
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  console.log('\nStopping every part…');
  for (const c of children) if (!c.part.exited) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children) if (!c.part.exited) c.kill('SIGKILL');
    process.exit(code || 1);
  }, 15_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function waitHealthy() {
  const deadline = Date.now() + 30_000;
  for (const p of parts) {
    for (;;) {
      if (stopping) return false;
      try {
        if (p.addr) {
          if ((await checkHealth(p.addr, '', 500)) === 'SERVING') break;
        } else {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (r.ok) break;
        }
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        console.error(`[${p.name}] not healthy after 30 s; stopping`);
        stop(1);
        return false;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return true;
}

// Seeded accounts are created straight in the database (before the services start), and after a
// restore or a Redis that lost its data the statistics may lack accounts: make every account
// known to them (idempotent) so that each ranks in "least service users", 0 calls at least.
function registerUsers() {
  const stats = parts.find((p) => p.name === 'stats');
  const r = spawnSync(process.execPath, [join(root, 'services', 'auth', 'dist', 'register-users.js')], {
    env: { ...env, STATS_ADDR: stats.addr },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) console.error('[stats] could not register the accounts with the statistics (see above)');
}

if (await waitHealthy()) {
  registerUsers();
  const demo = join(root, '.secrets', 'demo-accounts.txt');
  console.log('\n==============================================================');
  console.log(` EtuServices is running: http://127.0.0.1:${port}/`);
  if (existsSync(demo)) {
    console.log(' Demo logins (also in .secrets/demo-accounts.txt):');
    for (const l of readFileSync(demo, 'utf8').trim().split('\n')) console.log(`   ${l}`);
  }
  console.log(' Prometheus metrics of each part (deploy/monitoring scrapes them; docs/operations.md "Watching it"):');
  for (const p of parts)
    console.log(
      `   ${p.name.padEnd(width)}  ${p.metricsPort === 'off' ? 'off (METRICS_PORT=off)' : `http://127.0.0.1:${p.metricsPort}/metrics`}`,
    );
  // The gateway writes its mails (a seller told of a sale, a password reset link) here unless SMTP_URL is set.
  console.log(
    env.SMTP_URL || env.SMTP_URL_FILE
      ? ' E-mails: sent through SMTP_URL.'
      : ` E-mails (purchases, « Mot de passe oublié »): written as .eml files into ${env.MAIL_OUTBOX_DIR ?? join(root, 'outbox')}`,
  );
  console.log(' Ctrl-C stops everything.');
  console.log('==============================================================\n');
}

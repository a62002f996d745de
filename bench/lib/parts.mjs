// Starting the project's parts for the bench: each built dist/main.js in its own process, on
// a free port, with the bench's own Redis/database and secrets in its environment, waited for
// until its health check answers SERVING (gRPC) or /healthz answers 200 (gateway).
import { join } from 'node:path';
import { common, mainOf, partOf } from './project.mjs';
import { BENCH_DIR, freePort, ROOT, spawnTracked, stopChild, waitFor } from './util.mjs';

/** Environment every part gets: nothing from the caller's shell but PATH/HOME, so a developer's
 * exported variables (pointing at the shared Redis, say) cannot leak into the bench. */
export function baseEnv(ctx, extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    // the parts' default (info), as in production; logs go to bench/tmp/logs/<part>.log
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    INTERNAL_TOKEN: ctx.token,
    // each part's /metrics on a free port (never make run's 9400-9404); BENCH_AB=METRICS_PORT=off measures their cost
    METRICS_PORT: '0',
    SESSION_KEYS: ctx.sessionKeys,
    // should a part still look for the local secrets file, it finds the bench's own
    ETU_SECRETS_FILE: join(BENCH_DIR, 'tmp', 'secrets.env'),
    // the sale mails of the bench's purchases (gateway, monolith): never the repository's outbox
    MAIL_OUTBOX_DIR: join(BENCH_DIR, 'tmp', 'outbox'),
    ...(process.env.BENCH_PATCHES ? { BENCH_PATCHES: process.env.BENCH_PATCHES } : {}),
    // experiment: node options for every part (e.g. --max-semi-space-size=32)
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...extra,
  };
}

/** node options for a part: an experiment's preload (BENCH_PATCHES) and the caller's. */
function withPatches(nodeArgs, patches = process.env.BENCH_PATCHES) {
  return patches ? ['--require', join(BENCH_DIR, 'experiments', 'patches.cjs'), ...nodeArgs] : nodeArgs;
}

/** A gRPC part: `part` names its entry in parts.json (hence its address variable) and log; `script` defaults to its dist/main.js. */
export async function startGrpcPart(ctx, part, env, nodeArgs = [], script = null, logName = part) {
  const port = await freePort();
  const { addrVar } = partOf(part);
  const addr = `127.0.0.1:${port}`;
  const child = spawnTracked(process.execPath, [...withPatches(nodeArgs, env.BENCH_PATCHES), script ?? mainOf(part)], {
    cwd: ROOT,
    env: baseEnv(ctx, { [addrVar]: addr, ...env }),
    logFile: join(BENCH_DIR, 'tmp', 'logs', `${logName}.log`),
  });
  const { checkHealth } = common();
  await waitFor(
    `${part} on ${addr}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${part} exited ${child.exitCode}: ${child.tail.slice(-800)}`);
      return (await checkHealth(addr, '', 500)) === 'SERVING';
    },
    20_000,
    150,
  );
  return { part, addr, port, pid: child.pid, child, stop: () => stopChild(child) };
}

export async function startHttpPart(ctx, name, script, env, nodeArgs = []) {
  const port = await freePort();
  const child = spawnTracked(process.execPath, [...withPatches(nodeArgs, env.BENCH_PATCHES), script], {
    cwd: ROOT,
    env: baseEnv(ctx, { PORT: String(port), HOST: '127.0.0.1', ...env }),
    logFile: join(BENCH_DIR, 'tmp', 'logs', `${name}.log`),
  });
  await waitFor(
    `${name} on :${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${child.tail.slice(-800)}`);
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      return r.status === 200;
    },
    20_000,
    150,
  );
  return { name, port, url: `http://127.0.0.1:${port}`, pid: child.pid, child, stop: () => stopChild(child) };
}

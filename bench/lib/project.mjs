// Where the bench finds the project's own pieces (built by `make build` into dist/). Each
// finder returns the piece or throws an Error saying what is missing, so a phase can be
// reported as skipped with that reason instead of crashing the whole run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT, BENCH_DIR } from './util.mjs';

export const require = createRequire(join(ROOT, 'package.json'));

const p = (...parts) => join(ROOT, ...parts);

function load(rel, what) {
  const file = p(rel);
  if (!existsSync(file)) throw new Error(`${what}: ${rel} not found (run make build)`);
  return require(file);
}

/**
 * A module of services/limiter: from dist/ when built; otherwise (only while the limiter is
 * being written and not yet built) transpiled from src/ into bench/tmp so the bench can be
 * developed against it. `make bench` builds first, so the real run always uses dist/.
 */
function limiterModule(name) {
  const dist = p('services/limiter/dist', `${name}.js`);
  if (existsSync(dist)) return { mod: require(dist), from: 'dist' };
  const src = p('services/limiter/src', `${name}.ts`);
  if (!existsSync(src)) throw new Error(`services/limiter/src/${name}.ts not found`);
  const ts = require('typescript');
  const out = join(BENCH_DIR, 'tmp', 'limiter-src');
  mkdirSync(out, { recursive: true });
  for (const f of ['sliding-window-script', 'sliding-window', 'policies']) {
    const s = p('services/limiter/src', `${f}.ts`);
    if (!existsSync(s)) continue;
    const js = ts.transpileModule(readFileSync(s, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    writeFileSync(join(out, `${f}.js`), js);
  }
  return { mod: require(join(out, `${name}.js`)), from: 'src (not built yet)' };
}

/**
 * The limiter's Lua script and how the service calls it. The KEYS/ARGV come from the store's
 * own argument builder (SlidingWindowStore#args, private in TypeScript but there at run time),
 * so redis-benchmark and the memory phase call the script exactly as the service does even
 * when the limiter renames its helpers; keyFor + the width helper are the fallback.
 */
export function limiterScript() {
  const { mod: scriptMod, from } = limiterModule('sliding-window-script');
  const lua = Object.values(scriptMod).find((v) => typeof v === 'string' && /redis\.call/.test(v));
  if (!lua) throw new Error('no Lua script exported by services/limiter/src/sliding-window-script.ts');
  const { mod: sw } = limiterModule('sliding-window');
  if (typeof sw.SlidingWindowStore !== 'function') throw new Error('services/limiter sliding-window module no longer exports SlidingWindowStore');
  const probe = new sw.SlidingWindowStore({ defineCommand() {}, slidingWindow() {} });
  let args;
  if (typeof probe.args === 'function') {
    args = (policy, subject, cost) => probe.args({ policy, subject, cost });
  } else {
    const width = sw.offsetWidth ?? sw.ageWidth;
    if (typeof sw.keyFor !== 'function' || typeof width !== 'function') throw new Error('cannot tell how the limiter calls its script (no args(), keyFor or width helper)');
    args = (policy, subject, cost) => [sw.keyFor(policy.name, subject), policy.limit, policy.windowMs, cost, width(policy.windowMs)];
  }
  return {
    lua,
    from,
    /** KEYS[1] for a subject. */
    keyFor: (policyName, subject) => args({ ...SERVICE_POLICY, name: policyName }, subject, 1)[0],
    /** ARGV after the key, exactly as SlidingWindowStore passes them. */
    argv: (policy, cost = 1) => args(policy, 'x', cost).slice(1),
    SlidingWindowStore: sw.SlidingWindowStore,
  };
}

/** The policy the site uses for Vente/Achat: 10 calls per 10 minutes. */
export const SERVICE_POLICY = { name: 'service', limit: 10, windowMs: 600_000 };

export function common() {
  return load('services/common/dist/index.js', '@etu/common');
}

export function proto() {
  return load('proto/dist/src/index.js', '@etu/proto');
}

/** The coalescing client of @etu/limiter, when the limiter exports it. */
export function limiterClientFactory() {
  const mod = load('services/limiter/dist/index.js', '@etu/limiter');
  if (typeof mod.createLimiterClient !== 'function') throw new Error('@etu/limiter does not export createLimiterClient yet');
  return mod.createLimiterClient;
}

/** The parts as parts.json (the one list, at the repository root) describes them. */
export const PARTS = JSON.parse(readFileSync(p('parts.json'), 'utf8')).parts;

/** One part's entry of parts.json (name, folder, kind, addrVar, port, health, run). */
export function partOf(name) {
  const hit = PARTS.find((x) => x.name === name);
  if (!hit) throw new Error(`parts.json lists no part named "${name}"`);
  return hit;
}

/** The entry point (dist/main.js) of a part, for spawning it with its env. */
export function mainOf(part) {
  const rel = partOf(part).run[0];
  if (!existsSync(p(rel))) throw new Error(`${rel} not found (run make build)`);
  return p(rel);
}

export function gitCommit() {
  try {
    return require('node:child_process').execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'nogit';
  }
}

// Where the bench finds the project's own pieces (built by `make build` into dist/). Each
// finder returns the piece or throws an Error saying what is missing, so a phase can be
// reported as skipped with that reason instead of crashing the whole run.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './util.mjs';

export const require = createRequire(join(ROOT, 'package.json'));

const p = (...parts) => join(ROOT, ...parts);

function load(rel, what) {
  const file = p(rel);
  if (!existsSync(file)) throw new Error(`${what}: ${rel} not found (run make build)`);
  return require(file);
}

/**
 * The limiter's Lua script and how the service calls it, through @etu/limiter's public API
 * only (SLIDING_WINDOW_LUA, scriptCall, SlidingWindowStore), so redis-benchmark and the memory
 * phase call the script exactly as the service does.
 */
export function limiterScript() {
  const mod = load('services/limiter/dist/index.js', '@etu/limiter');
  const { SLIDING_WINDOW_LUA: lua, scriptCall, SlidingWindowStore } = mod;
  if (typeof lua !== 'string' || typeof scriptCall !== 'function' || typeof SlidingWindowStore !== 'function') {
    throw new Error('@etu/limiter does not export SLIDING_WINDOW_LUA, scriptCall and SlidingWindowStore');
  }
  const args = (policy, subject, cost) => scriptCall({ policy, subject, cost });
  return {
    lua,
    from: 'dist',
    /** KEYS[1] for a subject. */
    keyFor: (policyName, subject) => args({ ...SERVICE_POLICY, name: policyName }, subject, 1)[0],
    /** ARGV after the key, exactly as SlidingWindowStore passes them. */
    argv: (policy, cost = 1) => args(policy, 'x', cost).slice(1),
    SlidingWindowStore,
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

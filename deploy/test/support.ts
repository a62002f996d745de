// What the deploy/ tests share: where the artefacts are, and the compose semantics they need
// (.env files, ${...} interpolation, a service's environment). No test here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..');
export const DEPLOY = join(ROOT, 'deploy');
export const COMPOSE_FILE = join(DEPLOY, 'compose.yaml');
export const ENV_EXAMPLE = join(DEPLOY, '.env.example');
export const DOCKERFILE = join(DEPLOY, 'Dockerfile');

export type Env = Record<string, string | undefined>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- compose.yaml's free-form YAML; the tests assert each field they read
export type Service = Record<string, any>;
// ---------------------------------------------------------------------------------------------
// Compose semantics needed here: .env files, ${...} interpolation, environment of a service.

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // `=(.*)` then trimStart, not `=\s*(.*)$`: two quantifiers that can trade spaces backtrack quadratically.
    const m = /^(?:export\s+)?([A-Za-z_]\w*)\s*=(.*)$/.exec(line);
    if (!m) throw new Error(`not a KEY=value line: ${line}`);
    let v = m[2]!.trimStart();
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

export const VAR_REF = /\$\$|\$\{([A-Z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Z_]\w*)/gi;

/** Compose's interpolation: $$, ${V}, ${V:-d}, ${V-d}, ${V:?err}, ${V?err}, $V. */
export function interpolate(value: string, env: Env, errors: string[]): string {
  return value.replace(
    VAR_REF,
    (m, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (m === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = env[name];
      switch (op) {
        case ':-':
          return v ? v : (arg ?? '');
        case '-':
          return v !== undefined ? v : (arg ?? '');
        case ':?':
          if (!v) errors.push(`${name}: ${arg}`);
          return v ?? '';
        case '?':
          if (v === undefined) errors.push(`${name}: ${arg}`);
          return v ?? '';
        default:
          if (v === undefined) errors.push(`${name}: referenced without a default and not set`);
          return v ?? '';
      }
    },
  );
}

function interpolateTree<T>(node: T, env: Env, errors: string[]): T {
  if (typeof node === 'string') return interpolate(node, env, errors) as T;
  if (Array.isArray(node)) return node.map((n) => interpolateTree(n, env, errors)) as T;
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, errors)])) as T;
  }
  return node;
}

export function loadCompose(env: Env): {
  model: {
    services: Record<string, Service>;
    networks?: Record<string, unknown>;
    volumes?: Record<string, unknown>;
    secrets?: Record<string, { file: string }>;
  };
  errors: string[];
} {
  const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
  if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  const errors: string[] = [];
  // Extension fields (x-*) are templates merged into services; only the services' copies count.
  const raw = doc.toJS() as Record<string, unknown>;
  const model = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  return { model: interpolateTree(model, env, errors) as never, errors };
}

/** A service's environment as its container sees it: env_file entries, then `environment`. */
export function serviceEnv(svc: Service): Record<string, string> {
  const out: Record<string, string> = {};
  const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
  for (const f of files) {
    const path = typeof f === 'string' ? f : f.path;
    const file = resolve(DEPLOY, path === '.env' ? '.env.example' : path);
    Object.assign(out, parseEnvFile(readFileSync(file, 'utf8')));
  }
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    for (const e of env as string[]) {
      const i = e.indexOf('=');
      if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
    }
  } else {
    for (const [k, v] of Object.entries(env)) if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

export const partOf = (svc: Service): string | undefined => svc.build?.args?.SERVICE;

// ---------------------------------------------------------------------------------------------
// Fixtures: .env.example as an operator copies it, and the secret files deploy/secrets.sh writes.

export const envExampleText = readFileSync(ENV_EXAMPLE, 'utf8');
export const envExample = parseEnvFile(envExampleText);

/** Runs deploy/secrets.sh into a new private folder, as an operator would. */
export function writeSecrets(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'etu-secrets-')), 'secrets');
  const r = spawnSync('sh', [join(DEPLOY, 'secrets.sh')], { env: { PATH: process.env.PATH, SECRETS_DIR: dir }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`deploy/secrets.sh failed: ${r.stderr}`);
  return dir;
}

/**
 * A service's environment with each `<NAME>_FILE=/run/secrets/<secret>` it mounts replaced by
 * NAME=<the secret file's content>, as the parts' config loaders read it.
 */
export function withSecretFiles(svc: Service, secrets: Record<string, { file: string }>): Record<string, string> {
  const env = serviceEnv(svc);
  const mounted = new Set<string>((svc.secrets ?? []).map((x: string | { source: string }) => (typeof x === 'string' ? x : x.source)));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    const m = /^\/run\/secrets\/(.+)$/.exec(v);
    if (!k.endsWith('_FILE') || !m || !mounted.has(m[1]!)) out[k] = v;
    else out[k.slice(0, -'_FILE'.length)] = readFileSync(resolve(DEPLOY, secrets[m[1]!]!.file), 'utf8');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile and start.sh (also read by compose.test.ts: each part's entry files)

export interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** Instructions (comments dropped, continuations joined) grouped by stage. */
export function dockerfileStages(text: string): Stage[] {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ name: from[2] ?? String(stages.length), from: from[1]!, lines: [] });
    else if (stages.length) stages[stages.length - 1]!.lines.push(line);
  }
  return stages;
}

/** The files deploy/start.sh runs for SERVICE=part (what the image's CMD execs). */
export function entryFiles(part: string): string[] {
  const r = spawnSync('sh', [join(DEPLOY, 'start.sh'), '--print'], { env: { PATH: process.env.PATH, SERVICE: part }, encoding: 'utf8' });
  expect([part, r.status, r.stderr]).toEqual([part, 0, '']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]!);
}

/** `services/auth/dist/main.js` → `services/auth/src/main.ts`; deploy scripts are their own source. */
export function sourceOf(file: string): string {
  if (file.startsWith('deploy/')) return file;
  const m = /^(.*?)\/dist\/(?:src\/)?(.*)\.js$/.exec(file);
  if (!m) throw new Error(`unexpected entry file ${file}`);
  return `${m[1]}/src/${m[2]}.ts`;
}

/** The directives of redis-common.conf then redis-<role>.conf (the later file wins), as Redis reads them. */
export function redisConf(role: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['redis-common.conf', `redis-${role}.conf`]) {
    for (const raw of readFileSync(join(DEPLOY, f), 'utf8').split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const i = line.indexOf(' ');
      out[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return out;
}

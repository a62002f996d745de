// What can be validated of deploy/ on a machine without a Docker engine: the compose file, the
// Dockerfile, the .env example and the scripts the images run. Nothing here builds or starts a
// container. `docker compose config` is used when a compose client is installed, and reported
// as skipped otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import Redis from 'ioredis';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { parseConfig, requireSecret } from '../../services/common/src/config';
import { configShape as authShape, seedConfigShape } from '../../services/auth/src/config';
import { registerSeededShape } from '../../services/stats/src/register-seeded';
import { configShape as marketShape } from '../../services/market/src/config';
import { configShape as limiterShape } from '../../services/limiter/src/config';
import { configShape as statsShape } from '../../services/stats/src/config';
import { configShape as gatewayShape, loadConfig as loadGatewayConfig } from '../../gateway/src/config';

const ROOT = resolve(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const COMPOSE_FILE = join(DEPLOY, 'compose.yaml');
const ENV_EXAMPLE = join(DEPLOY, '.env.example');
const DOCKERFILE = join(DEPLOY, 'Dockerfile');

type Env = Record<string, string | undefined>;
type Shape = Record<string, z.ZodType>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Service = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// The parts, as the Dockerfile's SERVICE names them.

/** Long-running parts: their config schema and the variable holding their own listen address. */
const PARTS: Record<string, { shape: Shape; listen?: string }> = {
  auth: { shape: authShape, listen: 'AUTH_ADDR' },
  market: { shape: marketShape, listen: 'MARKET_ADDR' },
  limiter: { shape: limiterShape, listen: 'LIMITER_ADDR' },
  stats: { shape: statsShape, listen: 'STATS_ADDR' },
  gateway: { shape: gatewayShape },
};
/** One-shot jobs: every variable their programs read (migrate: prisma/src/cli.ts reads DATABASE_URL). */
const JOBS: Record<string, { shapes: Shape[]; extra: string[] }> = {
  migrate: { shapes: [], extra: ['NODE_ENV', 'DATABASE_URL'] },
  // auth seed, market seed (DATABASE_URL), services/stats register-seeded (STATS_ADDR, INTERNAL_TOKEN)
  seed: { shapes: [seedConfigShape, registerSeededShape], extra: ['DATABASE_URL'] },
};
/** `<SVC>_ADDR` → the part that listens there. */
const ADDR_OWNER: Record<string, string> = { AUTH_ADDR: 'auth', MARKET_ADDR: 'market', LIMITER_ADDR: 'limiter', STATS_ADDR: 'stats' };
/** Redis URL → the database number DESIGN.md gives it, and the instance that holds it alone. */
const REDIS_DB: Record<string, string> = { LIMITER_REDIS_URL: '0', STATS_REDIS_URL: '1', SESSION_REDIS_URL: '2' };
const REDIS_ROLE: Record<string, 'limiter' | 'stats' | 'sessions'> = { LIMITER_REDIS_URL: 'limiter', STATS_REDIS_URL: 'stats', SESSION_REDIS_URL: 'sessions' };
const REDIS_ROLES = ['limiter', 'stats', 'sessions'] as const;
/** Secrets: optional in the schemas (generated for local runs) but fatal when missing in production. */
const SECRETS = ['INTERNAL_TOKEN', 'SESSION_KEYS'];
const WILDCARD_HOSTS = ['0.0.0.0', '[::]', '::'];

// ---------------------------------------------------------------------------------------------
// Compose semantics needed here: .env files, ${...} interpolation, environment of a service.

function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`not a KEY=value line: ${line}`);
    let v = m[2]!;
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

const VAR_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Compose's interpolation: $$, ${V}, ${V:-d}, ${V-d}, ${V:?err}, ${V?err}, $V. */
function interpolate(value: string, env: Env, errors: string[]): string {
  return value.replace(VAR_REF, (m, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
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
  });
}

function interpolateTree<T>(node: T, env: Env, errors: string[]): T {
  if (typeof node === 'string') return interpolate(node, env, errors) as T;
  if (Array.isArray(node)) return node.map((n) => interpolateTree(n, env, errors)) as T;
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, errors)])) as T;
  }
  return node;
}

function loadCompose(env: Env): { model: { services: Record<string, Service>; networks?: Record<string, unknown>; volumes?: Record<string, unknown> }; errors: string[] } {
  const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
  if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  const errors: string[] = [];
  // Extension fields (x-*) are templates merged into services; only the services' copies count.
  const raw = doc.toJS() as Record<string, unknown>;
  const model = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  return { model: interpolateTree(model, env, errors) as never, errors };
}

/** A service's environment as its container sees it: env_file entries, then `environment`. */
function serviceEnv(svc: Service): Record<string, string> {
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
    for (const [k, v] of Object.entries(env)) if (v !== null && v !== undefined) out[k] = String(v);
  }
  return out;
}

const partOf = (svc: Service): string | undefined => svc.build?.args?.SERVICE;

// ---------------------------------------------------------------------------------------------
// Fixtures: .env.example with its empty secrets filled in, as an operator would.

const envExampleText = readFileSync(ENV_EXAMPLE, 'utf8');
const envExample = parseEnvFile(envExampleText);
const filledSecrets = {
  INTERNAL_TOKEN: randomBytes(32).toString('base64'),
  SESSION_KEYS: `${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')}`,
  MARIADB_PASSWORD: randomBytes(32).toString('hex'),
  MARIADB_ROOT_PASSWORD: randomBytes(32).toString('hex'),
};
const operatorEnv: Env = { ...envExample, ...filledSecrets };
const { model: compose, errors: interpolationErrors } = loadCompose(operatorEnv);
const services = compose.services;
const names = Object.keys(services);
const longRunning = names.filter((n) => services[n]!.restart !== 'no');

function hostOf(addr: string): { host: string; port: string } {
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) throw new Error(`not host:port: ${addr}`);
  return { host: m[1]!, port: m[2]! };
}

/** The compose service built with SERVICE=<part> (one per part). */
function serviceOfPart(part: string): [string, Service] {
  const hits = Object.entries(services).filter(([, s]) => partOf(s) === part);
  expect(hits.map(([n]) => n)).toHaveLength(1);
  return hits[0]!;
}

/** The directives of redis-common.conf then redis-<role>.conf (the later file wins), as Redis reads them. */
function redisConf(role: string): Record<string, string> {
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

describe('deploy/compose.yaml', () => {
  test('parses as YAML, with no duplicate key, and interpolates with .env.example plus the secrets', () => {
    const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    expect(interpolationErrors).toEqual([]);
    expect([...names].sort()).toEqual(['auth', 'gateway', 'limiter', 'mariadb', 'market', 'migrate', 'redis-limiter', 'redis-sessions', 'redis-stats', 'seed', 'stats']);
  });

  test('a missing secret stops compose with a message naming it', () => {
    const { errors } = loadCompose({ ...envExample });
    const named = new Set(errors.map((e) => e.split(':')[0]));
    expect([...named].sort()).toEqual(['INTERNAL_TOKEN', 'MARIADB_PASSWORD', 'MARIADB_ROOT_PASSWORD', 'SESSION_KEYS']);
    for (const e of errors) expect(e).toMatch(/deploy\/\.env/);
  });

  test('scales: no container_name, and only the gateway publishes a port', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.container_name]).toEqual([name, undefined]);
      if (name !== 'gateway') expect([name, svc.ports]).toEqual([name, undefined]);
      expect([name, svc.network_mode]).toEqual([name, undefined]); // host networking would bind host ports
    }
    const ports = services.gateway!.ports as string[];
    expect(ports).toHaveLength(1);
    // host part from GATEWAY_PORT; the container port is the gateway's PORT.
    const m = /^(?:(.+):)?(\d+)$/.exec(ports[0]!);
    expect(m).not.toBeNull();
    expect(m![2]).toBe(serviceEnv(services.gateway!).PORT);
    // GATEWAY_PORT=0 (Docker picks a free port per replica) is what the docs give for --scale.
    const { model } = loadCompose({ ...operatorEnv, GATEWAY_PORT: '0' });
    expect(model.services.gateway!.ports).toEqual(['0:3000']);
  });

  test('every depends_on, network, volume and file reference resolves; no cycle', () => {
    const conditions = ['service_started', 'service_healthy', 'service_completed_successfully'];
    for (const [name, svc] of Object.entries(services)) {
      const deps = svc.depends_on ?? {};
      const entries: Array<[string, string]> = Array.isArray(deps)
        ? deps.map((d: string) => [d, 'service_started'])
        : Object.entries(deps).map(([d, v]) => [d, (v as { condition?: string }).condition ?? 'service_started']);
      for (const [dep, condition] of entries) {
        expect([name, dep, names.includes(dep)]).toEqual([name, dep, true]);
        expect(conditions).toContain(condition);
        const target = services[dep]!;
        if (condition === 'service_healthy') expect([name, dep, !!target.healthcheck?.test]).toEqual([name, dep, true]);
        if (condition === 'service_completed_successfully') expect([name, dep, target.restart]).toEqual([name, dep, 'no']);
        // `up` without profiles must be able to start the dependency.
        if (!svc.profiles) expect([name, dep, target.profiles]).toEqual([name, dep, undefined]);
      }
      for (const ref of [svc.network_mode, ...(svc.volumes_from ?? [])].filter(Boolean) as string[]) {
        const m = /^(?:service:)?([^:]+)/.exec(ref)!;
        expect(names).toContain(m[1]);
      }
      for (const net of Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {})) {
        expect([name, net, Object.keys(compose.networks ?? {}).includes(net)]).toEqual([name, net, true]);
      }
      for (const v of (svc.volumes ?? []) as Array<string | { source?: string; type?: string }>) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect([name, source, existsSync(resolve(DEPLOY, source))]).toEqual([name, source, true]);
        } else if (source) {
          expect([name, source, Object.keys(compose.volumes ?? {}).includes(source)]).toEqual([name, source, true]);
        }
      }
    }
    // Acyclic: a topological walk visits everything.
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: string, path: string[]): void => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'visiting') throw new Error(`depends_on cycle: ${[...path, n].join(' → ')}`);
      state.set(n, 'visiting');
      for (const d of Object.keys(services[n]!.depends_on ?? {})) visit(d, [...path, n]);
      state.set(n, 'done');
    };
    for (const n of names) visit(n, []);
  });

  test('every long-running service has a healthcheck and a restart policy; jobs do not restart', () => {
    expect([...longRunning].sort()).toEqual(['auth', 'gateway', 'limiter', 'mariadb', 'market', 'redis-limiter', 'redis-sessions', 'redis-stats', 'stats']);
    for (const name of longRunning) {
      const svc = services[name]!;
      expect([name, svc.restart]).toEqual([name, expect.stringMatching(/^(always|unless-stopped|on-failure(:\d+)?)$/)]);
      expect([name, svc.healthcheck?.disable]).toEqual([name, undefined]);
      expect([name, Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test.length > 1]).toEqual([name, true]);
      expect(['CMD', 'CMD-SHELL']).toContain(svc.healthcheck.test[0]);
    }
    for (const name of ['migrate', 'seed']) expect([name, services[name]!.restart]).toEqual([name, 'no']);
    // The parts probe themselves with the script shipped in the image.
    for (const part of Object.keys(PARTS)) {
      const [name, svc] = serviceOfPart(part);
      expect([name, svc.healthcheck.test]).toEqual([name, ['CMD', 'node', '/app/deploy/healthcheck.js']]);
    }
    // The migration runs on every `up`; demo data only on request.
    expect(services.migrate!.profiles).toBeUndefined();
    expect(services.seed!.profiles).toEqual(['seed']);
  });

  test('containers run as non-root users, read-only, without capabilities', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.user]).toEqual([name, expect.any(String)]);
      expect([name, /^(root|0)(:|$)/.test(svc.user)]).toEqual([name, false]);
      expect([name, svc.read_only]).toEqual([name, true]);
      expect([name, svc.privileged]).toEqual([name, undefined]);
      expect([name, svc.cap_drop]).toEqual([name, ['ALL']]);
      expect([name, svc.security_opt]).toEqual([name, ['no-new-privileges:true']]);
      expect([name, svc.tmpfs]).toEqual([name, expect.arrayContaining(['/tmp'])]);
    }
    // Only the gateway is on the network with the published port; the rest stay internal.
    expect(compose.networks).toMatchObject({ backend: { internal: true } });
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.networks]).toEqual([name, name === 'gateway' ? ['backend', 'edge'] : ['backend']]);
    }
  });

  test.each(Object.keys(PARTS))('%s: its environment satisfies its configShape, for containers', (part) => {
    const [name, svc] = serviceOfPart(part);
    const { shape, listen } = PARTS[part]!;
    const env = serviceEnv(svc);

    // No variable that the part does not read (a typo here would silently be ignored).
    expect([name, Object.keys(env).filter((k) => !(k in shape))]).toEqual([name, []]);
    // Every value passes the part's own validation...
    expect(() => parseConfig(shape as never, env)).not.toThrow();
    // ...every variable the schema requires is there, and the production secrets too.
    for (const [k, schema] of Object.entries(shape)) {
      if (!schema.safeParse(undefined).success) expect([name, k, env[k]]).toEqual([name, k, expect.any(String)]);
      if (SECRETS.includes(k)) expect(() => requireSecret(k, env[k], 'production')).not.toThrow();
    }
    if (part === 'gateway') expect(() => loadGatewayConfig(env)).not.toThrow();
    expect([name, env.NODE_ENV]).toEqual([name, 'production']);

    // What must differ from the local-run defaults is set explicitly.
    for (const k of Object.keys(shape)) {
      if (k === listen) {
        const { host, port } = hostOf(env[k]!);
        expect([name, k, WILDCARD_HOSTS.includes(host)]).toEqual([name, k, true]); // reachable from other containers
        expect(port).toBe(hostOf(String(shape[k]!.parse(undefined))).port); // the documented port
      } else if (k in ADDR_OWNER) {
        expect([name, k, env[k]]).toEqual([name, k, expect.any(String)]);
        const { host, port } = hostOf(env[k]!);
        const [ownerName, owner] = serviceOfPart(ADDR_OWNER[k]!);
        expect([name, k, host]).toEqual([name, k, ownerName]);
        expect([name, k, port]).toEqual([name, k, hostOf(serviceEnv(owner)[k]!).port]);
      } else if (k.endsWith('_URL')) {
        expect([name, k, env[k]]).toEqual([name, k, expect.any(String)]);
        const url = new URL(env[k]!);
        expect([name, k, names.includes(url.hostname)]).toEqual([name, k, true]);
        const target = services[url.hostname]!;
        if (k === 'DATABASE_URL') expect(target.image).toMatch(/^(mariadb|mysql):/);
        else {
          expect([name, k, target.image, url.pathname]).toEqual([name, k, expect.stringMatching(/^redis:/), `/${REDIS_DB[k]}`]);
          expect([name, k, url.hostname]).toEqual([name, k, `redis-${REDIS_ROLE[k]}`]);
        }
      } else if (k === 'HOST') {
        expect([name, k, WILDCARD_HOSTS.includes(env[k] ?? '')]).toEqual([name, k, true]);
      }
    }
  });

  test('three Redis instances, each with its own config file, memory budget and volume; one part each', () => {
    const users = new Map<string, string[]>();
    for (const [name, svc] of Object.entries(services)) {
      for (const [k, v] of Object.entries(serviceEnv(svc))) {
        if (k in REDIS_ROLE) users.set(new URL(v).hostname, [...(users.get(new URL(v).hostname) ?? []), `${name}.${k}`]);
      }
    }
    // No instance is shared: a flood of one store cannot fill the limiter's memory.
    expect(Object.fromEntries(users)).toEqual({
      'redis-limiter': ['limiter.LIMITER_REDIS_URL'],
      'redis-stats': ['stats.STATS_REDIS_URL'],
      'redis-sessions': ['gateway.SESSION_REDIS_URL'],
    });
    const dataVolumes = new Set<string>();
    for (const role of REDIS_ROLES) {
      const svc = services[`redis-${role}`]!;
      expect(svc.command).toEqual([
        'redis-server',
        '/usr/local/etc/redis/redis-common.conf',
        '--include',
        `/usr/local/etc/redis/redis-${role}.conf`,
      ]);
      const mounts = (svc.volumes as string[]).map((v) => v.split(':'));
      expect(mounts).toEqual(
        expect.arrayContaining([
          ['./redis-common.conf', '/usr/local/etc/redis/redis-common.conf', 'ro'],
          [`./redis-${role}.conf`, `/usr/local/etc/redis/redis-${role}.conf`, 'ro'],
        ]),
      );
      const data = mounts.find((m) => m[1] === '/data')!;
      dataVolumes.add(data[0]!);
      const conf = redisConf(role);
      expect([role, Number.parseInt(conf.maxmemory ?? '0', 10) > 0]).toEqual([role, true]);
    }
    expect(dataVolumes.size).toBe(3);
    // What each holds decides what it may drop: never a quota log or a statistic; sessions may go.
    expect(REDIS_ROLES.map((r) => redisConf(r)['maxmemory-policy'])).toEqual(['noeviction', 'noeviction', 'volatile-lru']);
    expect(REDIS_ROLES.map((r) => redisConf(r).appendonly)).toEqual(['yes', 'yes', 'no']);
  });

  test('each service waits until what it connects to is healthy', () => {
    for (const [name, svc] of Object.entries(services)) {
      const env = serviceEnv(svc);
      const listen = PARTS[partOf(svc) ?? '']?.listen;
      const targets = new Set<string>();
      for (const [k, v] of Object.entries(env)) {
        if (k in ADDR_OWNER && k !== listen) targets.add(hostOf(v).host);
        if (k.endsWith('_URL')) targets.add(new URL(v).hostname);
      }
      for (const t of targets) {
        expect([name, t, svc.depends_on?.[t]?.condition]).toEqual([name, t, 'service_healthy']);
      }
    }
    // The database's users wait for the migration too.
    for (const [name, svc] of Object.entries(services)) {
      if (serviceEnv(svc).DATABASE_URL && name !== 'migrate') {
        expect([name, svc.depends_on?.migrate?.condition]).toEqual([name, 'service_completed_successfully']);
      }
    }
  });

  test('DATABASE_URL carries the credentials MariaDB is created with', () => {
    const db = serviceEnv(services.mariadb!);
    for (const [name, svc] of Object.entries(services)) {
      const env = serviceEnv(svc);
      if (!env.DATABASE_URL) continue;
      const url = new URL(env.DATABASE_URL);
      expect([name, url.hostname, url.port]).toEqual([name, 'mariadb', '3306']);
      expect([name, decodeURIComponent(url.username)]).toEqual([name, db.MARIADB_USER]);
      expect([name, decodeURIComponent(url.password)]).toEqual([name, db.MARIADB_PASSWORD]);
      expect([name, url.pathname]).toEqual([name, `/${db.MARIADB_DATABASE}`]);
    }
    expect(serviceEnv(services.migrate!).DATABASE_URL).toBeDefined();
    // The passwords are non-empty secrets from deploy/.env, not defaults.
    expect(db.MARIADB_PASSWORD).toBe(filledSecrets.MARIADB_PASSWORD);
    expect(db.MARIADB_ROOT_PASSWORD).toBe(filledSecrets.MARIADB_ROOT_PASSWORD);
  });

  test.each(Object.keys(JOBS))('job %s: its environment is what its programs read', (job) => {
    const [name, svc] = serviceOfPart(job);
    const env = serviceEnv(svc);
    const known = new Set([...JOBS[job]!.shapes.flatMap((s) => Object.keys(s)), ...JOBS[job]!.extra]);
    expect([name, Object.keys(env).filter((k) => !known.has(k))]).toEqual([name, []]);
    for (const shape of JOBS[job]!.shapes) expect(() => parseConfig(shape as never, env)).not.toThrow();
    expect(new URL(env.DATABASE_URL!).hostname).toBe('mariadb');
    if (env.STATS_ADDR) expect(env.STATS_ADDR).toBe(`${serviceOfPart('stats')[0]}:${hostOf(serviceEnv(serviceOfPart('stats')[1]).STATS_ADDR!).port}`);
  });

  test('each build names the Dockerfile, an existing stage and a SERVICE whose entry files exist', () => {
    const stages = dockerfileStages(readFileSync(DOCKERFILE, 'utf8'));
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.build) {
        expect([name, svc.image]).toEqual([name, expect.stringMatching(/^[a-z0-9./-]+:[\w.-]+$/)]); // pinned tag
        continue;
      }
      expect([name, resolve(DEPLOY, svc.build.context)]).toEqual([name, ROOT]);
      expect([name, resolve(ROOT, svc.build.dockerfile)]).toEqual([name, DOCKERFILE]);
      expect([name, stages.map((s) => s.name)]).toEqual([name, expect.arrayContaining([svc.build.target])]);
      expect(svc.build.target).toBe(stages[stages.length - 1]!.name); // the runtime stage is the last one
      const part = partOf(svc)!;
      const files = entryFiles(part);
      expect([name, files.length > 0]).toEqual([name, true]);
      for (const f of files) expect([name, f, existsSync(join(ROOT, sourceOf(f)))]).toEqual([name, f, true]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile and start.sh

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** Instructions (comments dropped, continuations joined) grouped by stage. */
function dockerfileStages(text: string): Stage[] {
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
function entryFiles(part: string): string[] {
  const r = spawnSync('sh', [join(DEPLOY, 'start.sh'), '--print'], { env: { PATH: process.env.PATH, SERVICE: part }, encoding: 'utf8' });
  expect([part, r.status, r.stderr]).toEqual([part, 0, '']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]!);
}

/** `services/auth/dist/main.js` → `services/auth/src/main.ts`; deploy scripts are their own source. */
function sourceOf(file: string): string {
  if (file.startsWith('deploy/')) return file;
  const m = /^(.*?)\/dist\/(?:src\/)?(.*)\.js$/.exec(file);
  if (!m) throw new Error(`unexpected entry file ${file}`);
  return `${m[1]}/src/${m[2]}.ts`;
}

describe('deploy/Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const stages = dockerfileStages(text);
  const runtime = stages[stages.length - 1]!;
  const all = stages.flatMap((s) => s.lines);

  test('multi-stage on Node 20: build, prune, runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'prune', 'runtime']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(stages[0]!.from).toBe('${NODE_IMAGE}');
    expect(runtime.from).toBe('${NODE_IMAGE}'); // a fresh base: no compiler, cache or dev tree
  });

  test('npm ci once, the build generates the code, the runtime stage has production dependencies only', () => {
    expect(all.filter((l) => /\bnpm (ci|install|i)\b/.test(l))).toEqual([expect.stringMatching(/npm ci$/)]);
    expect(stages[0]!.lines).toContain('RUN npm run build');
    const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(rootPkg.scripts.build).toMatch(/generate/); // buf generate + prisma generate, then tsc
    expect(stages[1]!.lines.join('\n')).toMatch(/npm prune --omit=dev/);
    expect(stages[1]!.lines.join('\n')).toMatch(/prune-dev-optional\.js/);
    expect(runtime.lines).toContain('COPY --from=prune /app /app');
    expect(runtime.lines.some((l) => /npm|COPY --from=build/.test(l))).toBe(false);
  });

  test('every workspace manifest is copied before npm ci (a new workspace cannot be forgotten)', () => {
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const build = stages[0]!.lines;
    const npmCi = build.findIndex((l) => /npm ci/.test(l));
    const copies = build.slice(0, npmCi).join('\n');
    expect(copies).toMatch(/COPY package\.json package-lock\.json/);
    for (const ws of workspaces) expect([ws, copies.includes(`COPY ${ws}/package.json ${ws}/`)]).toEqual([ws, true]);
  });

  test('runtime: USER node, SERVICE from the build argument, CMD chosen from it', () => {
    expect(runtime.lines).toContain('ARG SERVICE');
    expect(runtime.lines).toContain('ENV SERVICE=${SERVICE}');
    expect(runtime.lines).toContain('RUN sh deploy/start.sh --check');
    expect(runtime.lines.filter((l) => l.startsWith('USER '))).toEqual(['USER node']);
    expect(runtime.lines[runtime.lines.length - 1]).toBe('CMD ["sh", "deploy/start.sh"]');
    // SERVICE is declared after the heavy layers, so every part's image shares them.
    expect(runtime.lines.indexOf('ARG SERVICE')).toBeGreaterThan(runtime.lines.indexOf('COPY --from=prune /app /app'));
  });

  test.each(['auth', 'market', 'limiter', 'stats', 'gateway', 'migrate', 'seed'])('SERVICE=%s maps to entry files whose sources exist', (part) => {
    const files = entryFiles(part);
    for (const f of files) expect([f, existsSync(join(ROOT, sourceOf(f)))]).toEqual([f, true]);
  });

  test('start.sh refuses an unknown or empty SERVICE', () => {
    for (const service of ['', 'gatewy', 'auth;id']) {
      const r = spawnSync('sh', [join(DEPLOY, 'start.sh'), '--check'], { env: { PATH: process.env.PATH, SERVICE: service }, encoding: 'utf8' });
      expect([service, r.status]).toEqual([service, 64]);
      expect(r.stderr).toMatch(/SERVICE must be one of/);
    }
  });

  test('prune-dev-optional removes only what production never loads', () => {
    const r = spawnSync(process.execPath, [join(DEPLOY, 'prune-dev-optional.js'), '--dry-run', ROOT], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const removed = new Set(r.stdout.trim().split('\n'));
    expect(removed).toContain('prisma');
    expect(removed).toContain('typescript');
    // Nothing any workspace lists as a runtime dependency (nor its @etu siblings).
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string> }> };
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    for (const ws of workspaces) {
      for (const dep of Object.keys(lock.packages[ws]?.dependencies ?? {})) expect([ws, dep, removed.has(dep)]).toEqual([ws, dep, false]);
    }
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const toRegex = (p: string) =>
    new RegExp(
      `^${p
        .replace(/^\//, '')
        .replace(/[.+^$()|[\]{}]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*\*/g, '.*')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '(?:.*/)?')}(?:/.*)?$`,
    );
  /** Docker's rule: the last matching pattern wins; `!` re-includes. */
  const ignored = (path: string) => {
    let out = false;
    for (const p of patterns) {
      const negate = p.startsWith('!');
      if (toRegex(negate ? p.slice(1) : p).test(path)) out = !negate;
    }
    return out;
  };

  test.each([
    'node_modules/zod/package.json',
    'services/auth/node_modules/x/index.js',
    'services/auth/dist/main.js',
    'services/auth/tsconfig.tsbuildinfo',
    'proto/gen/etuservices/auth/v1/auth.ts',
    'prisma/src/generated/prisma/client.ts',
    '.secrets/local.env',
    'deploy/.env',
    '.env',
    '.git/HEAD',
    'e2e/artifacts/shot.png',
  ])('keeps %s out of the build context', (path) => expect(ignored(path)).toBe(true));

  test.each([
    'package-lock.json',
    'proto/etuservices/auth/v1/auth.proto',
    'proto/buf.gen.yaml',
    'prisma/schema.prisma',
    'prisma/migrations/20261126090000_init/migration.sql',
    'scripts/prisma-generate.mjs',
    'gateway/views/layout.njk',
    'gateway/public/site.css',
    'deploy/start.sh',
    'deploy/healthcheck.js',
    'deploy/prune-dev-optional.js',
    'tsconfig.base.json',
  ])('sends %s, which the build needs', (path) => expect(ignored(path)).toBe(false));
});

// ---------------------------------------------------------------------------------------------
// deploy/.env.example

describe('deploy/.env.example', () => {
  const referenced = new Set([...readFileSync(COMPOSE_FILE, 'utf8').matchAll(VAR_REF)].map((m) => m[1] ?? m[4]).filter(Boolean) as string[]);

  test('documents every variable compose.yaml reads, and only those', () => {
    expect([...referenced].filter((v) => !(v in envExample))).toEqual([]);
    expect(Object.keys(envExample).filter((v) => !referenced.has(v))).toEqual([]);
  });

  test('holds no real secret, and says how to generate each one', () => {
    for (const [k, v] of Object.entries(envExample)) {
      if (/TOKEN|KEYS|PASSWORD|SECRET/.test(k)) expect([k, v]).toEqual([k, '']);
      // Nothing that looks like generated key material (long runs of base64/hex).
      expect([k, /[A-Za-z0-9+/=_-]{20,}/.test(v) && /\d/.test(v) && /[A-Za-z]/.test(v)]).toEqual([k, false]);
    }
    for (const secret of ['INTERNAL_TOKEN', 'SESSION_KEYS', 'MARIADB_PASSWORD', 'MARIADB_ROOT_PASSWORD']) {
      const block = envExampleText.slice(0, envExampleText.indexOf(`\n${secret}=`));
      const comment = block.slice(block.lastIndexOf('\n\n'));
      expect([secret, /openssl rand -(base64|hex) \d+/.test(comment)]).toEqual([secret, true]);
    }
  });

  test('deploy/.env, where the real secrets go, is git-ignored', () => {
    const r = spawnSync('git', ['check-ignore', '-q', 'deploy/.env'], { cwd: ROOT });
    expect(r.status).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// deploy/healthcheck.js against real servers (it uses services/common/dist: `make test` builds first)

function runHealthcheck(env: Env): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(DEPLOY, 'healthcheck.js')], {
      env: { PATH: process.env.PATH, HEALTHCHECK_TIMEOUT_MS: '1500', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => resolvePromise({ code, out }));
  });
}

describe('deploy/healthcheck.js', () => {
  test('gRPC part: healthy only while the server says SERVING, probed over loopback', async () => {
    expect(existsSync(join(ROOT, 'services', 'common', 'dist', 'index.js'))).toBe(true);
    const server = new grpc.Server();
    const health = new HealthImplementation({ '': 'NOT_SERVING' });
    health.addToServer(server);
    const port = await new Promise<number>((ok, ko) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
    );
    try {
      // The container sets the wildcard listen address; the probe must use loopback.
      const env = { SERVICE: 'limiter', LIMITER_ADDR: `0.0.0.0:${port}` };
      let r = await runHealthcheck(env);
      expect([r.code, r.out]).toEqual([1, expect.stringMatching(/NOT_SERVING/)]);
      health.setStatus('', 'SERVING');
      r = await runHealthcheck(env);
      expect([r.code, r.out]).toEqual([0, expect.stringMatching(/SERVING/)]);
      expect((await runHealthcheck({ SERVICE: 'limiter' })).code).toBe(1); // address variable missing
    } finally {
      server.forceShutdown();
    }
    const closed = await runHealthcheck({ SERVICE: 'auth', AUTH_ADDR: `0.0.0.0:${port}` }); // nothing listens now
    expect(closed.code).toBe(1);
    expect((await runHealthcheck({ SERVICE: 'migrate' })).code).toBe(1);
  });

  test('gateway: healthy only on a 2xx from /readyz', async () => {
    let status = 503;
    const seen: string[] = [];
    const server: HttpServer = createHttpServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    try {
      const env = { SERVICE: 'gateway', HOST: '0.0.0.0', PORT: String(port) };
      expect((await runHealthcheck(env)).code).toBe(1);
      status = 200;
      expect((await runHealthcheck(env)).code).toBe(0);
      expect(seen).toEqual(['/readyz', '/readyz']);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// deploy/redis-*.conf with a real redis-server (this machine's; the image runs Redis 7.4)

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

function freePort(): Promise<number> {
  return new Promise((ok, ko) => {
    const s = createNetServer();
    s.once('error', ko);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** redis-server as compose starts it (common file + the role's), on loopback; `extra` overrides. */
async function startRedis(dir: string, port: number, role: string, extra: string[] = []): Promise<ChildProcess> {
  // Loopback only for the test; everything else comes from the files. They send the log to
  // stdout, where Redis says when it is ready (after loading the append-only file).
  const args = [join(DEPLOY, 'redis-common.conf'), '--include', join(DEPLOY, `redis-${role}.conf`), '--port', String(port), '--bind', '127.0.0.1', ...extra];
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((ok, ko) => {
    const timer = setTimeout(() => ko(new Error(`redis-server not ready after 10 s:\n${log}`)), 10_000);
    const onData = (d: Buffer) => {
      log += d;
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      ko(new Error(`redis-server exited:\n${log}`));
    });
  });
  return child;
}

const stopped = (child: ChildProcess) => new Promise<void>((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));

(hasRedisServer ? describe : describe.skip)('deploy/redis-*.conf (skipped when redis-server is not installed)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const start = async (role: string, port: number, extra: string[] = []) => {
    const child = await startRedis(join(dir, role), port, role, extra);
    children.push(child);
    return child;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etu-redis-conf-'));
    for (const role of REDIS_ROLES) mkdirSync(join(dir, role));
  });
  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await stopped(child);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(REDIS_ROLES)('%s: redis-server reads the two files as compose passes them', async (role) => {
    const port = await freePort();
    const child = await start(role, port);
    const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      const cfg = async (k: string) => ((await r.config('GET', k)) as string[])[1];
      const file = redisConf(role);
      expect(await cfg('maxmemory-policy')).toBe(file['maxmemory-policy']);
      expect(await cfg('appendonly')).toBe(file.appendonly);
      expect(await cfg('maxmemory')).toBe(String(Number.parseInt(file.maxmemory!, 10) * 1024 * 1024));
      expect(Number(await cfg('databases'))).toBeGreaterThanOrEqual(3);
      if (role !== 'sessions') expect(await cfg('appendfsync')).toBe('everysec');
    } finally {
      r.disconnect();
    }
    child.kill('SIGTERM');
    await stopped(child);
  });

  test('statistics: AOF every second; db 1 survives a kill -9', async () => {
    const port = await freePort();
    let child = await start('stats', port);
    const r = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      await r.zincrby('stats:logins', 3, 'user-42');
    } finally {
      r.disconnect();
    }
    // Past one fsync period, then a crash: no clean shutdown, no final fsync.
    await new Promise((res) => setTimeout(res, 1500));
    child.kill('SIGKILL');
    await stopped(child);

    child = await start('stats', port);
    const after = new Redis({ port, host: '127.0.0.1', db: 1, maxRetriesPerRequest: 1 });
    try {
      expect(await after.zscore('stats:logins', 'user-42')).toBe('3');
    } finally {
      after.disconnect();
    }
    expect(existsSync(join(dir, 'stats', 'appendonlydir'))).toBe(true);
    child.kill('SIGTERM');
    await stopped(child);
  });

  test('full: the limiter and the statistics refuse writes (OOM), the sessions drop the least recently used', async () => {
    const fill = async (role: string) => {
      const port = await freePort();
      // A tiny budget so that it fills in a moment; everything else from the files.
      const child = await start(role, port, ['--maxmemory', '4mb', '--appendonly', 'no', '--save', '']);
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      const value = 'x'.repeat(400);
      let written = 0;
      let error = '';
      try {
        for (let i = 0; i < 20_000 && !error; i += 500) {
          const p = r.pipeline();
          for (let j = i; j < i + 500; j++) p.set(`k:${j}`, value, 'PX', 600_000);
          for (const [err] of (await p.exec())!) {
            if (err) error ||= err.message;
            else written++;
          }
        }
        // The first key written is the least recently used one.
        return { written, error, keys: await r.dbsize(), first: await r.exists('k:0') };
      } finally {
        r.disconnect();
        child.kill('SIGTERM');
        await stopped(child);
      }
    };
    for (const role of ['limiter', 'stats']) {
      const res = await fill(role);
      expect([role, res.error]).toEqual([role, expect.stringMatching(/^OOM /)]);
      expect(res.keys).toBe(res.written);
    }
    const sessions = await fill('sessions');
    expect(sessions.error).toBe('');
    expect(sessions.written).toBe(20_000);
    expect(sessions.keys).toBeLessThan(20_000);
    expect(sessions.first).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose itself, when this machine has the client plugin (it needs no engine for this)

const composeVersion = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
const hasCompose = composeVersion.status === 0;
if (!hasCompose) {
  // Visible in the jest output: the check below is skipped, not passed.
  console.info('deploy/test: `docker compose` is not installed here; `docker compose config` was not run.');
}

(hasCompose ? describe : describe.skip)('docker compose config (skipped: no `docker compose` client here)', () => {
  const run = (env: Env) =>
    spawnSync('docker', ['compose', '-f', relative(ROOT, COMPOSE_FILE), '--env-file', relative(ROOT, ENV_EXAMPLE), 'config', '-q'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      encoding: 'utf8',
    });

  test('accepts the file with the secrets set', () => {
    const r = run(filledSecrets);
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  test('refuses it while a secret is missing, naming it', () => {
    const r = run({});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/INTERNAL_TOKEN|SESSION_KEYS|MARIADB_(ROOT_)?PASSWORD/);
  });
});

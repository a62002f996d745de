// deploy/compose.yaml, read as compose reads it (no container is started), and checked with
// `docker compose config` when a compose client is installed (reported as skipped otherwise).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { parseConfig, requireSecret } from '../../services/common/src/config';
import { configShape as authShape, seedConfigShape } from '../../services/auth/src/config';
import { registerUsersShape } from '../../services/auth/src/register-users';
import { configShape as marketShape } from '../../services/market/src/config';
import { configShape as limiterShape } from '../../services/limiter/src/config';
import { configShape as statsShape } from '../../services/stats/src/config';
import { configShape as gatewayShape, loadConfig as loadGatewayConfig } from '../../gateway/src/config';
import {
  COMPOSE_FILE,
  DEPLOY,
  DOCKERFILE,
  redisConf,
  ENV_EXAMPLE,
  ROOT,
  envExample,
  loadCompose,
  partOf,
  serviceEnv,
  withSecretFiles,
  writeSecrets,
  dockerfileStages,
  entryFiles,
  sourceOf,
  type Env,
  type Service,
} from './support';

type Shape = Record<string, z.ZodType>;

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
/** One-shot jobs: every variable their programs read (migrate: prisma/src/cli.ts reads DATABASE_URL(_FILE)). */
const JOBS: Record<string, { shapes: Shape[]; extra: string[] }> = {
  migrate: { shapes: [], extra: ['NODE_ENV', 'DATABASE_URL'] },
  // auth seed, market seed (DATABASE_URL; PHOTOS_DIR, where it draws the demo pictures),
  // services/auth register-users (DATABASE_URL, STATS_ADDR, INTERNAL_TOKEN)
  seed: { shapes: [seedConfigShape, registerUsersShape], extra: ['DATABASE_URL', 'PHOTOS_DIR'] },
};
/** `<SVC>_ADDR` → the part that listens there. */
const ADDR_OWNER: Record<string, string> = { AUTH_ADDR: 'auth', MARKET_ADDR: 'market', LIMITER_ADDR: 'limiter', STATS_ADDR: 'stats' };
/** Redis URL → the database number DESIGN.md gives it, and the instance that holds it alone. */
const REDIS_DB: Record<string, string> = { LIMITER_REDIS_URL: '0', STATS_REDIS_URL: '1', SESSION_REDIS_URL: '2' };
const REDIS_ROLE: Record<string, 'limiter' | 'stats' | 'sessions'> = {
  LIMITER_REDIS_URL: 'limiter',
  STATS_REDIS_URL: 'stats',
  SESSION_REDIS_URL: 'sessions',
};
const REDIS_ROLES = ['limiter', 'stats', 'sessions'] as const;
/** Secrets: optional in the schemas (generated for local runs) but fatal when missing in production. */
const SECRETS = ['INTERNAL_TOKEN', 'SESSION_KEYS'];
/** Variables whose value is a secret: given only as compose secrets, through `<NAME>_FILE`. */
const SECRET_VARS = ['INTERNAL_TOKEN', 'SESSION_KEYS', 'DATABASE_URL', 'MARIADB_PASSWORD', 'MARIADB_ROOT_PASSWORD'];
/** Read by node itself, not by a part's config (the heap size per part). */
const NODE_VARS = ['NODE_OPTIONS'];
const WILDCARD_HOSTS = ['0.0.0.0', '[::]', '::'];

// The operator's steps: .env.example copied, deploy/secrets.sh run (into a folder of the test's own).
const secretsDir = writeSecrets();
afterAll(() => rmSync(dirname(secretsDir), { recursive: true, force: true }));
const operatorEnv: Env = { ...envExample, SECRETS_DIR: secretsDir };
const { model: compose, errors: interpolationErrors } = loadCompose(operatorEnv);
const services = compose.services;
const secretFiles = compose.secrets ?? {};
/** A service's environment as its programs read it: the secret files' contents in place of `*_FILE`. */
const envOf = (svc: Service) => withSecretFiles(svc, secretFiles);
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

/** The gateway's SMTP server: outside the stack (a secret, empty when mails go to the outbox). */
const SMTP = 'SMTP_URL';

describe('deploy/compose.yaml', () => {
  test('parses as YAML, with no duplicate key, and interpolates with .env.example plus the secrets', () => {
    const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    expect(interpolationErrors).toEqual([]);
    expect([...names].sort()).toEqual([
      'auth',
      'gateway',
      'limiter',
      'mariadb',
      'market',
      'migrate',
      'proxy',
      'redis-limiter',
      'redis-sessions',
      'redis-stats',
      'seed',
      'stats',
    ]);
    // Compose v1 (Debian's docker-compose, used by make deploy-check) rejects a top-level name.
    expect(parseDocument(readFileSync(COMPOSE_FILE, 'utf8')).toJS()).not.toHaveProperty('name');
  });

  test('secrets are compose secret files, read through *_FILE, never in an environment', () => {
    // Every secret file names a file deploy/secrets.sh writes, readable by the containers' users.
    expect(Object.keys(secretFiles).sort()).toEqual([
      'database_url',
      'internal_token',
      'mariadb_password',
      'mariadb_root_password',
      'session_keys',
      'smtp_url',
      'tls_cert',
      'tls_key',
    ]);
    for (const [name, { file }] of Object.entries(secretFiles)) {
      expect([name, dirname(resolve(DEPLOY, file))]).toEqual([name, secretsDir]);
      expect([name, statSync(resolve(DEPLOY, file)).mode & 0o777]).toEqual([name, 0o644]);
    }
    expect(statSync(secretsDir).mode & 0o777).toBe(0o700);
    // deploy/secrets.sh keeps what exists: a second run changes nothing.
    const before = Object.values(secretFiles).map(({ file }) => readFileSync(resolve(DEPLOY, file), 'utf8'));
    const again = spawnSync('sh', [join(DEPLOY, 'secrets.sh')], {
      env: { PATH: process.env.PATH, SECRETS_DIR: secretsDir },
      encoding: 'utf8',
    });
    expect([again.status, again.stdout]).toEqual([0, '']);
    expect(Object.values(secretFiles).map(({ file }) => readFileSync(resolve(DEPLOY, file), 'utf8'))).toEqual(before);
    // No secret value in any environment; each *_FILE points at a secret the service mounts.
    for (const [name, svc] of Object.entries(services)) {
      const env = serviceEnv(svc);
      expect([name, Object.keys(env).filter((k) => SECRET_VARS.includes(k))]).toEqual([name, []]);
      const mounted: string[] = svc.secrets ?? [];
      for (const [k, v] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
        expect([name, k, v]).toEqual([name, k, expect.stringMatching(/^\/run\/secrets\//)]);
        expect([name, k, mounted.includes(v.slice('/run/secrets/'.length))]).toEqual([name, k, true]);
      }
    }
  });

  test('scales: no container_name, and only the gateway and the proxy publish a port', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.container_name]).toEqual([name, undefined]);
      if (name !== 'gateway' && name !== 'proxy') expect([name, svc.ports]).toEqual([name, undefined]);
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
    // The proxy publishes the port nginx.conf listens on, with TLS.
    const listen = /^[ \t]*listen (\d+) ssl;/m.exec(readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8'));
    expect(services.proxy!.ports).toEqual([`${envExample.PROXY_PORT}:${listen![1]}`]);
  });

  test('every container has a memory and CPU limit; each Node part a heap below its memory', () => {
    const mib = (v: string) => {
      const m = /^(\d+)([MG])$/.exec(v)!;
      return Number(m[1]) * (m[2] === 'G' ? 1024 : 1);
    };
    for (const [name, svc] of Object.entries(services)) {
      const limits = svc.deploy?.resources?.limits;
      expect([name, limits?.memory]).toEqual([name, expect.stringMatching(/^\d+[MG]$/)]);
      expect([name, Number(limits?.cpus) > 0]).toEqual([name, true]);
      if (!svc.build) continue;
      const heap = /--max-old-space-size=(\d+)/.exec(serviceEnv(svc).NODE_OPTIONS ?? '');
      expect([name, heap && Number(heap[1]) <= 0.7 * mib(limits.memory)]).toEqual([name, true]);
    }
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
    expect([...longRunning].sort()).toEqual([
      'auth',
      'gateway',
      'limiter',
      'mariadb',
      'market',
      'proxy',
      'redis-limiter',
      'redis-sessions',
      'redis-stats',
      'stats',
    ]);
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
      expect([name, /^(?:root|0)(?::|$)/.test(svc.user)]).toEqual([name, false]);
      expect([name, svc.read_only]).toEqual([name, true]);
      expect([name, svc.privileged]).toEqual([name, undefined]);
      expect([name, svc.cap_drop]).toEqual([name, ['ALL']]);
      expect([name, svc.security_opt]).toEqual([name, ['no-new-privileges:true']]);
      expect([name, svc.tmpfs]).toEqual([name, expect.arrayContaining(['/tmp'])]);
    }
    // Only the gateway (and the proxy in front of it) is on the network with the published ports.
    expect(compose.networks).toMatchObject({ backend: { internal: true } });
    const networks: Record<string, string[]> = { gateway: ['backend', 'edge'], proxy: ['edge'] };
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.networks]).toEqual([name, networks[name] ?? ['backend']]);
    }
  });

  test.each(Object.keys(PARTS))('%s: its environment satisfies its configShape, for containers', (part) => {
    const [name, svc] = serviceOfPart(part);
    const { shape, listen } = PARTS[part]!;
    const env = envOf(svc);

    // No variable that the part (or node) does not read (a typo here would silently be ignored).
    expect([name, Object.keys(env).filter((k) => !(k in shape) && !NODE_VARS.includes(k))]).toEqual([name, []]);
    // Every value passes the part's own validation...
    expect(() => parseConfig(shape as never, env)).not.toThrow();
    expect(() => parseConfig(shape as never, { ...env, NODE_OPTIONS: undefined })).not.toThrow();
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
      } else if (k.endsWith('_URL') && k !== SMTP) {
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
      const env = envOf(svc);
      const listen = PARTS[partOf(svc) ?? '']?.listen;
      const targets = new Set<string>();
      for (const [k, v] of Object.entries(env)) {
        if (k in ADDR_OWNER && k !== listen) targets.add(hostOf(v).host);
        if (k.endsWith('_URL') && k !== SMTP) targets.add(new URL(v).hostname);
      }
      for (const t of targets) {
        expect([name, t, svc.depends_on?.[t]?.condition]).toEqual([name, t, 'service_healthy']);
      }
    }
    // The database's users wait for the migration too.
    for (const [name, svc] of Object.entries(services)) {
      if (envOf(svc).DATABASE_URL && name !== 'migrate') {
        expect([name, svc.depends_on?.migrate?.condition]).toEqual([name, 'service_completed_successfully']);
      }
    }
  });

  test('DATABASE_URL carries the credentials MariaDB is created with', () => {
    const db = envOf(services.mariadb!);
    for (const [name, svc] of Object.entries(services)) {
      const env = envOf(svc);
      if (!env.DATABASE_URL) continue;
      const url = new URL(env.DATABASE_URL);
      expect([name, url.hostname, url.port]).toEqual([name, 'mariadb', '3306']);
      expect([name, decodeURIComponent(url.username)]).toEqual([name, db.MARIADB_USER]);
      expect([name, decodeURIComponent(url.password)]).toEqual([name, db.MARIADB_PASSWORD]);
      expect([name, url.pathname]).toEqual([name, `/${db.MARIADB_DATABASE}`]);
    }
    expect(envOf(services.migrate!).DATABASE_URL).toBeDefined();
    // The passwords are generated secrets (deploy/secrets.sh), not defaults.
    expect(db.MARIADB_PASSWORD).toMatch(/^[0-9a-f]{64}$/);
    expect(db.MARIADB_ROOT_PASSWORD).toMatch(/^[0-9a-f]{64}$/);
    expect(db.MARIADB_ROOT_PASSWORD).not.toBe(db.MARIADB_PASSWORD);
  });

  test.each(Object.keys(JOBS))('job %s: its environment is what its programs read', (job) => {
    const [name, svc] = serviceOfPart(job);
    const env = envOf(svc);
    const known = new Set([...JOBS[job]!.shapes.flatMap((s) => Object.keys(s)), ...JOBS[job]!.extra, ...NODE_VARS]);
    expect([name, Object.keys(env).filter((k) => !known.has(k))]).toEqual([name, []]);
    for (const shape of JOBS[job]!.shapes) expect(() => parseConfig(shape as never, env)).not.toThrow();
    expect(new URL(env.DATABASE_URL!).hostname).toBe('mariadb');
    if (env.STATS_ADDR)
      expect(env.STATS_ADDR).toBe(`${serviceOfPart('stats')[0]}:${hostOf(serviceEnv(serviceOfPart('stats')[1]).STATS_ADDR!).port}`);
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
// The compose clients themselves, where installed (they need no engine for `config`): Compose v2
// (`docker compose`), and Compose v1 (Debian's `docker-compose` 1.29, which make deploy-check
// uses against podman). Each is reported as skipped when absent, not passed.

const clients: Array<{ label: string; cmd: string[] }> = [
  { label: 'docker compose (v2)', cmd: ['docker', 'compose'] },
  { label: 'docker-compose (v1)', cmd: ['docker-compose'] },
];
for (const { label, cmd } of clients) {
  const version = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' });
  const installed = version.status === 0;
  if (!installed) console.info(`deploy/test: \`${cmd.join(' ')}\` is not installed here; its \`config\` was not run.`);
  (installed ? describe : describe.skip)(`${label} config (skipped when not installed)`, () => {
    test('accepts the file, with every profile', () => {
      const r = spawnSync(
        cmd[0]!,
        [
          ...cmd.slice(1),
          '-f',
          relative(ROOT, COMPOSE_FILE),
          '--env-file',
          relative(ROOT, ENV_EXAMPLE),
          '--profile',
          'proxy',
          '--profile',
          'seed',
          'config',
          '-q',
        ],
        { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, SECRETS_DIR: secretsDir }, encoding: 'utf8' },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
    });
  });
}

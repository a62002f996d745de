// deploy/Dockerfile and deploy/start.sh, read and run without a container engine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { DEPLOY, DOCKERFILE, ROOT, dockerfileStages, entryFiles, sourceOf } from './support';

describe('deploy/Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const stages = dockerfileStages(text);
  const runtime = stages[stages.length - 1]!;
  const all = stages.flatMap((s) => s.lines);

  test('multi-stage on Node 24 (LTS; engines asks for it too): build, prune, runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'prune', 'runtime']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    const { engines } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(engines.node).toBe('>=24');
    expect(stages[0]!.from).toBe('${NODE_IMAGE}');
    expect(runtime.from).toBe('${NODE_IMAGE}'); // a fresh base: no compiler, cache or dev tree
  });

  test('npm ci once, the build generates the code, the runtime stage has production dependencies only', () => {
    expect(all.filter((l) => /\bnpm (?:ci|install|i)\b/.test(l))).toEqual([expect.stringMatching(/npm ci$/)]);
    // The extra CA (a TLS-intercepting proxy) is a build secret mounted for that step only.
    expect(all.find((l) => /npm ci$/.test(l))).toMatch(
      /^RUN --mount=type=cache,target=\/root\/\.npm --mount=type=secret,id=extra_ca .*NODE_EXTRA_CA_CERTS=\/run\/secrets\/extra_ca/,
    );
    expect(all.filter((l) => /extra_ca/.test(l))).toHaveLength(1);
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

  test.each(['auth', 'market', 'limiter', 'stats', 'gateway', 'migrate', 'seed'])(
    'SERVICE=%s maps to entry files whose sources exist',
    (part) => {
      const files = entryFiles(part);
      for (const f of files) expect([f, existsSync(join(ROOT, sourceOf(f)))]).toEqual([f, true]);
    },
  );

  test('EXPOSE documents the port of every part in parts.json, and start.sh runs what parts.json says', () => {
    const { parts, jobs } = JSON.parse(readFileSync(join(ROOT, 'parts.json'), 'utf8')) as {
      parts: { name: string; port: number; run: string[] }[];
      jobs: { name: string; run: string[] }[];
    };
    const expose = runtime.lines
      .find((l) => l.startsWith('EXPOSE '))!
      .split(/\s+/)
      .slice(1)
      .map(Number);
    expect([...expose].sort()).toEqual(parts.map((p) => p.port).sort());
    for (const p of [...parts, ...jobs]) expect([p.name, entryFiles(p.name)]).toEqual([p.name, p.run.map((l) => l.split(' ')[0])]);
  });

  test('start.sh refuses an unknown or empty SERVICE', () => {
    for (const service of ['', 'gatewy', 'auth;id']) {
      const r = spawnSync('sh', [join(DEPLOY, 'start.sh'), '--check'], {
        env: { PATH: process.env.PATH, SERVICE: service },
        encoding: 'utf8',
      });
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
    // Prisma's query compilers: the other databases' go, the one the generated client loads stays.
    const compilers = [...removed].filter((f) => f.startsWith('@prisma/client/runtime/'));
    expect(compilers).toContain('@prisma/client/runtime/query_compiler_fast_bg.postgresql.wasm-base64.js');
    expect(compilers.filter((f) => /query_compiler_fast_bg\.mysql(?:\.wasm-base64)?\.js$/.test(f))).toEqual([]);
    // Nothing any workspace lists as a runtime dependency (nor its @etu siblings).
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dependencies?: Record<string, string> }>;
    };
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    for (const ws of workspaces) {
      for (const dep of Object.keys(lock.packages[ws]?.dependencies ?? {})) expect([ws, dep, removed.has(dep)]).toEqual([ws, dep, false]);
    }
    // sharp's prebuilt binary and libvips come as optional @img/* packages: the image keeps them.
    expect([...removed].filter((f) => f === 'sharp' || f.startsWith('@img/'))).toEqual([]);
  });

  test('the gateway’s photo folder exists in the image, owned by the user that runs it', () => {
    const runtime = dockerfileStages(readFileSync(DOCKERFILE, 'utf8')).find((s) => s.name === 'runtime')!;
    expect(runtime.lines.join('\n')).toMatch(/mkdir -p \/var\/lib\/etuservices\/photos && chown node:node \/var\/lib\/etuservices\/photos/);
  });
});

// ---------------------------------------------------------------------------------------------
// The production image holds no test code. Without a container engine, the prune stage's file
// removals (everything after `npm prune` and prune-dev-optional.js, which touch only
// node_modules' third-party packages) run for real on a copy of the tree the build stage has:
// the repository's files plus every workspace's compiled dist/ (`make test` builds first) and
// the workspace links npm makes in node_modules/@etu. What is left is what the runtime copies.

/** Every file under `dir` (relative to ROOT), following no link. */
function walk(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe('deploy/Dockerfile: the production image holds no test code', () => {
  const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  let box: string;
  let kept: string[];

  beforeAll(() => {
    const prune = dockerfileStages(readFileSync(DOCKERFILE, 'utf8')).find((s) => s.name === 'prune')!;
    const run = prune.lines.filter((l) => l.startsWith('RUN '));
    expect(run).toHaveLength(1);
    const steps = run[0]!
      .slice(4)
      .split(/\s&&\s/)
      .map((s) => s.trim());
    // The two node_modules steps need a real install; every other step is a file removal.
    expect(steps.slice(0, 2)).toEqual(['npm prune --omit=dev', 'node deploy/prune-dev-optional.js .']);
    const git = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
    expect(git.status).toBe(0);
    const files = [...git.stdout.trim().split('\n'), ...workspaces.flatMap((ws) => walk(join(ws, 'dist')))].filter((f) =>
      existsSync(join(ROOT, f)),
    );
    box = mkdtempSync(join(tmpdir(), 'etu-image-tree-'));
    for (const f of files) {
      mkdirSync(dirname(join(box, f)), { recursive: true });
      writeFileSync(join(box, f), '');
    }
    mkdirSync(join(box, 'node_modules', '@etu'), { recursive: true });
    for (const ws of workspaces) {
      const { name } = JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { name: string };
      symlinkSync(join('..', '..', ws), join(box, 'node_modules', name));
    }
    const r = spawnSync('sh', ['-c', steps.slice(2).join(' && ')], { cwd: box, encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    kept = readdirSync(box, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() || e.isSymbolicLink())
      .map((e) => relative(box, join(e.parentPath, e.name)));
  });
  afterAll(() => {
    if (box) rmSync(box, { recursive: true, force: true });
  });

  test('keeps what every part runs: its entry files, compiled code, migrations and the parts list', () => {
    for (const part of ['auth', 'market', 'limiter', 'stats', 'gateway', 'migrate', 'seed']) {
      for (const f of entryFiles(part)) expect([f, kept.includes(f)]).toEqual([f, true]);
    }
    expect(kept).toContain('services/common/dist/index.js');
    expect(kept).toContain('prisma/migrations/20261126090000_init/migration.sql');
    expect(kept).toContain('node_modules/@etu/common');
    expect(kept).toContain('parts.json'); // read by start.sh, healthcheck.js and @etu/common
  });

  test('leaves no test support, no test folder, no test file and no TypeScript source', () => {
    expect(kept.filter((f) => f.startsWith('testkit/') || f === 'node_modules/@etu/testkit')).toEqual([]);
    expect(
      kept.filter((f) => f.split('/').some((seg) => ['test', 'tests', '__tests__', 'e2e', 'bench', 'fixtures'].includes(seg))),
    ).toEqual([]);
    expect(kept.filter((f) => /(?:^|\/)testing(?:\.d)?\.(?:js|ts)(?:\.map)?$|\.test\.|\.spec\./.test(f))).toEqual([]);
    expect(kept.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  test('no production package depends on @etu/testkit, and no kept compiled file loads it', () => {
    for (const ws of workspaces.filter((w) => w !== 'testkit')) {
      const pkg = JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      expect([ws, Object.keys(pkg.dependencies ?? {}).filter((d) => d === '@etu/testkit')]).toEqual([ws, []]);
    }
    const loaders = kept.filter(
      (f) => f.endsWith('.js') && existsSync(join(ROOT, f)) && /@etu\/testkit|\/testing['"]/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(loaders).toEqual([]);
  });
});

#!/usr/bin/env node
// Image build only, after `npm prune --omit=dev`: removes what that prune keeps but production
// never loads. npm keeps a package the lock file marks `devOptional` unless BOTH dev and
// optional dependencies are omitted — and omitting optional ones would also drop the native
// binding of @node-rs/argon2. Here every devOptional package is there only because a dev
// dependency brought it and @prisma/client names it as an *optional peer*: the Prisma CLI
// (`prisma`, with its engines, studio, pglite, react...) and `typescript`. Without them the
// image is smaller and `node prisma/dist/cli.js migrate` takes its deterministic path, the
// project's own SQL applier (no schema-engine binary, nothing written outside the database).
//
// Also the query compilers of the databases this project does not use (see unusedQueryCompilers).
//
// Refuses to remove a package that a kept package needs through a regular or optional
// (non-peer) dependency, so a future lock file cannot make it break the image silently.
'use strict';
const { existsSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run'); // list, remove nothing (used by deploy/test)
const root = resolve(args.find((a) => !a.startsWith('--')) || '.');
const lock = require(join(root, 'package-lock.json'));
const packages = lock.packages || {};
const nameOf = (path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

const remove = Object.keys(packages).filter((p) => p.includes('node_modules/') && packages[p].devOptional);
const removeSet = new Set(remove);

/** The lock-file path that `require(dep)` from the package at `from` finds (Node's lookup). */
function resolveDep(from, dep) {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const i = base.lastIndexOf('node_modules/');
    base = i <= 0 ? '' : base.slice(0, i - 1);
  }
}

const needed = [];
for (const [p, v] of Object.entries(packages)) {
  if (v.dev || v.devOptional || v.link || removeSet.has(p) || !existsSync(join(root, p))) continue;
  for (const dep of Object.keys({ ...v.dependencies, ...v.optionalDependencies })) {
    const target = resolveDep(p, dep);
    if (target && removeSet.has(target)) needed.push(`${p || '(root)'} → ${target}`);
  }
}
if (needed.length) {
  console.error(`prune-dev-optional: kept packages depend on devOptional ones, nothing removed:\n  ${needed.join('\n  ')}`);
  process.exit(1);
}

/**
 * @prisma/client ships a query compiler for every database Prisma supports (about 64 MB); the
 * client generated for this project loads only its provider's, by file name. The files the
 * compiled code (prisma/dist) names are kept, the others listed for removal; when the compiled
 * code names none (an unexpected Prisma layout), nothing is removed.
 */
function unusedQueryCompilers() {
  const runtime = join(root, 'node_modules', '@prisma', 'client', 'runtime');
  const dist = join(root, 'prisma', 'dist');
  if (!existsSync(runtime) || !existsSync(dist)) return [];
  const named = new Set();
  for (const f of readdirSync(dist, { recursive: true })) {
    if (!String(f).endsWith('.js')) continue;
    for (const m of readFileSync(join(dist, String(f)), 'utf8').matchAll(/query_compiler_[a-z]+_bg\.[a-z]+(?:\.wasm-base64)?\.js/g))
      named.add(m[0]);
  }
  if (named.size === 0) return [];
  return readdirSync(runtime).filter((f) => f.startsWith('query_compiler_') && !named.has(f));
}
const compilers = unusedQueryCompilers();

if (dryRun) {
  console.log([...remove.map(nameOf), ...compilers.map((f) => `@prisma/client/runtime/${f}`)].sort().join('\n'));
  process.exit(0);
}

let count = 0;
for (const p of remove) {
  const dir = join(root, p);
  if (existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    count++;
  }
}
// Dangling links in node_modules/.bin (prisma, tsc, tsserver).
const bin = join(root, 'node_modules', '.bin');
let links = 0;
if (existsSync(bin)) {
  for (const f of readdirSync(bin)) {
    const link = join(bin, f);
    if (lstatSync(link).isSymbolicLink() && !existsSync(resolve(dirname(link), readlinkSync(link)))) {
      rmSync(link);
      links++;
    }
  }
}
for (const f of compilers) rmSync(join(root, 'node_modules', '@prisma', 'client', 'runtime', f), { force: true });
console.log(
  `prune-dev-optional: removed ${count} devOptional packages, ${links} dangling .bin links and ${compilers.length} unused Prisma query compiler files`,
);

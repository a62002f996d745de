// .dockerignore: what the image build context leaves out and what it must send.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support';

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
        .replace(/\0/g, '(?:.*/)?')}(?:/.*)?$`,
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
    '.secrets.before-restore-20261127T120000Z/local.env',
    'backups/etuservices-backup-20261127T120000Z.tar.gz',
    'deploy/.env.from-backup',
    'deploy/secrets.from-backup/session_keys',
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

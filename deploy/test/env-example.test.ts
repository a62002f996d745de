// deploy/.env.example: every variable compose.yaml reads, documented, with no secret.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { COMPOSE_FILE, ROOT, VAR_REF, envExample, envExampleText } from './support';

describe('deploy/.env.example', () => {
  const referenced = new Set(
    [...readFileSync(COMPOSE_FILE, 'utf8').matchAll(VAR_REF)].map((m) => m[1] ?? m[4]).filter(Boolean) as string[],
  );

  test('documents every variable compose.yaml reads, and only those (plus the project name)', () => {
    expect([...referenced].filter((v) => !(v in envExample))).toEqual([]);
    expect(Object.keys(envExample).filter((v) => !referenced.has(v))).toEqual(['COMPOSE_PROJECT_NAME']);
  });

  test('holds no secret: they are files deploy/secrets.sh writes, and it says so', () => {
    for (const [k, v] of Object.entries(envExample)) {
      if (/TOKEN|KEYS|PASSWORD/.test(k)) expect([k, v]).toEqual([k, '']);
      // Nothing that looks like generated key material (long runs of base64/hex).
      expect([k, /[\w+/=-]{20,}/.test(v) && /\d/.test(v) && /[A-Z]/i.test(v)]).toEqual([k, false]);
    }
    expect(
      Object.keys(envExample).filter((k) => /^(?:INTERNAL_TOKEN|SESSION_KEYS|MARIADB_(?:ROOT_)?PASSWORD|DATABASE_URL)$/.test(k)),
    ).toEqual([]);
    expect(envExampleText).toMatch(/sh deploy\/secrets\.sh/);
  });

  test('deploy/.env and deploy/secrets/, where the real secrets go, are git-ignored', () => {
    for (const path of ['deploy/.env', 'deploy/secrets/internal_token']) {
      const r = spawnSync('git', ['check-ignore', '-q', path], { cwd: ROOT });
      expect([path, r.status]).toEqual([path, 0]);
    }
  });
});

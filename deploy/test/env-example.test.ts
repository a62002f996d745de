// deploy/.env.example: every variable compose.yaml reads, documented, with no real secret.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { COMPOSE_FILE, ROOT, VAR_REF, envExample, envExampleText } from './support';

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

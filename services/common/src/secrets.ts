// Local-run secrets: generated once into a git-ignored file and shared by every part started
// from this checkout. Never used in production (config refuses a missing secret there).
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Repository root: services/common/{src,dist}/ → ../../.. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');

export function secretsFile(): string {
  return process.env.ETU_SECRETS_FILE ?? join(REPO_ROOT, '.secrets', 'local.env');
}

function readSecrets(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Generates the local secrets file when absent (atomically: several parts may start at once). */
export function ensureLocalSecrets(file = secretsFile()): Record<string, string> {
  const existing = readSecrets(file);
  if (existing.INTERNAL_TOKEN && existing.SESSION_KEYS) return existing;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const body =
    '# Generated for local runs only (git-ignored). Production takes these from the environment.\n' +
    `INTERNAL_TOKEN=${randomBytes(32).toString('base64url')}\n` +
    `SESSION_KEYS=${randomBytes(32).toString('base64url')}\n`;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file); // fails with EEXIST when another process won the race
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readSecrets(file);
}

export function resolveSecret(name: string): string {
  const v = ensureLocalSecrets()[name];
  if (!v) throw new Error(`${name} is missing from ${secretsFile()}; delete that file to regenerate it`);
  return v;
}

// `make seed` (node services/auth/dist/seed.js): creates the demo students and one ADMIN through
// the accounts domain (the code path of Register, plus the role option Register never exposes).
// Idempotent: an existing account is kept as it is; generated passwords are written once to the
// git-ignored .secrets/demo-accounts.{json,txt} and reused on every later run, so a reset
// database gets the same logins back. Passwords never live in the repository.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AlreadyExists,
  createLogger,
  InvalidArgument,
  loadOrExit,
  passwordResemblesIdentity,
  REPO_ROOT,
  Unauthenticated,
  Unavailable,
  type DemoAccount,
  type PasswordIdentity,
} from '@etu/common';

export type { DemoAccount };
import { createPrismaClient, Role } from '@etu/db';
import { Accounts, type Account } from './accounts';
import { checkEmail, checkNewPassword } from './rules';
import { loadSeedConfig } from './config';

export const DEMO_STUDENTS: ReadonlyArray<{ firstName: string; lastName: string }> = [
  { firstName: 'Camille', lastName: 'Martin' },
  { firstName: 'Lucas', lastName: 'Bernard' },
  { firstName: 'Léa', lastName: 'Dubois' },
  { firstName: 'Hugo', lastName: 'Lefèvre' },
  { firstName: 'Chloé', lastName: 'Moreau' },
  { firstName: 'Théo', lastName: 'Girard' },
];
export const DEFAULT_ADMIN_EMAIL = 'admin@etuservices.example';
const ADMIN_NAMES = { firstName: 'Administrateur', lastName: 'EtuServices' };

export const DEMO_JSON = 'demo-accounts.json';
export const DEMO_TXT = 'demo-accounts.txt';

/** "Léa", "Dubois" → "lea.dubois@etu.example". */
export function demoEmail(firstName: string, lastName: string): string {
  const slug = (s: string) =>
    s
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-');
  return `${slug(firstName)}.${slug(lastName)}@etu.example`;
}

/** 16 random characters (96 bits), drawn again in the rare case they contain a name of the account. */
function generatePassword(who: PasswordIdentity): string {
  for (;;) {
    const password = randomBytes(12).toString('base64url');
    if (!passwordResemblesIdentity(password, who)) return password;
  }
}

function readStored(file: string): Map<string, DemoAccount> {
  const out = new Map<string, DemoAccount>();
  if (!existsSync(file)) return out;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // Never overwrite it: it may hold the only copy of the demo passwords.
    throw new Error(`${file} is not valid JSON; fix or delete it`);
  }
  if (!Array.isArray(data)) throw new Error(`${file} should hold an array; fix or delete it`);
  for (const e of data as (Partial<DemoAccount> | null)[]) {
    if (e && typeof e.email === 'string') out.set(e.email.toLowerCase(), e as DemoAccount);
  }
  return out;
}

function writeAtomically(file: string, body: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, body, { mode: 0o600 });
  renameSync(tmp, file);
}

export function formatLogins(list: DemoAccount[]): string {
  const width = Math.max(...list.map((a) => a.email.length));
  return list.map((a) => `${a.email.padEnd(width)}  ${a.password ?? '(mot de passe inconnu)'}  (${a.role})`).join('\n');
}

export interface SeedOptions {
  accounts: Accounts;
  /** Folder of demo-accounts.{json,txt} (created 0700 when missing). */
  secretsDir: string;
  adminEmail?: string | undefined;
  adminPassword?: string | undefined;
  /** Where warnings go (default: stderr). */
  warn?: (line: string) => void;
  /**
   * Local runs only: give a demo account whose password this checkout does not know (the
   * database outlived .secrets, e.g. a fresh clone on a machine that ran the project before) a
   * new generated password, so that `make run` always prints logins that work. Only accounts
   * that already hold the wanted role are touched: never a promotion. Off in production.
   */
  resetUnknownPasswords?: boolean;
}

/** Creates what is missing, keeps what exists, writes the logins file, returns the accounts. */
export async function seedAccounts(opts: SeedOptions): Promise<DemoAccount[]> {
  const warn = opts.warn ?? ((l: string) => process.stderr.write(`seed(auth): ${l}\n`));
  mkdirSync(opts.secretsDir, { recursive: true, mode: 0o700 });
  const jsonFile = join(opts.secretsDir, DEMO_JSON);
  const stored = readStored(jsonFile);

  const wanted: Wanted[] = [
    ...DEMO_STUDENTS.map((n) => ({ ...n, email: demoEmail(n.firstName, n.lastName), role: Role.STUDENT, given: undefined })),
    {
      ...ADMIN_NAMES,
      email: (opts.adminEmail ?? DEFAULT_ADMIN_EMAIL).trim().toLowerCase(),
      role: Role.ADMIN,
      given: opts.adminPassword,
    },
  ];

  // Refuse bad admin settings before creating anything.
  const admin = wanted[wanted.length - 1]!;
  try {
    checkEmail(admin.email);
    if (admin.given !== undefined) checkNewPassword(admin.given, admin);
  } catch (err) {
    if (err instanceof InvalidArgument) {
      const variable = err.field === 'email' ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD';
      throw new Error(`${variable}: ${err.message.replace(/^[a-z_]+: /, '')}`, { cause: err });
    }
    throw err;
  }

  const result: DemoAccount[] = [];
  let complete = false;
  try {
    for (const w of wanted) result.push(await seedOne(opts.accounts, w, stored.get(w.email), warn, opts.resetUnknownPasswords === true));
    complete = true;
  } finally {
    // Written even when a later account failed, so that a password generated for an account
    // just created is never lost; entries not reached yet are kept as they were.
    if (complete) {
      writeAtomically(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
      writeAtomically(join(opts.secretsDir, DEMO_TXT), `${formatLogins(result)}\n`);
    } else if (result.length > 0) {
      const done = new Set(result.map((a) => a.email));
      const rest = [...stored.values()].filter((a) => !done.has(a.email));
      writeAtomically(jsonFile, `${JSON.stringify([...result, ...rest], null, 2)}\n`);
    }
  }
  return result;
}

interface Wanted {
  firstName: string;
  lastName: string;
  email: string;
  role: Role;
  /** A password imposed by the environment (ADMIN_PASSWORD). */
  given: string | undefined;
}

async function seedOne(
  accounts: Accounts,
  w: Wanted,
  known: DemoAccount | undefined,
  warn: (l: string) => void,
  resetUnknown: boolean,
): Promise<DemoAccount> {
  const existing = await accounts.findByEmail(w.email);
  if (existing) {
    if (existing.role !== w.role) warn(`${w.email} exists with role ${existing.role}; left unchanged (not ${w.role})`);
    // Keep the account; report the password we know only if it still opens it.
    let password = w.given ?? known?.password ?? null;
    if (password !== null && !(await opensAccount(accounts, w.email, password))) {
      warn(
        `${w.email} exists and its password is not the one ${w.given !== undefined ? 'in ADMIN_PASSWORD' : `in ${DEMO_JSON}`}; left unchanged`,
      );
      password = null;
    }
    if (password === null && resetUnknown && existing.role === w.role) {
      password = w.given ?? generatePassword(w);
      await accounts.setPassword(existing.id, password);
      warn(`${w.email}: password unknown to this checkout; a new one was set (local run)`);
    }
    return entry(existing, password);
  }
  const password = w.given ?? known?.password ?? generatePassword(w);
  try {
    const account = await accounts.register({ lastName: w.lastName, firstName: w.firstName, email: w.email, password }, { role: w.role });
    return entry(account, password);
  } catch (err) {
    // Created by a concurrent seed between our lookup and our insert.
    if (err instanceof AlreadyExists) throw new Error(`${w.email} was created concurrently; run the seed again`, { cause: err });
    throw err;
  }
}

function entry(a: Account, password: string | null): DemoAccount {
  return { id: a.id, email: a.email, password, role: a.role, firstName: a.firstName, lastName: a.lastName };
}

async function opensAccount(accounts: Accounts, email: string, password: string): Promise<boolean> {
  try {
    await accounts.authenticate(email, password);
    return true;
  } catch (err) {
    if (err instanceof Unauthenticated || err instanceof InvalidArgument) return false;
    throw err;
  }
}

async function main(): Promise<void> {
  const cfg = loadOrExit('seed(auth)', () => loadSeedConfig());
  const prisma = createPrismaClient(cfg.DATABASE_URL);
  const log = createLogger('auth-seed', 'error');
  const secretsDir = join(REPO_ROOT, '.secrets');
  try {
    const list = await seedAccounts({
      accounts: new Accounts(prisma, log),
      secretsDir,
      adminEmail: cfg.ADMIN_EMAIL,
      adminPassword: cfg.ADMIN_PASSWORD,
      resetUnknownPasswords: cfg.NODE_ENV !== 'production',
    });
    console.log(`seed(auth): ${list.length} demo accounts ready (kept in ${join(secretsDir, DEMO_TXT)}):`);
    for (const line of formatLogins(list).split('\n')) console.log(`  ${line}`);
  } catch (err) {
    const msg =
      err instanceof Unavailable
        ? 'cannot reach the database at DATABASE_URL (is MariaDB running and migrated? `make migrate`)'
        : err instanceof Error
          ? err.message
          : String(err);
    console.error(`seed(auth): ${msg}`);
    process.exitCode = 1;
  } finally {
    await prisma.$disconnect();
  }
}

if (require.main === module) void main();

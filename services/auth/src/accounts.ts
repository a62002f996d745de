// The accounts domain: registration, credential checks and lookups over the `utilisateurs`
// table. The gRPC handlers (server.ts) and the seed (seed.ts) both go through this class, so the
// demo accounts and the admin are created exactly as a sign-up would create them.
import {
  AlreadyExists,
  codePoints,
  FailedPrecondition,
  NotFound,
  inSpan,
  InvalidArgument,
  ResourceExhausted,
  Unauthenticated,
  Unavailable,
  type Logger,
} from '@etu/common';
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseGate, Prisma, Role, type DriverPool, type PrismaClient } from '@etu/db';
import { normalizePassword, PASSWORD_MAX, PasswordHasher, scrubHashes } from './passwords';
import { checkEmail, checkName, checkNewPassword, EMAIL_MAX, normalizeEmail } from './rules';

/** What callers may see of an account (never the password hash, never the internal row id). */
export interface Account {
  /**
   * The public id (`utilisateurs.public_id`, a random UUID): the user's only identity outside
   * MariaDB. The AUTO_INCREMENT row id is reused after a restore from an older dump, so it is
   * never handed out (docs/architecture.md, "One identity").
   */
  id: string;
  lastName: string;
  firstName: string;
  email: string;
  role: Role;
  createdAt: Date;
}

export interface NewAccount {
  lastName: string;
  firstName: string;
  email: string;
  password: string;
}

/** Who asked: the call's logger, and its deadline (ms since the epoch) for the bounded hashing. */
export interface CallScope {
  log?: Logger;
  deadline?: number;
}

/** The one message for an unknown email and for a wrong password. */
export const BAD_CREDENTIALS = 'Adresse e-mail ou mot de passe incorrect.';
export const EMAIL_TAKEN = 'Un compte existe déjà avec cette adresse e-mail.';
export const DB_UNAVAILABLE = 'Service momentanément indisponible, veuillez réessayer dans quelques instants.';
export const MAX_IDS_PER_CALL = 1000;

const PUBLIC_FIELDS = { publicId: true, lastName: true, firstName: true, email: true, role: true, createdAt: true } as const;
/** A public id: a UUID in lower case, as the database stores it; anything else cannot name a user. */
export const PUBLIC_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Row = { publicId: string; lastName: string; firstName: string; email: string | null; role: Role; createdAt: Date };

/** The live accounts among `publicIds` (already checked: lower-case UUIDs, at least one). */
export type UsersLookup = (publicIds: readonly string[]) => Promise<Row[]>;

/**
 * GetUsers' read as ONE statement on the mariadb driver (issue 16): the gateway asks it for the
 * sessions it has not confirmed in the last 10 s, about one call per two requests under load,
 * and Prisma's findMany cost 300-450 µs of CPU per call where the driver's query costs 70-110.
 * The same columns and filter as the Prisma read (live accounts only); the text protocol, since
 * the list's length varies and a prepared statement per length would fill the driver's cache.
 */
export function driverUsersLookup(pool: DriverPool): UsersLookup {
  return (ids) =>
    pool.query<Row[]>(
      'SELECT public_id AS publicId, nom AS lastName, prenom AS firstName, email, role, created_at AS createdAt ' +
        `FROM utilisateurs WHERE supprime_at IS NULL AND public_id IN (${ids.map(() => '?').join(', ')})`,
      [...ids],
    );
}

const toAccount = ({ publicId, email, ...rest }: Row): Account => ({ id: publicId, email: email ?? '', ...rest });
/** Accounts that exist for everyone but the past sales: not erased. */
const LIVE = { deletedAt: null } as const;

/** How long a « Mot de passe oublié » token can be used. */
export const RESET_TTL_MS = 30 * 60_000;
export const RESET_INVALID = 'Ce lien de réinitialisation n’est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau.';
export const ACCOUNT_GONE = 'Ce compte n’existe pas ou a déjà été supprimé.';
/** A token as StartPasswordReset makes it: 32 random bytes, base64url. */
const TOKEN_FORMAT = /^[\w-]{43}$/;
const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export class Accounts {
  /** Every query goes through it (@etu/db's gate, shared with the market): refused at once while the database is down. */
  private readonly gate: DatabaseGate;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly log: Logger,
    readonly hasher: PasswordHasher = new PasswordHasher(),
    /** GetUsers' read on the driver (driverUsersLookup); through Prisma without it. */
    private readonly lookup?: UsersLookup,
  ) {
    this.gate = new DatabaseGate(prisma, { unavailable: () => new Unavailable(DB_UNAVAILABLE), log });
  }

  /** Health: resolves while the database answers `SELECT 1` in time (and opens the gate), rejects otherwise. */
  probe(): Promise<void> {
    return this.gate.probe();
  }

  /**
   * Creates an account after checking every input rule. The role defaults to STUDENT; only the
   * seed passes another one (the Register RPC has no role field).
   */
  async register(input: NewAccount, opts: CallScope & { role?: Role } = {}): Promise<Account> {
    const lastName = checkName('last_name', input.lastName);
    const firstName = checkName('first_name', input.firstName);
    const email = checkEmail(input.email);
    const password = checkNewPassword(input.password, { email, firstName, lastName });
    const passwordHash = await this.hasher.hash(password, opts.deadline);
    // No existence check first: the unique index decides, so concurrent sign-ups with one
    // email leave exactly one row and the others get ALREADY_EXISTS.
    const user = await this.db('register', () =>
      this.prisma.user.create({
        data: { lastName, firstName, email, passwordHash, role: opts.role ?? Role.STUDENT },
        select: PUBLIC_FIELDS,
      }),
    ).then(toAccount);
    (opts.log ?? this.log).info({ userId: user.id, role: user.role }, 'account created');
    return user;
  }

  /**
   * Checks an email/password pair. Unknown email and wrong password fail alike (same error,
   * one argon2 verification each). On success, upgrades a hash made with weaker parameters.
   */
  async authenticate(rawEmail: string, rawPassword: string, { log = this.log, deadline }: CallScope = {}): Promise<Account> {
    const email = normalizeEmail(rawEmail);
    if (email.length === 0) throw new InvalidArgument('email', 'ce champ est obligatoire.');
    if (rawPassword.length === 0) throw new InvalidArgument('password', 'ce champ est obligatoire.');
    const password = normalizePassword(rawPassword);
    // Inputs no account can have are refused without touching the database (this depends on
    // the input alone, so it tells nothing about which accounts exist).
    if (email.length > EMAIL_MAX || codePoints(password) > PASSWORD_MAX) {
      log.info({ reason: 'impossible_input' }, 'login failed');
      throw new Unauthenticated(BAD_CREDENTIALS);
    }
    const row = await this.db('authenticate', () =>
      this.prisma.user.findUnique({ where: { email }, select: { ...PUBLIC_FIELDS, passwordHash: true } }),
    );
    if (!row) {
      await this.hasher.verifyDummy(password, deadline);
      log.info({ reason: 'unknown_email' }, 'login failed');
      throw new Unauthenticated(BAD_CREDENTIALS);
    }
    const { passwordHash: stored, ...fields } = row;
    const account = toAccount(fields);
    let ok: boolean;
    try {
      ok = await this.hasher.verify(stored, password, deadline);
    } catch (err) {
      if (err instanceof ResourceExhausted) throw err;
      // eslint-disable-next-line preserve-caught-error -- the verifier's error can quote the stored hash; it must never reach a log
      throw new Error(`stored password hash of user ${account.id} cannot be read`);
    }
    if (!ok) {
      log.info({ reason: 'wrong_password', userId: account.id }, 'login failed');
      throw new Unauthenticated(BAD_CREDENTIALS);
    }
    if (this.hasher.needsRehash(stored)) await this.rehash(account.id, stored, password, log);
    log.info({ userId: account.id }, 'login succeeded');
    return account;
  }

  /** Known accounts among `ids` (public ids); others (including old numeric ids) are simply absent. */
  async getUsers(ids: string[]): Promise<Account[]> {
    if (ids.length > MAX_IDS_PER_CALL) throw new InvalidArgument('ids', `${MAX_IDS_PER_CALL} identifiants au maximum par appel.`);
    // Length capped before the regular expression (a UUID is 36 characters).
    const wanted = [...new Set(ids.filter((id) => id.length === 36 && PUBLIC_ID.test(id)))];
    if (wanted.length === 0) return [];
    const lookup = this.lookup;
    const rows = await this.db('getUsers', () =>
      lookup ? lookup(wanted) : this.prisma.user.findMany({ where: { publicId: { in: wanted }, ...LIVE }, select: PUBLIC_FIELDS }),
    );
    return rows.map(toAccount);
  }

  /** The account with this email (normalised), if any. */
  async findByEmail(rawEmail: string): Promise<Account | null> {
    const email = normalizeEmail(rawEmail);
    const row = await this.db('findByEmail', () => this.prisma.user.findFirst({ where: { email, ...LIVE }, select: PUBLIC_FIELDS }));
    return row && toAccount(row);
  }

  /**
   * Every account's public id, a page at a time in row order (`after` = the last row id of the
   * previous page). For operator commands that walk all users (register-users).
   */
  async publicIdsPage(after: number, take: number): Promise<{ ids: string[]; last: number | undefined }> {
    const rows = await this.db('publicIdsPage', () =>
      this.prisma.user.findMany({
        where: { id: { gt: after }, ...LIVE },
        orderBy: { id: 'asc' },
        take,
        select: { id: true, publicId: true },
      }),
    );
    return { ids: rows.map((r) => r.publicId), last: rows.at(-1)?.id };
  }

  /** The database's identity (etu_instance, made by the migration) and its number of accounts. */
  async describeDatabase(): Promise<{ id: string; createdAt: Date; users: number }> {
    const [instance, users] = await this.db('describeDatabase', () =>
      Promise.all([this.prisma.instance.findFirst(), this.prisma.user.count()]),
    );
    if (!instance) throw new Error('etu_instance is empty: the database was not migrated with this version (make migrate)');
    return { id: instance.id, createdAt: instance.createdAt, users };
  }

  /**
   * « Mot de passe oublié »: a new single-use token for the account with this email, valid
   * RESET_TTL_MS; the account's earlier unused tokens, and every used or expired token, are
   * deleted. Only the token's SHA-256 is stored. `undefined` when no live account has the email.
   */
  async startPasswordReset(rawEmail: string, log: Logger = this.log): Promise<{ token: string; account: Account } | undefined> {
    const email = normalizeEmail(rawEmail);
    if (email.length === 0 || email.length > EMAIL_MAX) return undefined;
    const row = await this.db('startPasswordReset', () =>
      this.prisma.user.findFirst({ where: { email, ...LIVE }, select: { ...PUBLIC_FIELDS, id: true } }),
    );
    if (!row) return undefined;
    const { id: rowId, ...fields } = row;
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    await this.db('startPasswordReset', () =>
      this.prisma.$transaction([
        this.prisma.passwordReset.deleteMany({
          where: { OR: [{ userId: rowId }, { expiresAt: { lt: now } }, { usedAt: { not: null } }] },
        }),
        this.prisma.passwordReset.create({
          data: { userId: rowId, tokenHash: tokenHash(token), createdAt: now, expiresAt: new Date(now.getTime() + RESET_TTL_MS) },
        }),
      ]),
    );
    const account = toAccount(fields);
    log.info({ userId: account.id }, 'password reset token issued');
    return { token, account };
  }

  /** Whether `token` can still set a password (unknown, used, expired or of an erased account: no). */
  async checkPasswordReset(token: string): Promise<boolean> {
    return (await this.liveReset(token)) !== undefined;
  }

  /**
   * Sets a new password with a reset token (sign-up rules, FAILED_PRECONDITION when the token
   * cannot be used); the token is used up in the same transaction as the new hash, so of two
   * concurrent uses one wins. The account's other tokens are deleted.
   */
  async resetPassword(token: string, newPassword: string, { log = this.log, deadline }: CallScope = {}): Promise<Account> {
    const reset = await this.liveReset(token);
    if (!reset) throw new FailedPrecondition(RESET_INVALID);
    const { user } = reset;
    const password = checkNewPassword(newPassword, { email: user.email ?? '', firstName: user.firstName, lastName: user.lastName });
    const passwordHash = await this.hasher.hash(password, deadline);
    const used = await this.db('resetPassword', () =>
      this.prisma.$transaction(async (tx) => {
        const now = new Date();
        const { count } = await tx.passwordReset.updateMany({
          where: { id: reset.id, usedAt: null, expiresAt: { gt: now } },
          data: { usedAt: now },
        });
        if (count !== 1) return false;
        await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
        await tx.passwordReset.deleteMany({ where: { userId: user.id, id: { not: reset.id } } });
        return true;
      }),
    );
    if (!used) throw new FailedPrecondition(RESET_INVALID);
    const account = toAccount({
      publicId: user.publicId,
      lastName: user.lastName,
      firstName: user.firstName,
      email: user.email,
      role: user.role,
      createdAt: user.createdAt,
    });
    log.info({ userId: account.id }, 'password reset');
    return account;
  }

  /**
   * Erases an account (RGPD): names, email and password hash emptied, `supprime_at` set, reset
   * tokens deleted. The row stays: past sales keep it as « compte supprimé ». NOT_FOUND when
   * unknown or already erased.
   */
  async deleteAccount(id: string, log: Logger = this.log): Promise<void> {
    if (id.length !== 36 || !PUBLIC_ID.test(id)) throw new NotFound(ACCOUNT_GONE);
    const erased = await this.db('deleteAccount', () =>
      this.prisma.$transaction(async (tx) => {
        const row = await tx.user.findFirst({ where: { publicId: id, ...LIVE }, select: { id: true } });
        if (!row) return false;
        await tx.passwordReset.deleteMany({ where: { userId: row.id } });
        await tx.user.update({
          where: { id: row.id },
          data: { email: null, firstName: '', lastName: '', passwordHash: '', deletedAt: new Date() },
        });
        return true;
      }),
    );
    if (!erased) throw new NotFound(ACCOUNT_GONE);
    log.info({ userId: id }, 'account erased');
  }

  /** The reset row of `token` while it can be used, with its live account. */
  private async liveReset(token: string) {
    if (token.length !== 43 || !TOKEN_FORMAT.test(token)) return undefined;
    const row = await this.db('checkPasswordReset', () =>
      this.prisma.passwordReset.findUnique({
        where: { tokenHash: tokenHash(token) },
        select: { id: true, usedAt: true, expiresAt: true, user: { select: { ...PUBLIC_FIELDS, id: true, deletedAt: true } } },
      }),
    );
    if (!row || row.usedAt !== null || row.expiresAt.getTime() <= Date.now() || row.user.deletedAt !== null) return undefined;
    return row;
  }

  /** Sets a new password (seed of a local run only: demo accounts whose password was lost). */
  async setPassword(id: string, password: string): Promise<void> {
    const passwordHash = await this.hasher.hash(checkNewPassword(password));
    await this.db('setPassword', () => this.prisma.user.update({ where: { publicId: id }, data: { passwordHash } }));
  }

  /** Replaces a weaker hash, unless the password changed meanwhile. A failure never fails the login. */
  private async rehash(id: string, stored: string, password: string, log: Logger): Promise<void> {
    try {
      const fresh = await this.hasher.hash(password);
      const res = await this.prisma.user.updateMany({ where: { publicId: id, passwordHash: stored }, data: { passwordHash: fresh } });
      if (res.count === 1) log.info({ userId: id }, 'password hash upgraded to current parameters');
    } catch (err) {
      log.warn({ userId: id, err: describe(err) }, 'could not upgrade the password hash');
    }
  }

  /**
   * Runs a database call through the gate and maps its failures: duplicate email →
   * ALREADY_EXISTS (by Prisma's code P2002), database unreachable → UNAVAILABLE (the gate),
   * anything else → an internal error whose text cannot carry a hash.
   */
  private async db<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.gate.run(() =>
        inSpan(`SQL ${op}`, { kind: 'client', attributes: { 'db.system': 'mariadb', 'db.operation': op } }, fn),
      );
    } catch (err) {
      if (err instanceof Unavailable) {
        this.log.debug({ op }, 'database unavailable');
        throw err;
      }
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new AlreadyExists(EMAIL_TAKEN);
      // eslint-disable-next-line preserve-caught-error -- describe() scrubs password hashes; the raw error as cause would carry them to the log
      throw new Error(`database error in ${op}: ${describe(err)}`);
    }
  }
}

/** A one-line description of an error, with anything shaped like a password hash removed. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'non-error thrown';
  const code = (err as { code?: unknown }).code;
  return scrubHashes(`${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}`);
}

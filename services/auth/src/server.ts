// The auth gRPC server: AuthService handlers over the accounts domain, grpc.health.v1 that is
// SERVING only while the database answers `SELECT 1`, and a close() that releases everything.
import {
  DomainError,
  grpcCodeName,
  Metrics,
  serveGrpc,
  type AsyncService,
  type CallContext,
  type RunningService,
  type ServiceBaseOptions,
} from '@etu/common';
import {
  createDriverPool,
  createPrismaClient,
  DEFAULT_CONNECTIONS,
  keepDriverPoolWarm,
  keepPoolWarm,
  Role,
  type PrismaClientOptions,
} from '@etu/db';
import { auth, store } from '@etu/proto';
import { Accounts, driverUsersLookup, type Account, type CallScope } from './accounts';
import { CURRENT_PARAMS, HashGate, PasswordHasher, type HashLimits } from './passwords';

export const SERVICE_NAME = 'etuservices.auth.v1.AuthService';

export interface AuthServerOptions extends ServiceBaseOptions {
  databaseUrl: string;
  /** Pool settings (createPrismaClient's defaults otherwise); the gate answers UNAVAILABLE within its query timeout. */
  db?: PrismaClientOptions;
  /** Password hashing parameters (tests of the rehash path only; default: current ones). */
  hasher?: PasswordHasher;
  /** Bound on concurrent password hashes (default DEFAULT_HASH_LIMITS); ignored with `hasher`. */
  hashLimits?: Partial<HashLimits>;
}

export type AuthServer = RunningService;

/** The call's logger and deadline (ms since the epoch; none: Infinity), as the accounts take them. */
function scope(ctx: CallContext): CallScope {
  const d = ctx.deadline;
  return { log: ctx.log, deadline: d === undefined ? Infinity : d instanceof Date ? d.getTime() : d };
}

export function toProtoUser(a: Account): auth.User {
  return {
    id: a.id,
    lastName: a.lastName,
    firstName: a.firstName,
    email: a.email,
    role: a.role === Role.ADMIN ? auth.Role.ROLE_ADMIN : auth.Role.ROLE_STUDENT,
    createdAt: a.createdAt,
  };
}

/** The GetUsers pool's size: one statement of well under a millisecond, about 100 calls/s under load. */
const LOOKUP_CONNECTIONS = 2;

export async function startAuthServer(opts: AuthServerOptions): Promise<AuthServer> {
  const { log } = opts;
  const prisma = createPrismaClient(opts.databaseUrl, opts.db);
  // Idle pooled connections must not reach the socket timeout (keepPoolWarm says why).
  const stopWarm = keepPoolWarm(
    () => prisma.$queryRaw`SELECT 1`,
    () => opts.db?.connectionLimit ?? DEFAULT_CONNECTIONS,
  );
  const hasher = opts.hasher ?? new PasswordHasher(CURRENT_PARAMS, new HashGate(opts.hashLimits));
  const m = opts.metrics ?? new Metrics({ enabled: false });
  const PASSWORD_BUCKETS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2];
  const hashSeconds = m
    .histogram('etu_auth_password_hash_duration_seconds', 'Duration of one argon2id password hash (seconds).', [], PASSWORD_BUCKETS)
    .child({});
  const verifySeconds = m
    .histogram(
      'etu_auth_password_verify_duration_seconds',
      'Duration of one argon2id password verification (seconds), unknown emails included.',
      [],
      PASSWORD_BUCKETS,
    )
    .child({});
  hasher.observe({ hash: (s) => hashSeconds.observe(s), verify: (s) => verifySeconds.observe(s) });
  const authentications = m.counter(
    'etu_auth_authentications_total',
    'Authenticate calls by outcome: ok, or the refusal (Unauthenticated = wrong email or password, InvalidArgument, Unavailable, ...).',
    ['outcome'],
  );
  for (const outcome of ['ok', 'Unauthenticated']) authentications.inc({ outcome }, 0);
  // GetUsers (the gateway's identity check) on a small driver pool of its own (issue 16).
  const pool = createDriverPool(opts.databaseUrl, { ...opts.db, connectionLimit: LOOKUP_CONNECTIONS });
  const stopWarmLookup = keepDriverPoolWarm(pool);
  const accounts = new Accounts(prisma, log, hasher, driverUsersLookup(pool));
  // The dummy hash used for unknown emails exists before the first call.
  await hasher.warmUp();

  const handlers: AsyncService<auth.AuthServiceServer> = {
    register: async (req, ctx) => {
      const input = { lastName: req.lastName, firstName: req.firstName, email: req.email, password: req.password };
      const user = await accounts.register(input, scope(ctx));
      return { user: toProtoUser(user) };
    },
    authenticate: async (req, ctx) => {
      try {
        const user = await accounts.authenticate(req.email, req.password, scope(ctx));
        authentications.inc({ outcome: 'ok' });
        return { user: toProtoUser(user) };
      } catch (err) {
        authentications.inc({ outcome: err instanceof DomainError ? grpcCodeName(err.code) : 'Internal' });
        throw err;
      }
    },
    getUsers: async (req) => ({ users: (await accounts.getUsers(req.ids)).map(toProtoUser) }),
    startPasswordReset: async (req, ctx) => {
      const started = await accounts.startPasswordReset(req.email, ctx.log);
      return started ? { token: started.token, user: toProtoUser(started.account) } : { token: '' };
    },
    checkPasswordReset: async (req) => ({ valid: await accounts.checkPasswordReset(req.token) }),
    resetPassword: async (req, ctx) => ({ user: toProtoUser(await accounts.resetPassword(req.token, req.password, scope(ctx))) }),
    deleteAccount: async (req, ctx) => {
      await accounts.deleteAccount(req.id, ctx.log);
      return {};
    },
  };

  // MariaDB's identity and size, for the gateway's store checks (docs/operations.md).
  const storeHandlers: AsyncService<store.StoreServiceServer> = {
    describeStore: async () => {
      const d = await accounts.describeDatabase();
      return { store: 'mariadb', markerFound: true, initializedAt: d.createdAt, databaseId: d.id, users: d.users };
    },
  };

  return serveGrpc({
    ...opts,
    name: 'auth',
    serviceName: SERVICE_NAME,
    definition: auth.AuthServiceService,
    handlers,
    also: [{ name: 'store', definition: store.StoreServiceService, handlers: storeHandlers }],
    probe: () => accounts.probe(),
    release: async () => {
      stopWarm();
      stopWarmLookup();
      await Promise.all([prisma.$disconnect(), pool.end()]);
    },
  });
}

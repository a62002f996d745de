// The auth gRPC server: AuthService handlers over the accounts domain, grpc.health.v1 that is
// SERVING only while the database answers `SELECT 1`, and a close() that releases everything.
import { createGrpcServer, watchHealth, wrapService, type AsyncService, type GrpcServer, type Logger } from '@etu/common';
import { createPrismaClient, Role, type PrismaClientOptions } from '@etu/db';
import { auth } from '@etu/proto';
import { Accounts, type Account } from './accounts';
import { PasswordHasher } from './passwords';

export const SERVICE_NAME = 'etuservices.auth.v1.AuthService';

export interface AuthServerOptions {
  /** host:port to listen on (port 0 = any free port). */
  addr: string;
  log: Logger;
  /** The internal token every caller must present. */
  token: string;
  databaseUrl: string;
  /**
   * Pool settings. Defaults fail a query after 1 s without a connection, so a database outage
   * answers UNAVAILABLE in about 1 s (about 2 s for the very first query of the process, which
   * also probes the server's capabilities).
   */
  db?: PrismaClientOptions;
  /** How often health re-checks the database (ms). */
  healthIntervalMs?: number;
  /** Grace period of close() for in-flight calls (ms). */
  graceMs?: number;
  /** Password hashing parameters (tests of the rehash path only; default: current ones). */
  hasher?: PasswordHasher;
}

export interface AuthServer {
  port: number;
  grpc: GrpcServer;
  /** Stops the gRPC server (NOT_SERVING, in-flight calls finish), then the database pool. Idempotent. */
  close(): Promise<void>;
}

export function toProtoUser(a: Account): auth.User {
  return {
    id: String(a.id),
    lastName: a.lastName,
    firstName: a.firstName,
    email: a.email,
    role: a.role === Role.ADMIN ? auth.Role.ROLE_ADMIN : auth.Role.ROLE_STUDENT,
    createdAt: a.createdAt,
  };
}

export async function startAuthServer(opts: AuthServerOptions): Promise<AuthServer> {
  const { log } = opts;
  const prisma = createPrismaClient(opts.databaseUrl, { connectTimeoutMs: 1000, acquireTimeoutMs: 1000, ...opts.db });
  const hasher = opts.hasher ?? new PasswordHasher();
  const accounts = new Accounts(prisma, log, hasher);
  // The dummy hash used for unknown emails exists before the first call.
  await hasher.warmUp();

  const impl: AsyncService<auth.AuthServiceServer> = {
    register: async (req, ctx) => {
      const input = { lastName: req.lastName, firstName: req.firstName, email: req.email, password: req.password };
      const user = await accounts.register(input, { log: ctx.log });
      return { user: toProtoUser(user) };
    },
    authenticate: async (req, ctx) => ({ user: toProtoUser(await accounts.authenticate(req.email, req.password, ctx.log)) }),
    getUsers: async (req) => ({ users: (await accounts.getUsers(req.ids)).map(toProtoUser) }),
  };

  const srv = createGrpcServer({ serviceNames: [SERVICE_NAME], log });
  srv.server.addService(auth.AuthServiceService, wrapService(impl, { token: opts.token, log, service: 'auth' }));
  let port: number;
  try {
    port = await srv.listen(opts.addr);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  const stopHealth = watchHealth(
    srv,
    async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
    { intervalMs: opts.healthIntervalMs ?? 1000, log },
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopHealth();
      await srv.shutdown(opts.graceMs ?? 5000);
      await prisma.$disconnect();
    })());
  return { port, grpc: srv, close };
}

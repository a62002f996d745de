// Shared by the auth tests: a real auth server on port 0 over a database of the test file's
// own, and a promise client that carries the internal token.
import type { ServiceError } from '@grpc/grpc-js';
import { createServiceClient, type ServiceClient } from '@etu/common';
import { TEST_TOKEN, testLogger } from '@etu/testkit';
import { auth } from '@etu/proto';
import { startAuthServer, type AuthServer, type AuthServerOptions } from '../src/server';

export interface Harness {
  server: AuthServer;
  addr: string;
  client: ServiceClient<auth.AuthServiceClient>;
  stop(): Promise<void>;
}

export async function startHarness(databaseUrl: string, extra: Partial<AuthServerOptions> = {}): Promise<Harness> {
  const server = await startAuthServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    databaseUrl,
    healthIntervalMs: 200,
    graceMs: 500,
    ...extra,
  });
  const addr = `127.0.0.1:${server.port}`;
  // Generous deadline: argon2 shares two CPU cores with other test files.
  const client = createServiceClient(auth.AuthServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 20_000 });
  return {
    server,
    addr,
    client,
    async stop() {
      client.close();
      await server.close();
    },
  };
}

/** The gRPC error a call fails with; fails the test if the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Polls `fn` until it returns true or `ms` pass. */
export async function eventually(fn: () => Promise<boolean>, ms = 10_000, stepMs = 100): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

let seq = 0;
/** A valid, unique registration request. */
export function newUser(over: Partial<auth.RegisterRequest> = {}): auth.RegisterRequest {
  seq += 1;
  return {
    lastName: 'Martin',
    firstName: 'Camille',
    email: `camille.martin.${process.pid}.${seq}@etu.example`,
    password: `mot de passe n°${seq} assez long`,
    ...over,
  };
}

// Placeholder until the auth issue lands: starts, reports health and shuts down cleanly;
// every RPC answers UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, type GrpcServer, type Logger } from '@etu/common';
import { auth } from '@etu/proto';

export async function startAuthServer(opts: { addr: string; log: Logger }): Promise<{ port: number; grpc: GrpcServer }> {
  const srv = createGrpcServer({ serviceNames: ['etuservices.auth.v1.AuthService'], log: opts.log });
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(auth.AuthServiceService)) {
    impl[name] = (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not implemented yet' });
  }
  srv.server.addService(auth.AuthServiceService, impl);
  const port = await srv.listen(opts.addr);
  srv.setServing(true);
  return { port, grpc: srv };
}

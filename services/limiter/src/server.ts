// Placeholder until the limiter issue lands: starts, reports health and shuts down cleanly;
// every RPC answers UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, type GrpcServer, type Logger } from '@etu/common';
import { limiter } from '@etu/proto';

export async function startLimiterServer(opts: { addr: string; log: Logger }): Promise<{ port: number; grpc: GrpcServer }> {
  const srv = createGrpcServer({ serviceNames: ['etuservices.limiter.v1.LimiterService'], log: opts.log });
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(limiter.LimiterServiceService)) {
    impl[name] = (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not implemented yet' });
  }
  srv.server.addService(limiter.LimiterServiceService, impl);
  const port = await srv.listen(opts.addr);
  srv.setServing(true);
  return { port, grpc: srv };
}

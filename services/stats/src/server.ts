// Placeholder until the stats issue lands: starts, reports health and shuts down cleanly;
// every RPC answers UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, type GrpcServer, type Logger } from '@etu/common';
import { stats } from '@etu/proto';

export async function startStatsServer(opts: { addr: string; log: Logger }): Promise<{ port: number; grpc: GrpcServer }> {
  const srv = createGrpcServer({ serviceNames: ['etuservices.stats.v1.StatsService'], log: opts.log });
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(stats.StatsServiceService)) {
    impl[name] = (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not implemented yet' });
  }
  srv.server.addService(stats.StatsServiceService, impl);
  const port = await srv.listen(opts.addr);
  srv.setServing(true);
  return { port, grpc: srv };
}

// Placeholder until the market issue lands: starts, reports health and shuts down cleanly;
// every RPC answers UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, type GrpcServer, type Logger } from '@etu/common';
import { market } from '@etu/proto';

export async function startMarketServer(opts: { addr: string; log: Logger }): Promise<{ port: number; grpc: GrpcServer }> {
  const srv = createGrpcServer({ serviceNames: ['etuservices.market.v1.MarketService'], log: opts.log });
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(market.MarketServiceService)) {
    impl[name] = (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not implemented yet' });
  }
  srv.server.addService(market.MarketServiceService, impl);
  const port = await srv.listen(opts.addr);
  srv.setServing(true);
  return { port, grpc: srv };
}

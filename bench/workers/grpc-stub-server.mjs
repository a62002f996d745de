// The transport floor for phase 3: LimiterService served by the same server kit as the limiter
// (@etu/common createGrpcServer + wrapService: token check, per-call logger, error mapping),
// but every Consume/ConsumeBatch item answered with a constant Decision — no validation, no
// Redis. What the coalescing client and grpc-js + protobuf cost on their own.
import { common, proto } from '../lib/project.mjs';

const { createGrpcServer, wrapService, createLogger } = common();
const { limiter } = proto();
const log = createLogger('limiter-stub', process.env.LOG_LEVEL ?? 'info');
// every field of the contract (fromPartial fills the ones this list does not know about)
const fields = { allowed: true, limit: 10, remaining: 9, retryAfterMs: 0, resetAfterMs: 600000, windowMs: 600000, policy: 'service' };
const decision = limiter.Decision.fromPartial ? () => limiter.Decision.fromPartial(fields) : () => ({ ...fields });
const srv = createGrpcServer({ serviceNames: ['etuservices.limiter.v1.LimiterService'], log });
srv.server.addService(
  limiter.LimiterServiceService,
  wrapService(
    {
      consume: async () => ({ decision: decision() }),
      consumeBatch: async (req) => ({ items: req.requests.map(() => ({ decision: decision() })) }),
      peek: async () => ({ decision: decision() }),
      reset: async () => ({}),
    },
    { token: process.env.INTERNAL_TOKEN, log, service: 'limiter-stub' },
  ),
);
// the client's stream transport (LimiterStreamService), when the contract has it: each batch
// answered as it comes, like the limiter's ConsumeStreams without the token check per stream
if (limiter.LimiterStreamServiceService) {
  srv.server.addService(limiter.LimiterStreamServiceService, {
    consumeStream: (call) => {
      call.on('data', (req) => call.write({ id: req.id, items: req.requests.map(() => ({ decision: decision() })) }));
      call.on('end', () => call.end());
    },
  });
}
await srv.listen(process.env.LIMITER_ADDR);
srv.setServing(true);
process.once('SIGTERM', () => srv.shutdown(1000).then(() => process.exit(0)));

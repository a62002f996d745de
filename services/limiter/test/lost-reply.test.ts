// A Consume whose answer from Redis is lost (the connection drops after Redis ran the script)
// is counted once — by Redis, when it ran — and never again: the limiter's Redis connection
// must not re-send it after reconnecting, or one call of the user would count twice.
import * as grpc from '@grpc/grpc-js';
import { createServiceClient } from '@etu/common';
import { startPrivateRedis, startTcpRelay, TEST_TOKEN, testLogger, type PrivateRedis } from '@etu/testkit';
import { limiter } from '@etu/proto';
import { startLimiterServer, type LimiterServer } from '../src/server';
import { rejection, waitServing } from './helpers';

let redis: PrivateRedis;
const started: LimiterServer[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  for (const s of started) await s.close();
  await redis.stop();
});

async function limiterOn(redisUrl: string) {
  const s = await startLimiterServer({
    addr: '127.0.0.1:0',
    log: testLogger(),
    token: TEST_TOKEN,
    redisUrl,
    policies: 'service=10/10m',
    graceMs: 100,
    healthIntervalMs: 100,
  });
  started.push(s);
  const addr = `127.0.0.1:${s.port}`;
  await waitServing(addr);
  return { addr, c: createServiceClient(limiter.LimiterServiceClient, addr, { token: TEST_TOKEN, timeoutMs: 5000 }) };
}

test('a Consume whose reply was lost is not sent again after the reconnect: counted once', async () => {
  const relay = await startTcpRelay({ host: '127.0.0.1', port: redis.port });
  const direct = await limiterOn(redis.url);
  const viaRelay = await limiterOn(`redis://127.0.0.1:${relay.port}`);
  try {
    expect((await viaRelay.c.call.consume({ policy: 'service', subject: 'lost' })).decision).toMatchObject({ allowed: true, remaining: 9 });

    // Redis runs the script (the call is counted) but its answer never comes back.
    relay.holdReplies(true);
    const err = await rejection(viaRelay.c.call.consume({ policy: 'service', subject: 'lost' }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect((await direct.c.call.peek({ policy: 'service', subject: 'lost' })).decision).toMatchObject({ remaining: 8 });

    // The connection drops, Redis is reachable again, the limiter reconnects.
    await relay.cut();
    relay.holdReplies(false);
    await relay.restore();
    await waitServing(viaRelay.addr, 'SERVING', 5000);
    // Whatever the reconnect did has reached Redis by the time a new call is answered.
    expect((await viaRelay.c.call.peek({ policy: 'service', subject: 'lost' })).decision).toMatchObject({ remaining: 8 });
    expect((await viaRelay.c.call.consume({ policy: 'service', subject: 'lost' })).decision).toMatchObject({ allowed: true, remaining: 7 });
  } finally {
    direct.c.close();
    viaRelay.c.close();
    await relay.close();
  }
});

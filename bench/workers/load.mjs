// Closed-loop load client, run in its own process: `inflight` loops each issue one decision,
// wait for it, and issue the next, on random subjects drawn from a seeded PRNG (the same
// sequence for every contender). Prints {"event":"start"|"end"} around the measured window
// (after a warm-up) so the orchestrator can sample other processes' CPU, then {"result":...}.
//
// targets:
//   rlf                  rate-limiter-flexible RateLimiterRedis (points 10, duration 600)
//   script               the project's sliding-window script via its SlidingWindowStore (ioredis)
//   script-autopipeline  the same with ioredis enableAutoPipelining
//   script-batched       experiment: one EVALSHA per event-loop turn over all its decisions' keys
//   grpc-unary           LimiterService/Consume, one unary gRPC call per decision
//   grpc-coalescing      @etu/limiter's createLimiterClient (concurrent consumes → ConsumeBatch)
//   envoy                Envoy's RateLimitService/ShouldRateLimit, one unary call per request as
//                        Envoy makes it, `descriptors` (1 or 2) descriptors on the random subject
import { performance } from 'node:perf_hooks';
import { Samples, percentile, prng, sleep } from '../lib/util.mjs';
import { common, limiterClientFactory, limiterScript, proto, require } from '../lib/project.mjs';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const policy = cfg.policy ?? { name: 'service', limit: 10, windowMs: 600_000 };

async function redisConn(extra = {}) {
  const { createRedis, waitReady } = common();
  const r = createRedis(`redis://127.0.0.1:${cfg.redisPort}/${cfg.redisDb ?? 0}`, { name: `bench-${cfg.target}`, extra });
  await waitReady(r, 5000);
  return r;
}

// RPCs sent while measuring: decisions / RPCs = the mean batch of the coalescing client
let rpcs = 0;
function countRpcs(options, nextCall) {
  if (measuring) rpcs++;
  const grpc = require('@grpc/grpc-js');
  return new grpc.InterceptingCall(nextCall(options));
}

async function makeCall() {
  switch (cfg.target) {
    case 'rlf': {
      const { RateLimiterRedis } = require('rate-limiter-flexible');
      const redis = await redisConn();
      const rl = new RateLimiterRedis({ storeClient: redis, points: policy.limit, duration: policy.windowMs / 1000, keyPrefix: 'rlf' });
      return {
        call: (s) =>
          rl.consume(s).then(
            () => true,
            (r) => {
              if (r instanceof Error) throw r;
              return false; // RateLimiterRes: refused
            },
          ),
        close: () => redis.disconnect(),
      };
    }
    case 'script':
    case 'script-autopipeline': {
      const { SlidingWindowStore } = limiterScript();
      const redis = await redisConn(cfg.target === 'script-autopipeline' ? { enableAutoPipelining: true } : {});
      const store = new SlidingWindowStore(redis);
      return { call: (s) => store.decide({ policy, subject: s, cost: 1 }).then((d) => d.allowed), close: () => redis.disconnect() };
    }
    case 'script-batched': {
      // experiment: concurrent decisions of one event-loop turn → one EVALSHA over all their keys
      const { batchedScript } = await import('../experiments/batched-script.mjs');
      const sw = limiterScript();
      const redis = await redisConn();
      const sha = await redis.script('LOAD', batchedScript(sw.lua));
      let queue = [];
      const flush = () => {
        const q = queue;
        queue = [];
        const keys = q.map((x) => sw.keyFor(policy.name, x.s));
        const argv = q.flatMap(() => sw.argv(policy));
        redis.evalsha(sha, keys.length, ...keys, ...argv).then(
          (replies) => q.forEach((x, i) => x.resolve(replies[i][0] === 1)),
          (err) => q.forEach((x) => x.reject(err)),
        );
      };
      return {
        call: (s) =>
          new Promise((resolve, reject) => {
            if (queue.push({ s, resolve, reject }) === 1) setImmediate(flush);
          }),
        close: () => redis.disconnect(),
      };
    }
    case 'grpc-unary': {
      const { createServiceClient } = common();
      const { limiter } = proto();
      const c = createServiceClient(limiter.LimiterServiceClient, cfg.addr, { token: cfg.token, timeoutMs: cfg.timeoutMs ?? 2000 });
      return {
        call: (s) => c.call.consume({ policy: policy.name, subject: s, cost: 1 }).then((r) => r.decision.allowed),
        close: () => c.close(),
      };
    }
    case 'grpc-coalescing': {
      const create = limiterClientFactory();
      const c = create(cfg.addr, {
        token: cfg.token,
        timeoutMs: cfg.timeoutMs ?? 2000,
        ...(cfg.clientOptions ?? {}),
        channelOptions: { interceptors: [countRpcs] },
      });
      return { call: (s) => c.consume(policy.name, s, 1).then((d) => d.allowed), close: () => c.close() };
    }
    case 'envoy': {
      const { createServiceClient } = common();
      const { envoyRls } = proto();
      const c = createServiceClient(envoyRls.RateLimitServiceClient, cfg.addr, { token: cfg.token, timeoutMs: cfg.timeoutMs ?? 2000 });
      const keys = ['remote_address', 'client'].slice(0, cfg.descriptors ?? 1);
      return {
        call: (s) =>
          c.call
            .shouldRateLimit({ domain: 'bench', descriptors: keys.map((key) => ({ entries: [{ key, value: s }] })), hitsAddend: 0 })
            .then((r) => r.overallCode === envoyRls.RateLimitResponse_Code.OK),
        close: () => c.close(),
      };
    }
    default:
      throw new Error(`unknown target ${cfg.target}`);
  }
}

const { call, close } = await makeCall();
const rnd = prng(cfg.seed ?? 12345);
const subjects = cfg.subjects ?? 100_000;
const prefix = cfg.subjectPrefix ?? 'u';
const lat = new Samples(1 << 18);
let measuring = false;
let stop = false;
let admitted = 0;
let errors = 0;
const errorKinds = {};

async function loop() {
  while (!stop) {
    const s = prefix + Math.floor(rnd() * subjects);
    const t0 = performance.now();
    try {
      const allowed = await call(s);
      if (measuring) {
        lat.push(performance.now() - t0);
        if (allowed) admitted++;
      }
    } catch (e) {
      if (measuring) {
        errors++;
        const k = String(e?.code ?? e?.name ?? 'error') + ': ' + String(e?.details ?? e?.message ?? e).slice(0, 80);
        errorKinds[k] = (errorKinds[k] ?? 0) + 1;
      }
      await sleep(1); // an erroring target must not turn the client into a busy loop
    }
  }
}

const loops = Array.from({ length: cfg.inflight }, loop);
await sleep(cfg.warmupMs ?? 1000);
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
out({ event: 'start', mono: Number(process.hrtime.bigint() / 1000n) });
await sleep(cfg.durationMs);
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
out({ event: 'end', mono: Number(process.hrtime.bigint() / 1000n) });
stop = true;
await Promise.allSettled(loops);
close();

const sorted = lat.sorted();
const done = sorted.length;
out({
  result: {
    target: cfg.target,
    inflight: cfg.inflight,
    seconds,
    decisions: done,
    perSecond: done / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : null,
    errors,
    errorShare: errors / Math.max(1, done + errors),
    errorKinds,
    admittedShare: done ? admitted / done : null,
    clientCpuUsPerDecision: done ? (cpu.user + cpu.system) / done : null,
    clientCpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
    ...(cfg.target === 'grpc-coalescing' ? { meanBatch: rpcs ? done / rpcs : null } : {}),
  },
});
process.exit(0);

// Shows one subject's state as stored in Redis, decoded:
//   node services/limiter/dist/inspect.js <policy> <subject> [--json]
// Reads LIMITER_REDIS_URL and LIMIT_POLICIES like the service. Read-only; counts nothing.
import { createRedis, loadOrExit } from '@etu/common';
import { loadConfig } from './config';
import { parsePolicies } from './policies';
import { decodeLog, keyFor } from './sliding-window';

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const [policyName, subject] = argv.filter((a) => a !== '--json');
  if (!policyName || subject === undefined) {
    process.stderr.write('usage: node services/limiter/dist/inspect.js <policy> <subject> [--json]\n');
    return 2;
  }
  const cfg = loadOrExit('limiter-inspect', () => loadConfig(process.env));
  const policy = parsePolicies(cfg.LIMIT_POLICIES).get(policyName);
  const redis = createRedis(cfg.LIMITER_REDIS_URL, { commandTimeoutMs: 2000, connectTimeoutMs: 2000, reconnect: false });
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('error', reject);
    });
    const key = keyFor(policyName, subject);
    const [[, value], [, pttl], [, time]] = (await redis.multi().getBuffer(key).pttl(key).time().exec()) as [
      [null, Buffer | null],
      [null, number],
      [null, [string, string]],
    ];
    const memory = value ? await redis.memory('USAGE', key) : null;
    const nowUs = Number(time[0]) * 1e6 + Number(time[1]);
    const log = value ? decodeLog(value) : { width: 0, baseUs: 0, timesUs: [] as number[] };
    const windowUs = policy ? policy.windowMs * 1000 : undefined;
    const events = log.timesUs.map((t) => ({
      timeUs: t,
      iso: new Date(Math.floor(t / 1000)).toISOString(),
      ageMs: (nowUs - t) / 1000,
      inWindow: windowUs === undefined ? null : t > nowUs - windowUs,
    }));
    const counted = events.filter((e) => e.inWindow).length;
    const out = {
      key,
      policy: policy ?? null,
      bytes: value?.length ?? 0,
      memoryUsage: memory,
      pttlMs: pttl,
      offsetWidth: log.width,
      baseUs: log.baseUs,
      counted: policy ? counted : null,
      remaining: policy ? Math.max(0, policy.limit - counted) : null,
      events,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `key        ${key}`,
      `policy     ${policy ? `${policy.name}: ${policy.limit} per ${policy.windowMs} ms` : `${policyName} (not in LIMIT_POLICIES)`}`,
      value
        ? `value      ${out.bytes} bytes (base ${log.baseUs} µs, offsets of ${log.width} bytes), MEMORY USAGE ${memory} B, PTTL ${pttl} ms`
        : 'value      no key: nothing counted',
      `counted    ${policy ? `${counted} in the window, ${out.remaining} remaining` : '-'}`,
      `events     oldest first (Redis TIME in µs, UTC, age, inside the window or not)`,
      ...events.map(
        (e) => `  ${e.timeUs}  ${e.iso}  ${e.ageMs.toFixed(3)} ms ago${e.inWindow === null ? '' : e.inWindow ? '  counted' : '  expired'}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`limiter-inspect: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

// Graceful shutdown of a real service process: SIGTERM while a slow call is in flight lets
// that call finish, new calls are refused, and the process exits 0.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { limiter } from '@etu/proto';
import { createServiceClient } from '@etu/common';
import { TEST_TOKEN } from '@etu/testkit';
import { service as healthService } from 'grpc-health-check';

function startFixture(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'slow-server.js')], {
    env: { ...process.env, INTERNAL_TOKEN: TEST_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const waitFor = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) {
          child.stdout.off('data', onData);
          resolve(m);
        }
      };
      const onData = (d: Buffer) => {
        out += d.toString();
        check();
      };
      child.stdout.on('data', onData);
      child.once('exit', () => reject(new Error(`fixture exited before ${re}: ${out}`)));
      check();
    });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, waitFor, exited };
}

test('SIGTERM lets the in-flight call finish, then the process exits 0', async () => {
  const f = startFixture({ SLOW_MS: '700' });
  const port = Number((await f.waitFor(/port=(\d+)/))[1]);
  const c = createServiceClient(limiter.LimiterServiceClient, `127.0.0.1:${port}`, { token: TEST_TOKEN, timeoutMs: 5000 });
  const slow = c.call.consume({ policy: 'p', subject: 's' });
  await f.waitFor(/in-flight/);
  const sentAt = Date.now();
  f.child.kill('SIGTERM');
  const res = await slow;
  expect(res.decision?.allowed).toBe(true);
  const { code, signal } = await f.exited;
  expect(signal).toBeNull();
  expect(code).toBe(0);
  // It waited for the call rather than dying at once…
  expect(Date.now() - sentAt).toBeGreaterThan(300);
  // …and nothing answers any more.
  await expect(c.call.consume({ policy: 'p', subject: 's' }, { timeoutMs: 500 })).rejects.toMatchObject({
    code: expect.any(Number),
  });
  c.close();
});

test('a call that outlives the grace period is cut, and the process still exits 0', async () => {
  const f = startFixture({ SLOW_MS: '10000', GRACE_MS: '300' });
  const port = Number((await f.waitFor(/port=(\d+)/))[1]);
  const c = createServiceClient(limiter.LimiterServiceClient, `127.0.0.1:${port}`, { token: TEST_TOKEN, timeoutMs: 5000 });
  const slow = c.call.consume({ policy: 'p', subject: 's' }).catch((e: unknown) => e as grpc.ServiceError);
  await f.waitFor(/in-flight/);
  f.child.kill('SIGTERM');
  const { code } = await f.exited;
  expect(code).toBe(0);
  const err = (await slow) as grpc.ServiceError;
  expect([grpc.status.CANCELLED, grpc.status.UNAVAILABLE]).toContain(err.code);
  c.close();
});

test('from SIGTERM to exit, health says NOT_SERVING and never SERVING again; an open Watch does not hold the exit', async () => {
  // The probe answers every 50 ms: a process that let it would flip back to SERVING during the drain.
  const f = startFixture({ SLOW_MS: '800', GRACE_MS: '20000', HEALTH_INTERVAL_MS: '50' });
  const port = Number((await f.waitFor(/port=(\d+)/))[1]);
  const Health = grpc.makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
  const health = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const seen: string[] = [];
  const watch = (health as unknown as { watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }> }).watch({
    service: '',
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));
  watch.on('data', (m: { status: string }) => seen.push(m.status));
  watch.on('error', () => undefined);
  while (!seen.includes('SERVING')) await new Promise((r) => setTimeout(r, 20));

  const c = createServiceClient(limiter.LimiterServiceClient, `127.0.0.1:${port}`, { token: TEST_TOKEN, timeoutMs: 10_000 });
  const slow = c.call.consume({ policy: 'p', subject: 's' });
  await f.waitFor(/in-flight/);
  const before = seen.length;
  f.child.kill('SIGTERM');
  await expect(slow).resolves.toMatchObject({ decision: { allowed: true } });
  const { code } = await f.exited;
  expect(code).toBe(0);
  // The stream ended with the process (well before the 20 s grace period, or jest's timeout
  // would have failed the test), and after the signal it only ever said NOT_SERVING.
  await ended;
  expect(seen.slice(before)).toEqual(['NOT_SERVING']);
  health.close();
  c.close();
});

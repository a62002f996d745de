// deploy/healthcheck.js against real servers (it uses services/common/dist: `make test` builds first)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { DEPLOY, ROOT, type Env } from './support';

function runHealthcheck(env: Env): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(DEPLOY, 'healthcheck.js')], {
      env: { PATH: process.env.PATH, HEALTHCHECK_TIMEOUT_MS: '1500', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolvePromise({ code, out }));
  });
}

describe('deploy/healthcheck.js', () => {
  test('gRPC part: healthy only while the server says SERVING, probed over loopback', async () => {
    expect(existsSync(join(ROOT, 'services', 'common', 'dist', 'index.js'))).toBe(true);
    const server = new grpc.Server();
    const health = new HealthImplementation({ '': 'NOT_SERVING' });
    health.addToServer(server);
    const port = await new Promise<number>((ok, ko) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
    );
    try {
      // The container sets the wildcard listen address; the probe must use loopback.
      const env = { SERVICE: 'limiter', LIMITER_ADDR: `0.0.0.0:${port}` };
      let r = await runHealthcheck(env);
      expect([r.code, r.out]).toEqual([1, expect.stringMatching(/NOT_SERVING/)]);
      health.setStatus('', 'SERVING');
      r = await runHealthcheck(env);
      expect([r.code, r.out]).toEqual([0, expect.stringMatching(/SERVING/)]);
      expect((await runHealthcheck({ SERVICE: 'limiter' })).code).toBe(1); // address variable missing
    } finally {
      server.forceShutdown();
    }
    const closed = await runHealthcheck({ SERVICE: 'auth', AUTH_ADDR: `0.0.0.0:${port}` }); // nothing listens now
    expect(closed.code).toBe(1);
    expect((await runHealthcheck({ SERVICE: 'migrate' })).code).toBe(1);
  });

  test('gateway: healthy only on a 2xx from /readyz', async () => {
    let status = 503;
    const seen: string[] = [];
    const server: HttpServer = createHttpServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    try {
      const env = { SERVICE: 'gateway', HOST: '0.0.0.0', PORT: String(port) };
      expect((await runHealthcheck(env)).code).toBe(1);
      status = 200;
      expect((await runHealthcheck(env)).code).toBe(0);
      expect(seen).toEqual(['/readyz', '/readyz']);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});

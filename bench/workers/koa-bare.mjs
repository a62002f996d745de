// Phase 4a's baseline: a bare Koa handler, started the same way as the gateway (its own Node
// process, PORT/HOST from the environment, node:http server) and loaded with the same request
// (a form POST with a cookie), answering what the gateway answers to a successful Vente: a 303
// to /services with a small JSON body. No session, no body parsing, no gRPC: the HTTP + Koa
// floor of this machine.
import { createServer } from 'node:http';
import { require } from '../lib/project.mjs';

const Koa = require('koa');
const app = new Koa();
app.use((ctx) => {
  if (ctx.path === '/healthz') {
    ctx.body = { status: 'ok' };
    return;
  }
  ctx.status = 303;
  ctx.redirect('/services');
  ctx.body = { ok: true, location: '/services' };
});
const server = createServer(app.callback());
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));

#!/usr/bin/env node
// Container healthcheck, run by Docker inside the container: nothing to download, no curl or
// grpc_health_probe in the image, just node and the project's own code.
//
//   node deploy/healthcheck.js        checks the part named by $SERVICE
//
// gRPC services (auth, market, limiter, stats): grpc.health.v1 Check for the whole server on the
// port of their own <SVC>_ADDR (a wildcard listen address is probed over loopback); healthy only
// when SERVING — the servers answer NOT_SERVING until their database or Redis answers and again
// while they drain on SIGTERM. Gateway: GET /readyz on PORT, healthy on a 2xx answer.
// Exit 0 = healthy, 1 = unhealthy (the reason is printed; `docker inspect` keeps it).
'use strict';

const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 2000);
// <part> → its address variable, from parts.json (the one list of the parts).
const PARTS = require('../parts.json').parts;
const GRPC_ADDR_VARS = Object.fromEntries(PARTS.filter((p) => p.kind === 'grpc').map((p) => [p.name, p.addrVar]));
const GATEWAY = PARTS.find((p) => p.kind === 'http');

/** "0.0.0.0:50051" → "127.0.0.1:50051"; a specific host is kept as it is. */
function probeAddress(listen) {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`cannot read a host:port from "${listen}"`);
  const wildcard = ['0.0.0.0', '[::]', '::', ''].includes(m[1]);
  return `${wildcard ? '127.0.0.1' : m[1]}:${m[2]}`;
}

async function checkGrpc(service) {
  const name = GRPC_ADDR_VARS[service];
  const listen = process.env[name];
  if (!listen) throw new Error(`${name} is not set`);
  const addr = probeAddress(listen);
  // Same probe as `make run` uses (services/common: grpc-health-check's client).
  const { checkHealth } = require('../services/common/dist');
  const status = await checkHealth(addr, '', TIMEOUT_MS);
  if (status !== 'SERVING') throw new Error(`${service} at ${addr} is ${status}`);
  return `${service} at ${addr} is SERVING`;
}

async function checkGateway() {
  const bind = process.env.HOST;
  let host = bind && !['0.0.0.0', '::', '[::]'].includes(bind) ? bind : '127.0.0.1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const url = `http://${host}:${process.env[GATEWAY.addrVar] || GATEWAY.port}/readyz`;
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  if (res.status < 200 || res.status > 299) throw new Error(`${url} answered ${res.status}`);
  return `${url} answered ${res.status}`;
}

async function main() {
  const service = process.env.SERVICE;
  if (service === GATEWAY.name) return checkGateway();
  if (service && GRPC_ADDR_VARS[service]) return checkGrpc(service);
  throw new Error(`no healthcheck for SERVICE=${service ?? '(unset)'}`);
}

main().then(
  (msg) => {
    console.log(`healthy: ${msg}`);
    process.exit(0);
  },
  (err) => {
    console.log(`unhealthy: ${err && err.message ? err.message : String(err)}`);
    process.exit(1);
  },
);

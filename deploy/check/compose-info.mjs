#!/usr/bin/env node
// Reads a resolved compose file (`docker compose config` output) for deploy/check/run.sh.
//   compose-info.mjs builds <file>   one line per image to build: image, context, dockerfile,
//                                    target, build args (KEY=VALUE, space-separated), tab-separated
//   compose-info.mjs parts <file>    the long-running services built here: `grpc <name>` or
//                                    `edge <name>` (publishes a port)
//   compose-info.mjs profiles <file> every profile named in the file
// Data-driven on purpose: a service added to compose.yaml with a `build:` is built too.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parse } = require('yaml');

const [cmd, file] = process.argv.slice(2);
const doc = parse(readFileSync(file, 'utf8'));
const services = doc.services ?? {};

if (cmd === 'builds') {
  const seen = new Map();
  for (const [name, svc] of Object.entries(services)) {
    if (!svc.build) continue;
    if (!svc.image) throw new Error(`service ${name} has a build but no image name`);
    const b = typeof svc.build === 'string' ? { context: svc.build } : svc.build;
    const dockerfile = b.dockerfile
      ? isAbsolute(b.dockerfile)
        ? b.dockerfile
        : join(b.context, b.dockerfile)
      : join(b.context, 'Dockerfile');
    const args = Object.entries(b.args ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const line = [svc.image, b.context, dockerfile, b.target ?? '', args].join('\t');
    const prev = seen.get(svc.image);
    if (prev && prev !== line) throw new Error(`image ${svc.image} is built two different ways`);
    seen.set(svc.image, line);
  }
  process.stdout.write([...seen.values()].map((l) => `${l}\n`).join(''));
} else if (cmd === 'parts') {
  // The long-running services built from this repository, one name a line, as `<kind> <name>`:
  // `edge` for those that publish a port (the gateway), `grpc` for the others.
  for (const [name, svc] of Object.entries(services)) {
    if (!svc.build || !svc.healthcheck || svc.restart === 'no') continue;
    console.log(`${svc.ports?.length ? 'edge' : 'grpc'} ${name}`);
  }
} else if (cmd === 'profiles') {
  // Every profile a service names, one a line (read from compose.yaml itself: `config` of Compose
  // v1 drops the services of profiles not enabled).
  const names = new Set(Object.values(services).flatMap((svc) => svc.profiles ?? []));
  process.stdout.write(
    [...names]
      .sort()
      .map((n) => `${n}\n`)
      .join(''),
  );
} else {
  console.error('usage: compose-info.mjs builds|parts|profiles <compose file>');
  process.exit(2);
}

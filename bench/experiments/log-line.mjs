#!/usr/bin/env node
// CPU of one log line of the parts' logger (@etu/common createLogger): the gRPC server's `call`
// line and a request's child logger, against the same pino logger censoring REDACT_PATHS with
// pino's own `redact` option (the logger before issue 16) and against no censoring at all (the
// floor). Lines go to a file in a temporary folder, as the parts' stdout does. Rounds alternate,
// so no variant always runs first; the median of the rounds is printed.
//   node bench/experiments/log-line.mjs [lines per round = 100000] [rounds = 5]
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common as loadCommon, require } from '../lib/project.mjs';

const common = loadCommon();

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const pino = require('pino');
const dir = mkdtempSync(join(tmpdir(), 'etu-log-line-'));
const dest = (name) => pino.destination({ dest: openSync(join(dir, `${name}.log`), 'w'), sync: true });
const options = (name, redact) => ({
  name,
  level: 'info',
  ...(redact ? { redact: { paths: common.REDACT_PATHS, censor: '[redacted]' } } : {}),
  base: { part: name },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
});
const variants = {
  'createLogger (redactSecrets)': common.createLogger('market', 'info', dest('ours')),
  "pino's redact option": pino(options('market', true), dest('pino-redact')),
  'no censoring (floor)': pino(options('market', false), dest('none')),
};
const REQUEST_ID = '244691f1-7945-40c6-ac94-5866c72b876e';
const cases = {
  'call line': (log) => log.info({ rpc: 'market/Purchase', code: 'OK', ms: 1.2, requestId: REQUEST_ID }, 'call'),
  'child + line': (log) => log.child({ rpc: 'market/Purchase', requestId: REQUEST_ID }).info({ code: 'OK', ms: 1.2 }, 'call'),
};
const results = {};
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(variants);
  if (round % 2) names.reverse();
  for (const [caseName, line] of Object.entries(cases)) {
    for (const name of names) {
      const log = variants[name];
      const c0 = process.cpuUsage();
      for (let i = 0; i < N; i++) line(log);
      const c = process.cpuUsage(c0);
      ((results[caseName] ??= {})[name] ??= []).push((c.user + c.system) / N);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [caseName, byVariant] of Object.entries(results)) {
  console.log(`${caseName} (µs of CPU per line, median of ${ROUNDS} rounds of ${N}):`);
  for (const [name, xs] of Object.entries(byVariant)) console.log(`  ${name.padEnd(30)} ${median(xs).toFixed(2)}`);
}
rmSync(dir, { recursive: true, force: true });

#!/usr/bin/env node
// Last step of the container seed (SERVICE=seed, see start.sh): the seed creates the demo
// accounts straight in the database, so the statistics do not know them yet; registering them
// makes them rank in "least service users" with 0 calls, as `make run` does (scripts/dev.mjs).
// RegisterUser is idempotent, so running the seed again is harmless.
// Reads STATS_ADDR and INTERNAL_TOKEN; the accounts come from .secrets/demo-accounts.json.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { createServiceClient } = require('../services/common/dist');
const { stats } = require('../proto/dist/src');

async function main() {
  const file = join(__dirname, '..', '.secrets', 'demo-accounts.json');
  if (!existsSync(file)) {
    console.log(`seed(stats): ${file} not found, nothing to register`);
    return;
  }
  const addr = process.env.STATS_ADDR;
  const token = process.env.INTERNAL_TOKEN;
  if (!addr || !token) throw new Error('STATS_ADDR and INTERNAL_TOKEN are required');
  const accounts = JSON.parse(readFileSync(file, 'utf8'));
  const client = createServiceClient(stats.StatsServiceClient, addr, { token, timeoutMs: 5000 });
  try {
    for (const a of accounts) await client.call.registerUser({ userId: String(a.id) });
  } finally {
    client.close();
  }
  console.log(`seed(stats): ${accounts.length} demo account(s) registered with the statistics`);
}

main().catch((err) => {
  console.error(`seed(stats): ${err && (err.details || err.message) ? err.details || err.message : String(err)}`);
  process.exit(1);
});

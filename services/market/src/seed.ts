// `make seed`, after the auth seed: three dozen demo listings from the demo students.
//   node services/market/dist/seed.js        (DATABASE_URL from the environment; the pictures
//                                            go to PHOTOS_DIR, the gateway's, default data/photos)
import { join } from 'node:path';
import { loadOrExit, parseConfig, REPO_ROOT, vars } from '@etu/common';
import { PhotoStore, photosDirVar } from '@etu/common/photos';
import { createPrismaClient } from '@etu/db';
import { readDemoAccounts, seedDemoListings } from './demo';
import { Market } from './market';

async function main(): Promise<number> {
  const cfg = loadOrExit('seed(market)', () => parseConfig({ DATABASE_URL: vars.databaseUrl(), PHOTOS_DIR: photosDirVar() }));
  const file = join(REPO_ROOT, '.secrets', 'demo-accounts.json');
  const accounts = readDemoAccounts(file);
  if (!accounts) {
    console.log(`seed(market): ${file} not found, so no demo listings were added. Run the auth seed first (make seed).`);
    return 0;
  }
  const db = createPrismaClient(cfg.DATABASE_URL, { connectionLimit: 2 });
  try {
    const r = await seedDemoListings(new Market(db), db, accounts, new PhotoStore(cfg.PHOTOS_DIR));
    const skipped = r.skipped.length ? ` (${r.skipped.length} student(s) already had listings, left as they were)` : '';
    console.log(`seed(market): ${r.created} demo listing(s) added, with their pictures in ${cfg.PHOTOS_DIR}${skipped}.`);
    if (r.unknown.length) {
      console.warn(`seed(market): user id(s) ${r.unknown.join(', ')} from ${file} are not in the database; run the auth seed again.`);
    }
    return 0;
  } finally {
    await db.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`seed(market): failed: ${(err as Error).message}`);
    process.exit(1);
  },
);

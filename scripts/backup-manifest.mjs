// The manifest of a backup archive (manifest.json), for scripts/backup.sh and scripts/restore.sh:
//   write   <dir> <target> <database> <sqlStartedMs> <sqlFinishedMs>   after the parts were taken
//   summary <dir>                                                      one line per part, for people
//   verify  <dir>                                                      checksums; exit 1 on a mismatch
//   sessions <dir>                                                     "keep" or "clear" (see below)
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';

const FORMAT = 'etuservices-backup/1';

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'manifest.json') out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function sha256(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** The `store` lines of redis.jsonl (the key lines are skipped without parsing). */
async function redisStores(file) {
  const stores = [];
  let redisVersion;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.startsWith('{"kind":"store"')) stores.push(JSON.parse(line));
    else if (line.startsWith('{"kind":"header"')) redisVersion = JSON.parse(line).redisVersion;
  }
  return { redisVersion, stores: stores.map(({ name, keys, takenAt }) => ({ name, keys, takenAt: new Date(takenAt).toISOString() })) };
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Migrations recorded in the dump's _prisma_migrations rows. */
function migrationsOf(sqlFile) {
  const sql = readFileSync(sqlFile, 'utf8');
  return [...new Set([...sql.matchAll(/'(\d{14}_\w+)'/g)].map((m) => m[1]))].sort();
}

/** How many photo files (WebP) photos.tar holds; null when the archive has none. */
function photoCount(tarFile) {
  try {
    statSync(tarFile);
  } catch {
    return null;
  }
  const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { file: 'photos.tar', files: names.split('\n').filter((n) => n.endsWith('.webp')).length };
}

async function write(dir, target, database, sqlStarted, sqlFinished) {
  const redis = await redisStores(join(dir, 'redis.jsonl'));
  const list = [];
  for (const f of files(dir)) list.push({ path: relative(dir, f), bytes: statSync(f).size, sha256: await sha256(f) });
  const manifest = {
    format: FORMAT,
    createdAt: new Date().toISOString(),
    target,
    commit: gitCommit(),
    redis,
    mariadb: {
      database,
      file: 'mariadb.sql',
      startedAt: new Date(Number(sqlStarted)).toISOString(),
      finishedAt: new Date(Number(sqlFinished)).toISOString(),
      migrations: migrationsOf(join(dir, 'mariadb.sql')),
    },
    photos: photoCount(join(dir, 'photos.tar')),
    secrets: list.filter((f) => f.path.startsWith('secrets/')).map((f) => f.path),
    files: list,
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

const read = (dir) => {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  if (m.format !== FORMAT) throw new Error(`manifest.json: not a ${FORMAT} archive`);
  return m;
};

function summary(dir) {
  const m = read(dir);
  const bytes = (p) => m.files.find((f) => f.path === p)?.bytes ?? 0;
  console.log(`  created    ${m.createdAt} (${m.target}${m.commit ? `, commit ${m.commit.slice(0, 10)}` : ''})`);
  for (const s of m.redis.stores) console.log(`  redis      ${s.name.padEnd(8)} ${String(s.keys).padStart(6)} keys   as of ${s.takenAt}`);
  console.log(
    `  mariadb    ${m.mariadb.database}  ${bytes('mariadb.sql')} bytes  as of ${m.mariadb.startedAt}  migrations: ${m.mariadb.migrations.length}`,
  );
  if (m.photos) console.log(`  photos     ${m.photos.files} files  ${bytes('photos.tar')} bytes`);
  console.log(`  secrets    ${m.secrets.length ? m.secrets.join(', ') : '(none)'}`);
}

async function verify(dir) {
  const m = read(dir);
  for (const f of m.files) {
    const got = await sha256(join(dir, f.path));
    if (got !== f.sha256) throw new Error(`${f.path}: checksum mismatch (archive damaged or edited)`);
  }
}

/**
 * Sessions are kept when every Redis database was read before the SQL dump began (a session
 * then names a user the dump holds); otherwise they are cleared: a session made after the dump
 * would name a user the restored database does not have.
 */
function sessions(dir) {
  const m = read(dir);
  const sqlStart = Date.parse(m.mariadb.startedAt);
  const newer = m.redis.stores.some((s) => Date.parse(s.takenAt) > sqlStart);
  console.log(newer ? 'clear' : 'keep');
}

const [cmd, dir, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'write') await write(dir, ...rest);
  else if (cmd === 'summary') summary(dir);
  else if (cmd === 'verify') await verify(dir);
  else if (cmd === 'sessions') sessions(dir);
  else {
    console.error('usage: backup-manifest.mjs write|summary|verify|sessions <dir> ...');
    process.exit(2);
  }
} catch (err) {
  console.error(`backup-manifest: ${err.message}`);
  process.exit(1);
}

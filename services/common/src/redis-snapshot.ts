// Backup and restore of the project's Redis databases, key by key (DUMP / RESTORE), through a
// client. Used by `make backup` / `make restore` (scripts/backup.sh, scripts/restore.sh).
//
// Why keys and not dump.rdb: it works whatever the persistence settings (the local Redis of
// `make run` runs with `--save ""` and writes no file at all; compose runs with appendonly yes,
// where a copied dump.rdb is ignored at start-up — the AOF trap), it takes exactly the databases
// the parts use (the local server is shared with the tests' databases 3-15), and a restore is an
// ordinary write that the AOF records, so nothing has to be stopped, moved or re-enabled in
// Redis itself. Each database is read in one MULTI/EXEC, so it is a point-in-time copy.
//
//   node services/common/dist/redis-snapshot.js export <file|-> name=redis://host:port/db ...
//   node services/common/dist/redis-snapshot.js import <file|-> name=redis://host:port/db ... [--clear name]...
//
// The file is JSON lines: a header, then per database one `store` line and one `key` line per
// key (name and DUMP payload in base64, remaining TTL in ms or -1). A DUMP payload is tied to the
// RDB version: restore into the same or a newer Redis.
import { createReadStream, createWriteStream } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import Redis from 'ioredis';

export const SNAPSHOT_FORMAT = 'etu-redis-snapshot/1';

export interface StoreSpec {
  /** limiter, stats, sessions (the part's own name for its database). */
  name: string;
  url: string;
}

export interface StoreSummary {
  name: string;
  keys: number;
  /** When this database was read (ms since the epoch, Redis clock). */
  takenAt: number;
}

interface HeaderLine {
  kind: 'header';
  format: string;
  takenAt: number;
  redisVersion: string;
}
interface StoreLine {
  kind: 'store';
  name: string;
  keys: number;
  takenAt: number;
}
interface KeyLine {
  kind: 'key';
  store: string;
  k: string;
  ttl: number;
  v: string;
}
type Line = HeaderLine | StoreLine | KeyLine;

/**
 * A connected client. A backup or restore is a batch job, and a store's address can fail to
 * answer for a while (seen right after a compose `up`, while the engine's network settles: a
 * name can then resolve to several addresses, an old container's among them). So every address
 * the name resolves to is tried, again every second for up to `waitMs`; each try is a fresh
 * client with no reconnect of its own. The final error names the host and the addresses tried.
 */
export async function connectStore(
  url: string,
  opts: { waitMs?: number; resolve?: (host: string) => Promise<string[]> } = {},
): Promise<Redis> {
  const { waitMs = 60_000, resolve = resolveAll } = opts;
  // A Redis Cluster is backed up by its own means (per-node RDB snapshots, the managed
  // service's backups): its keys are spread over several masters (docs/operations.md).
  if (/^rediss?\+cluster:/.test(url))
    throw new Error(
      'a Redis Cluster is not backed up by this tool: use the cluster\'s own snapshots (docs/operations.md, "Running on Redis Cluster")',
    );
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const until = Date.now() + waitMs;
  const failures = new Map<string, string>();
  for (;;) {
    const addresses = isIP(host) ? [host] : await resolve(host).catch(() => [host]);
    for (const address of addresses) {
      // The URL with the address for the name (its scheme made plain: TLS, when asked, is given
      // below with the name the certificate carries).
      const target = new URL(url);
      target.hostname = isIP(address) === 6 ? `[${address}]` : address;
      const tls = target.protocol === 'rediss:';
      target.protocol = 'redis:';
      const redis = new Redis(target.toString(), {
        ...(tls ? { tls: { servername: host } } : {}),
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        commandTimeout: 60_000,
        retryStrategy: () => null,
      });
      // The socket's own error (ECONNREFUSED, ETIMEDOUT...) says more than the rejected connect()'s.
      let socketError: string | undefined;
      redis.on('error', (e: Error) => (socketError ??= e.message));
      try {
        await redis.connect();
        return redis;
      } catch (err) {
        redis.disconnect();
        failures.set(address, socketError ?? (err instanceof Error ? err.message : String(err)));
      }
    }
    if (Date.now() >= until) {
      const tried = [...failures].map(([a, m]) => `${a}: ${m}`).join('; ');
      throw new Error(`Redis at ${host} did not answer within ${Math.round(waitMs / 1000)} s (${tried})`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** Reads every key of one database in one transaction: [name, payload, pttl] for each. */
async function readDb(redis: Redis): Promise<{ entries: Array<[Buffer, Buffer, number]>; takenAt: number }> {
  const names: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = String(next);
    names.push(...batch);
  } while (cursor !== '0');
  const unique = [...new Map(names.map((n) => [n.toString('latin1'), n])).values()];
  const tx = redis.multi();
  tx.time();
  for (const n of unique) {
    tx.dumpBuffer(n);
    tx.pttl(n);
  }
  const res = (await tx.exec()) ?? [];
  const errors = res.filter(([e]) => e);
  if (errors.length) throw new Error(`reading the database failed: ${String(errors[0]![0])}`);
  const [sec, usec] = res[0]![1] as [string, string];
  const entries: Array<[Buffer, Buffer, number]> = [];
  unique.forEach((n, i) => {
    const payload = res[1 + 2 * i]![1] as Buffer | null;
    const ttl = Number(res[2 + 2 * i]![1]);
    if (payload !== null) entries.push([n, payload, ttl]); // expired between SCAN and EXEC
  });
  return { entries, takenAt: Number(sec) * 1000 + Math.floor(Number(usec) / 1000) };
}

function write(out: Writable, line: Line): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(`${JSON.stringify(line)}\n`)) resolve();
    else {
      out.once('drain', resolve);
      out.once('error', reject);
    }
  });
}

/** Writes a snapshot of every store to `out`; stores are read one after the other. */
export async function exportStores(stores: StoreSpec[], out: Writable): Promise<StoreSummary[]> {
  const summaries: StoreSummary[] = [];
  let headerDone = false;
  for (const s of stores) {
    const redis = await connectStore(s.url);
    try {
      if (!headerDone) {
        const info = await redis.info('server');
        const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
        await write(out, { kind: 'header', format: SNAPSHOT_FORMAT, takenAt: Date.now(), redisVersion: version });
        headerDone = true;
      }
      const { entries, takenAt } = await readDb(redis);
      await write(out, { kind: 'store', name: s.name, keys: entries.length, takenAt });
      for (const [k, v, ttl] of entries)
        await write(out, { kind: 'key', store: s.name, k: k.toString('base64'), ttl, v: v.toString('base64') });
      summaries.push({ name: s.name, keys: entries.length, takenAt });
    } finally {
      redis.disconnect();
    }
  }
  return summaries;
}

export interface ImportOptions {
  /** Stores to empty and leave empty (e.g. sessions when the SQL copy is older than Redis). */
  clear?: string[];
}

/**
 * Replaces the content of each store by the snapshot's: FLUSHDB, then RESTORE of every key with
 * its remaining TTL. Stores of the snapshot that are not named are ignored. The file is read
 * once, so a named store that the snapshot lacks is reported after the others were restored.
 */
export async function importStores(stores: StoreSpec[], input: Readable, opts: ImportOptions = {}): Promise<StoreSummary[]> {
  const clients = new Map<string, Redis>();
  const summaries = new Map<string, StoreSummary>();
  const clear = new Set(opts.clear ?? []);
  try {
    for (const s of stores) {
      const r = await connectStore(s.url);
      clients.set(s.name, r);
    }
    let header = false;
    let pipe: ReturnType<Redis['pipeline']> | undefined;
    let pending = 0;
    const flush = async () => {
      if (pipe && pending) {
        const res = (await pipe.exec()) ?? [];
        const err = res.find(([e]) => e);
        if (err) throw new Error(`RESTORE failed: ${String(err[0])}`);
      }
      pipe = undefined;
      pending = 0;
    };
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const raw of lines) {
      if (raw.trim() === '') continue;
      const line = JSON.parse(raw) as Line;
      if (!header) {
        if (line.kind !== 'header' || line.format !== SNAPSHOT_FORMAT) throw new Error(`not a ${SNAPSHOT_FORMAT} file`);
        header = true;
        continue;
      }
      if (line.kind === 'store') {
        await flush();
        const r = clients.get(line.name);
        if (!r) continue;
        await r.flushdb();
        summaries.set(line.name, { name: line.name, keys: 0, takenAt: line.takenAt });
      } else if (line.kind === 'key') {
        const r = clients.get(line.store);
        if (!r || clear.has(line.store)) continue;
        pipe ??= r.pipeline();
        pipe.restore(Buffer.from(line.k, 'base64'), line.ttl > 0 ? line.ttl : 0, Buffer.from(line.v, 'base64'), 'REPLACE');
        summaries.get(line.store)!.keys++;
        if (++pending >= 500) await flush();
      }
    }
    await flush();
    if (!header) throw new Error('empty snapshot');
    for (const name of clear) {
      const r = clients.get(name);
      if (r && !summaries.has(name)) await r.flushdb();
    }
    const missing = stores.filter((s) => !summaries.has(s.name) && !clear.has(s.name)).map((s) => s.name);
    if (missing.length) throw new Error(`the snapshot has no data for: ${missing.join(', ')}`);
    return [...summaries.values()];
  } finally {
    for (const r of clients.values()) r.disconnect();
  }
}

/** `name=url` arguments → store specs. */
export function parseStoreArgs(args: string[]): StoreSpec[] {
  return args.map((a) => {
    const i = a.indexOf('=');
    if (i <= 0) throw new Error(`expected name=redis://host:port/db, got "${a}"`);
    const url = a.slice(i + 1);
    if (!/^rediss?:\/\//.test(url)) throw new Error(`${a.slice(0, i)}: expected a redis:// URL`);
    return { name: a.slice(0, i), url };
  });
}

async function main(argv: string[]): Promise<void> {
  const [cmd, file, ...rest] = argv;
  const clear: string[] = [];
  const specs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--clear') clear.push(rest[++i] ?? '');
    else specs.push(rest[i]!);
  }
  if ((cmd !== 'export' && cmd !== 'import') || !file || specs.length === 0) {
    process.stderr.write(
      'usage: redis-snapshot.js export <file|-> name=redis://host:port/db ...\n' +
        '       redis-snapshot.js import <file|-> name=redis://host:port/db ... [--clear name]...\n',
    );
    process.exit(2);
  }
  const stores = parseStoreArgs(specs);
  const report = (verb: string, s: StoreSummary[]) =>
    process.stderr.write(`redis-snapshot: ${verb} ${s.map((x) => `${x.name} ${x.keys} key(s)`).join(', ')}\n`);
  if (cmd === 'export') {
    const out = file === '-' ? process.stdout : createWriteStream(file, { mode: 0o600 });
    const s = await exportStores(stores, out);
    if (out !== process.stdout)
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    // The summary on stdout when writing to a file, for the caller's manifest.
    if (file !== '-') process.stdout.write(`${JSON.stringify(s)}\n`);
    report('exported', s);
  } else {
    const input = file === '-' ? process.stdin : createReadStream(file);
    const s = await importStores(stores, input, { clear });
    if (file !== '-') process.stdout.write(`${JSON.stringify(s)}\n`);
    report('restored', s);
    if (clear.length) process.stderr.write(`redis-snapshot: cleared ${clear.join(', ')}\n`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`redis-snapshot: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

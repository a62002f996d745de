// A real Redis Cluster of the test's own: six redis-server processes on free loopback ports
// (three masters, three replicas) joined by `redis-cli --cluster create --cluster-replicas 1`,
// nothing kept on disk beyond a temporary folder, a short cluster-node-timeout so that a killed
// master's replica takes over within a couple of seconds. Every process is killed by stop(),
// and by an exit handler if the test process ends without calling it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort } from './redis';

const run = promisify(execFile);

export interface ClusterNodeInfo {
  port: number;
  id: string;
  role: 'master' | 'replica';
  /** The master this replica follows (its id); '' for a master. */
  masterId: string;
  /** Slot ranges [first, last] served (masters). */
  slots: Array<[number, number]>;
}

export interface RedisClusterHandle {
  /** redis+cluster://127.0.0.1:p1,...,127.0.0.1:p6 (the form the parts read). */
  url: string;
  ports: number[];
  /** CLUSTER NODES as seen by a live node. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** The master serving `slot`. */
  masterOf(slot: number): Promise<ClusterNodeInfo>;
  /** A plain connection to one node (the caller disconnects it). */
  node(port: number): Redis;
  /** SIGKILL one node (a crash). */
  kill(port: number): Promise<void>;
  /** Resolves when every live node reports cluster_state:ok and every slot has a reachable master. */
  waitOk(withinMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

function parseNodes(text: string, portOf: (addr: string) => number): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter((l) => !/\b(?:fail|noaddr|handshake)\b/.test(l.split(' ')[2] ?? ''))
    .map((line) => {
      const f = line.split(' ');
      const flags = f[2]!.split(',');
      const slots: Array<[number, number]> = [];
      for (const s of f.slice(8)) {
        if (s.startsWith('[')) continue; // a slot being migrated/imported
        const [a, b] = s.split('-');
        slots.push([Number(a), Number(b ?? a)]);
      }
      return {
        port: portOf(f[1]!),
        id: f[0]!,
        role: flags.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: f[3] === '-' ? '' : f[3]!,
        slots,
      };
    });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts the six nodes and creates the cluster. `nodeTimeoutMs` is cluster-node-timeout: a master
 * silent that long is marked failed and its replica elected.
 */
export async function startRedisCluster(opts: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'etu-cluster-'));
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    // the cluster bus listens on port + 10000: keep both free and distinct
    if (p > 55000 || ports.includes(p) || !(await isFree(p + 10000))) continue;
    ports.push(p);
  }
  const procs = new Map<number, ChildProcess>();
  const startNode = (port: number) => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        String(opts.nodeTimeoutMs ?? 1000),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--cluster-allow-replica-migration',
        'no',
        // a replica takes over even when it lost its master a while ago (short-lived test clusters)
        '--cluster-replica-validity-factor',
        '0',
        // the masters still up keep serving their slots while one is down (docs/operations.md)
        '--cluster-require-full-coverage',
        'no',
      ],
      { stdio: 'ignore' },
    );
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    procs.set(port, proc);
  };
  const node = (port: number) =>
    new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
  const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = node(port);
    r.on('error', () => undefined); // a node not up yet: the rejected connect() says so
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const alive = () =>
    ports.filter((p) => {
      const pr = procs.get(p);
      return pr && pr.exitCode === null && pr.signalCode === null;
    });
  const nodes = async () => {
    for (const p of alive()) {
      try {
        return parseNodes(await ask(p, (r) => r.cluster('NODES') as Promise<string>), (addr) => Number(/:(\d+)@/.exec(addr)?.[1]));
      } catch {
        /* next node */
      }
    }
    throw new Error('no cluster node answers');
  };
  const waitOk = async (withinMs = 15_000) => {
    const until = Date.now() + withinMs;
    for (;;) {
      try {
        const states = await Promise.all(alive().map((p) => ask(p, (r) => r.cluster('INFO'))));
        const ns = await nodes();
        const covered = ns
          .filter((n) => n.role === 'master' && alive().includes(n.port))
          .reduce((a, n) => a + n.slots.reduce((b, [x, y]) => b + y - x + 1, 0), 0);
        if (states.every((s) => /cluster_state:ok/.test(s)) && covered === 16384) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > until) throw new Error(`Redis Cluster not ok after ${withinMs} ms`);
      await sleep(50);
    }
  };
  const stop = async () => {
    await Promise.all(
      [...procs.values()].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) {
              resolve();
              return;
            }
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const p of ports) startNode(p);
    for (const p of ports) {
      const until = Date.now() + 5000;
      for (;;) {
        try {
          await ask(p, (r) => r.ping());
          break;
        } catch {
          if (Date.now() > until) throw new Error(`redis-server on port ${p} did not start`);
          await sleep(25);
        }
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    });
    await waitOk();
    // every replica attached to its master (replication link up), so a failover has a candidate
    const until = Date.now() + 15_000;
    for (;;) {
      const ns = await nodes();
      const replicas = ns.filter((n) => n.role === 'replica');
      const up = await Promise.all(
        replicas.map((n) => ask(n.port, (r) => r.info('replication')).then((i) => /master_link_status:up/.test(i))),
      );
      if (replicas.length === 3 && up.every(Boolean)) break;
      if (Date.now() > until) throw new Error('Redis Cluster replicas not attached after 15 s');
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    nodes,
    async masterOf(slot) {
      const m = (await nodes()).find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!m) throw new Error(`no master serves slot ${slot}`);
      return m;
    },
    node: (port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }),
    async kill(port) {
      const p = procs.get(port);
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    waitOk,
    stop,
  };
}
